"""Model-based quantification of core-loss spectra (the paper's "Ref." maps of Fig. 7).

Model (Verbeeck & Van Aert, Ultramicroscopy 101, 207 (2004); linear background after Cueva et al.,
Microsc. Microanal. 18, 667 (2012)), for every spectrum y (counts per channel of width d eV)::

    y(E) ~ sum_e  x_e  d [ (L * sigma_e)(E) ]  +  sum_k  b_k (E / E_lo)^(-r_k)

* sigma_e(E): dsigma/dE (barn/eV per atom) of element e = the sum of its edge families whose
  first onset lies inside the fit range (:mod:`eels_helpers.physics.cross_section`, for one beam energy
  E0 (keV), convergence alpha and collection beta (mrad)); families with their onset below the
  range only add a smooth tail there, which the background absorbs;
* L: the low-loss spectrum normalised to unit sum (multiple scattering, Egerton 2011 sec. 4.3),
  when given; otherwise sigma_e is used as is (single scattering);
* background: a linear combination of power laws with FIXED exponents r_k (default 1..6) and
  non-negative amplitudes b_k (Cueva et al.'s "linear combination of power laws"). Any such
  mixture is positive, decreasing and convex like a real background, and the whole model stays
  linear, so one factorisation serves every pixel of a spectrum image;
* x_e >= 0: the amount of element e in counts per barn (incident electrons x atoms per barn of
  projected area); the relative atomic fractions are x_e / sum_e x_e.

Fit: weighted non-negative linear least squares. The weights are 1/sqrt(variance) with the
Poisson variance approximated by the mean spectrum of the batch (``weighting="mean"``, the
default; it keeps one design matrix for all pixels) or 1 (``"none"``). The weighted design matrix
is factorised once, A = Q R (columns scaled to unit norm); each pixel then solves the K-by-K
problem min ||R x - Q^T y||, x >= 0, which has the same solution as the full problem: pixels
whose unconstrained solution is already non-negative are done in one vectorised solve, the
others go through ``scipy.optimize.nnls`` on the K x K system (~25 us each).

White lines (``QuantificationConfig.white_lines``, :mod:`eels_helpers.physics.white_lines`):

* "off" (default): sigma_e is the atomic continuum alone (no bound-bound transitions);
* "free": sigma_e stays the continuum, and each computed white line l of the element (L3, L2 of
  the 3d/4d metals; M5, M4, N5, N4 of the lanthanides) is an extra column
  u_l d (L * lambda_l)(E) with its own amplitude u_l >= 0 (lambda_l: the line's Lorentzian of
  the computed position and width). The concentration comes from the continuum alone: the
  line strengths (and the L3/L2 ratio) are not trusted -- the computed ones are statistical,
  the measured ratios range 0.8 (Ti) to ~4 (Fe) -- so the lines only keep their counts (and
  their plasmon replicas) away from the continuum's amplitude, which the fit then takes from
  the 50-100+ eV above the lines. This is the model-based form of Egerton's rule (2011, sec.
  4.5-4.6): integrate a white-line edge from its onset only with a cross section that holds
  the lines, else from a window that starts above them;
* "edge": sigma_e = continuum + computed lines, one amplitude: the full edge with the
  computed line strengths, right only as far as those are.

Near-edge fine structure (``QuantificationConfig.fine_structure_eV`` = W > 0): real ELNES moves
an edge's oscillator strength within the first tens of eV above its onset without changing the
total (Egerton 2011, sec. 4.5), so each modelled family f gets free nuisance columns
sigma_f (B_k - a_k T) on [onset, onset + W]: Gaussians B_k every ``FS_SPACING_EV`` eV (FWHM 1.5x
that), T = sum_k B_k, a_k = int sigma_f B_k / int sigma_f T, i.e. each column has zero area and
can reshape the edge but not change its amount. Their amplitudes are free in sign: the weighted
fit projects them out (the non-negative problem is solved on the orthogonal complement of their
span, exactly the same minimum) and reports them in ``QuantResult.nuisance_amounts``.

Limits (stated honestly): without white lines (and without ``fine_structure_eV``) the near-edge
region biases the amounts; overlapping edges (Ba M4,5 / La M4,5) are separated only by their
onsets and shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["QuantificationConfig", "DesignMatrix", "QuantResult", "design_matrix",
           "quantify", "nnls_batch", "families_in_range", "resample_lowloss", "plasmon_replicas",
           "nnls_gram"]

#: default exponents r of the linearised power-law background
DEFAULT_EXPONENTS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
#: white lines in the model: none, free nuisance columns, or part of the element's edge
WHITE_LINE_MODES = ("off", "free", "edge")
#: spacing (eV) of the Gaussians of the free fine-structure columns (``fine_structure_eV``)
FS_SPACING_EV = 4.0


@dataclass(frozen=True)
class QuantificationConfig:
    """Microscope and fit settings of a model-based quantification.

    E0_keV: beam energy (keV), 10..1000. alpha_mrad: convergence semi-angle (mrad), 0..200.
    beta_mrad: collection semi-angle (mrad), 0.01..500.
    fit_range_eV: (lo, hi) energy-loss range of the fit (eV); None = the whole spectrum.
    background_exponents: exponents r_k of the background power laws, each in (0, 10].
    weighting: "mean" (Poisson weights from the batch's mean spectrum) or "none".
    margin_after_eV: a family is modelled when its first onset is >= lo and <= hi - this (eV).
    exclude_near_edge_eV: leave the channels from each modelled major onset (e.g. L3, L2) up to
        this many eV above it out of the fit (the near-edge fine structure, which atomic cross
        sections lack); 0 = fit every channel.
    gos: GOS source: "auto" (builtin when shipped, else hydrogenic), "builtin", "hydrogenic" or a
        GOSH path.
    white_lines: "off", "free" (each white line a free nuisance column, concentrations from the
        continuum) or "edge" (lines part of the element's cross section); module docstring.
    line_table: the white-line table of those lines, a name of
        :data:`eels_helpers.physics.white_lines.TABLE_PATHS` ("single-particle", the shipped
        table, by default; e.g. "autoionisation" for data simulated with it).
    fine_structure_eV: W > 0: the first W eV above each modelled family's onset get free,
        zero-area fine-structure columns (module docstring); 0 = none.
    """

    E0_keV: float
    alpha_mrad: float
    beta_mrad: float
    fit_range_eV: tuple[float, float] | None = None
    background_exponents: tuple[float, ...] = DEFAULT_EXPONENTS
    weighting: str = "mean"
    margin_after_eV: float = 10.0
    exclude_near_edge_eV: float = 0.0
    gos: str = "auto"
    white_lines: str = "off"
    line_table: str = "single-particle"
    fine_structure_eV: float = 0.0

    def __post_init__(self):
        def check(name, value, lo, hi, unit):
            if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value) \
                    or not lo <= float(value) <= hi:
                raise ValueError(f"QuantificationConfig.{name} must be a number in [{lo}, {hi}] "
                                 f"{unit}; got {value!r}")
            object.__setattr__(self, name, float(value))

        check("E0_keV", self.E0_keV, 10.0, 1000.0, "keV")
        check("alpha_mrad", self.alpha_mrad, 0.0, 200.0, "mrad")
        check("beta_mrad", self.beta_mrad, 0.01, 500.0, "mrad")
        check("margin_after_eV", self.margin_after_eV, 0.0, 1000.0, "eV")
        check("exclude_near_edge_eV", self.exclude_near_edge_eV, 0.0, 500.0, "eV")
        check("fine_structure_eV", self.fine_structure_eV, 0.0, 500.0, "eV")
        if self.fit_range_eV is not None:
            fr = tuple(float(v) for v in self.fit_range_eV)
            if len(fr) != 2 or not (0 < fr[0] < fr[1]) or not all(map(math.isfinite, fr)):
                raise ValueError("QuantificationConfig.fit_range_eV must be (lo, hi) eV with "
                                 f"0 < lo < hi; got {self.fit_range_eV!r}")
            object.__setattr__(self, "fit_range_eV", fr)
        ex = tuple(float(r) for r in self.background_exponents)
        if not ex or any(not (0 < r <= 10) for r in ex) or len(set(ex)) != len(ex):
            raise ValueError("QuantificationConfig.background_exponents must be distinct exponents "
                             f"in (0, 10] (dimensionless); got {self.background_exponents!r}")
        object.__setattr__(self, "background_exponents", ex)
        if self.white_lines not in WHITE_LINE_MODES:
            raise ValueError(f"QuantificationConfig.white_lines must be one of {WHITE_LINE_MODES}; got "
                             f"{self.white_lines!r}")
        from eels_helpers.physics.white_lines import TABLE_PATHS

        if not isinstance(self.line_table, str) or self.line_table not in TABLE_PATHS:
            raise ValueError(f"QuantificationConfig.line_table must be one of {tuple(TABLE_PATHS)}; got "
                             f"{self.line_table!r}")
        if self.weighting not in ("mean", "none"):
            raise ValueError("QuantificationConfig.weighting must be 'mean' or 'none'; got "
                             f"{self.weighting!r}")


@dataclass(eq=False)
class DesignMatrix:
    """The linear model on the fit channels.

    matrix: (C, K) float64 columns = [element signals per unit amount (counts per (counts/barn)),
    white lines (``white_lines="free"``: per line, counts per (counts/barn)), background power
    laws (1 count at E_lo)]; names: K column names; elements: the fitted elements (first
    n_elements columns); families: {element: [family names]}; energy_eV: (C,) fit channels;
    channels: their indices in the input axis; lines: names of the line columns ("Ti L3");
    nuisance: (C, M) free fine-structure columns (``fine_structure_eV``), amplitudes of any sign,
    or None.
    """

    matrix: np.ndarray
    names: list[str]
    elements: list[str]
    families: dict[str, list[str]]
    energy_eV: np.ndarray
    channels: np.ndarray
    lines: list[str] = field(default_factory=list)
    nuisance: np.ndarray | None = None

    @property
    def n_elements(self) -> int:
        return len(self.elements)

    @property
    def n_lines(self) -> int:
        return len(self.lines)


@dataclass(eq=False)
class QuantResult:
    """Per-spectrum results, first axes = the input's batch shape.

    amounts: (..., n_el) x_e in counts per barn; fractions: (..., n_el) relative atomic fractions
    (sum 1 over the fitted elements; NaN where every amount is 0); background: (..., n_exp)
    amplitudes b_k (counts at E_lo); chi2_reduced: (...,) weighted residual sum of squares per
    degree of freedom (about 1 for a good fit with Poisson noise and weighting="mean");
    line_amounts: (..., n_lines) amplitudes of the free white-line columns (counts per barn);
    nuisance_amounts: (..., M) amplitudes of the free fine-structure columns, or None.
    """

    elements: list[str]
    amounts: np.ndarray
    fractions: np.ndarray
    background: np.ndarray
    chi2_reduced: np.ndarray
    design: DesignMatrix
    config: QuantificationConfig
    skipped: dict[str, str] = field(default_factory=dict)
    line_amounts: np.ndarray | None = None
    nuisance_amounts: np.ndarray | None = None

    def fraction(self, element: str) -> np.ndarray:
        return self.fractions[..., self.elements.index(element)]

    def model(self, coefficients: np.ndarray | None = None) -> np.ndarray:
        """The fitted model (..., C) on the fit channels (counts)."""
        lines = self.amounts[..., :0] if self.line_amounts is None else self.line_amounts
        coef = np.concatenate([self.amounts, lines, self.background], axis=-1) if coefficients is None \
            else coefficients
        out = coef @ self.design.matrix.T
        if coefficients is None and self.nuisance_amounts is not None:
            out = out + self.nuisance_amounts @ self.design.nuisance.T
        return out


def families_in_range(element: str, lo_eV: float, hi_eV: float):
    """Edge families of ``element`` whose first onset lies in [lo_eV, hi_eV]."""
    from eels_helpers.physics.elements import families_of
    return [f for f in families_of(element) if lo_eV <= f.first_onset_eV <= hi_eV]


def resample_lowloss(lowloss, energy_eV, dispersion_eV: float):
    """Low-loss intensities ``lowloss`` (n,) on ``energy_eV`` (n,) eV -> (k0, kernel): the
    spectrum linearly interpolated onto energies (k0 + j) * dispersion, j = 0.., covering its
    range, normalised to unit sum (so convolution conserves the edge's counts)."""
    ll = np.asarray(lowloss, dtype=np.float64).ravel()
    E = np.asarray(energy_eV, dtype=np.float64).ravel()
    if ll.size != E.size or ll.size < 3:
        raise ValueError(f"low-loss: {ll.size} intensities for {E.size} energies (need >= 3, "
                         "equal lengths)")
    if not (np.all(np.isfinite(ll)) and np.all(np.isfinite(E))):
        raise ValueError("low-loss: NaN/inf in intensities or energies")
    if np.any(np.diff(E) <= 0):
        raise ValueError("low-loss: energy axis must be strictly increasing (eV)")
    k0 = math.ceil(E[0] / dispersion_eV - 1e-9)
    k1 = math.floor(E[-1] / dispersion_eV + 1e-9)
    grid = np.arange(k0, k1 + 1) * dispersion_eV
    kern = np.maximum(np.interp(grid, E, ll), 0.0)
    total = kern.sum()
    if not total > 0:
        raise ValueError("low-loss: no positive intensity")
    return k0, kern / total


def fft_convolve(a, b) -> np.ndarray:
    """The full linear convolution (a * b)[m] = sum_k a[m - k] b[k] of two 1-D float64 arrays, of
    length len(a) + len(b) - 1, by real FFTs of the next fast length: the algorithm of
    ``scipy.signal.fftconvolve`` (bit-identical), without importing scipy.signal (~1 s)."""
    import scipy.fft as sp_fft

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = a.size + b.size - 1
    f = sp_fft.next_fast_len(n, True)
    return sp_fft.irfft(sp_fft.rfft(a, f) * sp_fft.rfft(b, f), f)[:n]


def plasmon_replicas(signal, step_eV: float, plasmon_eV) -> np.ndarray:
    """Single-plasmon replicas of ``signal`` (n,) on a uniform grid of ``step_eV`` eV: for each
    plasmon energy E_p (eV) in ``plasmon_eV`` the convolution (signal * p)(E) with the Drude
    energy-loss function p(E) ~ E E_p^2 G / ((E^2 - E_p^2)^2 + (E G)^2), G = E_p / 2
    (Egerton 2011, sec. 3.3.1), on 0 < E <= 6 E_p, normalised to unit sum: the first-order
    plural-scattering term (t/lambda) (signal * p) of Egerton's Poisson series (sec. 4.1),
    with t/lambda left to a fitted amplitude. Returns (len(plasmon_eV), n)."""
    x = np.asarray(signal, dtype=np.float64)
    out = []
    for Ep in np.atleast_1d(np.asarray(plasmon_eV, dtype=np.float64)):   # a few plasmon energies
        E = step_eV * np.arange(1, int(6 * Ep / step_eV) + 1)
        G = Ep / 2
        p = E * Ep**2 * G / ((E**2 - Ep**2) ** 2 + (E * G) ** 2)
        out.append(np.maximum(fft_convolve(x, np.concatenate([[0.0], p / p.sum()]))[: x.size], 0.0))
    return np.array(out).reshape(-1, x.size)


def _uniform_step(energy_eV) -> float:
    E = np.asarray(energy_eV, dtype=np.float64)
    if E.ndim != 1 or E.size < 8:
        raise ValueError(f"energy_eV must be 1-D with >= 8 channels; got shape {E.shape}")
    d = np.diff(E)
    step = float(np.median(d))
    if not step > 0 or np.max(np.abs(d - step)) > 1e-3 * step + 1e-9:
        raise ValueError("energy_eV must be increasing with a uniform dispersion (eV/channel)")
    return step


def design_matrix(energy_eV, elements: Sequence[str], config: QuantificationConfig, *,
                  lowloss=None, lowloss_energy_eV=None, skipped: dict | None = None) -> DesignMatrix:
    """Columns of the linear model (see the module docstring) on the fit channels.

    Elements with no edge family inside the fit range, or whose families the GOS source cannot
    compute, are left out and reported in ``skipped`` ({element: reason}) when a dict is given.
    Raises ValueError when no element remains.
    """
    from eels_helpers.physics.elements import ELEMENTS
    from eels_helpers.physics.gos_tables import resolve_gos
    from eels_helpers.physics.white_lines import edge_cross_sections, line_profiles, table_path

    E = np.asarray(energy_eV, dtype=np.float64)
    d = _uniform_step(E)
    lo, hi = config.fit_range_eV if config.fit_range_eV is not None else (E[0], E[-1])
    channels = np.flatnonzero((E >= lo - 1e-9) & (E <= hi + 1e-9))
    if channels.size < len(config.background_exponents) + 2:
        raise ValueError(f"fit range {lo:g}-{hi:g} eV holds {channels.size} channels of the "
                         f"spectrum ({E[0]:g}-{E[-1]:g} eV); too few to fit")
    Ef = E[channels]
    lo, hi = float(Ef[0]), float(Ef[-1])
    skipped = {} if skipped is None else skipped

    fams, owner = [], []
    for el in dict.fromkeys(elements):  # unique, in order
        if el not in ELEMENTS:
            raise ValueError(f"element {el!r} is not one of the 80 symbols Be..Bi "
                             "(eels_helpers.physics.elements.ELEMENTS)")
        inside = families_in_range(el, lo, hi - config.margin_after_eV)
        if not inside:
            skipped[el] = f"no edge family with its onset in {lo:g}-{hi - config.margin_after_eV:g} eV"
            continue
        fams += inside
        owner += [el] * len(inside)
    if not fams:
        raise ValueError(f"none of the elements {list(elements)} has an edge in the fit range "
                         f"{lo:g}-{hi:g} eV")

    # cross sections on a uniform grid extended below the window by the low-loss support
    if lowloss is not None:
        if lowloss_energy_eV is None:
            raise ValueError("lowloss_energy_eV (eV) is required with a low-loss spectrum")
        k0, kern = resample_lowloss(lowloss, lowloss_energy_eV, d)
    else:
        k0, kern = 0, np.ones(1)
    k1 = k0 + kern.size - 1
    # sigma on energies Ef[0] - k1 d .. Ef[-1] - k0 d  (conv index j -> y[i] = sum_k s[i-k] L[k])
    n_lo = max(k1, 0)
    n_hi = max(-k0, 0)
    grid = Ef[0] + d * np.arange(-n_lo, Ef.size + n_hi)
    gos = resolve_gos(config.gos)
    axis = np.maximum(grid, d)
    table = config.line_table if config.white_lines == "edge" else False    # lines in the edge term, or none
    sig, sig_lines, missing = edge_cross_sections(fams, axis, config.E0_keV, config.alpha_mrad,
                                                  config.beta_mrad, gos, white_lines=table)
    sig = sig + sig_lines                               # (n_fam, n_grid) barn/eV
    missing = {name for name, *_ in missing}

    def spread(s):
        """dsigma/dE on the grid -> counts per unit amount on the fit channels (L * s) d."""
        if lowloss is None:
            return s[n_lo: n_lo + Ef.size] * d
        full = fft_convolve(s, kern)         # full[m] = sum_k s[m - k] kern[k]
        # y at grid index n_lo + i (energy Ef[i]) = sum_j s[n_lo + i - j'] L[j'] with lag
        # j' = k - k0 -> index into full: n_lo + i - k0
        return full[n_lo - k0: n_lo - k0 + Ef.size] * d

    cols, names, used = [], [], {}
    for el in dict.fromkeys(owner):
        rows = [i for i, o in enumerate(owner) if o == el]
        ok = [i for i in rows if fams[i].name not in missing or sig[i].max() > 0]
        if not ok or not np.any(sig[ok].max(axis=1) > 0):
            skipped[el] = (f"GOS source {gos!r} cannot compute "
                           f"{', '.join(fams[i].name for i in rows)}")
            continue
        cols.append(spread(sig[ok].sum(axis=0)))
        names.append(el)
        used[el] = [fams[i].name for i in ok]
    if not cols:
        raise ValueError(f"no fitted element left: {skipped}")
    line_names = []
    if config.white_lines == "free":
        kept = [f for f in fams if f.name in sum(used.values(), [])]
        lines, _, prof = line_profiles(kept, axis, config.E0_keV, config.alpha_mrad, config.beta_mrad,
                                       path=table_path(config.line_table))
        for ln, p in zip(lines, prof):
            cols.append(spread(p))
            line_names.append(f"{ln.family.split()[0]} {ln.component}")
        names += [f"{nm} line" for nm in line_names]
    n_el = len(names) - len(line_names)
    for r in config.background_exponents:
        cols.append((Ef / lo) ** (-r))
        names.append(f"bg r={r:g}")
    matrix = np.stack(cols, axis=1)
    nuisance = None
    if config.fine_structure_eV > 0:
        kept = [i for i, f in enumerate(fams) if f.name in sum(used.values(), [])]
        nuisance = np.stack([spread(c) for i in kept
                             for c in _fine_structure_columns(sig[i], grid, fams[i].first_onset_eV,
                                                              config.fine_structure_eV)], axis=1)
    if config.exclude_near_edge_eV > 0:
        keep = np.ones(Ef.size, dtype=bool)
        for el in names[:n_el]:
            for f in fams:
                if f.element == el:
                    for sub in f.major:
                        e = f.onset_of(sub)
                        keep &= ~((Ef >= e) & (Ef < e + config.exclude_near_edge_eV))
        if keep.sum() < len(cols) + 2:
            raise ValueError(f"exclude_near_edge_eV = {config.exclude_near_edge_eV:g} eV leaves "
                             f"{int(keep.sum())} channels to fit {len(cols)} components")
        matrix, Ef, channels = matrix[keep], Ef[keep], channels[keep]
        nuisance = None if nuisance is None else nuisance[keep]
    return DesignMatrix(matrix, names, names[:n_el], used, Ef, channels, line_names, nuisance)


def _fine_structure_columns(sigma, grid_eV, onset_eV: float, width_eV: float) -> np.ndarray:
    """Zero-area fine-structure shapes of one family on ``grid_eV`` (module docstring):
    sigma (B_k - a_k T), B_k Gaussians every FS_SPACING_EV from the onset to onset + width_eV,
    T = sum_k B_k, a_k = sum(sigma B_k) / sum(sigma T). Returns (n_k, n_grid) (barn/eV)."""
    centres = onset_eV + np.arange(0.0, width_eV + 1e-9, FS_SPACING_EV)
    fwhm = 1.5 * FS_SPACING_EV
    B = np.exp(-4.0 * np.log(2.0) * ((grid_eV[None, :] - centres[:, None]) / fwhm) ** 2)
    B[:, grid_eV < onset_eV] = 0.0                    # no structure below the onset
    T = B.sum(axis=0)
    a = (B @ sigma) / max(float(sigma @ T), 1e-300)
    cols = sigma[None, :] * (B - a[:, None] * T[None, :])
    return cols[np.abs(cols).max(axis=1) > 0]


def nnls_batch(A: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative least squares min ||A x - y||, x >= 0 for every row y of Y (N, C) with one
    design matrix A (C, K) -> (X (N, K), residual sum of squares (N,)).

    One QR factorisation of A (columns scaled to unit norm); each row then solves the K x K
    problem min ||R x - Q^T y|| (same solution). Rows whose unconstrained solution is >= 0 are
    solved together; the rest by scipy.optimize.nnls on the K x K system."""
    from scipy.optimize import nnls

    A = np.asarray(A, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    scale = np.linalg.norm(A, axis=0)
    if np.any(scale == 0):
        raise ValueError("design matrix has an all-zero column")
    Q, R = np.linalg.qr(A / scale)
    Z = Y @ Q                                            # (N, K)
    outside = np.maximum(np.einsum("nc,nc->n", Y, Y) - np.einsum("nk,nk->n", Z, Z), 0.0)
    try:
        X = np.linalg.solve(R, Z.T).T
    except np.linalg.LinAlgError:
        X = np.full_like(Z, -1.0)
    bad = np.flatnonzero(np.any(X < 0, axis=1) | ~np.all(np.isfinite(X), axis=1))
    for i in bad:  # K x K problems only (no loop over channels)
        X[i], _ = nnls(R, Z[i], maxiter=50 * R.shape[1])
    inside = np.einsum("nk,nk->n", X @ R.T - Z, X @ R.T - Z)
    return X / scale, outside + inside


def nnls_gram(G: np.ndarray, h: np.ndarray, yy: float) -> tuple[np.ndarray, float]:
    """min ||A x - y||^2, x >= 0, given G = A^T A, h = A^T y, yy = y^T y -> (x, chi2): the
    K x K problem on the Cholesky factor of G (a tiny ridge keeps it positive definite), the
    unconstrained solution when it is >= 0, else ``scipy.optimize.nnls`` (verification's solver)."""
    from scipy.optimize import nnls

    K = G.shape[0]
    ridge = 1e-10 * max(float(np.trace(G)) / max(K, 1), 1e-300)
    try:
        L = np.linalg.cholesky(G + ridge * np.eye(K))
    except np.linalg.LinAlgError:
        L = np.linalg.cholesky(G + 1e-6 * max(float(np.trace(G)) / K, 1e-300) * np.eye(K))
    b = np.linalg.solve(L, h)              # R = L^T: ||R x - b||^2 = x^T G x - 2 h^T x + b^T b
    x = np.linalg.solve(L.T, b)
    if np.any(x < 0) or not np.all(np.isfinite(x)):
        x, _ = nnls(L.T, b, maxiter=50 * K)
    r = L.T @ x - b
    return x, float(yy - b @ b + r @ r)


def quantify(spectra, energy_eV, elements: Sequence[str], config: QuantificationConfig, *,
             lowloss=None, lowloss_energy_eV=None) -> QuantResult:
    """Model-based quantification of core-loss spectra for the given elements.

    Fits every spectrum with ``sum_e x_e d (L * sigma_e)(E) + sum_k b_k (E / E_lo)^(-r_k)``
    by weighted non-negative least squares (Verbeeck & Van Aert, Ultramicroscopy 101, 207
    (2004); linear background after Cueva et al., Microsc. Microanal. 18, 667 (2012)); the
    module docstring states the model and its limits.

    Parameters
    ----------
    spectra : array_like
        Counts per channel, shape ``(..., C)``: one spectrum, a batch or a spectrum image.
        Must be finite.
    energy_eV : array_like
        Energy-loss axis in eV, shape ``(C,)``, uniformly spaced.
    elements : sequence of str
        Element symbols to fit (e.g. the network's detected ones), among the 80 symbols
        :data:`eels_helpers.physics.elements.ELEMENTS`. An element with no edge family in the
        fit range, or whose cross section the GOS source cannot compute, is left out and named
        in ``QuantResult.skipped``.
    config : QuantificationConfig
        Beam energy ``E0_keV`` (keV), convergence and collection semi-angles
        ``alpha_mrad``/``beta_mrad`` (mrad), fit range (eV), background exponents, weighting
        and GOS source.
    lowloss : array_like, optional
        Low-loss spectrum, shape ``(n,)`` (counts), convolved with the cross sections to model
        multiple scattering (normalised to unit sum here). Default: single scattering.
    lowloss_energy_eV : array_like, optional
        Energy axis of ``lowloss`` in eV, shape ``(n,)`` (may include negative energies);
        required with ``lowloss``.

    Returns
    -------
    QuantResult
        Arrays with the batch shape ``...`` of ``spectra`` first: ``amounts``
        ``(..., n_elements)`` in counts per barn (incident electrons x atoms per barn of
        projected area), ``fractions`` ``(..., n_elements)`` relative atomic fractions (sum 1
        over the fitted elements, NaN where every amount is 0), ``background``
        ``(..., n_exponents)`` amplitudes in counts at the start of the fit range and
        ``chi2_reduced`` ``(...)``.

    Raises
    ------
    ValueError
        If ``spectra`` does not end with the C channels of ``energy_eV`` or holds NaN/inf, no
        element is given, an element is not one of the 80 symbols, the fit range holds too
        few channels, no element has an edge in the fit range, or ``lowloss`` comes without
        ``lowloss_energy_eV``.
    """
    data = np.asarray(spectra, dtype=np.float64)
    E = np.asarray(energy_eV, dtype=np.float64)
    if data.ndim < 1 or data.shape[-1] != E.size:
        raise ValueError(f"spectra shape {data.shape} does not end with the {E.size} channels of "
                         "energy_eV")
    if not np.all(np.isfinite(data)):
        raise ValueError("spectra hold NaN/inf values")
    if not list(elements):
        raise ValueError("quantify needs at least one element")
    skipped: dict[str, str] = {}
    dm = design_matrix(E, elements, config, lowloss=lowloss, lowloss_energy_eV=lowloss_energy_eV,
                       skipped=skipped)
    batch = data.shape[:-1]
    Y = data.reshape(-1, E.size)[:, dm.channels]
    if config.weighting == "mean":
        mean = Y.mean(axis=0)
        floor = max(1e-3 * float(np.max(np.abs(mean))), 1e-12)
        w = 1.0 / np.sqrt(np.maximum(mean, floor))
    else:
        w = np.ones(Y.shape[1])
    A, Yw = dm.matrix * w[:, None], Y * w[None, :]
    z, rank = None, 0
    if dm.nuisance is not None:             # free columns: fit on the complement of their span
        U, sv, _ = np.linalg.svd(dm.nuisance * w[:, None], full_matrices=False)
        U = U[:, sv > 1e-10 * sv.max()]
        rank = U.shape[1]
        A_p, Y_p = A - U @ (U.T @ A), Yw - (Yw @ U) @ U.T
        X, rss = nnls_batch(A_p, Y_p)
        z = np.linalg.lstsq(dm.nuisance * w[:, None], (Yw - X @ A.T).T, rcond=None)[0].T
    else:
        X, rss = nnls_batch(A, Yw)
    n_el = dm.n_elements
    amounts = X[:, :n_el]
    total = amounts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        fractions = np.where(total > 0, amounts / np.where(total > 0, total, 1.0), np.nan)
    dof = max(Y.shape[1] - X.shape[1] - rank, 1)
    if config.weighting == "mean":
        # the weights used the mean spectrum; scale to each pixel's own Poisson variance
        # (its mean level relative to the batch mean) so chi2_reduced ~ 1 for a good fit
        level = Y.sum(axis=1) / max(float(Y.mean(axis=0).sum()), 1e-300)
        rss = rss / np.maximum(level, 1e-12)
    shape = lambda a: a.reshape(batch + a.shape[1:])  # noqa: E731
    n_ln = dm.n_lines
    return QuantResult(dm.elements, shape(amounts), shape(fractions), shape(X[:, n_el + n_ln:]),
                       shape(rss / dof), dm, config, skipped, shape(X[:, n_el:n_el + n_ln]),
                       None if z is None else shape(z))
