"""Labels by detectability (eels_helpers.simulation.detectability, issue 15): Currie's Poisson test and
the minimum relative jump, against hand-computed counts; the open-world-visible configuration; soft labels."""

from types import SimpleNamespace

import numpy as np
import pytest

from eels_helpers.simulation.config import ConfigError, SimulationConfig
from eels_helpers.simulation.detectability import DetectionRule, detectable
from eels_helpers.simulation.named_configs import named_config
from eels_helpers.simulation.pipeline import simulate_batch


def _spectrum(A=1e6, r=3.0, start=100, end=1000):
    """One spectrum's parameters: power law A (E/start)^-r over [start, end] eV, no shift."""
    return SimpleNamespace(start_eV=np.array([start]), end_eV=np.array([end]),
                           instrumental_shift_eV=np.array([0]), bg_amplitude=np.array([A]),
                           bg_exponent=np.array([r]))


def _step(height, onset=400, n=200):
    """An edge row: ``height`` counts per channel from column ``onset`` (its own axis) on."""
    row = np.zeros((1, n + onset))
    row[0, onset:] = height
    return row


def test_min_jump_compares_the_mean_step_with_the_power_law_under_it():
    p = _spectrum()
    # the background counts over 400..449 eV, summed by hand
    B = sum(1e6 * ((400 + k) / 100) ** -3 for k in range(50))
    empty = np.zeros((1, 3072))
    for ratio, kept in ((0.04, False), (0.06, True)):
        row = _step(ratio * B / 50)
        args = (row, np.array([400]), np.array([400.0]), p, np.array([0]))
        assert detectable(*args, DetectionRule(3.0))                         # Poisson alone: labelled
        assert detectable(*args, DetectionRule(3.0, 0.05, empty)) == kept


def test_min_jump_counts_the_other_edges_under_it_but_not_the_edge_itself():
    p = _spectrum()
    B = sum(1e6 * ((400 + k) / 100) ** -3 for k in range(50))
    row = _step(0.06 * B / 50)
    args = (row, np.array([400]), np.array([400.0]), p, np.array([0]))
    lower_edge = np.zeros((1, 3072))
    lower_edge[0, 300:] = B / 50                         # an edge below doubling what lies under it
    assert not detectable(*args, DetectionRule(3.0, 0.05, lower_edge))
    with_itself = lower_edge * 0.0
    with_itself[0, 400:] = row[0, 400:450].mean()        # the family edges hold the edge itself alone
    assert detectable(*args, DetectionRule(3.0, 0.05, with_itself), own_in_edges_under=True)
    assert not detectable(*args, DetectionRule(3.0, 0.05, with_itself + lower_edge), own_in_edges_under=True)


def test_poisson_test_alone_follows_currie():
    p = _spectrum(A=1e2)
    B = sum(1e2 * ((400 + k) / 100) ** -3 for k in range(50))
    for S, kept in ((2.5 * np.sqrt(B), False), (4.0 * np.sqrt(B + 4.0 * np.sqrt(B)), True)):
        row = _step(S / 50)
        assert detectable(row, np.array([400]), np.array([400.0]), p, np.array([0]), DetectionRule(3.0)) == kept


def test_rule_needs_the_edges_under_and_min_jump_needs_detectable_labels():
    with pytest.raises(ValueError, match="edges_under"):
        DetectionRule(3.0, 0.05)
    with pytest.raises(ConfigError, match="detectability_min_jump"):
        SimulationConfig(detectability_min_jump=0.05)


def _specimens(seed: int, n: int) -> list:
    """``n`` Materials Project specimens of random query elements."""
    from eels_helpers.simulation import specimens as sp

    rng = np.random.default_rng(seed)
    out = []
    for q in rng.integers(0, 80, n):
        out += sp.specimens_from_indices(int(q), sp.sample_indices(int(q), 1, rng))
    return out


def _labels_of_the_same_spectra(config_a: str, config_b: str, specimens, seed: int):
    """Identification labels of ``specimens`` simulated with ``seed`` under two named configurations,
    after checking that the spectra themselves are identical (only the labelling rules differ)."""
    a, b = (simulate_batch(specimens, named_config(name), seed) for name in (config_a, config_b))
    assert np.array_equal(a.spectra, b.spectra)
    return a.labels_identification, b.labels_identification


def _stricter_labels_only(looser: str, stricter: str, specimens, seed: int):
    """The two named configurations' batches: the same spectra, the stricter's labels a proper subset."""
    lab_a, lab_b = _labels_of_the_same_spectra(looser, stricter, specimens, seed)
    assert (lab_b <= lab_a).all() and lab_b.sum() < lab_a.sum()
    return lab_a, lab_b


def test_open_world_visible_changes_only_the_labels():
    _stricter_labels_only("open-world-henke", "open-world-visible", _specimens(47, 64), 47)


def test_counting_the_extra_edges_drops_family_labels_only_where_extra_edges_lie():
    specimens = _specimens(48, 96)
    lab_v, lab_a = _stricter_labels_only("open-world-visible", "open-world-visible-all", specimens, 48)
    # without the extra edges (distractors, other and lone edges) the two rules agree
    lost = lab_a.sum(axis=1) < lab_v.sum(axis=1)
    plain = simulate_batch(specimens, named_config("open-world-visible-all", distractor_fraction=0.0,
                                                   other_edges_fraction=0.0, lone_edge_fraction=0.0), 48)
    same = named_config("open-world-visible", distractor_fraction=0.0, other_edges_fraction=0.0, lone_edge_fraction=0.0)
    assert lost.any() and np.array_equal(plain.labels_identification,
                                         simulate_batch(specimens, same, 48).labels_identification)
    with pytest.raises(ConfigError, match="detectability_all_edges"):
        SimulationConfig(labels="detectable", detectability_all_edges=True)


