"""White lines: the tables of bound-bound core excitations into partly empty d and f shells, and
their cross sections.

The continuum GOS of :mod:`eels_helpers.physics.atomic_gos` starts at the ionisation threshold;
the sharp "white lines" of the 3d and 4d metals' L2,3 edges and of the lanthanides' M4,5 and
N4,5 edges are transitions into a partly empty BOUND shell. Their generalised oscillator
strengths f(q), positions and widths are computed once from the LDA atoms
(:mod:`eels_helpers.physics.white_line_calculation`, needs GPAW; the physics, approximations and
validation are described there) and shipped as tables (:data:`TABLE_PATHS`). This module reads
them without GPAW and gives their cross sections on any axis:

* Cross section: dsigma/dE = sigma_line(beta*) x Lorentzian(E - E_line), sigma_line (barn) =
  4 pi a0^2 (R^2/(E T)) int f_j(Q) dln Q over the same kinematic limits and effective collection
  angle as the continuum (:mod:`eels_helpers.physics.cross_section`; Egerton 2011, sec. 3.6).
  The model "autoionisation-fano" (:data:`LINE_PROFILES`) is the "autoionisation" table whose
  autoionising lanthanide N4,5 lines have a Fano profile instead (:mod:`eels_helpers.physics.fano_lines`);
  "autoionisation-henke" shapes them as the measured 4d photoabsorption
  (:mod:`eels_helpers.physics.photoabsorption_shapes`).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from eels_helpers import DATA_DIR
from eels_helpers.physics.atomic_gos import BOHR_ANGSTROM
from eels_helpers.physics.cross_section import FOUR_PI_A0SQ_BARN, R_EV, kinematics, ln_q_limits
from eels_helpers.physics.fano_lines import FanoProfile, is_autoionising
from eels_helpers.physics.photoabsorption_shapes import MeasuredProfile

__all__ = ["WHITE_LINES_PATH", "TABLE_PATHS", "Q_GRID_INV_ANGSTROM", "MEASURED_RATIOS", "WhiteLine", "table_path",
           "white_lines", "branching_ratios",
           "line_cross_sections", "white_line_shapes", "line_profiles", "edge_cross_sections",
           "lorentzian_bin_share", "LINE_PROFILES", "WHITE_LINE_MODELS", "line_profile", "line_shares"]

log = logging.getLogger(__name__)

#: the shipped table (scripts/compute_white_lines.py)
WHITE_LINES_PATH = DATA_DIR / "white_lines.csv"
#: momentum transfers (1/Angstrom) at which f(q) is tabulated: geometric 0.02..60 1/Angstrom
Q_GRID_INV_ANGSTROM = np.geomspace(0.02, 60.0, 32)

#: the white-line tables: "single-particle" (statistical L3:L2 = 2:1 and M5:M4 = 3:2, the shipped
#: default) and "multiplet" (the same lines, the strength of the lanthanides' M4,5 and of the d0
#: ions' L2,3 shared between the two components by their particle-hole multiplet) and
#: "crystal-field" (the multiplet table whose d0-ion L2,3 are split by an octahedral crystal field
#: into t2g and e_g lines, components L3_1, L3_2, ..., L2_1, ...) and "autoionisation" (the
#: crystal-field table whose lanthanide N4,5 lines below the 4d threshold are narrow: no
#: autoionisation into 4d^9 4f^N eps f there; Dehmer et al., PRL 26, 1521 (1971))
TABLE_PATHS = {"single-particle": WHITE_LINES_PATH, "multiplet": DATA_DIR / "white_lines_multiplet.csv",
               "crystal-field": DATA_DIR / "white_lines_crystal_field.csv",
               "autoionisation": DATA_DIR / "white_lines_autoionisation.csv"}
#: white-line models whose lines are not all Lorentzians: model name -> (its table in TABLE_PATHS, the
#: autoionising lines' profile); "autoionisation-fano": the "autoionisation" table with Fano-profiled
#: autoionising N4,5 lines (:mod:`eels_helpers.physics.fano_lines`); "autoionisation-henke": the same,
#: except that those of La..Tm (not Eu, Pm) share their measured photoabsorption's shape
#: (:mod:`eels_helpers.physics.photoabsorption_shapes`)
LINE_PROFILES = {"autoionisation-fano": ("autoionisation", FanoProfile()),
                 "autoionisation-henke": ("autoionisation", MeasuredProfile())}
#: a profile of the autoionising lines (what :data:`LINE_PROFILES` maps to)
LineProfile = FanoProfile | MeasuredProfile
#: every white-line model name (``SimulationConfig.white_line_model``): the tables, then the profiled ones
WHITE_LINE_MODELS = (*TABLE_PATHS, *LINE_PROFILES)


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class WhiteLine:
    """One white line: ``family`` (e.g. "Ti L"), ``component`` ("L3"), ``offset_eV`` from the
    family's first onset, Lorentzian ``fwhm_eV``, f(q) (dimensionless) at ``Q_GRID_INV_ANGSTROM``,
    the final shell's ``holes`` and a ``note`` on the sources."""

    family: str
    component: str
    offset_eV: float
    fwhm_eV: float
    f_q: tuple[float, ...]
    holes: float
    note: str = ""


