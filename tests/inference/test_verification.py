"""Verified identification: candidates confirmed or rejected by a model fit of spectra built here
from cross sections, a power law and Poisson noise (known truth), and the bad-input messages."""

import json
import math
import re

import numpy as np
import pytest

from eels_helpers.inference.verification import VerifyConfig, verify
from eels_helpers.inference.verification_rules import (
    DecisionRule,
    candidates_from_probabilities,
    decide,
    format_verification,
    neighbours_of,
)
from eels_helpers.physics.cross_section import dsigma_dE
from eels_helpers.physics.elements import ELEMENTS
from eels_helpers.physics.gos_tables import builtin_available, resolve_gos
from eels_helpers.spectrum import Spectrum

GOS = resolve_gos("auto")
GEOM = dict(E0_keV=200.0, alpha_mrad=10.0, beta_mrad=30.0)
META = {"beam_energy_keV": 200.0, "convergence_angle_mrad": 10.0, "collection_angle_mrad": 30.0}


def _spectrum(edges, jumps, *, E=None, shift_eV=0.0, bg=2e5, r=3.0, seed=0, scale=1.0):
    """Poisson counts: bg (E/E0)^-r + for each edge family a signal whose maximum is
    ``jump`` counts per channel, its onset moved by ``shift_eV``."""
    E = np.arange(400.0, 1000.0, 0.5) if E is None else E
    sig = dsigma_dE(edges, E - shift_eV, gos=GOS, **GEOM)[0]
    mu = bg * (E / E[0]) ** -r
    for s, j in zip(sig, jumps):
        mu = mu + j * s / s.max()
    y = np.random.default_rng(seed).poisson(mu).astype(np.float64) * scale
    return Spectrum(y.astype(np.float32), E, dict(META), None)


def test_present_elements_confirmed_absent_neighbours_rejected():
    sp = _spectrum(["Fe L", "O K"], [1e4, 3e4])
    cand = {"Fe": 0.9, "O": 0.95, "Mn": 0.6, "Cr": 0.2, "Co": 0.1}
    res = verify(sp, cand, threshold=0.5)
    ev = res.evidence
    assert set(res.verified) == {"Fe", "O"}
    assert ev["Fe"].significance > 20 and ev["O"].significance > 20
    assert ev["Fe"].fit_improvement > 100
    for el in ("Mn", "Cr", "Co"):
        assert ev[el].verified is False and ev[el].reason
        assert ev[el].significance < 3
    assert any("Fe L3" in e for e in ev["Fe"].edges_in_window)
    assert res.rejected.keys() == {"Mn", "Cr", "Co"}
    # the fitted model describes the data: chi2 per degree of freedom near 1
    assert 0.7 < res.chi2_reduced < 3.0
    assert res.model.shape == res.data.shape == res.energy_eV.shape == res.background.shape
    assert set(res.contributions) == set(cand)
    # the evidence in counts: the Fe signal within 15 % of the counts put in
    E = res.energy_eV
    true = dsigma_dE("Fe L", np.arange(400.0, 1000.0, 0.5), gos=GOS, **GEOM)[0, 0]
    true_counts = 1e4 * float(np.sum(true / true.max()))
    assert ev["Fe"].signal_counts == pytest.approx(true_counts, rel=0.15)
    assert E[0] >= 400.0 and E[-1] <= 1000.0


def test_onset_shift_found():
    sp = _spectrum(["Fe L", "O K"], [1e4, 3e4], shift_eV=4.0, seed=1)
    res = verify(sp, ["Fe", "O"], VerifyConfig(shifts_eV=tuple(np.arange(-8.0, 9.0, 1.0))))
    assert res.evidence["Fe"].shift_eV == pytest.approx(4.0, abs=1.0)
    assert res.evidence["O"].shift_eV == pytest.approx(4.0, abs=1.0)


