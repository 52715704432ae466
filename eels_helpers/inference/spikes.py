"""Spikes: single detector channels hit by a cosmic ray or an X-ray, found and replaced.

A spike is one channel far above both neighbours on a spectrum whose level is the same on either
side of it. Left in, it becomes the spectrum's maximum, and the paper's division by the maximum
(pre-processing step 6) shrinks everything else: on the open-world suite's spectra with spikes the
networks named an element in 25-50 % of them (session 27). Spectrum images, recorded pixel by pixel
at low counts, hold many.

The test, on the file's own channels s (before any rebinning), for every channel i at least
2 ``SIDE`` channels from the start and 2 ``SIDE`` from the end. A_i, B_i and C_i are the medians of
s[i+1 : i+1+SIDE], s[i-SIDE : i] and s[i-2 SIDE : i-SIDE] (the level after, before, and before
that), b_i = max(s[i-1], s[i+1], A_i, B_i) the level around i and e_i = s[i] - b_i the excess:

    (a) e_i > (FACTOR - 1) * b_i                     far above its surroundings (s[i] > FACTOR b_i);
    (b) e_i > SIGMA * scatter_i  and  2 (sqrt(s[i] + 3/8) - sqrt(max(b_i, 0) + 3/8)) > Z_POISSON
                                                     not a fluctuation of the local noise, nor of
                                                     Poisson counts (Anscombe's deviate);
    (c) |A_i - (B_i + (B_i - C_i) (SIDE + 1) / SIDE)| <= LEVEL_SIGMA * noise_i + LEVEL_TOLERANCE * |B_i|
                                                     after it, the level the background before it leads to,

where scatter_i is 1.4826 x the median absolute difference of consecutive channels within
2 ``SIDE`` - 1 channels of i (the two through i left out) over sqrt(2), the noise of data that are
not raw counts (scaled, background subtracted), and noise_i = max(sqrt(max(b_i, 1)), scatter_i).
Anscombe's deviate is close to normal for Poisson counts at any level, so Z_POISSON = 7 is met by
chance about once in 1e12 channels, where a plain "excess over sigma" test at a few counts per
channel is met by chance in every few spectra. A spike found is replaced by the mean of its two
neighbours.

Why (c): a white line or a pi* peak is as narrow as the energy resolution and, on a coarse axis,
may fill one channel, but it sits on an edge: the continuum after it lies above the level the
background before it leads to. A spike returns to that level. Why FACTOR = 4: the simulator's
spikes (and the open-world suite's) are 5-50 x the local counts (``SimulationConfig.
artefact_fraction``). Limits: a spike spread over two channels, within 2 ``SIDE`` channels after an
edge onset, or near either end is not found (left as it was); nor is a small spike on a strong
signal or on a few counts, which does not become the maximum and matters less.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FACTOR", "SIGMA", "Z_POISSON", "SIDE", "LEVEL_TOLERANCE", "LEVEL_SIGMA", "WHAT", "DONE", "spike_mask",
           "remove_spikes"]

#: a spike is more than this many times its larger neighbour (test a)
FACTOR = 4.0
#: ... by more than this many standard deviations of the local scatter (test b) ...
SIGMA = 6.0
#: ... and Anscombe's deviate of Poisson counts above this (test b)
Z_POISSON = 7.0
#: channels on each side whose medians must agree (test c); channels this close to an end are not tested
SIDE = 5
#: the level after may differ from the extrapolated one by this many standard deviations of the noise (test c) ...
LEVEL_SIGMA = 3.0
#: ... plus this fraction of the level before (the background's curvature)
LEVEL_TOLERANCE = 0.05
#: spectra per block (memory: about 60 bytes per channel and spectrum of a block)
CHUNK = 1024
#: what a spike is and what was done, for the user (predict's note, map's log)
WHAT = f"single channels more than {FACTOR:g}x both neighbours, the background's level on either side"
DONE = "replaced by their neighbours' mean"


def _median(values: np.ndarray) -> np.ndarray:
    """Median along the last axis, the upper of the two middle values for an even number (np.median
    would import numpy.ma)."""
    k = values.shape[-1] // 2
    return np.partition(values, k, axis=-1)[..., k]


def _block_mask(x: np.ndarray) -> np.ndarray:
    """spike_mask for a float32 block (N, n) with n > 4 * SIDE: a loose form of test (a) on every
    channel, then the whole test only where it holds."""
    n = x.shape[1]
    lo, hi = 2 * SIDE, n - 2 * SIDE                   # channels tested: lo..hi-1
    s = x[:, lo:hi]
    near = np.maximum(x[:, lo - 1: hi - 1], x[:, lo + 1: hi + 1])
    b, i = np.nonzero((s > FACTOR * near) & (s > 0))
    mask = np.zeros(x.shape, dtype=bool)
    if not b.size:
        return mask
    c = i + lo                                         # the candidates' channels
    rows = b[:, None]
    k = np.arange(1, SIDE + 1)
    after = _median(x[rows, c[:, None] + k])
    before = _median(x[rows, c[:, None] - k])
    earlier = _median(x[rows, c[:, None] - SIDE - k])
    level = np.maximum(np.maximum(near[b, i], after), before)
    spike = x[b, c]
    excess = spike - level
    # local scatter: consecutive differences x[j+1] - x[j] within 2 SIDE - 1 of i, not through i
    d = np.arange(2, 2 * SIDE)
    j = np.concatenate([c[:, None] - d, c[:, None] + d - 1], axis=1)
    scatter = 1.4826 / np.sqrt(2.0) * _median(np.abs(x[rows, j + 1] - x[rows, j]))
    noise = np.maximum(np.sqrt(np.maximum(level, 1.0)), scatter)
    anscombe = 2.0 * (np.sqrt(spike + 0.375) - np.sqrt(np.maximum(level, 0.0) + 0.375))
    expected = before + (before - earlier) * (SIDE + 1) / SIDE
    found = ((excess > (FACTOR - 1.0) * np.maximum(level, 0.0))
             & (excess > SIGMA * scatter) & (anscombe > Z_POISSON)
             & (np.abs(after - expected) <= LEVEL_SIGMA * noise + LEVEL_TOLERANCE * np.abs(before)))
    mask[b[found], c[found]] = True
    return mask


def spike_mask(data) -> np.ndarray:
    """Where the spikes are (module docstring): bool of ``data``'s shape (..., n), True at a spike's
    channel. ``data``: intensities on the file's own channels (any units; NaN-free)."""
    x = np.asarray(data)
    flat = x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)
    mask = np.zeros(flat.shape, dtype=bool)
    if flat.shape[1] > 4 * SIDE:
        for a in range(0, len(flat), CHUNK):
            mask[a:a + CHUNK] = _block_mask(flat[a:a + CHUNK].astype(np.float32))
    return mask.reshape(x.shape)


def remove_spikes(data) -> tuple[np.ndarray, np.ndarray]:
    """``(cleaned, mask)``: ``data`` (..., n) with every spike replaced by the mean of its two
    neighbours (float64; a copy only where a spike was found), and :func:`spike_mask`."""
    x = np.asarray(data, dtype=np.float64)
    mask = spike_mask(x)
    if not mask.any():
        return x, mask
    x = x.copy()
    neighbours = 0.5 * (np.roll(x, 1, axis=-1) + np.roll(x, -1, axis=-1))   # ends are never spikes
    x[mask] = neighbours[mask]
    return x, mask
