"""Computing the white-line tables: bound-bound core excitations into partly empty d and f shells.

The continuum GOS of :mod:`eels_helpers.physics.atomic_gos` starts at the ionisation threshold.
The sharp "white lines" of the 3d metals' L2,3 edges (2p -> 3d), the 4d metals' L2,3 edges
(2p -> 4d), the M4,5 edges of the lanthanides (3d -> 4f) and the lanthanides' N4,5
edges (4d -> 4f) are transitions into a partly empty BOUND shell n'l' at the threshold. This
module computes them with the same atom and the same conventions as the continuum and adds them
to the simulator's edge shapes.

Physics (Hartree atomic units unless stated; Inokuti, Rev. Mod. Phys. 43, 297 (1971), section 3;
Manson, Phys. Rev. A 6, 1013 (1972); the same normalisation as :func:`atomic_gos.gos_nl`, so that
bound and continuum parts are on one scale). The generalised oscillator strength of the line
from the core subshell (n l j) to the final shell n'l' (dimensionless)::

    f_j(q) = (2E/q^2) N_j (h/(2(2l'+1))) sum_lambda (2l'+1)(2 lambda+1) (l lambda l'; 0 0 0)^2
             |int P_{n'l'}(r) j_lambda(q r) P_{nl}(r) dr|^2

with E the line energy (Hartree), q the momentum transfer (1/bohr), N_j = 2j + 1 the electrons
of the core subshell (statistical share (2j+1)/(2(2l+1)) of the full shell: L3:L2 = 2:1,
M5:M4 = N5:N4 = 3:2), h the holes of the final shell and h/(2(2l'+1)) the fraction of empty
final spin-orbitals. f_j(q -> 0) is the optical oscillator strength of the line.

* Core orbital P_nl: the ground-state scalar-relativistic LDA atom (:func:`atomic_gos.lda_atom`).
* Final orbital P_n'l': the core-hole final state in the equivalent-core (Z+1) approximation
  (Jolly & Hendrickson, J. Am. Chem. Soc. 92, 1863 (1970)): the n'l' eigenstate of the Z+1
  atom's self-consistent potential: GPAW's orbital of the Z+1 atom (every family with lines has
  one), else the eigenstate of that potential from :func:`bound_orbital` (a finite-difference
  eigen-solver; e.g. La's empty 4f for Ba). The 4f of La, diffuse in the ground-state atom,
  is thus collapsed as it is with a 3d or 4d hole (the origin of La's strong M4,5 lines).
  Cs and Ba have none: their ground-state continuum already holds the 3d -> 4f strength as a
  shape resonance at the threshold (see :func:`line_specs`).
* Holes h: 3d and 4d metals from GPAW's ground-state configuration of the neutral atom
  (Sc 3d1 -> 9 ... Ni 3d8 -> 2; Cu 3d10 has none; 4d: Y..Ru, the 4d metals with an L family);
  lanthanides from the trivalent ion, the usual state in compounds: 4f^(Z-57),
  h = 14 - (Z - 57) (La 14 ... Yb 1; Lu none).
* Spin-orbit splitting of the core level, used where the onset table gives one value for both
  components (the lanthanides' N4,5): Delta = zeta (2l+1)/2 with
  zeta = (alpha^2/2) int P_nl^2 (1/r) dV/dr dr (Condon & Shortley 1935; Blume & Watson, Proc.
  R. Soc. A 270, 127 (1962)) (:func:`spin_orbit_splitting_eV`).
* Position (eV): each component at its subshell's tabulated onset (``data/edges.csv``: the EELS
  Atlas / exspy, Elam et al. 2002) -- for white-line edges the tabulated edge energy marks the
  line, the final d or f level being at the Fermi level of the solid; N4 = N5 + Delta.
  Except the lanthanides' N4,5: there the 4d-4f exchange of the final configuration pushes the
  dipole strength up to ~20 eV above the 4d edge (La) and less as the 4f shell fills (Dehmer et
  al., PRL 26, 1521 (1971)); their lines are the eigenstates of the 4d^9 4f^(N+1)
  particle-hole multiplet (:mod:`eels_helpers.physics.multiplets`, :func:`_multiplet_lines`),
  several per family (components ``N45_1``, ...), the total strength shared out by the dipole
  strengths. Stored as offsets from the family's first onset.
* Width: Lorentzian FWHM = Gamma_core + Gamma_solid, Gamma_core the core-level width of Campbell
  & Papp, At. Data Nucl. Data Tables 77, 1 (2001) (via xraylib ``AtomicLevelWidth``, which
  includes the Coster-Kronig broadening of L2, M4), Gamma_solid a broadening for the band width,
  crystal field and multiplet spread per edge type (``SOLID_FWHM_EV``, assumptions stated there).
* Cross section: dsigma/dE = sigma_line(beta*) x Lorentzian(E - E_line), sigma_line (barn) =
  4 pi a0^2 (R^2/(E T)) int f_j(Q) dln Q over the same kinematic limits and effective collection
  angle as the continuum (:mod:`eels_helpers.physics.cross_section`; Egerton 2011, sec. 3.6).

Approximations (stated honestly): in the shipped table no multiplets for L2,3 and M4,5 (the 2p-3d
and 3d-4f exchange that move strength between L3 and L2, M5 and M4): statistical branching ratios
(real L3/L2 ratios range 0.8 (Ti) to ~4 (Fe, Co); M5/M4 from ~0.8 (La, Ce) to >3 (Tm); Leapman,
Grunes & Fejes, Phys. Rev. B 26, 614 (1982); Thole et al., Phys. Rev. B 32, 5107 (1985)). The
"multiplet" table shares the strength of the lanthanides' M4,5 and of the d0 ions' (K+, Ca2+,
Sc3+, Ti4+; K and Ca get their 2p -> 3d lines only there) L2,3 between the two components by their
particle-hole multiplet (:func:`multiplet_branching`: frozen spectators, exact for a closed-shell
or one-hole configuration; Ti L3/L2 0.82, Ce M5/M4 0.73, rising to 13.6 for Tm, Yb's M4
forbidden), positions and widths unchanged; V..Ni stay statistical there (the multiplet's atomic
Hund's-rule spin polarisation gives Ni 11 against a measured ~3: their 3d is itinerant or
hybridised). Everywhere: the N4,5 multiplet with frozen spectators and no autoionisation profile
(a Lorentzian per line, not a Fano shape); no crystal field (except the d0 ions of the
"crystal-field" table), no band structure; single-particle
holes from the ground-state (lanthanides: trivalent) configuration; non-relativistic dipole and
higher multipole terms alike.

Validation (tests/physics/test_white_lines.py, test_white_line_calculation.py, test_multiplets.py):
positions within 3.5 eV of published white-line
peaks (Ti L3 456 / L2 462, Fe 708 / 721, Ni 853 / 870, Ce M5 883 / M4 901, Gd M5 1185, Er M5
1406 eV); computed spin-orbit splittings Ti 5.6, Fe 12.1, Ni 16.9 (L2-L3), Ce 18.1, Gd 29.7 eV
(M4-M5) against tabulated 6, 13, 17, 18, 32 eV; line strength over the continuum's strength in
the first 50 eV above threshold (q -> 0, same table normalisation): 0.55-1.0 for Sc..Ni (order
one, as measured by Pearson, Ahn & Fultz, Phys. Rev. B 47, 8471 (1993)), 0.4-0.5 for Y..Ru,
0.5-2.5 for M4,5 and 1-9 for N4,5 (the d -> f continuum is held back by the centrifugal
barrier); the white-line peak in df/dE is 8-19 x the continuum just above the threshold
for the 3d metals. Ba: the Z+1 bound 4f line (f = 2.1) continues the ground-state 4f shape
resonance (1.8 in the first 20 eV; Fano & Cooper, Rev. Mod. Phys. 40, 441 (1968)).

The "crystal-field" table is the "multiplet" table whose d0-ion L2,3 are the lines of the
2p^5 3d^1 multiplet in an octahedral crystal field (:func:`_crystal_field_lines`; de Groot, Fuggle,
Thole & Sawatzky, Phys. Rev. B 41, 928 (1990)): each of L3 and L2 splits into its t2g and e_g
peaks (the four-peak L2,3 of TiO2, SrTiO3, Sc2O3, CaO), 10 Dq per ion in ``CRYSTAL_FIELD_10DQ_EV``.

The "autoionisation" table is the "crystal-field" table whose lanthanide N4,5 lines have a width
that depends on where they lie (:func:`_multiplet_lines`): the raised 4d^9 4f^(N+1) levels above
the 4d ionisation threshold autoionise into 4d^9 4f^N eps f, which broadens them, and the levels
below it cannot (Dehmer, Starace, Fano, Sugar & Cooper, PRL 26, 1521 (1971)); so the multiplet's
states are split at the threshold (the 4d5/2 level, the tabulated N5 onset), merged on each side
separately, and the lines below get the M4,5 lines' solid width (``SOLID_FWHM_EV["M4f"]``) instead
of the autoionisation width (``SOLID_FWHM_EV["N4f"]``). The frozen-spectator multiplet puts 36 % of
Er's strength below the threshold, 22 % of Tm's, 17 % of Dy's, 10 % of Ho's, 1-2 % of Pm..Eu's and
Tb's, and none of La..Nd's, Gd's (below the 1 % a line needs) or Yb's. Qualitative physics with
the widths the other tables assume, not a computed decay rate (a Fano calculation of the 4d^9 eps f
coupling is not made here).

The tables (:data:`eels_helpers.physics.white_lines.TABLE_PATHS`: ``data/white_lines.csv``,
``data/white_lines_multiplet.csv`` whose lanthanide M4,5 and d0-ion L2,3 strengths are shared by
their particle-hole multiplet, :func:`multiplet_branching`, ``data/white_lines_crystal_field.csv`` and
``data/white_lines_autoionisation.csv``) are written by
``scripts/compute_white_lines.py --table NAME`` (needs GPAW); :mod:`eels_helpers.physics.white_lines` reads
them without GPAW and turns them into cross sections.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass

import numpy as np

from eels_helpers.physics.atomic_gos import BOHR_ANGSTROM, HARTREE_EV, AtomModel, wigner3j_000
from eels_helpers.physics.white_lines import Q_GRID_INV_ANGSTROM, TABLE_PATHS, WHITE_LINES_PATH, WhiteLine

__all__ = ["SOLID_FWHM_EV", "D0_IONS", "MULTIPLET_TABLES", "CRYSTAL_FIELD_TABLES", "AUTOIONISATION_TABLES",
           "CRYSTAL_FIELD_10DQ_EV", "CRYSTAL_FIELD_SOLID_FWHM_EV",
           "LineSpec", "line_specs", "bound_orbital", "final_orbital",
           "spin_orbit_splitting_eV", "zeta_eV", "bound_gos", "multiplet_branching", "compute_lines", "write_csv"]

log = logging.getLogger(__name__)

ALPHA_FS = 7.2973525643e-3   # fine-structure constant (CODATA 2022)

#: Gamma_solid (eV), added to the core-level width: assumptions, not fits. L2,3 of 3d metals:
#: 3d band width and crystal-field splitting (~1-2 eV); 4d metals: the wider 4d band; M4,5 of
#: the lanthanides: the 3d-4f multiplet spread (~2-5 eV around each component, Thole et
#: al. 1985); N4,5: per multiplet line, for the autoionisation of the raised levels into
#: 4d^9 4f^N eps f (Dehmer et al. 1971) and the spectator recoupling the frozen multiplet leaves out.
SOLID_FWHM_EV = {"L3d": 1.0, "L4d": 2.0, "M4f": 1.5, "N4f": 6.0}

_LANTHANIDES = ("La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb").split()
_METALS_3D = ("Sc Ti V Cr Mn Fe Co Ni").split()
_METALS_4D = ("Y Zr Nb Mo Tc Ru").split()        # the 4d metals with an L family (Fig. 1)
# family shell -> (core n, l, (major j component, minor), final n', l', width key)
_KINDS = {
    "L3d": ("L", 2, 1, ("L3", "L2"), 3, 2),
    "L4d": ("L", 2, 1, ("L3", "L2"), 4, 2),
    "M4f": ("M", 3, 2, ("M5", "M4"), 4, 3),
    "N4f": ("N", 4, 2, ("N5", "N4"), 4, 3),
}


# ----------------------------------------------------------------------------- what is computed
@dataclass(frozen=True)
class LineSpec:
    """One family's white lines to compute: element, kind (key of ``SOLID_FWHM_EV``), holes."""

    element: str
    kind: str
    holes: float

    @property
    def family(self) -> str:
        return f"{self.element} {_KINDS[self.kind][0]}"