@pytest.mark.skipif(not builtin_available(), reason="the shipped GOS table (M edges) is absent")
def test_lanthanide_neighbours_resolved_by_onset_and_shape():
    E = np.arange(700.0, 1100.0, 0.5)
    sp = _spectrum(["La M", "O K"], [2e4, 2e4], E=np.arange(450.0, 1100.0, 0.5), seed=2)
    assert E[0] > 0
    # the hand-set rule decides by the evidence (the fitted rules of the shipped networks weigh the
    # network's probability most, and p = 0.7 is near their thresholds)
    res = verify(sp, {"La": 0.7, "Ba": 0.6, "Ce": 0.6, "O": 0.9}, rule=DecisionRule(), threshold=0.5)
    assert "La" in res.verified and "O" in res.verified
    assert res.evidence["Ba"].verified is False and res.evidence["Ce"].verified is False
    assert res.evidence["La"].fit_improvement > 10 * max(res.evidence["Ba"].fit_improvement,
                                                         res.evidence["Ce"].fit_improvement)


def test_uncertainty_matches_scatter_of_repeated_noise():
    signals, uncs = [], []
    for seed in range(16):
        sp = _spectrum(["Fe L"], [600.0], seed=100 + seed, bg=5e4)
        ev = verify(sp, ["Fe"], VerifyConfig(shifts_eV=(0.0,))).evidence["Fe"]
        signals.append(ev.signal_counts), uncs.append(ev.uncertainty_counts)
    scatter, typical = float(np.std(signals, ddof=1)), float(np.median(uncs))
    assert 0.5 < scatter / typical < 2.0


def test_significance_does_not_depend_on_units():
    sp = _spectrum(["Fe L", "O K"], [3e3, 1e4], seed=3)
    scaled = Spectrum(sp.data * 1e-3, sp.energy_eV, sp.metadata)
    a = verify(sp, ["Fe", "O", "Mn"]).evidence
    b = verify(scaled, ["Fe", "O", "Mn"]).evidence
    for el in a:
        assert b[el].significance == pytest.approx(a[el].significance, rel=1e-3, abs=1e-3)
        assert b[el].signal_counts == pytest.approx(1e-3 * a[el].signal_counts, rel=1e-3, abs=1e-3)


def test_microscope_from_metadata_given_or_default():
    sp = _spectrum(["O K"], [1e4], seed=4)
    res = verify(sp, ["O"])
    assert res.microscope["source"] == {"E0_keV": "metadata", "alpha_mrad": "metadata",
                                        "beta_mrad": "metadata"}
    bare = Spectrum(sp.data, sp.energy_eV, {})
    res = verify(bare, ["O"], VerifyConfig(E0_keV=300.0))
    assert res.microscope["E0_keV"] == 300.0 and res.microscope["source"]["E0_keV"] == "given"
    assert res.microscope["beta_mrad"] == 30.0 and res.microscope["source"]["beta_mrad"] == "default"


def test_candidate_without_edge_in_window_says_so():
    sp = _spectrum(["Fe L", "O K"], [1e4, 3e4], seed=5)
    res = verify(sp, {"Fe": 0.9, "O": 0.9, "C": 0.7, "W": 0.2}, rule=DecisionRule())   # hand-set rule
    for el, net in (("C", True), ("W", False)):
        ev = res.evidence[el]
        assert ev.status == "no edge in window" and math.isnan(ev.significance)
        assert ev.verified is net and "cannot be tested" in ev.reason
        assert ev.edges_outside and not ev.edges_in_window
        lo, hi = res.onset_window_eV       # the fitted window less its end margin: narrower than the file's
        assert lo == res.window_eV[0] and hi < res.window_eV[1]
        assert f"no edge onset in {lo:.0f}-{hi:.0f} eV, where the fit tests them ({ev.edges_outside[0]}" in ev.reason
    # nothing at all in the window: a result that says why, not an error
    res = verify(sp, {"W": 0.9, "C": 0.2}, rule=DecisionRule())
    assert "no candidate has an edge in the window" in res.message
    assert res.evidence["W"].verified is True and res.evidence["C"].verified is False
    assert "verification:" in format_verification(res)


