"""Counting how often each element is right where it is reported, per window class."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.evaluation.report_precision import report_counts, simulated_report_counts
from eels_helpers.physics.elements import ELEMENTS


def test_report_counts_against_a_direct_count():
    rng = np.random.default_rng(0)
    n = 60
    reported, labels = rng.random((n, 80)) < 0.1, rng.random((n, 80)) < 0.1
    x = np.zeros((n, 3072), np.float32)
    first = rng.choice([75, 90, 109, 110, 300], size=n)
    for i, f in enumerate(first):
        x[i, f:] = 1.0
    counts, spectra = report_counts(reported, labels.astype(np.uint8), x)
    low = first < 110
    assert spectra == {"low_start": int(low.sum()), "other": int((~low).sum())}
    for key, rows in (("low_start", low), ("other", ~low)):
        expected = {ELEMENTS[j]: [int(reported[rows, j].sum()), int((reported[rows, j] & labels[rows, j]).sum())]
                    for j in range(80) if reported[rows, j].any()}
        assert counts[key] == expected
    with pytest.raises(ValueError, match="must both be"):
        report_counts(reported[:, :79], labels, x)
    with pytest.raises(ValueError, match="59 inputs for 60 spectra"):
        report_counts(reported, labels, x[:59])


def test_simulated_report_counts_decide_as_predict_does():
    """A few simulated spectra through the shipped `default`: every count is consistent (right <=
    reported, spectra add up) and the threshold is the model's."""
    out = simulated_report_counts("default", 64, 5, "open-world")
    assert out["threshold"] == 0.7 and out["n_spectra"] == 64 and out["config"] == "open-world"
    assert sum(out["simulated_per_class"].values()) == 64
    for counts in out["classes"].values():
        assert all(0 <= right <= rep and rep >= 1 for rep, right in counts.values())
        assert "Tc" not in counts and "Pm" not in counts                     # withheld as predict does
