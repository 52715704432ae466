"""Figures of the simulator (paper Fig. 2, a gallery) and the interactive simulator.

* :func:`plot_steps`: one panel per step of Fig. 2 (a-f) for one spectrum of a batch simulated
  with ``return_steps=True``;
* :func:`plot_gallery`: random spectra with their labels and edge markers;
* :func:`interactive_simulator`: ipywidgets for every parameter of Table 1 and the specimen,
  redrawing the spectrum live in JupyterLab (a range slider pinned to one value fixes that
  parameter; the simulator draws uniformly inside each range, as for the dataset).

matplotlib and ipywidgets are imported inside the functions.
"""

from __future__ import annotations

import re
from dataclasses import fields

import numpy as np

from eels_helpers.simulation.config import ConfigError, SimulationConfig
from eels_helpers.simulation.pipeline import Specimen, can_simulate, simulate_batch

__all__ = ["specimen_from_formula", "plot_steps", "plot_spectrum", "plot_gallery",
           "interactive_simulator"]

_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*\.?\d*)")


def specimen_from_formula(formula: str, query: str | None = None) -> Specimen:
    """A Specimen from a formula such as ``"CeO2"`` or ``"SrTiO3"`` (atomic fractions from the
    subscripts); ``query`` defaults to the first element."""
    text = formula.replace(" ", "")
    parts = _TOKEN.findall(text)
    if not parts or "".join(e + n for e, n in parts) != text:
        raise ValueError(f"cannot read formula {formula!r}: write it like 'CeO2' or 'SrTiO3'")
    counts: dict[str, float] = {}
    for el, n in parts:
        counts[el] = counts.get(el, 0.0) + (float(n) if n else 1.0)
    total = sum(counts.values())
    els = tuple(counts)
    return Specimen(els, tuple(counts[e] / total for e in els), query or els[0])


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


# ----------------------------------------------------------------------------- interactive
#: slider bounds of the interactive simulator (wider than Table 1, inside the validation limits;
#: alpha and beta are limited to the range covered by the cross-section shape tables)
_UI_BOUNDS = {
    "alpha_mrad": (1.0, 20.0), "beta_mrad": (1.0, 100.0), "zlp_fwhm_eV": (0.1, 10.0),
    "plasmon_energy_eV": (1, 60), "plasmon_width_eV": (1, 60), "n_plasmons": (0, 8),
    "t_over_lambda": (0.0, 3.0), "jump_ratio": (0.01, 5.0), "bg_exponent": (0.0, 6.0),
    "fs_width_eV": (1, 100), "fs_degree": (0, 40), "atomic_diameter_pm": (10.0, 500.0),
    "chemical_shift_eV": (-20, 20), "instrumental_shift_eV": (-20, 20),
    "start_min_eV": (0, 3000), "margin_before_eV": (0, 100), "margin_after_eV": (1, 200),
    "end_max_eV": (100, 4000), "fs_max_scale": (0.0, 50.0),
}
_CHOICES = {"E0_keV": (60.0, 100.0, 200.0, 300.0),   # each new E0 tabulates its cross sections
            "bg_amplitude": (1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8)}


def _make_control(f, value):
    import ipywidgets as W
    meta = f.metadata
    desc = meta["label"] + (f" ({meta['unit']})" if meta["unit"] else "")
    style = {"description_width": "220px"}
    layout = W.Layout(width="520px")
    kind = meta["kind"]
    if kind == "choice":
        opts = tuple(sorted(set(_CHOICES.get(f.name, ())) | set(value)))
        return W.SelectMultiple(options=[(f"{v:g}", v) for v in opts], value=tuple(value),
                                description=desc, rows=min(len(opts), 6), style=style,
                                layout=layout)
    if kind == "bool":
        return W.Checkbox(value=value, description=desc, style=style)
    if kind == "str":
        return W.Text(value=value, description=desc, style=style, layout=layout)
    lo, hi = _UI_BOUNDS.get(f.name, meta["limits"])
    if kind in ("N", "Z"):
        return W.IntRangeSlider(value=tuple(value), min=lo, max=hi, description=desc,
                                style=style, layout=layout, continuous_update=False)
    if kind == "R":
        step = 0.01 if hi <= 5 else 0.1
        return W.FloatRangeSlider(value=tuple(value), min=lo, max=hi, step=step,
                                  description=desc, style=style, layout=layout,
                                  continuous_update=False)
    if kind == "int":
        return W.IntSlider(value=value, min=lo, max=hi, description=desc, style=style,
                           layout=layout, continuous_update=False)
    if f.name == "fs_max_scale":
        return W.FloatSlider(value=value, min=lo, max=hi, step=0.5, description=desc,
                             style=style, layout=layout, continuous_update=False)
    return None  # dispersion_eV, n_channels: fixed by the network input, not editable


