"""The spectrum simulator: invariants of simulate_batch (paper Fig. 2, Table 1).

Expected values are computed independently here from the returned parameters and the
tabulated onsets (eels_helpers.physics.elements), never copied from earlier output.
"""

import numpy as np
import pytest

from eels_helpers.physics.elements import EDGE_FAMILIES, ELEMENTS, families_of
from eels_helpers.physics.gos_tables import builtin_available
from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.pipeline import MAX_EDGE_SLOTS, SimulatedBatch, simulate_batch
from eels_helpers.simulation.specimens import Specimen

# K and L2,3 edges only, so that the hydrogenic GOS (used until the builtin table is shipped)
# can compute every family
SPECIMENS = [
    Specimen(("Fe", "O"), (0.4, 0.6), "Fe"),
    Specimen(("Fe", "O"), (0.4, 0.6), "O"),
    Specimen(("C",), (1.0,), "C"),
    Specimen(("Ti", "Sr", "O"), (0.2, 0.2, 0.6), "Ti"),
    Specimen(("B", "N"), (0.5, 0.5), "N"),
    Specimen(("Si", "O"), (1 / 3, 2 / 3), "Si"),
    Specimen(("Ca", "C", "O"), (0.2, 0.2, 0.6), "Ca"),
    Specimen(("Ni", "Cu", "Zn", "Mn", "Cr"), (0.2,) * 5, "Zn"),
]
CFG = SimulationConfig(E0_keV=(200.0,))


@pytest.fixture(scope="module")
def steps_batch():
    specs = SPECIMENS * 8
    return specs, simulate_batch(specs, CFG, np.random.default_rng(11), return_steps=True)


def _onset(fam_index, shift):
    return EDGE_FAMILIES[fam_index].onset_eV + shift


def test_shapes_and_dtypes(steps_batch):
    specs, b = steps_batch
    B = len(specs)
    assert isinstance(b, SimulatedBatch) and len(b) == B
    assert b.spectra.shape == (B, 3072) and b.spectra.dtype == np.float32
    assert b.labels_identification.shape == (B, 80) and b.labels_identification.dtype == np.uint8
    assert b.labels_quantification.shape == (B, 80)
    assert b.labels_quantification.dtype == np.float32
    for name, v in b.params.items():
        assert v.shape[0] == B, name
    assert b.params["edge_family"].shape == (B, MAX_EDGE_SLOTS)
    assert b.params["plasmon_energy_eV"].shape == (B, 5)
    assert b.params["fs_peak_eV"].shape == (B, MAX_EDGE_SLOTS, 25)
    for name in ("edges", "jump_edge", "edges_fs", "lowloss", "convolved", "background",
                 "expected", "noisy"):
        assert b.steps[name].shape == (B, 3072), name


def test_max_one_and_zeros_outside_window(steps_batch):
    _, b = steps_batch
    x = b.spectra
    np.testing.assert_allclose(x.max(axis=1), 1.0)
    assert (x >= 0).all()
    ch = np.arange(3072)
    start, end = b.params["start_eV"], b.params["end_eV"]
    outside = (ch[None, :] < start[:, None]) | (ch[None, :] > end[:, None])
    assert (x[outside] == 0).all()
    inside = ~outside
    # noise-free counts everywhere in the window (noisy ones may be 0 where the background is
    # tiny: A = 1e3, r = 4 gives < 1e-3 counts per channel 40 x E_start)
    assert (b.steps["expected"][inside] > 0).all()


def test_window_in_table1_ranges(steps_batch):
    _, b = steps_batch
    p = b.params
    assert (p["start_eV"] >= 75).all() and (p["end_eV"] <= 3272).all()
    for i in range(len(p["start_eV"])):
        qf = EDGE_FAMILIES[p["query_family"][i]]
        slot = list(p["edge_family"][i]).index(p["query_family"][i])
        shift = p["chemical_shift_eV"][i, slot]
        majors = [qf.onset_of(s) + shift for s in qf.major]
        assert p["start_eV"][i] <= min(majors) - 10
        assert p["end_eV"][i] >= max(majors) + 25


