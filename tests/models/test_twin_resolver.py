"""The twin resolver's network and its input window."""

import numpy as np
import pytest
import torch

from eels_helpers.models.twin_resolver import WINDOW_CHANNELS, TwinResolver, twin_windows


def test_windows_are_baseline_subtracted_scaled_and_flag_unmeasured_channels():
    x = np.zeros((3, 3072), np.float32)
    x[0, 300:500] = np.linspace(1.0, 3.0, 200)
    x[1, 375:470] = 2.0
    x[1, 420] = 6.0                              # a line on a flat window
    x[2, 380:] = 1.0                             # starts inside the window: not measured
    w, ok = twin_windows(x, 375)
    assert w.shape == (3, 1, WINDOW_CHANNELS) and w.dtype == torch.float32
    assert ok.tolist() == [True, True, False]
    assert float(w[1, 0, 420 - 375]) == pytest.approx(1.0) and float(w[1, 0, 0]) == pytest.approx(0.0)
    assert float(w[0].abs().max()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="twin window start"):
        twin_windows(x, 3000)


def test_resolver_gives_one_logit_per_window():
    net = TwinResolver().eval()
    w, _ = twin_windows(np.random.default_rng(0).random((4, 3072)).astype(np.float32), 375)
    with torch.no_grad():
        assert net(w).shape == (4,)
