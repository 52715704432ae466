"""Confidence intervals for scores on few spectra (the real-spectra tables flag small samples).

A score on a handful of real spectra is a coarse estimate: with 7 test spectra one spectrum
moves the exact match ratio by 0.14. The tables of chapter 07 therefore give, for a split of
fewer than :data:`SMALL_SAMPLE` spectra, its size and a 95 % interval:

* exact match ratio (a proportion of spectra): the Wilson score interval
  (:func:`wilson_interval`), which stays inside [0, 1] and is sensible at 0/n and n/n;
* weighted F1, precision, recall and RMSE: a percentile bootstrap over spectra
  (:func:`bootstrap_intervals`): the spectra are resampled with replacement ``n_boot`` times
  (seeded) and each score is recomputed from the per-spectrum counts; the interval is the
  2.5th to 97.5th percentile of the resampled scores (it collapses to the score itself when
  every spectrum is scored alike, e.g. all right: the exact match's Wilson interval then still
  shows how little a few spectra say);
* the threshold chosen on a validation split (:func:`threshold_range`): the paper's rule
  (:func:`eels_helpers.evaluation.metrics.select_threshold`) applied to each bootstrap
  resample of the validation spectra; the 2.5th-97.5th percentile range shows how much the
  choice depends on which spectra happened to be there.

Arrays: labels ``y_true`` (n, 80) in {0, 1}, probabilities ``y_prob`` (n, 80), element order
Be..Bi; ``exclude_carbon`` as in :mod:`eels_helpers.evaluation.metrics`. Plain NumPy.
"""

from __future__ import annotations

import numpy as np

from eels_helpers.evaluation.metrics import THRESHOLDS, _prepare, binarize

#: a split with fewer spectra than this is flagged in the tables with its size and intervals
SMALL_SAMPLE = 20
#: bootstrap resamples (percentile intervals are stable to about +-0.01 at this number)
N_BOOT = 2000
#: the two-sided level of every interval
LEVEL = 0.95


def _check(n_boot: int, level: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
        raise ValueError(f"n_boot must be an integer >= 100 (bootstrap resamples), got {n_boot!r}")
    if not 0.5 <= level < 1.0:
        raise ValueError(f"level must be in [0.5, 1) (e.g. 0.95 for a 95 % interval), got {level!r}")


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n`` (both counts), e.g. the exact
    match ratio: the ``level`` two-sided interval, inside [0, 1]."""
    from statistics import NormalDist

    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got successes={successes}, n={n}")
    _check(N_BOOT, level)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def _resample_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) counts: how often each spectrum is drawn in each resample (multinomial)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def _weighted_scores(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """(..., 3) support-weighted precision, recall, F1 from per-class counts (..., classes),
    the semantics of :func:`eels_helpers.evaluation.metrics.weighted_scores_from_counts`."""
    support = tp + fn
    total = support.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        w = np.where(total > 0, support / total, 0.0)
    return np.stack([(w * precision).sum(-1), (w * recall).sum(-1), (w * f1).sum(-1)], axis=-1)


def bootstrap_intervals(y_true, y_prob, threshold: float, *, exclude_carbon: bool = True, n_boot: int = N_BOOT,
                        seed: int = 0, level: float = LEVEL) -> dict[str, tuple[float, float]]:
    """Percentile-bootstrap intervals over spectra of the scores at ``threshold``.

    Parameters
    ----------
    y_true, y_prob : array_like, shape (n, 80)
        Labels in {0, 1} and probabilities of ``n >= 1`` spectra.
    threshold : float
        The decision threshold the scores are taken at (probability).
    exclude_carbon : bool
        Leave carbon out, as for real spectra.
    n_boot : int
        Bootstrap resamples (at least 100).
    seed : int
        Seed of the resampling (the same seed gives the same intervals).
    level : float
        Two-sided level, in [0.5, 1).

    Returns
    -------
    dict
        ``{"f1", "precision", "recall", "rmse", "emr": (low, high)}``; ``emr`` is the Wilson
        interval (:func:`wilson_interval`), the others percentiles of the resampled scores.
    """
    _check(n_boot, level)
    t, s = _prepare(y_true, y_prob, exclude_carbon)
    n = t.shape[0]
    if n < 1:
        raise ValueError("bootstrap_intervals needs at least one spectrum")
    p = binarize(s, threshold)
    w = _resample_weights(n, n_boot, seed)
    tp, fp, fn = (w @ a.astype(np.float64) for a in (t & p, ~t & p, t & ~p))
    scores = _weighted_scores(tp, fp, fn)
    mse = w @ np.mean((s - t) ** 2, axis=1) / n
    tail = 100 * (1 - level) / 2
    out = {name: tuple(float(v) for v in np.percentile(scores[:, k], [tail, 100 - tail]))
           for k, name in enumerate(("precision", "recall", "f1"))}
    out["rmse"] = tuple(float(v) for v in np.sqrt(np.percentile(mse, [tail, 100 - tail])))
    out["emr"] = wilson_interval(int(np.all(t == p, axis=1).sum()), n, level)
    return out


def threshold_range(y_true, y_prob, *, thresholds=THRESHOLDS, exclude_carbon: bool = True, n_boot: int = N_BOOT,
                    seed: int = 0, level: float = LEVEL) -> tuple[float, float]:
    """Percentile range of the threshold the paper's rule (precision closest to recall, first
    on ties; thresholds where both are 0 skipped unless all are) picks on bootstrap resamples
    of the validation spectra."""
    _check(n_boot, level)
    t, s = _prepare(y_true, y_prob, exclude_carbon)
    n = t.shape[0]
    if n < 1:
        raise ValueError("threshold_range needs at least one validation spectrum")
    thresholds = np.asarray(thresholds, dtype=np.float64)
    w = _resample_weights(n, n_boot, seed).astype(np.float32)          # counts <= n: exact in float32
    p = np.stack([binarize(s, th) for th in thresholds], axis=1)      # (n, thresholds, classes)
    tt = np.broadcast_to(t[:, None, :], p.shape)
    k, c = p.shape[1:]
    tp, fp, fn = ((w @ a.reshape(n, k * c).astype(np.float32)).reshape(n_boot, k, c).astype(np.float64)
                  for a in (tt & p, ~tt & p, tt & ~p))
    support = tp + fn                                                  # weighted P and R, as _weighted_scores
    total = support.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = (tp / np.where(tp + fp > 0, tp + fp, 1.0) * support).sum(-1) / np.where(total > 0, total, 1.0)
        recall = tp.sum(-1) / np.where(total > 0, total, 1.0)
    gaps = np.where(precision + recall > 0, np.abs(precision - recall), np.inf)
    gaps[np.all(np.isinf(gaps), axis=1)] = 0.0
    chosen = thresholds[np.argmin(gaps, axis=1)]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(chosen, [tail, 100 - tail], method="inverted_cdf")
    return float(low), float(high)