#: measured intensity ratios of a family's two white-line components (L3/L2, M5/M4) with their
#: sources: the independent references of the tables (tests, the book)
MEASURED_RATIOS = {
    "Ti L": (0.8, "Leapman, Grunes & Fejes, Phys. Rev. B 26, 614 (1982)"),
    "Fe L": (3.5, "Leapman, Grunes & Fejes, Phys. Rev. B 26, 614 (1982)"),
    "Ni L": (3.0, "Leapman, Grunes & Fejes, Phys. Rev. B 26, 614 (1982)"),
    "Ce M": (0.8, "Fortner & Buck, Appl. Phys. Lett. 68, 3817 (1996), CeO2"),
}


def branching_ratios(tables=tuple(TABLE_PATHS)):
    """The intensity ratio of the two components (f(q -> 0) of L3 over L2, M5 over M4) of every
    L2,3 and M4,5 family with white lines, one column per table (:data:`TABLE_PATHS`), beside the
    measured ratio where :data:`MEASURED_RATIOS` has one: a pandas DataFrame with columns
    ``family``, the table names, ``measured`` and ``source`` (inf where the minor line is
    forbidden, as Yb's M4; None where a table has no lines for the family), L families first,
    by atomic number."""
    import pandas as pd

    from eels_helpers.physics import elements

    def ratio(strength: dict) -> float:
        major, minor = strength.get("L3", strength.get("M5", 0.0)), strength.get("L2", strength.get("M4", 0.0))
        return major / minor if minor > 0 else float("inf")

    per_table = {}
    for name in tables:
        strength: dict = {}
        for ln in white_lines(table_path(name)):
            component = ln.component.split("_")[0]          # crystal-field lines: L3_1, L3_2, ...
            if component in ("L3", "L2", "M5", "M4"):
                per_family = strength.setdefault(ln.family, {})
                per_family[component] = per_family.get(component, 0.0) + ln.f_q[0]
        per_table[name] = {fam: ratio(c) for fam, c in strength.items()}
    families = sorted({fam for ratios in per_table.values() for fam in ratios},
                      key=lambda fam: (fam.split()[1], elements.atomic_number(fam.split()[0])))
    rows = []
    for fam in families:
        measured, source = MEASURED_RATIOS.get(fam, (None, ""))
        rows.append({"family": fam, **{name: per_table[name].get(fam) for name in tables},
                     "measured": measured, "source": source})
    return pd.DataFrame(rows, columns=["family", *tables, "measured", "source"])


def table_path(white_lines):
    """The white-line table of a ``white_lines`` setting: None for False, the shipped
    single-particle table for True, else the table of that model name (:data:`TABLE_PATHS`; a
    profiled model of :data:`LINE_PROFILES`: its table)."""
    if white_lines is False or white_lines is None:
        return None
    if white_lines is True:
        return WHITE_LINES_PATH
    if white_lines in LINE_PROFILES:
        return TABLE_PATHS[LINE_PROFILES[white_lines][0]]
    if white_lines not in TABLE_PATHS:
        raise ValueError(f"white-line model must be one of {list(WHITE_LINE_MODELS)}, got {white_lines!r}")
    return TABLE_PATHS[white_lines]


def line_profile(white_lines) -> LineProfile | None:
    """The profile of the autoionising lines (Fano or measured) of a ``white_lines`` setting (True, False
    or a model name of :data:`WHITE_LINE_MODELS`), or None where every line is a Lorentzian."""
    return LINE_PROFILES[white_lines][1] if isinstance(white_lines, str) and white_lines in LINE_PROFILES else None


