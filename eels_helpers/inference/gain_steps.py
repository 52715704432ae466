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
        EDGE_SIGMA sqrt(2) sigma: the whole step sits in one channel;
    (g) both sides fall as a background does: the local power-law exponent r = -E d ln I / dE of
        each lies in [0, MAX_EXPONENT] within SLOPE_SIGMA standard errors (a jump on a rising
        stretch, e.g. after a pi* peak, is an edge's structure);
    (h) the z of test (a) is also measured against its own spread over the spectrum's boundaries
        (median |z| / 0.6745, when above 1): noise that is correlated between channels or not
        Poisson (gain-normalised spectrum-image pixels) raises its own bar.

Only on axes of at most ``MAX_DISPERSION_EV`` per channel: an edge rises over at least the energy
resolution (the zero-loss peak's width, 0.3-1 eV without a monochromator; the paper's simulator:
1-3 eV), i.e. over two channels or more there, while on coarser axes a sharp edge, too, may rise
within one channel and a step cannot be told from it (session 33, on simulated spectra with edges
recorded at 0.1-1 eV per channel: tests (a)-(f) fired on 3 % of them at any dispersion and on none of
512 at 0.35 eV or finer; with (g) and (h), on fresh ones, on 0.12-0.27 %, changing no score by more
than 0.0003; research log, G33). The most significant step of a spectrum is repaired first (the counts from
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

__all__ = ["BY_DEFAULT", "SIDE", "Z", "SMOOTH", "SLOPE_SIGMA", "SLOPE_TOLERANCE", "EDGE_SIGMA", "MAX_EXPONENT",
           "MIN_FACTOR", "MAX_FACTOR", "MAX_STEPS", "MAX_DISPERSION_EV", "WHAT", "DONE", "find_steps",
           "repair_gain_steps"]

#: whether pre-processing evens out gain steps unless told otherwise (``repair_gain_steps``): on since
#: session 33 (simulated gate and real guard, research log G33)
BY_DEFAULT = True
#: channels fitted on each side of a boundary
SIDE = 16
#: sum of the squared channel offsets from the centre of a SIDE-channel window, sum (t - (k-1)/2)^2
#: = k (k^2 - 1) / 12: a line fit's slope variance is sigma^2 / this
S_TT = SIDE * (SIDE * SIDE - 1) / 12.0
#: the step exceeds this many standard errors of the level difference (test a)
Z = 6.0
#: the fits' residual scatter at most this many times the channel-to-channel noise (test b)
SMOOTH = 1.5
#: relative slopes agree within this many standard errors ... (test c)
SLOPE_SIGMA = 3.0
#: ... plus this fraction of their mean (test c)
SLOPE_TOLERANCE = 0.05
#: the channels beside the boundary within this many sigma of their side's line (test e)
EDGE_SIGMA = 3.0
#: the largest local power-law exponent of a background (test g)
MAX_EXPONENT = 8.0
#: the smallest factor (either way) repaired: smaller ones are near-edge curvature at high counts
MIN_FACTOR = 1.05
#: the largest factor (either way) repaired (test d)
MAX_FACTOR = 2.0
#: only on axes this fine (eV per channel): on coarser ones an edge, too, may rise within one channel
MAX_DISPERSION_EV = 0.35
#: steps repaired per spectrum at most
MAX_STEPS = 3
#: spectra per pass (memory: about 200 bytes per channel and spectrum of a chunk)
CHUNK = 256
#: what a gain step is and what was done, for the user (predict's note, map's log)
WHAT = "a one-channel jump by a constant factor: a gain change or a join"
DONE = "the counts above divided by the factor"


def _fits(x: np.ndarray):
    """Least-squares lines through every window of SIDE channels of x (N, n): mean level, slope per
    channel and residual sum of squares, each (N, n - SIDE + 1), from running sums (O(N n))."""
    k = SIDE
    i = np.arange(x.shape[1], dtype=np.float64)
    zero = np.zeros((x.shape[0], 1))
    c0, c1, c2 = (np.concatenate([zero, np.cumsum(v, axis=1)], axis=1) for v in (x, x * i, x * x))
    s0, s1, s2 = (c[:, k:] - c[:, :-k] for c in (c0, c1, c2))         # window w: channels w .. w+k-1
    mean = s0 / k
    slope = (s1 - (i[: s0.shape[1]] + (k - 1) / 2.0) * s0) / S_TT        # sum of (channel - centre) x
    rss = np.maximum(s2 - k * mean ** 2 - slope ** 2 * S_TT, 0.0)
    return mean, slope, rss


def _best_step(x: np.ndarray, integer: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each spectrum of x (N, n) on the axis ``energy`` (n,) eV the most significant boundary
    that passes tests (a)-(h): ``(found (N,) bool, boundary (N,) int, factor (N,) float)``. Test (a)
    runs on every boundary; the others only where it passes (few boundaries)."""
    N, n = x.shape
    k = SIDE
    found, where, factor = np.zeros(N, bool), np.zeros(N, np.int64), np.ones(N)
    if n < 2 * k + 1:
        return found, where, factor
    mean, slope, rss = _fits(x)
    # boundary b (channels b-SIDE..b-1 | b..b+SIDE-1), b = SIDE .. n-SIDE: left window b-SIDE, right b
    left = mean[:, :-k] + slope[:, :-k] * k / 2.0
    right = mean[:, k:] - slope[:, k:] * k / 2.0
    sigma = np.sqrt((rss[:, :-k] + rss[:, k:]) / (2 * k - 4))
    level = np.maximum(np.minimum(left, right), 1.0)
    sigma_p = np.where(integer[:, None], np.maximum(sigma, np.sqrt(level)), sigma)
    se = sigma_p * math.sqrt(2.0 * (1.0 / k + (k / 2.0) ** 2 / S_TT))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(right - left) / se
        g = right / left
        valid = (left > 0) & (right > 0) & (se > 0)
        # tests (a) and (d) at the bar Z, then (h): the bar raised by z's own spread over the spectrum's
        # boundaries (correlated or non-Poisson noise), in the spectra where any boundary passes
        first = valid & (z > Z) & (left > Z * se) & (right > Z * se) & (g <= MAX_FACTOR) & (g >= 1.0 / MAX_FACTOR)
        rows = np.flatnonzero(first.any(axis=1))
        if not rows.size:
            return found, where, factor
        spread = np.nanmedian(np.where(valid[rows], z[rows], np.nan), axis=1) / 0.6745
        bar = np.full(N, Z)
        bar[rows] = Z * np.maximum(np.nan_to_num(spread, nan=1.0), 1.0)
        r, c = np.nonzero(first & (z > bar[:, None]) & (left > bar[:, None] * se) & (right > bar[:, None] * se)
                          & (np.abs(np.log(np.where(g > 0, g, 1.0))) >= math.log(MIN_FACTOR)))
    if not r.size:
        return found, where, factor
    ok = _passes_shape_tests(x, energy, r, c, mean, slope, left, right, sigma, sigma_p)
    r, c = r[ok], c[ok]
    score = np.zeros((N, left.shape[1]))
    score[r, c] = z[r, c]
    best = score.argmax(axis=1)
    every = np.arange(N)
    found = score[every, best] > 0
    where = best + k
    factor = np.where(found, g[every, best], 1.0)
    return found, where, factor


def _passes_shape_tests(x, energy, r, c, mean, slope, left, right, sigma, sigma_p) -> np.ndarray:
    """Tests (b), (c), (e), (f), (g) at the boundaries ``(r, c)`` (spectrum, boundary index c = b - SIDE)."""
    k = SIDE
    b = c + k
    lm, ls, rm, rs = mean[r, c], slope[r, c], mean[r, b], slope[r, b]
    lv, rv, sg, sp = left[r, c], right[r, c], sigma[r, c], sigma_p[r, c]
    # (b) both sides straight: the fits' scatter against the channel-to-channel noise of both sides
    # (the boundary's own difference left out)
    offsets = np.r_[np.arange(-k, -1), np.arange(0, k - 1)]            # differences x[j+1] - x[j], j = b + offset
    diffs = np.abs(x[r[:, None], b[:, None] + offsets + 1] - x[r[:, None], b[:, None] + offsets])
    noise = 1.4826 / math.sqrt(2.0) * np.median(diffs, axis=1)
    ok = sg <= SMOOTH * noise + 1e-12
    # (e), (f): the two channels at the boundary on their own side's line; their difference carries the step
    t_end = (k - 1) / 2.0
    before, after = x[r, b - 1], x[r, b]
    ok &= np.abs(before - (lm + ls * t_end)) <= EDGE_SIGMA * sp
    ok &= np.abs(after - (rm - rs * t_end)) <= EDGE_SIGMA * sp
    ok &= np.abs(after - before - (rv - lv) - (ls + rs) / 2.0) <= EDGE_SIGMA * math.sqrt(2.0) * sp
    # (c) the same relative slope on both sides; (g) both fall as a background does
    se_slope = sp / math.sqrt(S_TT)
    rel_l, rel_r = ls / lv, rs / rv
    rel_se = se_slope * np.sqrt(1.0 / lv ** 2 + 1.0 / rv ** 2)
    ok &= np.abs(rel_l - rel_r) <= SLOPE_SIGMA * rel_se + SLOPE_TOLERANCE * np.abs(rel_l + rel_r) / 2.0
    e_b = 0.5 * (energy[b - 1] + energy[b])                               # the boundary's energy
    per_channel = e_b / np.maximum(energy[b] - energy[b - 1], 1e-12)
    for rel, lev in ((rel_l, lv), (rel_r, rv)):
        exponent, tolerance = -rel * per_channel, SLOPE_SIGMA * se_slope / lev * per_channel
        ok &= (e_b > 0) & (exponent >= -tolerance) & (exponent <= MAX_EXPONENT + tolerance)
    return ok


def find_steps(data, energy_eV) -> np.ndarray:
    """Where the gain steps are (module docstring): bool of ``data``'s shape (..., n), True at the
    first channel above each step."""
    return repair_gain_steps(data, energy_eV)[1]


def repair_gain_steps(data, energy_eV) -> tuple[np.ndarray, np.ndarray]:
    """``(repaired, mask)``: ``data`` (..., n) on the energy axis ``energy_eV`` (n,) eV with the
    counts above each gain step divided by its factor (float64; a copy only where something was
    repaired), and a bool mask of ``data``'s shape, True at the first channel above each step.
    Nothing is repaired on axes coarser than :data:`MAX_DISPERSION_EV` per channel."""
    x = np.asarray(data, dtype=np.float64)
    energy = np.asarray(energy_eV, dtype=np.float64)
    if energy.ndim != 1 or energy.size != (x.shape[-1] if x.ndim else 1):
        raise ValueError(f"energy_eV must be the counts' energy axis: {x.shape[-1] if x.ndim else 1} channels, "
                         f"got shape {energy.shape}")
    if energy.size > 1 and not np.all(np.diff(energy) > 0):
        raise ValueError("energy_eV must increase strictly (eV)")
    flat = x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)
    mask = np.zeros(flat.shape, dtype=bool)
    if flat.shape[1] < 2 * SIDE + 1 or not flat.size or float(np.median(np.diff(energy))) > MAX_DISPERSION_EV:
        return x, mask.reshape(x.shape)
    integer = np.all(flat == np.round(flat), axis=1)
    out = None
    for a in range(0, len(flat), CHUNK):
        rows = np.arange(a, min(a + CHUNK, len(flat)))
        for _ in range(MAX_STEPS):
            block = (out if out is not None else flat)[rows]
            found, where, factor = _best_step(block, integer[rows], energy)
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
