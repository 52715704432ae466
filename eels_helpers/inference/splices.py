"""Spliced spectra: find the step where two acquisitions were joined, and leave out what lies below.

Full-range spectra (Gatan's EELS Atlas, DualEELS, spectra stitched from several exposures) are
often spliced: a low-energy segment recorded with another exposure or gain is joined to the
core-loss segment, and the join is a step by a factor of 20-500 within a few eV that no core-loss
edge makes. The networks read such a step as an edge: the element whose onset sits at the join
is named (a splice at 198 eV gave "Cl" for a Cr2O3 spectrum, one at 220 eV "Nb" for Cu). A
microscopist would use the core-loss segment only; :func:`cut_splices` does that: the channels
below the step are set to zero, so the network sees a window that starts at the top of the step
(the networks are trained on windows that start anywhere).

The test, on the network's 1-eV grid: for each channel j of the window, the smallest of the five
channels ``RISE_EV`` eV after the block x[j:j+5] over the largest of that block,

    R(j) = min x[j+5+d : j+10+d] / max x[j : j+5],   d = RISE_EV,

where the block x[j:j+5] lies inside the window (from its fourth channel on: the spline's
ends), is positive and smooth (its largest channel below twice its smallest: a
background-subtracted pre-edge, noise about zero, never qualifies). A splice is where R exceeds
``SPLICE_RATIO``; the cut is at the channel j+5+d where the upper level has been reached. Why 20:
no core-loss edge comes near it. The edges with the sharpest rise over a power law (N K of N2
gas, the L2,3 white lines of Sc and Ca, Ar L2,3) reach R = 4-7 in the project's measured spectra,
and 99.9 % of the simulator's spectra stay below 12 (2,048 spectra of the paper's configuration:
largest 24; a test checks the simulated side).
A step down (the upper segment scaled down) is not handled: it was not met in measured spectra.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SPLICE_RATIO", "BLOCK_EV", "RISE_EV", "splice_ratio", "cut_splices", "splice_summary"]

#: a step larger than this factor (R(j) of the module docstring) is a splice
SPLICE_RATIO = 20.0
#: the width of the blocks compared before and after the step (channels of 1 eV)
BLOCK_EV = 5
#: how far after the block before the step the upper level is read (eV): the join's width
RISE_EV = 10
#: splices cut per spectrum at most (each cut may reveal another step above it)
MAX_CUTS = 3


def splice_ratio(inputs: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """The largest step ratio R (module docstring) of each spectrum and the channel where the cut
    would go. inputs: (n, 3072) on the network's 1-eV grid, zero outside the window (any scale).
    Returns ``(ratio (n,) float64, cut (n,) int64)``; ratio 0 where no block qualifies. Spectra
    are taken ``chunk`` at a time (memory: about 40 bytes per channel and spectrum of a chunk)."""
    x = np.asarray(inputs)
    if x.ndim != 2:
        raise ValueError(f"inputs must be (n, channels), got shape {x.shape}")
    ratio, cut = np.zeros(len(x)), np.zeros(len(x), np.int64)
    for a in range(0, len(x), chunk):
        ratio[a:a + chunk], cut[a:a + chunk] = _largest_step(x[a:a + chunk])
    return ratio, cut


def _largest_step(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_ch = x.shape[1]
    k, d = BLOCK_EV, RISE_EV
    m = n_ch - 2 * k - d                          # blocks x[j:j+k] whose upper block fits
    if m <= 0:
        return np.zeros(len(x)), np.zeros(len(x), np.int64)
    x = x.astype(np.float32, copy=False)
    shifted = [x[:, i: n_ch - k + 1 + i] for i in range(k)]        # block j = x[:, j:j+k]
    block_max, block_min = np.maximum.reduce(shifted), np.minimum.reduce(shifted)
    before_max, before_min = block_max[:, :m], block_min[:, :m]
    after_min = block_min[:, k + d: k + d + m]
    first = np.argmax(x != 0, axis=1)
    j = np.arange(m)
    ok = (before_min > 0) & (before_max < 2 * before_min) & (j[None, :] >= first[:, None] + 3)
    ratio = np.where(ok, after_min / np.where(ok, before_max, 1.0), 0.0)
    at = ratio.argmax(axis=1)
    return ratio[np.arange(len(x)), at].astype(np.float64), at + k + d


def cut_splices(inputs: np.ndarray, ratio: float = SPLICE_RATIO) -> tuple[np.ndarray, np.ndarray]:
    """Zero the channels below every splice (module docstring) of each spectrum.

    inputs: (..., 3072) on the network's 1-eV grid (channel i = i eV), zero outside the window.
    ratio: the step factor above which a step is a splice. Returns ``(cut inputs (same shape and
    dtype; a copy only where something is cut), cut_eV (...,) float64: the energy below which
    the counts were left out, NaN where nothing was cut)``.
    """
    if not ratio > 1:
        raise ValueError(f"ratio must be a step factor above 1, got {ratio}")
    x = np.asarray(inputs)
    flat = x.reshape(-1, x.shape[-1])
    cut_eV = np.full(len(flat), np.nan)
    out = flat
    rows = np.arange(len(flat))
    for _ in range(MAX_CUTS):
        r, at = splice_ratio(out if rows.size == len(out) else out[rows])   # all rows: no copy
        hit = r > ratio
        if not hit.any():
            break
        if out is flat:
            out = flat.copy()
        rows, at = rows[hit], at[hit]
        out[rows] = np.where(np.arange(out.shape[1])[None, :] >= at[:, None], out[rows], 0)
        cut_eV[rows] = at.astype(np.float64)
    return out.reshape(x.shape), cut_eV.reshape(x.shape[:-1])


def splice_summary(cut_eV: np.ndarray, where: str) -> str:
    """One line for the user about the cuts :func:`cut_splices` made (``cut_eV`` (...,), NaN:
    none) in the spectra of ``where``; empty when nothing was cut."""
    cuts = np.asarray(cut_eV, dtype=np.float64).ravel()
    done = cuts[np.isfinite(cuts)]
    if not done.size:
        return ""
    return (f"{where}: {done.size} of {cuts.size} spectra are spliced; the counts below the splice "
            f"({', '.join(f'{e:.0f}' for e in np.unique(done)[:5])} eV) were left out")
