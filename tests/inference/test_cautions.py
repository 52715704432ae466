"""Cautions for reported elements that the network commonly confuses (onset twins, neighbouring
lanthanides, W/Re/Ta...): which pairs get one, the edges it names, its compound prior, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support import write_msa

from eels_helpers.cli import main as cli_main
from eels_helpers.inference.cautions import co_occurrence, format_cautions, neighbour_cautions, prediction_cautions
from eels_helpers.inference.predict import Prediction
from eels_helpers.models import model_files
from eels_helpers.physics.elements import ELEMENTS, families_of
from eels_helpers.simulation.specimens import load_compositions
from eels_helpers.spectrum import Spectrum


def test_onset_twins_get_a_caution_naming_their_closest_edges():
    (c,) = neighbour_cautions(["Sc", "N", "O"], {"N": 0.92, "Sc": 0.99, "O": 1.0})
    assert c.elements == ("Sc", "N") and c.scores == (0.99, 0.92)      # higher score first
    n_k = families_of("N")[0].onset_of("K1")
    sc_l3 = next(f for f in families_of("Sc") if f.shell == "L").onset_of("L3")
    assert c.edges == (f"Sc L3 {sc_l3:.0f} eV", f"N K {n_k:.0f} eV")
    assert c.gap_eV == pytest.approx(abs(sc_l3 - n_k))
    text = format_cautions([c])
    assert text.startswith("  caution: Sc and N are commonly confused") and "p Sc 0.99, N 0.92" in text
    d = json.loads(json.dumps(c.to_dict()))
    assert d["elements"] == ["Sc", "N"] and d["message"] == c.message()


def test_unrelated_elements_and_a_single_element_get_none():
    assert neighbour_cautions(["Mn", "O"], {"Mn": 1.0, "O": 1.0}) == []
    assert neighbour_cautions(["Er"], {"Er": 1.0}) == []
    assert format_cautions([]) == ""


def test_neighbouring_lanthanides_and_groups_are_cautioned():
    cautions = neighbour_cautions(["Er", "Tm", "W", "Re"], {"Er": 0.9, "Tm": 0.8, "W": 0.7, "Re": 0.6})
    assert {c.elements for c in cautions} == {("Er", "Tm"), ("W", "Re")}
    assert [line[:19] for line in format_cautions(cautions).split("\n")] == ["  caution: Er and T", "  caution: W and Re"]


def test_the_window_picks_the_edges_that_are_measured():
    scores = {"Er": 0.9, "Tm": 0.8}
    (low,) = neighbour_cautions(["Er", "Tm"], scores, window_eV=(100.0, 400.0))
    (high,) = neighbour_cautions(["Er", "Tm"], scores, window_eV=(1300.0, 1600.0))
    assert all(" N" in e for e in low.edges) and all(" M" in e for e in high.edges)


def test_a_caution_names_the_edges_that_would_tell_the_two_apart():
    """Ba M4,5 (781/796 eV) and Co L2,3 (779/794 eV) share their onsets; Ba M3 (1062 eV) and M2
    tell them apart (D35: chapter 06's 400-1000 eV window ends before them). N K / Sc L2,3 have
    no such edge below 3100 eV (Sc L1 is a weak s-shell edge)."""
    from eels_helpers.inference.cautions import telling_edges
    from eels_helpers.inference.verification_rules import ONSET_NEIGHBOUR_EV

    ba_m3 = next(f for f in families_of("Ba") if f.shell == "M").onset_of("M3")
    (short,) = neighbour_cautions(["Ba", "Co"], {"Ba": 0.9, "Co": 0.95}, window_eV=(400.0, 1000.0))
    assert ("Ba M3", ba_m3, False) in short.telling and not any(inside for *_, inside in short.telling)
    assert "measured 400-1000 eV" in short.message() and f"Ba M3 {ba_m3:.0f} eV" in short.message()
    assert short.message().endswith(")") and "outside this window: Co M2,3 60 eV, Ba M3" in short.message()
    (long,) = neighbour_cautions(["Ba", "Co"], {"Ba": 0.9, "Co": 0.95}, window_eV=(400.0, 1200.0))
    assert ("Ba M3", ba_m3, True) in long.telling and all(inside for *_, inside in long.telling)
    assert "in the measured window: Ba M3" in long.message()
    for name, on, _ in telling_edges("Ba", "Co"):      # none within the onset tolerance of the other's
        other = "Co" if name.startswith("Ba") else "Ba"
        assert all(abs(on - o) > ONSET_NEIGHBOUR_EV for f in families_of(other) for o in f.onsets_eV)
    (twins,) = neighbour_cautions(["N", "Sc"], {"N": 0.9, "Sc": 0.8}, window_eV=(300.0, 600.0))
    assert twins.telling == () and "no other edge of either tells them apart" in twins.message()
    d = json.loads(json.dumps(short.to_dict()))
    assert {"edge": "Ba M3", "onset_eV": round(ba_m3, 1), "in_window": False} in d["telling"]
    assert d["window_eV"] == [400.0, 1000.0]


def test_a_missing_score_is_an_error_naming_the_element():
    with pytest.raises(ValueError, match="Sc"):
        neighbour_cautions(["N", "Sc"], {"N": 0.9})


def test_co_occurrence_is_the_share_of_the_rarer_elements_compounds():
    """Counted here from the formulas' element sets, independently of the presence matrix."""
    table = load_compositions()
    sets = [set(np.asarray(ELEMENTS)[row > 0]) for row in table.fractions]
    for a, b in (("N", "Sc"), ("F", "Xe"), ("Er", "Tm")):
        n_a, n_b = sum(a in s for s in sets), sum(b in s for s in sets)
        both = sum(a in s and b in s for s in sets)
        assert co_occurrence(a, b) == pytest.approx(both / min(n_a, n_b))
        assert co_occurrence(a, b) == co_occurrence(b, a)
    assert co_occurrence("F", "Xe") > 0.5          # xenon's compounds are mostly fluorides
    assert co_occurrence("N", "Sc") < 0.1


def _prediction(probs: dict, energy, navigation=()):
    p = np.zeros(navigation + (80,), np.float32)
    for s, v in probs.items():
        p[..., ELEMENTS.index(s)] = v
    frac = {s: float(np.mean(p[..., i] >= 0.5)) for i, s in enumerate(ELEMENTS)}
    spectrum = Spectrum(np.ones(navigation + (energy.size,), np.float32), energy)
    detected = tuple(s for s, v in sorted(probs.items(), key=lambda kv: -kv[1]) if v >= 0.5)
    return Prediction("x.msa", p, 0.5, detected, spectrum=spectrum,
                      pixel_fraction=frac if navigation else {})


def test_prediction_cautions_use_probabilities_or_pixel_fractions():
    energy = np.linspace(300.0, 700.0, 400)
    (c,) = prediction_cautions(_prediction({"N": 0.9, "Sc": 0.8, "O": 0.99}, energy))
    assert c.elements == ("N", "Sc") and c.score_name == "p" and c.scores == pytest.approx((0.9, 0.8))
    assert prediction_cautions(_prediction({"N": 0.9, "Sc": 0.8}, energy), elements=["N"]) == []
    (c,) = prediction_cautions(_prediction({"N": 0.9, "Sc": 0.8}, energy, navigation=(2, 3)))
    assert c.score_name == "pixel fraction" and c.scores == (1.0, 1.0)


@pytest.fixture(scope="module")
def n_and_sc(tmp_path_factory):
    """A tiny network whose answer is fixed (N 0.95, Sc 0.88) by its output bias, and a spectrum
    with an edge at 401 eV (so that the structure test lets it through)."""
    from eels_helpers.models import create_model

    net = create_model("mlp", hidden=[4]).eval()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.fill_(-10.0)
        net.head.bias[ELEMENTS.index("N")] = 3.0
        net.head.bias[ELEMENTS.index("Sc")] = 2.0
    tmp = tmp_path_factory.mktemp("n_sc")
    model_files.save_model(tmp / "n_sc.pt", net, architecture="mlp", options={"hidden": [4]}, threshold=0.5,
                           metadata={"trained_on": "nothing (test)", "steps": 0})
    energy = 350.0 + 0.5 * np.arange(800)
    counts = 1e5 * (energy / 350.0) ** -3 * (1 + 0.5 / (1 + np.exp(-(energy - 401.0))))
    return tmp / "n_sc.pt", energy, counts


def test_cli_predict_prints_and_writes_the_cautions(n_and_sc, tmp_path, capsys):
    path, energy, counts = n_and_sc
    write_msa(tmp_path / "bn.msa", energy, counts)
    assert cli_main(["predict", str(tmp_path / "bn.msa"), "--model", str(path), "--no-verify", "--keep-twins"]) == 0
    out = capsys.readouterr().out
    assert "caution: N and Sc are commonly confused (N K 401 eV and Sc L3 402 eV" in out
    assert cli_main(["predict", str(tmp_path / "bn.msa"), "--model", str(path), "--no-verify", "--keep-twins",
                     "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    (caution,) = result["cautions"]
    assert caution["elements"] == ["N", "Sc"] and caution["scores"] == pytest.approx([0.95, 0.88], abs=0.01)


def test_cli_map_prints_the_cautions_with_pixel_fractions(n_and_sc, tmp_path, capsys, monkeypatch):
    from eels_helpers.inference import mapping

    path, energy, counts = n_and_sc
    si = Spectrum(np.broadcast_to(counts.astype(np.float32), (3, 4, energy.size)).copy(), energy)
    monkeypatch.setattr(mapping, "read_map_input", lambda p: (si, None, None))
    assert cli_main(["map", "bn_si.dm4", "--out", str(tmp_path / "maps"), "--model", str(path),
                     "--no-quantify", "--keep-twins"]) == 0
    out = capsys.readouterr().out
    assert "caution: N and Sc are commonly confused" in out and "(pixel fraction N 1.00, Sc 1.00)" in out
    # by default the twin resolver keeps one twin per pixel (N, on this BN-like image): no caution left
    assert cli_main(["map", "bn_si.dm4", "--out", str(tmp_path / "maps2"), "--model", str(path),
                     "--no-quantify"]) == 0
    out = capsys.readouterr().out
    assert "twins with a resolver both above the threshold in 12 pixels" in out and "caution" not in out
    assert "kept (> 1 % of pixels at p >= 0.5): N\n" in out


def test_a_group_pair_whose_edges_lie_apart_names_edges_of_the_same_kind():
    """Cr/Fe (a NEIGHBOUR_GROUPS pair, not onset twins): the caution named Cr L2 584 eV beside Fe L3 708 eV
    as the confusable pair and then Cr L2 again as an edge only Cr has. Now: the L3 edges of both, and
    a check of each onset, without the telling-edges clause."""
    cr_l3 = next(f for f in families_of("Cr") if f.shell == "L").onset_of("L3")
    fe_l3 = next(f for f in families_of("Fe") if f.shell == "L").onset_of("L3")
    (c,) = neighbour_cautions(["Cr", "Fe"], {"Cr": 1.0, "Fe": 0.84}, window_eV=(440.0, 940.0))
    assert c.edges == (f"Cr L3 {cr_l3:.0f} eV", f"Fe L3 {fe_l3:.0f} eV") and c.gap_eV == pytest.approx(fe_l3 - cr_l3)
    text = c.message()
    assert "edges of the same kind" in text and "check that the spectrum shows an edge at each of these onsets" in text
    assert "only one of them has" not in text and text.count("Cr L2") == 0


def test_the_close_edges_are_named_even_outside_the_window_and_only_like_edges_are_same_kind():
    """A user's walk-through (session 52): in a 341-1364 eV window Be and La (neighbours through Be K
    111 eV / La N5 99 eV) were said to have "edges of the same kind, Be K 111 eV and La M5 832 eV"."""
    def message(elements, window):
        (caution,) = neighbour_cautions(elements, {elements[0]: 0.9, elements[1]: 0.8}, "p", window)
        return caution

    far = message(("Be", "La"), (341, 1364))
    assert far.edges == ("Be K 111 eV", "La N5 99 eV") and far.outside_window == ("Be K 111 eV", "La N5 99 eV")
    assert "Be K and La N5 outside the measured 341-1364 eV" in far.message() and "same kind" not in far.message()
    assert far.to_dict()["outside_window"] == ["Be K 111 eV", "La N5 99 eV"]
    half = message(("Be", "La"), (105, 1000))
    assert half.outside_window == ("La N5 99 eV",) and "; La N5 outside the measured 105-1000 eV" in half.message()
    inside = message(("Be", "La"), (80, 1000))
    assert inside.outside_window == () and "check which edge the spectrum shows" in inside.message()
    group = message(("Cr", "Fe"), (400, 900))             # a group pair: edges of the same kind, in the window
    assert "edges of the same kind, Cr L3 575 eV and Fe L3 708 eV" in group.message()