def test_labels_follow_the_window(steps_batch):
    specs, b = steps_batch
    p = b.params
    for i, spec in enumerate(specs):
        start, end = p["start_eV"][i], p["end_eV"][i]
        fams = p["edge_family"][i]
        n = p["n_edges"][i]
        assert (fams[:n] >= 0).all() and (fams[n:] == -1).all()
        # every included family lies inside the window with the margins (shifted onsets)
        included = set()
        for f, s in zip(fams[:n], p["chemical_shift_eV"][i, :n]):
            on = _onset(f, s)
            assert start + 10 <= on <= end - 25
            assert -5 <= s <= 5
            included.add(EDGE_FAMILIES[f].element)
        # every labelled element has an edge inside the window, and only those are labelled
        labelled = {ELEMENTS[j] for j in np.flatnonzero(b.labels_identification[i])}
        assert labelled == included
        assert spec.query in labelled
        assert labelled <= set(spec.elements)
        # quantification: the specimen's fractions of the labelled elements, renormalised
        fr = dict(zip(spec.elements, spec.fractions))
        tot = sum(fr[e] for e in labelled)
        for e in labelled:
            assert b.labels_quantification[i, ELEMENTS.index(e)] == pytest.approx(fr[e] / tot,
                                                                                  rel=1e-5)
        assert b.labels_quantification[i].sum() == pytest.approx(1.0, rel=1e-5)
        # every family of the specimen is stored as a candidate with its drawn chemical shift;
        # the included ones carry the same shift, and a left-out one lies outside the margins
        cand = {int(f): int(s) for f, s in zip(p["candidate_family"][i],
                                                 p["candidate_chemical_shift_eV"][i]) if f >= 0}
        assert set(cand) == {EDGE_FAMILIES.index(fam) for e in spec.elements
                             for fam in families_of(e)}
        for f, s in zip(fams[:n], p["chemical_shift_eV"][i, :n]):
            assert cand[int(f)] == s
        for f, s in cand.items():
            if f not in fams[:n] and f != p["query_family"][i]:
                assert not (start + 10 <= _onset(f, s) <= end - 25), (EDGE_FAMILIES[f].name,)


def test_measured_jump_ratio(steps_batch):
    _, b = steps_batch
    p = b.params
    edge = b.steps["jump_edge"].astype(np.float64)
    onset = p["jump_onset_eV"].astype(np.float64)
    A, r, s = (p[k].astype(np.float64) for k in ("bg_amplitude", "bg_exponent", "start_eV"))
    background_at_onset = A * (onset / s) ** (-r)
    measured = edge.max(axis=1) / background_at_onset
    assert ((measured >= 0.2 * (1 - 1e-4)) & (measured <= 1.5 * (1 + 1e-4))).all()
    np.testing.assert_allclose(measured, p["jump_ratio"], rtol=1e-4)
    # the onset is the family's major onset + its chemical shift, within the 1 eV placement
    for i in range(len(onset)):
        f = p["jump_family"][i]
        slot = p["jump_slot"][i]
        assert p["edge_family"][i, slot] == f
        assert abs(onset[i] - _onset(f, p["chemical_shift_eV"][i, slot])) <= 0.5
        # the edge starts at its onset (nothing below, within the 1 eV rounding)
        first = np.flatnonzero(edge[i] > 0)[0]
        assert abs(first - EDGE_FAMILIES[f].first_onset_eV - p["chemical_shift_eV"][i, slot]) <= 1


