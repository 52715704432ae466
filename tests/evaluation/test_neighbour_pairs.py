"""Reported neighbour pairs on labelled spectra (what a `predict` caution means on a labelled set)."""

import json

import numpy as np
import pytest

from eels_helpers.evaluation.neighbour_pairs import reported_neighbour_pairs
from eels_helpers.physics.elements import ELEMENTS


def _probs(rows):
    p = np.zeros((len(rows), 80))
    for k, row in enumerate(rows):
        for s, v in row.items():
            p[k, ELEMENTS.index(s)] = v
    return p


def test_pairs_are_counted_by_how_many_are_labelled():
    files = ["bn", "scn", "er", "mno", "ck"]
    labels = [("B", "N"), ("Sc", "N"), ("Tm",), ("Mn", "O"), ("K",)]
    probs = _probs([{"N": 0.9, "Sc": 0.95, "B": 1.0},     # one labelled (N), the less probable
                    {"N": 0.9, "Sc": 0.8},                 # both labelled
                    {"Er": 0.99, "Ho": 0.7, "Tm": 0.3},    # neither (Tm under the threshold)
                    {"Mn": 1.0, "O": 1.0, "Fe": 0.2},      # no pair above the threshold
                    {"C": 0.9, "K": 0.9}])                 # carbon is left out
    result = reported_neighbour_pairs(files, labels, probs, 0.5)
    assert len(result.pairs) == 3
    assert list(result.pairs["first"]) == ["Sc", "N", "Er"] and list(result.pairs["second"]) == ["N", "Sc", "Ho"]
    assert (result.both, result.one, result.neither, result.more_probable_labelled) == (1, 1, 1, 0)
    assert "3 reported pairs" in result.summary() and "in 0 of 1" in result.summary()
    d = json.loads(json.dumps(result.to_dict()))
    assert d["pairs"] == 3 and d["rows"][0]["file"] == "bn" and d["rows"][0]["second_labelled"] is True


def test_no_pair_and_bad_shapes():
    result = reported_neighbour_pairs(["a"], [("O",)], _probs([{"O": 1.0}]), 0.5)
    assert len(result.pairs) == 0 and result.summary().startswith("no pair")
    with pytest.raises(ValueError, match="shape"):
        reported_neighbour_pairs(["a", "b"], [("O",)], _probs([{"O": 1.0}]), 0.5)
