"""Detector artefacts of real spectra, for the failure analysis
(:mod:`eels_helpers.evaluation.failure_analysis`): :func:`note_artefacts` reads them from a
manifest's ``notes`` text, :func:`detect_artefacts` finds them in the counts (gain-change steps,
dead channels, zero channels at the start of the window).
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

__all__ = ["note_artefacts", "detect_artefacts"]

_NOTE_PATTERNS = (
    ("gain_step", re.compile(r"intensity step x\s*[0-9.eE+-]+ at (?P<eV>-?[0-9.]+) eV")),
    ("gain_step", re.compile(r"(?:step|drop|jump) (?:at |above |beyond |>\s*)(?P<eV>[0-9.]+) eV")),
    ("dead_channels", re.compile(r"\d+ channels dead/zero \(from (?P<eV>-?[0-9.]+) eV\)")),
    ("leading_zeros", re.compile(r"first \d+ channels ~?zero \(up to (?P<eV>-?[0-9.]+) eV\)")),
)
_NOTE_WORDS = (("gain_step", ("gain",)), ("dead_channels", ("dead",)), ("spikes", ("spike",)),
               ("saturation", ("saturat",)), ("zero_loss", ("zero-loss", "zero loss")))


def note_artefacts(notes: str) -> list[tuple[str, float | None]]:
    """Artefacts named in a manifest ``notes`` text: ``[(kind, position eV or None), ...]``.

    Positions come from the phrases "intensity step xF at E eV" (a gain-change or splice step),
    "step/drop/jump at (or above, beyond, >) E eV", "N channels dead/zero (from E eV)" and
    "first N channels ~zero (up to E eV)"; the words
    gain, dead, spike, saturat(ed/ion) and zero-loss without such a phrase give an artefact
    without position (zero-loss at 0 eV: the pre-processing cuts it).
    """
    text = str(notes or "")
    found: list[tuple[str, float | None]] = []
    for kind, pattern in _NOTE_PATTERNS:
        found += [(kind, float(m.group("eV"))) for m in pattern.finditer(text)
                  if (kind, float(m.group("eV"))) not in found]
    lower = text.lower()
    for kind, words in _NOTE_WORDS:
        if any(w in lower for w in words) and not any(k == kind for k, _ in found):
            if kind == "gain_step" and re.search(r"intensity step", lower):
                continue
            found.append((kind, 0.0 if kind == "zero_loss" else None))
    return found


def detect_artefacts(energy_eV: np.ndarray, counts: np.ndarray, edges_eV: Sequence[float] = (),
                     step_factor: float = 3.0, edge_guard_eV: float = 15.0) -> list[tuple[str, float]]:
    """Artefacts found in a spectrum's counts (vectorised over channels).

    Parameters
    ----------
    energy_eV : numpy.ndarray, shape (n,)
        the axis (eV), increasing.
    counts : numpy.ndarray, shape (n,)
        the counts of one spectrum.
    edges_eV : sequence of float
        onsets (eV) of the labelled elements' edges: a rise within ``edge_guard_eV`` of one is an
        edge, not a step.
    step_factor : float
        a step is a change of the median of the 5 channels after a channel over the 5 before by
        more than this factor (either way; edges never drop, so every drop counts), both medians
        clearly above zero (over 3 times the mean absolute deviation from them and, for
        integer counts, over 3 Poisson sigmas).
    edge_guard_eV : float
        see ``edges_eV``.

    Returns
    -------
    list of (kind, position eV)
        ``gain_step`` (the first channel of each run of steps), ``dead_channels`` (runs of zero
        counts between clearly non-zero ones, or at the end), ``leading_zeros`` (zero counts at the start
        of the window, for more than 5 channels: the end of the run).
    """
    e = np.asarray(energy_eV, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    if e.shape != c.shape or e.ndim != 1:
        raise ValueError(f"energy_eV {e.shape} and counts {c.shape} must be 1-D of the same length")
    out: list[tuple[str, float]] = []
    n, k = c.size, 5
    zero = c <= 0
    if n < 2 * k + 1:
        return out
    nonzero = np.flatnonzero(~zero)
    if nonzero.size == 0:
        return [("dead_channels", float(e[0]))]
    first, last = nonzero[0], nonzero[-1]
    if first > 5:
        out.append(("leading_zeros", float(e[first])))
    if n - 1 - last > 1:
        out.append(("dead_channels", float(e[last + 1])))
    windows = np.lib.stride_tricks.sliding_window_view(c[first:last + 1], k)
    med = np.median(windows, axis=1)
    # clearly above zero: the median of k channels over 3 times their mean absolute deviation
    # from it and, for integer counts, over 3 Poisson sigmas (above 9 counts); noisy near-zero
    # regions give no artefact
    clear = med > 3.0 * np.mean(np.abs(windows - med[:, None]), axis=1)
    if np.all(c == np.round(c)):
        clear &= med > 3.0 * np.sqrt(np.maximum(med, 0.0))
    inner = zero[first:last + 1]
    if inner.any():
        starts = np.flatnonzero(inner & ~np.r_[False, inner[:-1]])
        ends = np.flatnonzero(inner & ~np.r_[inner[1:], False])
        for s_, t_ in zip(starts, ends):
            if s_ >= k and t_ + 1 < clear.size and clear[s_ - k] and clear[t_ + 1]:
                out.append(("dead_channels", float(e[first + s_])))
    if windows.shape[0] > k:
        before, after = med[:-k - 1], med[k + 1:]       # channels i-k..i-1 and i+1..i+k
        valid = clear[:-k - 1] & clear[k + 1:]
        ratio = np.where(valid, after / np.where(valid, before, 1.0), 1.0)
        position = e[first + k + np.arange(ratio.size)]
        near_edge = np.zeros(ratio.size, dtype=bool)
        for onset in edges_eV:
            near_edge |= np.abs(position - onset) <= edge_guard_eV
        step = (ratio < 1.0 / step_factor) | ((ratio > step_factor) & ~near_edge)
        starts = np.flatnonzero(step & ~np.r_[False, step[:-1]])
        out += [("gain_step", float(position[s])) for s in starts]
    return out
