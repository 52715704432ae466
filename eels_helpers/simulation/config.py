"""Configuration of the spectrum simulator: every parameter of the paper's Table 1.

``SimulationConfig`` is a frozen dataclass validated at construction. Each field carries, in its
``metadata``, the Table 1 row it stands for (label, unit, number set), so the book renders Table 1
FROM the configuration (:meth:`SimulationConfig.table1`) instead of copying it.

Ranges are closed intervals ``(min, max)``; "integer" parameters are drawn uniformly from the
integers of the interval, "real" ones uniformly from the interval, and ``choice`` parameters
uniformly from the listed values. Source: Annys, Jannis & Verbeeck, Sci. Rep. 13:13724 (2023),
Methods and Table 1.

Two readings of the paper are fixed here and documented where they act:

* the Poisson weights of the low-loss use ``t/lambda`` (Table 1 and the usual thickness over
  inelastic mean free path); the Methods text prints ``t/2``, which we read as a typesetting slip
  of ``t/lambda`` (:mod:`eels_helpers.simulation.lowloss`);
* the jump ratio is the paper's own definition: the peak amplitude of the chosen core-loss edge
  (after composition and cross section, before fine structure and before the low-loss
  convolution) over the background at that edge's onset (:mod:`eels_helpers.simulation.pipeline`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

__all__ = ["SimulationConfig", "ConfigError", "LABEL_RULES", "OPEN_WORLD_FIELDS", "string_choices"]

#: how spectra are labelled (``SimulationConfig.labels``)
LABEL_RULES = ("window", "detectable")


def string_choices(kind: str) -> tuple[str, ...] | None:
    """The allowed values of a field of the string-choice ``kind`` ("label": LABEL_RULES,
    "white_line_model": the white-line tables, "lowloss_model": the low-loss models); None for
    other kinds."""
    if kind == "label":
        return LABEL_RULES
    if kind == "white_line_model":
        from eels_helpers.physics.white_lines import WHITE_LINE_MODELS
        return WHITE_LINE_MODELS
    if kind == "lowloss_model":
        from eels_helpers.simulation.lowloss import LOWLOSS_MODELS
        return LOWLOSS_MODELS
    return None


class ConfigError(ValueError):
    """An invalid simulation parameter (the message names parameter, unit and allowed range)."""


def _fraction(label: str, note: str):
    """An open-world option: the fraction (0..1, default 0 = off) of spectra it applies to."""
    return field(default=0.0, metadata=_row(label, "", "fraction", (0.0, 1.0), note))


def _row(label: str, unit: str, kind: str, limits: tuple[float, float], note: str = ""):
    """Field metadata: Table 1 label, unit, number set ("N", "Z", "R", "choice", "fixed") and the
    range that validation accepts (wider than the paper's values: the paper's are the defaults)."""
    return {"label": label, "unit": unit, "kind": kind, "limits": limits, "note": note}


@dataclass(frozen=True)
class SimulationConfig:
    """Every parameter of the paper's Table 1 (defaults = the paper's values).

    Energies in eV, angles in mrad, the beam energy in keV. Pairs are closed ``(min, max)``
    intervals sampled uniformly per spectrum (integers where Table 1 says N or Z).
    """

    E0_keV: tuple[float, ...] = field(
        default=(60.0, 100.0, 200.0, 300.0),
        metadata=_row("Acceleration voltage", "kV", "choice", (10.0, 1000.0)))
    # alpha and beta: the simulator's cross-section shape tables cover exactly these ranges
    # (eels_helpers.physics.edge_shapes.ALPHA_SIM_RANGE_MRAD / BETA_SIM_RANGE_MRAD)
    alpha_mrad: tuple[float, float] = field(
        default=(1.0, 20.0), metadata=_row("Convergence angle", "mrad", "R", (1.0, 20.0)))
    beta_mrad: tuple[float, float] = field(
        default=(1.0, 100.0), metadata=_row("Collection angle", "mrad", "R", (1.0, 100.0)))
    dispersion_eV: float = field(
        default=1.0, metadata=_row("Energy dispersion", "eV", "fixed", (1.0, 1.0),
                                   "the network's input grid; only 1 eV is supported"))
    start_min_eV: int = field(
        default=75, metadata=_row("Spectrum start", "eV", "int", (0, 16383),
                                  "lowest start; start in [start_min_eV, E_first_edge - "
                                  "margin_before_eV]"))
    margin_before_eV: int = field(
        default=10, metadata=_row("Spectrum start", "eV", "int", (0, 1000),
                                  "an edge is in the window when its onset is >= start + this"))
    margin_after_eV: int = field(
        default=25, metadata=_row("Spectrum end", "eV", "int", (1, 1000),
                                  "an edge is in the window when its onset is <= end - this"))
    end_max_eV: int = field(
        default=3272, metadata=_row("Spectrum end", "eV", "int", (1, 20000),
                                    "highest end; channels beyond n_channels - 1 are cut"))
    n_channels: int = field(
        default=3072, metadata=_row("Spectrum range (zero padding)", "eV", "fixed", (256, 3072),
                                    "channels 0 .. n_channels - 1 at 1 eV"))
    zlp_fwhm_eV: tuple[float, float] = field(
        default=(1.0, 3.0), metadata=_row("FWHM of zero-loss peak", "eV", "R", (0.05, 50.0)))
    plasmon_energy_eV: tuple[int, int] = field(
        default=(3, 20), metadata=_row("Plasmon energy", "eV", "N", (1, 200)))
    plasmon_width_eV: tuple[int, int] = field(
        default=(3, 20), metadata=_row("Plasmon width", "eV", "N", (1, 200)))
    n_plasmons: tuple[int, int] = field(
        default=(2, 5), metadata=_row("Number of plasmon peaks", "", "N", (0, 20)))
    t_over_lambda: tuple[float, float] = field(
        default=(0.1, 1.0), metadata=_row("Scattering parameter t/λ", "", "R", (0.0, 10.0)))
    jump_ratio: tuple[float, float] = field(
        default=(0.2, 1.5), metadata=_row("Jump-ratio", "", "R", (1e-4, 1e4)))
    bg_exponent: tuple[float, float] = field(
        default=(2.0, 4.0), metadata=_row("Background exponent", "", "R", (0.0, 10.0)))
    bg_amplitude: tuple[float, ...] = field(
        default=(1e3, 1e4, 1e5, 1e6, 1e7),
        metadata=_row("Background amplitude", "counts", "choice", (1.0, 1e12)))
    fs_width_eV: tuple[int, int] = field(
        default=(50, 100), metadata=_row("Fine structure width", "eV", "N", (1, 100),
                                         "fine structure lives on 0..127 eV above the onset, "
                                         "with a 25 eV taper after the width"))
    fs_degree: tuple[int, int] = field(
        default=(10, 25), metadata=_row("Fine structure degree", "", "N", (0, 100)))
    fs_max_scale: float = field(
        default=10.0, metadata=_row("Maximum fine structure scale", "", "fixed", (0.0, 1000.0)))
    atomic_diameter_pm: tuple[float, float] = field(
        default=(25.0, 250.0), metadata=_row("Atomic diameter", "pm", "R", (1.0, 2000.0)))
    chemical_shift_eV: tuple[int, int] = field(
        default=(-5, 5), metadata=_row("Chemical shift", "eV", "Z", (-100, 100)))
    instrumental_shift_eV: tuple[int, int] = field(
        default=(-5, 5), metadata=_row("Instrumental shift", "eV", "Z", (-100, 100)))
    # --- open world (not in Table 1; defaults off = the paper's dataset, bit for bit) ----------
    # eels_helpers.simulation.open_world: each option draws from a generator of its own, seeded
    # from the simulator's generator only when at least one option is on
    edge_free_fraction: float = _fraction(
        "Edge-free spectra",
        "fraction of spectra whose edges are removed: background, low-loss and noise only, "
        "labelled with no element")
    carbon_fraction: float = _fraction(
        "Carbon contamination",
        "fraction of specimens given a carbon film (C added; labelled C where its K edge is "
        "in the window)")
    carbon_atomic_fraction: tuple[float, float] = field(default=(0.05, 0.5), metadata=_row(
        "Carbon atomic fraction", "", "R", (0.0, 0.95),
        "atomic fraction of carbon after it is added (others scaled down)"))
    exclude_elements: tuple[str, ...] = field(default=(), metadata=_row(
        "Elements never in a specimen", "", "elements", (0, 0),
        "a prior about specimens: Materials Project formulas holding these elements are not drawn and they "
        'are never the query element, e.g. ("Tc", "Pm"), which have no stable isotope '
        "(eels_helpers.inference.unstable_elements); the open-world additions (carbon films, implanted and "
        "gas-phase noble gases) follow their own options"))
    implanted_gas_fraction: float = _fraction(
        "Implanted noble gas",
        "fraction of specimens given one of Ar, Kr, Xe (equally often) at an atomic fraction in "
        "implanted_gas_atomic_fraction: Ar from ion milling, Xe from plasma FIB, Kr and Xe bubbles "
        "(the Materials Project holds Ar only as the element, Kr and Xe nearly only as fluorides)")
    implanted_gas_atomic_fraction: tuple[float, float] = field(default=(0.02, 0.2), metadata=_row(
        "Implanted gas atomic fraction", "", "R", (0.0, 0.95),
        "atomic fraction of the implanted gas after it is added (others scaled down)"))
    gas_phase_fraction: float = _fraction(
        "Gas-phase spectra",
        "fraction of the spectra starting below 110 eV made spectra of a noble gas alone (Kr or Xe: the "
        "specimen's edges removed, every out-of-family edge of the gas added; eels_helpers.simulation.gas_phase)")
    distractor_fraction: float = _fraction(
        "Edges outside the 107 families",
        "fraction of spectra starting below 110 eV given an Al or Mg L2,3 edge (hydrogenic "
        "GOS at the measured onsets), labelled only where its onset lies inside the window")
    other_edges_fraction: float = _fraction(
        "Edges outside the 107 families of the specimen",
        "fraction of spectra whose specimen elements also get their edges outside the families "
        "(eels_helpers.physics.elements.OTHER_EDGES: Al/Mg L2,3, 3d M2,3, Kr M4,5, the heavy "
        "elements' N and O edges; builtin GOS, xraylib onsets, the families' weights), the "
        "element labelled by the rule every edge follows")
    lone_edge_fraction: float = _fraction(
        "Lone edges outside the 107 families",
        "fraction of spectra starting below 110 eV given one edge outside the families (any "
        "element's: 3d M2,3, Kr M4,5, ...; builtin GOS) from 20 eV below to 60 eV above the "
        "window start, of an element with no family in the window, labelled by the rule every edge follows")
    low_start_fraction: float = _fraction(
        "Windows starting at 75-85 eV",
        "fraction of spectra whose window start is redrawn in [75, 85] eV")
    lowloss_tail_fraction: float = _fraction(
        "Plasmon tail below 110 eV",
        "fraction of spectra starting below 110 eV given a steep extra tail "
        "A_t (E/E_start)^-r_t, r_t in [5, 10], A_t/A in [0.3, 3]")
    narrow_window_fraction: float = _fraction(
        "Narrow near-edge windows",
        "fraction of windows redrawn tight around the query edge: start up to 50 eV below "
        "the allowed latest start, end up to 100 eV above the allowed earliest end")
    background_subtracted_fraction: float = _fraction(
        "Background-subtracted spectra",
        "fraction of spectra whose power-law background, mis-estimated as a pre-edge fit is "
        "(1 % in scale at the jump edge, exponent off by N(0, 0.03)), is subtracted after "
        "the noise")
    artefact_fraction: float = _fraction(
        "Detector artefacts",
        "fraction of spectra with a gain-change step (x0.8..1.25), 1-5 spikes (x5..50) or "
        "1-10 dead channels")
    dark_fraction: float = _fraction(
        "Dark pedestal",
        "fraction of spectra given a flat dark/read-out level D = A x 10^U(-3, 0) under the "
        "window (vacuum and thin-area pixels); for half of them it is subtracted after the "
        "noise, as a dark reference is, leaving zero-mean noise")
    pi_star_fraction: float = _fraction(
        "1s -> pi* lines",
        "fraction of B, C, N and O K edges given a sharp 1s -> pi* line near the onset (pi-bonded "
        "solids, molecules, transition-metal oxides' O K pre-peak; "
        "eels_helpers.simulation.bonding_lines.add_pi_star)")
    sigma_star_fraction: float = _fraction(
        "1s -> sigma* resonances",
        "fraction of B, C, N and O K edges given a broad 1s -> sigma* shape resonance 5-15 eV above "
        "the onset (FWHM 4-10 eV; graphitic and amorphous carbon's hump at ~292-300 eV; "
        "eels_helpers.simulation.bonding_lines.add_sigma_star)")
    fs_depth: tuple[float, float] = field(default=(1.0, 1.0), metadata=_row(
        "Fine-structure depth", "", "R", (0.0, 1.0),
        "the generic fine structure's modulation 1 + c f scaled to 1 + d c f, d drawn per edge "
        "uniformly in this range: 1 is the paper's (the deepest dip reaches zero), real ELNES and "
        "EXELFS modulate the atomic edge by far less (Egerton 2011, secs. 3.8, 4.6, 5.6)"))
    labels: str = field(default="window", metadata=_row(
        "Labels", "", "label", (0, 0),
        '"window": every element with an edge family in the window (the paper); "detectable": '
        "only those whose edge counts over the first 50 eV exceed detectability_sigma times "
        "the Poisson noise of edge plus background"))
    detectability_sigma: float = field(default=3.0, metadata=_row(
        "Detectability threshold", "sigma", "fixed", (0.0, 1000.0),
        'with labels="detectable"'))
    detectability_min_jump: float = field(default=0.0, metadata=_row(
        "Minimum relative jump", "", "fixed", (0.0, 100.0),
        'with labels="detectable", an edge\'s counts over its first 50 eV must also reach this times what lies under '
        "them (background, dark level, other edges); 0: the Poisson test alone (simulation.detectability)"))
    detectability_all_edges: bool = field(default=False, metadata=_row(
        "Extra edges under the edges", "", "bool", (0, 1),
        "with detectability_min_jump: a family edge's minimum jump also counts the edges outside the families "
        "(Al/Mg L2,3, other, lone and gas-phase edges) as lying under it"))
    detectability_soft_factor: float = field(default=1.0, metadata=_row(
        "Soft-label factor", "", "fixed", (1.0, 100.0),
        'with labels="detectable": 1 labels each family edge 0 or 1 by the test; f > 1 gives it a label from 0 '
        "to 1, rising over a factor f in its visibility around the test's threshold (simulation.detectability)"))
    # --- not in Table 1 -------------------------------------------------------------------------
    noise: bool = field(default=True, metadata=_row("Poisson noise", "", "bool", (0, 1)))
    gos: str = field(default="auto", metadata=_row(
        "GOS source", "", "str", (0, 0),
        '"auto" (the builtin table when shipped, else hydrogenic), "builtin", "hydrogenic" '
        'or a GOSH path; "builtin+4f-multiplet": builtin with Ba M4,5\'s threshold resonance shared '
        "M5:M4 by the 3d9 4f1 multiplet (eels_helpers.physics.threshold_resonance); a name ending "
        '"+rydberg": with the Kr 3d -> 5p, 6p, 7p Rydberg lines below Kr M4,5 (eels_helpers.physics.rydberg_lines)'))
    white_lines: bool = field(default=False, metadata=_row(
        "White lines", "", "bool", (0, 1),
        "add the bound-bound white lines (L2,3 of 3d/4d metals, M4,5 and N4,5 of La..Yb; "
        "eels_helpers.physics.white_lines) to the edge shapes"))
    fs_on_white_lines: bool = field(default=True, metadata=_row(
        "Fine structure on white lines", "", "bool", (0, 1),
        "with white_lines: True multiplies the white lines by the generic fine structure with "
        "the continuum (how the white-line tables were first used); False modulates only the "
        "continuum and adds the lines after it: the lines are the near-edge structure, their "
        "positions, widths and ratios are physics, not random"))
    white_line_model: str = field(default="single-particle", metadata=_row(
        "White-line model", "", "white_line_model", (0, 0),
        'with white_lines: "single-particle" (statistical L3:L2 = 2:1 and M5:M4 = 3:2) or '
        '"multiplet" (the lanthanides\' M4,5 and the d0 ions\' (K, Ca, Sc, Ti) L2,3 shared by their particle-hole '
        'multiplet) or "crystal-field" (the multiplet\'s, with the d0 ions\' L3 and L2 each split into '
        "t2g and e_g lines by an octahedral field) or \"autoionisation\" (the crystal-field table with narrow "
        'lanthanide N4,5 lines below the 4d threshold) or "autoionisation-fano" (that table with Fano-profiled '
        'autoionising N4,5 lines) or "autoionisation-henke" (those of La..Tm but Eu, Pm shaped as the measured 4d '
        "photoabsorption, Henke et al. 1993); eels_helpers.physics.white_lines.WHITE_LINE_MODELS"))
    lowloss_model: str = field(default="paper", metadata=_row(
        "Low-loss model", "", "lowloss_model", (0, 0),
        '"paper" (the paper\'s Methods: N plasmon peaks, each at its own energy and width, weighted by '
        'P_n) or "poisson" (one bulk plasmon, the first drawn energy and width, and its multiple '
        "scattering: the n-th plasmon near n E_p, every order, Egerton 2011 eqs. 3.105, 4.8; "
        "eels_helpers.simulation.lowloss.poisson_series_kernel)"))

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            kind, (lo, hi), unit = meta["kind"], meta["limits"], meta["unit"]
            where = f"SimulationConfig.{f.name} ({meta['label']}{', ' + unit if unit else ''})"
            if kind == "bool":
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}: must be True or False; got {value!r}")
            elif kind == "fraction":
                _check_number(where, value, lo, hi)
                object.__setattr__(self, f.name, float(value))
            elif (choices := string_choices(kind)) is not None:
                if value not in choices:
                    raise ConfigError(f"{where}: must be one of {', '.join(choices)}; got {value!r}")
            elif kind == "elements":
                object.__setattr__(self, f.name, _check_elements(where, value))
            elif kind == "str":
                if not isinstance(value, str) or not value:
                    raise ConfigError(f"{where}: must be a non-empty string; got {value!r}")
            elif f.name == "dispersion_eV" and value != 1.0:
                raise ConfigError(f"{where}: only 1 eV is supported (the network's input grid is "
                                  f"0..n_channels-1 eV at 1 eV); got {value!r}")
            elif kind in ("fixed", "int"):
                _check_number(where, value, lo, hi, integer=kind == "int" or f.name == "n_channels")
                if kind == "int":
                    object.__setattr__(self, f.name, int(value))
            elif kind == "choice":
                values = _as_tuple(where, value, "a non-empty tuple of values")
                if not values:
                    raise ConfigError(f"{where}: must be a non-empty tuple of values; got ()")
                for v in values:
                    _check_number(where, v, lo, hi)
                object.__setattr__(self, f.name, tuple(float(v) for v in values))
            else:
                pair = _check_pair(where, value, lo, hi, integer=kind in ("N", "Z"))
                object.__setattr__(self, f.name, pair)
        if self.detectability_min_jump > 0 and self.labels != "detectable":
            raise ConfigError("SimulationConfig.detectability_min_jump (Minimum relative jump): applies only with "
                              f'labels="detectable"; got {self.detectability_min_jump} with labels={self.labels!r}')
        if self.soft_labels and self.labels != "detectable":
            raise ConfigError("SimulationConfig.detectability_soft_factor (Soft-label factor): applies only with "
                              f'labels="detectable"; got {self.detectability_soft_factor} with labels={self.labels!r}')
        if self.detectability_all_edges and not self.detectability_min_jump > 0:
            raise ConfigError("SimulationConfig.detectability_all_edges (Extra edges under the edges): applies "
                              f"only with detectability_min_jump > 0; got {self.detectability_min_jump}")
        if not self.start_min_eV < self.n_channels:
            raise ConfigError(f"SimulationConfig.start_min_eV (Spectrum start, eV): must be below "
                              f"n_channels = {self.n_channels}; got {self.start_min_eV}")
        if not self.end_max_eV > self.start_min_eV + self.margin_before_eV + self.margin_after_eV:
            raise ConfigError(
                "SimulationConfig.end_max_eV (Spectrum end, eV): must exceed start_min_eV + "
                f"margin_before_eV + margin_after_eV = "
                f"{self.start_min_eV + self.margin_before_eV + self.margin_after_eV} eV so that an "
                f"edge fits in a window; got {self.end_max_eV}")

    # ---------------------------------------------------------------------------- conveniences
    def replace(self, **changes) -> "SimulationConfig":
        """A copy with some parameters changed (validated again)."""
        import dataclasses
        return dataclasses.replace(self, **changes)

    def table1(self):
        """The paper's Table 1 rendered from this configuration: a pandas DataFrame with columns
        ``parameter``, ``value``, ``unit`` and ``field`` (the attribute name)."""
        import pandas as pd
        sets = {"N": "ℕ", "Z": "ℤ", "R": "ℝ"}
        rows = []
        for f in fields(self):
            meta, value = f.metadata, getattr(self, f.name)
            kind = meta["kind"]
            if kind in ("bool", "str") or string_choices(kind) is not None or f.name in OPEN_WORLD_FIELDS:
                continue
            if f.name in ("margin_before_eV", "margin_after_eV"):
                continue
            if f.name == "start_min_eV":
                text = f"∈ ℕ; ∈ [{value}, E_first edge - {self.margin_before_eV}]"
            elif f.name == "end_max_eV":
                text = f"∈ ℕ; ∈ [E_last edge + {self.margin_after_eV}, {value}]"
            elif f.name == "n_channels":
                text = f"0 to {value - 1}"
            elif kind == "fixed":
                text = _fmt(value)
            elif kind == "choice":
                text = "∈ {" + ", ".join(_fmt(v) for v in value) + "}"
            else:
                text = f"∈ {sets[kind]}; ∈ [{_fmt(value[0])}, {_fmt(value[1])}]"
            rows.append({"parameter": meta["label"], "value": text, "unit": meta["unit"],
                         "field": f.name})
        return pd.DataFrame(rows, columns=["parameter", "value", "unit", "field"])

    @property
    def soft_labels(self) -> bool:
        """Whether the family edges get soft labels in [0, 1] (``detectability_soft_factor`` > 1)."""
        return self.detectability_soft_factor > 1

    @property
    def open_world(self) -> bool:
        """Whether any open-world option differs from the paper's dataset."""
        default = SimulationConfig.__dataclass_fields__
        return any(getattr(self, name) != default[name].default for name in OPEN_WORLD_FIELDS
                   if name not in ("carbon_atomic_fraction", "implanted_gas_atomic_fraction", "detectability_sigma",
                                    "detectability_min_jump", "detectability_all_edges",
                                    "detectability_soft_factor"))

    def open_world_table(self):
        """The open-world options (not in the paper's Table 1) as a pandas DataFrame with
        columns ``parameter``, ``value``, ``meaning`` and ``field``."""
        import pandas as pd
        rows = []
        for f in fields(self):
            if f.name in OPEN_WORLD_FIELDS:
                value = getattr(self, f.name)
                text = (", ".join(value) or "none" if f.metadata["kind"] == "elements"
                        else f"[{_fmt(value[0])}, {_fmt(value[1])}]" if isinstance(value, tuple)
                        else str(value) if isinstance(value, (str, bool)) else _fmt(value))
                rows.append({"parameter": f.metadata["label"], "value": text,
                             "meaning": f.metadata["note"], "field": f.name})
        return pd.DataFrame(rows, columns=["parameter", "value", "meaning", "field"])

    def table1_markdown(self) -> str:
        """Table 1 as a Markdown table (parameter | value | unit)."""
        df = self.table1()
        lines = ["| Parameter | Value | Unit |", "|---|---|---|"]
        lines += [f"| {r.parameter} | {r.value} | {r.unit} |" for r in df.itertuples()]
        return "\n".join(lines)


