"""The fitted decision of the verification: features of candidates, the logistic fit, the rules
file (per model, atomic, fall-back with a message) and the decision it makes."""

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from eels_helpers import DATA_DIR
from eels_helpers.inference.verification import verify
from eels_helpers.inference.verification_model import (
    FEATURES,
    LogisticRule,
    calibration,
    candidate_features,
    fit_logistic,
    fit_settings,
    load_rule,
    save_rule,
    verification_helps,
)
from eels_helpers.inference.verification_rules import DecisionRule, decide
from eels_helpers.physics.cross_section import dsigma_dE
from eels_helpers.physics.gos_tables import resolve_gos
from eels_helpers.spectrum import Spectrum

META = {"beam_energy_keV": 200.0, "convergence_angle_mrad": 10.0, "collection_angle_mrad": 30.0}


def _fe_o(seed=0):
    E = np.arange(400.0, 1000.0, 0.5)
    s = dsigma_dE(["Fe L", "O K"], E, 200.0, 10.0, 30.0, gos=resolve_gos("auto"))[0]
    mu = 2e5 * (E / 400.0) ** -3.0 + 1e4 * s[0] / s[0].max() + 3e4 * s[1] / s[1].max()
    return Spectrum(np.random.default_rng(seed).poisson(mu).astype(np.float32), E, dict(META))


def _synthetic_rule(rng, n=4000):
    X = rng.normal(size=(n, len(FEATURES)))
    w = np.linspace(-1.5, 2.0, len(FEATURES))
    q = 1 / (1 + np.exp(-(0.3 + X @ w)))
    return X, (rng.random(n) < q).astype(float), w


def test_fit_recovers_known_coefficients_and_is_calibrated():
    rng = np.random.default_rng(0)
    X, y, w = _synthetic_rule(rng)
    rule = fit_logistic(X, y, l2=0.0, model="m")
    # standardised coefficients back in the units of X
    back = np.asarray(rule.coefficients) / np.asarray(rule.scale)
    assert np.allclose(back, w, atol=0.25)
    Xt, yt, _ = _synthetic_rule(rng)
    table = calibration(rule.probability(Xt), yt)
    sigma = np.sqrt(table["mean_q"] * (1 - table["mean_q"]) / table["n"])    # binomial scatter
    assert np.all(np.abs(table["mean_q"] - table["fraction_true"]) < 4 * sigma + 0.01)
    assert table.attrs["brier"] < 0.25 and table["n"].sum() == yt.size


def test_fit_bad_inputs_named():
    X = np.zeros((4, len(FEATURES)))
    with pytest.raises(ValueError, match="0 and 1"):
        fit_logistic(X, np.ones(4))
    with pytest.raises(ValueError, match="columns|X must be"):
        fit_logistic(np.zeros((4, 2)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="finite"):
        fit_logistic(np.full((2, len(FEATURES)), np.nan), np.array([0, 1]))
    with pytest.raises(ValueError, match="threshold"):
        LogisticRule("m", (0.0,) * len(FEATURES), 0.0, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), 1.5)
    with pytest.raises(ValueError, match="scale"):
        LogisticRule("m", (0.0,) * len(FEATURES), 0.0, (0.0,) * len(FEATURES), (0.0,) * len(FEATURES))


def test_rules_file_per_model_atomic_and_fallback(tmp_path, caplog):
    path = tmp_path / "rules.json"
    rng = np.random.default_rng(1)
    X, y, _ = _synthetic_rule(rng, 500)
    a = fit_logistic(X, y, model="a")
    b = LogisticRule("b", a.coefficients, a.intercept, a.mean, a.scale, 0.4, {"note": "x"})
    save_rule(a, path)
    save_rule(b, path)
    data = json.loads(path.read_text())
    assert set(data["rules"]) == {"a", "b"} and data["rules"]["b"]["features"] == list(FEATURES)
    assert not list(tmp_path.glob("*.tmp"))
    got = load_rule("b", path)
    assert got.threshold == 0.4 and got.provenance == {"note": "x"}
    assert np.allclose(got.probability(X[:5]), b.probability(X[:5]), atol=1e-5)
    assert load_rule("some/dir/a.pt", path) is not None          # a model file: its stem
    with caplog.at_level(logging.WARNING):
        assert load_rule("unknown", path) is None
    assert "no verification rule fitted for model 'unknown'" in caplog.text
    assert "fit_verification_rule.py" in caplog.text
    data["rules"]["a"]["features"] = ["old"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="refit"):
        load_rule("a", path)


