"""The open-world options of the simulator (eels_helpers.simulation.open_world, issue 15).

Each option is checked for what it promises on a seeded batch; the paper's dataset staying
bit-identical is tests/simulation/test_reference.py and tests/datasets (reference files)."""

import dataclasses

import numpy as np
import pytest

from eels_helpers.physics.elements import ELEMENTS
from eels_helpers.simulation import specimens as sp
from eels_helpers.simulation.config import OPEN_WORLD_FIELDS, ConfigError, SimulationConfig
from eels_helpers.simulation.named_configs import NAMED_CONFIGS, named_config
from eels_helpers.simulation.pipeline import simulate_batch

AL, MG, C = ELEMENTS.index("Al"), ELEMENTS.index("Mg"), ELEMENTS.index("C")


@pytest.fixture(scope="module")
def specimens():
    rng = np.random.default_rng(3)
    out = []
    for q in rng.integers(0, 80, 96):
        out += sp.specimens_from_indices(int(q), sp.sample_indices(int(q), 1, rng))
    return out


def _only(**options):
    """A configuration with only ``options`` on (labels by window unless given)."""
    return SimulationConfig(**options)


def test_defaults_are_the_paper_and_named_configs_validate():
    paper = SimulationConfig()
    assert not paper.open_world
    assert named_config("paper") == paper
    ow = named_config("open-world")
    assert ow.open_world
    # the named open-world configuration keeps every Table 1 range of the paper but the shift
    for f in dataclasses.fields(SimulationConfig):
        if f.name not in OPEN_WORLD_FIELDS and f.name not in NAMED_CONFIGS["open-world"]:
            assert getattr(ow, f.name) == getattr(paper, f.name), f.name
    # Table 1 stays the paper's table; the options are a table of their own
    assert set(paper.table1()["field"]).isdisjoint(OPEN_WORLD_FIELDS)
    assert list(ow.open_world_table()["field"]) == list(OPEN_WORLD_FIELDS)
    with pytest.raises(ConfigError, match="unknown simulator configuration 'closed'"):
        named_config("closed")


@pytest.mark.parametrize("field, value, message", [
    ("edge_free_fraction", 1.5, r"edge_free_fraction \(Edge-free spectra\): must lie in \[0, 1\]"),
    ("artefact_fraction", -0.1, r"artefact_fraction"),
    ("labels", "visible", r"labels \(Labels\): must be one of window, detectable"),
    ("carbon_atomic_fraction", (0.5, 0.1), r"min must not exceed max"),
])
def test_bad_options_name_the_parameter(field, value, message):
    with pytest.raises(ConfigError, match=message):
        SimulationConfig(**{field: value})


def test_same_seed_same_open_world_batch(specimens):
    cfg = named_config("open-world")
    a = simulate_batch(specimens[:24], cfg, 11)
    b = simulate_batch(specimens[:24], cfg, 11)
    assert np.array_equal(a.spectra, b.spectra)
    assert np.array_equal(a.labels_identification, b.labels_identification)
    assert np.isfinite(a.spectra).all() and np.isfinite(a.labels_quantification).all()


def test_edge_free_spectra_have_no_label_and_no_edge(specimens):
    cfg = _only(edge_free_fraction=1.0, noise=False)
    no_carbon = [s for s in specimens if "C" not in s.elements][:16]
    batch = simulate_batch(no_carbon, cfg, 2, return_steps=True)
    assert batch.params["edge_free"].all()
    assert batch.labels_identification.sum() == 0
    assert batch.labels_quantification.sum() == 0
    # noise-free: the spectrum is the recorded background alone (no edge anywhere)
    window = batch.steps["expected"] > 0
    np.testing.assert_allclose(batch.steps["expected"][window], batch.steps["background"][window],
                               rtol=1e-5)


