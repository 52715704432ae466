"""The lanthanide N4,5 giant resonance shaped as the measured 4d photoabsorption.

The lanthanides' 4d -> 4f absorption above the 4d threshold is one sharp early maximum with a long
high-energy tail in measured photoabsorption; the frozen-spectator multiplet of
:mod:`eels_helpers.physics.white_line_calculation` spreads the same strength upwards, its maximum 3-15
eV above the measured one while the strength-weighted centroids agree within 0-4 eV (research log,
D35h and D36b); one Fano resonance cannot place both (F36c). In the dipole (optical) limit the
photoabsorption cross section is proportional to the oscillator-strength density,
sigma_a(E) = (2 pi^2 e^2 hbar / (m c)) df/dE in Gaussian units (Fano & Cooper, Rev. Mod. Phys.
40, 441 (1968)), so the measured shape of sigma_a is the shape of df/dE.

Here the autoionising N4,5 lines (:func:`eels_helpers.physics.fano_lines.is_autoionising`) of the
elements in :data:`SHAPES_PATH` share that measured shape, as a function of the offset from the
family's first onset (so calibration and chemical shifts move it with the edge); each line keeps its
own strength (its f(q) and sigma(beta*): the multiplet fixes the strength, the measurement the shape).
Elements without a measured shape keep the Fano profile of ``fallback``.

Reference: the photoabsorption of the Henke / CXRO tables (Henke, Gullikson & Davis, At. Data Nucl.
Data Tables 54, 181 (1993); the ``xsf`` files of the ``periodictable`` package): sigma_a = 2 r_e lambda
f2, a power law fitted at 60-90 eV subtracted, from the last point below 5 % of its maximum (searched at
most 30 eV below it). That is the df/dE shape of the whole edge; it is scaled to the area of the
in-house edge (continuum + every line) over its support, the in-house continuum and the narrow lines
below the threshold are subtracted (they are simulated anyway), negatives clipped, and the rest, divided
by the dipole factor (:func:`eels_helpers.physics.cross_section.dipole_df_factor`, at 200 keV, 1 / 10
mrad), is the autoionising lines' dsigma/dE shape, tapered (cos^2) from 60 to 150 eV above the first
onset as the Fano lines are, unit area. Written by ``scripts/compare_n45_henke.py --write-shapes``.
Which elements: those whose metals are trivalent like their oxides (La, Ce, Pr, Nd, Sm, Gd, Tb, Dy, Ho,
Er, Tm); Eu and Yb metals are divalent (4f^7, 4f^14: another multiplet than in Eu2O3, Yb2O3), Lu has
no 4f hole, Pm no measurement of its own: those keep the Fano lines. Caveats (research log, D35h, H42):
the tables' grid is ~1.6 % (2.4 eV at 150 eV); metals, not the oxides' ions; the dipole factor of one
microscope setting (it changes the shape by a few per cent over the edge between settings).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from eels_helpers import DATA_DIR
from eels_helpers.physics.fano_lines import FanoProfile

__all__ = ["SHAPES_PATH", "MeasuredProfile", "measured_shapes"]

#: the measured shapes: columns family, offset_eV (from the family's first onset), density (1/eV)
SHAPES_PATH = DATA_DIR / "n45_photoabsorption_shapes.csv"


@lru_cache(maxsize=2)
def measured_shapes(path=SHAPES_PATH) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Family name ("Ho N") -> (offset_eV, cumulative share at each offset) of its measured shape
    (the density integrated by the trapezoid rule from 0 to 1)."""
    rows: dict[str, list[tuple[float, float]]] = {}
    with open(path) as fh:
        for r in csv.DictReader(line for line in fh if not line.startswith("#")):
            rows.setdefault(r["family"], []).append((float(r["offset_eV"]), float(r["density"])))
    shapes = {}
    for family, pts in rows.items():
        x, y = np.array(pts).T
        if x.size < 2 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))) or np.any(np.diff(x) <= 0) \
                or np.any(y < 0):
            raise ValueError(f"{path}: family {family!r}: needs >= 2 rows, increasing finite offsets (eV) and "
                             "finite densities >= 0 (1/eV)")
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(x))])
        if not cdf[-1] > 0:
            raise ValueError(f"{path}: family {family!r}: the density is zero everywhere")
        shapes[family] = (x, cdf / cdf[-1])
    return shapes


@dataclass(frozen=True)
class MeasuredProfile:
    """Autoionising lines shaped as the measured photoabsorption of their family (:data:`SHAPES_PATH`);
    families without one: the ``fallback`` Fano profile."""

    fallback: FanoProfile = FanoProfile()
    path: Path = SHAPES_PATH

    def source_bytes(self) -> bytes:
        """What the simulator's shape-table cache key must hold of this profile: its code and data."""
        return self.fallback.source_bytes() + Path(__file__).read_bytes() + Path(self.path).read_bytes()

    def bin_share(self, lines, centre_eV, E_line, fwhm_eV, bin_eV) -> np.ndarray:
        """Share per eV (n_lines, n_E) of each autoionising line of ``lines`` (unit strength, at
        ``E_line``) in bins of width ``bin_eV`` around ``centre_eV`` (n_lines, n_E): the measured
        shape's mean over the bin, at the offset from the line's family's first onset (E_line minus
        the line's offset), (CDF(c + b/2) - CDF(c - b/2)) / b: the lines of a family share its shape,
        whatever their own energy and ``fwhm_eV`` (which only the fallback's Fano lines use)."""
        shapes = measured_shapes(self.path)
        E_line = np.asarray(E_line, dtype=np.float64)
        first = E_line - np.array([ln.offset_eV for ln in lines])
        measured = np.array([ln.family in shapes for ln in lines], dtype=bool)
        centre = np.broadcast_to(centre_eV, np.broadcast_shapes(np.shape(centre_eV), (len(lines), 1)))
        share = np.empty(centre.shape)
        if (~measured).any():
            share[~measured] = self.fallback.bin_share([ln for ln, m in zip(lines, measured) if not m],
                                                       centre[~measured], E_line[~measured],
                                                       np.asarray(fwhm_eV)[~measured], bin_eV)
        for i in np.flatnonzero(measured):
            x, cdf = shapes[lines[i].family]
            c = centre[i] - first[i]
            share[i] = (np.interp(c + 0.5 * bin_eV, x, cdf) - np.interp(c - 0.5 * bin_eV, x, cdf)) / bin_eV
        return share
