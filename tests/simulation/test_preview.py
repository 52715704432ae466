"""The quick look (eels_helpers.simulation.preview): the specimen it builds and its figure."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from eels_helpers.physics.elements import ELEMENTS
from eels_helpers.simulation.preview import plot_quick_look, quick_look


def fake_simulate(specimens, config, rng):
    """Stand-in for simulate_batch: random spectra, labels = the specimen's elements."""
    lab = np.zeros((len(specimens), 80), np.uint8)
    for i, s in enumerate(specimens):
        lab[i, [ELEMENTS.index(e) for e in s.elements]] = 1
    return SimpleNamespace(spectra=rng.random((len(specimens), 3072), dtype=np.float32), labels_identification=lab)


def test_quick_look_uses_a_materials_project_formula():
    spec, batch, formula = quick_look(["Sr", "Ti", "O"], 3, simulate_fn=fake_simulate)
    assert formula == "SrTiO3" and spec.query == "Sr" and spec.elements == ("O", "Ti", "Sr")
    np.testing.assert_allclose(spec.fractions, [0.6, 0.2, 0.2], atol=1e-6)
    assert batch.spectra.shape == (3, 3072)
    spec, _, formula = quick_look(["Fe", "O"], 1, simulate_fn=fake_simulate, fractions=[1, 3])
    assert formula is None and spec.fractions == pytest.approx((0.75, 0.25))   # O, Fe in Z order
    with pytest.raises(ValueError, match="2 positive numbers"):
        quick_look(["Fe", "O"], 1, simulate_fn=fake_simulate, fractions=[1])
    with pytest.raises(ValueError, match="unknown element"):
        quick_look(["Fe", "Xy"], 1, simulate_fn=fake_simulate)


def test_plot_quick_look_draws_one_line_per_spectrum(tmp_path):
    spec, batch, _ = quick_look(["Ce", "O"], 2, simulate_fn=fake_simulate)
    fig = plot_quick_look(spec, batch)
    assert len(fig.axes[0].lines) >= 2 and fig.axes[0].get_xlim() == (0, 3072)
    plot_quick_look(spec, batch, tmp_path / "q.png")
    assert (tmp_path / "q.png").stat().st_size > 5_000
