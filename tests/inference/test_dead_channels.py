"""Dead channels: runs of channels reading nothing inside a live spectrum are filled; low counts,
a window's dead ends and long gaps are not."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.inference.dead_channels import MAX_RUN, dead_mask, fill_dead_channels
from eels_helpers.inference.preprocess import preprocess, repaired_channels
from eels_helpers.spectrum import Spectrum


def _power_law(rng, counts=1e3, dispersion=0.5):
    energy = np.arange(300.0, 1200.0, dispersion)
    expected = counts * (energy / 300.0) ** -3
    return energy, expected, rng.poisson(expected).astype(np.float64)


@pytest.mark.parametrize("length", [1, 2, MAX_RUN])
def test_a_dead_run_is_found_and_filled_from_both_sides(length):
    rng = np.random.default_rng(length)
    energy, expected, counts = _power_law(rng)
    dead = counts.copy()
    dead[700:700 + length] = 0.0
    assert np.array_equal(np.flatnonzero(dead_mask(dead)), np.arange(700, 700 + length))
    filled, mask = fill_dead_channels(dead)
    assert mask.sum() == length
    level = expected[700:700 + length]
    assert np.all(np.abs(filled[700:700 + length] - level) < 4 * np.sqrt(level))
    assert np.array_equal(np.delete(filled, np.s_[700:700 + length]), np.delete(counts, np.s_[700:700 + length]))


def test_zeros_of_poisson_counts_long_gaps_and_dead_ends_are_left():
    rng = np.random.default_rng(3)
    low = rng.poisson(5.0, (100, 4000)).astype(np.float64)     # zeros happen: e^-5 per channel
    assert not dead_mask(low).any()
    _, _, counts = _power_law(rng)
    gap = counts.copy()
    gap[700:700 + MAX_RUN + 1] = 0.0                            # longer than a detector column
    ends = counts.copy()
    ends[:20] = 0.0                                              # a window's dead start and end
    ends[-20:] = -3.0
    assert not dead_mask(np.stack([gap, ends])).any()


def test_subtracted_or_scaled_data_need_a_level_well_above_their_scatter():
    rng = np.random.default_rng(4)
    subtracted = rng.normal(0.0, 50.0, (50, 3000))              # noise about zero: zeros are common
    assert not dead_mask(subtracted).any()
    scaled = rng.poisson(400.0, (50, 3000)) * 0.1               # 40 +- 2: a zero is dead
    scaled[:, 1000] = 0.0
    assert dead_mask(scaled)[:, 1000].all() and dead_mask(scaled).sum() == 50


def test_preprocess_fills_and_says_where():
    rng = np.random.default_rng(5)
    energy, _, counts = _power_law(rng, counts=1e4)
    dead = counts.copy()
    dead[[400, 401, 1000]] = 0.0                                # 500, 500.5 and 800 eV
    x = preprocess(Spectrum(dead, energy))
    ref = preprocess(Spectrum(counts, energy))
    assert np.abs(x - ref).max() < 0.01
    raw = preprocess(Spectrum(dead, energy), fill_dead_channels=False)
    assert raw[800] < 0.7 * ref[800]                             # the paper's recipe keeps the dip
    found = repaired_channels(Spectrum(np.stack([dead, counts]), energy))
    assert found.dead_count.tolist() == [3, 0] and found.dead_eV.tolist() == [500.0, 500.5, 800.0]
    assert found.spike_count.tolist() == [0, 0]


def test_predict_note_and_json(tmp_path, capsys):
    import json

    from support import write_msa

    from eels_helpers.cli import main
    from eels_helpers.inference.predict import format_prediction, predict

    rng = np.random.default_rng(6)
    energy, _, counts = _power_law(rng, counts=1e4)
    counts[600] = 0.0
    [pred] = predict(Spectrum(counts, energy), "default")
    assert pred.dead_channels_eV == (600.0,) and int(pred.dead_channel_count) == 1
    assert "note: the spectrum has 1 dead channel(s) at 600 eV" in format_prediction(pred)
    path = tmp_path / "dead.msa"
    write_msa(path, energy, counts)
    assert main(["predict", str(path), "--json", "-q"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["dead_channels_eV"] == [600.0] and result["dead_channel_count"] == 1
    assert main(["predict", str(path), "--json", "-q", "--keep-dead-channels"]) == 0
    assert "dead_channels_eV" not in json.loads(capsys.readouterr().out)["results"][0]
