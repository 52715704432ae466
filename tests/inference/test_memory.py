"""inference.memory: an image too large for the memory available is refused before any work."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.inference import memory
from eels_helpers.inference.memory import BYTES_PER_SPECTRUM, check_memory, needed_memory_bytes


def test_the_estimate_holds_the_network_input_of_every_spectrum():
    """12 KiB of network input per spectrum (3,072 float32), plus one pre-processing block; the
    session-39 measurements (beyond the image, the process's own ~0.4 GiB included: 1.4 and 3.8
    GiB) bracket it."""
    assert BYTES_PER_SPECTRUM >= 3072 * 4
    small, large = needed_memory_bytes(256 * 256, 2048), needed_memory_bytes(512 * 512, 2048)
    assert 0.9 < small / 2**30 < 1.4 and 3.3 < large / 2**30 < 3.9
    assert needed_memory_bytes(10, 2048) < needed_memory_bytes(10, 4096) < 2**22


def test_map_keeps_no_network_input():
    """map (keeps_inputs=False) holds 1,280 bytes per pixel, one block's inputs and the twin pass (M40):
    under a third of predict's need at 512 x 512, and growing by BYTES_PER_PIXEL per pixel."""
    from eels_helpers.inference.memory import BYTES_PER_PIXEL

    small, large = (needed_memory_bytes(s * s, 2048, keeps_inputs=False) for s in (256, 512))
    assert large < needed_memory_bytes(512 * 512, 2048) / 3 and large < 1.2 * 2**30
    assert large - small == (512 * 512 - 256 * 256) * BYTES_PER_PIXEL


def test_available_memory_is_a_positive_figure_or_unknown():
    available = memory.available_memory_bytes()
    assert available is None or available > 0


def test_too_large_an_image_names_itself_and_both_figures(monkeypatch):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 2**30)
    with pytest.raises(MemoryError, match=r"si\.dm4: 262,144 spectra need about 3\.\d GiB beyond the loaded image.*"
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
    with pytest.raises(MemoryError, match="20 spectra need about"):
        predict(image, "default", energy_eV=energy)
