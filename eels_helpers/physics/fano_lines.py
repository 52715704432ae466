"""Fano profiles of the autoionising lanthanide N4,5 lines (the 4d -> 4f giant resonance).

The lanthanides' 4d^9 4f^(N+1) states above the 4d ionisation threshold decay into the
4d^9 4f^N eps f continuum (Dehmer, Starace, Fano, Sugar & Cooper, PRL 26, 1521 (1971)). A discrete
state coupled to a continuum absorbs with Fano's asymmetric profile (Fano, Phys. Rev. 124, 1866
(1961), eq. 21), not a Lorentzian::

    sigma(eps) ~ (q + eps)^2 / (1 + eps^2) - 1 = (q^2 - 1 + 2 q eps) / (1 + eps^2),
    eps = (E - E_line) / (Gamma / 2),

the resonance part over the continuum it interferes with; q -> infinity is the Lorentzian. Its
slow 1/eps decay above the line is the long high-energy tail of the measured 4d photoabsorption
(Henke, Gullikson & Davis, At. Data Nucl. Data Tables 54, 181 (1993): 40 eV above the maximum it
keeps 0.15-0.22 of it for Nd..Tm, a Lorentzian of the tables' widths 0.03-0.13; research log,
D35h and F36).

Here (:func:`fano_bin_share`): the profile from its zero eps0 = -(q^2 - 1) / (2q) upwards (q > 1;
the window dip below it is left out: the in-house eps f continuum below the line is nearly empty,
so there is nothing for it to take from), times a cos^2 taper from ``TAPER_START_EV`` above the
line to zero at ``TAPER_END_EV`` (the isolated-resonance form does not hold far from it; stated
assumption, not a measurement), normalised to unit area, so that each line keeps its oscillator
strength (the multiplet and the line tables fix it). Which lines: :func:`is_autoionising`.

The asymmetry q and the extra width (:data:`FANO_Q`, :data:`FANO_EXTRA_FWHM_EV`) were chosen against
the Henke photoabsorption of La..Tm (``scripts/compare_n45_henke.py --fano-grid``: tail and width;
never against measured EELS spectra); the fit is in the research log (F36).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FANO_Q", "FANO_EXTRA_FWHM_EV", "TAPER_START_EV", "TAPER_END_EV", "FanoProfile", "taper", "fano_density",
           "fano_bin_share", "is_autoionising"]

#: Fano asymmetry of the autoionising N4,5 lines (chosen against Henke: research log F36)
FANO_Q = 6.0
#: width added to the tables' FWHM of those lines (eV; chosen with FANO_Q)
FANO_EXTRA_FWHM_EV = 3.0
#: the profile is tapered (cos^2) from this energy above the line (eV) ...
TAPER_START_EV = 60.0
#: ... to zero at this one (eV)
TAPER_END_EV = 150.0
#: sub-samples per bin of :func:`fano_bin_share` (midpoint rule; the profile is >= 6 eV wide)
_SUB = 8
#: points of the normalisation integral per line
_NORM_POINTS = 6001


@dataclass(frozen=True)
class FanoProfile:
    """Fano profile of the autoionising lines: asymmetry ``q`` (> 1) and ``extra_fwhm_eV`` (>= 0)
    added to each line's tabulated FWHM."""

    q: float = FANO_Q
    extra_fwhm_eV: float = FANO_EXTRA_FWHM_EV

    def __post_init__(self):
        if not (np.isfinite(self.q) and self.q > 1.0):
            raise ValueError(f"FanoProfile.q must be > 1 (q -> infinity is a Lorentzian), got {self.q!r}")
        if not (np.isfinite(self.extra_fwhm_eV) and self.extra_fwhm_eV >= 0.0):
            raise ValueError(f"FanoProfile.extra_fwhm_eV must be >= 0 eV, got {self.extra_fwhm_eV!r}")

    def source_bytes(self) -> bytes:
        """What the simulator's shape-table cache key must hold of this profile: its parameters and code."""
        from pathlib import Path

        return repr(self).encode() + Path(__file__).read_bytes()

    def bin_share(self, lines, centre_eV, E_line, fwhm_eV, bin_eV) -> np.ndarray:
        """Share per eV (n_lines, n_E) of autoionising ``lines`` (unit strength, at ``E_line``, tabulated
        FWHM ``fwhm_eV``) in bins of width ``bin_eV`` around ``centre_eV``: :func:`fano_bin_share` with
        this profile's q and FWHM + ``extra_fwhm_eV``."""
        return fano_bin_share(centre_eV, E_line, np.asarray(fwhm_eV, dtype=np.float64) + self.extra_fwhm_eV,
                              bin_eV, self.q)


