"""Low-loss region: Poisson weights, ZLP and plasmon areas, Drude peak, FFT convolution."""

import numpy as np
import pytest
from scipy import stats

from eels_helpers.simulation import lowloss


def test_poisson_weights_match_scipy():
    t = np.array([0.1, 0.37, 1.0, 2.5])
    P = lowloss.poisson_weights(t, 8)
    ref = stats.poisson.pmf(np.arange(9)[None, :], t[:, None])
    np.testing.assert_allclose(P, ref, rtol=1e-12)
    np.testing.assert_allclose(P[:, 0], np.exp(-t))
    # the full series sums to one
    np.testing.assert_allclose(lowloss.poisson_weights(t, 60).sum(axis=1), 1.0, rtol=1e-12)


def _components(rng, B=64):
    fwhm = rng.uniform(1, 3, B)
    n_pl = rng.integers(2, 6, B)
    used = np.arange(5)[None, :] < n_pl[:, None]
    Ep = np.where(used, rng.integers(3, 21, (B, 5)), 0)
    Gp = np.where(used, rng.integers(3, 21, (B, 5)), 0)
    t = rng.uniform(0.1, 1.0, B)
    return fwhm, Ep, Gp, n_pl, t


def test_zlp_and_plasmon_areas_are_poisson_weights():
    rng = np.random.default_rng(0)
    fwhm, Ep, Gp, n_pl, t = _components(rng)
    zlp, pl, w = lowloss.lowloss_components(fwhm, Ep, Gp, n_pl, t)
    # ZLP area fraction = exp(-t/lambda) (of all electrons)
    np.testing.assert_allclose(zlp.sum(axis=1), np.exp(-t), rtol=1e-5)
    # peak n holds P_n for n <= N, nothing above
    ref = stats.poisson.pmf(np.arange(1, 6)[None, :], t[:, None])
    ref[np.arange(1, 6)[None, :] > n_pl[:, None]] = 0
    np.testing.assert_allclose(pl.sum(axis=2), ref, rtol=1e-5, atol=1e-9)
    kernel = lowloss.lowloss_kernel(fwhm, Ep, Gp, n_pl, t)
    total = stats.poisson.cdf(n_pl, t)  # sum_{n<=N} P_n
    np.testing.assert_allclose(kernel.sum(axis=1), total, rtol=1e-5)
    assert (kernel >= 0).all()


def test_zlp_is_lorentzian_of_given_fwhm():
    E = np.arange(-256, 256) / 10.0          # fine grid to read the width off
    z = lowloss.zero_loss_peak(E, np.array([2.0]))[0]
    half = z >= z.max() / 2
    width = E[half][-1] - E[half][0]
    assert width == pytest.approx(2.0, abs=0.11)


def test_drude_peak_position_and_width():
    # Im(-1/eps) peaks near Ep with FWHM ~ Gamma when Gamma << Ep (Egerton 2011 eq. 3.44)
    E = np.linspace(0.01, 60, 60000)
    y = lowloss.drude_loss_function(E, 20.0, 2.0)
    assert E[np.argmax(y)] == pytest.approx(20.0, abs=0.05)
    above = E[y >= y.max() / 2]
    assert above[-1] - above[0] == pytest.approx(2.0, rel=0.02)
    assert lowloss.drude_loss_function(np.array([0.0, -1.0]), 10.0, 5.0).tolist() == [0, 0]


def test_fft_convolution_equals_direct_circular_convolution():
    rng = np.random.default_rng(1)
    n = 64
    x = rng.random((3, n)).astype(np.float32)
    k = rng.random((3, n)).astype(np.float32)
    out = lowloss.convolve(x, k)
    ref = np.stack([[sum(x[b, j] * k[b, (i - j) % n] for j in range(n)) for i in range(n)]
                    for b in range(3)])
    np.testing.assert_allclose(out, ref, rtol=1e-4)
    assert out.dtype == np.float32


def test_convolving_a_step_keeps_its_area_fraction():
    rng = np.random.default_rng(2)
    fwhm, Ep, Gp, n_pl, t = _components(rng, 4)
    kernel = lowloss.lowloss_kernel(fwhm, Ep, Gp, n_pl, t)
    x = np.zeros((4, lowloss.N_FFT), np.float32)
    x[:, 1000] = 1.0
    y = lowloss.convolve(x, kernel)
    np.testing.assert_allclose(y.sum(axis=1), kernel.sum(axis=1), rtol=1e-4)
    # the ZLP part sits at the delta: channel 1000 holds at least P0 x (peak of the unit ZLP)
    assert (y[:, 1000] > 0.9 * y.max(axis=1)).all() or (y[:, 1000] == y.max(axis=1)).all()


def test_poisson_series_kernel_is_one_plasmon_and_its_multiple_scattering():
    """The "poisson" low-loss model: unit area (every order kept), the zero-loss share exp(-t/lambda),
    plasmon peaks near E_p and 2 E_p, and the compound-Poisson first moment (t/lambda) <E>_S."""
    from eels_helpers.simulation.lowloss import drude_loss_function, poisson_series_kernel

    tl = np.array([0.3, 1.0])
    Ep, G = np.array([20.0, 25.0]), np.array([4.0, 6.0])
    k = poisson_series_kernel(np.array([0.02, 0.02]), Ep, G, tl).astype(np.float64)
    assert k.shape == (2, 4096) and (k >= 0).all()
    np.testing.assert_allclose(k.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(k[:, 0], np.exp(-tl), rtol=0.02)      # a 0.02 eV ZLP sits in channel 0
    E = np.arange(4096.0)
    E[2048:] -= 4096
    s = drude_loss_function(np.arange(256.0)[None, :], Ep[:, None], G[:, None]).astype(np.float64)
    mean_s = (s * np.arange(256.0)).sum(axis=1) / s.sum(axis=1)
    np.testing.assert_allclose((k * E).sum(axis=1), tl * mean_s, rtol=0.01)
    for b in range(2):
        first = int(np.argmax(k[b, 5:40])) + 5
        second = int(np.argmax(k[b, first + 10: 3 * first])) + first + 10
        assert abs(first - Ep[b]) <= 1 and abs(second - 2 * Ep[b]) <= 3


def test_lowloss_model_poisson_changes_only_the_kernel():
    """Same seed, "paper" and "poisson" low-loss: the same draws (labels and parameters), different
    plural scattering; an unknown model is refused with the field named."""
    from eels_helpers.simulation.config import ConfigError, SimulationConfig
    from eels_helpers.simulation.pipeline import simulate_batch
    from eels_helpers.simulation.specimens import Specimen

    specs = [Specimen(("O", "Ti"), (0.67, 0.33), "Ti")] * 4
    a = simulate_batch(specs, SimulationConfig(), np.random.default_rng(3))
    b = simulate_batch(specs, SimulationConfig(lowloss_model="poisson"), np.random.default_rng(3))
    np.testing.assert_array_equal(a.labels_identification, b.labels_identification)
    np.testing.assert_array_equal(a.params["t_over_lambda"], b.params["t_over_lambda"])
    assert not np.allclose(a.spectra, b.spectra)
    with pytest.raises(ConfigError, match="lowloss_model"):
        SimulationConfig(lowloss_model="drude")