def _ground_state_holes(element: str, n: int, l: int) -> float:
    """Holes 2(2l+1) - occupation of the n l shell in GPAW's neutral-atom configuration."""
    from gpaw.atom.configurations import configurations

    occ = sum(f for nn, ll, f, _ in configurations[element][1] if (nn, ll) == (n, l))
    return float(2 * (2 * l + 1) - occ)


def line_specs(table: str = "single-particle") -> list[LineSpec]:
    """The families with white lines of ``table`` and their hole counts (see the module docstring).

    The "multiplet" table adds K and Ca L2,3: K+ and Ca2+ (KCl, CaO, CaF2, CaCO3) are d0 ions whose
    2p -> 3d lines are the sharp L2,3 doublets of their spectra (:data:`D0_IONS`); the shipped
    table, which started with the transition metals Sc..Ni, stays as it is.

    Cs and Ba M4,5 are left out: their ground-state continuum already holds the 3d -> 4f
    strength as a shape resonance at the threshold (Ba: 1.8 in the first 20 eV; the Z+1 bound
    line would hold 2.1, the continuity checked in the tests), so a line would count it twice.

    3d/4d metals need GPAW's configuration table (only the script and the tests call this)."""
    metals = (["K", "Ca"] if table in MULTIPLET_TABLES else []) + _METALS_3D
    out = [LineSpec(el, "L3d", _ground_state_holes(el, 3, 2)) for el in metals]
    out += [LineSpec(el, "L4d", _ground_state_holes(el, 4, 2)) for el in _METALS_4D]
    for i, el in enumerate(_LANTHANIDES):            # trivalent ion: 4f^(Z-57)
        out += [LineSpec(el, "M4f", 14.0 - i), LineSpec(el, "N4f", 14.0 - i)]
    return [s for s in out if s.holes > 0]


