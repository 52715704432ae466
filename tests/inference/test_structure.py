"""The "no identifiable edge" test (eels_helpers.inference.structure) and its use by predict()."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.inference.structure import (
    MIN_CHANNELS,
    STRUCTURE_Z_MIN,
    structure_in_window,
    structure_significance,
)
from eels_helpers.spectrum import Spectrum


def _power_law(E, counts_at_start, r=3.0, level=0.0):
    return counts_at_start * (E / E[0]) ** -r + level


def test_noise_alone_follows_the_chi_square_null():
    """White noise about a smooth background: at each block scale z ~ N(0, 1) (the normal
    approximation of the chi-square of the block means), so the largest of the three scales has the
    mean of the largest of three standard normals, 0.85, whatever the noise level or background."""
    rng = np.random.default_rng(0)
    E = np.arange(300.0, 1300.0, 1.0)
    mu = _power_law(E, 1e4, 3.2, 20.0)
    z = structure_significance(rng.poisson(mu, size=(400, E.size)).astype(float), E)
    assert abs(np.mean(z) - 0.85) < 0.4 and 0.5 < np.std(z) < 1.6
    assert np.mean(z < STRUCTURE_Z_MIN) > 0.9
    flat = structure_significance(rng.normal(0.0, 3.0, size=(400, E.size)), E)    # a dark-subtracted vacuum pixel
    assert np.mean(flat < STRUCTURE_Z_MIN) > 0.9


def test_an_edge_above_the_noise_is_structure():
    rng = np.random.default_rng(1)
    E = np.arange(300.0, 1300.0, 1.0)
    bg = _power_law(E, 1e4, 3.0)
    edge = np.where(E >= 532.0, 0.3 * bg[np.searchsorted(E, 532.0)] * (E / 532.0) ** -2.5, 0.0)   # jump ratio 1.3
    y = rng.poisson(bg + edge).astype(float)
    z = structure_significance(y, E)
    assert z > 30
    assert structure_significance(y * 1e-6, E) == pytest.approx(z, rel=1e-6)   # scale-free: any intensity units


def test_untestable_spectra_are_left_to_the_network_and_bad_axes_named():
    E = np.arange(300.0, 300.0 + MIN_CHANNELS - 1)
    assert structure_significance(np.ones((2, E.size)), E).tolist() == [np.inf, np.inf]   # too few channels
    E = np.arange(300.0, 800.0)
    smooth = _power_law(E, 1e3)
    assert structure_significance(smooth, E) < STRUCTURE_Z_MIN                # noiseless and smooth: nothing there
    assert structure_significance(smooth + np.where(E >= 500, 5.0, 0.0), E) > 30   # noiseless with a step
    with pytest.raises(ValueError, match="channel axis"):
        structure_significance(np.ones((3, 10)), np.arange(11.0))
    with pytest.raises(ValueError, match="increasing"):
        structure_significance(np.ones(500), np.arange(800.0, 300.0, -1.0))


def test_window_and_navigation_shape():
    rng = np.random.default_rng(2)
    E = np.arange(0.0, 1000.0, 0.5)                      # below 75 eV: outside the network's window
    mu = np.broadcast_to(_power_law(E + 100.0, 1e3, 3.0, 5.0), (2, 3, E.size))
    data = rng.poisson(mu).astype(np.float32)
    data[0, 0] += np.where(E >= 400.0, 200.0, 0.0).astype(np.float32)        # one pixel with a step
    z = structure_in_window(Spectrum(data, E, {}))
    assert z.shape == (2, 3) and z[0, 0] > 30 and np.sum(z < STRUCTURE_Z_MIN) >= 4


def test_predict_names_nothing_where_there_is_no_structure():
    """A vacuum-like spectrum (dark level and a faint tail under Poisson noise, far above its
    window's edges) gets no element and a note; a spectrum image's vacuum pixels get zero
    probabilities."""
    from eels_helpers.inference.predict import format_prediction, predict

    rng = np.random.default_rng(3)
    E = np.arange(2400.0, 2900.0, 0.5)
    vacuum = rng.poisson(_power_law(E, 10.0, 4.0, 15.0)).astype(np.float32)
    (pred,) = predict(Spectrum(vacuum, E, {}), "default", device="cpu")
    assert pred.detected == () and pred.note.startswith("no identifiable edge")
    assert np.all(pred.probabilities == 0) and format_prediction(pred).split(": ", 1)[1].startswith("no identifiable edge: between")
    E2 = np.arange(300.0, 1000.0, 1.0)
    bg = _power_law(E2, 2e4, 3.0)
    oxide = bg + np.where(E2 >= 532.0, 0.5 * bg[232] * (E2 / 532.0) ** -2.5, 0.0)
    si = np.stack([rng.poisson(oxide), rng.poisson(np.full(E2.size, 4.0))]).astype(np.float32)[None]   # (1, 2, C)
    (img,) = predict(Spectrum(si, E2, {}), "default", device="cpu")
    assert np.all(img.probabilities[0, 1] == 0) and img.probabilities[0, 0].max() > 0


def _dense_smoother(E, nb, width):
    """The (C, nb) matrix the noise smoother was before it was kept as two factors (C^2 / 32 floats)."""
    centres = np.log(E[1 + width // 2 + width * np.arange(nb)])
    t = np.log(E)
    lo, span = centres[0], max(centres[-1] - centres[0], 1e-12)
    degree = min(2, nb - 1)
    B = np.stack([((centres - lo) / span) ** d for d in range(degree + 1)], axis=1)
    T = np.stack([((t - lo) / span) ** d for d in range(degree + 1)], axis=1)
    return T @ np.linalg.pinv(B)


@pytest.mark.parametrize("seed, C", [(0, 64), (1, 97), (2, 700), (3, 5000)])
def test_the_factored_noise_smoother_gives_the_dense_ones_numbers(seed, C):
    from eels_helpers.inference.structure import NOISE_BLOCK_CHANNELS, _noise_smoother

    rng = np.random.default_rng(seed)
    E = np.sort(rng.uniform(80.0, 3000.0, C))
    nb = max((C - 2) // NOISE_BLOCK_CHANNELS, 1)
    width = (C - 2) // nb
    logs = rng.normal(3.0, 2.0, size=(5, nb))
    T, P = _noise_smoother(E, nb, width)
    assert T.shape[0] == C and P.shape[1] == nb and T.shape[1] == P.shape[0] <= 3        # O(C) memory
    np.testing.assert_allclose((logs @ P.T) @ T.T, logs @ _dense_smoother(E, nb, width).T, rtol=1e-10, atol=1e-12)


def test_a_million_channels_fit_in_modest_memory():
    """The dense smoother took 228 GiB here (C^2 / 32 floats); now well under 1 GB."""
    import tracemalloc

    rng = np.random.default_rng(4)
    E = np.linspace(100.0, 3071.0, 1_000_000)
    y = rng.poisson(_power_law(E, 1e6, 3.0, 50.0)).astype(np.float32)
    tracemalloc.start()
    try:
        z = structure_significance(y, E)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(z) and peak < 1e9


def test_an_axis_the_test_cannot_use_is_an_error_naming_the_input():
    from eels_helpers.inference.spectrum_files import SpectrumFileError
    from eels_helpers.inference.structure import identifiable

    E = np.full(500, 400.0)                                       # XPERCHAN 0: every channel at 400 eV
    flat = Spectrum(np.linspace(1.0, 2.0, 500).astype(np.float32), E, {}, "zero.msa")
    with pytest.raises(SpectrumFileError, match=r"zero\.msa: energy_eV must be positive and increasing"):
        identifiable(flat, 0.0)