def is_autoionising(line) -> bool:
    """Whether a :class:`~eels_helpers.physics.white_lines.WhiteLine` is an autoionising N4,5 line:
    a lanthanide's N4,5 multiplet line (component ``N45_k``: only the lanthanides' 4d -> 4f multiplet
    writes such lines, :func:`eels_helpers.physics.white_line_calculation._multiplet_lines`) at or
    above the 4d5/2 threshold (the family's first onset, offset >= 0)."""
    return line.component.startswith("N45_") and line.offset_eV >= 0.0


def taper(above_eV) -> np.ndarray:
    """The cos^2 taper: 1 up to ``TAPER_START_EV`` above the line (or the family's first onset, for the
    measured shapes of :mod:`eels_helpers.physics.photoabsorption_shapes`), 0 from ``TAPER_END_EV`` on;
    ``above_eV`` any shape (eV)."""
    return np.cos(0.5 * np.pi * np.clip((np.asarray(above_eV) - TAPER_START_EV) / (TAPER_END_EV - TAPER_START_EV),
                                        0.0, 1.0)) ** 2


def fano_density(energy_eV, E_line, fwhm_eV, q: float) -> np.ndarray:
    """Unnormalised profile (q^2 - 1 + 2 q eps) / (1 + eps^2) for eps >= eps0, zero below, times the
    cos^2 taper (see the module docstring). ``energy_eV`` (n_lines, n_E) or broadcastable,
    ``E_line`` and ``fwhm_eV`` (n_lines,) eV. Returns (n_lines, n_E)."""
    E_line = np.asarray(E_line, dtype=np.float64)[:, None]
    half = 0.5 * np.asarray(fwhm_eV, dtype=np.float64)[:, None]
    d = np.asarray(energy_eV, dtype=np.float64) - E_line
    eps = d / half
    value = (q * q - 1.0 + 2.0 * q * eps) / (1.0 + eps * eps)
    return np.where(eps >= -(q * q - 1.0) / (2.0 * q), value, 0.0) * taper(d)


def fano_bin_share(centre_eV, E_line, fwhm_eV, bin_eV, q: float) -> np.ndarray:
    """Share per eV of a unit-area Fano line (:func:`fano_density`, normalised) in bins of width
    ``bin_eV`` around ``centre_eV`` (n_lines, n_E): the bin's mean of the profile (midpoint rule,
    ``_SUB`` samples), as :func:`eels_helpers.physics.white_lines.lorentzian_bin_share` for the
    Lorentzian (1/eV)."""
    E_line = np.asarray(E_line, dtype=np.float64)
    fwhm = np.asarray(fwhm_eV, dtype=np.float64)
    start = E_line - (q * q - 1.0) / (2.0 * q) * 0.5 * fwhm
    grid = start[:, None] + (E_line + TAPER_END_EV - start)[:, None] * np.linspace(0.0, 1.0, _NORM_POINTS)[None, :]
    area = np.trapezoid(fano_density(grid, E_line, fwhm, q), grid, axis=1)
    c = np.asarray(centre_eV, dtype=np.float64)
    offsets = (np.arange(_SUB) + 0.5) / _SUB - 0.5
    mean = np.zeros(np.broadcast_shapes(c.shape, (E_line.size, 1)))
    for o in offsets:                                   # _SUB samples per bin, each vectorised over lines x bins
        mean += fano_density(c + o * bin_eV, E_line, fwhm, q)
    return mean / (_SUB * area[:, None])
