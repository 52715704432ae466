"""The paper's evaluation metrics for multi-label element identification.

Annys et al. (2023), Methods: precision, recall and F1 weighted by each element's support
(scikit-learn ``average='weighted'``), exact match ratio (EMR), and RMSE between predicted
probabilities and labels; the threshold is the one of 0.05, 0.10, ..., 0.95 where precision and
recall are closest on validation data; on experimental data carbon is left out of every metric;
the confusion matrix compares argmax(prediction) with argmax(label) on single-element spectra.

Arrays: labels ``y_true`` (N, 80) in {0, 1}, probabilities ``y_prob`` (N, 80) in [0, 1], element
order Be..Bi (carbon is column 2). Plain NumPy; torch tensors are converted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CARBON_INDEX = 2  # Be=0, B=1, C=2 (network output order)
N_ELEMENTS = 80

#: the paper's threshold grid 0.05, 0.10, ..., 0.95
THRESHOLDS = np.round(np.arange(1, 20) * 0.05, 2)


def _as_array(a, name: str) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().float().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (spectra, elements), got shape {a.shape}")
    return a


def _prepare(y_true, y_score, exclude_carbon: bool) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_score = _as_array(y_true, "y_true"), _as_array(y_score, "y_prob")
    if y_true.shape != y_score.shape:
        raise ValueError(f"y_true {y_true.shape} and y_prob {y_score.shape} must have the same shape")
    if exclude_carbon:
        keep = np.arange(y_true.shape[1]) != CARBON_INDEX
        y_true, y_score = y_true[:, keep], y_score[:, keep]
    return y_true > 0.5, y_score


def binarize(y_prob, threshold: float) -> np.ndarray:
    """Predicted labels: p >= threshold (Keras/TF convention for thresholded metrics)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    return np.asarray(y_prob) >= threshold


def _counts(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.sum(t & p, axis=0, dtype=np.float64)
    fp = np.sum(~t & p, axis=0, dtype=np.float64)
    fn = np.sum(t & ~p, axis=0, dtype=np.float64)
    return tp, fp, fn


def weighted_scores_from_counts(tp, fp, fn) -> tuple[float, float, float]:
    """Support-weighted precision, recall, F1 from per-class counts (sklearn semantics, zero_division=0).

    P_c = tp/(tp+fp), R_c = tp/(tp+fn), F1_c = 2tp/(2tp+fp+fn) (0 where undefined);
    score = sum_c s_c score_c / sum_c s_c with support s_c = tp + fn; 0 if there is no positive label.
    """
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    support = tp + fn
    total = support.sum()
    if total == 0:
        return 0.0, 0.0, 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    w = support / total
    return float(w @ precision), float(w @ recall), float(w @ f1)


def precision_recall_f1(y_true, y_prob, threshold: float = 0.5,
                        exclude_carbon: bool = False) -> tuple[float, float, float]:
    """Weighted precision, recall and F1 of ``y_prob >= threshold`` (pass 0/1 predictions with any
    threshold in (0, 1])."""
    t, s = _prepare(y_true, y_prob, exclude_carbon)
    return weighted_scores_from_counts(*_counts(t, binarize(s, threshold)))


def exact_match_ratio(y_true, y_prob, threshold: float = 0.5, exclude_carbon: bool = False) -> float:
    """Fraction of spectra whose whole predicted element set equals the true set (subset accuracy)."""
    t, s = _prepare(y_true, y_prob, exclude_carbon)
    return float(np.mean(np.all(t == binarize(s, threshold), axis=1)))


def rmse(y_true, y_prob, exclude_carbon: bool = False) -> float:
    """Root mean square error sqrt(mean((p - y)^2)) over all spectra and elements."""
    t, s = _prepare(y_true, y_prob, exclude_carbon)
    return float(np.sqrt(np.mean((s - t) ** 2)))


def select_threshold(y_true, y_prob, thresholds=THRESHOLDS, exclude_carbon: bool = False) -> float:
    """The threshold of ``thresholds`` where weighted precision and recall are closest (first on ties).

    Thresholds at which precision and recall are both 0 (nothing correct is predicted) are skipped
    unless all are: there |P - R| = 0 would be a degenerate "match".
    """
    t, s = _prepare(y_true, y_prob, exclude_carbon)
    gaps = []
    for th in thresholds:
        p, r, _ = weighted_scores_from_counts(*_counts(t, binarize(s, th)))
        gaps.append(abs(p - r) if p + r > 0 else np.inf)
    if np.all(np.isinf(gaps)):
        gaps = np.zeros(len(gaps))
    return float(np.asarray(thresholds)[int(np.argmin(gaps))])


def threshold_curve(y_true, y_prob, thresholds=THRESHOLDS, exclude_carbon: bool = False) -> dict[str, np.ndarray]:
    """Weighted precision, recall, F1 and EMR at each threshold: {"threshold", "precision",
    "recall", "f1", "emr"}, arrays of len(thresholds) (what :func:`select_threshold` scans)."""
    t, s = _prepare(y_true, y_prob, exclude_carbon)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.ndim != 1 or thresholds.size == 0:
        raise ValueError(f"thresholds must be a non-empty 1-D sequence of probabilities, got shape {thresholds.shape}")
    scores = np.array([weighted_scores_from_counts(*_counts(t, binarize(s, th))) for th in thresholds])
    emr = np.array([np.mean(np.all(t == binarize(s, th), axis=1)) for th in thresholds])
    return {"threshold": thresholds, "precision": scores[:, 0], "recall": scores[:, 1], "f1": scores[:, 2],
            "emr": emr}


@dataclass(frozen=True)
class Scores:
    """The paper's Table 2/3 columns: support-weighted F1, precision and recall, exact match
    ratio (fractions in [0, 1]), RMSE (probability units) and the threshold they were taken at."""

    f1: float
    precision: float
    recall: float
    emr: float
    rmse: float
    threshold: float

    def __post_init__(self):
        import numbers

        for name in ("f1", "precision", "recall", "emr", "rmse", "threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")
            object.__setattr__(self, name, float(value))      # numpy floats -> float (JSON)

    def as_dict(self) -> dict[str, float]:
        return dict(f1=self.f1, precision=self.precision, recall=self.recall, emr=self.emr, rmse=self.rmse,
                    threshold=self.threshold)


def evaluate(y_true, y_prob, threshold: float = 0.5, exclude_carbon: bool = False) -> Scores:
    """All metrics at ``threshold``; ``exclude_carbon=True`` for experimental data."""
    p, r, f = precision_recall_f1(y_true, y_prob, threshold, exclude_carbon)
    return Scores(f1=f, precision=p, recall=r, emr=exact_match_ratio(y_true, y_prob, threshold, exclude_carbon),
                  rmse=rmse(y_true, y_prob, exclude_carbon), threshold=float(threshold))


def evaluate_at_validation_threshold(y_val, p_val, y_test, p_test, exclude_carbon: bool = False) -> Scores:
    """Test metrics at the threshold chosen on validation data by the paper's rule (precision
    closest to recall; :func:`select_threshold`)."""
    return evaluate(y_test, p_test, select_threshold(y_val, p_val, exclude_carbon=exclude_carbon), exclude_carbon)


def confusion_matrix(y_true, y_prob, n_classes: int = N_ELEMENTS) -> np.ndarray:
    """Counts C[i, j] of spectra whose label argmax is i and prediction argmax is j (single-element set)."""
    t, s = _as_array(y_true, "y_true"), _as_array(y_prob, "y_prob")
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (t.argmax(axis=1), s.argmax(axis=1)), 1)
    return matrix