def test_edge_free_spectra_with_a_carbon_film_hold_carbon_only(specimens):
    no_carbon = [s for s in specimens if "C" not in s.elements][:24]
    cfg = _only(edge_free_fraction=1.0, carbon_fraction=1.0, low_start_fraction=1.0, noise=False)
    batch = simulate_batch(no_carbon, cfg, 4, return_steps=True)
    labelled = batch.labels_identification.astype(bool)
    assert not np.delete(labelled, C, axis=1).any()           # nothing but carbon
    has_c = labelled[:, C]
    assert has_c.sum() >= 12                                   # C K (284 eV) mostly in the window
    window = batch.steps["expected"] > 0
    edge = np.where(window, batch.steps["expected"] - batch.steps["background"], 0.0)
    rel = edge / np.where(window, batch.steps["background"], 1.0)
    assert (rel[has_c].max(axis=1) > 1e-3).all()               # C K above the background
    assert np.abs(rel[~has_c]).max() < 1e-4                     # the others: background alone


def test_carbon_film_is_simulated_and_labelled(specimens):
    no_carbon = [s for s in specimens if "C" not in s.elements][:24]
    batch = simulate_batch(no_carbon, _only(carbon_fraction=1.0, low_start_fraction=1.0), 4)
    fam = batch.params["edge_family"]
    from eels_helpers.physics.elements import EDGE_FAMILIES
    c_k = [i for i, f in enumerate(EDGE_FAMILIES) if f.name == "C K"][0]
    in_window = (fam == c_k).any(axis=1)
    assert in_window.sum() >= 12     # windows start at 75-85 eV: C K (284 eV) is mostly inside
    assert np.array_equal(batch.labels_identification[:, C].astype(bool), in_window)


def test_low_start_and_distractor_edges(specimens):
    cfg = _only(low_start_fraction=1.0, distractor_fraction=1.0)
    batch = simulate_batch(specimens[:32], cfg, 5)
    start = batch.params["start_eV"]
    assert ((start >= 75) & (start <= 85)).all()
    d = batch.params["distractor_element"]
    assert set(np.unique(d)) <= {AL, MG} and (d >= 0).all()
    # labelled only when the onset (true axis) lies inside the window: Mg L2,3 (49.5 eV) never,
    # Al L2,3 (72.55 eV) only where the instrumental shift moves the window start below it
    start_true = start - batch.params["instrumental_shift_eV"]
    onset = np.where(d == AL, 72.55, 49.5)
    labelled = batch.params["distractor_labelled"]
    assert not (labelled & (onset < start_true)).any() and not labelled[d == MG].any()
    assert (~labelled).sum() >= 24
    specimen_has = np.array([[el in s.elements for el in ("Al", "Mg")] for s in specimens[:32]])
    rows = np.arange(d.size)
    from_distractor_only = ~specimen_has[rows, (d == MG).astype(int)]
    got = batch.labels_identification[rows, d].astype(bool)
    assert np.array_equal(got[from_distractor_only], labelled[from_distractor_only])


def test_narrow_windows_hug_the_query_edge(specimens):
    wide = simulate_batch(specimens[:48], SimulationConfig(), 6)
    narrow = simulate_batch(specimens[:48], _only(narrow_window_fraction=1.0), 6)
    w_wide = wide.params["end_eV"] - wide.params["start_eV"]
    w_narrow = narrow.params["end_eV"].astype(int) - narrow.params["start_eV"]
    assert np.median(w_narrow) < 0.3 * np.median(w_wide)
    # the query edge set keeps its margins: the edge that fixed the window is included
    assert ((narrow.params["edge_family"] == narrow.params["query_family"][:, None]).any(axis=1)).all()


def test_background_subtraction_removes_the_background_before_the_edge(specimens):
    base = dict(noise=False)
    kept = simulate_batch(specimens[:32], _only(**base), 7)
    sub = simulate_batch(specimens[:32], _only(background_subtracted_fraction=1.0, **base), 7)
    onset = (sub.params["jump_onset_eV"] + sub.params["instrumental_shift_eV"]).astype(int)
    before = np.clip(onset - 8, sub.params["start_eV"], None)
    rows = np.arange(32)
    ok = before < onset - 2                  # the window holds a few channels before the edge
    pre_kept = kept.spectra[rows, before][ok]
    pre_sub = sub.spectra[rows, before][ok]
    assert ok.sum() >= 16
    # just before the edge, the unsubtracted spectrum is mostly background; subtracted, the
    # residual is a few % of the background there
    assert np.median(pre_kept) > 0.05
    assert np.median(np.abs(pre_sub)) < 0.2 * np.median(pre_kept)
    assert (np.abs(sub.spectra).max(axis=1) == 1).all()


