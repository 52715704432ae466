"""Paired, compound-grouped comparison of two models' decisions (eels_helpers.evaluation.paired_comparison)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from eels_helpers.evaluation.metrics import CARBON_INDEX, evaluate
from eels_helpers.evaluation.paired_comparison import compare_analyses, decisions_from_mistakes, paired_bootstrap
from eels_helpers.physics.elements import ELEMENTS


def _labels(n, seed=0):
    rng = np.random.default_rng(seed)
    y = np.zeros((n, len(ELEMENTS)), bool)
    for i in range(n):
        y[i, rng.choice(len(ELEMENTS), size=rng.integers(1, 4), replace=False)] = True
    return y


def _with_mistakes(y, rows, seed=1):
    """y with one false positive in each of ``rows`` (never carbon, never a labelled element)."""
    rng = np.random.default_rng(seed)
    d = y.copy()
    for r in rows:
        free = [k for k in np.flatnonzero(~y[r]) if k != CARBON_INDEX]
        d[r, rng.choice(free)] = True
    return d


def test_identical_decisions_differ_by_nothing():
    y = _labels(40)
    d = _with_mistakes(y, range(0, 40, 3))
    f1, emr = paired_bootstrap(y, d, d, [f"g{i // 2}" for i in range(40)], n_boot=200)
    for s in (f1, emr):
        assert s.a == s.b and s.difference == 0.0 and s.low == s.high == 0.0 and s.share_b_better == 0.5


def test_point_scores_are_the_papers_metrics_and_a_clear_gain_is_resolved():
    y = _labels(120)
    a = _with_mistakes(y, range(0, 120, 2))          # 60 wrong spectra
    b = _with_mistakes(y, range(0, 120, 20))         # 6 wrong: B fixes 54
    f1, emr = paired_bootstrap(y, a, b, [f"g{i}" for i in range(120)], n_boot=500)
    ref_a, ref_b = (evaluate(y.astype(float), d.astype(float), 0.5, exclude_carbon=True) for d in (a, b))
    assert f1.a == pytest.approx(ref_a.f1) and f1.b == pytest.approx(ref_b.f1)
    assert emr.a == pytest.approx(ref_a.emr) == 0.5 and emr.b == pytest.approx(ref_b.emr) == 0.95
    assert emr.difference == pytest.approx(0.45)
    assert 0 < emr.low < emr.difference < emr.high and emr.share_b_better == 1.0 and f1.low > 0


def test_resampling_compound_groups_widens_the_interval_of_clustered_spectra():
    # 10 spectra per compound, failing together: 12 independent pieces of evidence, not 120
    y = _labels(120)
    a = _with_mistakes(y, [i for i in range(120) if (i // 10) % 3 == 0])
    b = _with_mistakes(y, [i for i in range(120) if (i // 10) % 4 == 0])
    by_spectrum = paired_bootstrap(y, a, b, [str(i) for i in range(120)], n_boot=1000)[1]
    by_compound = paired_bootstrap(y, a, b, [str(i // 10) for i in range(120)], n_boot=1000)[1]
    assert by_spectrum.difference == by_compound.difference
    assert (by_compound.high - by_compound.low) > 2 * (by_spectrum.high - by_spectrum.low)


def test_carbon_is_left_out():
    y = _labels(30)
    b = y.copy()
    b[:, CARBON_INDEX] = True                        # carbon everywhere: contamination, not a mistake
    f1, emr = paired_bootstrap(y, y, b, [str(i) for i in range(30)], n_boot=100)
    assert f1.difference == 0.0 and emr.b == 1.0
    f1, emr = paired_bootstrap(y, y, b, [str(i) for i in range(30)], n_boot=100, exclude_carbon=False)
    assert emr.b < 1.0


def test_bad_input_names_the_problem():
    y = _labels(10)
    with pytest.raises(ValueError, match="one shape"):
        paired_bootstrap(y, y, y[:, :5], list("abcdefghij"))
    with pytest.raises(ValueError, match="one compound group per spectrum"):
        paired_bootstrap(y, y, y, ["a"] * 9)
    with pytest.raises(ValueError, match="n_boot"):
        paired_bootstrap(y, y, y, list("abcdefghij"), n_boot=10)
    with pytest.raises(ValueError, match="'FP' or 'FN'"):
        decisions_from_mistakes(y, [SimpleNamespace(row=0, element="Fe", kind="TP")], ELEMENTS)


def _analysis(model, files, labels, mistakes):
    manifest = pd.DataFrame({"file": files, "labels": labels, "compound_group": ["X", "X", "Y", "Z"][:len(files)]})
    return SimpleNamespace(model=model, manifest=manifest, mistakes=mistakes)


def test_compare_analyses_rebuilds_the_decisions_from_the_mistakes():
    files, labels = ["a.msa", "b.msa", "c.msa", "d.msa"], [("Fe", "O"), ("Fe", "O"), ("Ti",), ("Ba", "O")]
    m = lambda row, kind, el: SimpleNamespace(row=row, file=files[row], kind=kind, element=el)  # noqa: E731
    first = _analysis("A", files, labels, [m(0, "FP", "Co"), m(2, "FN", "Ti")])
    second = _analysis("B", files, labels, [m(0, "FP", "Co"), m(3, "FP", "La")])
    cmp = compare_analyses(first, second, n_boot=200)
    assert cmp.n_spectra == 4 and cmp.n_groups == 3
    assert cmp.fixed == ["c.msa"] and cmp.broken == ["d.msa"]
    f1, emr = cmp.scores
    assert emr.a == emr.b == 0.5 and emr.difference == 0.0
    d = decisions_from_mistakes(np.zeros((1, len(ELEMENTS)), bool) | np.isin(ELEMENTS, ["Ti"]),
                                [SimpleNamespace(row=0, kind="FN", element="Ti"),
                                 SimpleNamespace(row=0, kind="FP", element="V")], ELEMENTS)
    assert list(np.array(ELEMENTS)[d[0]]) == ["V"]
    text = cmp.summary()
    assert "B (B) against A (A) on the same 4 spectra (3 compound groups" in text and "exact only with B (1): c.msa" in text
    assert cmp.to_dict()["scores"]["exact match"]["interval"][0] <= 0.0
    with pytest.raises(ValueError, match="not of the same spectra"):
        compare_analyses(first, _analysis("B", files[::-1], labels, []))