def test_bad_inputs_named():
    sp = _spectrum(["O K"], [1e4], seed=6)
    with pytest.raises(ValueError, match="at least one candidate"):
        verify(sp, [])
    with pytest.raises(ValueError, match="Xx"):
        verify(sp, ["O", "Xx"])
    short = Spectrum(sp.data[:20], sp.energy_eV[:20], {})
    with pytest.raises(ValueError, match="fit window .* bins"):
        verify(short, ["O"])
    nan = Spectrum(np.where(np.arange(sp.n_channels) == 3, np.nan, sp.data), sp.energy_eV, {})
    with pytest.raises(ValueError, match="NaN"):
        verify(nan, ["O"])
    with pytest.raises(ValueError, match="beta"):
        VerifyConfig(beta_mrad=-1.0)
    for name in ("E0_keV", "beta_mrad"):              # 0 is a value out of range, not "absent" (U38)
        with pytest.raises(ValueError, match=name):
            VerifyConfig(**{name: 0.0})
    with pytest.raises(ValueError, match="shifts_eV"):
        VerifyConfig(shifts_eV=(50.0,))
    with pytest.raises(ValueError, match="near_onset_eV"):
        VerifyConfig(near_onset_eV=100.0)
    with pytest.raises(ValueError, match="threshold"):
        verify(sp, ["O"], threshold=1.5)
    with pytest.raises(ValueError, match="min_edge_fraction"):
        DecisionRule(min_edge_fraction=2.0)


def test_neighbour_sets_and_candidates():
    assert {"Re", "Ta", "Os", "Ir", "Pt"} <= set(neighbours_of("W"))
    assert set(neighbours_of("Mn")) == {"Cr", "Fe"}
    assert {"La", "Pr", "Nd", "Ba"} <= set(neighbours_of("Ce"))
    assert "Sm" not in neighbours_of("Ce") and "Ce" not in neighbours_of("Ce")
    assert neighbours_of("O") == ("Sb",)              # onset neighbours: O K 532 / Sb M5 528 eV
    assert "Sc" in neighbours_of("N") and "N" in neighbours_of("Sc") and "K" in neighbours_of("C")
    assert "Fe" not in neighbours_of("O")
    with pytest.raises(ValueError, match="Xx"):
        neighbours_of("Xx")
    p = np.zeros(80)
    p[ELEMENTS.index("W")], p[ELEMENTS.index("O")], p[ELEMENTS.index("N")] = 0.9, 0.6, 0.01
    cand = candidates_from_probabilities(p, 0.05)
    assert list(cand)[:2] == ["W", "O"] and "N" not in cand and "Re" in cand
    assert list(candidates_from_probabilities(p, 0.05, neighbours=False)) == ["W", "O"]
    with pytest.raises(ValueError, match="80"):
        candidates_from_probabilities(np.zeros(5))


def test_rejected_high_probability_and_json():
    sp = _spectrum(["O K"], [3e4], seed=7)
    res = verify(sp, {"O": 0.95, "Fe": 0.97}, threshold=0.5, rule=DecisionRule())   # hand-set rule
    assert res.verified == ("O",)
    assert "no significant edge" in res.rejected["Fe"]
    d = json.loads(json.dumps(res.to_dict()))
    assert d["verified"] == ["O"] and d["evidence"]["Fe"]["verified"] is False
    assert set(d["evidence"]["O"]) >= {"signal_counts", "uncertainty_counts", "significance",
                                       "fit_improvement", "shift_eV", "edges_in_window", "reason"}
    # a rule where only the network's probability counts changes the decision in place
    decide(res, DecisionRule(a_f=0.0, a_0=0.0, min_edge_fraction=0.0, min_significance=0.0), threshold=0.5)
    assert set(res.verified) == {"O", "Fe"}
    text = format_verification(res)
    assert "Fe" in text and "O" in text and "chi2/dof" in text