def test_artefacts_change_the_counts_only(specimens):
    base = dict(edge_free_fraction=0.5, noise=True)
    clean = simulate_batch(specimens[:32], _only(**base), 8)
    broken = simulate_batch(specimens[:32], _only(artefact_fraction=1.0, **base), 8)
    assert np.array_equal(clean.labels_identification, broken.labels_identification)
    differs = (clean.spectra != broken.spectra).any(axis=1)
    assert differs.mean() > 0.8
    # spikes and dead channels touch at most 10 channels; a gain step a contiguous run
    inside = clean.spectra > 0
    assert (broken.spectra[~inside] == 0).all()


def test_lowloss_tail_steepens_the_start(specimens):
    base = dict(low_start_fraction=1.0, noise=False)
    plain = simulate_batch(specimens[:16], _only(**base), 9, return_steps=True)
    tail = simulate_batch(specimens[:16], _only(lowloss_tail_fraction=1.0, **base), 9,
                          return_steps=True)
    start = plain.params["start_eV"].astype(int)
    rows = np.arange(16)
    ratio_plain = plain.steps["background"][rows, start] / plain.steps["background"][rows, start + 30]
    ratio_tail = tail.steps["background"][rows, start] / tail.steps["background"][rows, start + 30]
    assert (ratio_tail > ratio_plain * 1.05).all() and np.median(ratio_tail / ratio_plain) > 1.3


def test_detectability_labels(specimens):
    window = simulate_batch(specimens[:48], _only(labels="detectable", detectability_sigma=0.0), 10)
    strict = simulate_batch(specimens[:48], _only(labels="detectable", detectability_sigma=30.0), 10)
    paper_rule = window.params["n_edges"] > 0
    # sigma 0: every edge with counts is labelled, as the paper's window rule does
    assert paper_rule.all()
    lab0, lab30 = window.labels_identification, strict.labels_identification
    assert np.array_equal(window.spectra, strict.spectra)     # the rule draws nothing
    assert (lab30 <= lab0).all() and lab30.sum() < lab0.sum()
    # dim spectra (few counts) lose their labels first
    counts = window.params["bg_amplitude"]
    lost = lab0.sum(axis=1) > lab30.sum(axis=1)
    assert np.median(counts[lost]) <= np.median(counts[~lost])


def test_open_world_spectra_stay_within_minus_one_and_one():
    from eels_helpers.datasets.streaming import StreamingSpectra

    stream = StreamingSpectra(config=named_config("open-world"), seed=12, batch_size=32, n_batches=40)
    x = np.concatenate([stream.batch(b)["spectra"].numpy() for b in range(40)])
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert (np.abs(x).max(axis=1) == 1).mean() > 0.95     # only all-zero spectra stay below


def test_dark_pedestal_is_flat_and_half_of_it_subtracted(specimens):
    base = dict(edge_free_fraction=1.0, noise=False)
    plain = simulate_batch(specimens[:32], _only(**base), 14, return_steps=True)
    dark = simulate_batch(specimens[:32], _only(dark_fraction=1.0, **base), 14, return_steps=True)
    diff = dark.steps["expected"] - plain.steps["expected"]
    inside = plain.steps["expected"] > 0
    level = np.array([np.median(d[m]) for d, m in zip(diff, inside)])
    assert (level > 0).all()
    for d, m, lv in zip(diff, inside, level):                   # one flat level inside the window
        np.testing.assert_allclose(d[m], lv, rtol=1e-3, atol=1e-3 * lv + 1e-3)
    amp = plain.params["bg_amplitude"]
    assert ((level >= 1e-3 * amp * 0.99) & (level <= amp * 1.01)).all()
    # noise-free, a subtracted pedestal leaves the background alone: some spectra equal the plain ones
    same = np.isclose(dark.spectra, plain.spectra, atol=1e-6).all(axis=1)
    assert 0.2 < same.mean() < 0.8