def test_steps_compose(steps_batch):
    _, b = steps_batch
    st, p = b.steps, b.params
    # (b) fine structure only changes the edges within width + taper of each major onset and
    # never makes them negative
    assert (st["edges_fs"] >= 0).all()
    # (c) the low-loss kernel: its area at >= 0 eV is sum_n P_n minus the ZLP's negative half
    # (d) convolution conserves the area up to the kernel's total area
    ratio = st["convolved"].sum(axis=1) / st["edges_fs"].sum(axis=1)
    assert ((ratio > 0.85) & (ratio < 1.0 + 1e-3)).all()
    # (e)-(f) recorded channel i holds true energy i - s: expected = shifted(conv + bg) in window
    ch = np.arange(3072)
    for i in range(0, len(p["start_eV"]), 7):
        s = int(p["instrumental_shift_eV"][i])
        lo, hi = int(p["start_eV"][i]), min(int(p["end_eV"][i]), 3071)
        true_E = ch[lo:hi + 1] - s
        bg = p["bg_amplitude"][i] * (true_E / p["start_eV"][i]) ** (-float(p["bg_exponent"][i]))
        ref = st["convolved"][i, true_E] + bg
        np.testing.assert_allclose(st["expected"][i, lo:hi + 1], ref, rtol=1e-4)
    # (f) the spectrum is the noisy counts over their maximum
    np.testing.assert_allclose(b.spectra, st["noisy"] / st["noisy"].max(axis=1, keepdims=True),
                               rtol=1e-6)


def test_parameters_in_table1_ranges(steps_batch):
    _, b = steps_batch
    p = b.params
    assert set(np.unique(p["E0_keV"])) <= {200.0}
    assert ((p["alpha_mrad"] >= 1) & (p["alpha_mrad"] <= 20)).all()
    assert ((p["beta_mrad"] >= 1) & (p["beta_mrad"] <= 100)).all()
    assert ((p["zlp_fwhm_eV"] >= 1) & (p["zlp_fwhm_eV"] <= 3)).all()
    assert ((p["n_plasmons"] >= 2) & (p["n_plasmons"] <= 5)).all()
    used = np.arange(5)[None, :] < p["n_plasmons"][:, None]
    for k in ("plasmon_energy_eV", "plasmon_width_eV"):
        assert ((p[k][used] >= 3) & (p[k][used] <= 20)).all() and (p[k][~used] == 0).all()
    assert ((p["t_over_lambda"] >= 0.1) & (p["t_over_lambda"] <= 1)).all()
    assert set(np.unique(p["bg_amplitude"])) <= {1e3, 1e4, 1e5, 1e6, 1e7}
    assert ((p["bg_exponent"] >= 2) & (p["bg_exponent"] <= 4)).all()
    assert ((p["atomic_diameter_pm"] >= 25) & (p["atomic_diameter_pm"] <= 250)).all()
    assert ((p["instrumental_shift_eV"] >= -5) & (p["instrumental_shift_eV"] <= 5)).all()
    occ = p["edge_family"] >= 0
    assert ((p["fs_width_eV"][occ] >= 50) & (p["fs_width_eV"][occ] <= 100)).all()
    assert ((p["fs_degree"][occ] >= 10) & (p["fs_degree"][occ] <= 25)).all()


def test_determinism_by_seed():
    specs = SPECIMENS[:4]
    a = simulate_batch(specs, CFG, np.random.default_rng(5))
    b = simulate_batch(specs, CFG, np.random.default_rng(5))
    c = simulate_batch(specs, CFG, np.random.default_rng(6))
    assert np.array_equal(a.spectra, b.spectra)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert np.array_equal(a.labels_quantification, b.labels_quantification)
    assert not np.array_equal(a.spectra, c.spectra)


def test_noise_free_and_default_beam_energies():
    cfg = SimulationConfig(noise=False)
    b = simulate_batch(SPECIMENS[:4] * 4, cfg, np.random.default_rng(2), return_steps=True)
    assert set(np.unique(b.params["E0_keV"])) <= {60.0, 100.0, 200.0, 300.0}
    np.testing.assert_allclose(b.spectra, b.steps["expected"] / b.steps["expected"].max(
        axis=1, keepdims=True), rtol=1e-6)


