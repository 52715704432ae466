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


def test_window_coverage_tells_whole_late_and_early_windows_apart_and_early_ones_are_read_padded():
    """E37: a window whose last channels (at most EARLY_END_MAX: the last measured one >= 30 eV above
    the lower onset) are unmeasured ends early and, with ``early_end``, is read with them set to the
    last measured value; a start too late, an end too early or a gap inside stays unmeasured."""
    from eels_helpers.models.twin_resolver import EARLY_END_MAX, LATE_START_MAX, WINDOW_BELOW_EV, window_coverage

    assert EARLY_END_MAX == WINDOW_CHANNELS - WINDOW_BELOW_EV - 30 == 39
    start = 258
    x = np.zeros((6, 3072), np.float32)
    x[:] = np.linspace(5.0, 1.0, 3072)
    x[1, :start + 10] = 0.0                              # starts 10 channels into the window: late
    x[2, start + WINDOW_CHANNELS - 9:] = 0.0             # ends 9 channels early (a C K window to 344 eV)
    x[3, start + WINDOW_CHANNELS - EARLY_END_MAX - 1:] = 0.0   # ends one channel too early
    x[4, :start + LATE_START_MAX + 1] = 0.0              # starts one channel too late
    x[5, start + 40] = 0.0                               # a dead channel inside
    whole, late, early = window_coverage(x, start)
    assert whole.tolist() == [True] + [False] * 5
    assert late.tolist() == [False, True, False, False, False, False]
    assert early.tolist() == [False, False, True, False, False, False]
    assert twin_windows(x, start)[1].tolist() == whole.tolist()
    assert twin_windows(x, start, late_start=True)[1].tolist() == (whole | late).tolist()
    w, ok = twin_windows(x, start, early_end=True)
    assert ok.tolist() == (whole | early).tolist()
    flat = x[2].copy()
    flat[start + WINDOW_CHANNELS - 9:start + WINDOW_CHANNELS] = flat[start + WINDOW_CHANNELS - 10]
    assert torch.allclose(w[2], twin_windows(flat[None], start)[0][0])
    both = twin_windows(x, start, late_start=True, early_end=True)
    assert both[1].tolist() == (whole | late | early).tolist()
    assert torch.equal(both[0][1], twin_windows(x, start, late_start=True)[0][1])
