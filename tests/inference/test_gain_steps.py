"""Gain-change steps (eels_helpers.inference.gain_steps): found where the counts jump by a constant
factor within one channel, never at a core-loss edge, and evened out by pre-processing on request."""

import numpy as np
import pytest

from eels_helpers.inference import gain_steps
from eels_helpers.inference.gain_steps import find_steps, repair_gain_steps
from eels_helpers.inference.preprocess import preprocess, repaired_channels
from eels_helpers.spectrum import Spectrum


def _power_law(rng, n=1500, start=300.0, dispersion=0.2, level=2e5, r=3.0):
    """Poisson counts of A (E/E0)^-r on an axis of ``dispersion`` eV per channel."""
    energy = start + dispersion * np.arange(n)
    return energy, rng.poisson(level * (energy / start) ** -r).astype(np.float64)


def _edge(energy, onset, jump, fwhm, level):
    """A hydrogenic-like sawtooth edge, jump * level (E/onset)^-3 above ``onset``, broadened by a
    Gaussian of ``fwhm`` eV (the energy resolution)."""
    from math import erf, sqrt

    sigma = fwhm / 2.355
    rise = 0.5 * (1 + np.vectorize(erf)((energy - onset) / (sigma * sqrt(2))))
    return jump * level * rise * (np.maximum(energy, onset) / onset) ** -3.0


@pytest.mark.parametrize("seed, at, factor", [(0, 700, 1.15), (1, 900, 0.85)])
def test_a_step_up_or_down_is_found_at_its_channel_and_evened_out(seed, at, factor):
    rng = np.random.default_rng(seed)
    energy, counts = _power_law(rng)
    stepped = counts.copy()
    stepped[at:] *= factor
    repaired, mask = repair_gain_steps(stepped, energy)
    assert np.flatnonzero(mask).tolist() == [at]
    # the counts above the step are back on the level below it (within their noise)
    assert abs(repaired[at:at + 20].sum() / counts[at:at + 20].sum() - 1.0) < 0.01
    np.testing.assert_array_equal(repaired[:at], stepped[:at])


def test_a_smooth_background_is_left_alone():
    rng = np.random.default_rng(2)
    batch = np.stack([_power_law(rng, level=10 ** rng.uniform(2, 7), r=rng.uniform(2, 4.5))[1] for _ in range(200)])
    repaired, mask = repair_gain_steps(batch, _power_law(rng)[0])
    assert not mask.any()
    assert np.array_equal(repaired, batch)