# ----------------------------------------------------------------------------- atoms
def bound_orbital(atom: AtomModel, n: int, l: int, r_max: float = 150.0, n_r: int = 8000,
                  r0: float = 1e-2):
    """The n l bound state of ``atom``'s potential: (energy in Hartree, r, w, P).

    Radial Schroedinger equation -P''/2 + (V(r) + l(l+1)/(2r^2)) P = e P (Hartree, bohr) on the
    grid r = r0 (exp(x) - 1), x uniform (step dx), with P = sqrt(r') y, which turns it into
    -y'' + (r'^2 (2V + l(l+1)/r^2) + 1/4) y = 2e r'^2 y; second-order finite differences give a
    symmetric tridiagonal problem in z = r' y, solved for its (n - l - 1)-th eigenvalue
    (scipy ``eigh_tridiagonal``), P = 0 at r = 0 and at r_max (bohr). Returns the grid r
    (bohr), quadrature weights w = r' dx (bohr) and P (1/sqrt(bohr)) normalised to
    sum(w P^2) = 1.
    """
    from scipy.linalg import eigh_tridiagonal

    x_max = math.log(r_max / r0 + 1.0)
    dx = x_max / (n_r + 1)
    x = dx * np.arange(1, n_r + 1)
    r = r0 * np.expm1(x)
    rp = r0 * np.exp(x)
    V = atom.rv(r) / r
    diag = (2.0 / dx**2 + 0.25) / rp**2 + 2.0 * V + l * (l + 1) / r**2
    off = -1.0 / (dx**2 * rp[:-1] * rp[1:])
    k = n - l - 1
    lam, z = eigh_tridiagonal(diag, off, select="i", select_range=(k, k))
    P = z[:, 0] / np.sqrt(rp)
    w = rp * dx
    P /= math.sqrt(float(np.sum(w * P * P)))
    P *= np.sign(P[np.argmax(np.abs(P))])
    return float(lam[0]) / 2.0, r, w, P


