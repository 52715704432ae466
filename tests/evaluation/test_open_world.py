"""The open-world suite: seeded, labelled as a microscopist would, inside the window limits,
and its figure of merit."""

import numpy as np
import pytest
import torch

from eels_helpers.evaluation.open_world import (
    KINDS,
    METALS_3D,
    WINDOW_EV,
    evaluate_open_world,
    invented_elements,
    invention_rates,
    open_world_suite,
    structure_table,
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
        if c.kind == "m23_3d":      # the metal's M2,3 is its only edge: its L2,3 family lies beyond the window
            from eels_helpers.physics.elements import families_of

            (metal,) = c.truth
            assert metal in METALS_3D and E[-1] < min(f.onset_eV for f in families_of(metal))
        if c.kind == "vacuum":       # flat: the far half holds about as many counts as the near one
            half = c.spectrum.data.size // 2
            level = float(c.description.split("flat level ")[1].split()[0])
            assert abs(c.spectrum.data[half:].mean() - c.spectrum.data[-half // 2:].mean()) < 0.2 * level + 1


def test_the_out_of_family_edge_is_visible_above_the_background(suite):
    """The Al/Mg L2,3 stand-in raises the counts above the power law's extrapolation."""
    for c in (c for c in suite if c.kind == "out_of_family"):
        E, y = c.spectrum.energy_eV, c.spectrum.data.astype(float)
        assert y[(E > 110) & (E < 130)].mean() > 0 and "jump ratio" in c.description


def test_the_3d_m23_edge_sits_at_the_metal_onset(suite):
    """The stand-in edge starts at the metal's M2,3 onset: for Cu and Zn (onset inside the
    window, plain power law) the counts after it stand above the power law's trend before it."""
    from eels_helpers.evaluation.failure_causes import NON_FAMILY_EDGES

    seen = 0
    for c in open_world_suite(n_per_kind=80, seed=5, kinds=("m23_3d",)):
        (metal,) = c.truth
        onset = dict(NON_FAMILY_EDGES[metal])[f"{metal} M2,3"]
        assert f"{metal} M2,3 at {onset:g} eV" in c.description
        E, y = c.spectrum.energy_eV, c.spectrum.data.astype(float)
        if onset > E[0] + 3 and "plural" not in c.description:
            r = float(c.description.split("power law r=")[1].split(";")[0].split(",")[0])
            before = y[(E > onset - 4) & (E < onset - 1)].mean()
            after = y[(E > onset + 4) & (E < onset + 10)].mean()
            assert after > 1.1 * before * ((onset + 7) / (onset - 2.5)) ** -r
            seen += 1
    assert seen >= 1


def test_invention_rates_count_only_elements_that_are_not_true_carbon_aside(suite):
    assert invented_elements(["C", "O", "Al"], ["Al"]) == ("O",)
    detected = [("C",) if c.kind not in ("out_of_family", "m23_3d") else c.truth for c in suite]
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
    """A network that always answers Ba invents Ba everywhere but where the spectrum holds no
    structure beyond its noise (predict names nothing there); one that answers nothing, never."""
    ba = torch.full((80,), -20.0)
    ba[ELEMENTS.index("Ba")] = 20.0

    class Constant(torch.nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.register_buffer("logits", logits)

        def forward(self, x):
            return self.logits.expand(x.shape[0], -1)

    rates, predictions = evaluate_open_world(Constant(ba), cases=suite, threshold=0.5)
    quiet = [p.note.startswith("no identifiable edge") for p in predictions]
    assert all(p.detected == (() if q else ("Ba",)) for p, q in zip(predictions, quiet))
    assert rates["all"] == pytest.approx(1.0 - np.mean(quiet)) and rates["carbon_film"] == 1.0
    rates, _ = evaluate_open_world(Constant(torch.full((80,), -20.0)), cases=suite, threshold=0.5)
    assert rates["all"] == 0.0


@pytest.mark.parametrize("start", [75.0, 120.0, 400.0])
def test_curved_backgrounds_fall_smoothly(start):
    """Plural-scattering backgrounds: monotone and without steps (the first version fell by
    3-100x at n x Ep in windows starting below 6 Ep, which read as edges)."""
    from eels_helpers.evaluation.open_world import _background

    for seed in range(20):
        bg, text = _background(np.random.default_rng(seed), start, curved=True)
        window = bg[int(start):3000]
        assert "plural scattering" in text and window[0] == pytest.approx(1.0, rel=0.02)
        assert (np.diff(window) <= 0).all()
        assert np.abs(np.diff(np.log(window))).max() < 0.07      # r / E at most 4.5 / 75 per eV


def test_structure_table_catches_edge_free_spectra_not_carbon_films(suite):
    """The structure test (no element before any network) catches the suite's bare power laws and
    passes its carbon films (a strong C K edge); one row per kind, fractions in [0, 1]."""
    table = structure_table(suite)
    assert list(table.index) == list(KINDS) and (table["spectra"] == 4).all()
    assert table.loc["edge_free", "no identifiable edge"] == 1.0
    assert table.loc["carbon_film", "no identifiable edge"] == 0.0 and table.loc["carbon_film", "median z"] > 100
    assert table["no identifiable edge"].between(0, 1).all()
    caught = table.attrs["caught"]
    assert {c.kind for c in caught} >= {"edge_free"} and "carbon_film" not in {c.kind for c in caught}
    assert len(caught) == round(float((table["spectra"] * table["no identifiable edge"]).sum()))
