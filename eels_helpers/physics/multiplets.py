"""Where the lanthanides' 4d -> 4f strength lies: the particle-hole multiplet of 4d^9 4f^(N+1).

The tabulated N4,5 onset is the 4d binding energy. The 4d^10 4f^N -> 4d^9 4f^(N+1) absorption
does not sit there: the exchange interaction between the 4d hole and the excited 4f electron
splits the final configuration by ~20 eV and pushes the dipole-allowed multiplets up, for La
into a broad peak ~15-20 eV above the 4d edge (Dehmer, Starace, Fano, Sugar & Cooper, Phys.
Rev. Lett. 26, 1521 (1971); Sugar, Phys. Rev. B 5, 1785 (1972); the giant resonance). As the 4f
shell fills, fewer empty 4f spin-orbitals take part and the push shrinks; for Yb (one 4f hole)
the final configuration 4d^9 4f^14 has no 4f-4d exchange multiplet left and the line sits at
the 4d spin-orbit levels. This module computes that distribution so that the simulator puts the
N4,5 white lines where the atom puts them, instead of at the tabulated onset. The same model with
other shells (:class:`SlaterIntegrals` ``core``/``valence``: 2p^5 3d^(N+1), 3d^9 4f^(N+1)) shares
the L2,3 and M4,5 strength between their two components
(:func:`eels_helpers.physics.white_line_calculation.multiplet_branching`).

Model (single-configuration multiplet theory, Cowan, The Theory of Atomic Structure and Spectra
(1981), ch. 11-14; the Slater-Condon rules for singly excited determinants, Szabo & Ostlund,
Modern Quantum Chemistry (1989), ch. 2 and 4):

* Initial state: the Hund's-rule determinant of the trivalent ion's 4f^N (N = Z - 57; maximum
  M_S, then maximum M_L), 4d shell full. Spectators are frozen (their recoupling, which spreads
  the lines further, is left out); for La (N = 0) and Yb (N = 13) this is exact.
* Final states |a i> = a_a^+ a_i |g>: an electron from 4d spin-orbital i into an empty 4f
  spin-orbital a. Hamiltonian in that space (Tamm-Dancoff)::

      <a i|H|b j> = delta_ij delta_ab [sum_{k in g} <a k||a k> - <i k||i k>]
                    + <a j||i b> + delta_ij zeta_4f <a|l.s|b> - delta_ab zeta_4d <j|l.s|i>

  <pq||rs> = <pq|rs> - <pq|sr>, <pq|rs> = delta_spin delta(m_p+m_q, m_r+m_s)
  sum_k c^k(l_p m_p, l_r m_r) c^k(l_s m_s, l_q m_q) R^k (Condon & Shortley 1935; Cowan ch. 11),
  R^k the Slater integrals F^k(4d,4f) (k = 2, 4), G^k(4d,4f) (k = 1, 3, 5), F^k(4f,4f)
  (k = 2, 4, 6); F^0 shifts every state alike and drops out.
* Radial functions: the 4d of the LDA atom Z, the 4f of the Z + 1 atom (the core-hole final
  orbital of :mod:`eels_helpers.physics.white_line_calculation`). Slater integrals scaled by 0.8
  for the correlation that a single configuration lacks (Cowan 1981, sec. 16-3; Thole et al., Phys. Rev.
  B 32, 5107 (1985)): the usual scaling, not a fit. zeta from the central field (Blume & Watson).
* Strength: dipole |<a i|sum_q C^1_q|g>|^2, summed over q (the EELS dipole limit).
* Energy reference: the configuration average of the transition (the mean over all
  4d^9 4f^(N+1) determinants minus the mean over all 4d^10 4f^N determinants), placed at the
  4d level's centre of gravity = the tabulated 4d5/2 onset + zeta_4d (the 4f level at the Fermi
  level of the solid, the same convention as every other white line).

Validation (tests/physics/test_multiplets.py): 3j symbols against sympy and the Gaunt
coefficients' closure; the analytic limits (La with G^1 alone: the three 1P states 2 G^1 above the
other 137 with all the strength; Yb: one line at the 4d5/2 level, 4d3/2 -> 4f7/2 being
forbidden); La's strongest line within 3.5 eV of the measured 117 eV maximum of La metal
(Dehmer et al. 1971; ours 120 eV); the push falling from La (+20 eV) to Yb; Slater integrals
and zeta of the right size. Measured on this table: Gd's strength centred at 149.5 eV.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from eels_helpers.physics.atomic_gos import HARTREE_EV, AtomModel

__all__ = ["SLATER_SCALE", "SlaterIntegrals", "wigner3j", "gaunt_ck", "slater_rk",
           "slater_integrals", "hund_occupation", "ParticleHoleSpectrum", "particle_hole_spectrum",
           "octahedral_field"]

log = logging.getLogger(__name__)

#: scaling of the computed Slater integrals (Cowan 1981, sec. 16-3: 0.7-0.85 usual; 0.8 here)
SLATER_SCALE = 0.8


# ----------------------------------------------------------------------------- angular algebra
def wigner3j(j1: int, j2: int, j3: int, m1: int, m2: int, m3: int) -> float:
    """Wigner 3j symbol of integer arguments, Racah's formula (Edmonds 1957, eq. 3.7.3)."""
    if m1 + m2 + m3 != 0 or j3 < abs(j1 - j2) or j3 > j1 + j2:
        return 0.0
    if abs(m1) > j1 or abs(m2) > j2 or abs(m3) > j3:
        return 0.0
    f = math.factorial
    pre = math.sqrt(f(j1 + j2 - j3) * f(j1 - j2 + j3) * f(-j1 + j2 + j3) / f(j1 + j2 + j3 + 1)
                    * f(j1 + m1) * f(j1 - m1) * f(j2 + m2) * f(j2 - m2) * f(j3 + m3) * f(j3 - m3))
    s = 0.0
    for t in range(max(0, j2 - j3 - m1, j1 - j3 + m2), min(j1 + j2 - j3, j1 - m1, j2 + m2) + 1):
        s += (-1) ** t / (f(t) * f(j3 - j2 + t + m1) * f(j3 - j1 + t - m2) * f(j1 + j2 - j3 - t)
                          * f(j1 - t - m1) * f(j2 - t + m2))
    return (-1) ** (j1 - j2 - m3) * pre * s