def spin_orbit_splitting_eV(atom: AtomModel, n: int, l: int) -> float:
    """Spin-orbit splitting E(j = l - 1/2) - E(j = l + 1/2) of the bound n l level (eV).

    Delta = zeta (2l + 1)/2, zeta = (alpha^2/2) int P_nl(r)^2 (1/r) dV/dr dr (Hartree; central
    field, Condon & Shortley 1935; Blume & Watson 1962), V from the atom's potential r V(r)."""
    if l == 0:
        return 0.0
    _, r, w, P = bound_orbital(atom, n, l)
    return zeta_eV(atom, r, w, P) * (2 * l + 1) / 2.0


def zeta_eV(atom: AtomModel, r, w, P) -> float:
    """Spin-orbit parameter zeta = (alpha^2/2) int P^2 (1/r) dV/dr dr (eV) of the orbital P
    (1/sqrt(bohr), normalised on grid r (bohr) with weights w) in ``atom``'s potential r V(r)
    (central field; Condon & Shortley 1935, Blume & Watson 1962)."""
    rv = atom.rv(r)
    dVdr = (r * np.gradient(rv, r) - rv) / r**2
    return 0.5 * ALPHA_FS**2 * float(np.sum(w * P * P * dVdr / r)) * HARTREE_EV


def final_orbital(atom: AtomModel, n: int, l: int):
    """(energy Ha, r, w, P) of the final n l orbital: GPAW's own (scalar-relativistic) orbital
    when the atom's configuration has it, else :func:`bound_orbital` (non-relativistic; e.g.
    the empty 4f of La, the Z+1 atom of Ba), on the solver's grid."""
    e, r, w, P = bound_orbital(atom, n, l)
    orb = atom.orbitals.get((n, l))
    if orb is None:
        return e, r, w, P
    u = orb.u(r)
    return orb.energy_Ha, r, w, u / math.sqrt(float(np.sum(w * u * u)))


