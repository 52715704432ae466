"""Two models on the same labelled spectra: which spectra each gets right, and whether their
difference in F1 and exact match is larger than the spectra can resolve.

A change that moves the real F1 by 0.01 moves one or two of ~94 spectra, and spectra of one
compound fail together. :func:`paired_bootstrap` therefore resamples **compound groups** (the
manifest's ``compound_group``), not spectra: a percentile bootstrap for clustered data (Davison &
Hinkley, *Bootstrap Methods and their Application*, 1997, sec. 3.8; Efron & Tibshirani 1993,
ch. 13). In each of ``n_boot`` resamples the groups are drawn with replacement, every spectrum
weighs as often as its group was drawn, and both models' scores are recomputed on that same
resample (paired: the spectra's difficulty cancels); the interval of the difference B - A is the
2.5th-97.5th percentile of the resampled differences, and ``share_b_better`` the fraction of
resamples in which B scores higher (ties count half).

The decisions are those of ``eels-id failures`` (:func:`eels_helpers.evaluation.failure_analysis.
analyse_failures`: each model's own threshold, the twin resolvers, Tc and Pm withheld) over all
the spectra: rebuilt from the labels and each analysis's mistakes (:func:`decisions_from_mistakes`),
so the counts agree with its table by construction. They are not the compound-grouped
cross-validated scores of ``eels-id evaluate`` (thresholds chosen on validation halves), which a
shipping decision uses; this comparison says how far such a measurement can see.

Scores: support-weighted F1 (the paper's, :mod:`eels_helpers.evaluation.metrics`) and exact match
ratio, carbon left out. Plain NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eels_helpers.evaluation.intervals import LEVEL, N_BOOT, _check, _resample_weights, _weighted_scores
from eels_helpers.evaluation.metrics import CARBON_INDEX

__all__ = ["ScoreDifference", "PairedComparison", "decisions_from_mistakes", "paired_bootstrap", "compare_analyses"]


@dataclass(frozen=True)
class ScoreDifference:
    """One score of models A and B on the same spectra, ``difference`` = b - a, its percentile
    interval (``low``, ``high``) over compound-group resamples and ``share_b_better``."""

    name: str
    a: float
    b: float
    difference: float
    low: float
    high: float
    share_b_better: float

    def describe(self, level: float = LEVEL) -> str:
        return (f"{self.name}: {self.a:.3f} -> {self.b:.3f}, difference {self.difference:+.3f} "
                f"({100 * level:.0f} % interval {self.low:+.3f} .. {self.high:+.3f}; "
                f"B higher in {100 * self.share_b_better:.0f} % of resamples)")


@dataclass(frozen=True)
class PairedComparison:
    """Models A and B on the same ``n_spectra`` labelled spectra in ``n_groups`` compound groups:
    ``scores`` (F1, exact match: :class:`ScoreDifference`), the files only B gets exactly right
    (``fixed``) and those only A does (``broken``)."""

    model_a: str
    model_b: str
    n_spectra: int
    n_groups: int
    scores: tuple
    fixed: list = field(default_factory=list)
    broken: list = field(default_factory=list)
    n_boot: int = N_BOOT
    level: float = LEVEL

    def summary(self) -> str:
        lines = [f"{self.model_b} (B) against {self.model_a} (A) on the same {self.n_spectra} spectra "
                 f"({self.n_groups} compound groups; decisions as eels-id failures makes them, carbon left out; "
                 f"intervals: {self.n_boot} resamples of the compound groups)"]
        lines += ["  " + s.describe(self.level) for s in self.scores]
        lines.append(f"  exact only with B ({len(self.fixed)}): {', '.join(self.fixed) or '-'}")
        lines.append(f"  exact only with A ({len(self.broken)}): {', '.join(self.broken) or '-'}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"model_a": self.model_a, "model_b": self.model_b, "spectra": self.n_spectra,
                "compound_groups": self.n_groups, "n_boot": self.n_boot, "level": self.level,
                "scores": {s.name: {"a": s.a, "b": s.b, "difference": s.difference, "interval": [s.low, s.high],
                                    "share_b_better": s.share_b_better} for s in self.scores},
                "exact_only_b": list(self.fixed), "exact_only_a": list(self.broken)}


def decisions_from_mistakes(labels: np.ndarray, mistakes, elements) -> np.ndarray:
    """(n, 80) bool decisions: the labels with each mistake's element added ("FP") or removed
    ("FN") in its row (``Mistake.row``), ``elements`` the symbols of the 80 columns."""
    decided = np.asarray(labels, dtype=bool).copy()
    index = {el: k for k, el in enumerate(elements)}
    for m in mistakes:
        if m.kind not in ("FP", "FN"):
            raise ValueError(f"a mistake's kind must be 'FP' or 'FN', got {m.kind!r}")
        decided[m.row, index[m.element]] = m.kind == "FP"
    return decided


def _group_weights(groups, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) weights: how often each spectrum's group is drawn in each resample (the groups resampled
    as :func:`~eels_helpers.evaluation.intervals._resample_weights` resamples spectra)."""
    _, inverse = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    return _resample_weights(int(inverse.max()) + 1, n_boot, seed)[:, inverse]


