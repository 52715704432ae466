"""The failure analysis: every mistake on real spectra grouped by cause (issue 15, point 1).

A synthetic manifest (a temporary folder of .msa spectra written here, one per cause) with fixed
probabilities, or a fake model returning fixed logits, exercises each rule; the shipped default
runs over the real spectra of ../shared when they are present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import write_msa

from eels_helpers.evaluation.failure_analysis import (
    CAUSES,
    FailureRules,
    analyse_failures,
    classify_mistakes,
    failure_table,
)
from eels_helpers.evaluation.failure_artefacts import detect_artefacts, note_artefacts
from eels_helpers.physics.elements import ELEMENTS, families_of

EXPERIMENTAL = Path("/work/shared/experimental")


def _spectrum(start, end, edges=(), peaks=(), step=None, zero_below=None):
    """Noise-free counts: a power law E^-3 plus edges (onset eV, jump) and peaks (centre eV,
    height over the background), optionally a gain step (eV, factor) and zeros below an energy."""
    energy = np.arange(start, end, 0.5)
    bg = 1e6 * (np.maximum(energy, 20.0) / 100.0) ** -3.0
    counts = bg.copy()
    for onset, jump in edges:
        counts += np.where(energy >= onset, jump * 1e6 * (onset / 100.0) ** -3.0 * (energy / onset) ** -3.0
                           * np.clip((energy - onset) / 3.0, 0.0, 1.0), 0.0)
    for centre, height in peaks:
        counts += height * np.interp(centre, energy, bg) * np.exp(-0.5 * ((energy - centre) / 12.0) ** 2)
    if step is not None:
        counts[energy >= step[0]] *= step[1]
    if zero_below is not None:
        counts = np.where(energy < zero_below, 0.0, counts - np.interp(zero_below, energy, bg))
    return energy, counts


#: file -> (labels, window and edges, notes, {(kind, element): expected cause})
CASES = {
    "al.msa": ("Al", dict(start=50, end=400, peaks=[(100, 1.0)]), "",
               {("FN", "Al"): "outside_families", ("FP", "La"): "outside_families"}),
    "noedge.msa": ("O", dict(start=100, end=300), "",
                   {("FN", "O"): "no_edge_in_window", ("FP", "B"): "no_edge_in_window"}),
    "lanthanide.msa": ("Er", dict(start=100, end=400, edges=[(168, 0.5)]), "",
                       {("FP", "Ho"): "neighbour_or_onset", ("FN", "Er"): "neighbour_or_onset"}),
    "carbon.msa": ("C;N", dict(start=200, end=700, edges=[(284, 0.5), (401, 0.5)]), "",
                   {("FP", "K"): "carbon_contamination"}),
    "low_start.msa": ("O", dict(start=50, end=600, edges=[(532, 0.5)]), "",
                      {("FP", "Be"): "low_start_region"}),
    "narrow.msa": ("Fe", dict(start=690, end=760, edges=[(708, 0.5)]), "",
                   {("FP", "Ag"): "narrow_or_background_subtracted"}),
    "bgsub.msa": ("N", dict(start=350, end=700, edges=[(401, 0.5)], zero_below=398), "background subtracted",
                  {("FP", "Ag"): "narrow_or_background_subtracted"}),
    "gain.msa": ("Fe;O", dict(start=300, end=1000, edges=[(532, 0.5), (708, 0.5)], step=(850, 4.0)),
                 "intensity step x4 at 850 eV (gain-change/splice artefact, not an edge)",
                 {("FP", "Ni"): "artefacts"}),
    "gain_words.msa": ("O", dict(start=300, end=1000, edges=[(532, 0.5)]), "gain step somewhere",
                       {("FP", "Mn"): "artefacts"}),
    "metals.msa": ("Fe;Ni;O", dict(start=400, end=1100, edges=[(532, 0.5), (708, 0.5), (855, 0.5)]), "",
                   {("FP", "Cu"): "several_transition_metals"}),
    "subshell.msa": ("Cr", dict(start=450, end=900, edges=[(575, 0.5)]), "",      # F K 685 / Cr L1 696 eV
                     {("FP", "F"): "true_element_subshell"}),
    "other.msa": ("O", dict(start=400, end=900, edges=[(532, 0.5)]), "", {("FP", "Mn"): "other"}),
}


def write_synthetic_set(folder: Path):
    """The synthetic manifest folder and its (n, 80) probabilities (true elements 0.9, false
    positives 0.8, false negatives and the rest 0.01)."""
    rows = ["file,elements,energy_offset_eV,notes"]
    probs = np.full((len(CASES), len(ELEMENTS)), 0.01)
    for i, (name, (labels, spec, notes, expected)) in enumerate(CASES.items()):
        energy, counts = _spectrum(**spec)
        write_msa(folder / name, energy, counts)
        rows.append(f'{name},{labels},0,"{notes}"')
        for el in labels.split(";"):
            probs[i, ELEMENTS.index(el)] = 0.9
        for (kind, el) in expected:
            probs[i, ELEMENTS.index(el)] = 0.8 if kind == "FP" else 0.01
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return probs


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from eels_helpers.evaluation.real_spectra import load_manifest

    folder = tmp_path_factory.mktemp("failures")
    probs = write_synthetic_set(folder)
    return folder, load_manifest(folder), probs


def test_each_cause_is_found_by_its_rule(synthetic):
    _, manifest, probs = synthetic
    mistakes = classify_mistakes(manifest, probs, 0.5)
    found = {(m.file, m.kind, m.element): m.cause for m in mistakes}
    expected = {(f, k, e): cause for f, (_, _, _, exp) in CASES.items() for (k, e), cause in exp.items()}
    assert found == expected
    assert {c.name for c in CAUSES} - set(found.values()) == set()   # every cause exercised
    assert all(m.reason for m in mistakes if m.cause != "other")
    cr_l1 = next(f for f in families_of("Cr") if f.shell == "L").onset_of("L1")
    assert next(m for m in mistakes if m.file == "subshell.msa").reason.endswith(f"near Cr L1 at {cr_l1:g} eV")
    al = next(m for m in mistakes if m.file == "al.msa" and m.element == "La")
    assert "Al L2,3 at 72.7 eV" in al.reason and al.probability == pytest.approx(0.8)


def test_failure_table_counts_every_group_in_rule_order(synthetic):
    _, manifest, probs = synthetic
    table = failure_table(classify_mistakes(manifest, probs, 0.5))
    assert list(table["cause"]) == [c.name for c in CAUSES]
    row = table.set_index("cause").loc["outside_families"]
    assert (row["false positives"], row["false negatives"], row["spectra"], row["files"]) == (1, 1, 1, "al.msa")
    assert table["false positives"].sum() == 12 and table["false negatives"].sum() == 3
    assert table.set_index("cause").loc["narrow_or_background_subtracted", "files"] == "narrow.msa; bgsub.msa"
    assert (table["alone"] == table["spectra"]).all()      # one cause per file here


def test_alone_counts_the_files_whose_every_mistake_has_that_cause():
    from eels_helpers.evaluation.failure_analysis import Mistake

    mistakes = [Mistake(0, "a", "FP", "Sc", 0.9, "neighbour_or_onset", ""),
                Mistake(0, "a", "FP", "Ho", 0.8, "neighbour_or_onset", ""),      # a: one cause, twice
                Mistake(1, "b", "FP", "Sc", 0.9, "neighbour_or_onset", ""),
                Mistake(1, "b", "FN", "Kr", 0.0, "outside_families", ""),        # b: two causes
                Mistake(2, "c", "FP", "Cu", 0.9, "other", "")]
    table = failure_table(mistakes).set_index("cause")
    assert table.loc["neighbour_or_onset", ["spectra", "alone"]].tolist() == [2, 1]
    assert table.loc["outside_families", ["spectra", "alone"]].tolist() == [1, 0]
    assert table.loc["other", ["spectra", "alone"]].tolist() == [1, 1]
    assert table["alone"].sum() == 2


def test_carbon_is_left_out_and_bad_input_is_refused(synthetic):
    _, manifest, probs = synthetic
    p = probs.copy()
    p[:, ELEMENTS.index("C")] = 0.99              # carbon everywhere: never a mistake
    assert all(m.element != "C" for m in classify_mistakes(manifest, p, 0.5))
    with pytest.raises(ValueError, match=r"probabilities must have shape \(12, 80\)"):
        classify_mistakes(manifest, probs[:3], 0.5)
    with pytest.raises(ValueError, match="threshold must be a probability in"):
        classify_mistakes(manifest, probs, 1.5)


def test_rules_are_validated_and_change_the_outcome(synthetic):
    _, manifest, probs = synthetic
    with pytest.raises(ValueError, match=r"FailureRules.onset_tolerance_eV \(eV\)"):
        FailureRules(onset_tolerance_eV=-1)
    with pytest.raises(ValueError, match="lanthanide_dz"):
        FailureRules(lanthanide_dz=0)
    with pytest.raises(ValueError, match="pre_edge_fraction"):
        FailureRules(pre_edge_fraction=2)
    # a narrower window criterion: the 70 eV window is no longer "narrow", nothing else explains it
    loose = classify_mistakes(manifest, probs, 0.5, rules=FailureRules(narrow_window_eV=50))
    assert next(m for m in loose if m.file == "narrow.msa").cause == "other"


def test_note_artefacts_reads_positions_and_words():
    notes = ("intensity step x2.3e+02 at 564 eV (gain-change/splice artefact, not an edge) | last 20 channels "
             "dead/zero (from 447 eV) | first 11 channels ~zero (up to 324 eV) | strong drop >2280 eV")
    assert note_artefacts(notes) == [("gain_step", 564.0), ("gain_step", 2280.0), ("dead_channels", 447.0),
                                     ("leading_zeros", 324.0)]
    assert note_artefacts("saturated ZLP; a few spikes") == [("spikes", None), ("saturation", None)]
    assert note_artefacts("gain step") == [("gain_step", None)]
    assert note_artefacts("") == [] and note_artefacts(None) == []


def test_detect_artefacts_finds_steps_dead_and_leading_zeros_not_edges_or_noise():
    energy = np.arange(200.0, 800.0, 1.0)
    counts = 1e5 * (energy / 200.0) ** -3
    counts[energy >= 401] *= 1.8                         # an edge: not a step
    counts[energy >= 600] *= 5.0                         # a gain step
    counts[(energy >= 650) & (energy < 653)] = 0.0       # dead channels
    counts[energy < 220] = 0.0                           # zero channels at the start
    found = detect_artefacts(energy, counts, edges_eV=[401.0])
    kinds = {(k, round(p)) for k, p in found}
    assert ("leading_zeros", 220) in kinds and ("dead_channels", 650) in kinds
    assert any(k == "gain_step" and 594 <= p <= 600 for k, p in found)
    assert not any(k == "gain_step" and 380 <= p <= 420 for k, p in found)
    noisy = np.random.default_rng(0).poisson(0.5, energy.size).astype(float)   # a near-zero noisy region
    assert detect_artefacts(energy, noisy) == []
    with pytest.raises(ValueError, match="same length"):
        detect_artefacts(energy, counts[:-1])


class FixedLogits:
    """A fake network: returns fixed logits, one row per spectrum in manifest order."""

    def __new__(cls, probabilities):
        import torch

        class _Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                p = np.clip(probabilities, 1e-6, 1 - 1e-6)
                self.register_buffer("logits", torch.tensor(np.log(p / (1 - p)), dtype=torch.float32))

            def forward(self, x):
                assert x.shape[0] == self.logits.shape[0], "the fake network expects the whole manifest at once"
                return self.logits

        return _Net()


def test_analyse_failures_with_a_fake_model_and_the_figures(synthetic, tmp_path):
    import matplotlib.pyplot as plt

    from eels_helpers.evaluation.failure_figures import (
        plot_failure_group,
        save_failure_figures,
        simulate_like,
        training_white_lines,
    )

    folder, _, probs = synthetic
    analysis = analyse_failures(FixedLogits(probs), folder, threshold=0.5, keep_twins=True,
                                allow_radioactive=True)                                   # the network alone
    decided = analyse_failures(FixedLogits(probs), folder, threshold=0.5)   # as predict: carbon.msa's K dropped
    assert [(f, d.pair, d.dropped) for f, d in decided.twins] == [("carbon.msa", ("C", "K"), "K")]
    assert analysis.threshold == 0.5 and analysis.inputs.shape == (len(CASES), 3072)
    assert np.allclose(analysis.probabilities, probs, atol=1e-4)
    assert {m.cause for m in analysis.mistakes} == {c.name for c in CAUSES}
    data = analysis.to_dict()
    assert data["spectra"] == len(CASES) and len(data["mistakes"]) == sum(len(c[3]) for c in CASES.values())
    assert data["exact_matches"] == analysis.exact_matches == len(CASES) - len({m.file for m in analysis.mistakes})
    assert all(g["alone"] == len(g["files"]) for g in data["groups"])
    assert {g["cause"]: g["files"] for g in data["groups"]}["artefacts"] == ["gain.msa", "gain_words.msa"]

    sims, text = simulate_like(("Fe", "O"), (300.0, 1000.0), n=2, seed=1)
    assert sims.shape == (2, 3072) and "simulated" in text
    assert np.allclose(sims.max(axis=1), 1.0) and not sims[:, :300].any() and not sims[:, 1001:].any()
    again, _ = simulate_like(("Fe", "O"), (300.0, 1000.0), n=2, seed=1)
    assert np.array_equal(sims, again)                   # seeded
    none, why = simulate_like(("O",), (100.0, 300.0))
    assert none.shape == (0, 3072) and "no edge family" in why
    # a model trained with white lines is shown spectra with them: Fe L3 rises above the plain edge
    lines, text = simulate_like(("Fe", "O"), (300.0, 1000.0), n=2, seed=1, white_lines=True)
    assert "white lines" in text and lines.shape == sims.shape and not np.array_equal(lines, sims)
    assert not training_white_lines(analysis)                    # a bare network: no runs
    analysis.runs = [{"simulation": "open-world"}]
    assert training_white_lines(analysis)
    analysis.runs = [{"simulation": "paper"}]
    assert not training_white_lines(analysis)

    fig = plot_failure_group(analysis, "several_transition_metals", n_spectra=2, n_simulated=1)
    assert len(fig.axes) == 1 and "metals.msa" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="cause must be one of"):
        plot_failure_group(analysis, "gremlins")
    empty = analysis.mistakes
    analysis.mistakes = [m for m in empty if m.cause != "other"]
    assert plot_failure_group(analysis, "other") is None
    analysis.mistakes = empty

    paths = save_failure_figures(analysis, tmp_path / "figs", n_spectra=1, n_simulated=1)
    assert len(paths) == len(CAUSES) and all(p.stat().st_size > 1000 for p in paths)
    assert not list((tmp_path / "figs").glob("*.tmp*"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        save_failure_figures(analysis, tmp_path / "file")


def test_analyse_failures_withholds_elements_without_a_stable_isotope(synthetic):
    """As predict decides, a Pm the network puts beside every spectrum is withheld (probability 0,
    no mistake); ``allow_radioactive`` scores it (a false positive in every file)."""
    folder, _, probs = synthetic
    with_pm = probs.copy()
    with_pm[:, ELEMENTS.index("Pm")] = 0.95
    decided = analyse_failures(FixedLogits(with_pm), folder, threshold=0.5, keep_twins=True)
    assert not decided.probabilities[:, ELEMENTS.index("Pm")].any()
    assert not any(m.element == "Pm" for m in decided.mistakes)
    allowed = analyse_failures(FixedLogits(with_pm), folder, threshold=0.5, keep_twins=True, allow_radioactive=True)
    assert sum(m.element == "Pm" and m.kind == "FP" for m in allowed.mistakes) == len(CASES)


@pytest.mark.skipif(not (EXPERIMENTAL / "manifest.csv").is_file(), reason="../shared/experimental is absent")
def test_shipped_default_on_the_real_spectra():
    from eels_helpers.evaluation.metrics import evaluate
    from eels_helpers.evaluation.real_spectra import label_matrix

    analysis = analyse_failures("default", EXPERIMENTAL)
    labels = label_matrix(analysis.manifest["labels"])
    scores = evaluate(labels, analysis.probabilities, analysis.threshold, exclude_carbon=True).as_dict()
    table = analysis.table
    n_fp, n_fn = int(table["false positives"].sum()), int(table["false negatives"].sum())
    scored = np.array([s != "C" for s in ELEMENTS])
    reported = (analysis.probabilities >= analysis.threshold) & scored
    truth = (labels > 0.5) & scored
    assert n_fp == int((reported & ~truth).sum()) and n_fn == int((truth & ~reported).sum())
    assert n_fp + n_fn > 0
    # the spectra without a mistake are exactly the metrics' exact matches
    n_wrong = len({m.row for m in analysis.mistakes})
    assert n_wrong == round((1.0 - scores["emr"]) * len(analysis.manifest))
    assert table.set_index("cause").loc["neighbour_or_onset", "false positives"] > 0
    assert table.set_index("cause").loc["outside_families", "files"].count("atlas_Kr_") >= 2
    # as predict decides: the reported twins of shipped resolvers are resolved (BN, AlN, N2 keep N;
    # the lanthanide pairs on lanthanide oxides), the dropped twin's probability is 0, and the JSON
    # lists every decision
    from eels_helpers.inference.twin_resolution import load_twin_resolvers

    assert analysis.twins and all(d.pair in load_twin_resolvers() for _, d in analysis.twins)
    lanthanide_oxide = ("atlas_Ho", "atlas_Er", "atlas_Tb", "atlas_Dy", "atlas_Tm", "atlas_Yb")
    presence = {("C", "K"), ("B", "Cl")}
    assert all("N" in d.pair or f.startswith(lanthanide_oxide) or d.pair in presence for f, d in analysis.twins)
    # the presence resolvers (C/K, K27; B/Cl, P28) drop the second element only, and only where it is not in
    # the specimen (KBr, KCl keep their K)
    labels = dict(zip(analysis.manifest["file"], analysis.manifest["labels"]))
    assert all(d.dropped == d.pair[1] and d.pair[1] not in labels[f] for f, d in analysis.twins if d.pair in presence)
    rows = {f: i for i, f in enumerate(analysis.manifest["file"])}
    P, t = analysis.probabilities, analysis.threshold
    assert all(P[rows[f], ELEMENTS.index(d.dropped)] == 0.0 for f, d in analysis.twins if not d.swapped)
    # a swap (T28) exchanges the twins' probabilities: the kept one is now above the threshold
    assert all(P[rows[f], ELEMENTS.index(d.kept)] >= t > P[rows[f], ELEMENTS.index(d.dropped)]
               for f, d in analysis.twins if d.swapped)
    assert [t["file"] for t in analysis.to_dict()["twins"]] == [f for f, _ in analysis.twins]
    assert sum(d.kept == "N" for f, d in analysis.twins if "BN" in f or "AlN" in f or "N2" in f) >= 8