@lru_cache(maxsize=4)
def white_lines(path=WHITE_LINES_PATH) -> tuple[WhiteLine, ...]:
    """The white lines of the shipped table (or ``path``), without GPAW.

    Returns
    -------
    tuple of WhiteLine
        One per line (two per family: L3, L2 / M5, M4 / N5, N4), in table order.

    Raises
    ------
    ValueError
        When the file's q grid is not ``Q_GRID_INV_ANGSTROM``.
    """
    text = open(path).read().splitlines()
    qline = next(t for t in text if t.startswith("# q:"))
    q = np.array([float(v) for v in qline[4:].split()])
    if q.shape != Q_GRID_INV_ANGSTROM.shape or not np.allclose(q, Q_GRID_INV_ANGSTROM, rtol=1e-5):
        raise ValueError(f"{path}: q grid differs from Q_GRID_INV_ANGSTROM; regenerate it with "
                         "scripts/compute_white_lines.py")
    rows = csv.DictReader([t for t in text if not t.startswith("#")])
    nq = Q_GRID_INV_ANGSTROM.size
    return tuple(WhiteLine(r["family"], r["component"], float(r["offset_eV"]),
                           float(r["fwhm_eV"]), tuple(float(r[f"f_q{i:02d}"]) for i in range(nq)),
                           float(r["holes"]), r["note"]) for r in rows)


# ----------------------------------------------------------------------------- cross sections
def line_cross_sections(f_q, energy_eV, E0_keV, theta_mrad) -> np.ndarray:
    """Integrated cross sections sigma (barn per atom) of lines collected within theta.

    sigma = 4 pi a0^2 (R^2/(E T)) int_{ln Qmin}^{ln Qmax} f(Q) dln Q (Egerton 2011, sections 3.6
    and 4.5, the continuum's formula of :mod:`eels_helpers.physics.cross_section` with df/dE ->
    f), Q = (q a0)^2, kinematic limits from :func:`cross_section.ln_q_limits`; f linear in ln Q
    between the tabulated q, constant (the dipole limit) below the grid, zero above it.
    ``f_q`` (n_lines, n_q) at ``Q_GRID_INV_ANGSTROM``, ``energy_eV`` (n_lines,) line energies;
    ``E0_keV`` scalar; ``theta_mrad`` broadcasts against (..., n_lines). Returns theta's shape.
    """
    f = np.asarray(f_q, dtype=np.float64)
    E = np.asarray(energy_eV, dtype=np.float64)
    L = 2.0 * np.log(Q_GRID_INV_ANGSTROM * BOHR_ANGSTROM)               # ln Q of the grid
    C = np.concatenate([np.zeros((f.shape[0], 1)),
                        np.cumsum(0.5 * (f[:, 1:] + f[:, :-1]) * np.diff(L), axis=1)], axis=1)

    def cumulative(x):                                                 # int_{L0}^{x} f dlnQ
        x = np.asarray(x)
        j = np.clip(np.searchsorted(L, x, side="right") - 1, 0, L.size - 2)
        t = np.clip((x - L[j]) / (L[j + 1] - L[j]), 0.0, 1.0)
        rows = np.broadcast_to(np.arange(f.shape[0]), x.shape)
        f0, f1 = f[rows, j], f[rows, j + 1]
        val = C[rows, j] + (L[j + 1] - L[j]) * (f0 * t + 0.5 * (f1 - f0) * t * t)
        return np.where(x < L[0], f[rows, 0] * (x - L[0]), val)

    lo, hi = ln_q_limits(E, E0_keV, np.asarray(theta_mrad, dtype=np.float64) * 1e-3)
    _, T, _ = kinematics(E0_keV)
    return FOUR_PI_A0SQ_BARN * R_EV**2 / (E * T) * np.maximum(cumulative(hi) - cumulative(lo), 0)


def lorentzian_bin_share(centre_eV, E_line, fwhm_eV, bin_eV) -> np.ndarray:
    """Share of a unit-strength Lorentzian (FWHM ``fwhm_eV``, centre ``E_line``; (n_lines,))
    in bins [c - b/2, c + b/2] around the centres ``centre_eV`` (n_lines, n_E), per eV:
    (1/(pi b)) [atan((c + b/2 - E_line)/g) - atan((c - b/2 - E_line)/g)], g = FWHM/2
    (1/eV; integrates to 1 over any complete tiling of bins)."""
    g = 0.5 * np.asarray(fwhm_eV, dtype=np.float64)[:, None]
    d = centre_eV - np.asarray(E_line, dtype=np.float64)[:, None]
    half = 0.5 * bin_eV
    return (np.arctan((d + half) / g) - np.arctan((d - half) / g)) / (np.pi * bin_eV)


