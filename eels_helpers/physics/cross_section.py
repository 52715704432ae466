"""Core-loss cross sections dsigma/dE (barn/eV per atom) from GOS tables, vectorised.

Physics (Egerton, *EELS in the Electron Microscope*, 3rd ed. 2011, sections 3.6 and 4.5;
the same formulas as exspy's ``TabulatedGOS.integrateq``):

    dsigma/dE(E) = 4 pi a0^2 (R^2 / (E T)) * ratio * integral_{ln Qmin}^{ln Qmax} df/dE(Q, E) dln Q

with Q = (q a0)^2, R = 13.6057 eV, E the energy loss (eV), ratio the subshell's occupancy
ratio, and relativistic kinematics for a beam of E0 (keV):
gamma = 1 + E0/511.06, T = m0 v^2/2 = 511060 (1 - 1/gamma^2)/2 eV,
Qmin = E^2/(4 R T) + E^3/(8 gamma^3 R T^2),
Qmax = Qmin + 4 sqrt(p0^2 p'^2) sin^2(theta/2), p0^2 = T/(R (1 - 2T/511060)),
p'^2 = p0^2 - (E/R)(gamma - E/1022120)   (momenta squared in units of hbar^2/a0^2).

Convergence correction: Egerton's effective collection angle beta* (Egerton 2011, eq. 4.73
and the program in Appendix B; as exspy's ``effective_angle``), evaluated at the onset of the
edge family (or of the subshell when a single subshell is asked for), used as theta above.
With alpha = 0, beta* = beta.

Numerics: for each tabulated free energy the q integral is exact for a GOS linear in ln Q
between tabulated q (held at its first column below the table: the dipole limit; zero above it).
dsigma/dE is then interpolated log-log between tabulated energies onto the requested energy
axis; beyond the last tabulated energy it follows a power law A E^-r fitted through the last
node and the node nearest E_last/1.5. Bound transitions of Dirac tables (negative free
energies) are added as Gaussians of standard deviation ``bound_sigma_eV`` (default 1 eV),
normalised so that each line holds its tabulated strength x 1 eV (see :mod:`eels_helpers.physics.gos_tables`).

The simulator's tabulated edge shapes are in :mod:`eels_helpers.physics.edge_shapes`; the
validation aids (Bethe sum, optical limit against Kissel) in :mod:`eels_helpers.physics.gos_checks`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eels_helpers.physics.gos_tables import BOUND_SIGMA_EV, canonical_subshell, get_source

__all__ = ["R_EV", "A0_M", "FOUR_PI_A0SQ_BARN", "MC2_EV", "E0_RANGE_KEV", "ALPHA_RANGE_MRAD",
           "BETA_RANGE_MRAD", "kinematics", "ln_q_limits", "effective_collection_angle", "dipole_df_factor",
           "validate_microscope", "EdgeSpec", "resolve_edge", "CrossSectionCalculator",
           "dsigma_dE"]

R_EV = 13.605693122990  # Rydberg energy, eV (CODATA 2022)
A0_M = 5.29177210544e-11  # Bohr radius, m (CODATA 2022)
#: 4 pi a0^2 in barn (1 barn = 1e-28 m^2)
FOUR_PI_A0SQ_BARN = 4 * np.pi * A0_M**2 * 1e28
MC2_EV = 511060.0  # electron rest energy as in Egerton's programs (eV)

# ranges accepted by the validation of microscope parameters
E0_RANGE_KEV = (10.0, 1000.0)
ALPHA_RANGE_MRAD = (0.0, 200.0)
BETA_RANGE_MRAD = (0.01, 500.0)


# ----------------------------------------------------------------------------- kinematics
def kinematics(E0_keV):
    """(gamma, T in eV, p0^2 in 1/a0^2) of a beam of E0 keV (Egerton 2011, appendix B)."""
    E0 = np.asarray(E0_keV, dtype=np.float64)
    gamma = 1.0 + E0 / 511.06
    T = MC2_EV * (1.0 - 1.0 / gamma**2) / 2.0
    p02 = T / (R_EV * (1.0 - 2.0 * T / MC2_EV))
    return gamma, T, p02


def ln_q_limits(E_eV, E0_keV, theta_rad):
    """ln Qmin and ln Qmax (Q = (q a0)^2) for energy loss E (eV), beam E0 (keV) and a
    collection semi-angle theta (rad): the relativistic limits in the module docstring.
    All arguments broadcast."""
    E = np.asarray(E_eV, dtype=np.float64)
    gamma, T, p02 = kinematics(E0_keV)
    qmin = E**2 / (4 * R_EV * T) + E**3 / (8 * gamma**3 * R_EV * T**2)
    pp2 = p02 - E / R_EV * (gamma - E / (2 * MC2_EV))
    qmax = qmin + 4 * np.sqrt(p02 * pp2) * np.sin(np.asarray(theta_rad) / 2) ** 2
    return np.log(qmin), np.log(qmax)


def effective_collection_angle(E_eV, E0_keV, alpha_mrad, beta_mrad):
    """Egerton's effective collection semi-angle beta* (mrad) for a probe of convergence
    semi-angle alpha (mrad) and a spectrometer aperture of semi-angle beta (mrad), at energy
    loss E (eV) and beam energy E0 (keV).

    Egerton (2011) eq. 4.73 and program CONCOR2 (as exspy's ``effective_angle``): with
    thetaE = E/(E0 (1 + E0/1022)/(1 + E0/511)) (mrad) and eta = (eta1 + eta2 + eta3)/(2 alpha^2
    ln(1 + beta^2/thetaE^2)) [times alpha^2/beta^2 when alpha > beta],
    beta* = thetaE sqrt(exp(eta ln(1 + beta^2/thetaE^2)) - 1). Broadcasts; alpha = 0 -> beta.
    """
    E0 = np.asarray(E0_keV, dtype=np.float64)
    E = np.asarray(E_eV, dtype=np.float64)
    alpha = np.asarray(alpha_mrad, dtype=np.float64)
    beta = np.asarray(beta_mrad, dtype=np.float64)
    tgt = E0 * (1.0 + E0 / 1022.0) / (1.0 + E0 / 511.0)
    theta_e = E / tgt
    a2 = np.where(alpha > 0, alpha, 1.0) ** 2 * 1e-6  # alpha = 0 is handled at the end
    b2 = beta**2 * 1e-6
    t2 = theta_e**2 * 1e-6
    eta1 = np.sqrt((a2 + b2 + t2) ** 2 - 4.0 * a2 * b2) - a2 - b2 - t2
    eta2 = 2.0 * b2 * np.log(0.5 / t2 * (np.sqrt((a2 + t2 - b2) ** 2 + 4.0 * b2 * t2)
                                         + a2 + t2 - b2))
    eta3 = 2.0 * a2 * np.log(0.5 / t2 * (np.sqrt((b2 + t2 - a2) ** 2 + 4.0 * a2 * t2)
                                         + b2 + t2 - a2))
    f1 = (eta1 + eta2 + eta3) / 2.0 / a2 / np.log1p(b2 / t2)
    f2 = np.where(alpha / beta > 1.0, f1 * a2 / b2, f1)
    bstar = theta_e * np.sqrt(np.expm1(f2 * np.log1p(b2 / t2)))
    return np.where(alpha <= 0, beta * np.ones_like(bstar), bstar)


def dipole_df_factor(E_eV, E0_keV, alpha_mrad, beta_mrad):
    """E ln(1 + beta*^2 / theta_E^2)^-1 (eV): in the dipole (Bethe) approximation dsigma/dE ~ (1/E) df/dE
    ln(1 + beta*^2 / theta_E^2) (Egerton 2011, eq. 3.146), so df/dE is proportional to this factor times
    dsigma/dE (up to a constant); theta_E = E / (2 gamma T), beta* Egerton's effective angle at E
    (:func:`effective_collection_angle`). Turns a cross section into the shape that photoabsorption
    measures (sigma_a ~ df/dE). Broadcasts."""
    E = np.asarray(E_eV, dtype=np.float64)
    gamma, T, _ = kinematics(E0_keV)
    theta_E_mrad = E / (2 * gamma * T) * 1e3
    return E / np.log1p(effective_collection_angle(E, E0_keV, alpha_mrad, beta_mrad) ** 2 / theta_E_mrad ** 2)


def validate_microscope(E0_keV, alpha_mrad, beta_mrad):
    """(E0, alpha, beta) as 1-D float64 arrays broadcast against each other; ValueError naming
    the parameter and its unit when one lies outside ``E0_RANGE_KEV`` (keV),
    ``ALPHA_RANGE_MRAD`` or ``BETA_RANGE_MRAD`` (mrad) or is not a scalar or 1-D batch."""
    E0 = np.atleast_1d(np.asarray(E0_keV, dtype=np.float64))
    alpha = np.atleast_1d(np.asarray(alpha_mrad, dtype=np.float64))
    beta = np.atleast_1d(np.asarray(beta_mrad, dtype=np.float64))
    E0, alpha, beta = np.broadcast_arrays(E0, alpha, beta)
    for name, v, unit, (lo, hi) in (("E0_keV", E0, "keV", E0_RANGE_KEV),
                                    ("alpha_mrad", alpha, "mrad", ALPHA_RANGE_MRAD),
                                    ("beta_mrad", beta, "mrad", BETA_RANGE_MRAD)):
        if v.ndim != 1:
            raise ValueError(f"{name} must be a scalar or a 1-D batch, got shape {v.shape}")
        bad = ~np.isfinite(v) | (v < lo) | (v > hi)
        if bad.any():
            raise ValueError(f"{name} = {v[bad][0]} {unit} is outside the allowed range "
                             f"[{lo}, {hi}] {unit}")
    return E0, alpha, beta


# ----------------------------------------------------------------------------- edges
@dataclass(frozen=True)
class EdgeSpec:
    """What to compute: a name, an element and its subshells with onsets (eV)."""

    name: str
    element: str
    subshells: tuple[str, ...]
    onsets_eV: tuple[float, ...]

    def __post_init__(self):
        if len(self.subshells) != len(self.onsets_eV) or not self.subshells:
            raise ValueError(f"EdgeSpec {self.name}: subshells and onsets_eV must have the same "
                             "non-zero length")
        for s, e in zip(self.subshells, self.onsets_eV):
            canonical_subshell(s)
            if not (0 < e < 1e5):
                raise ValueError(f"EdgeSpec {self.name}: onset of {s} = {e} eV must be in "
                                 "(0, 1e5) eV")

    @property
    def onset_eV(self) -> float:
        return float(min(self.onsets_eV))


def _families():
    from eels_helpers.physics.elements import EDGE_FAMILIES

    return EDGE_FAMILIES


def resolve_edge(item) -> EdgeSpec:
    """An EdgeSpec from: an EdgeSpec; an EdgeFamily (``eels_helpers.physics.elements``); a family name
    "Fe L"; a subshell "Fe L3" or ("Fe", "L3"); or ("Fe", "L3", onset_eV)."""
    if isinstance(item, EdgeSpec):
        return item
    if hasattr(item, "subshells") and hasattr(item, "onsets_eV"):
        return EdgeSpec(str(item.name), str(item.element), tuple(item.subshells),
                        tuple(float(x) for x in item.onsets_eV))
    if isinstance(item, tuple):
        if len(item) == 3:
            el, sub, onset = item
            sub = canonical_subshell(sub)
            return EdgeSpec(f"{el} {sub}", el, (sub,), (float(onset),))
        if len(item) == 2:
            item = f"{item[0]} {item[1]}"
        else:
            raise ValueError(f"cannot interpret edge {item!r}")
    if isinstance(item, str):
        parts = item.split()
        if len(parts) != 2:
            raise ValueError(f"edge {item!r}: expected 'Fe L' (family) or 'Fe L3' (subshell)")
        el, what = parts
        fams = [f for f in _families() if f.element == el]
        for f in fams:
            if f.name == item or (f.shell == what):
                return resolve_edge(f)
        sub = canonical_subshell(what)
        for f in fams:
            if sub in f.subshells:
                onset = f.onsets_eV[list(f.subshells).index(sub)]
                return EdgeSpec(f"{el} {sub}", el, (sub,), (float(onset),))
        raise ValueError(f"no edge family or subshell {item!r} among the 107 edge families")
    raise TypeError(f"cannot interpret edge {item!r}")


# ----------------------------------------------------------------------------- calculator
def _uniform_lnq(table):
    """(L0, h, g) with the continuum GOS on a uniform grid in L = ln Q (Q = (q a0)^2)."""
    cont = table.continuum()
    L = 2 * np.log(cont.q_inv_m * A0_M)
    g = cont.dfde_per_eV.T  # (n_E, n_q)
    h = np.diff(L)
    if np.allclose(h, h.mean(), rtol=1e-3):
        return L[0], float(h.mean()), g
    n = 2 * L.size
    Lu = np.linspace(L[0], L[-1], n)
    gu = np.stack([np.interp(Lu, L, row) for row in g])
    return Lu[0], float(Lu[1] - Lu[0]), gu


class CrossSectionCalculator:
    """dsigma/dE (barn/eV per atom) of several edges on an energy axis, for batches of
    (E0, alpha, beta). Compile once (tables, interpolation weights), call many times.

    Parameters
    ----------
    edges : list of edge families / subshells (see :func:`resolve_edge`)
    energy_eV : (n_E,) energy-loss axis in eV shared by all edges, or (n_edges, n_E) one axis
        per edge
    gos : "builtin", "hydrogenic", a GOSH path or a GosSource
    skip_missing : subshells the source lacks are skipped (listed in ``missing``) instead of
        raising
    """

    def __init__(self, edges, energy_eV, gos="builtin", *, bound_sigma_eV=BOUND_SIGMA_EV,
                 skip_missing=True):
        self.source = get_source(gos)
        self.edges = [resolve_edge(e) for e in edges]
        E = np.asarray(energy_eV, dtype=np.float64)
        if E.ndim == 1:
            E = np.broadcast_to(E, (len(self.edges), E.size))
        if E.ndim != 2 or E.shape[0] != len(self.edges):
            raise ValueError(f"energy_eV must be (n_E,) or (n_edges, n_E), got {E.shape}")
        if not (bound_sigma_eV > 0):
            raise ValueError(f"bound_sigma_eV = {bound_sigma_eV} eV must be > 0")
        self.energy_eV = E
        self.n_edges, self.n_E = E.shape
        self.missing: list[tuple[str, str, str]] = []

        node_E, node_item, node_ratio = [], [], []
        tabs_L0, tabs_h, tabs_M, tab_rows = [], [], [], []
        node_tab, node_row = [], []
        pair_idx, pair_n0, pair_w = [], [], []      # interior (log-log between nodes n0, n0+1)
        tail_idx, tail_n, tail_ref, tail_lr = [], [], [], []  # power law beyond the last node
        bnd_idx, bnd_n, bnd_g = [], [], []           # bound lines
        n_nodes = 0
        tab_ids: dict[int, int] = {}
        for i, spec in enumerate(self.edges):
            avail = set(self.source.available(spec.element))
            Ei = E[i]
            for sub, onset in zip(spec.subshells, spec.onsets_eV):
                if sub not in avail:
                    if not skip_missing:
                        raise ValueError(f"GOS source {self.source.name!r} has no {spec.element} "
                                         f"{sub}")
                    self.missing.append((spec.name, sub, f"not in GOS source {self.source.name}"))
                    continue
                table, ratio = self.source.table(spec.element, sub)
                key = id(table)
                if key not in tab_ids:
                    L0, h, g = _uniform_lnq(table)
                    tab_ids[key] = len(tabs_L0)
                    tabs_L0.append(L0), tabs_h.append(h), tabs_M.append(g.shape[1])
                    tab_rows.append(g)
                t = tab_ids[key]
                fe_all = table.free_energies_eV
                cont_fe = fe_all[fe_all >= 0]
                fe_b, _ = table.bound()
                # nodes: continuum energies then bound energies (absolute)
                En = onset + cont_fe
                nc = En.size
                node_E.append(En), node_item.append(np.full(nc, i))
                node_ratio.append(np.full(nc, ratio))
                node_tab.append(np.full(nc, t)), node_row.append(np.arange(nc))
                base = n_nodes
                n_nodes += nc
                # interior pairs: onset <= E <= E_last
                sel = (Ei >= onset) & (Ei <= En[-1])
                ch = np.nonzero(sel)[0]
                Ec = np.maximum(Ei[ch], En[0])
                k = np.clip(np.searchsorted(En, Ec, side="right") - 1, 0, nc - 2)
                w = np.clip(np.log(Ec / En[k]) / np.log(En[k + 1] / En[k]), 0.0, 1.0)
                pair_idx.append(i * self.n_E + ch), pair_n0.append(base + k), pair_w.append(w)
                # tail
                ch = np.nonzero(Ei > En[-1])[0]
                if ch.size:
                    ref = int(np.argmin(np.abs(En[:-1] - En[-1] / 1.5)))
                    tail_idx.append(i * self.n_E + ch)
                    tail_n.append(np.full(ch.size, base + nc - 1))
                    tail_ref.append(np.full(ch.size, base + ref))
                    tail_lr.append(np.log(Ei[ch] / En[-1]) / np.log(En[-1] / En[ref]))
                # bound lines
                if fe_b.size:
                    nb = fe_b.size
                    Eb = onset + fe_b
                    node_E.append(Eb), node_item.append(np.full(nb, i))
                    node_ratio.append(np.full(nb, ratio))
                    node_tab.append(np.full(nb, t))
                    # bound rows follow the continuum rows in the table's row numbering
                    tab_rows[t] = _append_bound_rows(tab_rows[t], table, nc)
                    node_row.append(nc + np.arange(nb))
                    for j in range(nb):
                        d = Ei - Eb[j]
                        chb = np.nonzero(np.abs(d) <= 6 * bound_sigma_eV)[0]
                        gv = np.exp(-0.5 * (d[chb] / bound_sigma_eV) ** 2) / (
                            np.sqrt(2 * np.pi) * bound_sigma_eV)
                        bnd_idx.append(i * self.n_E + chb)
                        bnd_n.append(np.full(chb.size, n_nodes + j))
                        bnd_g.append(gv)
                    n_nodes += nb

        def cat(xs, dt=np.float64):
            return np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)

        self.node_E = cat(node_E)
        self.node_item = cat(node_item, np.int64)
        self.node_ratio = cat(node_ratio)
        ntab = cat(node_tab, np.int64)
        nrow = cat(node_row, np.int64)
        # one flat store of all tables: rows of g and of its cumulative integral C over L
        self._M = np.array(tabs_M, dtype=np.int64)
        Mmax = int(self._M.max()) if len(tabs_M) else 2
        offsets = np.cumsum([0] + [r.shape[0] for r in tab_rows])
        g_all = np.zeros((max(offsets[-1], 1), Mmax))
        for t, r in enumerate(tab_rows):
            g_all[offsets[t]:offsets[t + 1], : r.shape[1]] = r
        hs = np.array(tabs_h) if tabs_h else np.ones(1)
        row_tab = np.repeat(np.arange(len(tab_rows)), np.diff(offsets)) if tab_rows else np.zeros(1, int)
        C = np.zeros_like(g_all)
        C[:, 1:] = np.cumsum(0.5 * (g_all[:, 1:] + g_all[:, :-1]), axis=1) * hs[row_tab][:, None]
        for t, M in enumerate(tabs_M):  # beyond a table's own last column: constant C, zero g
            C[offsets[t]:offsets[t + 1], M:] = C[offsets[t]:offsets[t + 1], M - 1:M]
        self._g = g_all.ravel()
        self._C = C.ravel()
        self._Mmax = Mmax
        self._node_flat_row = (offsets[:-1][ntab] + nrow) * Mmax if n_nodes else ntab
        self._node_L0 = np.array(tabs_L0)[ntab] if n_nodes else np.zeros(0)
        self._node_h = hs[ntab] if n_nodes else np.zeros(0)
        self._node_M = self._M[ntab] if n_nodes else np.zeros(0, int)
        self._pair = (cat(pair_idx, np.int64), cat(pair_n0, np.int64),
                      cat(pair_w, np.float32))
        self._tail = (cat(tail_idx, np.int64), cat(tail_n, np.int64), cat(tail_ref, np.int64),
                      cat(tail_lr))
        self._bound = (cat(bnd_idx, np.int64), cat(bnd_n, np.int64), cat(bnd_g))
        self.onsets_eV = np.array([s.onset_eV for s in self.edges])
        self.names = [s.name for s in self.edges]

    # the integral over ln Q of a node's GOS row from the table's first column up to L
    def _cumulative(self, L):
        x = (L - self._node_L0) / self._node_h
        j = np.clip(np.floor(x).astype(np.int64), 0, self._node_M - 2)
        t = x - j
        base = self._node_flat_row + j
        g0 = self._g[base]
        g1 = self._g[base + 1]
        val = self._C[base] + self._node_h * (g0 * t + 0.5 * (g1 - g0) * t * t)
        below = x < 0
        val = np.where(below, self._g[self._node_flat_row] * self._node_h * x, val)
        last = self._node_flat_row + self._node_M - 1
        return np.where(x >= self._node_M - 1, self._C[last], val)

    def node_values(self, E0_keV, theta_mrad):
        """dsigma/dE (barn/eV) at the tabulated energies: (batch, n_nodes).
        ``theta_mrad``: (batch, n_edges) effective collection angles."""
        E0 = np.asarray(E0_keV, dtype=np.float64).reshape(-1, 1)
        th = np.asarray(theta_mrad, dtype=np.float64)[:, self.node_item] * 1e-3
        lo, hi = ln_q_limits(self.node_E[None, :], E0, th)
        integral = self._cumulative(hi) - self._cumulative(lo)
        _, T, _ = kinematics(E0)
        return FOUR_PI_A0SQ_BARN * R_EV**2 / (self.node_E[None, :] * T) * self.node_ratio \
            * np.maximum(integral, 0.0)

    def from_theta(self, E0_keV, theta_mrad, dtype=np.float64) -> np.ndarray:
        """dsigma/dE (barn/eV) for explicit collection angles theta (mrad), (batch, n_edges)
        -> (batch, n_edges, n_E)."""
        E0 = np.atleast_1d(np.asarray(E0_keV, dtype=np.float64))
        theta = np.asarray(theta_mrad, dtype=np.float64)
        if theta.ndim == 1:
            theta = theta[:, None] * np.ones((1, self.n_edges))
        B = theta.shape[0]
        E0 = np.broadcast_to(E0, (B,))
        X = self.node_values(E0, theta)
        size = self.n_edges * self.n_E
        out = np.zeros((B, size))
        idx, n0, w = self._pair
        tiny = 1e-30
        for b in range(B):  # row by row keeps the (n_pairs,) temporaries in cache
            x = X[b]
            if idx.size:
                lx = np.log(np.maximum(x, tiny)).astype(np.float32)
                a = lx[n0]
                v = np.exp(a + w * (lx[n0 + 1] - a))  # log-log interpolation in E
                zero = x <= tiny
                if zero.any():  # next to a zero node: interpolate linearly instead
                    bad = np.nonzero(zero[n0] | zero[n0 + 1])[0]
                    x0, x1 = x[n0[bad]], x[n0[bad] + 1]
                    v[bad] = x0 + (x1 - x0) * w[bad]
                out[b] += np.bincount(idx, weights=v, minlength=size)
            tidx, nl, nr, lr = self._tail
            if tidx.size:
                xl, xr = x[nl], x[nr]
                with np.errstate(divide="ignore", invalid="ignore"):
                    r = np.where((xl > 0) & (xr > 0), np.log(xr / np.where(xl > 0, xl, 1.0)), 0.0)
                # r = ln(x_ref/x_last); value = x_last (E/E_last)^(-s), s = r/ln(E_last/E_ref)
                out[b] += np.bincount(tidx, weights=xl * np.exp(-r * lr), minlength=size)
            bidx, nb, gv = self._bound
            if bidx.size:  # line strength = tabulated value x 1 eV
                out[b] += np.bincount(bidx, weights=x[nb] * gv, minlength=size)
        return out.reshape(B, self.n_edges, self.n_E).astype(dtype, copy=False)

    def effective_angles(self, E0_keV, alpha_mrad, beta_mrad) -> np.ndarray:
        """beta* (mrad) at each edge's onset: (batch, n_edges)."""
        E0, alpha, beta = validate_microscope(E0_keV, alpha_mrad, beta_mrad)
        return effective_collection_angle(self.onsets_eV[None, :], E0[:, None], alpha[:, None],
                                          beta[:, None])

    def __call__(self, E0_keV, alpha_mrad, beta_mrad, dtype=np.float64) -> np.ndarray:
        """dsigma/dE in barn/eV per atom: (batch, n_edges, n_E). Scalars or 1-D batches of
        E0 (keV), alpha (mrad), beta (mrad) broadcast against each other."""
        E0, alpha, beta = validate_microscope(E0_keV, alpha_mrad, beta_mrad)
        theta = self.effective_angles(E0, alpha, beta)
        return self.from_theta(E0, theta, dtype=dtype)


def _append_bound_rows(rows, table, nc):
    """Rows of a table's uniform-ln Q GOS with its bound rows appended after the continuum."""
    if rows.shape[0] > nc:  # already appended for this table
        return rows
    from eels_helpers.physics.gos_tables import GosTable

    fe_b, data_b = table.bound()
    fake = GosTable(table.element, table.table, table.q_inv_m,
                    np.arange(fe_b.size, dtype=float), data_b)
    _, _, gb = _uniform_lnq(fake)
    return np.concatenate([rows, gb], axis=0)


def dsigma_dE(edges, energy_eV, E0_keV, alpha_mrad, beta_mrad, gos="builtin",
              dtype=np.float64) -> np.ndarray:
    """Differential cross section dsigma/dE of core-loss edges, integrated over the collected
    momentum transfers.

    Equation (Egerton, *EELS in the Electron Microscope*, 3rd ed. 2011, sections 3.6 and 4.5,
    written in ln Q; the same formula as exspy's ``TabulatedGOS.integrateq``)::

        dsigma/dE(E) = 4 pi a0^2 (R^2 / (E T)) * ratio
                       * integral_{ln Qmin}^{ln Qmax(beta*)} df/dE(Q, E) dln Q

    with Q = (q a0)^2, R = 13.6057 eV (Rydberg energy), T = m0 v^2 / 2 (eV) the beam's
    relativistic kinetic-energy equivalent, ``ratio`` the subshell occupancy ratio, df/dE the
    generalised oscillator strength of the GOS source, and beta* Egerton's effective collection
    angle (2011, eq. 4.73) at the edge's onset. The limits Qmin, Qmax and the numerics are in the
    module docstring.

    Parameters
    ----------
    edges : edge family, subshell or sequence of them
        Anything :func:`resolve_edge` accepts (``"Fe L"``, ``"Fe L3"``, ``("Fe", "L3")``,
        ``("Fe", "L3", 708.0)``, an :class:`EdgeSpec` or an ``EdgeFamily``); a single one is
        treated as a list of one. ``n_edges`` = their number.
    energy_eV : array_like, shape (n_E,)
        Energy-loss axis, eV (> 0).
    E0_keV : float or array_like, shape (batch,)
        Beam energy, keV, in ``E0_RANGE_KEV`` = [10, 1000].
    alpha_mrad : float or array_like, shape (batch,)
        Convergence semi-angle, mrad, in ``ALPHA_RANGE_MRAD`` = [0, 200] (0: parallel beam).
    beta_mrad : float or array_like, shape (batch,)
        Collection semi-angle, mrad, in ``BETA_RANGE_MRAD`` = [0.01, 500].
        E0, alpha and beta broadcast against each other to one batch.
    gos : str, path or GosSource, default "builtin"
        GOS source (:func:`eels_helpers.physics.gos_tables.get_source`): ``"builtin"``,
        ``"hydrogenic"``, a GOSH file path or a source object.
    dtype : numpy dtype, default float64
        Dtype of the result.

    Returns
    -------
    numpy.ndarray, shape (batch, n_edges, n_E)
        dsigma/dE in barn/eV per atom; 0 below each edge's onset (bound lines of Dirac tables
        excepted).

    Raises
    ------
    ValueError
        A microscope parameter outside its range, or an edge that cannot be resolved.

    Notes
    -----
    Builds a :class:`CrossSectionCalculator` each call; for repeated calls on the same edges and
    energy axis build one and call it.
    """
    single = (isinstance(edges, (str, EdgeSpec)) or hasattr(edges, "subshells")
              or (isinstance(edges, tuple) and len(edges) in (2, 3)
                  and all(isinstance(x, str) for x in edges[:2])))
    if single:
        edges = [edges]
    return CrossSectionCalculator(edges, energy_eV, gos)(E0_keV, alpha_mrad, beta_mrad,
                                                         dtype=dtype)