def gaunt_ck(l1: int, m1: int, l2: int, m2: int, k: int) -> float:
    """Condon-Shortley c^k(l1 m1, l2 m2) = (-1)^m1 sqrt((2l1+1)(2l2+1)) (l1 k l2; 000)
    (l1 k l2; -m1 m1-m2 m2) = <l1 m1|C^k_(m1-m2)|l2 m2> (Condon & Shortley 1935; Cowan 1981, ch. 11)."""
    return ((-1) ** m1 * math.sqrt((2 * l1 + 1) * (2 * l2 + 1)) * wigner3j(l1, k, l2, 0, 0, 0)
            * wigner3j(l1, k, l2, -m1, m1 - m2, m2))


# ----------------------------------------------------------------------------- radial integrals
def slater_rk(Pa, Pc, Pb, Pd, r, w, k: int) -> float:
    """R^k = int int Pa(1)Pc(1) (r_<^k / r_>^(k+1)) Pb(2)Pd(2) dr1 dr2 (Hartree; P in
    1/sqrt(bohr) on grid r (bohr) with weights w), via the potential
    Y(r) = r^-(k+1) int_0^r rho r'^k + r^k int_r^inf rho r'^-(k+1), rho = Pb Pd."""
    rho = w * Pb * Pd
    inner = np.cumsum(rho * r**k) / r ** (k + 1)
    outer = (np.cumsum((rho / r ** (k + 1))[::-1])[::-1] - rho / r ** (k + 1)) * r**k
    return float(np.sum(w * Pa * Pc * (inner + outer)))


@dataclass(frozen=True)
class SlaterIntegrals:
    """Scaled Slater integrals (eV) of the final configuration c^(4l_c+1) v^(N+1) (core shell c,
    valence shell v; letters ``core``/``valence``: 4d^9 4f^(N+1) by default, "p"/"d" for
    2p^5 3d^(N+1)) and the spin-orbit parameters zeta (eV) of both shells."""

    F_cv: dict
    G_cv: dict
    F_vv: dict
    zeta_c: float
    zeta_v: float
    core: str = "d"
    valence: str = "f"

    def radial(self, shells: tuple[str, str, str, str], k: int) -> float:
        """R^k (eV) for <p q|r s> with the shells of p, q, r, s (letters ``core``/``valence``)."""
        one, two = {shells[0], shells[2]}, {shells[1], shells[3]}
        if one == {self.valence} and two == {self.valence}:
            return self.F_vv.get(k, 0.0)
        if len(one) == 1 and len(two) == 1:          # (v v | c c) or (c c | v v): direct
            return self.F_cv.get(k, 0.0)
        return self.G_cv.get(k, 0.0)                  # (v c | c v): exchange


