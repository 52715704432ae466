"""Saturated spectra: a clipped flat top is left out, measured and simulated spectra are not cut."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eels_helpers.inference.preprocess import preprocess, saturated_below_eV
from eels_helpers.inference.saturation import MARGIN_EV, MIN_RUN, saturated_end_eV, saturation_summary
from eels_helpers.spectrum import Spectrum

EXPERIMENTAL = Path(__file__).resolve().parents[3] / "shared" / "experimental"


def _spectrum(clip=None, seed=0):
    """Poisson counts of a power law with an O K-like edge at 532 eV from 100 eV; ``clip``: the
    counts above it are recorded as ``clip`` (a saturated detector)."""
    energy = np.arange(100.0, 900.0, 0.5)
    mean = 2e5 * (energy / 100.0) ** -3.0 + 4e3 * (energy > 532) * (532 / np.maximum(energy, 532)) ** 2
    counts = np.random.default_rng(seed).poisson(mean).astype(np.float64)
    if clip is not None:
        counts = np.minimum(counts, clip)
    return Spectrum(counts, energy)


def test_a_flat_top_is_cut_and_the_rest_kept():
    clipped = _spectrum(clip=1e5)                       # the first ~26 eV at the clip value
    end = float(saturated_below_eV(clipped))
    last_flat = clipped.energy_eV[np.flatnonzero(clipped.data == 1e5)[-1]]
    assert end == pytest.approx(last_flat + MARGIN_EV)
    x = preprocess(clipped)
    assert not x[: int(end) + 1].any() and x[int(end) + 1] > 0
    # above the cut the input is the unclipped spectrum's, scaled to its own maximum there
    ref = preprocess(_spectrum())[int(end) + 1:]
    np.testing.assert_allclose(x[int(end) + 1:], ref / ref.max(), rtol=1e-3, atol=1e-6)  # spline ringing
    # the paper's recipe keeps the plateau
    assert preprocess(clipped, cut_saturated=False)[110] > 0


def test_noisy_spectra_fill_values_and_short_runs_are_not_saturation():
    assert np.isnan(saturated_below_eV(_spectrum()))
    s = _spectrum()
    data = s.data.copy()
    data[:40] = 0.1                                     # fill values below the recorded range
    data[-30:] = -1.0
    assert np.isnan(saturated_below_eV(Spectrum(data, s.energy_eV)))
    top = data.max()
    data[100:100 + MIN_RUN - 1] = top * 2               # a run one channel short of MIN_RUN
    assert np.isnan(saturated_below_eV(Spectrum(data, s.energy_eV)))
    data[100 + MIN_RUN - 1] = top * 2
    assert np.isfinite(saturated_below_eV(Spectrum(data, s.energy_eV)))


def test_simulated_spectra_are_never_saturated():
    from eels_helpers.datasets.streaming import simulated_arrays

    for simulation in ("paper", "open-world"):
        x, _ = simulated_arrays(256, seed=99, simulation=simulation)
        assert np.isnan(saturated_end_eV(x, np.arange(x.shape[1], dtype=float))).all(), simulation


def test_batches_shapes_and_summary():
    clipped, plain = _spectrum(clip=1e5), _spectrum(seed=1)
    image = Spectrum(np.stack([[clipped.data, plain.data]] * 2), clipped.energy_eV)
    ends = saturated_below_eV(image)
    assert ends.shape == (2, 2) and np.isfinite(ends[:, 0]).all() and np.isnan(ends[:, 1]).all()
    line = saturation_summary(ends, "si.dm4")
    assert line.startswith("si.dm4: 2 of 4 spectra are saturated")
    assert saturation_summary(ends[:, 1], "x") == ""
    with pytest.raises(ValueError, match="channels of energy_eV"):
        saturated_end_eV(np.zeros((2, 5)), np.arange(4.0))


def test_predict_reports_the_saturation_and_verify_fits_above_it():
    from eels_helpers.inference.predict import format_prediction, predict
    from eels_helpers.inference.verification import verify

    clipped = _spectrum(clip=1e5)
    [pred] = predict(clipped, "default")
    end = float(saturated_below_eV(clipped))
    assert f"the spectrum is saturated (a flat top at the maximum: a clipped detector); the counts up to {end:.0f} eV were left out" in format_prediction(pred)
    assert pred.to_dict()["saturation_cut_eV"] == pytest.approx(end)
    assert verify(clipped, ["O"]).window_eV[0] >= end
    assert pred.left_out_below_eV == pytest.approx(end)          # what predict --verify hands to verify


@pytest.mark.skipif(not (EXPERIMENTAL / "atlas_Se_0_1880eV.dm3").exists(),
                    reason="the project's experimental spectra (../shared/experimental) are absent")
def test_measured_saturated_atlas_spectra_are_found():
    from eels_helpers.inference.spectrum_files import read_spectrum

    se = float(saturated_below_eV(read_spectrum(EXPERIMENTAL / "atlas_Se_0_1880eV.dm3")))
    assert 470 <= se <= 475            # 122 channels at 522,240 counts, 228-470 eV
    ti = read_spectrum(EXPERIMENTAL / "atlas_TiO2_0_0960eV.dm3")
    assert np.isnan(saturated_below_eV(ti))
