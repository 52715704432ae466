"""inference.image_blocks: a spectrum image identified block by block equals the whole image at once,
and no block holds more than its pixels' network inputs (M40)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support import artefact_image, terminal_stderr

from eels_helpers.inference import image_blocks, predict
from eels_helpers.inference.image_blocks import block_size, inputs_of_pixels, probabilities_in_blocks
from eels_helpers.inference.predict import _as_loaded, run_model
from eels_helpers.inference.preprocess import preprocess
from eels_helpers.spectrum import Spectrum


class _Linear(torch.nn.Module):
    """A fixed random linear network: each output depends on the whole input."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(80, 3072, generator=torch.Generator().manual_seed(3)) * 0.05)

    def forward(self, x):
        return x @ self.weight.T


def _cube():
    cube, energy = artefact_image()               # a spike, dead channels, a saturated top
    return Spectrum(cube.astype(np.float32), energy)


def test_blocks_are_whole_network_batches():
    assert block_size(256) == image_blocks.BLOCK and block_size(300) % 300 == 0
    assert block_size(10**6) == 10**6 and block_size(1) == image_blocks.BLOCK


def test_blocks_equal_the_whole_image_at_once(monkeypatch):
    """Probabilities, splice cuts, saturation ends and repairs of 15 pixels in blocks of 4 equal those of
    one pre-processing and one network pass over all of them; the network is prepared once."""
    si, loaded = _cube(), _as_loaded(_Linear(), "cpu")
    x, cuts, sat, repaired = preprocess(si, return_cuts=True, return_saturation=True, return_repairs=True)
    whole = run_model(loaded, x, batch_size=2)
    prepared = []
    monkeypatch.setattr(predict, "prepared_network",
                        lambda *a, **k: prepared.append(a[1]) or predict.frozen_copy(a[0].model))
    monkeypatch.setattr(image_blocks, "BLOCK", 4)
    blocks = probabilities_in_blocks(si, loaded, batch_size=2)
    assert prepared == [15]                       # once, for all pixels
    assert blocks.probabilities.shape == (3, 5, 80) and blocks.inputs is None   # several blocks: none kept
    np.testing.assert_allclose(blocks.probabilities, whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(blocks.splice_cut_eV, cuts)
    np.testing.assert_array_equal(blocks.saturated_below_eV, sat)
    assert np.isfinite(sat[2, 4])
    for field in ("spike_count", "spikes_eV", "dead_count", "dead_eV", "step_count", "steps_eV"):
        np.testing.assert_array_equal(getattr(blocks.repairs, field), getattr(repaired, field), err_msg=field)
    assert blocks.repairs.spike_count[0, 1] >= 1 and blocks.repairs.dead_count[1, 3] >= 1
    np.testing.assert_allclose(blocks.mean_input, x.reshape(15, -1).mean(axis=0), rtol=1e-5, atol=1e-7)


def test_predict_identifies_a_spectrum_image_block_by_block(monkeypatch):
    """``predict`` on a spectrum image runs blocks (M41): the same probabilities, records and decision as
    the network over every pixel's input at once, the mean input for its figure, no input kept."""
    si, loaded = _cube(), _as_loaded(_Linear(), "cpu")
    x, cuts, sat, repaired = preprocess(si, return_cuts=True, return_saturation=True, return_repairs=True)
    whole = run_model(loaded, x, batch_size=2)
    monkeypatch.setattr(image_blocks, "BLOCK", 4)
    # keep_twins: the network's own probabilities (the twin resolvers would set a dropped twin's to 0, P41)
    [one] = predict.predict(si, loaded, batch_size=2, threshold=0.5, keep_twins=True)
    assert one.inputs is None and one.mean_input.shape == (3072,)
    np.testing.assert_allclose(one.mean_input, x.reshape(15, -1).mean(axis=0), rtol=1e-5, atol=1e-7)
    has_signal = one.probabilities.reshape(15, 80).any(axis=1)     # pixels the structure test keeps
    assert has_signal.any()
    np.testing.assert_allclose(one.probabilities.reshape(15, 80)[has_signal], whole.reshape(15, 80)[has_signal],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(one.splice_cut_eV, cuts)
    np.testing.assert_array_equal(one.saturation_cut_eV, sat)
    np.testing.assert_array_equal(one.spike_count, repaired.spike_count)
    assert one.spikes_eV == tuple(float(e) for e in repaired.spikes_eV)
    monkeypatch.setattr(image_blocks, "BLOCK", 10**6)          # one block: its inputs are kept
    [kept] = predict.predict(si, loaded, batch_size=2, threshold=0.5, keep_twins=True)
    np.testing.assert_array_equal(kept.probabilities, one.probabilities)
    assert kept.inputs.shape == (3, 5, 3072)
    np.testing.assert_array_equal(kept.inputs, x)


def test_a_strided_image_is_read_block_by_block_without_a_whole_copy(monkeypatch):
    """An image whose array is not contiguous (a transposed signal) gives bit for bit the probabilities,
    records and mean input of its contiguous copy, and no block's spectra hold more than the block."""
    si, loaded = _cube(), _as_loaded(_Linear(), "cpu")
    turned = Spectrum(np.swapaxes(np.swapaxes(si.data, 0, 1).copy(), 0, 1), si.energy_eV)   # not contiguous
    assert not turned.data.flags["C_CONTIGUOUS"]
    monkeypatch.setattr(image_blocks, "BLOCK", 4)
    seen = []
    original = image_blocks.preprocess

    def recording(s, *a, **k):      # the block's spectra and the largest array they are a view of
        base = s.data if s.data.base is None else s.data.base
        seen.append((s.data.shape, base.size))
        return original(s, *a, **k)

    monkeypatch.setattr(image_blocks, "preprocess", recording)
    a = probabilities_in_blocks(si, loaded, batch_size=2)
    seen_contiguous, seen[:] = list(seen), []
    b = probabilities_in_blocks(turned, loaded, batch_size=2)
    c = si.n_channels
    assert [shape for shape, _ in seen] == [(4, c)] * 3 + [(3, c)]
    assert [size for _, size in seen] == [4 * c] * 3 + [3 * c]        # no whole-image copy behind a block
    assert [size for _, size in seen_contiguous] == [15 * c] * 4       # a contiguous image: views of it
    np.testing.assert_array_equal(b.probabilities, a.probabilities)
    np.testing.assert_array_equal(b.mean_input, a.mean_input)
    np.testing.assert_array_equal(b.saturated_below_eV, a.saturated_below_eV)
    np.testing.assert_array_equal(b.repairs.spike_count, a.repairs.spike_count)


def test_inputs_of_some_pixels_are_theirs_in_the_whole_image():
    si = _cube()
    whole = preprocess(si).reshape(15, -1)
    rows = np.array([1, 8, 14, 2])
    np.testing.assert_allclose(inputs_of_pixels(si, rows), whole[rows], rtol=1e-6, atol=1e-7)
    turned = Spectrum(np.swapaxes(np.swapaxes(si.data, 0, 1).copy(), 0, 1), si.energy_eV)   # not contiguous
    assert not turned.data.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(inputs_of_pixels(turned, rows), inputs_of_pixels(si, rows))
    kept = preprocess(si, remove_spikes=False).reshape(15, -1)
    np.testing.assert_allclose(inputs_of_pixels(si, [1], remove_spikes=False)[0], kept[1], rtol=1e-6, atol=1e-7)
    assert not np.allclose(kept[1], whole[1])     # the keyword reached the pre-processing


def test_no_block_holds_more_pixels_than_a_block(monkeypatch):
    """map_elements pre-processes one block of pixels at a time (the twin resolvers' passes, off here with
    keep_twins, read their pixels' neighbourhoods: test_twin_resolution)."""
    from eels_helpers.inference import mapping

    seen = []
    original = image_blocks.preprocess

    def counting(spectrum, *args, **kwargs):
        seen.append(int(np.prod(spectrum.navigation_shape)))
        return original(spectrum, *args, **kwargs)

    monkeypatch.setattr(image_blocks, "preprocess", counting)
    monkeypatch.setattr(image_blocks, "BLOCK", 4)
    result = mapping.map_elements(_cube(), _Linear(), threshold=0.5, batch_size=2, confirm_on_sums=False,
                                  spatial_coherence=False, keep_twins=True)
    assert result.probabilities.shape == (3, 5, 80) and seen == [4, 4, 4, 3]


def test_a_progress_bar_over_the_pixels_from_two_blocks_on(monkeypatch, capsys):
    si, loaded = _cube(), _as_loaded(_Linear(), "cpu")
    terminal_stderr(monkeypatch)
    monkeypatch.setattr(image_blocks, "BLOCK", 8)
    probabilities_in_blocks(si, loaded, batch_size=2, progress=True)
    assert "identifying" in capsys.readouterr().err
    monkeypatch.setattr(image_blocks, "BLOCK", 16)
    probabilities_in_blocks(si, loaded, batch_size=2, progress=True)
    assert "identifying" not in capsys.readouterr().err


@pytest.mark.parametrize("shape", [(15,), (1, 15)])
def test_line_scans_and_single_rows(shape):
    si = _cube()
    line = Spectrum(si.data.reshape(shape + (-1,)), si.energy_eV)
    out = probabilities_in_blocks(line, _as_loaded(_Linear(), "cpu"))
    assert out.probabilities.shape == shape + (80,) and out.splice_cut_eV.shape == shape
    np.testing.assert_array_equal(inputs_of_pixels(line, [3, 7]), out.inputs[[3, 7]])


def test_inputs_of_a_single_spectrum():
    si = _cube()
    one = Spectrum(si.data[1, 2], si.energy_eV)
    np.testing.assert_array_equal(inputs_of_pixels(one, [0]), preprocess(one)[None])


def test_one_block_keeps_its_inputs():
    """An image of one block keeps its network inputs (the twin resolvers read them; nothing to make
    again); several blocks keep none (test_blocks_equal_the_whole_image_at_once)."""
    si = _cube()
    one = probabilities_in_blocks(si, _as_loaded(_Linear(), "cpu"))
    np.testing.assert_array_equal(one.inputs, preprocess(si).reshape(15, -1))