def slater_integrals(core: AtomModel, final: AtomModel, scale: float = SLATER_SCALE, *,
                     core_nl: tuple[int, int] = (4, 2), valence_nl: tuple[int, int] = (4, 3)) -> SlaterIntegrals:
    """F^k(c,v), G^k(c,v), F^k(v,v) (x ``scale``, eV) and zeta_c, zeta_v (eV): the core orbital
    ``core_nl`` (n, l) of ``core`` (atom Z), the valence orbital ``valence_nl`` of ``final``
    (atom Z + 1, :func:`white_line_calculation.final_orbital`). k runs over the values the triangle
    and parity rules allow (F^0 drops out): F^k(c,v) k = 2..2 min(l_c, l_v) even, G^k(c,v)
    k = |l_c - l_v|..l_c + l_v in steps of 2, F^k(v,v) k = 2..2 l_v even."""
    from eels_helpers.physics.white_line_calculation import final_orbital, zeta_eV

    (nc, lc), (nv, lv) = core_nl, valence_nl
    _, r, w, Pv = final_orbital(final, nv, lv)
    Pc = core.orbital(nc, lc).u(r)
    Pc = Pc / math.sqrt(float(np.sum(w * Pc * Pc)))
    s = scale * HARTREE_EV
    return SlaterIntegrals(
        F_cv={k: s * slater_rk(Pv, Pv, Pc, Pc, r, w, k) for k in range(2, 2 * min(lc, lv) + 1, 2)},
        G_cv={k: s * slater_rk(Pv, Pc, Pc, Pv, r, w, k) for k in range(abs(lc - lv), lc + lv + 1, 2)},
        F_vv={k: s * slater_rk(Pv, Pv, Pv, Pv, r, w, k) for k in range(2, 2 * lv + 1, 2)},
        zeta_c=zeta_eV(core, r, w, Pc), zeta_v=zeta_eV(final, r, w, Pv),
        core="spdf"[lc], valence="spdf"[lv])


# ----------------------------------------------------------------------------- the multiplet
_L = {"p": 1, "d": 2, "f": 3}


def _orbitals(shell: str):
    """Spin-orbitals (shell, m, spin +1/-1) of a shell, spin up first, m descending."""
    l = _L[shell]
    return [(shell, m, s) for s in (1, -1) for m in range(l, -l - 1, -1)]


def hund_occupation(n_electrons: int, shell: str = "f"):
    """The spin-orbitals of the Hund's-rule determinant of ``shell``^N (4f^N by default):
    maximum M_S, then maximum M_L."""
    size = 2 * (2 * _L[shell] + 1)
    if not 0 <= n_electrons <= size:
        raise ValueError(f"{shell} electrons must be 0..{size}, got {n_electrons}")
    return _orbitals(shell)[:n_electrons]


def _coulomb(p, q, r, s, slater: SlaterIntegrals) -> float:
    """<p q|1/r12|r s> (eV) of spin-orbitals (shell, m, spin)."""
    if p[2] != r[2] or q[2] != s[2] or p[1] + q[1] != r[1] + s[1]:
        return 0.0
    lp, lq, lr, ls = (_L[x[0]] for x in (p, q, r, s))
    shells = (p[0], q[0], r[0], s[0])
    out = 0.0
    for k in range(0, 7):
        if (lp + lr + k) % 2 or (lq + ls + k) % 2:
            continue
        R = slater.radial(shells, k)
        if R:
            out += gaunt_ck(lp, p[1], lr, r[1], k) * gaunt_ck(ls, s[1], lq, q[1], k) * R
    return out


def _anti(p, q, r, s, slater) -> float:
    """<p q||r s> = <p q|r s> - <p q|s r>."""
    return _coulomb(p, q, r, s, slater) - _coulomb(p, q, s, r, slater)


def _ls(a, b) -> float:
    """<a|l.s|b> of spin-orbitals (shell, m, spin) of one shell (hbar = 1)."""
    l = _L[a[0]]
    (_, ma, sa), (_, mb, sb) = a, b
    if sa == sb and ma == mb:
        return 0.5 * ma * sa
    if sa == -1 and sb == 1 and ma == mb + 1:          # l+ s-
        return 0.5 * math.sqrt(l * (l + 1) - mb * (mb + 1))
    if sa == 1 and sb == -1 and ma == mb - 1:          # l- s+
        return 0.5 * math.sqrt(l * (l + 1) - mb * (mb - 1))
    return 0.0