def bound_gos(core: AtomModel, n: int, l: int, final: AtomModel, n_f: int, l_f: int,
              energy_eV: float, electrons: float, holes: float, q_inv_angstrom) -> np.ndarray:
    """Bound-bound generalised oscillator strength f(q) of (n l) -> (n_f l_f) (dimensionless).

    f(q) = (2E/q^2) N (h/(2(2l'+1))) sum_lambda (2l'+1)(2 lambda+1) (l lambda l'; 000)^2
    |int P_{n'l'} j_lambda(q r) P_nl dr|^2 (module docstring; Inokuti 1971, Manson 1972), E =
    ``energy_eV``/27.211 Hartree, q in 1/bohr, N = ``electrons`` of the core subshell, h =
    ``holes`` of the final shell. P_nl from ``core`` (GPAW orbital), P_n'l' from ``final``
    (:func:`final_orbital`). Returns f at ``q_inv_angstrom`` (1/Angstrom), shape (n_q,).
    """
    from scipy.special import spherical_jn

    _, r, w, Pf = final_orbital(final, n_f, l_f)
    Pi = core.orbital(n, l).u(r)
    Pi = Pi / math.sqrt(float(np.sum(w * Pi * Pi)))
    q = np.asarray(q_inv_angstrom, dtype=float) * BOHR_ANGSTROM
    lam = np.arange(abs(l - l_f), l + l_f + 1)
    t2 = np.array([wigner3j_000(l, int(k), l_f) ** 2 for k in lam])
    lam, t2 = lam[t2 > 0], t2[t2 > 0]
    jl = spherical_jn(lam[:, None, None], q[None, :, None] * r[None, None, :])  # (n_lam, n_q, n_r)
    M = jl @ (w * Pi * Pf)                                                       # (n_lam, n_q)
    acc = np.sum(((2 * l_f + 1) * (2 * lam + 1) * t2)[:, None] * M * M, axis=0)
    E = energy_eV / HARTREE_EV
    return (2.0 * E / q**2) * electrons * holes / (2.0 * (2 * l_f + 1)) * acc


# ----------------------------------------------------------------------------- the tables
def _core_width_eV(Z: int, subshell: str) -> float:
    """Core-level width (eV), Campbell & Papp (2001) via xraylib ``AtomicLevelWidth``."""
    import xraylib

    return 1000.0 * xraylib.AtomicLevelWidth(Z, getattr(xraylib, f"{subshell}_SHELL"))


#: elements whose usual state in compounds is the d0 ion (K+: KCl; Ca2+: CaO, CaF2, CaCO3; Sc3+:
#: Sc2O3; Ti4+: TiO2, SrTiO3, BaTiO3): a closed-shell ground state, for which the particle-hole
#: multiplet is exact within the configuration (Zaanen et al., Phys. Rev. B 32, 4905 (1985))
D0_IONS = ("K", "Ca", "Sc", "Ti")
#: the tables whose d0-ion L2,3 and lanthanide M4,5 come from the particle-hole multiplet (and that
#: give K and Ca their L2,3 lines)
MULTIPLET_TABLES = ("multiplet", "crystal-field", "autoionisation")
#: the tables whose d0-ion L2,3 are crystal-field lines (:func:`_crystal_field_lines`)
CRYSTAL_FIELD_TABLES = ("crystal-field", "autoionisation")
#: the tables whose lanthanide N4,5 lines below the 4d threshold are not autoionisation-broadened
AUTOIONISATION_TABLES = ("autoionisation",)
#: 10 Dq (eV) of the octahedral field on the d0 ions' excited 3d electron in the "crystal-field"
#: table: representative of six-fold oxides and fluorides, growing with the ion's charge, of the
#: size de Groot et al. (Phys. Rev. B 41, 928 (1990)) compare with experiment (~1-2 eV from K+ to
#: Ti4+); one stand-in value per ion (real compounds vary: tetrahedral and eight-fold sites invert
#: or shrink it), not fitted to any spectrum of ours
CRYSTAL_FIELD_10DQ_EV = {"K": 0.6, "Ca": 1.0, "Sc": 1.6, "Ti": 1.8}
#: Gamma_solid (eV) of the crystal-field lines: the band width alone (SOLID_FWHM_EV["L3d"] also
#: stands for the crystal-field splitting, which these lines hold explicitly)
CRYSTAL_FIELD_SOLID_FWHM_EV = 0.5


def _multiplet_branching(s: LineSpec, table: str) -> int | None:
    """The valence electrons N of the initial v^N state whose particle-hole multiplet shares
    ``s``'s strength between its two components in ``table``, or None (statistical): the
    lanthanides' M4,5 (localised 4f: the atomic Hund's-rule ground state of the trivalent ion
    holds, N = 14 - holes) and the d0 ions' L2,3 (N = 0). Not V..Ni: their 3d is itinerant or
    hybridised, and the atomic Hund's-rule spin polarisation that the frozen-spectator multiplet
    assumes overstates the L3 share (Ni: 11 against a measured ~3; Leapman, Grunes & Fejes,
    Phys. Rev. B 26, 614 (1982))."""
    if table not in MULTIPLET_TABLES:
        return None
    if s.kind == "M4f":
        return int(round(14 - s.holes))
    return 0 if s.kind == "L3d" and s.element in D0_IONS else None


