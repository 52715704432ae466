"""Rydberg lines below a closed-shell atom's core threshold: Kr 3d -> 5p, 6p, 7p (the Kr M4,5 edge).

The in-house continuum GOS (:mod:`eels_helpers.physics.atomic_gos`) starts at the ionisation threshold, and
the white-line tables (:mod:`eels_helpers.physics.white_line_calculation`) hold transitions into partly
empty d and f shells of the open-shell atoms. A noble gas has neither: below its core thresholds lie the
transitions of the core electron into the empty Rydberg orbitals, sharp lines that a gas-phase spectrum
shows first (Kr M4,5: 3d5/2 -> 5p at 91.20 eV and 3d3/2 -> 5p at 92.43 eV, below the 3d5/2 and 3d3/2
thresholds at 93.79 and 95.04 eV; King, Tronc, Read & Bradford, J. Phys. B 10, 2479 (1977)), followed by
the dip of the centrifugal barrier and the delayed 3d -> epsilon f maximum of the continuum.

Physics (Hartree atomic units in the integrals; energies in eV):

* Position: the equivalent-core (Z+1) approximation (Jolly & Hendrickson, J. Am. Chem. Soc. 92, 1863
  (1970)): the Rydberg electron of the core-excited atom is bound as the same level of the Z+1 alkali atom,

      E_line = E_threshold(j) - B_{n'l'}(Z+1),

  E_threshold the gas-phase core ionisation energy of the j component (King et al. 1977) and B the binding
  energy of the n'l' level of Rb (NIST Atomic Spectra Database: ionisation energy minus the level's
  j-weighted energy; Sansonetti, J. Phys. Chem. Ref. Data 35, 301 (2006)). Kr 3d5/2 -> 5p: 93.788 - 2.598 =
  91.19 eV (measured 91.20), 3d3/2 -> 5p: 92.44 eV (measured 92.43).
* Strength: the bound-bound GOS of :func:`eels_helpers.physics.white_line_calculation.bound_gos` (core
  orbital of the Kr atom, final n'p orbital of the Rb atom's self-consistent potential, holes h = 6 of the
  empty p shell), for the whole 3d shell (N = 10 electrons); the GOS source's occupancy ratio
  (2j+1)/(2(2l+1)) then gives each j component its share, as it does the continuum. f(q -> 0) of 3d -> 5p:
  0.011; the series scales as quantum-defect theory says (f_n n*^3 nearly constant, n* = sqrt(R/B), and
  f_n n*^3/(2R) joins the continuum's df/dE at the threshold: Fano & Cooper, Rev. Mod. Phys. 40, 441
  (1968), sec. 2.3; checked in tests/physics/test_rydberg_lines.py).
* Shape: bound rows of the GOS table (the GOSH convention, :mod:`eels_helpers.physics.gos_tables`: a line
  of strength f(q) x 1 eV, drawn by the cross-section code as a Gaussian of standard deviation
  ``BOUND_SIGMA_EV`` = 1 eV, wider than the lines' own ~0.1 eV), at free energy E_line - E_onset below the
  onset the simulator uses (``elements.OTHER_EDGES``: xraylib, 93.8 / 95.0 eV).

Only Kr M4,5: its tabulated onsets are the gas thresholds, so the whole series lies below them. The Atlas
onsets of Ar L2,3 (245 eV) and Xe M4,5 (672 eV) lie 3.6 and 4.4 eV below the gas thresholds (they mark the
first feature of measured spectra), so most of their lines would fall above the tabulated onset, where a
bound row cannot go; they are left out rather than moved.

:class:`RydbergSource` wraps a GOS source and appends the lines to the Kr M5 and M4 tables (every other table
is the base source's, unchanged). Name: ``"<base>+rydberg"`` in
:func:`eels_helpers.physics.gos_tables.get_source`, e.g. ``"builtin+4f-multiplet+rydberg"`` (the simulator's
``SimulationConfig.gos``). The table ``data/rydberg_lines.csv`` is written by scripts/compute_rydberg_lines.py
(needs GPAW), so that the simulator needs no GPAW.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass

import numpy as np

from eels_helpers import DATA_DIR
from eels_helpers.physics.gos_tables import (
    RYDBERG_SUFFIX,
    GosTable,
    WrappedGosSource,
    canonical_subshell,
    occupancy_ratio,
)

__all__ = ["SUFFIX", "RYDBERG_LINES_PATH", "Q_GRID_INV_ANGSTROM", "THRESHOLDS_EV", "MEASURED_EV",
           "Z_PLUS_1_BINDING_EV", "RydbergLine", "line_energy_eV", "compute_lines", "write_csv", "rydberg_lines",
           "line_table",
           "RydbergSource"]

log = logging.getLogger(__name__)

#: suffix of a GOS source name that adds the Rydberg lines to its tables
SUFFIX = RYDBERG_SUFFIX
#: the shipped table of line strengths
RYDBERG_LINES_PATH = DATA_DIR / "rydberg_lines.csv"
#: momentum transfers (1/Angstrom) of the stored f(q): the white-line tables' grid
Q_GRID_INV_ANGSTROM = np.geomspace(0.02, 60.0, 32)
#: gas-phase core ionisation energies (eV) of the j components: King et al., J. Phys. B 10, 2479 (1977)
THRESHOLDS_EV = {("Kr", "M5"): 93.788, ("Kr", "M4"): 95.038}
#: line positions measured by King et al. (1977) (eV): the check of the equivalent-core positions
MEASURED_EV = {("Kr", "M5", "5p"): 91.20, ("Kr", "M4", "5p"): 92.43}
_CM_PER_EV = 8065.544
#: binding energies (eV) of the Z+1 alkali's Rydberg levels: NIST ASD (Rb: Sansonetti 2006), ionisation
#: energy 33690.81 cm^-1 minus the j-weighted level energy (np1/2, np3/2 weighted 1 : 2)
Z_PLUS_1_BINDING_EV = {
    ("Rb", "5p"): (33690.81 - (12578.950 + 2 * 12816.545) / 3) / _CM_PER_EV,
    ("Rb", "6p"): (33690.81 - (23715.081 + 2 * 23792.591) / 3) / _CM_PER_EV,
    ("Rb", "7p"): (33690.81 - (27835.02 + 2 * 27870.11) / 3) / _CM_PER_EV,
}
#: the series: (element, core n, core l, Z+1 element, final levels); holes of an empty p shell: 6
_SERIES = (("Kr", 3, 2, "Rb", ("5p", "6p", "7p"), 6.0),)
_COLUMNS = ("element", "subshell", "final", "energy_eV", "holes")


@dataclass(frozen=True)
class RydbergLine:
    """One line: ``element``'s core ``subshell`` (j component, e.g. "M5") -> ``final`` ("5p") at
    ``energy_eV``; ``f_q`` the GOS (dimensionless) of the WHOLE core nl shell on
    :data:`Q_GRID_INV_ANGSTROM` (the occupancy ratio of the subshell is applied by the GOS source)."""

    element: str
    subshell: str
    final: str
    energy_eV: float
    holes: float
    f_q: tuple[float, ...]


def line_energy_eV(element: str, subshell: str, final: str) -> float:
    """E_line = E_threshold(j) - B_final(Z+1) (eV; equivalent-core approximation, module docstring)."""
    key = (element, canonical_subshell(subshell))
    if key not in THRESHOLDS_EV:
        raise ValueError(f"no gas-phase threshold for {element} {subshell}: known {sorted(THRESHOLDS_EV)}")
    series = {s[0]: s for s in _SERIES}[element]
    return THRESHOLDS_EV[key] - Z_PLUS_1_BINDING_EV[(series[3], final)]


def compute_lines() -> list[RydbergLine]:
    """Every line of the series from the LDA atoms (needs GPAW; a few seconds)."""
    from eels_helpers.physics.atomic_gos import lda_atom
    from eels_helpers.physics.white_line_calculation import bound_gos

    out = []
    for element, n, l, z1, finals, holes in _SERIES:
        core, final_atom = lda_atom(element), lda_atom(z1)
        for (el, sub) in sorted(k for k in THRESHOLDS_EV if k[0] == element):
            for fin in finals:
                E = line_energy_eV(el, sub, fin)
                f_q = bound_gos(core, n, l, final_atom, int(fin[:-1]), "spdf".index(fin[-1]), E,
                                2.0 * (2 * l + 1), holes, Q_GRID_INV_ANGSTROM)
                out.append(RydbergLine(el, sub, fin, float(E), holes, tuple(float(v) for v in f_q)))
                log.info("%s %s -> %s: %.2f eV, f(q->0) = %.4g (whole shell)", el, sub, fin, E, f_q[0])
    return out


def write_csv(lines, path=RYDBERG_LINES_PATH) -> None:
    """Write the lines (header: provenance and the q grid)."""
    with open(path, "w", newline="") as fh:
        fh.write("# Rydberg lines (bound-bound GOS of the whole core shell), eels_helpers.physics.rydberg_lines;"
                 " written by scripts/compute_rydberg_lines.py, do not edit.\n")
        fh.write("# q (1/Angstrom): " + " ".join(f"{q:.6g}" for q in Q_GRID_INV_ANGSTROM) + "\n")
        w = csv.writer(fh)
        w.writerow(list(_COLUMNS) + [f"f_q{i:02d}" for i in range(Q_GRID_INV_ANGSTROM.size)])
        for ln in lines:
            w.writerow([ln.element, ln.subshell, ln.final, f"{ln.energy_eV:.4f}", f"{ln.holes:g}"]
                       + [f"{v:.6e}" for v in ln.f_q])


def rydberg_lines(path=RYDBERG_LINES_PATH) -> tuple[RydbergLine, ...]:
    """The lines of the shipped table (or of ``path``)."""
    out = []
    with open(path, newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for r in rows:
            f_q = tuple(float(r[f"f_q{i:02d}"]) for i in range(Q_GRID_INV_ANGSTROM.size))
            out.append(RydbergLine(r["element"], r["subshell"], r["final"], float(r["energy_eV"]),
                                   float(r["holes"]), f_q))
    return tuple(out)


def line_table():
    """The shipped lines as a pandas DataFrame: subshell, final orbital, energy (equivalent core, eV), the
    measured energy where King et al. (1977) give one, f(q -> 0) of the subshell's share
    ((2j+1)/(2(2l+1)) of the whole-shell value) and the offset from the onset the simulator uses (eV)."""
    import pandas as pd

    rows = []
    for ln in rydberg_lines():
        share = occupancy_ratio(ln.subshell)
        rows.append({"edge": f"{ln.element} {ln.subshell}", "final": ln.final, "energy_eV": round(ln.energy_eV, 2),
                     "measured_eV": MEASURED_EV.get((ln.element, ln.subshell, ln.final)),
                     "f(q->0)": round(share * ln.f_q[0], 5),
                     "offset_from_onset_eV": round(ln.energy_eV - _onset_eV(ln.element, ln.subshell), 2)})
    return pd.DataFrame(rows)


def _onset_eV(element: str, subshell: str) -> float:
    """The onset the cross-section code places the subshell at: its family's or its other edge's."""
    from eels_helpers.physics import elements

    for e in elements.edges_of(element):
        if subshell in e.subshells:
            return float(e.onset_of(subshell))
    raise ValueError(f"{element} {subshell}: no edge family or other edge holds this subshell")


class RydbergSource(WrappedGosSource):
    """A GOS source whose Kr M5 and M4 tables carry the Rydberg lines as bound rows (module docstring);
    every other table is ``base``'s, unchanged."""

    suffix = SUFFIX

    def __init__(self, base, lines=None):
        super().__init__(base)
        self.lines = tuple(rydberg_lines() if lines is None else lines)

    def table(self, element: str, subshell: str) -> tuple[GosTable, float]:
        """(table, occupancy ratio): ``base``'s, with the subshell's lines appended as bound rows at
        free energy E_line - onset (< 0), f(q) interpolated in ln q onto the table's q."""
        sub = canonical_subshell(subshell)
        mine = [ln for ln in self.lines if ln.element == element and ln.subshell == sub]
        if not mine:
            return self.base.table(element, subshell)
        key = (element, sub)
        if key not in self._tables:
            t, ratio = self.base.table(element, subshell)
            onset = _onset_eV(element, sub)
            free = np.array([ln.energy_eV - onset for ln in mine])
            if np.any(free >= 0):
                raise ValueError(f"{element} {sub}: a Rydberg line lies at or above the onset {onset} eV")
            lq = np.log(t.q_inv_m * 1e-10)
            grid = np.log(Q_GRID_INV_ANGSTROM)
            rows = np.stack([np.interp(lq, grid, np.asarray(ln.f_q), right=0.0) for ln in mine], axis=1)
            order = np.argsort(free)
            fe = np.concatenate([free[order], t.free_energies_eV])
            data = np.concatenate([rows[:, order], t.dfde_per_eV], axis=1)
            self._tables[key] = (GosTable(t.element, f"{t.table}:{sub}{SUFFIX}", t.q_inv_m, fe, data,
                                          t.ionization_energy_eV, t.n, t.l,
                                          {**t.attrs, "rydberg_lines": ",".join(ln.final for ln in mine)}), ratio)
        return self._tables[key]