def test_open_world_window_differs_from_open_world_only_in_its_labels():
    a, b = named_config("open-world"), named_config("open-world-window")
    assert a.labels == "detectable" and b.labels == "window"
    assert {k: v for k, v in vars(a).items() if k != "labels"} == {k: v for k, v in vars(b).items() if k != "labels"}


def test_pi_star_in_the_open_world_batches(specimens):
    nk = [sp.Specimen(("B", "N"), (0.5, 0.5), "N")] * 16
    cfg = _only(pi_star_fraction=1.0)
    with_lines = simulate_batch(nk, cfg, 4)
    assert with_lines.params["pi_star"].all()
    assert not simulate_batch(specimens[:16], named_config("open-world", pi_star_fraction=0.0),
                              4).params["pi_star"].any()


def test_fine_structure_depth_scales_the_modulation_only():
    """fs_depth d: the edge's factor 1 + c f becomes 1 + d c f (steps.add_fine_structure_step);
    d = 0 leaves the atomic edge, d = 1 is the paper's; off (the default) draws nothing."""
    from eels_helpers.simulation import open_world as ow_mod

    spec = [sp.Specimen(("Fe", "O"), (0.4, 0.6), "O")] * 8
    base = dict(noise=False, white_lines=False)
    flat = simulate_batch(spec, _only(fs_depth=(0.0, 0.0), **base), 5, return_steps=True).steps
    full = simulate_batch(spec, _only(fs_depth=(1.0, 1.0), carbon_fraction=1e-12, **base), 5,
                          return_steps=True).steps
    half = simulate_batch(spec, _only(fs_depth=(0.5, 0.5), **base), 5, return_steps=True).steps
    # depth 0: the summed edges before and after the fine-structure step are the same
    np.testing.assert_allclose(flat["edges_fs"], flat["edges"], rtol=1e-5, atol=1e-6 * flat["edges"].max())
    # depth 0.5 lies half way between no fine structure and the paper's (same draws otherwise)
    np.testing.assert_allclose(half["edges_fs"], 0.5 * (half["edges"] + full["edges_fs"]),
                               rtol=1e-4, atol=1e-5 * full["edges_fs"].max())
    gen = np.random.default_rng(0)
    before = gen.bit_generator.state
    assert ow_mod.fine_structure_depth(5, _only(carbon_fraction=0.5), gen) is None
    assert gen.bit_generator.state == before
    assert ((d := ow_mod.fine_structure_depth(1000, _only(fs_depth=(0.1, 1.0)), gen)) >= 0.1).all() and d.max() <= 1


def test_white_lines_outside_the_fine_structure_keep_their_shape():
    """fs_on_white_lines=False: the generic fine structure modulates only the continuum; the
    white lines (the tables with lines minus those without) are added unchanged after it."""
    spec = [sp.Specimen(("Sc", "O"), (0.4, 0.6), "Sc")] * 8
    base = dict(noise=False, white_lines=True, fs_on_white_lines=False)
    # (an open-world option that changes nothing here, so that every batch draws the same parameters)
    on = simulate_batch(spec, SimulationConfig(**base, carbon_fraction=1e-12), 6, return_steps=True)
    off = simulate_batch(spec, SimulationConfig(**base, fs_depth=(0.0, 0.0)), 6, return_steps=True)
    # the lines: the tables with lines minus those without; the modulated continuum is >= 0, so
    # at the lines' maximum (L3 near 402 eV) the spectrum holds at least the whole line
    lines = off.steps["edges_fs"] - simulate_batch(spec, SimulationConfig(noise=False, fs_depth=(0.0, 0.0)), 6,
                                                   return_steps=True).steps["edges_fs"]
    for b in range(len(spec)):
        peak = int(np.argmax(lines[b]))
        assert abs(peak - 402) <= 12 and lines[b, peak] > 0.1 * off.steps["edges_fs"][b].max()
        assert on.steps["edges_fs"][b, peak] >= 0.999 * lines[b, peak]
    # the default (True) modulates the lines too: those spectra differ from fs_on_white_lines=False
    assert not np.allclose(simulate_batch(spec, SimulationConfig(noise=False, white_lines=True, carbon_fraction=1e-12),
                                          6, return_steps=True).steps["edges_fs"], on.steps["edges_fs"])
    assert named_config("open-world-elnes").fs_on_white_lines is False