def multiplet_branching(core: AtomModel, final: AtomModel, kind: str, n_electrons: int) -> tuple[float, str]:
    """Share of the white-line strength in the j = l + 1/2 component (L3, M5) from the particle-hole
    multiplet c^(4l+1) v^(N+1) (:func:`eels_helpers.physics.multiplets.particle_hole_spectrum`;
    ``n_electrons`` = N): the strength of the final states below the split = the midpoint of the
    two j levels (centre - l zeta_c / 2 and centre + (l + 1) zeta_c / 2, i.e. centre + zeta_c / 4)
    moved with the multiplet's mean push, the way measured ratios split the two peaks. Returns
    (share, a note with G1, zeta and the push)."""
    from eels_helpers.physics.multiplets import particle_hole_spectrum, slater_integrals

    _, n, l, _, n_f, l_f = _KINDS[kind]
    slater = slater_integrals(core, final, core_nl=(n, l), valence_nl=(n_f, l_f))
    spec = particle_hole_spectrum(n_electrons, slater)
    major = float(spec.strength[spec.energy_eV < spec.mean_shift_eV + slater.zeta_c / 4.0].sum())
    core_name, v = f"{n}{'spdf'[l]}", f"{n_f}{'spdf'[l_f]}"
    note = (f"branching {major:.3f} from the {core_name}^{4 * l + 1} {v}^{n_electrons + 1} particle-hole "
            f"multiplet (G1 = {slater.G_cv[1]:.1f} eV, zeta = {slater.zeta_c:.2f} eV, push "
            f"{spec.mean_shift_eV:+.1f} eV)")
    return major, note


def compute_lines(specs=None, table: str = "single-particle") -> list[WhiteLine]:
    """White lines of ``specs`` (default: :func:`line_specs` of ``table``) from the LDA atoms (needs GPAW and
    xraylib; a few seconds per family) for the white-line ``table`` (:data:`TABLE_PATHS`): the
    lanthanides' N4,5 from their particle-hole multiplet (:func:`_multiplet_lines`), the other
    lines at the tabulated onsets, their strength shared statistically ((2j+1)/(2(2l+1))) or,
    where the table says so (:func:`_multiplet_branching`), by :func:`multiplet_branching`."""
    from eels_helpers.physics import elements
    from eels_helpers.physics.atomic_gos import lda_atom

    if table not in TABLE_PATHS:
        raise ValueError(f"table must be one of {sorted(TABLE_PATHS)}, got {table!r}")
    specs = line_specs(table) if specs is None else specs
    atoms: dict[str, AtomModel] = {}

    def atom(el):
        if el not in atoms:
            atoms[el] = lda_atom(el)
        return atoms[el]

    out = []
    for s in specs:
        shell, n, l, comps, n_f, l_f = _KINDS[s.kind]
        fam = elements.family(s.family)
        Z = elements.atomic_number(s.element)
        z1 = elements.ALL_SYMBOLS[Z]                      # equivalent core: Z + 1
        if s.kind == "N4f":
            out += _multiplet_lines(s, atom(s.element), atom(z1), fam, Z,
                                    threshold_widths=table in AUTOIONISATION_TABLES)
            continue
        if table in CRYSTAL_FIELD_TABLES and s.kind == "L3d" and s.element in D0_IONS:
            out += _crystal_field_lines(s, atom(s.element), atom(z1), fam, Z)
            continue
        onset = {c: fam.onset_of(c) for c in comps}
        delta = spin_orbit_splitting_eV(atom(s.element), n, l)
        src = "tabulated onset"
        if onset[comps[1]] <= onset[comps[0]]:          # one tabulated value: add the SO split
            onset[comps[1]] = onset[comps[0]] + delta
            src = f"{comps[0]} onset + computed spin-orbit split {delta:.1f} eV"
        electrons = (2 * l + 2.0, 2.0 * l)               # 2j + 1 of each component
        strength = "statistical strengths"
        n_el = _multiplet_branching(s, table)
        if n_el is not None:
            major, strength = multiplet_branching(atom(s.element), atom(z1), s.kind, n_el)
            electrons = (2 * (2 * l + 1) * major, 2 * (2 * l + 1) * (1.0 - major))
        for c, n_e in zip(comps, electrons):
            f_q = bound_gos(atom(s.element), n, l, atom(z1), n_f, l_f, onset[c], n_e,
                            s.holes, Q_GRID_INV_ANGSTROM)
            fwhm = _core_width_eV(Z, c) + SOLID_FWHM_EV[s.kind]
            note = (f"{n}{'spdf'[l]}->{n_f}{'spdf'[l_f]} ({z1} potential); position: {src}; "
                    f"FWHM: Campbell & Papp 2001 + {SOLID_FWHM_EV[s.kind]} eV solid")
            if table != "single-particle":
                note += f"; {strength}"
            out.append(WhiteLine(s.family, c, onset[c] - fam.first_onset_eV, fwhm,
                                 tuple(float(v) for v in f_q), s.holes, note))
            log.info("%s %s: offset %.1f eV, FWHM %.2f eV, f(q->0) = %.3g, holes %g",
                     s.family, c, out[-1].offset_eV, fwhm, f_q[0], s.holes)
    return out


#: lines of a multiplet closer than this (eV) are merged; weaker than this share dropped
MULTIPLET_MERGE_EV, MULTIPLET_MIN_SHARE = 1.0, 0.01