#: the open-world options of :class:`SimulationConfig` (defaults: the paper's dataset)
OPEN_WORLD_FIELDS = ("edge_free_fraction", "carbon_fraction", "carbon_atomic_fraction", "exclude_elements",
                     "implanted_gas_fraction", "implanted_gas_atomic_fraction", "gas_phase_fraction",
                     "distractor_fraction", "other_edges_fraction", "lone_edge_fraction",
                     "low_start_fraction", "lowloss_tail_fraction",
                     "narrow_window_fraction", "background_subtracted_fraction",
                     "artefact_fraction", "dark_fraction", "pi_star_fraction", "sigma_star_fraction", "fs_depth",
                     "labels",
                     "detectability_sigma", "detectability_min_jump", "detectability_all_edges",
                     "detectability_soft_factor")


def _fmt(v) -> str:
    v = float(v)
    if v != 0 and (abs(v) >= 1e3 or abs(v) < 1e-2):
        exp = int(math.floor(math.log10(abs(v))))
        if math.isclose(v, 10.0 ** exp):
            return f"10^{exp}"
        return f"{v:.3g}"
    return f"{v:g}"


def _num(v) -> str:
    return f"{float(v):g}"


def _check_elements(where, value) -> tuple[str, ...]:
    """A tuple of distinct element symbols among the 80 network elements, not all of them."""
    from eels_helpers.physics.elements import ELEMENTS

    values = _as_tuple(where, value, "a tuple of element symbols")
    bad = [v for v in values if v not in ELEMENTS]
    if bad:
        raise ConfigError(f"{where}: must be symbols among the 80 network elements (Be..Bi); unknown: {bad}")
    if len(set(values)) == len(ELEMENTS):
        raise ConfigError(f"{where}: cannot exclude every element")
    return tuple(sorted(set(values), key=ELEMENTS.index))


