"""Edge-shape tables: dsigma/dE of every edge family for one beam energy, tabulated once on a
1 eV grid of offsets from each family's onset and a geometric grid of effective collection angles,
so that a simulator gets an edge for any (alpha, beta) by interpolation and integer slicing.

The cross sections themselves come from
:class:`eels_helpers.physics.cross_section.CrossSectionCalculator` (Egerton 2011, sections 3.6
and 4.5); the effective collection angle beta* is Egerton's (2011, eq. 4.73),
:func:`eels_helpers.physics.cross_section.effective_collection_angle`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from eels_helpers.physics import elements
from eels_helpers.physics.cross_section import (
    E0_RANGE_KEV,
    CrossSectionCalculator,
    effective_collection_angle,
    resolve_edge,
    validate_microscope,
)

__all__ = ["E0_GRID_KEV", "ALPHA_SIM_RANGE_MRAD", "BETA_SIM_RANGE_MRAD", "SHAPE_OFFSETS_EV",
           "EdgeShapeTable", "edge_shape_table"]

#: beam energies the simulator uses (keV)
E0_GRID_KEV = (60.0, 100.0, 200.0, 300.0)
#: the simulator's ranges of convergence and collection semi-angles (mrad)
ALPHA_SIM_RANGE_MRAD = (1.0, 20.0)
BETA_SIM_RANGE_MRAD = (1.0, 100.0)
#: offsets (eV) of the tabulated edge shapes from each family's first onset (rounded to 1 eV)
SHAPE_OFFSETS_EV = np.arange(-16, 3101, dtype=np.float64)
_TINY = 1e-30


class EdgeShapeTable:
    """dsigma/dE (barn/eV) of edge families tabulated for ONE beam energy on a 1 eV grid of
    offsets from each family's first onset (``SHAPE_OFFSETS_EV``: -16..3100 eV, so that bound
    lines of Dirac tables below the onset fit) and on a geometric grid of ``n_beta`` effective
    collection angles beta* covering alpha in [1, 20] mrad and beta in [1, 100] mrad at every
    onset (plus one grid step on each side).

    A simulator gets any (alpha, beta) by :meth:`shapes` (beta* of each family at its onset,
    then 4-point Lagrange interpolation of ln(dsigma/dE) in ln(beta*)) and places an edge in a
    1 eV spectrum by integer slicing (:meth:`place`): channel = ``onset_channel`` + offset.

    Interpolation error: :meth:`interpolation_error` measures it at the mid-points of the beta*
    grid (where it is largest) against a direct calculation; the tests bound it for the shipped
    table (worst < 0.2 % on channels above 1 % of a family's peak, 99th percentile < 0.1 % down
    to 0.1 % of the peak) and for the hydrogenic source. Measure it for any other table with
    ``interpolation_error()``. Memory: 56 MB per beam energy (float32).
    """

    def __init__(self, E0_keV: float, edges=None, gos="builtin", *, n_beta: int = 40,
                 offsets_eV=SHAPE_OFFSETS_EV, skip_missing=True):
        if not (E0_RANGE_KEV[0] <= E0_keV <= E0_RANGE_KEV[1]):
            raise ValueError(f"E0_keV = {E0_keV} keV is outside [{E0_RANGE_KEV[0]}, "
                             f"{E0_RANGE_KEV[1]}] keV")
        if n_beta < 4:
            raise ValueError(f"n_beta = {n_beta} must be >= 4")
        self.E0_keV = float(E0_keV)
        specs = [resolve_edge(e)
                 for e in (list(elements.EDGE_FAMILIES) if edges is None else edges)]
        self.names = [s.name for s in specs]
        self.onsets_eV = np.array([s.onset_eV for s in specs])
        self.onset_channel = np.round(self.onsets_eV).astype(np.int64)
        self.offsets_eV = np.asarray(offsets_eV, dtype=np.float64)
        if np.any(np.diff(self.offsets_eV) != 1.0):
            raise ValueError("offsets_eV must be consecutive integers (1 eV steps)")
        lo, hi = self.beta_eff_range(self.onsets_eV, self.E0_keV)
        #: the range of beta* the simulator's (alpha, beta) produce, mrad
        self.beta_eff_used_mrad = (lo, hi)
        # n_beta values spanning [lo, hi] plus one more on each side, so that every used
        # beta* has a centred 4-point stencil
        self._dln_b = np.log(hi / lo) / (n_beta - 1)
        self._ln_b0 = np.log(lo) - self._dln_b
        self.beta_eff_mrad = np.exp(self._ln_b0 + self._dln_b * np.arange(n_beta + 2))
        axis = self.onset_channel[:, None] + self.offsets_eV[None, :]
        self.calculator = CrossSectionCalculator(specs, np.maximum(axis, 1.0), gos,
                                                 skip_missing=skip_missing)
        self.missing = self.calculator.missing
        theta = np.repeat(self.beta_eff_mrad[:, None], len(specs), axis=1)
        tab = self.calculator.from_theta(np.full(theta.shape[0], self.E0_keV), theta)
        tab[:, axis < 1.0] = 0.0
        #: (n_beta + 2, n_edges, n_offsets) float32 ln(dsigma/dE + 1e-30)
        self.log_shapes = np.log(tab + _TINY).astype(np.float32)

    @staticmethod
    def beta_eff_range(onsets_eV, E0_keV):
        """(min, max) of beta* (mrad) over alpha in [1, 20], beta in [1, 100] mrad and the given
        onsets, widened by 1 %."""
        a = np.geomspace(*ALPHA_SIM_RANGE_MRAD, 25)
        b = np.geomspace(*BETA_SIM_RANGE_MRAD, 25)
        E = np.asarray(onsets_eV, dtype=np.float64)
        be = effective_collection_angle(E[:, None, None], E0_keV, a[None, :, None],
                                        b[None, None, :])
        return float(be.min()) / 1.01, float(be.max()) * 1.01

    def effective_angles(self, alpha_mrad, beta_mrad) -> np.ndarray:
        """beta* (mrad) of every family at its onset: (batch, n_edges)."""
        _, alpha, beta = validate_microscope(self.E0_keV, alpha_mrad, beta_mrad)
        return effective_collection_angle(self.onsets_eV[None, :], self.E0_keV,
                                          alpha[:, None], beta[:, None])

    def shapes_at(self, beta_eff_mrad, edge_index) -> np.ndarray:
        """dsigma/dE (barn/eV) at effective angles (batch, k) for families ``edge_index``
        (batch, k) -> (batch, k, n_offsets); ln(dsigma/dE) is interpolated with 4-point
        Lagrange polynomials in ln(beta*)."""
        be = np.asarray(beta_eff_mrad, dtype=np.float64)
        idx = np.asarray(edge_index, dtype=np.int64)
        u = (np.log(be) - self._ln_b0) / self._dln_b
        n = self.beta_eff_mrad.size
        if np.any(u < -1e-6) or np.any(u > n - 1 + 1e-6):
            raise ValueError(f"effective collection angle outside the tabulated range "
                             f"[{self.beta_eff_mrad[0]:.4g}, {self.beta_eff_mrad[-1]:.4g}] mrad")
        # 4-point Lagrange interpolation of ln(dsigma/dE) in ln(beta*)
        s = np.clip(np.floor(u).astype(np.int64) - 1, 0, n - 4)
        x = (u - s)[..., None].astype(np.float32)
        w = (-(x - 1) * (x - 2) * (x - 3) / 6, x * (x - 2) * (x - 3) / 2,
             -x * (x - 1) * (x - 3) / 2, x * (x - 1) * (x - 2) / 6)
        acc = w[0] * self.log_shapes[s, idx]
        for k in (1, 2, 3):
            acc += w[k] * self.log_shapes[s + k, idx]
        return np.maximum(np.exp(acc) - np.float32(_TINY), np.float32(0))

    def shapes(self, alpha_mrad, beta_mrad, edge_index=None) -> np.ndarray:
        """dsigma/dE (barn/eV) for a batch of (alpha, beta) (mrad) -> (batch, k, n_offsets);
        ``edge_index`` (batch, k) selects families (default: all)."""
        be = self.effective_angles(alpha_mrad, beta_mrad)
        B = be.shape[0]
        if edge_index is None:
            edge_index = np.broadcast_to(np.arange(len(self.names)), (B, len(self.names)))
        edge_index = np.asarray(edge_index, dtype=np.int64)
        return self.shapes_at(np.take_along_axis(be, edge_index, axis=1), edge_index)

    def place(self, shapes, edge_index, n_channels: int = 3072, shift_eV=None) -> np.ndarray:
        """Put shapes (batch, k, n_offsets) of families ``edge_index`` (batch, k) into 1 eV
        spectra (batch, k, n_channels), channel i = i eV; ``shift_eV`` (batch, k) integer onset
        shifts. Integer slicing, no interpolation."""
        shapes = np.asarray(shapes)
        B, k, n_off = shapes.shape
        start = self.onset_channel[np.asarray(edge_index)] + int(self.offsets_eV[0])
        if shift_eV is not None:
            start = start + np.asarray(shift_eV, dtype=np.int64)
        # write every shape into a row padded by n_off on both sides, then cut the window
        start = np.clip(start, -n_off, n_channels).reshape(-1)
        width = n_channels + 2 * n_off
        buf = np.zeros((B * k, width), dtype=shapes.dtype)
        flat = (np.arange(B * k) * width + start + n_off)[:, None] + np.arange(n_off)[None, :]
        buf.reshape(-1)[flat.reshape(-1)] = shapes.reshape(-1)
        return buf[:, n_off:n_off + n_channels].reshape(B, k, n_channels)

    def interpolation_error(self, rel_floor: float = 1e-2):
        """Worst relative error of :meth:`shapes_at` against a direct calculation, at the
        geometric mid-points of the beta* grid (where interpolation errs most), over
        channels where dsigma/dE exceeds ``rel_floor`` x that family's maximum.
        Returns (max error, 99th percentile)."""
        mid = np.sqrt(self.beta_eff_mrad[2:-1] * self.beta_eff_mrad[1:-2])  # the used range
        n_e = len(self.names)
        theta = np.repeat(mid[:, None], n_e, axis=1)
        direct = self.calculator.from_theta(np.full(mid.size, self.E0_keV), theta)
        axis = self.onset_channel[:, None] + self.offsets_eV[None, :]
        direct[:, axis < 1.0] = 0.0
        interp = self.shapes_at(theta, np.broadcast_to(np.arange(n_e), theta.shape))
        peak = direct.max(axis=2, keepdims=True)
        sel = direct > rel_floor * peak
        err = np.abs(interp[sel] / direct[sel] - 1.0)
        return float(err.max()), float(np.percentile(err, 99))


@lru_cache(maxsize=8)
def edge_shape_table(E0_keV: float, gos="builtin", n_beta: int = 40) -> EdgeShapeTable:
    """The (cached) :class:`EdgeShapeTable` of all 107 families for one beam energy."""
    return EdgeShapeTable(float(E0_keV), None, gos, n_beta=n_beta)
