"""Gain-change steps: a one-channel jump by a constant factor, found and evened out.

A detector whose gain changes at one channel (a read-out boundary, a gain switch), or a spectrum
stitched from two exposures scaled slightly wrong, multiplies every channel above one boundary by
a factor g. The networks read such a step as an edge: on the open-world suite's spectra with a
step of x1.08-1.22 they named the element whose onset sits at the step (Ne, Mg, Nb, Hg; session 32,
diagnostic D32). Two things tell a gain step from a core-loss edge (Egerton, *Electron Energy-Loss
Spectroscopy in the Electron Microscope*, 3rd ed., sec. 3.6 and 4.4): the step is exactly one
channel wide, where an edge rises over the energy resolution and the core hole's lifetime width;
and the spectrum continues with the same relative slope d ln I / dE on both sides, where an edge
adds its own shape (white lines, delayed maxima, near-edge structure).

The test, on the file's own channels x (after spikes and dead channels), for every boundary b
between channels b-1 and b with ``SIDE`` channels on either side: straight lines fitted to
x[b-SIDE : b] and to x[b : b+SIDE] give the levels L and R extrapolated to the boundary and the
slopes s_L and s_R (per channel); sigma is the residual scatter of both fits, at least the Poisson
sigma sqrt(L) for integer counts. A boundary is a gain step when

    (a) |R - L| > Z * se,     se = sigma sqrt(2 (1/n + (n/2)^2 / S_tt)) the difference's standard
                              error (n = ``SIDE``, S_tt = n (n^2 - 1) / 12);
    (b) sigma <= SMOOTH * noise   both sides are straight (noise: 1.4826 x the median absolute
                              difference of consecutive channels of both sides, over sqrt 2; an
                              edge that rises over several channels bends the fits);
    (c) |s_L / L - s_R / R| <= SLOPE_SIGMA * se_rel + SLOPE_TOLERANCE * |s_L / L + s_R / R| / 2
                              the same relative slope on both sides (se_rel from the slopes'
                              standard errors);
    (d) L > Z * se and R > Z * se, and MIN_FACTOR <= max(g, 1/g) <= MAX_FACTOR with g = R / L;
    (e) the two channels at the boundary lie within EDGE_SIGMA sigma of their own side's line, and
    (f) the one-channel difference x[b] - x[b-1] is R - L + (s_L + s_R) / 2 within
        EDGE_SIGMA sqrt(2) sigma: the whole step sits in one channel.

Only on axes of at most ``MAX_DISPERSION_EV`` per channel: an edge rises over at least the energy
resolution (the zero-loss peak's width, 0.3-1 eV without a monochromator; the paper's simulator:
1-3 eV), i.e. over two channels or more there, while on coarser axes a sharp edge, too, may rise
within one channel and a step cannot be told from it (on simulated spectra with edges, recorded at
0.1-1 eV per channel, the test fired on 3 % of them at any dispersion and on none of 512 at 0.35 eV
or finer; session 33). The most significant step of a spectrum is repaired first (the counts from
channel b on divided by g), then the test runs again, up to ``MAX_STEPS`` times. Steps larger than
``MAX_FACTOR`` are left as they are: a join of a low-loss and a core-loss exposure (x20-500) is cut
by :mod:`eels_helpers.inference.splices`, and between x2 and x20 a rescaled low-energy segment would
dominate the division by the maximum; steps below ``MIN_FACTOR`` are left too (at high counts the
near-edge curvature of the spectrum reaches them). Limits: a step within ``SIDE`` channels of
either end, of another step or of an edge onset is not found, nor one that the noise hides (a step
of x1.1 needs some 10^4 counts per channel: the step test compares the level difference with the
extrapolation error of 16-channel lines).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BY_DEFAULT", "SIDE", "Z", "SMOOTH", "SLOPE_SIGMA", "SLOPE_TOLERANCE", "EDGE_SIGMA", "MIN_FACTOR",
           "MAX_FACTOR", "MAX_STEPS", "MAX_DISPERSION_EV", "WHAT", "DONE", "find_steps", "repair_gain_steps"]

#: whether pre-processing evens out gain steps unless told otherwise (``repair_gain_steps``)
BY_DEFAULT = False
#: channels fitted on each side of a boundary
SIDE = 16
#: the step exceeds this many standard errors of the level difference (test a)
Z = 6.0
#: the fits' residual scatter at most this many times the channel-to-channel noise (test b)
SMOOTH = 1.5
#: relative slopes agree within this many standard errors ... (test c)
SLOPE_SIGMA = 3.0
#: ... plus this fraction of their mean (test c)
SLOPE_TOLERANCE = 0.05
#: the channels beside the boundary within this many sigma of their side's line (test e)
EDGE_SIGMA = 2.0
#: the smallest factor (either way) repaired: smaller ones are near-edge curvature at high counts
MIN_FACTOR = 1.05
#: the largest factor (either way) repaired (test d)
MAX_FACTOR = 2.0
#: only on axes this fine (eV per channel): on coarser ones an edge, too, may rise within one channel
MAX_DISPERSION_EV = 0.35
#: steps repaired per spectrum at most
MAX_STEPS = 3
#: spectra per pass (memory: about 400 bytes per channel and spectrum of a chunk)
CHUNK = 256
#: what a gain step is and what was done, for the user (predict's note, map's log)
WHAT = "a one-channel jump by a constant factor: a gain change or a join"
DONE = "the counts above divided by the factor"


def _fits(x: np.ndarray):
    """Least-squares lines through every window of SIDE channels of x (N, n): mean level, slope per
    channel and residual sum of squares, each (N, n - SIDE + 1)."""
    k = SIDE
    w = np.lib.stride_tricks.sliding_window_view(x, k, axis=1)
    t = np.arange(k) - (k - 1) / 2.0
    s_tt = float(t @ t)
    mean = w.mean(axis=2)
    slope = np.einsum("nwk,k->nw", w, t) / s_tt
    rss = np.maximum(np.einsum("nwk,nwk->nw", w, w) - k * mean ** 2 - slope ** 2 * s_tt, 0.0)
    return mean, slope, rss


def _best_step(x: np.ndarray, integer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each spectrum of x (N, n) the most significant boundary that passes tests (a)-(d):
    ``(found (N,) bool, boundary (N,) int, factor (N,) float)``."""
    N, n = x.shape
    k = SIDE
    found, where, factor = np.zeros(N, bool), np.zeros(N, np.int64), np.ones(N)
    if n < 2 * k + 1:
        return found, where, factor
    mean, slope, rss = _fits(x)
    s_tt = k * (k * k - 1) / 12.0
    # boundary b (channels b-SIDE..b-1 | b..b+SIDE-1), b = SIDE .. n-SIDE: left window b-SIDE, right b
    lm, ls, lr = mean[:, :-k], slope[:, :-k], rss[:, :-k]
    rm, rs, rr = mean[:, k:], slope[:, k:], rss[:, k:]
    left = lm + ls * k / 2.0
    right = rm - rs * k / 2.0
    sigma = np.sqrt((lr + rr) / (2 * k - 4))
    level = np.maximum(np.minimum(left, right), 1.0)
    sigma_p = np.where(integer[:, None], np.maximum(sigma, np.sqrt(level)), sigma)
    se_level = sigma_p * math.sqrt(1.0 / k + (k / 2.0) ** 2 / s_tt)
    se = math.sqrt(2.0) * se_level
    # channel-to-channel noise of both sides (the boundary's own difference left out)
    d = np.abs(np.diff(x, axis=1))                                        # d[:, i] = |x[i+1] - x[i]|
    dw = np.lib.stride_tricks.sliding_window_view(d, k - 1, axis=1)      # differences inside a window
    both = np.concatenate([dw[:, :-k], dw[:, k:]], axis=2)             # boundary b: windows b-SIDE and b
    noise = 1.4826 / math.sqrt(2.0) * np.median(both, axis=2)
    se_slope = sigma_p / math.sqrt(s_tt)
    # test (e): the two channels at the boundary lie on their own side's line (the jump is in one channel)
    t_end = (k - 1) / 2.0
    off_left = np.abs(x[:, k - 1:n - k] - (lm + ls * t_end))            # channel b-1 against the left line
    off_right = np.abs(x[:, k:n - k + 1] - (rm - rs * t_end))           # channel b against the right line
    sharp = (off_left <= EDGE_SIGMA * sigma_p) & (off_right <= EDGE_SIGMA * sigma_p)
    # test (f): the one-channel difference at the boundary carries the whole step
    jump = x[:, k:n - k + 1] - x[:, k - 1:n - k]
    sharp &= np.abs(jump - (right - left) - (ls + rs) / 2.0) <= EDGE_SIGMA * math.sqrt(2.0) * sigma_p
    with np.errstate(divide="ignore", invalid="ignore"):
        g = right / left
        rel = np.abs(ls / left - rs / right)
        rel_se = se_slope * np.sqrt(1.0 / left ** 2 + 1.0 / right ** 2)
        ok = ((np.abs(right - left) > Z * se)
              & (sigma <= SMOOTH * noise + 1e-12)
              & (rel <= SLOPE_SIGMA * rel_se + SLOPE_TOLERANCE * np.abs(ls / left + rs / right) / 2.0)
              & (left > Z * se) & (right > Z * se)
              & (g <= MAX_FACTOR) & (g >= 1.0 / MAX_FACTOR) & sharp
              & (np.abs(np.log(np.where(g > 0, g, 1.0))) >= math.log(MIN_FACTOR)))
        score = np.where(ok, np.abs(right - left) / se, 0.0)
    best = score.argmax(axis=1)
    rows = np.arange(N)
    found = score[rows, best] > 0
    where = best + k
    factor = np.where(found, g[rows, best], 1.0)
    return found, where, factor


