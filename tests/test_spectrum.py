"""The foundation ``Spectrum`` (eels_helpers/spectrum.py): shape checks and the summed spectrum."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.spectrum import Spectrum


def test_spectrum_validates_shapes():
    with pytest.raises(ValueError, match="does not end with"):
        Spectrum(np.zeros((3, 10)), np.arange(11.0))
    with pytest.raises(ValueError, match="energy_eV must be 1-D"):
        Spectrum(np.zeros((3, 10)), np.zeros((2, 5)))


def test_summed_spectrum_image_and_properties():
    energy = np.arange(100.0, 110.0, 0.5)
    data = np.arange(2 * 3 * energy.size, dtype=np.float32).reshape(2, 3, energy.size)
    si = Spectrum(data, energy, {"title": "si"}, "/tmp/si.dm4")
    assert si.is_spectrum_image and si.navigation_shape == (2, 3) and si.n_channels == 20
    assert si.dispersion_eV == pytest.approx(0.5) and si.name == "si.dm4"
    total = si.summed()
    assert not total.is_spectrum_image and total.data.dtype == np.float32
    np.testing.assert_allclose(total.data, data.sum(axis=(0, 1)))
    assert total.metadata["summed_over"] == (2, 3) and total.source == si.source
    assert total.summed() is total                      # a single spectrum is its own sum
    assert Spectrum(np.ones(3), [1.0, 2.0, 3.0]).name == "spectrum"
