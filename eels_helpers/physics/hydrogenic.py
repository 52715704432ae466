"""Hydrogenic K and L generalised oscillator strengths (Egerton's SIGMAK3 and SIGMAL3).

The GOS of a hydrogen-like ion with a screened nuclear charge, in the form of
R. F. Egerton, *Electron Energy-Loss Spectroscopy in the Electron Microscope*, 3rd ed.
(Springer 2011), Appendix B (programs SIGMAK3, SIGMAL3), which exspy's ``HydrogenicGOS``
also implements. Written here vectorised over energy loss and momentum transfer.

Units: energy loss E in eV, Q = (q a0)^2 dimensionless (a0 the Bohr radius); df/dE in 1/eV,
per atom (K: both 1s electrons; L: the whole L shell, see :func:`gos_L`).

* K shell (SIGMAK3): screened charge Zs = Z - 0.5 (Z = 1: Zs = 1, one electron);
  with q = Q/Zs^2 and k^2 = E/(R Zs^2) - 1,
  df/dE = 128 N E / (R^2 Zs^4) * c/d * (q + k^2/3 + 1/3) / ((q - k^2 + 1)^2 + 4 k^2)^3,
  d = 1 - exp(-2 pi/k), c = exp(-2 beta'/k), beta' = arctan(2k/(q - k^2 + 1)) in [0, pi]
  (the analytic continuation below threshold, k^2 < 0, as in SIGMAK3).
* L shell (SIGMAL3): Zs = Z - 0.35*7 - 1.7 = Z - 4.15, k^2 = E/(R Zs^2) - 1/4, Egerton's 2p
  polynomial G(q, k^2) below the L1 onset and his combined form above it, times his empirical
  factor ((E + 0.1 - E_L3)/(1.8 Z^2))^u with u tabulated for Z = 11..36 (0.1 beyond).

The hydrogenic L GOS is one edge for the whole L shell (L3 + L2, plus the L1 term above the L1
onset) starting at the L3 onset, like exspy's ``HydrogenicGOS("Fe_L3")``: the source below
therefore offers "K1" and "L3" only. Nothing for M and N shells.
"""

from __future__ import annotations

import numpy as np

#: Rydberg energy as used in Egerton's programs (eV)
R_EGERTON = 13.606

#: Egerton's exponent u of the empirical L-shell factor, for Z = 11, 12, ... 36 (SIGMAL3)
_XU = np.array([0.82, 0.52, 0.52, 0.42, 0.30, 0.29, 0.22, 0.30, 0.22, 0.16, 0.12, 0.13, 0.13,
                0.14, 0.16, 0.18, 0.19, 0.22, 0.14, 0.11, 0.12, 0.12, 0.12, 0.10, 0.10, 0.10])


def _cd_factor(q, kh2, akh, shift, two):
    """c/d of the hydrogenic GOS, above (kh2 >= 0) and below threshold (analytic continuation).

    ``shift`` = 1 (K) or 1/4 (L); ``two`` = 2 (K) or 1 (L) multiplies k in the arctan/log.
    """
    above = kh2 >= 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d = np.where(above, -np.expm1(-2 * np.pi / akh), 1.0)
        bp = np.arctan(two * akh / (q - kh2 + shift))
        bp = np.where(bp < 0, bp + np.pi, bp)
        c_above = np.exp(-2.0 / akh * bp)
        y = -1.0 / akh * np.log((q + shift - kh2 + two * akh) / (q + shift - kh2 - two * akh))
        c = np.where(above, c_above, np.exp(y))
    return c / d


