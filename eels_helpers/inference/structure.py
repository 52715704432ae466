"""Whether a spectrum holds any structure beyond its own noise: the "no identifiable edge" test.

An element can only be identified from counts that depart from a smooth background by more than
their noise. A spectrum-image pixel over vacuum or a hole (a dark level and a faint tail under
Poisson noise), or a narrow window far above every edge in it, holds no such departure, yet the
networks, which see every spectrum scaled to a maximum of 1, can read its noise as an edge (the
open-world suite's vacuum pixels: Bi, Ru). Such spectra name no element.

The test (:func:`structure_significance`), per spectrum, on its native channels inside the
network's window:

1. a smooth background, least squares on the basis x^-r, r = 1, 1.5, ..., 5, 6, and 1 (x = E / E_start): the
   power laws A E^-r of the background (Egerton, *Electron Energy-Loss Spectroscopy in the
   Electron Microscope*, 3rd ed. (2011), sec. 4.4: r 2-6), their curvature from plural
   scattering and a dark level;
2. the noise variance per channel from second differences, scale-free (so counts, gain-normalised
   and arbitrarily scaled spectra are treated alike): for white noise var(y[i+1] - 2 y[i] + y[i-1])
   = 6 sigma^2; the median of d^2 over blocks of ``NOISE_BLOCK_CHANNELS`` channels divided by
   6 x 0.4549 (0.4549: the median of a chi-square with one degree of freedom), robust to edges and
   spikes (the mean over 6 where the counts are mostly zero and the median is 0); its log
   smoothed across the window (quadratic in log E), as Poisson noise follows the smooth counts;
3. the residuals divided by that noise and averaged over blocks of m channels (each block mean
   times sqrt(m) is N(0, 1) for white noise; an edge, a peak or any structure spanning several
   channels adds coherently): chi2 = the sum of their squares over the k blocks, dof = k minus the
   background terms, z = (chi2 - dof) / sqrt(2 dof), the normal approximation of the chi-square;
   the largest z over m in ``BLOCK_CHANNELS`` (8, 32, 128: white lines and pi* peaks, broad edges).

A spectrum with z < ``STRUCTURE_Z_MIN`` (3: structure at three standard deviations) is consistent
with a smooth background within its own noise: no identifiable edge (a noiseless smooth curve
too). Spectra with too few channels to test (< ``MIN_CHANNELS``) get z = inf: the network decides.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STRUCTURE_Z_MIN", "BLOCK_CHANNELS", "NOISE_BLOCK_CHANNELS", "MIN_CHANNELS", "structure_significance",
           "structure_in_window", "identifiable"]

#: z below which a spectrum holds no structure beyond its noise (no identifiable edge)
STRUCTURE_Z_MIN = 3.0
#: channels per block of averaged residuals, one test per scale (the largest z counts): fine
#: structure (white lines, pi* peaks) in short blocks, broad edges in long ones
BLOCK_CHANNELS = (8, 32, 128)
#: channels per block of the noise estimate
NOISE_BLOCK_CHANNELS = 32
#: fewest channels a spectrum needs to be tested
MIN_CHANNELS = 64
_POWERS = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0)
_MEDIAN_CHI2_1 = 0.4549


def _smooth_basis(energy_eV: np.ndarray) -> np.ndarray:
    """Orthonormal columns (C, k) spanning x^-1..x^-5 and 1, x = E / E[0] (k <= 6: the numerically
    independent ones, from an SVD, for windows so narrow that the power laws coincide)."""
    x = energy_eV / energy_eV[0]
    A = np.stack([x ** -p for p in _POWERS] + [np.ones_like(x)], axis=1)
    A /= np.linalg.norm(A, axis=0)
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    return U[:, s > 1e-10 * s[0]]


def _noise_smoother(E: np.ndarray, nb: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(T (C, d+1), P (d+1, nb)): the log noise variance per channel from the nb blocks' logs L (.., nb)
    is (L @ P.T) @ T.T, least squares on 1, log E, (log E)^2 at the blocks' centres (fewer terms for
    fewer blocks). Kept as two factors, O(C) memory (their product, (C, nb), took C^2 / 32 floats:
    2.7 GB for 100,000 channels)."""
    centres = np.log(E[1 + width // 2 + width * np.arange(nb)])
    t = np.log(E)
    lo, span = centres[0], max(centres[-1] - centres[0], 1e-12)
    degree = min(2, nb - 1)
    B = np.stack([((centres - lo) / span) ** d for d in range(degree + 1)], axis=1)       # (nb, d+1)
    T = np.stack([((t - lo) / span) ** d for d in range(degree + 1)], axis=1)             # (C, d+1)
    return T, np.linalg.pinv(B)


def structure_significance(data, energy_eV, *, chunk: int = 1024) -> np.ndarray:
    """z of the structure above a smooth background, per spectrum (module docstring).

    Parameters
    ----------
    data : array_like, shape (..., C)
        Spectra on the channels of ``energy_eV``, any intensity units.
    energy_eV : array_like, shape (C,)
        Increasing energy axis (eV), positive: the part of the axis to test (e.g. the network's window).
    chunk : int, default 1024
        Spectra per vectorised step (memory).

    Returns
    -------
    numpy.ndarray, shape data.shape[:-1]
        z (float64); inf where there are fewer than ``MIN_CHANNELS`` channels.

    Raises
    ------
    ValueError
        If the shapes disagree, or the axis is not positive and increasing.
    """
    E = np.asarray(energy_eV, dtype=np.float64)
    Y = np.asarray(data)
    if E.ndim != 1 or Y.shape[-1:] != E.shape:
        raise ValueError(f"data (..., C) and energy_eV (C,) must share the channel axis; got {Y.shape} and {E.shape}")
    nav = Y.shape[:-1]
    C = E.size
    if C < MIN_CHANNELS:
        return np.full(nav, np.inf)
    if not (E[0] > 0 and np.all(np.diff(E) > 0)):
        raise ValueError("energy_eV must be positive and increasing (eV)")
    Q = _smooth_basis(E)
    nb = max((C - 2) // NOISE_BLOCK_CHANNELS, 1)
    width = (C - 2) // nb
    smooth_T, smooth_P = _noise_smoother(E, nb, width)
    flat = Y.reshape(-1, C)
    z = np.empty(flat.shape[0])
    for a in range(0, flat.shape[0], chunk):
        y = np.nan_to_num(flat[a:a + chunk].astype(np.float64))
        residual = y - (y @ Q) @ Q.T
        d2 = y[:, 2:] - 2.0 * y[:, 1:-1] + y[:, :-2]
        sq = (d2[:, :nb * width] ** 2).reshape(len(y), nb, width)
        var_block = np.median(sq, axis=2) / (6 * _MEDIAN_CHI2_1)
        var_block = np.where(var_block > 0, var_block, sq.mean(axis=2) / 6)   # mostly zero counts: the mean
        floor = (1e-9 * np.max(np.abs(y), axis=1, keepdims=True)) ** 2 + 1e-300
        # a smooth noise level across the window (its log quadratic in log E over the blocks): one
        # block's median of 32 squares scatters by ~30 %, which would inflate chi2 (E[1/var] > 1/var)
        var = np.exp((np.log(np.maximum(var_block, floor)) @ smooth_P.T) @ smooth_T.T)
        r = residual / np.sqrt(np.maximum(var, floor))
        z[a:a + chunk] = np.max([_block_z(r, m, Q.shape[1]) for m in BLOCK_CHANNELS], axis=0)
    return z.reshape(nav)


def _block_z(r: np.ndarray, block: int, fitted: int) -> np.ndarray:
    """z of the chi-square of the normalised residuals' block means (blocks of ``block`` channels;
    ``fitted`` background terms taken from the degrees of freedom); -inf with too few blocks."""
    k = r.shape[1] // block
    dof = k - fitted
    if dof < 4:
        return np.full(r.shape[0], -np.inf)
    means = r[:, :k * block].reshape(len(r), k, block).mean(axis=2) * np.sqrt(block)
    return (np.sum(means ** 2, axis=1) - dof) / np.sqrt(2.0 * dof)


def structure_in_window(spectrum, offset_eV: float = 0.0) -> np.ndarray:
    """:func:`structure_significance` of each spectrum of ``spectrum`` (a
    :class:`~eels_helpers.spectrum.Spectrum`, one spectrum or an image) over its channels inside the
    network's window (``MIN_ENERGY_EV`` to 3071 eV after the ``offset_eV`` correction, eV); shape: the
    navigation shape (0-d for one spectrum)."""
    from eels_helpers.inference.preprocess import window_channels

    energy, data = window_channels(spectrum, offset_eV)
    return np.asarray(structure_significance(data, energy))


def identifiable(spectrum, offset_eV: float, index: int = 0) -> tuple[np.ndarray, np.ndarray, tuple,
                                                                     tuple[float, float]]:
    """What a spectrum (or image) allows to identify, before any network: (mask of the spectra that
    carry a signal, their structure z (:func:`structure_in_window`; below ``STRUCTURE_Z_MIN``: no
    identifiable edge), the edge families in the window, the window (lo, hi) eV). ``index``: the
    input's position, named in the error. Raises SpectrumFileError naming the input when none of
    its spectra carries a signal (all zero, negative or constant) or its axis cannot be tested."""
    from eels_helpers.inference.preprocess import signal_in_window
    from eels_helpers.inference.spectrum_files import SpectrumFileError, check_overlap
    from eels_helpers.physics.elements import families_in_window

    name = spectrum.source or spectrum.metadata.get("title", f"array {index}")
    check_overlap(spectrum.energy_eV, name, offset_eV)   # an offset that moves the axis out of the window
    mask, (lo, hi) = signal_in_window(spectrum, offset_eV)
    if not mask.any():
        what = "every spectrum of the image" if spectrum.is_spectrum_image else "the spectrum"
        raise SpectrumFileError(
            f"{name}: no signal: {what} is all zero, negative or constant between 75 and 3071 eV "
            f"(after the {offset_eV:g} eV offset); there is nothing to identify")
    try:
        z = structure_in_window(spectrum, offset_eV)
    except ValueError as err:          # e.g. an axis that is not increasing: name the input
        raise SpectrumFileError(f"{name}: {err}") from err
    return mask, z, families_in_window(lo, hi), (lo, hi)