def test_regions_of_a_spectrum_image_and_plot(tmp_path):
    from eels_helpers.inference.verification_figures import plot_verifications
    from eels_helpers.inference.verification_rules import verify_regions

    left = _spectrum(["Fe L", "O K"], [4e3, 1e4], seed=8, bg=5e4).data
    right = _spectrum(["O K"], [1e4], seed=9, bg=5e4).data
    data = np.stack([np.stack([left, left, right, right])] * 2)        # (2, 4, C)
    si = Spectrum(data, np.arange(400.0, 1000.0, 0.5), dict(META))
    probs = np.zeros((2, 4, 80))
    probs[..., ELEMENTS.index("O")] = 0.9
    probs[:, :2, ELEMENTS.index("Fe")] = 0.8
    out = verify_regions(si, probs, 0.5, blocks=2)
    assert set(out["verified"]) == {"Fe", "O"} and len(out["regions"]) == 4
    right_blocks = [r for sl, r in out["regions"] if sl[1].start >= 2]
    assert all(r.verified == ("O",) for r in right_blocks)
    with pytest.raises(ValueError, match="navigation"):
        verify_regions(Spectrum(left, si.energy_eV), probs[0, 0], 0.5)
    with pytest.raises(ValueError, match="probabilities shape"):
        verify_regions(si, probs[:, :3], 0.5)
    png = plot_verifications([out["summed"]], tmp_path / "v.png", ["summed"])
    assert png.stat().st_size > 10_000
    with pytest.raises(ValueError, match="no verification result"):
        plot_verifications([], tmp_path / "w.png")


def test_cli_predict_verify_text_json_plot(tmp_path, capsys):
    from eels_helpers.cli import main as cli_main

    sp = _spectrum(["Fe L", "O K"], [1e4, 3e4], seed=10)
    path = tmp_path / "feo.csv"
    np.savetxt(path, np.column_stack([sp.energy_eV, sp.data]), delimiter=",", header="energy_eV,counts")
    rc = cli_main(["predict", str(path), "--model", "default", "--verify", "--json",
                   "--plot", str(tmp_path / "v.png"), "--device", "cpu"])
    assert rc == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    v = result["verification"]
    assert set(v["verified"]) <= set(v["evidence"]) and v["evidence"]
    for ev in v["evidence"].values():
        assert ev["reason"] and ev["verified"] in (True, False)
    assert "Fe" in v["evidence"] and v["evidence"]["Fe"]["significance"] > 10
    assert (tmp_path / "v.png").stat().st_size > 10_000
    rc = cli_main(["predict", str(path), "--model", "default", "--verify", "--device", "cpu"])
    out = capsys.readouterr().out
    assert rc == 0 and "verified:" in out and "chi2/dof" in out
    rc = cli_main(["predict", str(path), "--model", "default", "--verify", "--beta", "-3"])
    assert rc == 2 and "beta" in capsys.readouterr().err


