"""Reading the single-element confusion matrix: which elements a network mistakes for which.

The paper simulates "an additional dataset ... [where] each spectrum contains only core-loss edges
corresponding to a single element" to "determine what pairs of elements are often confused"
(Annys et al. 2023, Methods; the matrix is in its Supplementary). ``C[i, j]`` counts spectra of
element i whose highest probability is element j (:func:`eels_helpers.evaluation.metrics.confusion_matrix`
on :func:`eels_helpers.datasets.streaming.single_element_arrays`). The paper names two typical mistakes:
neighbouring lanthanides, whose N edges lie closer than the chemical and instrumental shifts,
and plausible alternatives above the threshold. Many confusions are between elements whose edges
nearly coincide (e.g. Sb M4,5 at 528 eV and O K at 532 eV), which :func:`edge_distances` measures. Element order Be..Bi
(Z = 4..83).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from eels_helpers.physics.elements import ATOMIC_NUMBER, ELEMENTS

#: the lanthanides La..Lu
LANTHANIDES = (57, 71)
#: edges closer than this can coincide in a spectrum: the simulated chemical and instrumental shifts
#: (paper Table 1: each an integer in [-5, 5] eV) move an edge by up to 10 eV either way
OVERLAP_EV = 20.0
_Z = np.array([ATOMIC_NUMBER[e] for e in ELEMENTS])


@lru_cache(maxsize=1)
def edge_distances() -> np.ndarray:
    """(80, 80) eV: for each pair of elements, the smallest |onset difference| between their edge
    families (``EdgeFamily.onset_eV``, the lowest major subshell onset); 0 on the diagonal."""
    from eels_helpers.physics.elements import families_of

    onsets = [[f.onset_eV for f in families_of(e)] for e in ELEMENTS]
    table = np.full((len(ELEMENTS), max(map(len, onsets))), np.nan)
    for i, row in enumerate(onsets):
        table[i, :len(row)] = row
    diff = np.abs(table[:, None, :, None] - table[None, :, None, :])       # (80, 80, F, F)
    out = np.nanmin(diff.reshape(len(ELEMENTS), len(ELEMENTS), -1), axis=2)
    out.flags.writeable = False   # cached: shared by every caller
    return out


def _check_matrix(matrix) -> np.ndarray:
    m = np.asarray(matrix)
    n = len(ELEMENTS)
    if m.shape != (n, n):
        raise ValueError(f"matrix must be the {n} x {n} confusion matrix (true x predicted), got shape {m.shape}")
    if not np.issubdtype(m.dtype, np.integer) or (m < 0).any():
        raise ValueError("matrix must hold non-negative integer counts (metrics.confusion_matrix)")
    return m


def _is_lanthanide(z: np.ndarray) -> np.ndarray:
    return (z >= LANTHANIDES[0]) & (z <= LANTHANIDES[1])


def frequent_confusions(matrix, top: int | None = 10):
    """pandas DataFrame of the off-diagonal cells by decreasing count (ties in element order).

    Columns: ``true``, ``predicted`` (symbols), ``count``, ``fraction`` (of the true element's
    spectra), ``dZ`` (|Z_true - Z_predicted|), ``dE_eV`` (nearest edges, :func:`edge_distances`),
    ``lanthanides`` (both in La..Lu). ``top``: rows kept (None: every non-zero cell).
    """
    import pandas as pd

    m = _check_matrix(matrix)
    off = m * (1 - np.eye(len(m), dtype=m.dtype))
    i, j = np.nonzero(off)
    order = np.lexsort((j, i, -off[i, j]))[:top]
    i, j = i[order], j[order]
    rows = m.sum(axis=1)
    return pd.DataFrame({"true": np.array(ELEMENTS)[i], "predicted": np.array(ELEMENTS)[j], "count": off[i, j],
                         "fraction": off[i, j] / rows[i], "dZ": np.abs(_Z[i] - _Z[j]),
                         "dE_eV": edge_distances()[i, j], "lanthanides": _is_lanthanide(_Z[i]) & _is_lanthanide(_Z[j])})


def confusion_shares(matrix, overlap_eV: float = OVERLAP_EV) -> dict:
    """Summary counts of a confusion matrix.

    ``spectra``, ``correct`` (diagonal), ``accuracy`` (correct / spectra), ``confused`` (off
    the diagonal), ``neighbour_share`` (fraction of the confusions with |dZ| = 1),
    ``lanthanide_share`` (both elements La..Lu), ``lanthanide_neighbour_share`` (both, |dZ| = 1),
    ``overlap_share`` (nearest edges within ``overlap_eV``), ``pairs`` (distinct off-diagonal
    cells). Shares are NaN without confusions.
    """
    m = _check_matrix(matrix)
    dz = np.abs(_Z[:, None] - _Z[None, :])
    lan = _is_lanthanide(_Z)[:, None] & _is_lanthanide(_Z)[None, :]
    off = m * (dz > 0)
    confused, total = int(off.sum()), int(m.sum())

    def share(mask):
        return float(off[mask].sum() / confused) if confused else float("nan")

    accuracy = (total - confused) / total if total else float("nan")
    return {"spectra": total, "correct": total - confused, "accuracy": accuracy, "confused": confused,
            "neighbour_share": share(dz == 1), "lanthanide_share": share(lan),
            "lanthanide_neighbour_share": share(lan & (dz == 1)),
            "overlap_share": share(edge_distances() <= overlap_eV), "pairs": int((off > 0).sum())}


def single_element_outcomes(y_true, y_prob, threshold: float) -> dict[str, float]:
    """Fractions of single-element spectra in four disjoint outcomes at ``threshold``.

    ``exact``: the element is the most probable and the only one at or above the threshold;
    ``extra``: it is the most probable and above the threshold, but so are others (the paper's
    second typical mistake); ``missed``: it is the most probable but below the threshold;
    ``confused``: another element is the most probable (off the confusion matrix's diagonal).
    """
    from eels_helpers.evaluation.metrics import _as_array, binarize

    t, p = _as_array(y_true, "y_true"), _as_array(y_prob, "y_prob")
    if t.shape != p.shape:
        raise ValueError(f"y_true {t.shape} and y_prob {p.shape} must have the same shape")
    if not np.all(t.sum(axis=1) == 1):
        raise ValueError("y_true must hold exactly one element per spectrum (a single-element set)")
    true = t.argmax(axis=1)
    top1 = p.argmax(axis=1) == true
    above = binarize(p, threshold)
    hit = above[np.arange(len(true)), true]
    others = above.sum(axis=1) - hit
    outcome = {"exact": top1 & hit & (others == 0), "extra": top1 & hit & (others > 0), "missed": top1 & ~hit,
               "confused": ~top1}
    return {k: float(v.mean()) for k, v in outcome.items()}


#: element pairs whose major edges lie within a few eV (O K 532 / Sb M4,5 528, N K 401 / Sc L2,3 402,
#: F K 685 / Xe M4,5 672, B K 188 / Cl L2,3 200 eV): the real spectra's onset confusions (chapter 09)
ONSET_TWINS = (("N", "Sc"), ("O", "Sb"), ("F", "Xe"), ("B", "Cl"))


def twin_scores(y_true, y_prob, threshold: float, pairs=ONSET_TWINS):
    """How well a network tells the two elements of each pair apart, on labelled spectra.

    Per pair (a, b), on the spectra labelled a but not b (and b but not a): the F1 of a and of b
    over all spectra, and ``both_a`` / ``both_b``: the share of a-only (b-only) spectra where both
    are reported at ``threshold``. Returns a pandas DataFrame, one row per pair, columns ``pair``,
    ``n_a``, ``n_b``, ``f1_a``, ``f1_b``, ``both_a``, ``both_b`` (NaN where a set is empty)."""
    import pandas as pd

    from eels_helpers.evaluation.metrics import _as_array, binarize

    t, p = _as_array(y_true, "y_true") > 0, binarize(_as_array(y_prob, "y_prob"), threshold).astype(bool)
    if t.shape != p.shape:
        raise ValueError(f"y_true {t.shape} and y_prob {p.shape} must have the same shape")
    unknown = sorted({e for pair in pairs for e in pair} - set(ELEMENTS))
    if unknown:
        raise ValueError(f"unknown element symbols in pairs: {unknown}")

    def f1(i):
        denominator = t[:, i].sum() + p[:, i].sum()
        return 2 * (t[:, i] & p[:, i]).sum() / denominator if denominator else np.nan

    def both(only, i, j):
        return float((p[only, i] & p[only, j]).mean()) if only.any() else np.nan

    rows = []
    for a, b in pairs:
        i, j = ELEMENTS.index(a), ELEMENTS.index(b)
        only_a, only_b = t[:, i] & ~t[:, j], t[:, j] & ~t[:, i]
        rows.append({"pair": f"{a}/{b}", "n_a": int(only_a.sum()), "n_b": int(only_b.sum()),
                     "f1_a": f1(i), "f1_b": f1(j), "both_a": both(only_a, i, j), "both_b": both(only_b, i, j)})
    return pd.DataFrame(rows, columns=["pair", "n_a", "n_b", "f1_a", "f1_b", "both_a", "both_b"])


def simulated_twin_scores(model, config, threshold: float, *, n_spectra: int = 1920, seed: int = 99,
                          pairs=ONSET_TWINS):
    """:func:`twin_scores` of ``model`` (name, path or loaded model) on ``n_spectra`` (>= 1) freshly
    simulated spectra (:func:`eels_helpers.datasets.streaming.simulated_arrays`, batches of 64,
    query elements drawn from the pairs' elements, simulator configuration ``config``: a
    :class:`~eels_helpers.simulation.config.SimulationConfig` or a name of ``NAMED_CONFIGS``)."""
    from eels_helpers.datasets.streaming import simulated_arrays
    from eels_helpers.inference.predict import _as_loaded, run_model

    elements = sorted({e for pair in pairs for e in pair}, key=ELEMENTS.index)
    spectra, labels = simulated_arrays(n_spectra, seed, 64, config, elements)
    return twin_scores(labels, run_model(_as_loaded(model, "cpu"), spectra), threshold, pairs)


def plot_confusion_matrix(matrix, ax=None, span: tuple[str, str] | None = None, label_every: int = 2,
                          cmap: str = "viridis"):
    """The confusion matrix as an image, counts on a log colour scale (empty cells blank).

    ``span``: (first, last) element symbols of a square block to show, e.g. ("La", "Lu"); every
    ``label_every``-th element is labelled on both axes. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    m = _check_matrix(matrix)
    if not isinstance(label_every, int) or label_every < 1:
        raise ValueError(f"label_every must be an integer >= 1, got {label_every!r}")
    lo, hi = (0, len(ELEMENTS) - 1) if span is None else (ELEMENTS.index(span[0]), ELEMENTS.index(span[1]))
    if hi <= lo:
        raise ValueError(f"span must run from a lighter to a heavier element, got {span!r}")
    block = m[lo:hi + 1, lo:hi + 1]
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 6.5) if span is None else (5, 4.3))
    vmax = max(2, int(m.max()))   # the whole matrix's scale, so that blocks compare with it
    image = ax.imshow(np.ma.masked_equal(block, 0), cmap=cmap, norm=LogNorm(vmin=1, vmax=vmax),
                      interpolation="nearest", origin="upper")
    ticks = np.arange(0, hi - lo + 1, label_every)
    labels = np.array(ELEMENTS[lo:hi + 1])[ticks]
    fontsize = 6 if len(ticks) > 30 else 8
    ax.set_xticks(ticks, labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(ticks, labels, fontsize=fontsize)
    ax.set_xlabel("predicted element (highest probability)")
    ax.set_ylabel("true element")
    steps = [k * 10 ** e for e in range(len(str(vmax))) for k in (1, 2, 5) if k * 10 ** e <= vmax]
    bar = ax.figure.colorbar(image, ax=ax, label="spectra", shrink=0.85, ticks=steps, format="%d")
    bar.ax.minorticks_off()
    return ax


__all__ = ["LANTHANIDES", "OVERLAP_EV", "confusion_shares", "edge_distances", "frequent_confusions",
           "plot_confusion_matrix", "single_element_outcomes"]
