"""The paper's two typical mistakes on real spectra, and the examples of Fig. 6.

Annys et al. (2023), Results: the networks confuse neighbouring elements (above all the
lanthanides, whose N edges nearly coincide) and report plausible extra elements that a higher
threshold would remove. :func:`common_mistakes` counts both in predictions ``probabilities``
(n, 80) against labels (n, 80) at a threshold, carbon left out as in every experimental
metric; :func:`choose_examples` picks Fig. 6's spectra deterministically and
:func:`plot_examples` draws them from an :class:`eels_helpers.evaluation.real_spectra.Evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from eels_helpers.evaluation.confusion import LANTHANIDES
from eels_helpers.evaluation.real_spectra import metric_mask

if TYPE_CHECKING:
    from eels_helpers.evaluation.real_spectra import Evaluation


@dataclass(eq=False)
class Mistakes:
    """The paper's two typical mistakes, counted on a set of predictions (carbon left out).

    counts: ``spectra``, ``exact_matches``, ``false_positives``, ``false_negatives``,
    ``neighbour_fp`` (false positives of an element Z whose neighbour Z-1 or Z+1 is present),
    ``lanthanide_fp`` (false positives that are lanthanides), ``lanthanide_neighbour_fp``
    (neighbour false positives where both elements are lanthanides, Z 57-71),
    ``neighbour_swaps`` (present elements missed while a neighbour was detected),
    ``threshold_only_fp`` (false positives in spectra whose true elements are exactly the
    top-ranked ones: a higher threshold would have removed them without losing a true
    element), ``threshold_only_spectra`` (spectra whose only errors are such) and ``other_fp``
    (false positives that are neither a neighbour nor threshold-only).
    false_positives: one row per false positive (spectrum index, file, element, probability,
    true elements, present neighbours, flags).
    """

    counts: dict
    false_positives: Any


def _neighbour_matrix(z: np.ndarray, lo: int = 0, hi: int = 10_000) -> np.ndarray:
    """(80, 80) bool: |Z_j - Z_k| == 1 with both atomic numbers in [lo, hi]."""
    inside = (z >= lo) & (z <= hi)
    return (np.abs(z[:, None] - z[None, :]) == 1) & inside[:, None] & inside[None, :]


def common_mistakes(probabilities: np.ndarray, labels: np.ndarray, threshold: float, files=None) -> Mistakes:
    """Count the paper's typical mistakes (neighbouring elements, thresholding) in predictions
    ``probabilities`` (n, 80) against ``labels`` (n, 80) at ``threshold``; see :class:`Mistakes`."""
    import pandas as pd

    from eels_helpers.physics.elements import ELEMENTS, atomic_number

    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels) > 0.5
    if p.ndim != 2 or p.shape != y.shape or p.shape[1] != len(ELEMENTS):
        raise ValueError(f"probabilities {p.shape} and labels {y.shape} must both be (n, 80)")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be a probability in (0, 1), got {threshold}")
    files = [f"spectrum {i}" for i in range(len(p))] if files is None else list(files)
    if len(files) != len(p):
        raise ValueError(f"got {len(files)} file names for {len(p)} spectra")
    scored = metric_mask()
    y = y & scored
    detected = (p >= threshold) & scored
    fp, fn = detected & ~y, y & ~detected
    z = np.array([atomic_number(s) for s in ELEMENTS])
    near = _neighbour_matrix(z)
    near_lan = _neighbour_matrix(z, *LANTHANIDES)
    has_true_neighbour = (y.astype(np.int64) @ near.astype(np.int64)) > 0
    has_true_lan_neighbour = (y.astype(np.int64) @ near_lan.astype(np.int64)) > 0
    has_fp_neighbour = (fp.astype(np.int64) @ near.astype(np.int64)) > 0
    n_true = y.sum(axis=1)
    lowest_true = np.where(y, p, np.inf).min(axis=1)
    highest_other = np.where(scored & ~y, p, -np.inf).max(axis=1)
    ranked_right = (n_true > 0) & (lowest_true > highest_other)
    threshold_only = fp & ranked_right[:, None]
    lanthanide = (z >= LANTHANIDES[0]) & (z <= LANTHANIDES[1])
    exact = np.all(detected == y, axis=1)
    counts = {
        "spectra": int(len(p)),
        "exact_matches": int(exact.sum()),
        "false_positives": int(fp.sum()),
        "false_negatives": int(fn.sum()),
        "neighbour_fp": int((fp & has_true_neighbour).sum()),
        "lanthanide_fp": int((fp & lanthanide).sum()),
        "lanthanide_neighbour_fp": int((fp & has_true_lan_neighbour).sum()),
        "neighbour_swaps": int((fn & has_fp_neighbour).sum()),
        "threshold_only_fp": int(threshold_only.sum()),
        "threshold_only_spectra": int((threshold_only.any(axis=1)).sum()),
        "other_fp": int((fp & ~has_true_neighbour & ~threshold_only).sum()),
    }
    rows = []
    for i, j in zip(*np.nonzero(fp)):
        present = [ELEMENTS[k] for k in np.flatnonzero(y[i])]
        rows.append({
            "spectrum": int(i), "file": files[i], "element": ELEMENTS[j], "probability": round(float(p[i, j]), 3),
            "true elements": ";".join(present),
            "present neighbours": ";".join(ELEMENTS[k] for k in np.flatnonzero(near[j] & y[i])),
            "lanthanide neighbour": bool(has_true_lan_neighbour[i, j]),
            "threshold only": bool(threshold_only[i, j]),
        })
    columns = ["spectrum", "file", "element", "probability", "true elements", "present neighbours",
               "lanthanide neighbour", "threshold only"]
    table = pd.DataFrame(rows, columns=columns).astype(
        {"spectrum": np.int64, "probability": np.float64, "lanthanide neighbour": bool, "threshold only": bool})
    return Mistakes(counts, table)


# ----------------------------------------------------------------------------- Fig. 6


def choose_examples(probabilities: np.ndarray, labels: np.ndarray, threshold: float, *, n_correct: int = 3,
                    n_mistakes: int = 3) -> list[tuple[int, str]]:
    """Fig. 6's examples, deterministically: ``[(row, kind), ...]``, first up to ``n_correct``
    exact matches spread over the periodic table (evenly spaced in their heaviest true
    element), then mistakes taken in turn from three kinds: "neighbouring lanthanide"
    (highest false probability first), "threshold only" (largest margin between the true
    elements and the false positive first) and "other mistake" (neither; in row order): ``n_mistakes``
    of them plus as many as correct examples were lacking. Carbon is left out as in the
    metrics; spectra labelled with carbon only are skipped."""
    from eels_helpers.physics.elements import ELEMENTS, atomic_number

    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels) > 0.5
    if p.shape != y.shape or p.ndim != 2:
        raise ValueError(f"probabilities {p.shape} and labels {y.shape} must both be (n, 80)")
    if n_correct < 0 or n_mistakes < 0:
        raise ValueError(f"n_correct and n_mistakes must be >= 0, got {n_correct}, {n_mistakes}")
    mistakes = common_mistakes(p, y, threshold).false_positives
    scored = metric_mask()
    y = y & scored
    detected = (p >= threshold) & scored
    has_true = y.any(axis=1)
    exact = np.all(detected == y, axis=1) & has_true
    z = np.array([atomic_number(s) for s in ELEMENTS])
    heaviest = np.where(y, z, 0).max(axis=1)

    correct = np.flatnonzero(exact)
    correct = correct[np.argsort(heaviest[correct], kind="stable")]
    if correct.size and n_correct:
        picks = np.unique(np.round(np.linspace(0, correct.size - 1, min(n_correct, correct.size))).astype(int))
        correct = correct[picks]
    chosen = [(int(i), "correct") for i in correct[:n_correct]]
    n_mistakes += n_correct - len(chosen)

    lan = mistakes[mistakes["lanthanide neighbour"]].sort_values("probability", ascending=False, kind="stable")
    margin = np.where(y, p, np.inf).min(axis=1)
    thr = mistakes[mistakes["threshold only"]].assign(margin=lambda d: margin[d["spectrum"]] - d["probability"])
    thr = thr.sort_values("margin", ascending=False, kind="stable")
    lan_rows = [int(i) for i in dict.fromkeys(lan["spectrum"])]
    thr_rows = [int(i) for i in dict.fromkeys(thr["spectrum"])]
    wrong = np.flatnonzero(~np.all(detected == y, axis=1) & has_true)
    queues = [("neighbouring lanthanide", lan_rows), ("threshold only", thr_rows),
              ("other mistake", [int(i) for i in wrong if i not in set(lan_rows) | set(thr_rows)])]
    taken: set[int] = set()
    picked: list[tuple[int, str]] = []
    while len(picked) < n_mistakes and any(q for _, q in queues):
        for kind, queue in queues:
            while queue and queue[0] in taken:
                queue.pop(0)
            if queue and len(picked) < n_mistakes:
                row = int(queue.pop(0))
                taken.add(row)
                picked.append((row, kind))
    return chosen + picked


def plot_examples(evaluation: Evaluation, examples, *, ncols: int = 2, top: int = 6):
    """Fig. 6: for each ``(row, kind)`` of ``examples`` (rows of ``evaluation``, which must hold
    its inputs), the network input with the onsets of the detected elements and the ``top``
    probabilities with the threshold (green: detected and present, red: detected, not present,
    orange: present, missed). Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    from eels_helpers.inference.predict import Prediction
    from eels_helpers.inference.prediction_figures import draw_prediction
    from eels_helpers.physics.elements import ELEMENTS

    if evaluation.inputs is None:
        raise ValueError("the evaluation holds no inputs (evaluate() keeps them; select() keeps them too)")
    if not examples:
        raise ValueError("no examples to plot")
    n = len(examples)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, 2 * ncols, figsize=(7.2 * ncols, 3.3 * nrows), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1] * ncols})
    for k, (row, kind) in enumerate(examples):
        ax, bar = axes[k // ncols][2 * (k % ncols)], axes[k // ncols][2 * (k % ncols) + 1]
        probs = evaluation.probabilities[row]
        order = np.argsort(-probs, kind="stable")
        detected = tuple(ELEMENTS[j] for j in order if probs[j] >= evaluation.threshold)
        truth = [s for s in evaluation.table["labels"][row].split(";") if s]
        rec = evaluation.table.iloc[row]
        pred = Prediction(source=rec["file"], probabilities=probs, threshold=evaluation.threshold,
                          detected=detected, offset_eV=float(rec["offset_eV"]), inputs=evaluation.inputs[row])
        title = (f"{rec['file'][:38]} [{kind}]\ntrue: {', '.join(truth) or '-'}; "
                 f"detected: {', '.join(detected) or 'nothing'}")
        draw_prediction(ax, bar, pred, top=top, truth=truth, title=title)
    for k in range(n, nrows * ncols):
        axes[k // ncols][2 * (k % ncols)].axis("off")
        axes[k // ncols][2 * (k % ncols) + 1].axis("off")
    fig.tight_layout()
    return fig