def line_shares(lines, centre_eV, E_line, bin_eV, profile: LineProfile | None = None) -> np.ndarray:
    """Share per eV (n_lines, n_E) of each of ``lines`` (unit strength, at ``E_line``) in bins of
    width ``bin_eV`` around ``centre_eV`` (n_lines, n_E): Lorentzians of the lines' FWHM
    (:func:`lorentzian_bin_share`), except, with ``profile``, the autoionising lines
    (:func:`eels_helpers.physics.fano_lines.is_autoionising`): the profile's ``bin_share`` (Fano
    profiles, :class:`~eels_helpers.physics.fano_lines.FanoProfile`, or the measured photoabsorption,
    :class:`~eels_helpers.physics.photoabsorption_shapes.MeasuredProfile`)."""
    fwhm = np.array([ln.fwhm_eV for ln in lines], dtype=np.float64)
    E_line = np.asarray(E_line, dtype=np.float64)
    share = lorentzian_bin_share(centre_eV, E_line, fwhm, bin_eV)
    if profile is not None:
        auto = np.array([is_autoionising(ln) for ln in lines], dtype=bool)
        if auto.any():
            share[auto] = profile.bin_share([ln for ln, a in zip(lines, auto) if a],
                                            np.broadcast_to(centre_eV, share.shape)[auto], E_line[auto],
                                            fwhm[auto], bin_eV)
    return share


def white_line_shapes(names, first_onsets_eV, onset_channel, offsets_eV, E0_keV, beta_eff_mrad,
                      path=WHITE_LINES_PATH, profile: LineProfile | None = None) -> np.ndarray:
    """dsigma/dE (barn/eV per atom) of the white lines of families ``names`` on 1 eV bins.

    Bin b of family i covers [c - 1/2, c + 1/2] eV, c = ``onset_channel[i]`` + ``offsets_eV[b]``;
    each line adds sigma_line(beta*) x the Lorentzian's share of that bin,
    (1/pi)[atan((c + 1/2 - E_line)/g) - atan((c - 1/2 - E_line)/g)] (g = FWHM/2), i.e. its
    strength is kept whatever its width (``profile``: the autoionising lines' Fano profile,
    :func:`line_shares`). E_line = ``first_onsets_eV[i]`` (the family's exact first onset) + the
    line's offset.
    ``beta_eff_mrad`` (n_beta,): effective collection angles. Returns (n_beta, n_names,
    n_offsets); families without lines are zero.
    """
    lines = white_lines(path)
    index = {nm: i for i, nm in enumerate(names)}
    sel = [ln for ln in lines if ln.family in index]
    be = np.asarray(beta_eff_mrad, dtype=np.float64)
    off = np.asarray(offsets_eV, dtype=np.float64)
    out = np.zeros((be.size, len(names), off.size))
    if not sel:
        return out
    fam = np.array([index[ln.family] for ln in sel])
    first = np.asarray(onset_channel, dtype=np.float64)[fam]
    E_line = np.asarray(first_onsets_eV, dtype=np.float64)[fam] + np.array([ln.offset_eV for ln in sel])
    sigma = line_cross_sections(np.array([ln.f_q for ln in sel]), E_line, E0_keV,
                                be[:, None] * np.ones((1, len(sel))))        # (n_beta, n_lines)
    share = line_shares(sel, first[:, None] + off[None, :], E_line, 1.0, profile)
    np.add.at(out, (slice(None), fam), sigma[:, :, None] * share[None])
    return out