def test_other_edges_of_the_specimen_are_added_labelled_and_scaled_like_its_families():
    """other_edges_fraction (open_world.other_edges): a specimen's edges outside the families in
    (or just below) the window are added with the weight its families get: Kr M4,5 beside O K,
    relative to O K as the direct cross sections (CrossSectionCalculator) say; Kr is labelled
    from its M4,5 edge alone; off (default) draws nothing."""
    from eels_helpers.physics.cross_section import CrossSectionCalculator
    from eels_helpers.physics.elements import OTHER_EDGES, family

    spec = [sp.Specimen(("O", "Kr"), (0.6, 0.4), "O")] * 3
    # window 80..600 eV on the true axis, no shifts, no fine structure, no other option's effect
    base = dict(start_min_eV=80, margin_before_eV=452, end_max_eV=600, margin_after_eV=1, chemical_shift_eV=(0, 0),
                instrumental_shift_eV=(0, 0), noise=False, fs_depth=(0.0, 0.0), E0_keV=(200.0,),
                alpha_mrad=(10.0, 10.0), beta_mrad=(30.0, 30.0))
    with_kr = simulate_batch(spec, SimulationConfig(**base, other_edges_fraction=1.0), 2, return_steps=True)
    without = simulate_batch(spec, SimulationConfig(**base), 2, return_steps=True)
    assert (with_kr.params["start_eV"] == 80).all() and (with_kr.params["end_eV"] <= 600).all()
    kr = ELEMENTS.index("Kr")
    assert with_kr.labels_identification[:, kr].all() and not without.labels_identification[:, kr].any()
    added = with_kr.steps["edges_fs"] - without.steps["edges_fs"]
    assert np.abs(added[:, :85]).max() == 0 and (added[:, 100:200] > 0).all()
    m45 = OTHER_EDGES["Kr"][1]
    assert m45.name == "Kr M4,5"
    E = np.array([150.0, 600.0])
    direct = CrossSectionCalculator([m45, family("O K")], E)(200.0, 10.0, 30.0)[0]   # (2 edges, 2 energies)
    expected = (0.4 * direct[0, 0]) / (0.6 * direct[1, 1])
    got = added[:, 150] / without.steps["edges_fs"][:, 600]
    np.testing.assert_allclose(got, expected, rtol=0.03)
    # open-world-other turns it on; the default draws nothing (the paper's dataset is untouched)
    assert named_config("open-world-other").other_edges_fraction == 1.0
    assert SimulationConfig().other_edges_fraction == 0.0