@pytest.mark.parametrize("fwhm", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("jump", [0.1, 0.3, 1.0])
def test_a_core_loss_edge_is_never_taken_for_a_step(fwhm, jump):
    """An edge rises over the energy resolution (two channels or more at <= 0.35 eV per channel)."""
    rng = np.random.default_rng(3)
    energy = 350.0 + 0.25 * np.arange(1600)
    level = 1e6 * (energy / energy[0]) ** -3.0
    expected = level + _edge(energy, 532.0, jump, fwhm, 1e6 * (532.0 / energy[0]) ** -3.0)
    counts = rng.poisson(expected).astype(np.float64)
    assert not find_steps(counts, energy).any()


def test_coarse_axes_small_and_large_steps_are_left_as_recorded():
    rng = np.random.default_rng(4)
    energy, counts = _power_law(rng)
    coarse = counts.copy()
    coarse[700:] *= 1.15
    assert find_steps(coarse, energy).any()
    too_coarse = energy[0] + (gain_steps.MAX_DISPERSION_EV + 0.05) * np.arange(energy.size)
    assert not find_steps(coarse, too_coarse).any()                 # an edge, too, may rise within one channel
    for factor in (1.02, 3.0):                     # below MIN_FACTOR; above MAX_FACTOR (the splices' business)
        stepped = counts.copy()
        stepped[700:] *= factor
        assert not find_steps(stepped, energy).any()


def test_each_spectrum_of_an_image_gets_its_own_steps():
    rng = np.random.default_rng(5)
    energy = _power_law(rng)[0]
    image = np.stack([_power_law(rng)[1] for _ in range(6)]).reshape(2, 3, -1)
    where = {(0, 0): 300, (0, 2): 1000, (1, 1): 500}
    for (i, j), at in where.items():
        image[i, j, at:] *= 1.2
    image[1, 1, 1100:] *= 0.8                       # a second step in the same spectrum
    mask = find_steps(image, energy)
    assert mask.shape == image.shape
    found = {(i, j): np.flatnonzero(mask[i, j]).tolist() for i in range(2) for j in range(3)}
    assert found == {(0, 0): [300], (0, 1): [], (0, 2): [1000], (1, 0): [], (1, 1): [500, 1100], (1, 2): []}


def test_a_bad_axis_is_refused():
    with pytest.raises(ValueError, match="energy_eV"):
        repair_gain_steps(np.ones(100), np.arange(99.0))
    with pytest.raises(ValueError, match="increase"):
        repair_gain_steps(np.ones(100), np.r_[np.arange(50.0), np.arange(50.0)])


def test_a_rising_stretch_inside_an_edge_is_not_a_step():
    """Test (g): a jump where the counts rise (a pi* peak's top, an edge's delayed maximum) is structure."""
    rng = np.random.default_rng(8)
    energy = 380.0 + 0.25 * np.arange(400)
    rising = 1e5 * (1.0 + 0.04 * np.arange(400))
    rising[200:] *= 0.8                              # a sharp fall on a rising stretch
    assert not find_steps(rng.poisson(rising).astype(float), energy).any()


def test_noise_that_is_not_poisson_raises_its_own_bar():
    """Test (h): channel-correlated, gain-normalised noise (a spectrum image's pixels) fires no step."""
    rng = np.random.default_rng(9)
    energy = 400.0 + 0.25 * np.arange(1600)
    level = 200.0 * (energy / energy[0]) ** -3.0
    white = rng.normal(0.0, 1.0, size=(300, energy.size + 4))
    correlated = sum(white[:, i:i + energy.size] for i in range(5)) / np.sqrt(5)   # 5-channel smear
    pixels = level * 2.7 + 25.0 * correlated                                           # not integer counts
    assert not find_steps(pixels, energy).any()


def test_preprocess_evens_out_a_step_only_when_asked():
    rng = np.random.default_rng(6)
    energy, counts = _power_law(rng, n=4000, start=200.0, dispersion=0.2, level=1e6)
    stepped = counts.copy()
    stepped[2000:] *= 1.2
    clean = preprocess(Spectrum(counts.astype(np.float32), energy))
    plain = preprocess(Spectrum(stepped.astype(np.float32), energy), repair_gain_steps=False)
    even = preprocess(Spectrum(stepped.astype(np.float32), energy), repair_gain_steps=True)
    above = slice(int(energy[2000]) + 5, int(energy[-1]) - 5)          # network channels (eV) above the step
    assert np.median(plain[above] / clean[above]) == pytest.approx(1.2, abs=0.01)
    assert np.median(even[above] / clean[above]) == pytest.approx(1.0, abs=0.01)
    found = repaired_channels(Spectrum(stepped.astype(np.float32), energy), repair_gain_steps=True)
    assert int(found.step_count) == 1 and found.steps_eV.tolist() == pytest.approx([energy[2000]])
    with pytest.raises(ValueError, match="energy_eV"):
        from eels_helpers.inference.preprocess import repair_counts
        repair_counts(stepped, repair_gain_steps=True)


def test_predict_says_where_it_evened_out_a_step():
    from eels_helpers.inference.predict import predict
    from eels_helpers.inference.prediction_text import format_prediction

    rng = np.random.default_rng(7)
    energy, counts = _power_law(rng, n=4000, start=200.0, dispersion=0.2, level=1e6)
    counts[2000:] *= 1.2
    spectrum = Spectrum(counts.astype(np.float32), energy, {"title": "stepped"})
    [on] = predict(spectrum, repair_gain_steps=True)
    [off] = predict(spectrum, repair_gain_steps=False)
    assert int(on.gain_step_count) == 1 and on.gain_steps_eV == pytest.approx((energy[2000],))
    # evened out, the spectrum is a smooth power law again: no element reaches the threshold
    assert on.detected == () and on.probabilities.max() < on.threshold
    assert off.gain_step_count is None and "gain_step_count" not in off.to_dict()
    assert on.to_dict()["gain_steps_eV"] == [round(energy[2000], 2)]
    assert f"gain step(s) at {energy[2000]:.0f} eV" in format_prediction(on)


def test_cli_evens_out_steps_by_default_and_keeps_them_when_asked(tmp_path, capsys):
    import json

    from eels_helpers.cli import main as cli_main

    rng = np.random.default_rng(10)
    energy, counts = _power_law(rng, n=4000, start=200.0, dispersion=0.2, level=1e6)
    counts[2000:] *= 1.2
    path = tmp_path / "stepped.csv"
    np.savetxt(path, np.column_stack([energy, counts]), delimiter=",", header="energy_eV,counts")
    assert gain_steps.BY_DEFAULT
    assert cli_main(["predict", str(path), "--json", "--device", "cpu"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["gain_step_count"] == 1 and result["gain_steps_eV"] == [round(energy[2000], 2)]
    assert cli_main(["predict", str(path), "--json", "--device", "cpu", "--keep-gain-steps"]) == 0
    (kept,) = json.loads(capsys.readouterr().out)["results"]
    assert "gain_step_count" not in kept
    assert cli_main(["predict", str(path), "--device", "cpu"]) == 0
    assert f"gain step(s) at {energy[2000]:.0f} eV" in capsys.readouterr().out


def test_map_logs_the_pixels_whose_steps_were_evened_out(caplog):
    import logging

    from eels_helpers.inference.mapping import map_elements
    from eels_helpers.inference.preprocess import RepairedChannels, repair_summaries

    none = np.zeros(0)
    [line] = repair_summaries(RepairedChannels(np.zeros(3), none, np.zeros(3), none, np.array([1, 0, 2]),
                                               np.array([412.2, 655.0])), "si.dm4")
    assert line.startswith("si.dm4: 2 of 3 spectra have 3 gain steps at 412, 655 eV")
    rng = np.random.default_rng(11)
    energy = _power_law(rng, n=4000, start=200.0)[0]
    image = np.stack([_power_law(rng, n=4000, start=200.0, level=1e6)[1] for _ in range(4)]).reshape(2, 2, -1)
    image[0, 1, 2500:] *= 0.85
    with caplog.at_level(logging.INFO, logger="eels_helpers.inference.mapping"):
        map_elements(Spectrum(image.astype(np.float32), energy, {"title": "si"}), device="cpu")
    assert any("1 of 4 spectra have 1 gain steps" in r.getMessage() for r in caplog.records)


def test_verification_evens_out_steps_as_the_network_input_does():
    from eels_helpers.inference.verification import VerifyConfig

    assert VerifyConfig().repair_gain_steps is gain_steps.BY_DEFAULT
    assert VerifyConfig(repair_gain_steps=False).repair_gain_steps is False
    with pytest.raises(ValueError, match="repair_gain_steps must be a bool"):
        VerifyConfig(repair_gain_steps=1)
