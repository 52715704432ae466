"""In-house generalised oscillator strengths (GOS) from an all-electron atom.

For an atomic shell (n, l) holding N electrons in a one-electron central potential V(r), in
Hartree atomic units (Inokuti, Rev. Mod. Phys. 43, 297 (1971), eq. 3.x; Manson, Phys. Rev. A 6,
1013 (1972))::

    df/dE(q, E) = (2E/q^2) N sum_{l'} sum_lambda (2l'+1)(2 lambda+1) (l lambda l'; 0 0 0)^2
                  |int_0^inf P_{eps l'}(r) j_lambda(q r) P_{nl}(r) dr|^2          [1/Hartree]

with E = eps + I_nl the energy loss, eps the free (kinetic) energy of the ejected electron,
I_nl = -e_nl the binding energy, P = r R the radial functions, j_lambda the spherical Bessel
functions and (l lambda l'; 0 0 0) a Wigner 3j symbol (non-zero only for l + lambda + l' even
and |l - l'| <= lambda <= l + l'). Continuum functions are energy-normalised per Hartree:
P_{eps l'} -> sqrt(2/(pi k)) sin(k r - l' pi/2 + delta) (the WKB form of this with the local
wave number is used at the matching radius, which also handles a Coulomb tail). Tables are
stored per eV (divide by ``HARTREE_EV``) and against the FREE energy above the calculation's own
threshold (the LDA eigenvalue), so that a user can place the edge at its experimental onset.

The engine:

* bound orbitals and the self-consistent potential come from GPAW's scalar-relativistic LDA
  all-electron atom (``gpaw.atom.all_electron.AllElectron``; the optional extra ``gos``, see
  ``scripts/regenerate_gos.py`` for the offline install); the LDA potential decays too fast,
  so the Latter (1955) tail r V(r) = min(r V_LDA(r), -1) restores the -1/r of the ion;
* continuum waves in that potential are integrated outward with Numerov on a grid
  r = r0 (exp(x) - 1) (fine near the nucleus, coarser far out), vectorised over energies and l';
* the monopole term uses j_0(q r) - 1 instead of j_0(q r): exact for orthogonal states, it
  removes the spurious 1/q^2 divergence from the small non-orthogonality of bound (scalar
  relativistic) and continuum (Schroedinger + Latter tail) functions;
* a pure Coulomb mode (``coulomb_atom``: V = -Z/r, analytic hydrogen-like 1s) is the test
  against the closed-form hydrogenic GOS.

Approximations (stated honestly): frozen ground-state potential (no core hole), non-relativistic
continuum, no bound-bound (white-line) transitions, no multiplets or solid-state effects;
near-threshold shapes of M4,5, N4,5 and N6,7 edges (centrifugal barrier, 4d->4f giant
resonances) are the weak spots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

HARTREE_EV = 27.211386245988
BOHR_ANGSTROM = 0.529177210903

_L_LETTERS = "spdfghi"


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class GosGrid:
    """Grids and convergence parameters of one GOS table.

    free energies: geometric from ``free_energy_min_eV`` to ``free_energy_max_eV`` (eV above
    threshold); q: geometric from ``q_min_inv_angstrom`` to ``q_max_inv_angstrom`` (1/Angstrom);
    ``l_max``: largest final-state angular momentum l' kept in the sum (lambda follows from the
    3j selection rules); ``r_step_min_bohr``: grid step near the nucleus (bohr).
    """

    free_energy_min_eV: float = 0.1
    free_energy_max_eV: float = 4000.0
    n_energies: int = 128
    q_min_inv_angstrom: float = 0.04
    q_max_inv_angstrom: float = 60.0
    n_q: int = 100
    l_max: int = 25
    r_step_min_bohr: float = 0.002

    def __post_init__(self):
        def check(name, ok, rng):
            if not ok:
                raise ValueError(f"GosGrid.{name}={getattr(self, name)!r} out of range: {rng}")
        check("free_energy_min_eV", 1e-4 <= self.free_energy_min_eV <= 100, "1e-4..100 eV")
        check("free_energy_max_eV", self.free_energy_min_eV < self.free_energy_max_eV <= 5e4,
              "(free_energy_min_eV, 5e4] eV")
        check("n_energies", 2 <= int(self.n_energies) <= 2000, "2..2000")
        check("q_min_inv_angstrom", 1e-4 <= self.q_min_inv_angstrom <= 100,
              "1e-4..100 1/Angstrom")
        check("q_max_inv_angstrom", self.q_min_inv_angstrom < self.q_max_inv_angstrom <= 500,
              "(q_min_inv_angstrom, 500] 1/Angstrom")
        check("n_q", 2 <= int(self.n_q) <= 2000, "2..2000")
        check("l_max", 1 <= int(self.l_max) <= 45, "1..45")
        check("r_step_min_bohr", 1e-5 <= self.r_step_min_bohr <= 0.05, "1e-5..0.05 bohr")

    def free_energies_eV(self) -> np.ndarray:
        return np.geomspace(self.free_energy_min_eV, self.free_energy_max_eV, int(self.n_energies))

    def q_inv_angstrom(self) -> np.ndarray:
        return np.geomspace(self.q_min_inv_angstrom, self.q_max_inv_angstrom, int(self.n_q))


# ----------------------------------------------------------------------------- atoms
@dataclass
class Orbital:
    n: int
    l: int
    energy_Ha: float                  # eigenvalue (negative)
    occupation: float                 # electrons in the nl shell
    u: Callable[[np.ndarray], np.ndarray]   # P_nl(r) = r R_nl(r), r in bohr


@dataclass
class AtomModel:
    """A central potential (r V(r) in Hartree*bohr, callable) and its bound orbitals."""

    symbol: str
    Z: int
    rv: Callable[[np.ndarray], np.ndarray]
    orbitals: dict = field(default_factory=dict)   # (n, l) -> Orbital
    tail_charge: float = 1.0          # asymptotic -tail_charge/r of the continuum potential

    def orbital(self, n: int, l: int) -> Orbital:
        try:
            return self.orbitals[(n, l)]
        except KeyError:
            have = ", ".join(f"{a}{_L_LETTERS[b]}" for a, b in sorted(self.orbitals))
            raise KeyError(f"{self.symbol}: no bound {n}{_L_LETTERS[l]} orbital "
                           f"(available: {have})") from None


def coulomb_atom(Z: float) -> AtomModel:
    """Hydrogen-like ion: V = -Z/r, analytic 1s orbital P = 2 Z^1.5 r exp(-Z r), e = -Z^2/2."""
    Z = float(Z)

    def u1s(r):
        r = np.asarray(r, dtype=float)
        return 2.0 * Z ** 1.5 * r * np.exp(-Z * r)

    return AtomModel(symbol=f"H-like(Z={Z:g})", Z=int(round(Z)), rv=lambda r: -Z * np.ones_like(r),
                     orbitals={(1, 0): Orbital(1, 0, -Z * Z / 2.0, 1.0, u1s)}, tail_charge=Z)


def lda_atom(symbol: str) -> AtomModel:
    """Scalar-relativistic LDA all-electron atom from GPAW, with the Latter -1/r tail.

    Needs the optional ``gpaw`` package (``pip install .[gos]``, see scripts/regenerate_gos.py).
    """
    try:
        from gpaw.atom.all_electron import AllElectron
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("lda_atom needs GPAW (optional extra 'gos'); install with "
                          "GPAW_CONFIG=scripts/gpaw_siteconfig.py pip install --no-binary gpaw "
                          "'.[gos]'") from exc
    from scipy.interpolate import CubicSpline

    class _CompactGuess(AllElectron):
        # GPAW's own initial guess for Hf..Au (Slater exponent sqrt(-4e) instead of sqrt(-2e));
        # needed for Tb..Lu, where the default guess stops with "Bad initial electron density"
        def initialize_wave_functions(self):
            for l, e, u in zip(self.l_j, self.e_j, self.u_j):
                u[:] = self.r ** (1 + l) * np.exp(-math.sqrt(-4.0 * e) * self.r)
                u *= 1.0 / math.sqrt(float(np.dot(u ** 2, self.dr)))

    try:
        ae = AllElectron(symbol, xcname="LDA", scalarrel=True, txt=None)
        ae.run()
    except Exception:  # gpaw.atom.all_electron.ConvergenceError
        ae = _CompactGuess(symbol, xcname="LDA", scalarrel=True, txt=None)
        ae.run()
    r = np.asarray(ae.r, dtype=float)
    vr_lda = np.asarray(ae.vr, dtype=float)
    spline_v = CubicSpline(r, vr_lda)
    r_end = float(r[-1])

    def rv(rr):
        rr = np.asarray(rr, dtype=float)
        v = np.where(rr < r_end, spline_v(np.minimum(rr, r_end)), 0.0)
        return np.minimum(v, -1.0)          # Latter tail

    orbitals = {}
    for n, l, f, e, u in zip(ae.n_j, ae.l_j, ae.f_j, ae.e_j, ae.u_j):
        u = np.asarray(u, dtype=float)
        # orbitals decay to ~0 well inside the grid; beyond it they are 0
        sp = CubicSpline(r, u)
        cut = r_end

        def fu(rr, sp=sp, cut=cut):
            rr = np.asarray(rr, dtype=float)
            return np.where(rr < cut, sp(np.minimum(rr, cut)), 0.0)

        key = (int(n), int(l))
        orbitals[key] = Orbital(int(n), int(l), float(e), float(f), fu)
    return AtomModel(symbol=symbol, Z=int(ae.Z), rv=rv, orbitals=orbitals, tail_charge=1.0)


# ----------------------------------------------------------------------------- angular algebra
def wigner3j_000(l1: int, l2: int, l3: int) -> float:
    """Wigner 3j symbol (l1 l2 l3; 0 0 0), closed form (Edmonds 1957, eq. 3.7.17).

    Zero unless L = l1 + l2 + l3 is even and the triangle rule holds; otherwise with g = L/2:
    (-1)^g sqrt[(L-2l1)!(L-2l2)!(L-2l3)!/(L+1)!] g!/((g-l1)!(g-l2)!(g-l3)!).
    """
    L = l1 + l2 + l3
    if L % 2 or l3 < abs(l1 - l2) or l3 > l1 + l2 or min(l1, l2, l3) < 0:
        return 0.0
    g = L // 2
    lf = math.lgamma
    logv = 0.5 * (lf(L - 2 * l1 + 1) + lf(L - 2 * l2 + 1) + lf(L - 2 * l3 + 1) - lf(L + 2)) \
        + lf(g + 1) - lf(g - l1 + 1) - lf(g - l2 + 1) - lf(g - l3 + 1)
    return (-1) ** g * math.exp(logv)


# ----------------------------------------------------------------------------- continuum
def _energy_groups(eps_Ha: np.ndarray, n_groups: int = 4):
    """Split free energies (Hartree) into groups that share a radial grid (by k = sqrt(2 eps))."""
    k = np.sqrt(2 * eps_Ha)
    edges = np.geomspace(k.min(), k.max() * (1 + 1e-12), n_groups + 1)
    idx = np.clip(np.searchsorted(edges, k, side="right") - 1, 0, n_groups - 1)
    return [np.flatnonzero(idx == g) for g in range(n_groups) if np.any(idx == g)]


def continuum_on_grid(atom: AtomModel, eps_Ha: np.ndarray, l_values: np.ndarray,
                      r_inner: float, r_step_min: float = 0.002):
    """Energy-normalised continuum radial functions P_{eps l'}(r) for one group of energies.

    Numerov for y(x) with r = r0 (e^x - 1), P = sqrt(r'(x)) y and
    y'' = -[r'^2 (2 (eps - V) - l'(l'+1)/r^2) - 1/4] y, started from P ~ r^(l'+1).
    Normalisation at the far end of the grid from the WKB envelope in x:
    C^2 = kappa (y^2 + (y'/kappa)^2) -> 2/pi, kappa = sqrt(F) (the Langer-corrected local wave
    number in x; y' from the central difference corrected by kappa h / sin(kappa h)).
    Returns (r, w, P, n_barrier) for r <= r_inner: radii (bohr), quadrature weights (bohr),
    P with shape (n_r, n_eps, n_l) in 1/sqrt(Hartree) (energy normalised per Hartree), and the
    number of (eps, l') pairs still under the centrifugal barrier at the far radius (set to 0:
    negligible there by construction of the far radius).
    """
    eps_Ha = np.asarray(eps_Ha, dtype=float)
    l_values = np.asarray(l_values, dtype=int)
    k = np.sqrt(2 * eps_Ha)
    k_min, k_max = float(k.min()), float(k.max())
    l_max = int(l_values.max())
    zt = atom.tail_charge
    # far radius: beyond the centrifugal turning point and where the Coulomb tail is weak
    R = max(40.0, 2.5 * (l_max + 0.5) / k_min, 30.0 / k_min, 8.0 * zt / k_min ** 2, 1.5 * r_inner)
    k_far = math.sqrt(k_max ** 2 + 2 * zt / R)
    h_far = 0.25 / k_far
    dx = h_far / R
    r0 = r_step_min / dx
    n_x = int(math.ceil(math.log(R / r0 + 1.0) / dx)) + 2
    x = dx * np.arange(1, n_x + 1)
    r = r0 * np.expm1(x)
    rx = r0 * np.exp(x)                      # dr/dx
    V = atom.rv(r) / r
    a = -2.0 * rx ** 2 * V - 0.25            # F = a + b * 2 eps - c * l(l+1)
    b = rx ** 2
    c = (rx / r) ** 2
    E2 = 2.0 * eps_Ha[:, None]
    LL = (l_values * (l_values + 1.0))[None, :]
    h12 = dx * dx / 12.0
    n_in = int(np.searchsorted(r, r_inner)) + 1
    n_in = min(max(n_in, 3), n_x)

    y = np.empty((n_x, eps_Ha.size, l_values.size))
    # start: P ~ r^(l+1) (1 - Z r/(l+1)) (series for -Z/r at the origin)
    Z0 = -float(atom.rv(np.array([1e-8]))[0])
    for i in (0, 1):
        P = r[i] ** (l_values + 1.0) * (1.0 - Z0 * r[i] / (l_values + 1.0))
        y[i] = np.broadcast_to(P[None, :] / np.sqrt(rx[i]), (eps_Ha.size, l_values.size))
    chunk = 2048
    f_prev = 1.0 + h12 * (a[0] + b[0] * E2 - c[0] * LL)
    f_cur = 1.0 + h12 * (a[1] + b[1] * E2 - c[1] * LL)
    for start in range(2, n_x, chunk):
        stop = min(start + chunk, n_x)
        sl = slice(start, stop)
        fch = 1.0 + h12 * (a[sl, None, None] + b[sl, None, None] * E2[None]
                           - c[sl, None, None] * LL[None])
        for j in range(stop - start):
            i = start + j
            f_next = fch[j]
            y[i] = ((12.0 - 10.0 * f_cur) * y[i - 1] - f_prev * y[i - 2]) / f_next
            f_prev, f_cur = f_cur, f_next
    # normalisation from the last ~ 40 points (WKB envelope in x)
    tail = np.arange(n_x - 41, n_x - 1)
    F = a[tail, None, None] + b[tail, None, None] * E2[None] - c[tail, None, None] * LL[None]
    ok = np.all(F > 0, axis=0)
    kap = np.sqrt(np.where(F > 0, F, 1.0))
    dy = (y[tail + 1] - y[tail - 1]) / (2 * dx)
    kh = kap * dx
    dy *= kh / np.sin(kh)
    C2 = kap * (y[tail] ** 2 + (dy / kap) ** 2)
    C = np.sqrt(np.mean(C2, axis=0))
    scale = np.where(ok & (C > 0), math.sqrt(2.0 / math.pi) / np.where(C > 0, C, 1.0), 0.0)
    P = y[:n_in] * np.sqrt(rx[:n_in])[:, None, None] * scale[None]
    # trapezoid weights in x (the integrand vanishes at r = 0)
    w = rx[:n_in] * dx
    w = w.copy()
    w[-1] *= 0.5
    return r[:n_in], w, P, int((~ok).sum())


# ----------------------------------------------------------------------------- GOS
def _r_extent(orb: Orbital, tol: float = 1e-12) -> float:
    """Radius (bohr) beyond which the bound orbital's norm is below tol."""
    rr = np.linspace(0.0, 200.0, 400001)
    u2 = orb.u(rr) ** 2
    cum = np.cumsum(u2[::-1])[::-1] * (rr[1] - rr[0])
    i = np.searchsorted(-cum, -tol * cum[0])
    return float(min(rr[min(i, rr.size - 1)] * 1.2 + 1.0, 200.0))


def gos_nl(atom: AtomModel, n: int, l: int, grid: GosGrid = GosGrid(),
           occupation: float | None = None):
    """df/dE(q, E) of the whole (n, l) shell of ``atom``.

    Returns (free_energies_eV (n_E,), q_inv_angstrom (n_q,), dfde_per_eV (n_q, n_E),
    ionization_energy_eV). ``occupation`` defaults to the orbital's occupation (electrons).
    """
    from scipy.special import spherical_jn

    orb = atom.orbital(n, l)
    N = orb.occupation if occupation is None else float(occupation)
    I_Ha = -orb.energy_Ha
    E_free = grid.free_energies_eV()
    q_A = grid.q_inv_angstrom()
    q = q_A * BOHR_ANGSTROM                     # 1/bohr
    eps = E_free / HARTREE_EV
    l_primes = np.arange(0, int(grid.l_max) + 1)
    lam_max = l + int(grid.l_max)
    r_inner = _r_extent(orb)
    out = np.zeros((q.size, eps.size))
    for idx in _energy_groups(eps):
        r, w, P, _ = continuum_on_grid(atom, eps[idx], l_primes, r_inner, grid.r_step_min_bohr)
        u = orb.u(r)
        u = u / math.sqrt(float(np.sum(w * u * u)))     # renormalise on this grid
        wu = w * u                                       # (n_r,)
        qr = q[:, None] * r[None, :]                     # (n_q, n_r)
        J = {}
        for lam in range(0, lam_max + 1):
            jl = spherical_jn(lam, qr)
            if lam == 0:
                jl = jl - 1.0                            # orthogonality: see module docstring
            J[lam] = jl * wu[None, :]                    # (n_q, n_r)
        E_loss = eps[idx] + I_Ha
        acc = np.zeros((q.size, idx.size))
        for lp in l_primes:
            Plp = P[:, :, lp]                            # (n_r, n_e)
            for lam in range(abs(l - lp), l + lp + 1, 2):
                t = wigner3j_000(l, lam, int(lp))
                if t == 0.0:
                    continue
                M = J[lam] @ Plp                         # (n_q, n_e)
                acc += (2 * lp + 1) * (2 * lam + 1) * t * t * M * M
        out[:, idx] = (2.0 * E_loss[None, :] / q[:, None] ** 2) * N * acc
    return E_free, q_A, out / HARTREE_EV, I_Ha * HARTREE_EV


def optical_dfde_nl(atom: AtomModel, n: int, l: int, free_energies_eV, l_extra: int = 0,
                    r_step_min: float = 0.002) -> np.ndarray:
    """Optical limit df/dE (1/eV) of the (n, l) shell (dipole form, length gauge).

    df/dE = (2E/3) N sum_{l'=l+-1} max(l, l')/(2l+1) |int P_{eps l'} r P_nl dr|^2 [1/Hartree].
    """
    orb = atom.orbital(n, l)
    eps = np.asarray(free_energies_eV, dtype=float) / HARTREE_EV
    lps = np.array([lp for lp in (l - 1, l + 1) if lp >= 0])
    out = np.zeros(eps.size)
    r_inner = _r_extent(orb)
    for idx in _energy_groups(eps):
        r, w, P, _ = continuum_on_grid(atom, eps[idx], np.arange(0, l + 2 + l_extra),
                                       r_inner, r_step_min)
        u = orb.u(r)
        u = u / math.sqrt(float(np.sum(w * u * u)))
        acc = np.zeros(idx.size)
        for lp in lps:
            d = (w * r * u) @ P[:, :, lp]
            acc += max(l, lp) / (2 * l + 1) * d * d
        out[idx] = 2.0 * (eps[idx] + (-orb.energy_Ha)) / 3.0 * orb.occupation * acc
    return out / HARTREE_EV


def table_name(n: int, l: int) -> str:
    """nl-resolved GOSH table name: (1,0)->K1, (2,1)->L23, (3,2)->M45, (4,3)->N67."""
    shell = "KLMNOP"[n - 1]
    return f"{shell}1" if l == 0 else f"{shell}{2 * l}{2 * l + 1}"


def nl_of_table(table: str) -> tuple[int, int]:
    """Inverse of :func:`table_name`: 'L23' -> (2, 1)."""
    n = "KLMNOP".index(table[0]) + 1
    idx = int(table[1])
    l = 0 if idx == 1 else idx // 2
    if table_name(n, l) != table:
        raise ValueError(f"not an nl table name: {table!r}")
    return n, l


def compute_gos_table(element: str, table: str, grid: GosGrid = GosGrid(),
                      atom: AtomModel | None = None):
    """One :class:`eels_helpers.physics.gos_tables.GosTable` (whole nl shell, q in 1/m) from the LDA atom."""
    from eels_helpers.physics.gos_tables import GosTable

    n, l = nl_of_table(table)
    atom = atom if atom is not None else lda_atom(element)
    orb = atom.orbital(n, l)
    E, qA, dfde, I_eV = gos_nl(atom, n, l, grid)
    return GosTable(element=element, table=table, q_inv_m=qA * 1e10, free_energies_eV=E,
                    dfde_per_eV=dfde, ionization_energy_eV=I_eV, n=n, l=l,
                    attrs={"occupation": float(orb.occupation), "l_max": int(grid.l_max),
                           "method": "LDA all-electron (GPAW) + Latter tail, Numerov continuum"})
