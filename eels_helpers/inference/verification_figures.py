"""Figures of the verified identification (:mod:`eels_helpers.inference.verification`): the fitted
model over the measured spectrum, each kept element's contribution with its edges marked, and the
rejected candidates with the reason (``eels-id predict --verify --plot``)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np

from eels_helpers.inference.prediction_figures import edge_labels

__all__ = ["draw_verification", "plot_verifications"]

_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink",
            "tab:olive", "tab:cyan", "tab:red"]


def draw_verification(ax, side, result, title: str = "") -> None:
    """Draw one :class:`~eels_helpers.inference.verification_result.VerificationResult` on ``ax`` (data,
    model, background, background + each kept element, edges marked at their fitted onsets) and
    list every candidate's decision with its reason on ``side`` (an axis used as a text panel)."""
    E, y = result.energy_eV, result.data
    side.axis("off")
    if E.size == 0:
        ax.text(0.5, 0.5, result.message or "nothing fitted", ha="center", va="center",
                transform=ax.transAxes, fontsize=9, wrap=True)
    else:
        ax.plot(E, y, color="k", lw=0.8, label="data")
        ax.plot(E, result.background, color="0.5", lw=0.9, ls="--", label="background")
        ax.plot(E, result.model, color="tab:red", lw=1.0, label=f"model (chi2/dof {result.chi2_reduced:.2f})")
        kept = [el for el in result.verified if el in result.contributions]
        for k, el in enumerate(kept):
            colour = _COLOURS[k % len(_COLOURS)]
            ev = result.evidence[el]
            ax.fill_between(E, result.background, result.background + result.contributions[el],
                            color=colour, alpha=0.35, lw=0, label=f"{el} ({ev.significance:.0f} sigma)")
            shift = ev.shift_eV if np.isfinite(ev.shift_eV) else 0.0
            # each edge as "Fe L3 708 eV"
            onsets = [(float(edge.split()[-2]) + shift, edge.split()[1]) for edge in ev.edges_in_window]
            for onset, label in edge_labels(el, onsets, min_gap_eV=(E[-1] - E[0]) / 120):
                ax.axvline(onset, color=colour, lw=0.8, ls=":")
                if label:
                    ax.text(onset, 1.01, label, rotation=90, color=colour, fontsize=7,
                            ha="right", va="bottom", transform=ax.get_xaxis_transform())
        ax.set_xlim(E[0], E[-1])
        ax.set_ylim(min(0.0, float(np.min(y))), float(np.max(y)) * 1.05)
        ax.legend(fontsize=7, loc="upper right")
        ax.set_xlabel(f"energy loss (eV), bins of {result.bin_eV:g} eV")
        ax.set_ylabel("counts per bin")
    ax.set_title(title + ("; " if title else "") + f"verified: {', '.join(result.verified) or 'none'}",
                 fontsize=9, pad=24)
    lines = []
    for ev in sorted(result.evidence.values(), key=lambda e: (not e.verified, e.element)):
        head = ("kept " if ev.verified else "rejected ") + ev.element
        head += "" if ev.probability is None else f" (p {ev.probability:.2f})"
        why = ev.reason.split("; ")[0]
        lines.append(textwrap.fill(f"{head}: {why}", 48, subsequent_indent="   "))
    side.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=7, family="monospace",
              transform=side.transAxes)


def plot_verifications(results: Sequence, path: str | Path, titles: Sequence[str] | None = None) -> Path:
    """Save one row per verification result (:func:`draw_verification`) to ``path`` (PNG).

    Parameters
    ----------
    results : sequence of VerificationResult
        From :func:`eels_helpers.inference.verification.verify`.
    path : str or pathlib.Path
        Output image file; its folder is created.
    titles : sequence of str, optional
        One title per result (e.g. the file names).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        If ``results`` is empty or ``titles`` has a different length.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    results = list(results)
    if not results:
        raise ValueError("no verification result to plot")
    titles = [""] * len(results) if titles is None else list(titles)
    if len(titles) != len(results):
        raise ValueError(f"{len(titles)} titles for {len(results)} results")
    fig, axes = plt.subplots(len(results), 2, figsize=(12, 3.6 * len(results)), squeeze=False,
                             gridspec_kw={"width_ratios": [2.6, 1.4]})
    for row, (res, title) in enumerate(zip(results, titles)):
        draw_verification(axes[row][0], axes[row][1], res, title)
    from eels_helpers.inference.prediction_figures import save_figure

    return save_figure(fig, path, dpi=110)