def test_fit_settings_give_a_verification_the_options_its_rule_was_fitted_with(tmp_path):
    from eels_helpers.inference.verification import VerifyConfig

    path = tmp_path / "rules.json"
    X, y, _ = _synthetic_rule(np.random.default_rng(2), 300)
    a = fit_logistic(X, y, model="a")
    prov = {"white_lines": "crystal-field", "line_fwhm_eV": 1.5, "plural_eV": [15.0], "other_edges": False,
            "conditional_uncertainty": True, "seed": 0}
    save_rule(LogisticRule("wl", a.coefficients, a.intercept, a.mean, a.scale, 0.3, prov), path)
    save_rule(LogisticRule("old", a.coefficients, a.intercept, a.mean, a.scale, 0.3, {"white_lines": False}), path)
    settings = fit_settings("wl", path)
    assert settings == {"white_lines": "crystal-field", "line_fwhm_eV": 1.5, "plural_eV": (15.0,), "other_edges": False,
                        "conditional_uncertainty": True}
    config = VerifyConfig(**settings, offset_eV=2.0)
    assert (config.white_lines, config.plural_eV, config.offset_eV) == ("crystal-field", (15.0,), 2.0)
    assert config.conditional_uncertainty is True
    assert fit_settings("old", path) == {"white_lines": False}
    assert fit_settings("none", path) == {}
    rule = load_rule("wl", path)
    assert fit_settings(rule) == settings == fit_settings(DecisionRule(logistic=rule))
    assert fit_settings(None) == {} and fit_settings(DecisionRule()) == {}


def test_decision_rule_without_fitted_rule_falls_back(caplog, monkeypatch, tmp_path):
    import eels_helpers.inference.verification_model as vm

    monkeypatch.setattr(vm, "RULES_FILE", tmp_path / "none.json")
    with caplog.at_level(logging.WARNING):
        rule = DecisionRule(model="no-such-model")
    assert rule.logistic is None and "hand-set" in caplog.text


def test_features_and_logistic_decision():
    sp = _fe_o()
    res = verify(sp, {"Fe": 0.9, "O": 0.95, "Mn": 0.3, "Cr": 0.01, "W": 0.6}, rule=DecisionRule())
    elements, X = candidate_features(res)
    assert elements == list(res.evidence) and X.shape == (5, len(FEATURES))
    f = dict(zip(elements, X))
    i = FEATURES.index
    assert f["W"][i("untested")] == 1 and np.all(f["W"][2:] == 0)      # no W edge in 400-1000 eV
    assert f["Fe"][i("log_significance")] > f["Mn"][i("log_significance")]
    assert f["Mn"][i("neighbour_better")] == 1 and f["Fe"][i("neighbour_better")] == 0
    assert f["Fe"][i("edges_inside")] == pytest.approx(1.0)
    assert f["Fe"][i("logit_p")] == pytest.approx(math.log(0.9 / 0.1))
    # a rule that trusts significance only: Fe and O kept, the weak ones rejected, W untested
    coef = np.zeros(len(FEATURES))
    coef[i("log_significance")] = 3.0
    logistic = LogisticRule("t", tuple(coef), -4.0, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), 0.5)
    decide(res, DecisionRule(logistic=logistic), threshold=0.5)
    assert set(res.verified) == {"Fe", "O"}
    assert res.evidence["Mn"].verified is False and "combined probability" in res.evidence["Mn"].reason
    assert "cannot be tested" in res.evidence["W"].reason
    assert 0 <= res.evidence["Fe"].combined_probability <= 1
    # a neighbour the network missed is rescued when the evidence is strong
    res2 = verify(sp, {"Fe": 0.01, "O": 0.95, "Mn": 0.6}, rule=DecisionRule(logistic=logistic))
    assert res2.evidence["Fe"].verified and res2.evidence["Fe"].reason.startswith("rescued")
    assert json.loads(json.dumps(res2.to_dict()))["evidence"]["Fe"]["combined_probability"] > 0.5


def test_shipped_rule_for_default_model():
    """The shipped rules file holds a rule for the shipped default network (refit with
    scripts/fit_verification_rule.py), loaded by the default decision."""
    from eels_helpers.inference.verification_rules import default_rule

    rule = load_rule("default")
    assert rule is not None and rule.model == "default" and 0 < rule.threshold < 1
    assert rule.provenance["simulated_spectra"] > 0
    assert default_rule().logistic is not None


def test_verification_helps_only_when_grouped_cv_shows_it(tmp_path):
    """Verification is the default only for a rule whose real-spectrum grouped CV shows F1 and exact
    match both at least the network's; no rule, or no such record, keeps the network alone."""
    path = tmp_path / "rules.json"
    rng = np.random.default_rng(2)
    X, y, _ = _synthetic_rule(rng, 300)
    base = fit_logistic(X, y, model="a")

    def with_cv(model, net, ver):
        cv = {"spectra": 94, "splits": 5, "network": {"threshold": 0.6, "f1": net[0], "exact_match": net[1]},
              "verified": {"threshold": 0.3, "f1": ver[0], "exact_match": ver[1]}}
        save_rule(LogisticRule(model, base.coefficients, base.intercept, base.mean, base.scale, 0.3,
                               {"real_grouped_cv": cv}), path)

    with_cv("up", (0.869, 0.528), (0.880, 0.541))
    with_cv("tie", (0.869, 0.528), (0.869, 0.528))
    with_cv("f1_down", (0.869, 0.528), (0.868, 0.60))
    with_cv("emr_down", (0.869, 0.528), (0.90, 0.52))
    save_rule(base, path)                                           # model "a": no real-spectrum record
    helps, why = verification_helps("up", path)
    assert helps and "0.869 -> 0.880" in why and "0.528 -> 0.541" in why and "94 real spectra" in why
    assert verification_helps("some/dir/tie.pt", path)[0]
    assert not verification_helps("f1_down", path)[0] and not verification_helps("emr_down", path)[0]
    assert verification_helps("a", path) == (False, "the rule of 'a' records no cross-validation on real spectra")
    assert verification_helps("nothing", path) == (False, "no verification rule fitted for 'nothing'")


