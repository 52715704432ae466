"""Twin resolver: a small 1D CNN that tells two onset twins apart (N K 401 eV / Sc L3 402 eV) from
a 95 eV window of the network input around their onsets.

The main networks read 3,072 channels for 80 outputs and report both twins on about half of the
simulated spectra that hold one of them; this network, trained on simulated spectra with exactly
one twin labelled (:mod:`eels_helpers.training.twin_resolver`), reads only the window and says
which twin it is (docs/research-log.md, session 23, experiments R23b/R23c). Figure, top to bottom:
three 5-tap convolutions (32, 32, 64 channels) with ReLU, two max-poolings, a 64-unit dense layer,
one logit: that of the second twin of the pair.

A presence resolver (``presence=True``; session 26, experiment K26: C/K, where carbon contamination
makes both twins common) reads the same window, but its logit says whether the second twin is
there at all, whatever the first: trained on spectra with either or both twins labelled.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["WINDOW_BELOW_EV", "WINDOW_CHANNELS", "LATE_START_MAX", "EARLY_END_MAX", "TwinResolver", "twin_windows",
           "window_coverage"]

#: the window starts this far below the lower of the two onsets (eV) ...
WINDOW_BELOW_EV = 26
#: ... and holds this many 1 eV channels of the network input
WINDOW_CHANNELS = 95
#: with ``late_start``, a window whose first channels (at most this many: the first measured one at least
#: 5 eV below the lower onset) are unmeasured is read with them set to the first measured value
LATE_START_MAX = WINDOW_BELOW_EV - 5
#: with ``early_end``, a window whose last channels (at most this many: the last measured one at least
#: 30 eV above the lower onset) are unmeasured is read with them set to the last measured value (E37)
EARLY_END_MAX = WINDOW_CHANNELS - WINDOW_BELOW_EV - 30


class TwinResolver(nn.Module):
    """(n, 1, WINDOW_CHANNELS) windows -> (n,) logits of the pair's second twin (``presence``: of
    its presence, the first twin's left open; else: which of the two it is)."""

    def __init__(self, presence: bool = False):
        super().__init__()
        self.presence = bool(presence)
        self.layers = nn.Sequential(
            nn.Conv1d(1, 32, 5, padding=2), nn.ReLU(),
            nn.Conv1d(32, 32, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Flatten(), nn.Linear(64 * (WINDOW_CHANNELS // 4), 64), nn.ReLU(),
            nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).squeeze(1)


def window_coverage(inputs: np.ndarray, start_channel: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n,) bool each, for the windows [start, start + WINDOW_CHANNELS) of network inputs (n, 3072):
    ``whole`` (no zero channel), ``late`` (the unmeasured channels are one leading run of at most
    :data:`LATE_START_MAX`: a spectrum that starts, or is cut at a splice, just before the edges) and
    ``early`` (one trailing run of at most :data:`EARLY_END_MAX`: a spectrum that ends soon after them)."""
    x = np.asarray(inputs, dtype=np.float32).reshape(-1, np.shape(inputs)[-1])
    if not 0 <= start_channel <= x.shape[1] - WINDOW_CHANNELS:
        raise ValueError(f"twin window start {start_channel} eV must lie in 0..{x.shape[1] - WINDOW_CHANNELS}")
    measured = x[:, start_channel:start_channel + WINDOW_CHANNELS] != 0
    whole, some = measured.all(axis=1), measured.any(axis=1)
    channel = np.arange(WINDOW_CHANNELS)[None, :]
    first = np.argmax(measured, axis=1)                                  # the first measured channel
    last = WINDOW_CHANNELS - 1 - np.argmax(measured[:, ::-1], axis=1)    # the last measured channel
    late = ~whole & some & (first <= LATE_START_MAX) & (measured | (channel < first[:, None])).all(axis=1)
    early = (~whole & some & (last >= WINDOW_CHANNELS - 1 - EARLY_END_MAX)
             & (measured | (channel > last[:, None])).all(axis=1))
    return whole, late, early


def twin_windows(inputs: np.ndarray, start_channel: int, late_start: bool = False,
                 early_end: bool = False, coverage=None) -> tuple[torch.Tensor, np.ndarray]:
    """The windows [start, start + WINDOW_CHANNELS) of network inputs (n, 3072) (1 eV channels),
    each minus the mean of its first five channels and divided by its largest |value|, as a
    (n, 1, WINDOW_CHANNELS) float32 tensor; and (n,) bool: the window is measured (no zero channel).
    With ``late_start`` a window that starts late (:func:`window_coverage`) counts as measured, read
    with its first channels set to the first measured value (experiment W28); with ``early_end`` one
    that ends early, its last channels set to the last measured value (experiment E37). ``coverage``:
    :func:`window_coverage` of the same inputs where the caller already has it."""
    x = np.asarray(inputs, dtype=np.float32).reshape(-1, np.shape(inputs)[-1])
    whole, late, early = window_coverage(x, start_channel) if coverage is None else coverage
    w, ok = x[:, start_channel:start_channel + WINDOW_CHANNELS], whole
    if late_start and late.any():
        w, ok = _padded(w, late, leading=True), ok | late
    if early_end and early.any():
        w, ok = _padded(w, early, leading=False), ok | early
    w = w - w[:, :5].mean(axis=1, keepdims=True)
    w = w / np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12)
    return torch.from_numpy(np.ascontiguousarray(w[:, None])), ok


def _padded(w: np.ndarray, rows: np.ndarray, leading: bool) -> np.ndarray:
    """A copy of windows ``w`` (n, WINDOW_CHANNELS) whose ``rows`` have their unmeasured leading
    (``leading``) or trailing channels set to the first or last measured value."""
    m = w[rows] != 0
    channel = np.arange(w.shape[1])[None, :]
    if leading:
        edge = np.argmax(m, axis=1)
        outside = channel < edge[:, None]
    else:
        edge = w.shape[1] - 1 - np.argmax(m[:, ::-1], axis=1)
        outside = channel > edge[:, None]
    w = w.copy()
    w[rows] = np.where(outside, w[rows, edge][:, None], w[rows])
    return w
