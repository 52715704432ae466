"""Poisson (shot) noise: statistics, exact region and normal approximation, zeros."""

import numpy as np
import pytest
from scipy import stats

from eels_helpers.simulation.noise import NORMAL_ABOVE, poisson_noise


@pytest.mark.parametrize("lam", [0.3, 4.0, 60.0, 800.0, 5000.0, 2e6])
def test_mean_and_variance_equal_lambda(lam):
    rng = np.random.default_rng(int(lam * 10))
    n = 200_000
    x = poisson_noise(np.full(n, lam), rng).astype(np.float64)
    se_mean = np.sqrt(lam / n)
    assert abs(x.mean() - lam) < 5 * se_mean
    # variance of the sample variance for Poisson: (mu4 - sigma^4)/n = (lam + 2 lam^2)/n
    se_var = np.sqrt((lam + 2 * lam**2) / n)
    assert abs(x.var() - lam) < 5 * se_var
    assert (x >= 0).all() and np.array_equal(x, np.round(x))


def test_exact_region_follows_poisson_pmf():
    rng = np.random.default_rng(3)
    lam = 7.5
    x = poisson_noise(np.full(100_000, lam), rng).astype(int)
    k = np.arange(0, 25)
    observed = np.array([(x == v).sum() for v in k])
    expected = stats.poisson.pmf(k, lam) * x.size
    keep = expected > 20
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert chi2 < stats.chi2.ppf(0.999, keep.sum() - 1)


def test_normal_approximation_close_to_poisson_above_threshold():
    rng = np.random.default_rng(4)
    lam = 1.2 * NORMAL_ABOVE
    x = poisson_noise(np.full(400_000, lam), rng)
    # third central moment of Poisson is lam; the normal approximation has 0, so only check the
    # quantiles against the Poisson distribution
    q = np.quantile(x, [0.01, 0.5, 0.99])
    ref = stats.poisson.ppf([0.01, 0.5, 0.99], lam)
    np.testing.assert_allclose(q, ref, atol=2)


def test_zero_stays_zero_and_errors():
    rng = np.random.default_rng(5)
    x = poisson_noise(np.array([[0.0, 5.0, 0.0, 1e5]]), rng)
    assert x[0, 0] == 0 and x[0, 2] == 0 and x.shape == (1, 4) and x.dtype == np.float32
    with pytest.raises(ValueError, match=">= 0"):
        poisson_noise(np.array([-1.0]), rng)
    with pytest.raises(ValueError):
        poisson_noise(np.array([np.nan]), rng)


def test_deterministic_by_seed():
    lam = np.linspace(0, 3000, 500)
    a = poisson_noise(lam, np.random.default_rng(9))
    b = poisson_noise(lam, np.random.default_rng(9))
    assert np.array_equal(a, b)
