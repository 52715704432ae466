"""Spikes: single channels hit by a cosmic ray are found and replaced; noise, edges and lines are not."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.inference.preprocess import RepairedChannels, preprocess, repair_summaries, repaired_channels
from eels_helpers.inference.spikes import remove_spikes, spike_mask
from eels_helpers.spectrum import Spectrum


def _power_law(rng, start=300.0, stop=1200.0, dispersion=0.5, counts=1e3, r=3.0):
    energy = np.arange(start, stop, dispersion)
    return energy, rng.poisson(counts * (energy / start) ** -r).astype(np.float64)


@pytest.mark.parametrize("dispersion, counts", [(0.1, 1e2), (0.5, 1e3), (1.0, 1e5), (0.25, 1e7)])
def test_spikes_as_the_simulator_makes_them_are_found_and_replaced(dispersion, counts):
    rng = np.random.default_rng(int(counts))
    energy, clean = _power_law(rng, dispersion=dispersion, counts=counts)
    where = np.sort(rng.choice(np.arange(50, energy.size - 50), 5, replace=False))
    spiky = clean.copy()
    spiky[where] *= rng.uniform(5.0, 50.0, where.size)       # SimulationConfig.artefact_fraction's spikes
    mask = spike_mask(spiky)
    assert np.array_equal(np.flatnonzero(mask), where)
    cleaned, _ = remove_spikes(spiky)
    level = counts * (energy[where] / energy[0]) ** -3.0
    assert np.all(np.abs(cleaned[where] - level) < 5 * np.sqrt(level) + 0.05 * level)
    assert np.array_equal(np.delete(cleaned, where), np.delete(clean, where))


def test_poisson_noise_at_a_few_counts_is_not_a_spike():
    # the failure of the first form of the test (session 28): fluctuations at 1-10 counts per
    # channel over many channels, noise taken from neighbours that were low by chance
    rng = np.random.default_rng(7)
    for level in (1.0, 3.3, 10.0):
        counts = rng.poisson(level, (200, 4000)).astype(np.float64)
        assert not spike_mask(counts).any()


def test_a_subtracted_dark_level_is_not_full_of_spikes():
    rng = np.random.default_rng(8)
    dark = rng.uniform(1.0, 30.0, (200, 1))
    counts = rng.poisson(np.broadcast_to(dark, (200, 3000))) - dark        # noise about zero
    # Anscombe's deviate cannot know the subtracted level, and the local scatter from 16
    # differences is itself noisy: a 4-sigma fluctuation passes in about 1 of 1e5 channels
    # (4 of these 600,000); replacing it by its neighbours' mean changes nothing that matters
    assert spike_mask(counts).sum() <= 1e-5 * counts.size
    scaled = rng.poisson(500.0, (50, 3000)) * 1e3                        # not raw counts: scaled up
    assert not spike_mask(scaled).any()


@pytest.mark.parametrize("jump", [0.1, 0.3, 1.0, 3.0])
def test_a_white_line_filling_one_channel_of_a_coarse_axis_is_kept(jump):
    # an L3 line 8x the background in one 4-eV channel, on an edge with the given jump ratio:
    # the continuum after it stays above the background's level (test c)
    rng = np.random.default_rng(9)
    energy = np.arange(300.0, 1500.0, 4.0)
    background = 1e5 * (energy / 300.0) ** -3
    at = np.searchsorted(energy, 700.0)
    edge = np.where(energy >= 700.0, jump * background[at] * (energy / 700.0) ** -2, 0.0)
    line = np.zeros_like(energy)
    line[at] = 8 * background[at]
    assert not spike_mask(rng.poisson(background + edge + line).astype(np.float64)).any()


def test_simulated_spectra_without_artefacts_are_almost_never_touched():
    import dataclasses

    from eels_helpers.physics.elements import ELEMENTS
    from eels_helpers.simulation.named_configs import named_config
    from eels_helpers.simulation.pipeline import simulate_batch
    from eels_helpers.simulation.specimens import sample_specimens

    config = dataclasses.replace(named_config("open-world-autoionisation"), artefact_fraction=0.0)
    rng = np.random.default_rng(31)
    specimens = [sample_specimens(ELEMENTS[i], 1, rng)[0] for i in rng.integers(0, len(ELEMENTS), 256)]
    batch = simulate_batch(specimens, config, rng, return_steps=True)
    flagged = sum(spike_mask(row[int(lo): int(min(hi, 3071)) + 1]).any() for row, lo, hi in
                  zip(batch.steps["noisy"].astype(np.float64), batch.params["start_eV"], batch.params["end_eV"]))
    assert flagged <= 3                    # session 28: 2 of 2,048 (seed 2929), none near an edge


def test_preprocess_replaces_spikes_and_the_paper_recipe_keeps_them():
    rng = np.random.default_rng(10)
    energy, clean = _power_law(rng)
    spiky = clean.copy()
    spiky[600] *= 40.0                       # at 600 eV: becomes the spectrum's maximum
    x = preprocess(Spectrum(spiky, energy))
    ref = preprocess(Spectrum(clean, energy))
    assert np.abs(x - ref).max() < 0.02      # the input as if the spike had never been
    kept = preprocess(Spectrum(spiky, energy), remove_spikes=False)
    assert np.argmax(kept) == 600 and kept[400] < 0.6 * ref[400]   # the paper's recipe: all else shrinks
    found = repaired_channels(Spectrum(np.stack([spiky, clean]), energy), offset_eV=10.0)
    assert found.spike_count.tolist() == [1, 0] and found.spikes_eV.tolist() == [590.0]


def test_repair_summaries_name_where_and_how_many():
    none = np.zeros(0)
    assert repair_summaries(RepairedChannels(np.array([0, 0]), none, np.array([0, 0]), none), "si.dm4") == []
    [line] = repair_summaries(RepairedChannels(np.array([2, 0, 1]), np.array([512.3, 780.0]), np.zeros(3), none),
                              "si.dm4")
    assert line.startswith("si.dm4: 2 of 3 spectra have 3 spikes at 512, 780 eV (single channels more than 4x")
    spike, dead = repair_summaries(RepairedChannels(np.array(1), np.array([99.0]), np.array(2),
                                                    np.array([500.0, 501.0])), "x.msa")
    assert spike.startswith("x.msa: 1 spike(s) at 99 eV") and spike.endswith("replaced by their neighbours' mean")
    assert dead.startswith("x.msa: 2 dead channel(s) at 500, 501 eV (reading nothing between live channels)")


def test_predict_says_so_and_keep_spikes_keeps_them(tmp_path, capsys):
    import json

    from support import write_msa

    from eels_helpers.cli import main
    from eels_helpers.inference.predict import format_prediction, predict

    rng = np.random.default_rng(11)
    energy, counts = _power_law(rng, counts=1e4)
    counts[400] *= 30.0
    [pred] = predict(Spectrum(counts, energy, {"title": "spiky"}), "default")
    assert pred.spikes_eV == (500.0,) and int(pred.spike_count) == 1
    assert "note: the spectrum has 1 spike(s) at 500 eV" in format_prediction(pred)
    [kept] = predict(Spectrum(counts, energy), "default", remove_spikes=False)
    assert kept.spike_count is None and "spike" not in format_prediction(kept)
    path = tmp_path / "spiky.msa"
    write_msa(path, energy, counts)
    assert main(["predict", str(path), "--json", "-q"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["spikes_eV"] == [500.0] and result["spike_count"] == 1
    assert main(["predict", str(path), "--json", "-q", "--keep-spikes"]) == 0
    assert "spikes_eV" not in json.loads(capsys.readouterr().out)["results"][0]


def test_map_logs_the_spikes_and_verification_fits_without_them(caplog):
    import logging

    from eels_helpers.inference.mapping import map_elements
    from eels_helpers.inference.verification import VerifyConfig, verify

    rng = np.random.default_rng(12)
    energy, counts = _power_law(rng, counts=1e4)
    image = np.stack([counts] * 4).reshape(2, 2, -1).copy()
    image[1, 0, 400] *= 30.0
    with caplog.at_level(logging.INFO):
        map_elements(Spectrum(image, energy), "default")
    assert any("1 of 4 spectra have 1 spikes at 500 eV" in r.getMessage() for r in caplog.records)
    spiky = Spectrum(image[1, 0], energy)
    fitted = verify(spiky, ["O"]).chi2_reduced
    assert fitted == pytest.approx(verify(Spectrum(counts, energy), ["O"]).chi2_reduced, rel=0.2)
    assert verify(spiky, ["O"], VerifyConfig(remove_spikes=False)).chi2_reduced > 2 * fitted
    with pytest.raises(ValueError, match="remove_spikes must be a bool"):
        VerifyConfig(remove_spikes="yes")