def gos_K(E_eV, Q, Z: int) -> np.ndarray:
    """Hydrogenic K-shell df/dE (1/eV per atom) at energy loss E (eV) and Q = (q a0)^2.

    Egerton (2011) Appendix B, SIGMAK3; see the module docstring for the equation. Broadcasts
    E_eV against Q.
    """
    E = np.asarray(E_eV, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    zs, nk = (Z - 0.5, 2) if Z != 1 else (1.0, 1)
    r = R_EGERTON
    q = Q / zs**2
    kh2 = E / (r * zs**2) - 1.0
    akh = np.maximum(np.sqrt(np.abs(kh2)), 0.01)
    cd = _cd_factor(q, kh2, akh, 1.0, 2.0)
    a = ((q - kh2 + 1) ** 2 + 4 * kh2) ** 3
    return 128 * nk * E / (r * zs**4) * cd * (q + kh2 / 3 + 1.0 / 3) / (a * r)


def gos_L(E_eV, Q, Z: int, onset_L3_eV: float, onset_L1_eV: float) -> np.ndarray:
    """Hydrogenic L-shell df/dE (1/eV per atom) at energy loss E (eV) and Q = (q a0)^2.

    Egerton (2011) Appendix B, SIGMAL3: Zs = Z - 4.15, k^2 = E/(R Zs^2) - 1/4,
    df/dE = rf * 32 G(q, k^2) c / (a d) * E / (R^2 Zs^4), a = ((q - k^2 + 1/4)^2 + k^2)^m with
    m = 5 (2p polynomial, E <= E_L1) or 4 (above E_L1), rf = ((E + 0.1 - E_L3)/(1.8 Z^2))^u.
    ``onset_L3_eV``/``onset_L1_eV``: the L3 and L1 edge energies (eV) of the spectrum.
    """
    E = np.asarray(E_eV, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    r = R_EGERTON
    zs = Z - 0.35 * (8 - 1) - 1.7
    iz = Z - 11
    u = _XU[iz] if 0 <= iz < _XU.size else 0.1
    q = Q / zs**2
    kh2 = E / (r * zs**2) - 0.25
    akh = np.sqrt(np.abs(kh2))
    cd = _cd_factor(q, kh2, akh, 0.25, 1.0)
    below_l1 = E - onset_L1_eV <= 0
    g_p = (2.25 * q**4 - (0.75 + 3 * kh2) * q**3
           + (0.59375 - 0.75 * kh2 - 0.5 * kh2**2) * q**2
           + (0.11146 + 0.85417 * kh2 + 1.8833 * kh2**2 + kh2**3) * q
           + 0.0035807 + kh2 / 21.333 + kh2**2 / 4.5714 + kh2**3 / 2.4 + kh2**4 / 4)
    g_s = (q**3 - (5.0 / 3 * kh2 + 11.0 / 12) * q**2 + (kh2**2 / 3 + 1.5 * kh2 + 65.0 / 48) * q
           + kh2**3 / 3 + 0.75 * kh2**2 + 23.0 / 48 * kh2 + 5.0 / 64)
    base = (q - kh2 + 0.25) ** 2 + kh2
    g_over_a = np.where(below_l1, g_p / base**5, g_s / base**4)
    with np.errstate(invalid="ignore"):
        rf = np.where(E + 0.1 - onset_L3_eV > 0,
                      np.abs((E + 0.1 - onset_L3_eV) / 1.8 / Z**2) ** u, 0.0)
    return rf * 32 * g_over_a * cd * E / r / r / zs**4


# ------------------------------------------------------------------------- as a GOS source
A0_M = 5.29177210544e-11  # Bohr radius (m), CODATA 2022

#: default grids of the tabulated hydrogenic GOS: q 0.002..300 1/Angstrom (log), free energy
#: 0 and 0.02..5000 eV (log)
Q_GRID_INV_M = np.geomspace(2e7, 3e12, 300)
FREE_ENERGY_GRID_EV = np.concatenate([[0.0], np.geomspace(0.02, 5000.0, 260)])


class HydrogenicSource:
    """GosSource "hydrogenic": Egerton's K and L GOS tabulated on a dense (q, E) grid.

    Onsets come from :mod:`eels_helpers.physics.elements` (or ``onsets`` = {element: {subshell: eV}}).
    Subshells: "K1" (both 1s electrons) and "L3" (the whole L shell starting at the L3 onset,
    Egerton's SIGMAL3); ratio 1.
    """

    name = "hydrogenic"

    def __init__(self, onsets: dict[str, dict[str, float]] | None = None,
                 q_inv_m=Q_GRID_INV_M, free_energies_eV=FREE_ENERGY_GRID_EV):
        self._onsets = onsets
        self.q_inv_m = np.asarray(q_inv_m, dtype=np.float64)
        self.free_energies_eV = np.asarray(free_energies_eV, dtype=np.float64)
        self._cache = {}

    def __repr__(self):
        return "HydrogenicSource()"

    def onsets(self, element: str) -> dict[str, float]:
        if self._onsets is not None:
            return dict(self._onsets.get(element, {}))
        from eels_helpers.physics import elements

        out = {}
        for fam in elements.families_of(element):
            out.update(dict(zip(fam.subshells, fam.onsets_eV)))
        return out

    def available(self, element: str) -> tuple[str, ...]:
        on = self.onsets(element)
        avail = []
        if "K1" in on:
            avail.append("K1")
        if "L3" in on and _z_of(element) >= 11:
            avail.append("L3")
        return tuple(avail)

    def _check(self, element, subshell):
        from eels_helpers.physics.gos_tables import canonical_subshell

        sub = canonical_subshell(subshell)
        if sub not in ("K1", "L3"):
            raise ValueError(f"the hydrogenic GOS covers K1 and L3 (the whole L shell) only, "
                             f"not {element} {subshell}")
        on = self.onsets(element)
        if sub not in on:
            raise ValueError(f"no {sub} onset known for {element}")
        return sub, on

    def dfde_absolute(self, element: str, subshell: str, E_eV, Q) -> np.ndarray:
        """df/dE (1/eV) at ABSOLUTE energy loss E (eV) and Q = (q a0)^2 (broadcast)."""
        sub, on = self._check(element, subshell)
        Z = _z_of(element)
        if sub == "K1":
            return gos_K(E_eV, Q, Z)
        l1 = on["L1"] if "L1" in on else _l1_fallback(element, on["L3"])
        return gos_L(E_eV, Q, Z, on["L3"], l1)

    def dfde(self, element: str, subshell: str, free_energies_eV, q_inv_m) -> np.ndarray:
        """(n_q, n_E) df/dE per eV at free energies above the subshell onset."""
        sub, on = self._check(element, subshell)
        E = on[sub] + np.asarray(free_energies_eV, dtype=np.float64)[None, :]
        Q = (np.asarray(q_inv_m, dtype=np.float64)[:, None] * A0_M) ** 2
        out = self.dfde_absolute(element, sub, E, Q)
        return np.where(E >= on[sub], out, 0.0)

    def table(self, element: str, subshell: str):
        """(GosTable sampled on the default grids, occupancy ratio 1)."""
        from eels_helpers.physics.gos_tables import GosTable, canonical_subshell

        key = (element, canonical_subshell(subshell))
        if key not in self._cache:
            sub, on = self._check(element, subshell)
            fe = self.free_energies_eV
            if sub == "L3":  # put nodes on both sides of Egerton's switch at the L1 onset
                d = (on["L1"] if "L1" in on else _l1_fallback(element, on["L3"])) - on["L3"]
                if d > 0:
                    fe = np.unique(np.concatenate([fe, [d, d + 1e-3]]))
            data = self.dfde(element, sub, fe, self.q_inv_m)
            n, l = (1, 0) if sub == "K1" else (2, 1)
            self._cache[key] = GosTable(element, "K1" if sub == "K1" else "L", self.q_inv_m, fe,
                                        data, on[sub], n, l)
        return self._cache[key], 1.0


def _z_of(element: str) -> int:
    try:
        from eels_helpers.physics.elements import atomic_number

        return int(atomic_number(element))
    except (ImportError, KeyError, ValueError):
        import xraylib

        return int(xraylib.SymbolToAtomicNumber(element))


def _l1_fallback(element: str, l3: float) -> float:
    """L1 edge energy when the onset table has none: L3 onset + the X-ray L1-L3 difference."""
    try:
        import xraylib
    except ImportError as exc:
        raise ImportError(f"no L1 onset is known for {element}; the fallback takes the X-ray L1-L3 "
                          f"difference from xraylib, which is not installed (pip install xraylib==4.3.0) "
                          f"or pass onsets={{{element!r}: {{'L3': ..., 'L1': ...}}}}") from exc

    Z = _z_of(element)
    return l3 + 1000.0 * (xraylib.EdgeEnergy(Z, xraylib.L1_SHELL)
                          - xraylib.EdgeEnergy(Z, xraylib.L3_SHELL))