def test_cli_predict_verifies_by_default_only_where_validation_shows_it_helps(tmp_path, capsys, monkeypatch):
    """Without --verify/--no-verify, `eels-id predict` verifies when the model's rule records a grouped CV
    on real spectra where verification helped, and says so; otherwise the network alone."""
    from eels_helpers.cli import main as cli_main
    from eels_helpers.inference import verification_model as vm

    rules = json.loads(vm.RULES_FILE.read_text())
    entry = rules["rules"]["default"]
    sp = _spectrum(["Fe L", "O K"], [1e4, 3e4], seed=10)
    path = tmp_path / "feo.csv"
    np.savetxt(path, np.column_stack([sp.energy_eV, sp.data]), delimiter=",", header="energy_eV,counts")
    for helps in (True, False):
        net, ver = (0.80, 0.40), ((0.85, 0.50) if helps else (0.79, 0.50))
        entry["provenance"]["real_grouped_cv"] = {
            "spectra": 94, "splits": 5, "network": {"threshold": 0.6, "f1": net[0], "exact_match": net[1]},
            "verified": {"threshold": 0.3, "f1": ver[0], "exact_match": ver[1]}}
        rules_file = tmp_path / f"rules_{helps}.json"
        rules_file.write_text(json.dumps(rules))
        monkeypatch.setattr(vm, "RULES_FILE", rules_file)
        assert cli_main(["predict", str(path), "--model", "default", "--json", "--device", "cpu"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["verification"]["on"] is helps and out["verification"]["by_default"] is True
        assert "0.800 -> " in out["verification"]["why"]
        assert ("verification" in out["results"][0]) is helps
        if helps:
            assert "Fe" in out["results"][0]["verification"]["verified"]
            assert cli_main(["predict", str(path), "--model", "default", "--device", "cpu"]) == 0
            text = capsys.readouterr().out
            assert "verified:" in text and "verified by default" in text and "--no-verify" in text
            assert "p=0.00" not in text             # neighbours below the candidate threshold are counted, not listed
            assert cli_main(["predict", str(path), "--model", "default", "--no-verify", "--json"]) == 0
            out = json.loads(capsys.readouterr().out)
            assert out["verification"] == {"on": False, "by_default": False}
            assert "verification" not in out["results"][0]


def test_cli_verify_uses_the_rule_fitted_for_the_model(tmp_path, capsys, caplog, monkeypatch):
    from eels_helpers.cli import main as cli_main
    from eels_helpers.inference import verification_rules

    seen = []
    real = verification_rules.DecisionRule

    def spy(*args, **kwargs):
        seen.append(kwargs.get("model"))
        return real(*args, **kwargs)

    monkeypatch.setattr(verification_rules, "DecisionRule", spy)
    sp = _spectrum(["Fe L", "O K"], [1e4, 3e4], seed=10)
    path = tmp_path / "feo.csv"
    np.savetxt(path, np.column_stack([sp.energy_eV, sp.data]), delimiter=",", header="energy_eV,counts")
    assert cli_main(["predict", str(path), "--model", "ensemble", "--verify", "--device", "cpu"]) == 0
    assert seen == ["ensemble"]          # ensemble has a fitted rule: no fallback warning
    text = capsys.readouterr().out       # asked for, too: the neighbours below the candidate threshold in one line
    assert "more (neighbours tested, p < 0.05)" in text and not re.search(r"p=0\.0[0-4]", text)
    assert "no verification rule fitted" not in caplog.text
    assert cli_main(["predict", str(path), "--model", "ensemble-paper", "--verify", "--device", "cpu"]) == 0
    assert seen == ["ensemble", "ensemble-paper"]
    assert "no verification rule fitted for model 'ensemble-paper'" in caplog.text


def test_conditional_uncertainty_holds_only_the_neighbours_at_their_fitted_amplitudes():
    """O K and Sb M4,5 (528 / 532 eV) are fitted together; with ``conditional_uncertainty`` the
    uncertainty of each twin is the one with the other's amplitude held (never larger than the
    joint one), while signals, fit improvements and a candidate without a neighbour (Fe) are
    unchanged."""
    sp = _spectrum(["O K", "Fe L"], [3e4, 1e4], seed=5)
    cand = {"O": 0.9, "Sb": 0.4, "Fe": 0.9}
    joint = verify(sp, cand, VerifyConfig(conditional_uncertainty=False)).evidence
    held = verify(sp, cand, VerifyConfig(conditional_uncertainty=True)).evidence
    for el in cand:
        assert held[el].signal_counts == pytest.approx(joint[el].signal_counts, rel=1e-9)
        assert held[el].fit_improvement == pytest.approx(joint[el].fit_improvement, rel=1e-9)
    for el in ("O", "Sb"):
        assert held[el].uncertainty_counts < 0.9 * joint[el].uncertainty_counts
        assert held[el].significance > joint[el].significance
    assert held["Fe"].uncertainty_counts == pytest.approx(joint["Fe"].uncertainty_counts, rel=1e-9)
    # the twin that is absent stays insignificant next to the present one
    assert held["Sb"].significance < 0.05 * held["O"].significance
    with pytest.raises(ValueError, match="conditional_uncertainty must be a bool"):
        VerifyConfig(conditional_uncertainty="yes")


@pytest.mark.skipif(not builtin_available(), reason="the numbers were computed with the shipped GOS table")
def test_white_lines_off_reproduces_the_fit_before_the_option():
    """Numbers of verify() computed with the code before white lines existed (commit 8f781bf)."""
    E = np.arange(400.0, 1000.0, 0.5)
    s = dsigma_dE(["Fe L", "O K"], E, **GEOM)[0]
    mu = 2e5 * (E / 400.0) ** -3.0 + 1e4 * s[0] / s[0].max() + 3e4 * s[1] / s[1].max()
    sp = Spectrum(np.random.default_rng(0).poisson(mu).astype(np.float64), E, dict(META), None)
    res = verify(sp, {"Fe": 0.9, "O": 0.95, "Mn": 0.3, "Ba": 0.06}, VerifyConfig(white_lines=False))
    assert res.chi2_reduced == pytest.approx(1.5913197247321722, rel=1e-9)
    before = {"Fe": (3788352.488033214, 236.9861277628386, 56378.668384577024, 0.0),
              "O": (6760476.45311104, 355.0009688617607, 132869.4716639405, 0.0),
              "Mn": (4342.51803823584, 0.2266392643545167, 3.004875007385763, 8.0),
              "Ba": (2597.357639620066, 0.8215444304115773, 3.4028387721488427, -8.0)}
    chi2 = res.chi2_reduced * (res.window_eV[1] - res.window_eV[0]) / 0.5     # ~ the fit's whole chi-square
    for el, (signal, significance, improvement, shift) in before.items():
        ev = res.evidence[el]
        assert (ev.signal_counts, ev.significance) == pytest.approx((signal, significance), rel=1e-9)
        # a difference of two chi-squares of ~2e3: rounded to ~1e-9 of those, not of the difference
        # (Mn's 3.0049 came out 1.8e-9 apart on an AMD EPYC, OpenBLAS Haswell kernels both)
        assert ev.fit_improvement == pytest.approx(improvement, rel=1e-9, abs=1e-9 * chi2)
        assert ev.shift_eV == shift


def _white_line_spectrum(seed=0):
    """Ti L2,3 + Mn L2,3 + O K on a power law, 1 eV channels: the continuum (hydrogenic) plus the
    white lines of the simulator's shape-table function (physics.white_lines.white_line_shapes,
    1 eV bins at beta* of each family), Poisson noise. Returns the spectrum and the amounts
    (counts per barn) of O, Ti, Mn."""
    from eels_helpers.physics.cross_section import effective_collection_angle
    from eels_helpers.physics.elements import family
    from eels_helpers.physics.white_lines import white_line_shapes

    E = np.arange(400.0, 900.0)
    names = ["O K", "Ti L", "Mn L"]
    cont = dsigma_dE(names, E, gos="hydrogenic", **GEOM)[0]
    first = np.array([family(n).first_onset_eV for n in names])
    be = effective_collection_angle(first, GEOM["E0_keV"], GEOM["alpha_mrad"], GEOM["beta_mrad"])
    lines = np.stack([white_line_shapes(names, first, np.zeros(3), E, GEOM["E0_keV"], [b])[0, i]
                      for i, b in enumerate(be)])
    amounts = np.array([3.0, 1.0, 1.0]) * 2e5 / cont.max()
    mu = 2e5 * (E / E[0]) ** -3.0 + amounts @ (cont + lines)
    y = np.random.default_rng(seed).poisson(mu).astype(np.float64)
    return Spectrum(y, E, dict(META), None), amounts


def test_white_lines_in_the_edge_term_fit_ti_and_mn_l23():
    sp, _ = _white_line_spectrum()
    cand = {"O": 0.9, "Ti": 0.9, "Mn": 0.9, "Cr": 0.2, "Fe": 0.2}
    without = verify(sp, cand, VerifyConfig(gos="hydrogenic"))
    with_lines = verify(sp, cand, VerifyConfig(gos="hydrogenic", white_lines=True, line_fwhm_eV=0.0))
    # ~2e5 counts per channel: what is left (chi2 ~40) sits at the sharp hydrogenic onsets
    # (data sampled at channel centres, the model integrated over them), with or without lines
    assert with_lines.chi2_reduced < 100
    assert without.chi2_reduced > 100 * with_lines.chi2_reduced
    for el in ("Ti", "Mn"):
        ev = with_lines.evidence[el]
        assert ev.shift_eV == 0.0 and ev.edge_fraction > 0.9   # the lines carry it, not the Gaussians
        assert ev.significance > without.evidence[el].significance
    for el in ("Cr", "Fe"):
        assert with_lines.evidence[el].significance < 3


def test_white_lines_option_validated():
    with pytest.raises(ValueError, match="white_lines"):
        VerifyConfig(white_lines="yes")
    assert VerifyConfig(white_lines="crystal-field").white_lines == "crystal-field"
    with pytest.raises(ValueError, match="line_fwhm_eV must be a width in"):
        VerifyConfig(line_fwhm_eV=-1.0)


def test_broadened_white_lines_fit_a_spectrum_recorded_at_that_resolution():
    """The white lines of the same spectrum convolved with a 1.5 eV FWHM Gaussian (the instrument):
    the fit with line_fwhm_eV=1.5 leaves a far smaller chi2 than with the natural widths, and the
    lines keep their area (the fitted Ti and Mn amounts agree with and without broadening)."""
    from scipy.ndimage import gaussian_filter1d

    sp, _ = _white_line_spectrum()
    smooth = gaussian_filter1d(sp.data.astype(np.float64), 1.5 / 2.3548)        # 1 eV channels
    broad = Spectrum(np.random.default_rng(1).poisson(np.maximum(smooth, 0)).astype(np.float64),
                     sp.energy_eV, dict(META), None)
    cand = {"O": 0.9, "Ti": 0.9, "Mn": 0.9}
    natural = verify(broad, cand, VerifyConfig(gos="hydrogenic", white_lines=True, line_fwhm_eV=0.0))
    resolved = verify(broad, cand, VerifyConfig(gos="hydrogenic", white_lines=True, line_fwhm_eV=1.5))
    assert resolved.chi2_reduced < 0.5 * natural.chi2_reduced
    for el in ("Ti", "Mn"):
        assert resolved.evidence[el].edge_fraction > 0.9
        assert resolved.evidence[el].fit_improvement > natural.evidence[el].fit_improvement


def test_plural_scattering_replicas_fit_a_thick_specimen():
    """Ti L2,3 + O K convolved with a Poisson plasmon series (t/lambda = 0.6, Gaussian plasmon at
    22 eV, FWHM 8 eV: not the fit's Drude shape): the replicas at 15 and 30 eV cut chi2 at
    least three-fold; without the option the numbers are those of VerifyConfig()."""
    from scipy.signal import fftconvolve

    E = np.arange(380.0, 900.0)
    s = dsigma_dE(["Ti L", "O K"], E, gos="hydrogenic", **GEOM)[0]
    k = np.arange(0.0, 120.0)
    p = np.exp(-4 * np.log(2) * (k - 22.0) ** 2 / 8.0**2)
    p /= p.sum()
    t = 0.6
    kern = math.exp(-t) * (np.eye(1, k.size)[0] + t * p + t**2 / 2 * fftconvolve(p, p)[: k.size])
    edges = fftconvolve((2e5 / s[0].max()) * s[0] + (4e5 / s[1].max()) * s[1], kern)[: E.size]
    y = np.random.default_rng(2).poisson(3e5 * (E / E[0]) ** -3.0 + edges).astype(np.float64)
    sp = Spectrum(y, E, dict(META), None)
    cand = {"O": 0.9, "Ti": 0.9, "V": 0.1}
    plain = verify(sp, cand, VerifyConfig(gos="hydrogenic"))
    plural = verify(sp, cand, VerifyConfig(gos="hydrogenic", plural_eV=(15.0, 30.0)))
    assert plural.chi2_reduced < plain.chi2_reduced / 3
    assert plural.evidence["Ti"].significance > 10 and plural.evidence["O"].significance > 10
    with pytest.raises(ValueError, match="plural_eV"):
        VerifyConfig(plural_eV=(1.0,))


@pytest.mark.skipif(not builtin_available(), reason="the builtin GOS table holds the other edges")
def test_other_edges_option_fits_a_candidates_edge_outside_the_families():
    """VerifyConfig(other_edges=True): Kr's M4,5 (94 eV) and M2,3 (215 eV), outside the 107
    families, are fitted as Kr's edge term; off (the default), Kr has no edge in the 80-400 eV window."""
    from eels_helpers.physics.elements import OTHER_EDGES

    E = np.arange(80.0, 400.0, 0.5)
    sig = dsigma_dE(list(OTHER_EDGES["Kr"]), E, gos=GOS, **GEOM)[0].sum(axis=0)
    mu = 2e5 * (E / E[0]) ** -3.0 + 4e3 * sig / sig.max()
    sp = Spectrum(np.random.default_rng(2).poisson(mu).astype(np.float32), E, dict(META), None)
    off = verify(sp, {"Kr": 0.5, "Si": 0.5}, rule=DecisionRule())
    assert off.evidence["Kr"].status == "no edge in window"
    on = verify(sp, {"Kr": 0.5, "Si": 0.5}, VerifyConfig(other_edges=True), rule=DecisionRule())
    kr = on.evidence["Kr"]
    assert kr.status == "fitted" and kr.significance > 10
    assert any("Kr M5 94 eV" in e for e in kr.edges_in_window)
    assert on.evidence["Si"].significance < kr.significance
    with pytest.raises(ValueError, match="VerifyConfig.other_edges must be a bool"):
        VerifyConfig(other_edges="yes")


def test_every_fitted_candidate_of_the_shipped_real_spectra_has_a_finite_uncertainty():
    """Neighbours fitted together (N K with Sc L2,3, B K with Cl/Zr/Lu) make the active Gram matrix
    near-singular; the variance then comes from its pseudo-inverse, never NaN (a NaN significance
    reads as no evidence at all)."""
    from eels_helpers import DATA_DIR
    from eels_helpers.inference.spectrum_files import read_spectrum
    from eels_helpers.inference.verification_rules import candidates_from_probabilities

    rng = np.random.default_rng(0)
    files = sorted((DATA_DIR / "real_spectra").glob("eelsdb_*"))
    assert files
    for path in files:
        sp = read_spectrum(path)
        probs = rng.random(80) * 0.02
        for el in ("B", "N", "O", "Sc", "Cl", "Co", "Al", "Ta"):
            probs[ELEMENTS.index(el)] = 0.9
        res = verify(sp, candidates_from_probabilities(probs, 0.05), threshold=0.5)
        for el, ev in res.evidence.items():
            if ev.status == "fitted":
                assert np.isfinite(ev.uncertainty_counts) and ev.uncertainty_counts > 0, (path.name, el)


def test_evidence_numbers_say_when_the_window_cannot_determine_a_signal():
    """A fitted candidate whose uncertainty exceeds every count of the fit window (degenerate terms)
    is reported in words, not as '+- 6.7e+20 counts'; a determined one keeps its numbers."""
    from types import SimpleNamespace

    from eels_helpers.inference.verification_result import Evidence
    from eels_helpers.inference.verification_rules import evidence_numbers

    result = SimpleNamespace(data=np.full(100, 1e4))            # 1e6 counts in the window
    common = dict(status="fitted", fit_improvement=3.0, shift_eV=2.0)
    fine = evidence_numbers(Evidence("Fe", signal_counts=5e4, uncertainty_counts=1e3, significance=50.0,
                                     **common), result)
    assert fine.startswith("signal 5e+04 +- 1e+03 counts, 50.0 sigma") and fine.endswith("shift +2 eV")
    for unc in (6.7e20, math.inf, math.nan):
        text = evidence_numbers(Evidence("F", signal_counts=4e6, uncertainty_counts=unc, significance=0.0,
                                         **common), result)
        assert text.startswith("signal not determined by this window") and "1e+06 counts of the fit window" in text
        assert "+-" not in text and text.endswith("fit improvement 3.0, shift +2 eV")
