"""inference.memory: an image too large for the memory available is refused before any work."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.inference import memory
from eels_helpers.inference.memory import BYTES_PER_PIXEL, check_memory, needed_memory_bytes


def test_the_estimate_keeps_no_network_input_per_spectrum():
    """map and predict (M40, M41) hold 1,280 bytes per pixel, one block's network input and the twin pass:
    under half of the 12 KiB of network input per pixel that session 39's code kept at 512 x 512, and
    growing by BYTES_PER_PIXEL per pixel; session 40's measurement beyond the 2 GiB image (512 x 512,
    the process's own ~0.4 GiB included: 1.0 GiB) bounds it."""
    small, large = (needed_memory_bytes(s * s, 2048) for s in (256, 512))
    assert large < 512 * 512 * 3072 * 4 / 2 and 0.3 * 2**30 < large < 1.2 * 2**30
    assert large - small == (512 * 512 - 256 * 256) * BYTES_PER_PIXEL
    assert needed_memory_bytes(10, 2048) < needed_memory_bytes(10, 4096) < 2**22


def test_available_memory_is_a_positive_figure_or_unknown():
    available = memory.available_memory_bytes()
    assert available is None or available > 0


def test_too_large_an_image_names_itself_and_both_figures(monkeypatch):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 2**30)
    with pytest.raises(MemoryError, match=r"si\.dm4: 262,144 spectra need about 1\.1 GiB beyond the loaded image.*"
                                          r"but 1\.0 GiB are available; crop or bin"):
        check_memory(512 * 512, 2048, "si.dm4")
    check_memory(64 * 64, 2048, "si.dm4")                          # fits: silent
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: None)
    check_memory(10**9, 2048, "si.dm4")                            # unknown: not refused


def test_map_and_predict_refuse_before_the_network(monkeypatch):
    """The check comes before any spectrum is pre-processed (map: before the model is loaded)."""
    from eels_helpers.inference.mapping import map_elements
    from eels_helpers.inference.predict import predict

    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1024)
    energy = 300.0 + np.arange(400.0)
    image = np.ones((4, 5, energy.size), np.float32)
    with pytest.raises(MemoryError, match="20 spectra need about .* one block at a time"):
        map_elements(image, "no-such-model", energy_eV=energy)
    with pytest.raises(MemoryError, match="20 spectra need about .* one block at a time"):
        predict(image, "default", energy_eV=energy)