def interactive_simulator(config: SimulationConfig | None = None, formula: str = "CeO2",
                          seed: int = 0, *, show_steps: bool = False):
    """An ipywidgets panel: one control per Table 1 parameter (range sliders; pin a range to a
    value to fix it), the specimen formula, the query element and the seed; the spectrum (or,
    with "steps", Fig. 2) is redrawn whenever a control changes. Returns the widget."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    config = config or SimulationConfig()
    controls = {}
    for f in fields(SimulationConfig):
        c = _make_control(f, getattr(config, f.name))
        if c is not None:
            controls[f.name] = c
    formula_w = W.Text(value=formula, description="Specimen formula",
                       style={"description_width": "220px"})
    query_w = W.Text(value="", placeholder="first element", description="Query element",
                     style={"description_width": "220px"})
    seed_w = W.IntText(value=seed, description="Seed", style={"description_width": "220px"})
    steps_w = W.Checkbox(value=show_steps, description="show the steps (Fig. 2)")
    again = W.Button(description="new random draw")
    out = W.Output()
    status = W.HTML()

    def redraw(*_):
        try:
            cfg = SimulationConfig(**{k: (tuple(c.value) if isinstance(c.value, (list, tuple))
                                          else c.value) for k, c in controls.items()})
            spec = specimen_from_formula(formula_w.value, query_w.value.strip() or None)
            if not can_simulate(spec.query, cfg):
                raise ValueError(f"{spec.query}: the GOS source cannot compute a major edge of "
                                 "this element (hydrogenic: K and L only)")
            batch = simulate_batch([spec], cfg, np.random.default_rng(seed_w.value),
                                   return_steps=steps_w.value)
        except (ConfigError, ValueError) as err:
            status.value = f"<span style='color:#b00'>{err}</span>"
            return
        status.value = ""
        with out:
            out.clear_output(wait=True)
            if steps_w.value:
                fig = plot_steps(batch, 0, title=formula_w.value)
            else:
                fig = plt.figure(figsize=(9, 3.4), constrained_layout=True)
                plot_spectrum(batch, 0, fig.add_subplot())
            display(fig)
            plt.close(fig)

    def bump(_):
        seed_w.value = seed_w.value + 1

    for c in (*controls.values(), formula_w, query_w, seed_w, steps_w):
        c.observe(redraw, names="value")
    again.on_click(bump)
    groups = {
        "Microscope": ["E0_keV", "alpha_mrad", "beta_mrad"],
        "Detector window": ["start_min_eV", "margin_before_eV", "margin_after_eV", "end_max_eV",
                            "instrumental_shift_eV"],
        "Edges": ["chemical_shift_eV", "jump_ratio", "fs_width_eV", "fs_degree",
                  "fs_max_scale", "atomic_diameter_pm"],
        "Low-loss": ["zlp_fwhm_eV", "plasmon_energy_eV", "plasmon_width_eV", "n_plasmons",
                     "t_over_lambda"],
        "Background and noise": ["bg_amplitude", "bg_exponent", "noise", "gos"],
    }
    tabs = W.Tab(children=[W.VBox([controls[k] for k in keys if k in controls])
                           for keys in groups.values()])
    for i, name in enumerate(groups):
        tabs.set_title(i, name)
    top = W.HBox([W.VBox([formula_w, query_w, seed_w]), W.VBox([steps_w, again])])
    redraw()
    return W.VBox([top, tabs, status, out])
