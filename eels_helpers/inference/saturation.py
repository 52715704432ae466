"""Saturated spectra: find the flat top where the detector or its converter clipped, and leave out
what lies below its end.

A detector channel that overflows (a CCD pixel's full well, a 15- or 16-bit converter at 32,767
or 65,535, a counting detector's maximum rate) records the same number over a run of channels
instead of the spectrum: a flat top at the spectrum's maximum, usually at the intense
low-energy end of the window. Three of the EELS Atlas spectra of the project's validation set
show one (CsF: 72 channels at 460,800 counts from 65 eV; Se: 122 channels at 522,240 from
228 eV; N2: 14 channels at 32,766 from 148 eV). The plateau carries no information about the
specimen, and its end is an artificial step that the networks read as an edge (Se's plateau,
228-470 eV, gave "N" and "Ag"). A microscopist would use the part above it; the pre-processing
does that (:func:`eels_helpers.inference.preprocess.preprocess`, ``cut_saturated``), as it does
for joins (:mod:`eels_helpers.inference.splices`).

The test, on the recorded counts (before any rebinning or interpolation): at least
``MIN_RUN`` consecutive channels inside the networks' window (75-3071 eV) exactly equal to the
spectrum's largest value there. Measured counts are never equal over five neighbours (Poisson
counts of mean N are equal for a pair with probability about 1/sqrt(4 pi N): 0.009 at N = 1000,
so four equal pairs ~1e-8), and the fill values some files put outside the recorded range (0.1,
-1) are not the maximum. The counts up to ``MARGIN_EV`` above the end of the last such run are
left out (the interpolating spline rings for a few eV beside the plateau's end); a top that
reaches the window's end (a constant spectrum) leaves nothing to use and is not cut.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MIN_RUN", "MARGIN_EV", "saturated_end_eV", "saturation_summary"]

#: a run of at least this many channels at the maximum is a saturation
MIN_RUN = 5
#: counts are left out up to this far (eV) above the end of the plateau
MARGIN_EV = 2.0


def saturated_end_eV(data, energy_eV, lo_eV: float = 75.0, hi_eV: float = 3071.0) -> np.ndarray:
    """The energy (eV) of the last channel of the last saturated run (module docstring) of each
    spectrum, NaN where there is none.

    data: (..., n) counts; energy_eV: (n,) increasing, in the networks' frame (offset already
    subtracted); only channels in [lo_eV, hi_eV] are looked at. Returns (...,) float64."""
    x = np.asarray(data)
    E = np.asarray(energy_eV, dtype=np.float64)
    if x.shape[-1:] != E.shape:
        raise ValueError(f"data shape {x.shape} does not end with the {E.size} channels of energy_eV")
    win = np.flatnonzero((E >= lo_eV) & (E <= hi_eV))
    flat = x.reshape(-1, x.shape[-1])
    out = np.full(len(flat), np.nan)
    if win.size < MIN_RUN:
        return out.reshape(x.shape[:-1])
    w = flat[:, win]
    top = w.max(axis=1, keepdims=True)
    at_top = (w == top) & (top > 0)
    c = np.concatenate([np.zeros((len(w), 1), np.int64), np.cumsum(at_top, axis=1)], axis=1)
    full = (c[:, MIN_RUN:] - c[:, :-MIN_RUN]) == MIN_RUN          # channels j..j+MIN_RUN-1 at the top
    last = full.shape[1] - 1 - np.argmax(full[:, ::-1], axis=1) + MIN_RUN - 1
    has = full.any(axis=1) & (last < win.size - MIN_RUN)     # something recorded above the top
    out[has] = E[win][last[has]]
    return out.reshape(x.shape[:-1])


def saturation_summary(end_eV: np.ndarray, where: str) -> str:
    """One line for the user about the saturated spectra (``end_eV`` of :func:`saturated_end_eV`,
    NaN: none) of ``where``; empty when none is."""
    ends = np.asarray(end_eV, dtype=np.float64).ravel()
    done = ends[np.isfinite(ends)]
    if not done.size:
        return ""
    return (f"{where}: {done.size} of {ends.size} spectra are saturated (a flat top at their maximum, "
            f"to {', '.join(f'{e:.0f}' for e in np.unique(np.round(done))[:5])} eV); the counts below "
            f"its end were left out")
