"""Dead channels: short runs of detector channels that read nothing inside a live spectrum, filled.

A CCD's dead column, or the gap between two chips of a hybrid-pixel detector, records zero (or
less, after a dark reference) in one to a few channels while the channels on both sides hold
counts. No edge or fine structure does that; the networks read the dip as structure (on the
open-world suite's spectra with dead channels an element was named in some, session 28).

The test, on the file's own channels s (after the spike step of :mod:`eels_helpers.inference.spikes`):
a run of 1..``MAX_RUN`` consecutive channels with s <= 0 whose neighbours on both sides are > 0 and
which lies at least ``SIDE`` channels from either end. With L and R the medians of the ``SIDE``
channels before and after the run, the run is dead when

    min(L, R) > MIN_COUNTS          Poisson counts at that level read 0 with probability
                                    e^-MIN_COUNTS < 1e-12;
    min(L, R) > SIGMA * scatter     the same for data that are not raw counts (scaled, subtracted):
                                    scatter is 1.4826 x the median absolute difference of consecutive
                                    channels beside the run over sqrt(2).

A dead run is filled by the straight line from L (at the channel before the run) to R (at the
channel after it). Runs at either end of the spectrum (a window's dead start or end) are left as
they are, as are longer runs (a gap of that size is not a detector column).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_RUN", "MIN_COUNTS", "SIGMA", "SIDE", "WHAT", "DONE", "dead_mask", "fill_dead_channels"]

#: longest run of dead channels filled
MAX_RUN = 8
#: the level on both sides must exceed this many counts (e^-28 ~ 7e-13) ...
MIN_COUNTS = 28.0
#: ... and this many times the local scatter
SIGMA = 6.0
#: channels whose median gives the level on each side (and the margin from either end)
SIDE = 5
#: what a dead channel is and what was done, for the user (predict's note, map's log)
WHAT = "reading nothing between live channels"
DONE = "filled from the levels on either side"


def _runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, first, last) of every run of channels <= 0 in x (N, n) that has live channels on both
    sides, is at most MAX_RUN long and lies SIDE channels from either end."""
    low = x <= 0
    padded = np.zeros((x.shape[0], x.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = low
    step = np.diff(padded, axis=1)
    rows, first = np.nonzero(step == 1)              # run starts (in x's channels)
    _, stop = np.nonzero(step == -1)                  # one past each run's end, same order
    last = stop - 1
    ok = ((last - first + 1 <= MAX_RUN) & (first >= SIDE) & (last <= x.shape[1] - 1 - SIDE))
    return rows[ok], first[ok], last[ok]


def _dead_runs(x: np.ndarray):
    rows, first, last = _runs(x)
    if not rows.size:
        return rows, first, last, np.zeros(0), np.zeros(0)
    k = np.arange(1, SIDE + 1)
    before = x[rows[:, None], first[:, None] - k]
    after = x[rows[:, None], last[:, None] + k]
    mid = SIDE // 2
    left = np.partition(before, mid, axis=1)[:, mid]
    right = np.partition(after, mid, axis=1)[:, mid]
    diffs = np.concatenate([np.abs(np.diff(before, axis=1)), np.abs(np.diff(after, axis=1))], axis=1)
    scatter = 1.4826 / math.sqrt(2.0) * np.partition(diffs, diffs.shape[1] // 2, axis=1)[:, diffs.shape[1] // 2]
    level = np.minimum(left, right)
    dead = (level > MIN_COUNTS) & (level > SIGMA * scatter)
    return rows[dead], first[dead], last[dead], left[dead], right[dead]


def dead_mask(data) -> np.ndarray:
    """Where the dead channels are (module docstring): bool of ``data``'s shape (..., n)."""
    x = np.asarray(data, dtype=np.float64)
    flat = x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)
    mask = np.zeros(flat.shape, dtype=bool)
    rows, first, last, _, _ = _dead_runs(flat)
    for length in np.unique(last - first + 1):       # at most MAX_RUN lengths
        pick = last - first + 1 == length
        cols = first[pick, None] + np.arange(length)
        mask[rows[pick, None], cols] = True
    return mask.reshape(x.shape)


def fill_dead_channels(data) -> tuple[np.ndarray, np.ndarray]:
    """``(filled, mask)``: ``data`` (..., n) with every dead run replaced by the straight line between
    the levels beside it (float64; a copy only where something was filled), and :func:`dead_mask`."""
    x = np.asarray(data, dtype=np.float64)
    flat = x.reshape(-1, x.shape[-1])
    rows, first, last, left, right = _dead_runs(flat)
    mask = np.zeros(flat.shape, dtype=bool)
    if not rows.size:
        return x, mask.reshape(x.shape)
    flat = flat.copy()
    for length in np.unique(last - first + 1):
        pick = last - first + 1 == length
        t = np.arange(1, length + 1) / (length + 1)             # fractions between the two sides
        cols = first[pick, None] + np.arange(length)
        flat[rows[pick, None], cols] = left[pick, None] + (right[pick] - left[pick])[:, None] * t
        mask[rows[pick, None], cols] = True
    return flat.reshape(x.shape), mask.reshape(x.shape)
