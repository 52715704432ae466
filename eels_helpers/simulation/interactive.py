"""The interactive simulator: ipywidgets for every parameter of Table 1 and the specimen.

* :func:`interactive_simulator`: one control per Table 1 parameter, the specimen formula, the
  query element and the seed, redrawing the spectrum (or Fig. 2) live in JupyterLab (a range
  slider pinned to one value fixes that parameter; the simulator draws uniformly inside each
  range, as for the dataset);
* :func:`specimen_from_formula`: a Specimen from a chemical formula.

The figures are :mod:`eels_helpers.simulation.figures`. matplotlib and ipywidgets are imported
inside the functions.
"""

from __future__ import annotations

import re
from dataclasses import fields

import numpy as np

from eels_helpers.simulation.config import OPEN_WORLD_FIELDS, ConfigError, SimulationConfig, string_choices
from eels_helpers.simulation.figures import plot_spectrum, plot_steps
from eels_helpers.simulation.pipeline import simulate_batch
from eels_helpers.simulation.shape_tables import can_simulate
from eels_helpers.simulation.specimens import Specimen

__all__ = ["specimen_from_formula", "interactive_simulator"]

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


#: slider bounds of the interactive simulator (wider than Table 1, inside the validation limits;
#: alpha and beta are limited to the range covered by the cross-section shape tables)
_UI_BOUNDS = {
    "alpha_mrad": (1.0, 20.0), "beta_mrad": (1.0, 100.0), "zlp_fwhm_eV": (0.1, 10.0),
    "plasmon_energy_eV": (1, 60), "plasmon_width_eV": (1, 60), "n_plasmons": (0, 8),
    "t_over_lambda": (0.0, 3.0), "jump_ratio": (0.01, 5.0), "bg_exponent": (0.0, 6.0),
    "fs_width_eV": (1, 100), "fs_degree": (0, 40), "atomic_diameter_pm": (10.0, 500.0),
    "chemical_shift_eV": (-20, 20), "instrumental_shift_eV": (-20, 20),
    "start_min_eV": (0, 3000), "margin_before_eV": (0, 100), "margin_after_eV": (1, 200),
    "end_max_eV": (100, 4000), "fs_max_scale": (0.0, 50.0), "detectability_sigma": (0.0, 10.0),
    "detectability_min_jump": (0.0, 0.5), "detectability_soft_factor": (1.0, 8.0),
}
#: the single-number fields edited with a slider, and its step
_FLOAT_STEPS = {"fs_max_scale": 0.5, "detectability_sigma": 0.5, "detectability_min_jump": 0.01,
                "detectability_soft_factor": 0.25}
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
    if kind == "elements":       # a specimen prior: the elements no drawn specimen holds
        from eels_helpers.physics.elements import ELEMENTS
        return W.SelectMultiple(options=ELEMENTS, value=tuple(value), description=desc, rows=4,
                                style=style, layout=layout)
    if kind == "bool":
        return W.Checkbox(value=value, description=desc, style=style)
    if kind == "str":
        return W.Text(value=value, description=desc, style=style, layout=layout)
    if (choices := string_choices(kind)) is not None:
        return W.Dropdown(options=choices, value=value, description=desc, style=style)
    if kind == "fraction":       # an open-world option: the fraction of spectra it applies to
        return W.FloatSlider(value=value, min=0.0, max=1.0, step=0.05, description=desc,
                             style=style, layout=layout, continuous_update=False)
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
    if f.name in _FLOAT_STEPS:
        return W.FloatSlider(value=value, min=lo, max=hi, step=_FLOAT_STEPS[f.name], description=desc,
                             style=style, layout=layout, continuous_update=False)
    return None  # dispersion_eV, n_channels: fixed by the network input, not editable


def interactive_simulator(config: SimulationConfig | str | None = None, formula: str = "CeO2",
                          seed: int = 0, *, show_steps: bool = False):
    """An ipywidgets panel: one control per Table 1 parameter (range sliders; pin a range to a
    value to fix it), the specimen formula, the query element and the seed; the spectrum (or,
    with "steps", Fig. 2) is redrawn whenever a control changes. Returns the widget.

    ``config``: a SimulationConfig or a configuration's name (``"open-world"``, as the command line's
    ``--simulation``); None: the paper's. A bad ``config``, ``formula`` or ``seed`` raises here (a
    ValueError or TypeError naming it); a control set to a bad value later says why under the controls."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    if isinstance(config, str):
        from eels_helpers.simulation.named_configs import named_config

        config = named_config(config)
    elif config is not None and not isinstance(config, SimulationConfig):
        raise TypeError(f"config must be a SimulationConfig or a configuration's name, got {type(config).__name__}")
    config = config or SimulationConfig()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    specimen_from_formula(formula)        # a formula that cannot be read: its error, here
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
        "Low-loss": ["lowloss_model", "zlp_fwhm_eV", "plasmon_energy_eV", "plasmon_width_eV", "n_plasmons",
                     "t_over_lambda"],
        "Background and noise": ["bg_amplitude", "bg_exponent", "noise", "gos"],
        "Open world (not in the paper)": [*OPEN_WORLD_FIELDS, "white_lines", "white_line_model", "fs_on_white_lines"],
    }
    tabs = W.Tab(children=[W.VBox([controls[k] for k in keys if k in controls])
                           for keys in groups.values()])
    for i, name in enumerate(groups):
        tabs.set_title(i, name)
    top = W.HBox([W.VBox([formula_w, query_w, seed_w]), W.VBox([steps_w, again])])
    redraw()
    return W.VBox([top, tabs, status, out])
