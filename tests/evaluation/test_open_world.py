"""The open-world suite: seeded, labelled as a microscopist would, inside the window limits,
and its figure of merit."""

import numpy as np
import pytest
import torch

from eels_helpers.evaluation.open_world import (
    KINDS,
    WINDOW_EV,
    evaluate_open_world,
    invented_elements,
    invention_rates,
    open_world_suite,
)
from eels_helpers.physics.elements import ELEMENTS


@pytest.fixture(scope="module")
def suite():
    return open_world_suite(n_per_kind=4, seed=3)


def test_the_suite_is_seeded_and_labelled(suite):
    again = open_world_suite(n_per_kind=4, seed=3)
    assert [c.description for c in suite] == [c.description for c in again]
    assert all(np.array_equal(a.spectrum.data, b.spectrum.data) for a, b in zip(suite, again))
    other = open_world_suite(n_per_kind=4, seed=4)
    assert not np.array_equal(suite[0].spectrum.data, other[0].spectrum.data)
    assert [c.kind for c in suite] == [k for k in KINDS for _ in range(4)]
    for c in suite:
        E = c.spectrum.energy_eV
        assert np.all(np.isfinite(c.spectrum.data))
        assert np.all(c.spectrum.data >= 0) or "(subtracted)" in c.description   # a dark reference
        assert np.all(np.diff(E) > 0) and 0.1 <= np.median(np.diff(E)) <= 1.0
        assert E[0] >= 75.0 - 1e-9 and E[-1] <= WINDOW_EV[1]
        assert {"edge_free": (), "artefacts": (), "vacuum": (), "carbon_film": ("C",)}.get(c.kind, c.truth) == c.truth
        if c.kind == "carbon_film":
            assert E[0] < 284.0 < E[-1]
        if c.kind == "out_of_family":
            assert c.truth in (("Al",), ("Mg",)) and E[0] < 110.0
        if c.kind == "vacuum":       # flat: the far half holds about as many counts as the near one
            half = c.spectrum.data.size // 2
            level = float(c.description.split("flat level ")[1].split()[0])
            assert abs(c.spectrum.data[half:].mean() - c.spectrum.data[-half // 2:].mean()) < 0.2 * level + 1


def test_the_out_of_family_edge_is_visible_above_the_background(suite):
    """The Al/Mg L2,3 stand-in raises the counts above the power law's extrapolation."""
    for c in (c for c in suite if c.kind == "out_of_family"):
        E, y = c.spectrum.energy_eV, c.spectrum.data.astype(float)
        assert y[(E > 110) & (E < 130)].mean() > 0 and "jump ratio" in c.description


def test_invention_rates_count_only_elements_that_are_not_true_carbon_aside(suite):
    assert invented_elements(["C", "O", "Al"], ["Al"]) == ("O",)
    detected = [("C",) if c.kind != "out_of_family" else c.truth for c in suite]
    rates = invention_rates(suite, detected)
    assert rates == {**{k: 0.0 for k in KINDS}, "all": 0.0}
    detected[0] = ("Ba",)
    assert invention_rates(suite, detected)["edge_free"] == 0.25
    with pytest.raises(ValueError, match="4 detections"):
        invention_rates(suite[:5], detected[:4])


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="n_per_kind"):
        open_world_suite(0)
    with pytest.raises(ValueError, match="kinds"):
        open_world_suite(1, kinds=("moon",))


def test_evaluate_open_world_runs_a_model_over_the_suite(suite):
    """A network that always answers Ba invents Ba everywhere; one that answers nothing, never."""
    ba = torch.full((80,), -20.0)
    ba[ELEMENTS.index("Ba")] = 20.0

    class Constant(torch.nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.register_buffer("logits", logits)

        def forward(self, x):
            return self.logits.expand(x.shape[0], -1)

    rates, predictions = evaluate_open_world(Constant(ba), cases=suite, threshold=0.5)
    assert rates["all"] == 1.0 and all(p.detected == ("Ba",) for p in predictions)
    rates, _ = evaluate_open_world(Constant(torch.full((80,), -20.0)), cases=suite, threshold=0.5)
    assert rates["all"] == 0.0
