"""Figures of predictions: the pre-processed spectrum with the detected elements' onsets marked, and
the top probabilities (:func:`draw_prediction`, :func:`plot_predictions`; ``eels-id predict --plot``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from eels_helpers.inference.predict import Prediction

__all__ = ["draw_prediction", "edge_labels", "plot_predictions", "save_figure"]


def draw_prediction(ax, bar, pred: Prediction, top: int = 8, truth: Sequence[str] | None = None,
                    title: str | None = None) -> None:
    """Draw one prediction on two matplotlib axes: ``ax`` the pre-processed spectrum (mean
    over an SI) with the onsets of the detected elements' major edges marked, ``bar`` the
    ``top`` probabilities with the threshold as a dotted line.

    truth: the true elements, when known: they get a bar even outside the top ones, and bars
    are green (detected, true), red (detected, not true), orange (true, missed) or grey;
    without truth, green (detected) or grey.
    title: replaces the default title (file name and detected elements).
    """
    from eels_helpers.inference.prediction_text import set_aside_reasons
    from eels_helpers.physics.elements import ELEMENTS, families_of

    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
               "tab:pink", "tab:olive", "tab:cyan"]
    spectrum = pred.mean_input
    if spectrum is None:     # a Prediction made without it
        spectrum = pred.inputs.reshape(-1, pred.inputs.shape[-1]).mean(axis=0)
    spectrum = spectrum / max(float(spectrum.max()), 1e-12)
    nz = np.flatnonzero(spectrum)
    lo, hi = (int(nz[0]), int(nz[-1])) if nz.size else (75, 3071)
    pad = max(5, (hi - lo) // 20)
    energy = np.arange(spectrum.size)
    measured = np.where((energy >= lo) & (energy <= hi), spectrum, np.nan)   # no line through the zero padding
    ax.plot(energy, measured, lw=0.8, color="k")
    ax.set_xlim(max(lo - pad, 0), min(hi + pad, 3071))
    for k, symbol in enumerate(pred.detected):
        colour = colours[k % len(colours)]
        for fam in families_of(symbol):
            onsets = [(fam.onset_of(sub), sub) for sub in fam.major     # main onsets (e.g. L3, L2; M5, M4)
                      if lo - pad <= fam.onset_of(sub) <= hi + pad]        # shown: each run keeps a label
            for onset, label in edge_labels(symbol, onsets, min_gap_eV=(hi - lo + 2 * pad) / 120):
                ax.axvline(onset, color=colour, lw=0.9, ls="--")
                if label:
                    ax.text(onset, 1.02, label, rotation=90, color=colour, fontsize=7, ha="right",
                            va="bottom", transform=ax.get_xaxis_transform())
    if title is None:
        title = Path(pred.source).name if pred.source else "spectrum"
        if pred.is_spectrum_image:
            title += " (mean over pixels)"
        more = len(pred.detected) - 10
        shown = ", ".join(pred.detected[:10]) + (f" (+{more} more)" if more > 0 else "")
        title = f"{title}: {shown or 'nothing detected'}"
    ax.set_title(title, fontsize=9, pad=28)
    ax.set_xlabel("energy loss (eV)" + (f", offset {pred.offset_eV:+g} eV corrected" if pred.offset_eV else ""))
    ax.set_ylabel("normalised intensity")
    score = pred.probabilities.reshape(-1, 80)
    score = score.mean(axis=0) if pred.is_spectrum_image else score[0]
    truth = None if truth is None else set(truth)
    order = np.argsort(-score, kind="stable")
    shown = order[:top] if truth is None else order[np.isin(order, order[:top]) | np.isin(
        np.array(ELEMENTS)[order], sorted(truth))]          # the top ones, and every true element
    order = shown[::-1]

    def colour_of(symbol: str) -> str:
        found = symbol in pred.detected
        if truth is None:
            return "tab:green" if found else "tab:gray"
        if found:
            return "tab:green" if symbol in truth else "tab:red"
        return "tab:orange" if symbol in truth else "tab:gray"

    bar.barh([ELEMENTS[i] for i in order], score[order], color=[colour_of(ELEMENTS[i]) for i in order])
    set_aside = set_aside_reasons(pred)
    for row, i in enumerate(order):     # above the threshold but not reported: say why on the bar
        if ELEMENTS[i] in set_aside:
            bar.text(0.02, row, set_aside[ELEMENTS[i]], fontsize=5, va="center", ha="left", color="black")
    bar.axvline(pred.threshold, color="tab:red", lw=0.8, ls=":")
    bar.set_xlim(0, 1)
    bar.set_xlabel("mean probability" if pred.is_spectrum_image else "probability")


def edge_labels(symbol: str, onsets: Sequence[tuple[float, str]], min_gap_eV: float) -> list[tuple[float, str]]:
    """(onset eV, label) for marking an element's edges: ``onsets`` (eV, subshell name), K1 named
    K, and the subshells of a run of onsets each within ``min_gap_eV`` of the previous one labelled
    once, at the lowest onset (Ce N5 and N4 -> "Ce N4,5"; the others get an empty label: a line
    without text)."""
    out, run = [], []
    for onset, sub in sorted(onsets) + [(np.inf, "")]:
        if run and onset - run[-1][0] >= min_gap_eV:
            names = list(dict.fromkeys("K" if s == "K1" else s for _, s in run))    # in onset order
            same_shell = len({n[0] for n in names}) == 1
            joined = (names[0][0] + ",".join(sorted((n[1:] for n in names), key=lambda d: (len(d), d)))
                      if same_shell else ", ".join(names))
            joined = names[0] if len(names) == 1 else joined
            out += [(run[0][0], f"{symbol} {joined}")] + [(o, "") for o, _ in run[1:]]
            run = []
        run.append((onset, sub))
    return out


def plot_predictions(preds: Sequence[Prediction], path: str | Path, top: int = 8) -> Path:
    """Save a figure: per input, the pre-processed spectrum (summed over an SI) with the
    onsets of the detected elements marked, and the top probabilities."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = len(preds)
    fig, axes = plt.subplots(n, 2, figsize=(11, 3.2 * n), squeeze=False, gridspec_kw={"width_ratios": [3, 1]})
    for row, pred in enumerate(preds):
        draw_prediction(axes[row][0], axes[row][1], pred, top)
    return save_figure(fig, path, dpi=120)


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """Lay out ``fig``, write it to ``path`` (its folder made if needed), close it; the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
