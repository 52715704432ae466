"""Verified identification measured: the combined-probability matrix, the typical mistakes, the
before/after table by grouped cross-validation, and the candidates of simulated spectra."""

import numpy as np
import pandas as pd
import pytest

from eels_helpers.evaluation.real_spectra import label_matrix
from eels_helpers.evaluation.verified import (
    before_after,
    simulated_candidates,
    typical_mistakes,
    verified_probabilities,
)
from eels_helpers.inference.verification_model import FEATURES, LogisticRule
from eels_helpers.physics.elements import ELEMENTS

I = ELEMENTS.index


def _rule(weight_on="logit_p"):
    coef = np.zeros(len(FEATURES))
    coef[FEATURES.index(weight_on)] = 1.0
    return LogisticRule("t", tuple(coef), 0.0, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES))


def test_verified_probabilities_fill_candidates_only():
    rows = pd.DataFrame([{"spectrum": 0, "element": "Fe", **dict.fromkeys(FEATURES, 0.0), "logit_p": 2.0},
                         {"spectrum": 2, "element": "O", **dict.fromkeys(FEATURES, 0.0), "logit_p": -1.0}])
    V = verified_probabilities(rows, 3, _rule())
    assert V.shape == (3, 80)
    assert V[0, I("Fe")] == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert V[2, I("O")] == pytest.approx(1 / (1 + np.exp(1.0)))
    assert np.count_nonzero(V) == 2
    assert np.count_nonzero(verified_probabilities(rows.iloc[:0], 3, _rule())) == 0


def test_typical_mistakes_counted():
    y = label_matrix([("W", "O"), ("La", "O"), ("Fe",)])
    pred = y.copy()
    pred[0, I("Re")] = 1          # plausible alternative beside W
    pred[1, I("Ce")] = 1          # Ce: lanthanide neighbour of La, and in the Ba/La/Ce group
    pred[2, I("C")] = 1           # carbon does not count
    pred[2, I("Bi")] = 1          # an unrelated false positive
    got = typical_mistakes(y, pred)
    assert got == {"lanthanide_neighbour": 1, "plausible_alternative": 2}
    assert typical_mistakes(y, y) == {"lanthanide_neighbour": 0, "plausible_alternative": 0}


def test_before_after_by_grouped_cross_validation():
    labels = [("W", "O"), ("La", "O"), ("Fe", "O"), ("Mn", "O"), ("Ti", "O"), ("Ba", "Ti", "O"),
              ("Ce", "O"), ("Ni",)] * 2
    manifest = pd.DataFrame({"file": [f"f{i}" for i in range(len(labels))], "labels": labels,
                             "compound_group": [f"g{i % 8}" for i in range(len(labels))]})
    y = label_matrix(labels)
    network = 0.9 * y
    network[0, I("Re")] = network[1, I("Ce")] = network[9, I("Pr")] = 0.8    # typical mistakes
    verified = 0.9 * y                                                          # all removed
    table, cv = before_after(manifest, network, verified, seeds=(0, 1))
    assert list(table.index) == ["network", "verified"]
    assert table.loc["verified", "exact_match"] == pytest.approx(1.0)
    assert table.loc["network", "exact_match"] < 1.0
    assert table.loc["verified", "lanthanide_neighbour"] == table.loc["verified", "plausible_alternative"] == 0
    assert table.loc["network", "lanthanide_neighbour"] + table.loc["network", "plausible_alternative"] > 0
    assert len(cv["verified"].splits) == 2


def test_simulated_candidates_labelled():
    rows, seconds = simulated_candidates("default", 3, seed=5, configs=("paper",), batch_size=2)
    assert seconds.shape == (3,) and np.all(seconds >= 0)
    assert set(FEATURES) <= set(rows.columns) and len(rows)
    assert set(rows["label"]) <= {0, 1} and set(rows["spectrum"]) <= {0, 1, 2}
    assert np.all(np.isfinite(rows[list(FEATURES)].to_numpy(float)))
    assert (rows["config"] == "paper").all()
    with pytest.raises(ValueError, match="n"):
        simulated_candidates("default", 0, seed=0)


def test_decision_changes_rejected_and_rescued():
    from eels_helpers.evaluation.verified import decision_changes

    base = dict.fromkeys(FEATURES, 0.0)
    rows = pd.DataFrame([
        {"spectrum": 0, "element": "Re", "p": 0.8, "label": 0, **base, "log_significance": -3.0},
        {"spectrum": 0, "element": "W", "p": 0.9, "label": 1, **base, "log_significance": 3.0},
        {"spectrum": 1, "element": "Ce", "p": 0.1, "label": 1, **base, "log_significance": 3.0},
        {"spectrum": 1, "element": "La", "p": 0.1, "label": 0, **base, "log_significance": -3.0}])
    got = decision_changes(rows, _rule("log_significance"), 0.5)
    assert list(got["element"]) == ["Re", "Ce"]
    assert list(got["change"]) == ["rejected", "rescued"] and got["right"].all()
    with pytest.raises(ValueError, match="network_threshold"):
        decision_changes(rows, _rule(), 1.0)