def test_lone_edges_add_one_out_of_family_edge_of_an_element_absent_from_the_window():
    """lone_edge_fraction (open_world.lone_edges): under a window starting below 110 eV, one edge
    outside the families with its onset 20 eV below to 60 eV above the start, of an element none
    of whose families reaches into the window; labelled (window rule) when its onset is inside;
    windows starting at 110 eV or above get nothing; off (default) draws nothing."""
    from eels_helpers.physics.elements import EDGE_FAMILIES, OTHER_EDGES

    spec = [sp.Specimen(("O",), (1.0,), "O")] * 24
    base = dict(start_min_eV=80, margin_before_eV=452, end_max_eV=600, margin_after_eV=1, chemical_shift_eV=(0, 0),
                instrumental_shift_eV=(0, 0), noise=False, E0_keV=(200.0,))
    on = simulate_batch(spec, SimulationConfig(**base, lone_edge_fraction=1.0), 4, return_steps=True)
    # (a tiny fraction: the same draws, no spectrum chosen)
    off = simulate_batch(spec, SimulationConfig(**base, lone_edge_fraction=1e-12), 4, return_steps=True)
    assert (on.params["start_eV"] == 80).all() and (on.params["end_eV"] <= 600).all()
    added = on.steps["edges_fs"] - off.steps["edges_fs"]
    assert (added.max(axis=1) > 0).all() and np.abs(added[:, :50]).max() == 0 and added.min() >= 0
    # jump ratio 0.2-1.5 at the edge's maximum over the first 50 eV of the window above its onset
    lo = np.maximum(np.argmax(added > 0, axis=1), 80)          # max(onset, window start)
    seg = np.take_along_axis(added, lo[:, None] + np.arange(50), axis=1)
    at = lo + np.argmax(seg, axis=1)
    ratio = seg.max(axis=1) / on.steps["background"][np.arange(len(spec)), at]
    assert (ratio > 0.2 * 0.99).all() and (ratio < 1.5 * 1.01).all()
    new = on.labels_identification.astype(bool) & ~off.labels_identification.astype(bool)
    assert new.sum(axis=1).max() == 1 and new.any()
    assert not (off.labels_identification.astype(bool) & ~on.labels_identification.astype(bool)).any()
    first_family = {f.element: min(g.first_onset_eV for g in EDGE_FAMILIES if g.element == f.element)
                    for f in EDGE_FAMILIES}
    for i, j in zip(*np.nonzero(new)):
        element = ELEMENTS[j]
        assert first_family[element] > on.params["end_eV"][i]          # none of its families in the window
        onsets = [e.onset_eV for e in OTHER_EDGES[element]]
        assert any(79.5 <= o <= 80 + 60.5 for o in onsets), (element, onsets)   # its lone edge in the window (1 eV grid)
        assert added[i, : int(min(o for o in onsets if o >= 60)) - 10].max() == 0
    # a window starting at 110 eV or above gets nothing
    high = dict(base, start_min_eV=150, margin_before_eV=382)
    high_on = simulate_batch(spec, SimulationConfig(**high, lone_edge_fraction=1.0), 4, return_steps=True)
    high_off = simulate_batch(spec, SimulationConfig(**high, lone_edge_fraction=1e-12), 4, return_steps=True)
    assert (high_on.params["start_eV"] >= 110).all()
    assert np.array_equal(high_on.steps["edges_fs"], high_off.steps["edges_fs"])
    assert np.array_equal(high_on.labels_identification, high_off.labels_identification)
    assert SimulationConfig().lone_edge_fraction == 0.0
    lone, multiplet = named_config("open-world-lone"), named_config("open-world-multiplet")
    assert dataclasses.replace(lone, lone_edge_fraction=0.0) == multiplet and lone.lone_edge_fraction == 0.5


def test_sharp_configuration_only_narrows_the_zero_loss_peak():
    """open-world-sharp = open-world-crystal-field with zero-loss peaks of 0.5-3 eV (the paper's 1-3 eV)."""
    sharp, cf = named_config("open-world-sharp"), named_config("open-world-crystal-field")
    assert sharp.zlp_fwhm_eV == (0.5, 3.0) and SimulationConfig().zlp_fwhm_eV == (1.0, 3.0)
    assert dataclasses.replace(sharp, zlp_fwhm_eV=cf.zlp_fwhm_eV) == cf
    assert cf.white_line_model == "crystal-field" and cf.lone_edge_fraction == 0.5


def test_mild_configuration_only_caps_the_generic_fine_structure():
    """open-world-mild = open-world-sharp whose generic fine structure peaks at most 1x the edge
    (Table 1's maximum scale: 10), before the depth factor."""
    mild, sharp = named_config("open-world-mild"), named_config("open-world-sharp")
    assert mild.fs_max_scale == 1.0 and SimulationConfig().fs_max_scale == 10.0
    assert dataclasses.replace(mild, fs_max_scale=sharp.fs_max_scale) == sharp
    assert mild.fs_depth == (0.1, 1.0) and not mild.fs_on_white_lines


def test_4f_configuration_only_changes_the_gos_source():
    """open-world-4f = open-world-mild with Ba M4,5's threshold resonance shared by the multiplet
    (eels_helpers.physics.threshold_resonance; tested in tests/physics/test_threshold_resonance.py)."""
    four_f, mild = named_config("open-world-4f"), named_config("open-world-mild")
    assert four_f.gos == "builtin+4f-multiplet" and mild.gos == SimulationConfig().gos == "auto"
    assert dataclasses.replace(four_f, gos=mild.gos) == mild