def _scores(t: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(k, 2) weighted F1 and exact match of decisions ``p`` against ``t`` (n, classes) under
    spectrum weights ``w`` (k, n)."""
    tp, fp, fn = (w @ a.astype(np.float64) for a in (t & p, ~t & p, t & ~p))
    f1 = _weighted_scores(tp, fp, fn)[:, 2]
    exact = np.all(t == p, axis=1).astype(np.float64)
    return np.stack([f1, (w @ exact) / w.sum(axis=1)], axis=1)


def paired_bootstrap(y_true, decided_a, decided_b, groups, *, exclude_carbon: bool = True, n_boot: int = N_BOOT,
                     seed: int = 0, level: float = LEVEL) -> tuple[ScoreDifference, ScoreDifference]:
    """F1 and exact match of two models' decisions on the same spectra, with the percentile
    interval of their difference over resampled compound groups (module docstring).

    ``y_true``, ``decided_a``, ``decided_b``: (n, 80) labels and decisions in {0, 1}; ``groups``:
    (n,) the compound group of each spectrum; ``exclude_carbon``: leave carbon out, as for real
    spectra; ``n_boot`` >= 100 resamples of ``seed``; ``level`` in [0.5, 1)."""
    _check(n_boot, level)
    arrays = [np.asarray(a) for a in (y_true, decided_a, decided_b)]
    if any(a.ndim != 2 for a in arrays) or len({a.shape for a in arrays}) != 1:
        raise ValueError(f"labels and both decisions must be (n, classes) arrays of one shape, got "
                         f"{[a.shape for a in arrays]}")
    n = arrays[0].shape[0]
    if n < 1 or len(groups) != n:
        raise ValueError(f"need at least one spectrum and one compound group per spectrum, got {n} spectra and "
                         f"{len(groups)} groups")
    if exclude_carbon:
        keep = np.arange(arrays[0].shape[1]) != CARBON_INDEX
        arrays = [a[:, keep] for a in arrays]
    t, a, b = (x > 0.5 for x in arrays)
    w = _group_weights(groups, n_boot, seed)
    ones = np.ones((1, n))
    point_a, point_b = _scores(t, a, ones)[0], _scores(t, b, ones)[0]
    diff = _scores(t, b, w) - _scores(t, a, w)
    tail = 100 * (1 - level) / 2
    out = []
    for k, name in enumerate(("F1", "exact match")):
        low, high = np.percentile(diff[:, k], [tail, 100 - tail])
        better = float(np.mean(diff[:, k] > 0) + 0.5 * np.mean(diff[:, k] == 0))
        out.append(ScoreDifference(name, float(point_a[k]), float(point_b[k]), float(point_b[k] - point_a[k]),
                                   float(low), float(high), better))
    return tuple(out)


def compare_analyses(a, b, *, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> PairedComparison:
    """:class:`PairedComparison` of two :class:`~eels_helpers.evaluation.failure_analysis.
    FailureAnalysis` results on the same manifest (same files in the same order)."""
    from eels_helpers.evaluation.real_spectra import label_matrix
    from eels_helpers.physics.elements import ELEMENTS

    files_a, files_b = list(a.manifest["file"]), list(b.manifest["file"])
    if files_a != files_b:
        raise ValueError("the two analyses are not of the same spectra (files or their order differ)")
    labels = label_matrix(list(a.manifest["labels"]))
    da, db = (decisions_from_mistakes(labels, x.mistakes, ELEMENTS) for x in (a, b))
    groups = list(a.manifest["compound_group"])
    scores = paired_bootstrap(labels, da, db, groups, n_boot=n_boot, seed=seed, level=level)
    wrong_a, wrong_b = {m.file for m in a.mistakes}, {m.file for m in b.mistakes}
    return PairedComparison(a.model, b.model, len(files_a), len(set(map(str, groups))), scores,
                            fixed=[f for f in files_a if f in wrong_a and f not in wrong_b],
                            broken=[f for f in files_a if f in wrong_b and f not in wrong_a],
                            n_boot=n_boot, level=level)