def test_a_rule_fitted_for_other_networks_is_named_and_not_the_default(tmp_path, caplog):
    """A rule records the networks it was fitted for (file name and SHA-256 prefix per member); when the
    model's networks are replaced later, loading it warns and `predict` no longer verifies by default."""
    import torch

    from eels_helpers.inference.verification_model import network_fingerprint
    from eels_helpers.models import create_model
    from eels_helpers.models.model_files import save_ensemble, save_model

    def net(seed):
        torch.manual_seed(seed)
        return create_model("mlp", hidden=[8], dropout=0.0)

    options = {"hidden": [8], "dropout": 0.0}
    single = save_model(tmp_path / "m.pt", net(0), architecture="mlp", options=options)
    pair = save_ensemble(tmp_path / "pair.pt", [single, single], member_files=["networks/a.pt", "networks/b.pt"])
    fingerprint = network_fingerprint(pair)
    assert [f.split(":")[0] for f in fingerprint] == ["a.pt", "b.pt"] and fingerprint[0] != ""
    assert network_fingerprint(single) == [f"m.pt:{network_fingerprint(single)[0].split(':')[1]}"]
    assert network_fingerprint(tmp_path / "missing.pt") is None
    rules = tmp_path / "rules.json"
    X, y, _ = _synthetic_rule(np.random.default_rng(3), 300)
    base = fit_logistic(X, y, model="pair")
    cv = {"spectra": 94, "splits": 5, "network": {"threshold": 0.6, "f1": 0.80, "exact_match": 0.50},
          "verified": {"threshold": 0.3, "f1": 0.81, "exact_match": 0.55}}
    save_rule(LogisticRule("pair", base.coefficients, base.intercept, base.mean, base.scale, 0.3,
                           {"real_grouped_cv": cv, "networks": fingerprint}), rules)
    assert verification_helps(pair, rules)[0]
    save_ensemble(pair, [save_model(tmp_path / "n.pt", net(1), architecture="mlp", options=options), single],
                  member_files=["networks/a.pt", "networks/b.pt"])      # member a replaced by other weights
    helps, why = verification_helps(pair, rules)
    assert not helps and "fitted for the networks" in why and "refit it" in why
    with caplog.at_level(logging.WARNING):
        assert load_rule(str(pair), rules) is not None
    assert "fitted for the networks" in caplog.text


def test_brief_text_counts_the_low_probability_neighbours_in_one_line():
    """With ``min_probability`` the rejected candidates below it are named in one closing line,
    not listed one by one; every candidate is still named exactly once."""
    from eels_helpers.inference.verification_rules import format_verification

    res = verify(_fe_o(), {"Fe": 0.9, "O": 0.95, "Mn": 0.01, "Cr": 0.01}, rule=DecisionRule())
    full = format_verification(res)
    brief = format_verification(res, min_probability=0.05)
    low = [e for e, ev in res.evidence.items() if not ev.verified and (ev.probability or 0.0) < 0.05]
    assert low and f"rejected {len(low)} more (neighbours tested, p < 0.05): {', '.join(low)}" in brief
    for el in res.evidence:
        listed = f" {el:<2} p=" in brief
        assert listed != (el in low) and f" {el:<2} p=" in full


def test_the_refit_script_defaults_are_the_shipped_rules_settings():
    """`scripts/fit_verification_rule.py --model NAME` alone refits a shipped rule as it was fitted:
    its recorded command and its defaults parse to the same settings."""
    import importlib.util
    import shlex

    script_path = Path(__file__).parents[2] / "scripts" / "fit_verification_rule.py"
    spec = importlib.util.spec_from_file_location("fit_rule_script", script_path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    parser = script.build_parser()
    rules = json.loads((DATA_DIR / "verification_rules.json").read_text())["rules"]
    assert rules
    for name, rule in rules.items():
        recorded = vars(parser.parse_args(shlex.split(rule["provenance"]["command"])[2:]))
        defaults = vars(parser.parse_args(["--model", name, "--experimental-dir", recorded["experimental_dir"]]))
        assert recorded == defaults, name
        assert rule["provenance"]["conditional_uncertainty"] == defaults["conditional_uncertainty"]