def _merged_lines(energy_eV: np.ndarray, strength: np.ndarray,
                  dark: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(energies, shares) of a multiplet's lines: states closer than ``MULTIPLET_MERGE_EV`` merged
    (strength-weighted energy), shares below ``MULTIPLET_MIN_SHARE`` dropped, the rest renormalised;
    ascending in energy. States with strength <= ``dark`` are left out first (so that a dense
    ladder of nearly dark states does not chain bright lines 1-2 eV apart into one)."""
    if dark is not None:
        bright = strength > dark
        energy_eV, strength = energy_eV[bright], strength[bright]
    order = np.argsort(energy_eV)
    E, w = energy_eV[order], strength[order]
    groups = np.concatenate([[0], np.cumsum(np.diff(E) > MULTIPLET_MERGE_EV)])
    share = np.bincount(groups, weights=w)
    E_g = np.bincount(groups, weights=w * E) / np.maximum(share, 1e-300)
    keep = share >= MULTIPLET_MIN_SHARE
    return E_g[keep], share[keep] / share[keep].sum()


def _crystal_field_lines(s: LineSpec, core: AtomModel, final: AtomModel, fam, Z: int) -> list[WhiteLine]:
    """The L2,3 lines of a d0 ion in an octahedral crystal field: the eigenstates of the 2p^5 3d^1
    multiplet with 10 Dq = ``CRYSTAL_FIELD_10DQ_EV`` (:func:`eels_helpers.physics.multiplets.
    particle_hole_spectrum`), merged as :func:`_merged_lines` (dark states left out), each with its
    level's core width + ``CRYSTAL_FIELD_SOLID_FWHM_EV``. ``L3_k``: the lines below the widest gap
    between neighbouring lines (the 2p spin-orbit split, 3/2 zeta_2p = 2.7-5.8 eV for K..Ti, exceeds
    10 Dq, so the two j groups stay apart), ``L2_k`` above. Position: the first line holding
    >= 5 % of the strength (the L3 t2g peak, where the absorption rises) at the tabulated L3
    onset, where the other tables put their L3 line; the rest where the multiplet puts them. Total
    f(q): all six 2p electrons into the 3d holes at the 2p centre (:func:`bound_gos`), shared out by
    the dipole strengths (the multiplet moves strength, it does not create it)."""
    from eels_helpers.physics.multiplets import particle_hole_spectrum, slater_integrals

    ten_dq = CRYSTAL_FIELD_10DQ_EV[s.element]
    slater = slater_integrals(core, final, core_nl=(2, 1), valence_nl=(3, 2))
    spec = particle_hole_spectrum(0, slater, crystal_field_eV=ten_dq)
    E_g, share = _merged_lines(spec.energy_eV, spec.strength, dark=1e-4)
    l3 = np.arange(E_g.size) <= np.argmax(np.diff(E_g))     # below the widest gap: the 2p3/2 group
    E_line = E_g - E_g[np.argmax(share >= 0.05)] + fam.onset_of("L3")
    centre = fam.onset_of("L3") + slater.zeta_c / 2.0
    f_total = bound_gos(core, 2, 1, final, 3, 2, centre, 6.0, s.holes, Q_GRID_INV_ANGSTROM)
    note = (f"2p->3d ({final.symbol} potential); position: 2p^5 3d^1 multiplet in an octahedral field "
            f"(10Dq = {ten_dq:g} eV, G1 = {slater.G_cv[1]:.1f} eV, zeta = {slater.zeta_c:.2f} eV), first "
            f"strong line at the tabulated L3 onset; FWHM: Campbell & Papp 2001 + "
            f"{CRYSTAL_FIELD_SOLID_FWHM_EV} eV solid")
    out, count = [], {"L3": 0, "L2": 0}
    for e, sh, low in zip(E_line, share, l3):
        c = "L3" if low else "L2"
        count[c] += 1
        fwhm = _core_width_eV(Z, c) + CRYSTAL_FIELD_SOLID_FWHM_EV
        out.append(WhiteLine(s.family, f"{c}_{count[c]}", float(e) - fam.first_onset_eV, fwhm,
                             tuple(float(v) for v in sh * f_total), s.holes, note))
    log.info("%s: %d crystal-field lines, %.1f-%.1f eV, L3 share %.2f", s.family, len(out), E_line.min(),
             E_line.max(), float(share[l3].sum()))
    return out


def _multiplet_lines(s: LineSpec, core: AtomModel, final: AtomModel, fam, Z: int,
                     threshold_widths: bool = False) -> list[WhiteLine]:
    """The N4,5 lines of a lanthanide where its 4d^9 4f^(N+1) multiplet puts them.

    ``threshold_widths`` (the "autoionisation" table): the states below the 4d5/2 threshold (the
    tabulated N5 onset) and those above are merged separately, and the lines below get
    Gamma_core + ``SOLID_FWHM_EV["M4f"]`` instead of + ``SOLID_FWHM_EV["N4f"]`` (no 4d^9 eps f
    autoionisation channel below the threshold; Dehmer et al. 1971).

    :func:`eels_helpers.physics.multiplets.particle_hole_spectrum` gives the dipole strength per
    final state (energies from the 4d centre of gravity = tabulated N5 onset + zeta_4d); states
    within ``MULTIPLET_MERGE_EV`` are merged (strength-weighted energy), shares below
    ``MULTIPLET_MIN_SHARE`` dropped and the rest renormalised. The total f(q) is that of all ten
    4d electrons into the holes at the 4d centre (:func:`bound_gos`), shared out by the dipole
    strengths: the multiplet moves oscillator strength, it does not create it (the
    Thomas-Reiche-Kuhn sum, which the random-phase approximation keeps: Thouless, Nucl. Phys. 22, 78 (1961))."""
    from eels_helpers.physics.multiplets import particle_hole_spectrum, slater_integrals

    slater = slater_integrals(core, final)
    spec = particle_hole_spectrum(Z - 57, slater)
    threshold = fam.onset_of("N5")
    centre = threshold + slater.zeta_c
    E = centre + spec.energy_eV
    if threshold_widths:
        below = E < threshold
        # each side merged alone (shares renormalised to that side), weighed back by the side's strength;
        # a side whose every group falls below MULTIPLET_MIN_SHARE is dropped, and the kept lines
        # share the whole strength (renormalised as the one-sided merge does)
        parts = [_merged_lines(E[side], spec.strength[side]) + (float(spec.strength[side].sum()),)
                 for side in (below, ~below) if side.any()]
        E_g = np.concatenate([e for e, _, _ in parts])
        share = np.concatenate([sh * weight for _, sh, weight in parts])
        share = share / share.sum()
    else:
        E_g, share = _merged_lines(E, spec.strength)
    E_mean = float(np.sum(share * E_g))
    f_total = bound_gos(core, 4, 2, final, 4, 3, centre, 10.0, s.holes, Q_GRID_INV_ANGSTROM)
    core_width = _core_width_eV(Z, "N5")
    width_note = (f"Campbell & Papp 2001 + {SOLID_FWHM_EV['M4f']} eV below the 4d threshold {threshold:.1f} eV, "
                  f"+ {SOLID_FWHM_EV[s.kind]} eV above (autoionisation)" if threshold_widths
                  else f"Campbell & Papp 2001 + {SOLID_FWHM_EV[s.kind]} eV")
    note = (f"4d->4f ({final.symbol} potential); position: 4d^9 4f^{Z - 56} particle-hole multiplet "
            f"(G1 = {slater.G_cv[1]:.1f} eV, mean {spec.mean_shift_eV:+.1f} eV from the 4d centre "
            f"{centre:.1f} eV); FWHM: {width_note}")
    out = []
    for k, (e, sh) in enumerate(zip(E_g, share)):
        f_q = sh * f_total
        solid = SOLID_FWHM_EV["M4f"] if threshold_widths and e < threshold else SOLID_FWHM_EV[s.kind]
        out.append(WhiteLine(s.family, f"N45_{k + 1}", float(e) - fam.first_onset_eV, core_width + solid,
                             tuple(float(v) for v in f_q), s.holes, note))
    log.info("%s: %d multiplet lines, %.1f-%.1f eV, mean %.1f eV", s.family, len(out), E_g.min(),
             E_g.max(), E_mean)
    return out


_COLUMNS = ("family", "component", "offset_eV", "fwhm_eV", "holes")


def write_csv(lines, path=WHITE_LINES_PATH) -> None:
    """Write lines as the shipped CSV: one row per line, f(q) in columns f_q00.. at the q of
    the header comment (1/Angstrom). Written to a temporary file first and renamed, so that an
    interrupted run leaves the old table intact."""
    import os
    from pathlib import Path

    qs = " ".join(f"{q:.6g}" for q in Q_GRID_INV_ANGSTROM)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as fh:
        fh.write("# White lines (bound-bound GOS), eels_helpers.physics.white_lines; written by "
                 "scripts/compute_white_lines.py, do not edit.\n")
        fh.write("# offset_eV from the family's first onset; FWHM eV (Lorentzian); f_qNN: "
                 "dimensionless GOS of the line at q (1/Angstrom) =\n")
        fh.write(f"# q: {qs}\n")
        wr = csv.writer(fh, lineterminator="\n")
        wr.writerow(list(_COLUMNS) + [f"f_q{i:02d}" for i in range(Q_GRID_INV_ANGSTROM.size)]
                    + ["note"])
        for ln in lines:
            wr.writerow([ln.family, ln.component, f"{ln.offset_eV:.2f}", f"{ln.fwhm_eV:.3f}",
                         f"{ln.holes:g}"] + [f"{v:.5e}" for v in ln.f_q] + [ln.note])
    os.replace(tmp, path)