def line_profiles(families, energy_eV, E0_keV, alpha_mrad, beta_mrad, *, bin_eV=None,
                  path=WHITE_LINES_PATH, profile: LineProfile | None = None):
    """dsigma/dE (barn/eV per atom) of every white line of edge ``families`` on an energy axis.

    Each line l of family i: sigma_l(beta*_i) (:func:`line_cross_sections`, barn) times the
    Lorentzian's mean over the bin of width ``bin_eV`` around each energy (:func:`lorentzian_bin_share`,
    1/eV; the strength is kept for any width), centred at E_line = the family's first onset +
    the line's offset (eV). beta*_i is Egerton's effective collection angle (2011, eq. 4.73) at
    the family's first onset, as for the continuum in
    :class:`~eels_helpers.physics.cross_section.CrossSectionCalculator` and the simulator's
    shape tables (:func:`white_line_shapes`).

    Parameters
    ----------
    families : sequence of EdgeFamily or family names
        Edge families (``"Ti L"``); those without white lines give no line.
    energy_eV : array_like, shape (n_E,)
        Energy-loss axis (eV), increasing.
    E0_keV, alpha_mrad, beta_mrad : float
        Beam energy (keV), convergence and collection semi-angles (mrad).
    bin_eV : float, optional
        Bin width (eV); default the axis' median spacing.
    path : path, optional
        White-line table (default the shipped ``data/white_lines.csv``).
    profile : FanoProfile or MeasuredProfile, optional
        The autoionising lines' profile (:func:`line_shares`); None: Lorentzians only.

    Returns
    -------
    lines : tuple of WhiteLine
        The lines, in table order.
    owner : numpy.ndarray, shape (n_lines,)
        Index into ``families`` of each line's family.
    profiles : numpy.ndarray, shape (n_lines, n_E)
        dsigma/dE of each line, barn/eV per atom.
    """
    from eels_helpers.physics.cross_section import effective_collection_angle, resolve_edge

    specs = [resolve_edge(f) for f in families]
    index = {s.name: i for i, s in enumerate(specs)}
    sel = tuple(ln for ln in white_lines(path) if ln.family in index)
    E = np.asarray(energy_eV, dtype=np.float64)
    if not sel:
        return sel, np.zeros(0, dtype=np.int64), np.zeros((0, E.size))
    owner = np.array([index[ln.family] for ln in sel])
    first = np.array([specs[i].onset_eV for i in owner])
    width = float(np.median(np.diff(E))) if bin_eV is None else float(bin_eV)
    be = effective_collection_angle(first, float(E0_keV), float(alpha_mrad), float(beta_mrad))
    E_line = first + np.array([ln.offset_eV for ln in sel])
    sigma = line_cross_sections(np.array([ln.f_q for ln in sel]), E_line, float(E0_keV), be)
    share = line_shares(sel, np.broadcast_to(E, (len(sel), E.size)), E_line, width, profile)
    return sel, owner, sigma[:, None] * share


def edge_cross_sections(families, energy_eV, E0_keV, alpha_mrad, beta_mrad, gos="builtin", *,
                        white_lines=True):
    """The edges of ``families`` on an energy axis: the continuum and, optionally, the white lines.

    The one place where fit models get "cross sections with white lines":
    continuum dsigma/dE from :class:`~eels_helpers.physics.cross_section.CrossSectionCalculator`
    (Egerton 2011, sections 3.6 and 4.5; no bound-bound transitions) and the bound-bound lines of
    :func:`line_profiles` (same kinematics and beta*), both in barn/eV per atom. A family whose
    continuum the GOS source cannot compute gets no lines either (as in the simulator's tables).

    Parameters
    ----------
    families : sequence of EdgeFamily or family names
    energy_eV : array_like, shape (n_E,)
        Energy-loss axis (eV), > 0 and uniformly spaced (the lines are averaged over bins of
        its spacing).
    E0_keV, alpha_mrad, beta_mrad : float
        Beam energy (keV), convergence and collection semi-angles (mrad).
    gos : str, path or GosSource
        GOS source of the continuum (:func:`eels_helpers.physics.gos_tables.get_source`).
    white_lines : bool or str
        False: the lines are zeros; True: the shipped table; or a model name of
        :data:`WHITE_LINE_MODELS` (with :data:`LINE_PROFILES`' profiled lines for "autoionisation-fano"
        and "autoionisation-henke").

    Returns
    -------
    continuum : numpy.ndarray, shape (n_fam, n_E)
        dsigma/dE of each family without lines (barn/eV).
    lines : numpy.ndarray, shape (n_fam, n_E)
        dsigma/dE of each family's white lines (barn/eV); continuum + lines is the full edge.
    missing : list
        The subshells the GOS source lacks (``CrossSectionCalculator.missing``).
    """
    from eels_helpers.physics.cross_section import CrossSectionCalculator

    calc = CrossSectionCalculator(list(families), energy_eV, gos)
    continuum = calc(E0_keV, alpha_mrad, beta_mrad)[0]
    lines = np.zeros_like(continuum)
    if white_lines:
        _, owner, prof = line_profiles(families, energy_eV, E0_keV, alpha_mrad, beta_mrad,
                                       path=table_path(white_lines), profile=line_profile(white_lines))
        np.add.at(lines, owner, prof)
        lines *= (continuum.max(axis=1) > 0)[:, None]
    return continuum, lines, list(calc.missing)
