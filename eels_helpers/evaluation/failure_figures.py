"""The figures of the failure analysis: the network input over simulated spectra of the same
composition and window (issue 15).

:func:`simulate_like` asks the package's simulator (:func:`eels_helpers.simulation.pipeline.
simulate_batch`, the paper's Table 1 ranges; with ``white_lines``, the bound-bound white lines
that the open-world configurations add, so that a model trained there is shown the edges it was
trained on: :func:`training_white_lines`) for spectra of a file's true elements (atomic
fractions of the Materials Project formula with exactly these elements when the shipped table has
one, else equal) whose detector window starts at the file's network window, takes the
noise-free spectrum before the detector window is applied (background + edges convolved with the
low-loss, the steps ``background`` and ``convolved``), cuts it to the file's window, adds Poisson
noise and pre-processes it exactly as a file (:func:`eels_helpers.inference.preprocess.preprocess`).
:func:`plot_failure_group` draws a few spectra of one group of
:func:`eels_helpers.evaluation.failure_analysis.analyse_failures`, and
:func:`save_failure_figures` writes one PNG per non-empty group.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["simulate_like", "training_white_lines", "plot_failure_group", "save_failure_figures"]

#: simulated spectra drawn per wanted spectrum: the draws whose window misses a wanted edge family
#: (the simulator places the window after a random major edge of the query element) are dropped
OVERSAMPLE = 4


@lru_cache(maxsize=1)
def _compositions():
    from eels_helpers.simulation.specimens import load_compositions

    return load_compositions()


def composition(elements: Sequence[str]) -> tuple[tuple[float, ...], str]:
    """Atomic fractions for ``elements`` (symbols among the 80): those of the Materials Project
    formula with exactly these elements (one without H or Li first, then the most entries), else
    equal; and where they came from."""
    from eels_helpers.physics.elements import ELEMENTS

    elements = tuple(elements)
    table = _compositions()
    want = np.isin(np.array(ELEMENTS), elements)
    rows = np.flatnonzero(np.all((table.fractions > 0) == want, axis=1))
    if rows.size:
        # formulas without H or Li first (the table drops them and renormalises), then most entries
        pure = np.array([re.search(r"(?:H|Li)(?![a-z])", table.formula[r]) is None for r in rows])
        best = rows[np.lexsort((-table.n_entries[rows], ~pure))[0]]
        fr = table.fractions[best, [ELEMENTS.index(e) for e in elements]].astype(np.float64)
        return tuple(float(x) for x in fr / fr.sum()), f"fractions of {table.formula[best]} (Materials Project)"
    return tuple(1.0 / len(elements) for _ in elements), "equal fractions"


def training_white_lines(analysis: Any) -> bool:
    """Whether the analysed model was trained on spectra with white lines: any run in its file's
    ``runs`` metadata whose simulator configuration (``NAMED_CONFIGS``) has them; False for a bare
    network or a file without runs."""
    from eels_helpers.simulation.named_configs import NAMED_CONFIGS

    return any(NAMED_CONFIGS.get(str(r.get("simulation", "paper")), {}).get("white_lines", False)
               for r in getattr(analysis, "runs", ()) if isinstance(r, dict))


def simulate_like(elements: Sequence[str], window_eV: tuple[float, float], n: int = 3, seed: int = 0, *,
                  white_lines: bool = False):
    """Simulated network inputs of a composition in a file's window.

    Parameters
    ----------
    elements : sequence of str
        the true elements; symbols outside Be..Bi are ignored.
    window_eV : (float, float)
        the file's energy range (eV, after the offset correction).
    n : int
        spectra wanted, >= 1.
    seed : int
        seed of the draw and the noise.
    white_lines : bool
        add the white lines (``SimulationConfig.white_lines``) to the edges.

    Returns
    -------
    inputs : numpy.ndarray, shape (k, 3072)
        float32 network inputs, k <= n (0 when no true element has an edge family in the window's
        75..3071 eV part, or no draw covered every family there).
    description : str
        the composition and fractions used, or why nothing was simulated.
    """
    from eels_helpers.inference.preprocess import preprocess
    from eels_helpers.physics.elements import EDGE_FAMILIES, ELEMENTS
    from eels_helpers.simulation.config import SimulationConfig
    from eels_helpers.simulation.pipeline import simulate_batch
    from eels_helpers.simulation.specimens import Specimen
    from eels_helpers.spectrum import Spectrum

    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    lo_file, hi_file = float(window_eV[0]), float(window_eV[1])
    if not hi_file > lo_file:
        raise ValueError(f"window_eV must be (start, end) with end > start (eV), got {window_eV}")
    elements = tuple(e for e in ELEMENTS if e in set(elements))
    start = int(np.ceil(max(lo_file, 75.0)))
    end = int(np.floor(min(hi_file, 3071.0)))
    index = {f.name: i for i, f in enumerate(EDGE_FAMILIES)}
    wanted = {index[f.name]: f for f in EDGE_FAMILIES
              if f.element in elements and start + 5 <= f.onset_eV <= end - 5}
    if not elements or not wanted or end - start < 10:
        return np.zeros((0, 3072), np.float32), "nothing simulated: no edge family of the true elements in the window"
    fractions, source = composition(elements)
    query = min(wanted.values(), key=lambda f: f.onset_eV).element
    config = SimulationConfig(start_min_eV=start, margin_before_eV=0, margin_after_eV=1, end_max_eV=20000,
                              instrumental_shift_eV=(0, 0), noise=False, white_lines=bool(white_lines))
    rng = np.random.default_rng([seed, start, end])
    batch = simulate_batch([Specimen(elements, fractions, query)] * (OVERSAMPLE * n), config, rng, return_steps=True)
    included = batch.params["edge_family"]
    keep = [b for b in range(len(batch)) if set(wanted) <= set(included[b][included[b] >= 0].tolist())][:n]
    expected = (batch.steps["background"] + batch.steps["convolved"])[keep, start:end + 1].astype(np.float64)
    counts = rng.poisson(np.clip(expected, 0.0, 1e12)).astype(np.float32)
    axis = np.arange(start, end + 1, dtype=np.float64)
    inputs = np.stack([preprocess(Spectrum(c, axis)) for c in counts]) if keep else np.zeros((0, 3072), np.float32)
    label = ", ".join(f"{e} {x:.2f}" for e, x in zip(elements, fractions))
    lines = ", white lines" if white_lines else ""
    return inputs.astype(np.float32), f"{len(keep)} simulated: {label} ({source}{lines})"


def plot_failure_group(analysis: Any, cause: str, *, n_spectra: int = 3, n_simulated: int = 3, seed: int = 0,
                       white_lines: bool | None = None):
    """One group of a failure analysis: for up to ``n_spectra`` of its spectra (most mistakes
    first), the network input (black) over ``n_simulated`` simulated spectra of the same
    composition and window (:func:`simulate_like`), with the onsets of the mistaken elements'
    families marked (red: reported, not present; orange: present, missed; solid: a mistake of
    this group, dotted: of another) and the true elements' edges outside the families (green).

    Parameters
    ----------
    analysis : FailureAnalysis
        from :func:`eels_helpers.evaluation.failure_analysis.analyse_failures`.
    cause : str
        a name of :data:`eels_helpers.evaluation.failure_causes.CAUSES`.
    n_spectra, n_simulated : int
        spectra of the group drawn, simulated spectra per panel (>= 1 and >= 0).
    seed : int
        seed of the simulated spectra.
    white_lines : bool or None
        simulate with white lines; None: as the model was trained (:func:`training_white_lines`).

    Returns
    -------
    matplotlib.figure.Figure or None
        None when the group has no mistake.
    """
    import matplotlib.pyplot as plt

    from eels_helpers.evaluation.failure_causes import CAUSES
    from eels_helpers.physics.elements import ELEMENTS, families_of

    titles = {c.name: c.title for c in CAUSES}
    if cause not in titles:
        raise ValueError(f"cause must be one of {tuple(titles)}, got {cause!r}")
    if n_spectra < 1 or n_simulated < 0:
        raise ValueError(f"n_spectra must be >= 1 and n_simulated >= 0, got {n_spectra}, {n_simulated}")
    own = [m for m in analysis.mistakes if m.cause == cause]
    if not own:
        return None
    if white_lines is None:
        white_lines = training_white_lines(analysis)
    rows = sorted(dict.fromkeys(m.row for m in own), key=lambda r: (-sum(m.row == r for m in own), r))[:n_spectra]
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 2.9 * len(rows)), squeeze=False)
    for ax, row in zip(axes[:, 0], rows):
        facts = analysis.facts[row]
        lo, hi = facts.network_window_eV
        grid = np.arange(3072)
        if n_simulated:
            sims, text = simulate_like(facts.labels, facts.window_eV, n_simulated, seed=seed + row,
                                       white_lines=white_lines)
            for k, sim in enumerate(sims):
                ax.plot(grid, sim, lw=0.8, alpha=0.6, color="tab:blue", label=text if k == 0 else None)
            if not len(sims):
                ax.plot([], [], color="tab:blue", label=text)
        ax.plot(grid, analysis.inputs[row], lw=1.0, color="k", label="network input (file)")
        for m in (m for m in analysis.mistakes if m.row == row):
            colour = "tab:red" if m.kind == "FP" else "tab:orange"
            style = "-" if m.cause == cause else ":"
            for f in families_of(m.element) if m.element in ELEMENTS else ():
                if lo - 20 <= f.onset_eV <= hi:
                    ax.axvline(f.onset_eV, color=colour, ls=style, lw=1.0)
                    ax.text(f.onset_eV, 1.02, f"{f.name} ({m.kind})", rotation=90, va="bottom", ha="center",
                            fontsize=7, color=colour)
        for edges in facts.non_family.values():
            for name, onset in edges:
                ax.axvline(onset, color="tab:green", ls="--", lw=0.8)
                ax.text(onset, 1.02, f"{name} (not a family)", rotation=90, va="bottom", ha="center", fontsize=7,
                        color="tab:green")
        reported = [ELEMENTS[j] for j in np.flatnonzero(analysis.probabilities[row] >= analysis.threshold)]
        reasons = "; ".join(f"{m.kind} {m.element}: {m.reason}" for m in own if m.row == row)
        ax.set_title(f"{facts.file[:60]}\ntrue: {', '.join(facts.labels) or '-'}; reported: "
                     f"{', '.join(reported) or 'nothing'}\n{reasons[:160]}", fontsize=8)
        ax.set_xlim(max(0.0, lo - 20), min(3071.0, hi + 20))
        ax.set_ylim(min(0.0, float(analysis.inputs[row].min())) - 0.02, 1.25)
        ax.set_xlabel("energy loss (eV)")
        ax.set_ylabel("network input")
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{titles[cause]}: {sum(m.kind == 'FP' for m in own)} false positives, "
                 f"{sum(m.kind == 'FN' for m in own)} false negatives ({analysis.model})", fontsize=10)
    fig.tight_layout()
    return fig


def save_failure_figures(analysis: Any, out_dir: str | Path, *, n_spectra: int = 3, n_simulated: int = 3,
                         seed: int = 0) -> list[Path]:
    """One PNG per non-empty group, ``<out_dir>/<model>_<cause>.png`` (the folder is created);
    written to a temporary name and renamed, so no half-written figure is left behind.
    Returns the paths written."""
    import matplotlib.pyplot as plt

    from eels_helpers.evaluation.failure_causes import CAUSES

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for cause in CAUSES:
        fig = plot_failure_group(analysis, cause.name, n_spectra=n_spectra, n_simulated=n_simulated, seed=seed)
        if fig is None:
            continue
        path = out / f"{analysis.model}_{cause.name}.png"
        tmp = path.with_suffix(".tmp.png")
        try:
            fig.savefig(tmp, dpi=110)
            tmp.replace(path)
        finally:
            plt.close(fig)
            tmp.unlink(missing_ok=True)
        paths.append(path)
    return paths