def _as_tuple(where, value, what):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"{where}: must be {what}; got {value!r}")
    return tuple(value)


def _check_number(where, v, lo, hi, integer=False):
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
        raise ConfigError(f"{where}: must be a number in [{_num(lo)}, {_num(hi)}]; got {v!r}")
    fv = float(v)
    if not math.isfinite(fv) or not lo <= fv <= hi:
        raise ConfigError(f"{where}: must lie in [{_num(lo)}, {_num(hi)}]; got {v!r}")
    if integer and fv != int(fv):
        raise ConfigError(f"{where}: must be an integer; got {v!r}")


def _check_pair_raw(where, value, integer):
    pair = _as_tuple(where, value, "a (min, max) pair")
    if len(pair) != 2:
        raise ConfigError(f"{where}: must be a (min, max) pair; got {value!r}")
    out = []
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
            raise ConfigError(f"{where}: must hold numbers; got {value!r}")
        fv = float(v)
        if not math.isfinite(fv):
            raise ConfigError(f"{where}: must hold finite numbers; got {value!r}")
        if integer:
            if fv != int(fv):
                raise ConfigError(f"{where}: must hold integers (Table 1: ℕ/ℤ); got {value!r}")
            out.append(int(fv))
        else:
            out.append(fv)
    return tuple(out)


def _check_pair(where, value, lo, hi, integer):
    a, b = _check_pair_raw(where, value, integer)
    rng = f"[{_num(lo)}, {_num(hi)}]"
    if not (lo <= a <= hi and lo <= b <= hi):
        raise ConfigError(f"{where}: both bounds must lie in {rng}; got {value!r}")
    if a > b:
        raise ConfigError(f"{where}: min must not exceed max; got {value!r}")
    return (a, b)
