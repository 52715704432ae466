"""Generic fine structure of a core-loss edge (paper Fig. 2b).

Model (Annys et al. 2023, Methods): a sum of randomly weighted Gaussian peaks at random energies
within a width ``w`` (Table 1: 50-100 eV) above the edge onset, ``d`` peaks (the "degree",
10-25), each with a lifetime-broadened width

    Gamma = hbar / tau,   tau = lambda_i / v,   v = sqrt(2 eps / m)      (Egerton 2011, sec. 3.8)

where eps (eV) is the peak's energy above the onset and lambda_i the inelastic mean free path of
Seah & Dench (Surf. Interface Anal. 1, 2 (1979), elements):

    lambda_i = 538 a eps^-2 + 0.41 a^1.5 eps^0.5       (lambda_i and a in nm, eps in eV)

with the atomic diameter a drawn from 25-250 pm. Gamma is the peak's full width at half maximum.

Choices where the paper is silent (documented, used everywhere):

* peak energies are integers eps_i in [0, w] eV (the 1 eV grid), weights w_i ~ U(-1, 1)
  (rounded to float16 precision so the dataset stores them exactly), peak
  heights = weights: f(eps) = sum_i w_i exp(-4 ln 2 (eps - eps_i)^2 / Gamma_i^2). A peak with
  Gamma << 1 eV (eps near 0, where lambda_i diverges) is a one-channel spike at eps_i;
* the fine structure lives on eps in [0, w] and is tapered to zero by a half cosine over the
  next ``TAPER_EV`` = 25 eV (no step where a broad peak is cut);
* "The relative scale of the fine structure with respect to the calculated core-loss edge is
  made to depend on the fine structure's ratio of most positive value to most negative value.
  The largest allowed ratio of fine structure peak amplitude to edge peak amplitude is 10."
  We read it as a modulation of the atomic edge sigma(eps):

      sigma_fs(eps) = sigma(eps) (1 + c f(eps)),   c = min(1 / |min f|, s_max / max f),

  i.e. f is scaled so its most negative value is -1 (the deepest dip just reaches zero
  intensity); its most positive value is then R = max f / |min f| (the "ratio of most positive
  to most negative value") times the edge, so the fine-structure peak is R times the edge there;
  R is capped at s_max = 10 (Table 1 "Maximum fine structure scale": strong white lines) by
  shrinking c. Hence sigma_fs >= 0 always and fine-structure peak / edge <= s_max.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["HBAR_EV_S", "seah_dench_imfp_nm", "electron_velocity_m_s", "lifetime_width_eV",
           "sample_fine_structure", "fine_structure_profile", "envelope", "modulation",
           "conserve_strength", "TAPER_EV",
           "N_POINTS"]

HBAR_EV_S = 6.582119569e-16   # reduced Planck constant, eV s (CODATA 2018, exact)
M_E_KG = 9.1093837015e-31     # electron mass, kg (CODATA 2018)
E_C = 1.602176634e-19         # elementary charge, C (exact)
#: length of the cosine taper after the fine-structure width (eV)
TAPER_EV = 25
#: number of 1 eV channels above the onset on which fine structure is evaluated
N_POINTS = 128


def seah_dench_imfp_nm(eps_eV, a_nm):
    """Inelastic mean free path (nm) of Seah & Dench (1979) for elements:
    lambda_i = 538 a eps^-2 + 0.41 a^1.5 eps^0.5 (a in nm, eps in eV above the onset).
    inf at eps = 0."""
    eps = np.asarray(eps_eV, dtype=np.float64)
    a = np.asarray(a_nm, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 538.0 * a / eps**2 + 0.41 * a**1.5 * np.sqrt(eps)


def electron_velocity_m_s(eps_eV):
    """Non-relativistic velocity v = sqrt(2 eps / m) (m/s) of an electron of kinetic energy eps
    (eV)."""
    return np.sqrt(2.0 * np.asarray(eps_eV, dtype=np.float64) * E_C / M_E_KG)


def lifetime_width_eV(eps_eV, a_nm):
    """Lifetime broadening Gamma = hbar / tau = hbar v / lambda_i (eV) of an excited electron
    eps (eV) above the onset, with lambda_i from :func:`seah_dench_imfp_nm` (a in nm).
    0 at eps = 0."""
    lam_m = seah_dench_imfp_nm(eps_eV, a_nm) * 1e-9
    return HBAR_EV_S * electron_velocity_m_s(eps_eV) / lam_m


def sample_fine_structure(rng: np.random.Generator, n: int, *, width_eV=(50, 100),
                          degree=(10, 25), max_degree: int | None = None):
    """Draw the random parameters of ``n`` fine structures.

    Returns a dict: ``width_eV`` (n,) int, ``degree`` (n,) int, ``peak_eV`` (n, P) int (energy
    above the onset, 0..width), ``weight`` (n, P) float32 in [-1, 1], rounded to float16
    precision (0 for columns >= degree),
    with P = ``max_degree`` (default ``degree[1]``).
    """
    P = int(degree[1] if max_degree is None else max_degree)
    width = rng.integers(width_eV[0], width_eV[1] + 1, size=n)
    deg = rng.integers(degree[0], degree[1] + 1, size=n)
    peak = np.floor(rng.random((n, P)) * (width[:, None] + 1)).astype(np.int64)
    # float16 precision (~1e-3): stored compactly with the dataset, exactly as used
    weight = (2.0 * rng.random((n, P)) - 1.0).astype(np.float16).astype(np.float32)
    weight[np.arange(P)[None, :] >= deg[:, None]] = 0.0
    return {"width_eV": width, "degree": deg, "peak_eV": peak, "weight": weight}


#: Gaussian profile table: FWHM levels on a geometric grid (ratio ``_G_RATIO``) from
#: ``_G_MIN`` to ``_G_MAX`` eV; a width is rounded to the nearest level (relative error <= 0.1 %)
_G_MIN, _G_MAX, _G_RATIO = 1e-3, 500.0, 1.002


@lru_cache(maxsize=4)
def _gaussian_table(n_points: int):
    """(levels (L,), table (L, 2 n_points - 1) float32): exp(-4 ln2 d^2 / Gamma^2) for
    d = -(n_points-1) .. n_points-1 eV at every FWHM level Gamma."""
    n = int(np.ceil(np.log(_G_MAX / _G_MIN) / np.log(_G_RATIO))) + 1
    levels = _G_MIN * _G_RATIO ** np.arange(n)
    d = np.arange(-(n_points - 1), n_points, dtype=np.float64)
    table = np.exp(-4.0 * np.log(2.0) * d[None, :] ** 2 / levels[:, None] ** 2)
    return levels, table.astype(np.float32)


def fine_structure_profile(peak_eV, weight, fwhm_eV, width_eV, n_points: int = N_POINTS,
                           taper_eV: int = TAPER_EV, *, exact: bool = False) -> np.ndarray:
    """f(eps) = T(eps) sum_i w_i exp(-4 ln2 (eps - eps_i)^2 / Gamma_i^2) on eps = 0..n_points-1
    eV above the onset; T = 1 up to ``width_eV`` then a half-cosine to 0 over ``taper_eV``.
    ``peak_eV`` (integers), ``weight``, ``fwhm_eV`` (M, P); ``width_eV`` (M,) -> (M, n_points)
    float32.

    Fast path (default): each Gaussian is copied from a precomputed table of unit Gaussians whose
    FWHM levels are 0.2 % apart (the width is rounded to the nearest level: <= 0.1 % relative
    error; FWHM < 1 meV is a one-channel spike, > 500 eV is flat over the 128 eV anyway).
    ``exact=True`` evaluates the exponentials directly."""
    peak = np.asarray(peak_eV)
    w8 = np.asarray(weight, dtype=np.float32)
    g = np.asarray(fwhm_eV, dtype=np.float64)
    if exact:
        eps = np.arange(n_points, dtype=np.float32)[None, None, :]
        gg = np.maximum(g, 1e-3).astype(np.float32)[..., None]
        d = eps - peak.astype(np.float32)[..., None]
        d *= d
        d *= np.float32(-4.0 * np.log(2.0)) / (gg * gg)
        np.exp(d, out=d)
        f = np.matmul(w8[:, None, :], d)[:, 0]
    else:
        from numpy.lib.stride_tricks import as_strided
        levels, table = _gaussian_table(n_points)
        lev = np.rint(np.log(np.clip(g, _G_MIN, _G_MAX) / _G_MIN)
                      / np.log(_G_RATIO)).astype(np.int64)
        first = (n_points - 1) - peak.astype(np.int64)
        if np.any((first < 0) | (first > 2 * n_points - 2)):
            raise ValueError(f"fine-structure peaks must lie in 0..{n_points - 1} eV")
        windows = as_strided(table, shape=(table.shape[0], n_points, n_points),
                             strides=(table.strides[0], table.strides[1], table.strides[1]),
                             writeable=False)
        G = windows[lev, first]                      # (M, P, n_points) unit Gaussians
        f = np.matmul(w8[:, None, :], G)[:, 0]
    f *= envelope(width_eV, n_points, taper_eV)
    return f


def envelope(width_eV, n_points: int = N_POINTS, taper_eV: int = TAPER_EV) -> np.ndarray:
    """T(eps) on eps = 0..n_points-1 eV: 1 up to ``width_eV`` (M,), then a half-cosine to 0 over
    ``taper_eV`` -> (M, n_points) float32 (the region a fine structure lives on)."""
    w = np.asarray(width_eV, dtype=np.float32)[:, None]
    x = np.clip((np.arange(n_points, dtype=np.float32)[None, :] - w) / np.float32(taper_eV), 0, 1)
    return np.float32(0.5) * (np.float32(1) + np.cos(np.float32(np.pi) * x))


def modulation(profile, max_scale: float = 10.0):
    """The multiplicative factor 1 + c f of the edge (see module docstring) for profiles f
    (M, n) -> (factor (M, n) float32, ratio R = max f / |min f| (M,), scale c (M,)).
    c = min(1/|min f|, max_scale / max f); R is inf when f has no negative part (or one so
    small that R exceeds the float32 range)."""
    f = np.asarray(profile, dtype=np.float32)
    neg = np.maximum(-f.min(axis=1), 0).astype(np.float64)
    pos = np.maximum(f.max(axis=1), 0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(neg > 0, pos / np.where(neg > 0, neg, 1.0), np.inf)
        c = np.minimum(np.where(neg > 0, 1.0 / np.where(neg > 0, neg, 1.0), np.inf),
                       np.where(pos > 0, max_scale / np.where(pos > 0, pos, 1.0), np.inf))
    c = np.where(np.isfinite(c), c, 0.0)
    # R and c are used in float32: a ratio beyond its range means no negative part, and a
    # scale beyond it multiplies a profile so small that clipping c changes nothing visible
    big = np.finfo(np.float32).max
    ratio = np.where(ratio > big, np.inf, ratio)
    c = np.minimum(c, big)
    factor = np.float32(1) + c.astype(np.float32)[:, None] * f
    return np.maximum(factor, np.float32(0)), ratio, c


def conserve_strength(factor, edge, width_eV, taper_eV: int = TAPER_EV) -> np.ndarray:
    """Modulations 1 + g' that move an edge's oscillator strength instead of adding to it.

    Near-edge structure redistributes the atomic strength over the first tens of eV above the
    onset: integrated over them the edge keeps the atomic cross section (the oscillator-strength
    sum rule; Egerton 2011, sec. 4.5: why quantification integrates over >= 50 eV). The paper's
    modulation 1 + g (g = c f, :func:`modulation`) need not: sum(edge g) is random. Here
    g' = g - lambda T, T the :func:`envelope` of the fine structure and
    lambda = sum(edge g) / sum(edge T), so sum(edge g') = 0; where g' dips below -1 it is scaled
    by 1/|min g'| (the sum stays zero), so 1 + g' >= 0 as before.

    ``factor`` (M, n) from :func:`modulation`, ``edge`` (M, n) the edge on the same channels
    (onset at column 0), ``width_eV`` (M,) -> (M, n) float32."""
    f = np.asarray(factor, dtype=np.float64)
    e = np.asarray(edge, dtype=np.float64)
    T = envelope(width_eV, f.shape[1], taper_eV).astype(np.float64)
    g = f - 1.0
    denom = np.sum(e * T, axis=1)
    lam = np.where(denom > 0, np.sum(e * g, axis=1) / np.where(denom > 0, denom, 1.0), 0.0)
    g = g - lam[:, None] * T
    low = g.min(axis=1)
    g = np.where((low < -1.0)[:, None], g / np.abs(np.minimum(low, -1.0))[:, None], g)
    return (1.0 + g).astype(np.float32)