def test_implanted_gas_is_added_to_the_chosen_specimens_only():
    from eels_helpers.simulation.open_world import IMPLANTED_GASES, add_implanted_gas

    plain = [sp.Specimen(("Fe", "O"), (0.4, 0.6), "Fe")] * 400
    cfg = _only(implanted_gas_fraction=0.5, implanted_gas_atomic_fraction=(0.05, 0.1))
    out = add_implanted_gas(plain, cfg, np.random.default_rng(0))
    changed = [s for s in out if s.elements != ("Fe", "O")]
    assert 150 < len(changed) < 250
    assert {s.elements[-1] for s in changed} == set(IMPLANTED_GASES) and all(s.query == "Fe" for s in changed)
    x = np.array([s.fractions[-1] for s in changed])
    assert x.min() >= 0.05 and x.max() <= 0.1
    assert np.allclose([sum(s.fractions) for s in changed], 1.0)
    assert np.allclose([s.fractions[0] / s.fractions[1] for s in changed], 0.4 / 0.6)   # the matrix scaled
    gassy = [sp.Specimen(("Xe", "F"), (0.33, 0.67), "Xe")]
    assert add_implanted_gas(gassy, _only(implanted_gas_fraction=1.0), np.random.default_rng(0)) == gassy
    # off: nothing drawn, so every other configuration's spectra stay bit-identical
    gen = np.random.default_rng(1)
    state = gen.bit_generator.state
    assert add_implanted_gas(plain, _only(carbon_fraction=0.5), gen) == plain and gen.bit_generator.state == state


def test_gas_configuration_adds_labelled_noble_gases_and_changes_nothing_else(specimens):
    gas, auto = named_config("open-world-gas"), named_config("open-world-autoionisation")
    assert dataclasses.replace(gas, implanted_gas_fraction=0.0) == auto and gas.implanted_gas_fraction == 0.2
    no_gas = [s for s in specimens if not {"Ar", "Kr", "Xe"} & set(s.elements)][:48]
    batch = simulate_batch(no_gas, _only(implanted_gas_fraction=1.0, low_start_fraction=1.0), 7)
    labelled = batch.labels_identification.astype(bool)
    gases = [ELEMENTS.index(g) for g in ("Ar", "Kr", "Xe")]
    assert labelled[:, gases].any(axis=1).mean() > 0.3       # Ar L2,3 245 eV, Xe M4,5 672 eV, Kr L2,3 1675 eV
    off = simulate_batch(no_gas, _only(low_start_fraction=1.0), 7)
    assert not off.labels_identification[:, gases].any()


def test_gas_rich_configuration_only_widens_the_gas_fraction_and_labels_kr_by_its_m45():
    gas, rich = named_config("open-world-gas"), named_config("open-world-gas-rich")
    assert rich.implanted_gas_atomic_fraction == (0.02, 0.95)
    assert dataclasses.replace(rich, implanted_gas_atomic_fraction=gas.implanted_gas_atomic_fraction) == gas
    # a Kr-rich specimen recorded below Kr L2,3 (1675 eV): Kr is labelled through its M4,5 / M2,3
    # (94 / 215 eV, edges outside the 107 families), what the gas-phase Atlas Kr spectra show
    kr = [sp.Specimen(("Si", "Kr"), (0.2, 0.8), "Si")] * 48
    batch = simulate_batch(kr, _only(other_edges_fraction=1.0, low_start_fraction=1.0, labels="detectable"), 3)
    low = np.asarray(batch.params["end_eV"]) < 1600
    assert low.sum() >= 5
    assert batch.labels_identification[low, ELEMENTS.index("Kr")].all()


