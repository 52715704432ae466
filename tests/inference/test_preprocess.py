"""The paper's pre-processing (Fig. 3), checked against FITPACK splines and exact cases."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.interpolate import splev, splrep
from support import artefact_image, terminal_stderr

from eels_helpers.inference.preprocess import (
    N_CHANNELS,
    energy_grid,
    pad_and_normalise,
    plot_preprocessing_steps,
    preprocess,
    preprocessing_steps,
    rebin_to_1eV,
    resample_to_grid,
)
from eels_helpers.inference.spectrum_files import read_spectrum
from eels_helpers.spectrum import Spectrum

EXPERIMENTAL = Path(__file__).resolve().parents[3] / "shared" / "experimental"


def _reference(energy, counts, offset=0.0):
    """Independent per-spectrum reference with FITPACK (splrep s=0), no rebinning."""
    e = energy - offset
    tck = splrep(e, counts, s=0)
    out = np.zeros(N_CHANNELS)
    grid = np.arange(max(int(np.ceil(e[0])), 0), min(int(np.floor(e[-1])), N_CHANNELS - 1) + 1)
    out[grid] = splev(grid, tck)
    out[:75] = 0
    return out / out.max()


def _edge(energy, onset=500.0):
    """A smooth background plus an edge-like step with a white line."""
    bg = 1e4 * (energy / 300.0) ** -3
    step = 2e3 / (1 + np.exp(-(energy - onset) / 2.0)) + 3e3 * np.exp(-0.5 * ((energy - onset - 3) / 1.5) ** 2)
    return bg + step


def test_matches_fitpack_spline_for_coarse_dispersion():
    energy = 300.0 + 0.7 * np.arange(800)  # 0.7 eV/channel: no rebinning
    rng = np.random.default_rng(0)
    counts = rng.poisson(_edge(energy)).astype(float)
    out = preprocess(counts, energy)
    assert out.dtype == np.float32 and out.shape == (N_CHANNELS,)
    np.testing.assert_allclose(out, _reference(energy, counts), atol=2e-6)


def test_fine_dispersion_is_rebinned_by_averaging_then_splined():
    energy = 400.25 + 0.25 * np.arange(2000)
    counts = np.random.default_rng(1).poisson(_edge(energy, 600.0)).astype(float)
    e4, c4 = energy.reshape(-1, 4).mean(1), counts.reshape(-1, 4).mean(1)
    binned, e_binned = rebin_to_1eV(counts, energy)
    np.testing.assert_allclose(e_binned, e4)
    np.testing.assert_allclose(binned, c4)
    np.testing.assert_allclose(preprocess(counts, energy), _reference(e4, c4), atol=2e-6)


def test_cubic_polynomial_is_reproduced_exactly_on_an_irregular_axis():
    """A not-a-knot cubic spline reproduces cubics exactly (any knot spacing)."""
    rng = np.random.default_rng(2)
    energy = np.sort(rng.uniform(100.0, 900.0, 500))
    energy[0], energy[-1] = 100.0, 900.0
    energy = np.unique(np.round(energy, 3))
    poly = lambda x: 1 + 1e-3 * (x - 100) + 2e-6 * (x - 400) ** 2 + 1e-9 * (x - 300) ** 3  # noqa: E731
    out = preprocess(poly(energy), energy)
    grid = np.arange(100, 901)
    expected = poly(grid.astype(float))
    np.testing.assert_allclose(out[100:901], expected / expected.max(), rtol=1e-5)
    assert not out[:100].any() and not out[901:].any()


def test_on_grid_input_is_idempotent_and_normalised():
    rng = np.random.default_rng(3)
    x = rng.random((5, N_CHANNELS)).astype(np.float32) + 0.1
    once = preprocess(x)
    np.testing.assert_allclose(preprocess(once), once, atol=1e-6)
    assert not once[:, :75].any()
    np.testing.assert_allclose(once.max(axis=1), 1.0)
    np.testing.assert_allclose(once[:, 75:], x[:, 75:] / x[:, 75:].max(axis=1, keepdims=True), rtol=1e-6)


def test_window_partially_outside_0_3071():
    low = np.arange(-100.0, 500.0, 2.0)  # includes the zero-loss region
    out = preprocess(_edge(low + 200.0), low)
    nz = np.flatnonzero(out)
    assert nz[0] == 75 and nz[-1] == 498
    high = np.arange(2900.0, 3400.0, 1.0)
    out = preprocess(np.linspace(2.0, 1.0, high.size), high)
    nz = np.flatnonzero(out)
    assert nz[0] == 2900 and nz[-1] == 3071
    assert out[2900] == pytest.approx(1.0)


def test_offset_moves_features_by_offset():
    energy = 400.0 + 0.5 * np.arange(600)
    counts = 100 + 1e4 * np.exp(-0.5 * ((energy - 560.0) / 3.0) ** 2)
    assert preprocess(counts, energy).argmax() == 560
    assert preprocess(counts, energy, offset_eV=8.0).argmax() == 552
    assert preprocess(counts, energy, offset_eV=-12.0).argmax() == 572


def test_spectrum_image_is_vectorised_identically():
    energy = 450.0 + 0.25 * np.arange(1024)
    rng = np.random.default_rng(4)
    cube = rng.poisson(_edge(energy, 530.0), size=(3, 4, energy.size)).astype(np.float32)
    out = preprocess(Spectrum(cube, energy))
    assert out.shape == (3, 4, N_CHANNELS)
    for i, j in [(0, 0), (2, 3), (1, 2)]:
        np.testing.assert_allclose(out[i, j], preprocess(cube[i, j], energy), atol=1e-6)


def test_negative_counts_are_kept_unless_clipped():
    energy = np.arange(300.0, 700.0)
    counts = np.sin(energy / 20.0) * 100 + 20
    kept = preprocess(counts, energy)
    assert kept.min() < -0.5 and kept.max() == pytest.approx(1.0)
    clipped = preprocess(counts, energy, clip_negative=True)
    assert clipped.min() == 0.0 and clipped.max() == pytest.approx(1.0)


def test_spectrum_without_positive_signal_becomes_zero_with_warning():
    energy = np.arange(200.0, 300.0)
    data = np.stack([np.ones(100), -np.ones(100)])
    with pytest.warns(UserWarning, match="1 of 2 spectra have no positive intensity"):
        out = preprocess(data, energy)
    assert not out[1].any() and out[0].max() == 1.0


def test_descending_axis_is_accepted():
    energy = np.arange(300.0, 700.0)
    counts = _edge(energy)
    np.testing.assert_allclose(preprocess(counts[::-1], energy[::-1]), preprocess(counts, energy), atol=1e-7)


@pytest.mark.parametrize(
    "data, energy, offset, match",
    [
        (np.ones(10), np.arange(4000.0, 4010.0), 0.0, "no overlap with the 75-3071 eV"),
        (np.ones(10), np.arange(3065.0, 3075.0), -10.0, "after the -10 eV offset"),
        (np.ones(10), np.arange(11.0), 0.0, "does not match"),
        (np.ones(3), np.arange(100.0, 103.0), 0.0, "at least 4"),
        (np.array([1, 2, np.nan, 4, 5.0]), np.arange(100.0, 105.0), 0.0, r"1 NaN/inf value.*102\.00"),
        (np.ones(5), np.array([100.0, 101, 101, 102, 103]), 0.0, "strictly monotonic"),
        (np.ones(100), None, 0.0, "energy_eV is required"),
        (np.ones(100), np.arange(100.0, 200.0), float("nan"), "offset_eV"),
    ],
)
def test_errors(data, energy, offset, match):
    with pytest.raises(ValueError, match=match):
        preprocess(data, energy, offset_eV=offset)


def test_energy_grid():
    g = energy_grid()
    assert g[0] == 0 and g[-1] == 3071 and g.size == N_CHANNELS


def test_the_two_stages_compose_to_preprocess():
    energy = 250.0 + 0.25 * np.arange(2000)   # 0.25 eV/channel: rebinned by 4
    counts = _edge(energy)
    grid, values = resample_to_grid(counts, energy, offset_eV=3.0)
    assert grid[0] == 248 and grid[-1] == 746 and np.all(np.diff(grid) == 1) and values.shape == (grid.size,)
    out = pad_and_normalise(grid, values)
    np.testing.assert_array_equal(out, preprocess(counts, energy, offset_eV=3.0))
    assert out[grid[0] - 1] == 0 and out[grid[-1] + 1] == 0 and out.max() == 1
    with pytest.raises(ValueError, match="grid must be consecutive integer energies"):
        pad_and_normalise(np.array([5, 7]), np.ones(2))
    with pytest.raises(ValueError, match="does not match the last axis"):
        pad_and_normalise(np.arange(100, 103), np.ones(2))


def test_preprocessing_steps_of_fig3():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    energy = 400.0 + np.arange(300.0)       # 1 eV/channel on integers: the spline passes through the points
    cube = np.stack([_edge(energy), 2 * _edge(energy)])      # a 2-pixel "spectrum image"
    s = Spectrum(cube.astype(np.float32), energy, {"title": "toy"}, "toy.msa")
    steps = preprocessing_steps(s, offset_eV=2.0)
    assert steps.raw.shape == (300,) and steps.raw_energy_eV[0] == 400.0
    np.testing.assert_allclose(steps.raw, 3 * _edge(energy), rtol=1e-6)          # summed
    np.testing.assert_array_equal(steps.grid_eV, np.arange(398, 698))
    np.testing.assert_allclose(steps.resampled, steps.raw, rtol=1e-5)            # offset moves the axis only
    np.testing.assert_array_equal(steps.inputs, preprocess(s.summed(), offset_eV=2.0))
    fig = plot_preprocessing_steps(steps)
    assert len(fig.axes) == 3 and fig.axes[0].get_title().startswith("(a) toy.msa")
    plt.close(fig)
    with pytest.raises(TypeError, match="must be an eels_helpers.spectrum.Spectrum"):
        preprocessing_steps(cube[0])


def _experimental(name):
    path = EXPERIMENTAL / name
    if not path.is_file():
        pytest.skip("../shared/experimental is not present")
    return read_spectrum(path)


@pytest.mark.parametrize(
    "name, offset, peak_eV",
    [
        # manifest notes: Co L3 maximum at 787.2 eV in the file, ~781 eV in the Atlas (Co3O4)
        ("eelsdb_Co3O4_CoL3_QiangXu_145.txt", 6.5, 781),
        # manifest notes: Sr L3 maximum at 1956 eV in the file, 1944 eV in the Atlas (SrO)
        ("eelsmodel_roundrobin_D3_Sr_L.dm3", 12.0, 1944),
    ],
)
def test_real_spectra_offset_correction_puts_white_line_at_atlas_energy(name, offset, peak_eV):
    s = _experimental(name)
    out = preprocess(s, offset_eV=offset)
    assert abs(int(out.argmax()) - peak_eV) <= 1
    assert abs(int(preprocess(s).argmax()) - (peak_eV + offset)) <= 1


def test_every_experimental_file_preprocesses():
    import pandas as pd

    if not (EXPERIMENTAL / "manifest.csv").is_file():
        pytest.skip("../shared/experimental is not present")
    manifest = pd.read_csv(EXPERIMENTAL / "manifest.csv")
    for rec in manifest.itertuples():
        s = read_spectrum(EXPERIMENTAL / rec.file)
        offset = 0.0 if np.isnan(rec.energy_offset_eV) else rec.energy_offset_eV
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no spectrum may come out empty
            out = preprocess(s, offset_eV=offset)
        assert out.shape == s.navigation_shape + (N_CHANNELS,), rec.file
        assert not out[..., :75].any(), rec.file
        np.testing.assert_allclose(out.reshape(-1, N_CHANNELS).max(axis=1), 1.0, err_msg=rec.file)


def test_a_spectrum_image_in_blocks_equals_one_pass(monkeypatch):
    """Steps 1-3 run on blocks of ``CHUNK`` spectra (bounded memory for large images, M39): the
    inputs, splice cuts, saturation ends and repairs equal one pass over all spectra."""
    from eels_helpers.inference import preprocess as pre

    cube, energy = artefact_image()               # a spike, dead channels, a saturated top
    cube[2, 0, :] = 0.0                           # an empty pixel
    kwargs = dict(return_cuts=True, return_saturation=True, return_repairs=True)
    with pytest.warns(UserWarning, match="no positive intensity"):
        whole = preprocess(Spectrum(cube, energy), **kwargs)
    monkeypatch.setattr(pre, "CHUNK", 4)          # 15 spectra: blocks of 4, 4, 4 and 3
    with pytest.warns(UserWarning, match="no positive intensity"):
        blocks = preprocess(Spectrum(cube, energy), **kwargs)
    out, cuts, sat, repaired = blocks
    np.testing.assert_array_equal(out, whole[0])
    np.testing.assert_array_equal(cuts, whole[1])
    np.testing.assert_array_equal(sat, whole[2])
    assert np.isfinite(sat[2, 4]) and np.isnan(sat[0, 0])
    for field in ("spike_count", "spikes_eV", "dead_count", "dead_eV", "step_count", "steps_eV"):
        np.testing.assert_array_equal(getattr(repaired, field), getattr(whole[3], field), err_msg=field)
    assert repaired.spike_count[0, 1] >= 1 and repaired.dead_count[1, 3] >= 1
    assert repaired.spike_count.shape == (3, 5)


def test_a_progress_bar_over_the_blocks_of_a_large_image(monkeypatch, capsys):
    """progress=True shows a bar over the blocks of steps 1-3 (from two blocks on), none for one."""
    from eels_helpers.inference import preprocess as pre

    energy = 300.0 + np.arange(200.0)
    cube = np.random.default_rng(2).poisson(1e3 * (energy / 300.0) ** -3, size=(6, energy.size)).astype(np.float32)
    monkeypatch.setattr(pre, "CHUNK", 4)
    terminal_stderr(monkeypatch)
    with_bar = preprocess(cube, energy, progress=True)
    assert "pre-processing" in capsys.readouterr().err
    np.testing.assert_array_equal(with_bar, preprocess(cube, energy))
    preprocess(cube[:3], energy, progress=True)
    assert "pre-processing" not in capsys.readouterr().err
