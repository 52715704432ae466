"""Figures of the simulator: the steps of the paper's Fig. 2 and galleries of spectra.

* :func:`plot_steps`: one panel per step of Fig. 2 (a-f) for one spectrum of a batch simulated
  with ``return_steps=True``;
* :func:`plot_spectrum`: one spectrum with its edge markers and labels;
* :func:`plot_gallery`: spectra of a batch with their labels and edge markers;
* :func:`plot_edge_shapes`: the edges of single-element specimens after the fine-structure step,
  one panel per (element, configuration): how much of an edge's look is its own.

matplotlib is imported inside the functions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_steps", "plot_spectrum", "plot_gallery", "plot_edge_shapes"]


def _edge_markers(ax, params, i, shifted=True, y=1.0):
    from eels_helpers.physics.elements import EDGE_FAMILIES
    shift = int(params["instrumental_shift_eV"][i]) if shifted else 0
    for f, on in zip(params["edge_family"][i], params["edge_onset_eV"][i]):
        if f < 0:
            continue
        x = float(on) + shift
        ax.axvline(x, color="0.5", lw=0.7, ls="--")
        ax.text(x, y, " " + EDGE_FAMILIES[f].name, rotation=90, va="top", ha="left",
                fontsize=7, color="0.3", transform=ax.get_xaxis_transform())


def _xlim(params, i, pad=30):
    lo = max(int(params["start_eV"][i]) - pad, 0)
    hi = min(int(params["end_eV"][i]) + pad, 3071)
    return lo, hi


def plot_steps(batch, index: int = 0, *, title: str | None = None, fig=None):
    """Fig. 2 of the paper for spectrum ``index`` of a batch simulated with
    ``return_steps=True``: (a) core-loss edges, (b) with fine structure, (c) low-loss,
    (d) convolved, (e) with background, (f) noisy, normalised and zero padded."""
    import matplotlib.pyplot as plt
    if not batch.steps:
        raise ValueError("plot_steps needs a batch simulated with return_steps=True")
    st, p, i = batch.steps, batch.params, index
    E = np.arange(batch.spectra.shape[1])
    lo, hi = _xlim(p, i)
    fig = fig or plt.figure(figsize=(11, 7), constrained_layout=True)
    axes = fig.subplots(3, 2).ravel()
    panels = [
        ("a", "core-loss edges (GOS cross sections)", st["edges"], "counts", False),
        ("b", "with generic fine structure", st["edges_fs"], "counts", False),
        ("c", "generic low-loss region", st["lowloss"], "fraction / eV", False),
        ("d", "edges convolved with the low-loss", st["convolved"], "counts", False),
        ("e", "power-law background added", st["expected"], "counts", True),
        ("f", "Poisson noise, normalised, zero padded", batch.spectra, "a.u.", True),
    ]
    for ax, (tag, text, arr, unit, shifted) in zip(axes, panels):
        if tag == "c":
            ax.plot(E[:120], arr[i, :120], lw=1)
            ax.set_yscale("log")
            ax.set_ylim(max(arr[i, :120].max() * 1e-5, 1e-12), arr[i, :120].max() * 2)
            ax.set_xlim(0, 120)
        elif tag == "f":
            ax.plot(E, arr[i], lw=0.8)
            ax.set_xlim(0, E[-1])
        else:
            ax.plot(E, arr[i], lw=1)
            ax.set_xlim(lo, hi)
            _edge_markers(ax, p, i, shifted=shifted)
        ax.set_title(f"({tag}) {text}", loc="left", fontsize=10)
        ax.set_ylabel(unit)
    for ax in axes[-2:]:
        ax.set_xlabel("energy loss (eV)")
    if title:
        fig.suptitle(title)
    return fig


def _labels_text(batch, i):
    from eels_helpers.physics.elements import ELEMENTS
    idx = np.flatnonzero(batch.labels_identification[i])
    return ", ".join(f"{ELEMENTS[j]} {batch.labels_quantification[i, j]:.2f}" for j in idx)


def plot_spectrum(batch, index: int = 0, ax=None, *, title: str | None = None):
    """One simulated spectrum with its edge markers and its labels in the title."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.2), constrained_layout=True)
    p = batch.params
    lo, hi = _xlim(p, index)
    ax.plot(np.arange(batch.spectra.shape[1]), batch.spectra[index], lw=0.8)
    ax.set_xlim(lo, hi)
    _edge_markers(ax, p, index)
    ax.set_title(title or _labels_text(batch, index), fontsize=9)
    ax.set_xlabel("energy loss (eV)")
    return ax