def test_an_edge_alone_has_nothing_but_the_background_under_it():
    """On a real batch, the summed family edges at an edge's onset channels hold that edge's own counts:
    for spectra with one family edge, U less the edge itself is zero (the rows and the summed axis align)."""
    from eels_helpers.simulation import detectability as D
    from eels_helpers.simulation.specimens import Specimen

    seen = []
    original = D.detectable

    def spy(rows, first_col, onset_eV, p, spectrum, rule, dark=None, dtype=None, own_in_edges_under=False):
        if own_in_edges_under:
            width = D._visible_width(onset_eV, p, spectrum)
            k = np.arange(D.DETECTION_WIDTH_EV)
            cols = np.minimum(np.asarray(first_col)[:, None] + k[None, :], rows.shape[1] - 1)
            own = np.where(k[None, :] < width[:, None], np.take_along_axis(rows, cols, axis=1), 0.0).sum(axis=1)
            under = D._counts_under(rule.edges_under, onset_eV, width, spectrum)
            seen.append((np.asarray(spectrum), own, under))
        return original(rows, first_col, onset_eV, p, spectrum, rule, dark, dtype, own_in_edges_under)

    specimens = [Specimen.pure("C"), Specimen.pure("Fe"), Specimen.pure("Ce")] * 4
    D.detectable = spy
    try:
        simulate_batch(specimens, named_config("open-world-visible", carbon_fraction=0.0), 5)
    finally:
        D.detectable = original
    spectrum, own, under = seen[0]
    single = (np.bincount(spectrum, minlength=len(specimens))[spectrum] == 1) & (own > 0)   # edge-free: own 0
    assert single.sum() >= 4
    np.testing.assert_allclose(under[single], own[single], rtol=1e-4)


def test_visibility_and_soft_labels_by_hand():
    """q = S / (m U) where the jump decides; the soft label 0.5 + ln q / ln 2 is 0.5 at the threshold."""
    from eels_helpers.simulation.detectability import soft_label, visibility

    p = _spectrum()
    B = sum(1e6 * ((400 + k) / 100) ** -3 for k in range(50))
    rule = DetectionRule(3.0, 0.05, np.zeros((1, 3072)), soft_factor=2.0)
    for ratio, q, label in ((0.05, 1.0, 0.5), (0.05 * np.sqrt(2), np.sqrt(2), 1.0), (0.05 / np.sqrt(2), 1 / np.sqrt(2), 0.0),
                            (0.06, 1.2, 0.5 + np.log(1.2) / np.log(2)), (0.02, 0.4, 0.0)):
        got = visibility(_step(ratio * B / 50), np.array([400]), np.array([400.0]), p, np.array([0]), rule)
        assert got == pytest.approx([q], rel=1e-9)
        assert soft_label(got, 2.0) == pytest.approx([label], abs=1e-6)
    # where the Poisson test decides: q = S / (3 sqrt(S + B))
    low = _spectrum(A=1e2)
    B = sum(1e2 * ((400 + k) / 100) ** -3 for k in range(50))
    S = 4.0 * np.sqrt(B)
    got = visibility(_step(S / 50), np.array([400]), np.array([400.0]), low, np.array([0]), DetectionRule(3.0))
    assert got == pytest.approx([S / (3.0 * np.sqrt(S + B))], rel=1e-9)
    assert soft_label(np.array([0.0]), 2.0) == 0.0                     # no counts: no label


def test_soft_labels_keep_the_spectra_and_cross_one_half_where_the_test_does():
    lab_h, lab_s = _labels_of_the_same_spectra("open-world-visible-all", "open-world-soft", _specimens(49, 64), 49)
    assert lab_s.dtype == np.float32 and lab_s.min() >= 0 and lab_s.max() <= 1
    assert np.array_equal(lab_h > 0, lab_s >= 0.5)                     # the 0/1 test is the soft label's 0.5
    assert ((lab_s > 0) & (lab_s < 0.5)).any() and ((lab_s >= 0.5) & (lab_s < 1)).any()
    with pytest.raises(ConfigError, match="detectability_soft_factor"):
        SimulationConfig(detectability_soft_factor=2.0)
    with pytest.raises(ConfigError, match="detectability_soft_factor"):
        SimulationConfig(labels="detectable", detectability_soft_factor=0.5)


def test_softer_labels_lie_between_one_half_and_the_factor_two_labels():
    l2, l4 = _labels_of_the_same_spectra("open-world-soft", "open-world-soft4", _specimens(50, 64), 50)
    assert np.array_equal(l2 >= 0.5, l4 >= 0.5)                        # one test, one crossing
    assert np.all(np.abs(l4 - 0.5) <= np.abs(l2 - 0.5) + 1e-6)          # 0.5 + ln q / ln 4 vs / ln 2
    # where f = 2 saturates (q >= sqrt 2) f = 4 can still be below 1: q in [sqrt 2, 2) gives 0.75..1
    inside = (l2 > 0) & (l2 < 1)
    assert np.allclose(l4[inside], 0.5 + (l2[inside] - 0.5) / 2, atol=1e-6)
    assert ((l4 > 0) & (l4 < 1)).sum() > inside.sum()