@dataclass(frozen=True)
class ParticleHoleSpectrum:
    """Lines of c^(4l_c+2) v^N -> c^(4l_c+1) v^(N+1) (4d -> 4f by default): ``energy_eV`` relative
    to the configuration average of the transition, ``strength`` (dipole, sums to 1),
    ``mean_shift_eV`` the strength-weighted mean energy (the exchange push) and the integrals used."""

    energy_eV: np.ndarray
    strength: np.ndarray
    mean_shift_eV: float
    slater: SlaterIntegrals


def octahedral_field(a, b, ten_dq_eV: float) -> float:
    """<a|V_Oh|b> (eV) of d spin-orbitals (shell, m, spin): the octahedral crystal field, e_g at
    +6 Dq and t_2g at -4 Dq (10 Dq = ``ten_dq_eV``, traceless), in the complex m basis (z along a
    four-fold axis): <+-2|V|+-2> = Dq, <+-1|V|+-1> = -4 Dq, <0|V|0> = 6 Dq, <2|V|-2> = 5 Dq
    (Ballhausen, Introduction to Ligand Field Theory (1962), ch. 5; de Groot, Coord. Chem. Rev.
    249, 31 (2005), sec. 1.4)."""
    if a[2] != b[2]:
        return 0.0
    dq = ten_dq_eV / 10.0
    ma, mb = a[1], b[1]
    if ma == mb:
        return {2: 1.0, 1: -4.0, 0: 6.0}[abs(ma)] * dq
    return 5.0 * dq if {ma, mb} == {2, -2} else 0.0


def particle_hole_spectrum(n_electrons: int, slater: SlaterIntegrals,
                           crystal_field_eV: float = 0.0) -> ParticleHoleSpectrum:
    """Diagonalise the c^(4l_c+1) v^(N+1) particle-hole Hamiltonian (module docstring; shells
    ``slater.core`` and ``slater.valence``) and return the dipole strength of each eigenstate
    from the Hund's-rule v^N determinant. ``crystal_field_eV``: 10 Dq of an octahedral field on the
    excited d electron (:func:`octahedral_field`; the crystal-field multiplet of de Groot, Fuggle,
    Thole & Sawatzky, Phys. Rev. B 41, 928 (1990)), only for an empty d shell (N = 0: the ground
    state is the closed shell, which the field does not split); the core is left spherical."""
    c, v = slater.core, slater.valence
    if crystal_field_eV and (v != "d" or n_electrons != 0):
        raise ValueError(f"a crystal field is modelled for an empty d shell only, got {v}^{n_electrons}")
    g = hund_occupation(n_electrons, v)
    empty = [a for a in _orbitals(v) if a not in g]
    holes = _orbitals(c)
    basis = [(a, i) for a in empty for i in holes]
    n = len(basis)
    if n == 0:
        raise ValueError(f"{v}^{n_electrons}: no empty {v} orbital, no {c} -> {v} line")
    H = np.zeros((n, n))
    for x, (a, i) in enumerate(basis):
        for y, (b, j) in enumerate(basis):
            val = _anti(a, j, i, b, slater)
            if i == j:
                val += slater.zeta_v * _ls(a, b)
                if crystal_field_eV:
                    val += octahedral_field(a, b, crystal_field_eV)
            if a == b:
                val -= slater.zeta_c * _ls(j, i)
                if i == j:
                    val += sum(_anti(a, k, a, k, slater) - _anti(i, k, i, k, slater) for k in g)
            H[x, y] = val
    # configuration average of the same terms: spectators uniform over the other valence orbitals
    v_all = _orbitals(v)
    weight = n_electrons / (len(v_all) - 1.0)
    avg = np.mean([weight * sum(_anti(a, k, a, k, slater) - _anti(i, k, i, k, slater)
                                for k in v_all if k != a) + _anti(a, i, i, a, slater)
                   for a in v_all for i in holes])
    t = np.zeros((3, n))                                # dipole amplitudes, q = -1, 0, 1
    lv, lc = _L[v], _L[c]
    for x, (a, i) in enumerate(basis):
        if a[2] == i[2] and abs(a[1] - i[1]) <= 1:
            t[a[1] - i[1] + 1, x] = gaunt_ck(lv, a[1], lc, i[1], 1)
    e, U = np.linalg.eigh(H)
    strength = np.sum((t @ U) ** 2, axis=0)
    strength /= strength.sum()
    energy = e - avg
    mean = float(np.sum(strength * energy))
    log.debug("%s -> %s^%d: %d states, mean shift %.1f eV", c, v, n_electrons, n, mean)
    return ParticleHoleSpectrum(energy, strength, mean, slater)
