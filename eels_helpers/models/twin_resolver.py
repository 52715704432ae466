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

__all__ = ["WINDOW_BELOW_EV", "WINDOW_CHANNELS", "LATE_START_MAX", "TwinResolver", "twin_windows"]

#: the window starts this far below the lower of the two onsets (eV) ...
WINDOW_BELOW_EV = 26
#: ... and holds this many 1 eV channels of the network input
WINDOW_CHANNELS = 95
#: with ``late_start``, a window whose first channels (at most this many: the first measured one at least
#: 5 eV below the lower onset) are unmeasured is read with them set to the first measured value
LATE_START_MAX = WINDOW_BELOW_EV - 5


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


def twin_windows(inputs: np.ndarray, start_channel: int, late_start: bool = False) -> tuple[torch.Tensor, np.ndarray]:
    """The windows [start, start + WINDOW_CHANNELS) of network inputs (n, 3072) (1 eV channels),
    each minus the mean of its first five channels and divided by its largest |value|, as a
    (n, 1, WINDOW_CHANNELS) float32 tensor; and (n,) bool: the window is measured (no zero channel).
    With ``late_start`` a window whose unmeasured channels are one leading run of at most
    :data:`LATE_START_MAX` (a spectrum that starts, or is cut at a splice, just before the edges)
    counts as measured, read with those channels set to the first measured value (experiment W28)."""
    x = np.asarray(inputs, dtype=np.float32).reshape(-1, np.shape(inputs)[-1])
    if not 0 <= start_channel <= x.shape[1] - WINDOW_CHANNELS:
        raise ValueError(f"twin window start {start_channel} eV must lie in 0..{x.shape[1] - WINDOW_CHANNELS}")
    w = x[:, start_channel:start_channel + WINDOW_CHANNELS]
    measured = w != 0
    ok = measured.all(axis=1)
    if late_start:
        first = np.argmax(measured, axis=1)                      # the first measured channel
        channel = np.arange(WINDOW_CHANNELS)[None, :]
        late = (~ok & measured.any(axis=1) & (first <= LATE_START_MAX)
                & (measured | (channel < first[:, None])).all(axis=1))   # measured from there on
        if late.any():
            w = w.copy()
            w[late] = np.where(channel < first[late, None], w[late, first[late]][:, None], w[late])
            ok = ok | late
    w = w - w[:, :5].mean(axis=1, keepdims=True)
    w = w / np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12)
    return torch.from_numpy(np.ascontiguousarray(w[:, None])), ok