def test_gas_rydberg_configuration_only_adds_the_kr_lines_below_kr_m45():
    rich, ryd = named_config("open-world-gas-rich"), named_config("open-world-gas-rydberg")
    assert ryd.gos == rich.gos + "+rydberg"
    assert dataclasses.replace(ryd, gos=rich.gos) == rich
    # the same draw with and without the lines (eels_helpers.physics.rydberg_lines): the labels are equal, and
    # the expected counts gain the 3d -> np lines at 91-94 eV (true axis), in the Kr spectra only
    kr = [sp.Specimen(("Si", "Kr"), (0.2, 0.8), "Si")] * 24 + [sp.Specimen(("Fe", "O"), (0.4, 0.6), "Fe")] * 8
    opts = dict(other_edges_fraction=1.0, low_start_fraction=1.0, E0_keV=(200.0,))
    plain = simulate_batch(kr, _only(gos="builtin", **opts), 3, return_steps=True)
    lines = simulate_batch(kr, _only(gos="builtin+rydberg", **opts), 3, return_steps=True)
    np.testing.assert_array_equal(plain.labels_identification, lines.labels_identification)
    added = lines.steps["convolved"].astype(np.float64) - plain.steps["convolved"]
    changed = np.abs(added).max(axis=1) > 1e-3 * np.abs(plain.steps["convolved"]).max(axis=1)
    assert not changed[24:].any()                                  # no Kr, no lines
    near = np.asarray(plain.params["start_eV"][:24]) <= 110
    assert changed[:24][near].sum() >= 5
    # the lines and their plasmon replicas (the thicker the specimen the stronger) lie at 75-140 eV: 3d -> np at
    # 91-94 eV +- 5 eV of chemical shift and the zero-loss peak's width, replicas at multiples of 4-34 eV above
    rows = added[np.flatnonzero(changed)]
    assert (rows >= -1e-3 * rows.max(axis=1, keepdims=True)).all()
    share = rows[:, 75:140].sum(axis=1) / rows.sum(axis=1)
    assert share.min() > 0.8, share


def test_gas_phase_spectra_hold_one_noble_gas_alone():
    from eels_helpers.simulation.gas_phase import GAS_PHASE_GASES, gas_phase_spectra

    phase, ryd = named_config("open-world-gas-phase"), named_config("open-world-gas-rydberg")
    assert phase.gas_phase_fraction == 0.1 and dataclasses.replace(phase, gas_phase_fraction=0.0) == ryd
    # off: nothing drawn, so every other configuration's spectra stay bit-identical
    class Windows:
        start_eV = np.array([80, 95, 300])

        def __len__(self):
            return 3

    gen = np.random.default_rng(1)
    state = gen.bit_generator.state
    assert not gas_phase_spectra(Windows(), _only(low_start_fraction=1.0), gen).any()
    assert gen.bit_generator.state == state
    np.testing.assert_array_equal(gas_phase_spectra(Windows(), _only(gas_phase_fraction=1.0), gen), [1, 1, 0])
    specimens = [sp.Specimen(("Fe", "O"), (0.4, 0.6), "Fe")] * 64
    cfg = _only(gas_phase_fraction=1.0, low_start_fraction=0.5, other_edges_fraction=1.0, lone_edge_fraction=1.0,
                labels="detectable", E0_keV=(200.0,))
    out = simulate_batch(specimens, cfg, 11)
    gas = np.asarray(out.params["gas_phase"])
    start = np.asarray(out.params["start_eV"])
    np.testing.assert_array_equal(gas, start < 110)                 # every low start chosen at fraction 1
    assert gas.sum() >= 10 and (~gas).sum() >= 1
    labels = out.labels_identification.astype(bool)
    gas_index = [ELEMENTS.index(g) for g in GAS_PHASE_GASES]
    others = np.delete(labels, gas_index, axis=1)
    assert not others[gas].any()                                     # Fe and O gone, nothing else named
    # a gas is added where one has an edge near the window's start and no family in the window (Xe M4,5 at 672
    # eV and Kr L2,3 at 1675 eV lie in many Fe L windows: those stay edge-free), labelled where detectable
    assert labels[gas][:, gas_index].any(axis=1).sum() >= 5
    assert not labels[~gas][:, gas_index].any()
    assert labels[~gas, ELEMENTS.index("Fe")].all()