def test_poisson_noise_statistics_in_the_pipeline():
    # the same specimen and seed for the parameters: noisy counts scatter around expected counts
    cfg = CFG.replace(bg_amplitude=(1e3,))
    b = simulate_batch([SPECIMENS[2]] * 16, cfg, np.random.default_rng(4), return_steps=True)
    lam, x = b.steps["expected"].astype(np.float64), b.steps["noisy"].astype(np.float64)
    m = (lam > 20) & (lam < 900)  # exact Poisson region
    z = (x[m] - lam[m]) / np.sqrt(lam[m])
    assert abs(z.mean()) < 5 / np.sqrt(m.sum())
    assert abs(z.var() - 1) < 0.05


def test_query_without_computable_edge_is_a_clear_error():
    if builtin_available():
        pytest.skip("the builtin GOS table computes every family")
    with pytest.raises(ValueError, match="Ce.*hydrogenic"):
        simulate_batch([Specimen(("Ce", "O"), (0.4, 0.6), "Ce")], CFG, np.random.default_rng(0))


def test_empty_batch_error():
    with pytest.raises(ValueError, match="at least one specimen"):
        simulate_batch([], CFG, np.random.default_rng(0))


def test_m_and_n_edges_from_a_gosh_file(tmp_path):
    """M and N families work as soon as a GOS source has them: a synthetic GOSH file whose Ce
    M45 / N45 tables borrow the shape of the hydrogenic O K GOS."""
    from eels_helpers.physics.gos_tables import GosTable, write_gosh
    from eels_helpers.physics.hydrogenic import HydrogenicSource

    ok, _ = HydrogenicSource().table("O", "K1")
    tables = [GosTable("O", "K1", ok.q_inv_m, ok.free_energies_eV, ok.dfde_per_eV, 532.0, 1, 0)]
    for name, n in (("M45", 3), ("N45", 4)):
        tables.append(GosTable("Ce", name, ok.q_inv_m, ok.free_energies_eV, ok.dfde_per_eV,
                               float("nan"), n, 2))
    path = tmp_path / "ce_o.gosh"
    write_gosh(path, tables)
    cfg = CFG.replace(gos=str(path))
    specs = [Specimen(("Ce", "O"), (1 / 3, 2 / 3), "Ce")] * 12
    b = simulate_batch(specs, cfg, np.random.default_rng(3), return_steps=True)
    ce = ELEMENTS.index("Ce")
    assert (b.labels_identification[:, ce] == 1).all()
    names = {EDGE_FAMILIES[f].name for f in b.params["edge_family"].ravel() if f >= 0}
    assert names & {"Ce M", "Ce N"} and names <= {"Ce M", "Ce N", "O K"}
    np.testing.assert_allclose(b.spectra.max(axis=1), 1.0)
    # the query's major set (M4,5 or N4,5) fixes the window
    q = {EDGE_FAMILIES[f].name for f in b.params["query_family"]}
    assert q <= {"Ce M", "Ce N"}


def test_integer_seed_and_too_many_edges(monkeypatch):
    a = simulate_batch(SPECIMENS[:2], CFG, 7)
    b = simulate_batch(SPECIMENS[:2], CFG, np.random.default_rng(7))
    assert np.array_equal(a.spectra, b.spectra)
    # more families in the window than storage slots: a clear error (the Materials Project
    # specimens have at most 10 families, MAX_EDGE_SLOTS = 12)
    import eels_helpers.simulation.pipeline as simulate_module
    monkeypatch.setattr(simulate_module, "MAX_EDGE_SLOTS", 1)
    spec = Specimen(("B", "C", "N", "O"), (0.25,) * 4, "B")
    with pytest.raises(ValueError, match="MAX_EDGE_SLOTS = 1"):
        simulate_batch([spec] * 20, CFG, 0)


def test_profile_steps_reports_every_step():
    from eels_helpers.simulation.pipeline import profile_steps

    t = profile_steps(SPECIMENS * 2, CFG, repeats=2)
    steps = ["parameters", "edges", "fine_structure", "lowloss", "convolution",
             "background", "noise", "normalise_labels"]
    assert list(t.index) == steps + ["total"]
    assert (t[steps] >= 0).all() and t["total"] > 0
    assert t["total"] == pytest.approx(t[steps].sum(), rel=0.5)   # medians of sums vs sums
