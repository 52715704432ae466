"""Counting (shot) noise of the detector (paper Fig. 2f).

Each channel of the noise-free spectrum holds an expected number of counts lambda (the background
amplitude A sets the scale); the recorded value is a Poisson variate, so mean = variance = lambda
and the signal-to-noise ratio of a channel is sqrt(lambda) (Annys et al. 2023, Methods: "the
signal to noise ratio is fully determined by the previous parameters, the background amplitude A
in particular").

Speed: drawing Poisson variates is the most expensive step of the simulator (~5x a normal
variate). Channels with lambda >= ``NORMAL_ABOVE`` = 1000 counts are therefore drawn from the
normal approximation round(N(lambda, lambda)); its total-variation distance to Poisson(lambda) is
0.40 % at lambda = 1000 and falls as lambda^-1/2 (0.23 % at 3000; computed with scipy.stats).
Below, variates are exact Poisson. ``exact_below=np.inf`` draws every channel exactly.
Channels with lambda = 0 (outside the detector window) are not drawn and stay 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["poisson_noise", "NORMAL_ABOVE"]

#: expected counts from which the normal approximation of the Poisson distribution is used
NORMAL_ABOVE = 1000.0


def poisson_noise(expected_counts, rng: np.random.Generator, *,
                  exact_below: float = NORMAL_ABOVE) -> np.ndarray:
    """Poisson counts with means ``expected_counts`` (any shape, finite, >= 0) -> float32.

    Exact Poisson variates (``rng.poisson``) where 0 < lambda < ``exact_below``; above, the
    normal approximation round(lambda + sqrt(lambda) z), z ~ N(0, 1), clipped at 0."""
    lam = np.asarray(expected_counts, dtype=np.float32)
    if not np.all(lam >= 0):  # also catches NaN
        raise ValueError("poisson_noise: expected counts must be finite and >= 0")
    if not np.isfinite(lam.max(initial=0.0)):
        raise ValueError("poisson_noise: expected counts must be finite")
    out = np.zeros(lam.shape, dtype=np.float32)
    small = (lam > 0) & (lam < exact_below)
    out[small] = rng.poisson(lam[small].astype(np.float64))
    big = lam >= exact_below
    if big.any():
        lb = lam[big]
        z = rng.standard_normal(lb.size, dtype=np.float32)
        out[big] = np.maximum(np.rint(lb + np.sqrt(lb) * z), np.float32(0))
    return out