def find_steps(data, dispersion_eV: float) -> np.ndarray:
    """Where the gain steps are (module docstring): bool of ``data``'s shape (..., n), True at the
    first channel above each step."""
    return repair_gain_steps(data, dispersion_eV)[1]


def repair_gain_steps(data, dispersion_eV: float) -> tuple[np.ndarray, np.ndarray]:
    """``(repaired, mask)``: ``data`` (..., n) on an axis of ``dispersion_eV`` eV per channel with the
    counts above each gain step divided by its factor (float64; a copy only where something was
    repaired), and a bool mask of ``data``'s shape, True at the first channel above each step.
    Nothing is repaired on axes coarser than :data:`MAX_DISPERSION_EV`."""
    if not (np.isfinite(dispersion_eV) and dispersion_eV > 0):
        raise ValueError(f"dispersion_eV must be a positive number of eV per channel, got {dispersion_eV!r}")
    x = np.asarray(data, dtype=np.float64)
    flat = x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)
    mask = np.zeros(flat.shape, dtype=bool)
    if flat.shape[1] < 2 * SIDE + 1 or not flat.size or dispersion_eV > MAX_DISPERSION_EV:
        return x, mask.reshape(x.shape)
    integer = np.all(flat == np.round(flat), axis=1)
    out = None
    for a in range(0, len(flat), CHUNK):
        rows = np.arange(a, min(a + CHUNK, len(flat)))
        for _ in range(MAX_STEPS):
            block = (out if out is not None else flat)[rows]
            found, where, factor = _best_step(block, integer[rows])
            if not found.any():
                break
            if out is None:
                out = flat.copy()
            hit, at, g = rows[found], where[found], factor[found]
            above = np.arange(flat.shape[1])[None, :] >= at[:, None]
            out[hit] = np.where(above, out[hit] / g[:, None], out[hit])
            mask[hit, at] = True
            rows = hit
    repaired = x if out is None else out.reshape(x.shape)
    return repaired, mask.reshape(x.shape)