def plot_gallery(batch, n: int | None = None, ncols: int = 3, fig=None):
    """A grid of spectra of a batch, each titled with its labels (element, fraction) and marked
    at the (shifted) onsets of the edge families inside its window."""
    import matplotlib.pyplot as plt
    n = len(batch) if n is None else min(n, len(batch))
    nrows = -(-n // ncols)
    fig = fig or plt.figure(figsize=(4 * ncols, 2.6 * nrows), constrained_layout=True)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for i in range(n):
        plot_spectrum(batch, i, axes[i])
        axes[i].set_xlabel("eV", fontsize=8)
        axes[i].tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig


def plot_edge_shapes(elements=("N", "Sc"), configs=("open-world", "open-world-elnes"), *, n: int = 6,
                     seed: int = 3, window_eV: tuple[float, float] = (380.0, 600.0), fig=None):
    """For each element (rows) and simulator configuration (columns: names of ``NAMED_CONFIGS``
    or :class:`~eels_helpers.simulation.config.SimulationConfig`), ``n`` spectra of the pure
    element simulated with one seed (same microscope and fine-structure draws across panels of a
    row): the summed edges after the fine-structure step (Fig. 2b), before low-loss, background
    and noise, each scaled to its maximum in ``window_eV``. Returns the figure."""
    import matplotlib.pyplot as plt

    from eels_helpers.simulation.config import SimulationConfig
    from eels_helpers.simulation.named_configs import named_config
    from eels_helpers.simulation.pipeline import simulate_batch
    from eels_helpers.simulation.specimens import Specimen

    lo, hi = int(window_eV[0]), int(window_eV[1])
    if not 0 <= lo < hi <= 3071:
        raise ValueError(f"window_eV must satisfy 0 <= start < end <= 3071 eV, got {window_eV}")
    # only the element's edges: windows from the start of the range, no carbon film, none removed
    quiet = dict(start_min_eV=max(lo - 80, 0), margin_before_eV=0, margin_after_eV=1, end_max_eV=20000,
                 instrumental_shift_eV=(0, 0), noise=False, carbon_fraction=0.0, edge_free_fraction=0.0)
    fig = fig or plt.figure(figsize=(4.5 * len(configs), 2.8 * len(elements)))
    axes = fig.subplots(len(elements), len(configs), squeeze=False, sharex=True)
    for r, element in enumerate(elements):
        for c, config in enumerate(configs):
            cfg = (config.replace(**quiet) if isinstance(config, SimulationConfig)
                   else named_config(config, **quiet))
            name = config if isinstance(config, str) else "custom"
            batch = simulate_batch([Specimen((element,), (1.0,), element)] * n, cfg,
                                   np.random.default_rng(seed), return_steps=True)
            edges = batch.steps["edges_fs"][:, lo:hi + 1]
            scale = np.maximum(edges.max(axis=1, keepdims=True), 1e-30)
            ax = axes[r, c]
            ax.plot(np.arange(lo, hi + 1), (edges / scale).T, lw=0.8)
            ax.set_title(f"{element}, {name}", fontsize=9)
            ax.set_ylim(0, 1.05)
        axes[r, 0].set_ylabel("edge (scaled)")
    for ax in axes[-1]:
        ax.set_xlabel("energy loss (eV)")
    fig.tight_layout()
    return fig
