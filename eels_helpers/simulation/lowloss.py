"""Generic low-loss region (paper Fig. 2c) and its convolution with the core-loss edges (Fig. 2d).

Model (Annys et al. 2023, Methods; Egerton, *EELS in the Electron Microscope*, 3rd ed. 2011):

* zero-loss peak: a Lorentzian of full width at half maximum ``Gamma_0`` (eV),
  ``Z(E) = (Gamma_0 / 2 pi) / (E^2 + Gamma_0^2 / 4)``;
* plasmon peak n (n = 1 .. N): the Drude loss function (Egerton eq. 3.44)
  ``S_n(E) = Im[-1/eps(E)] = E Gamma_n E_n^2 / ((E^2 - E_n^2)^2 + (E Gamma_n)^2)`` for E > 0,
  with its own energy ``E_n`` and width ``Gamma_n`` (eV) drawn from Table 1;
* weights: peak n is scaled by the Poisson probability of n inelastic collisions
  ``P_n = (t/lambda)^n exp(-t/lambda) / n!`` (Egerton eq. 3.105). The paper's Methods print
  ``(t/2)``; Table 1 names the parameter ``t/lambda`` and Poisson statistics need the thickness in
  units of the mean free path, so we read ``t/2`` as a typesetting slip for ``t/lambda``.

Reading of "an arbitrary number of plasmon peaks ... with an arbitrary energy and width, ...
scaled by P_n": the N peaks are independent Drude functions, the n-th one (n = 1..N) weighted by
P_n. Each peak is normalised to unit area on the 1 eV grid, so the ZLP holds exactly the fraction
P_0 = exp(-t/lambda) of all electrons and the kernel's total area is sum_{n<=N} P_n (<= 1: the
orders above N are not simulated). Peaks are evaluated on ``SUPPORT_EV`` channels (0..255 eV for
plasmons, -256..255 eV for the ZLP) and normalised there; the truncated tails of the continuous
functions hold < 1 % of a peak's area for the Table 1 ranges (ZLP FWHM 3 eV: 0.4 %; Drude
E_p = Gamma = 20 eV: 0.3 %).

The convolution of the summed edges with the kernel is a circular FFT convolution of length
``N_FFT`` = 4096, computed with ``scipy.fft`` in float32. The simulator keeps the edges only up
to 3071 + 5 + ``SUPPORT_EV`` eV (last recorded channel, largest instrumental shift, kernel
support), so nothing wraps around into the 0..3071 eV window.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy.special import gammaln

__all__ = ["N_FFT", "SUPPORT_EV", "LOWLOSS_MODELS", "poisson_weights", "zero_loss_peak", "drude_loss_function",
           "lowloss_components", "lowloss_kernel", "poisson_series_kernel", "lowloss_spectrum", "kernel_rfft",
           "convolve"]

#: FFT length of the convolution (channels of 1 eV)
N_FFT = 4096
#: half-width (eV) of the support on which ZLP and plasmons are evaluated
SUPPORT_EV = 256
#: the low-loss models of ``SimulationConfig.lowloss_model``: "paper" (:func:`lowloss_kernel`, the
#: paper's independent plasmon peaks) and "poisson" (:func:`poisson_series_kernel`, one plasmon and
#: its multiple scattering)
LOWLOSS_MODELS = ("paper", "poisson")


def poisson_weights(t_over_lambda, n_max: int) -> np.ndarray:
    """P_n = (t/lambda)^n exp(-t/lambda) / n!  for n = 0..n_max (Egerton 2011 eq. 3.105).

    ``t_over_lambda`` (B,) dimensionless -> (B, n_max + 1) float64.
    """
    x = np.asarray(t_over_lambda, dtype=np.float64)[:, None]
    n = np.arange(n_max + 1, dtype=np.float64)[None, :]
    with np.errstate(divide="ignore"):
        logx = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)
    logp = n * logx - x - gammaln(n + 1)
    logp[:, 0] = -x[:, 0]  # 0^0 = 1
    return np.exp(logp)


def zero_loss_peak(energy_eV, fwhm_eV) -> np.ndarray:
    """Lorentzian ZLP of full width at half maximum ``fwhm_eV`` (B,) on ``energy_eV`` (n,) (eV),
    normalised to unit sum on that grid -> (B, n) float32.
    Z(E) = (Gamma/2pi) / (E^2 + Gamma^2/4)."""
    E = np.asarray(energy_eV, dtype=np.float32)[None, :]
    g = np.asarray(fwhm_eV, dtype=np.float32)[:, None]
    z = (g / np.float32(2 * np.pi)) / (E * E + np.float32(0.25) * g * g)
    return z / z.sum(axis=1, keepdims=True)


def drude_loss_function(energy_eV, plasmon_energy_eV, width_eV) -> np.ndarray:
    """Drude energy-loss function Im[-1/eps(E)] = E Gamma Ep^2 / ((E^2 - Ep^2)^2 + (E Gamma)^2)
    (Egerton 2011 eq. 3.44), zero for E <= 0. ``energy_eV`` broadcasts against
    ``plasmon_energy_eV`` and ``width_eV`` (all eV); dimensionless."""
    E = np.asarray(energy_eV, dtype=np.float32)
    Ep = np.asarray(plasmon_energy_eV, dtype=np.float32)
    G = np.asarray(width_eV, dtype=np.float32)
    EG = E * G
    d = E * E - Ep * Ep
    den = d * d + EG * EG
    out = EG * Ep * Ep / np.where(den > 0, den, np.float32(1))
    return np.where(E > 0, out, np.float32(0))


def lowloss_components(fwhm_eV, plasmon_energy_eV, plasmon_width_eV, n_plasmons, t_over_lambda,
                       support_eV: int = SUPPORT_EV):
    """The weighted pieces of the low-loss region.

    Parameters (B = batch, P = padded number of plasmons): ``fwhm_eV`` (B,) ZLP FWHM;
    ``plasmon_energy_eV``, ``plasmon_width_eV`` (B, P); ``n_plasmons`` (B,) how many of the P
    columns are used; ``t_over_lambda`` (B,).

    Returns ``(zlp, plasmons, weights)``: ``zlp`` (B, 2 S) on energies -S..S-1 eV with sum P_0;
    ``plasmons`` (B, P, S) on energies 0..S-1 eV, peak n (column n-1) with sum P_n (0 when
    n > n_plasmons); ``weights`` (B, P + 1) = P_0..P_P with the unused ones zeroed.
    """
    Ep = np.asarray(plasmon_energy_eV, dtype=np.float32)
    Gp = np.asarray(plasmon_width_eV, dtype=np.float32)
    n_pl = np.asarray(n_plasmons)
    B, P = Ep.shape
    w = poisson_weights(t_over_lambda, P)
    w[:, 1:][np.arange(1, P + 1)[None, :] > n_pl[:, None]] = 0.0
    w = w.astype(np.float32)
    S = int(support_eV)
    zlp = zero_loss_peak(np.arange(-S, S), fwhm_eV) * w[:, :1]
    E = np.arange(S, dtype=np.float32)[None, None, :]
    pl = drude_loss_function(E, Ep[..., None], Gp[..., None])
    pl /= np.maximum(pl.sum(axis=2, keepdims=True), np.float32(1e-30))
    pl *= w[:, 1:, None]
    return zlp, pl, w


def lowloss_kernel(fwhm_eV, plasmon_energy_eV, plasmon_width_eV, n_plasmons, t_over_lambda,
                   n_fft: int = N_FFT, support_eV: int = SUPPORT_EV) -> np.ndarray:
    """The low-loss region as a circular convolution kernel (B, n_fft) float32: channel k holds
    energy k eV for k < n_fft/2 and k - n_fft eV above (the ZLP's negative side wraps to the
    end). Total area sum_{n=0}^{N} P_n."""
    zlp, pl, _ = lowloss_components(fwhm_eV, plasmon_energy_eV, plasmon_width_eV, n_plasmons,
                                    t_over_lambda, support_eV)
    k = _circular(zlp, n_fft)
    k[:, :int(support_eV)] += pl.sum(axis=1)
    return k


def _circular(two_sided, n_fft: int) -> np.ndarray:
    """(B, 2 S) values on energies -S..S-1 eV laid out as a circular kernel (B, n_fft) of the same
    dtype: channel k holds energy k eV for k < S, the negative side wraps to the end."""
    S = two_sided.shape[1] // 2
    if 2 * S > n_fft:
        raise ValueError(f"support_eV = {S} eV needs n_fft >= {2 * S}")
    k = np.zeros((two_sided.shape[0], n_fft), dtype=two_sided.dtype)
    k[:, :S], k[:, n_fft - S:] = two_sided[:, S:], two_sided[:, :S]
    return k


def poisson_series_kernel(fwhm_eV, plasmon_energy_eV, plasmon_width_eV, t_over_lambda,
                          n_fft: int = N_FFT, support_eV: int = SUPPORT_EV) -> np.ndarray:
    """The low-loss region of one bulk plasmon and its multiple scattering, as a circular
    convolution kernel (B, n_fft) float32 laid out as :func:`lowloss_kernel`'s, total area 1.

    J(E) = Z(E) * sum_n P_n S^(*n)(E) (Egerton 2011, eqs. 3.105 and 4.6-4.8): S the single-scattering
    distribution, a Drude loss function (:func:`drude_loss_function`) of energy ``plasmon_energy_eV``
    and width ``plasmon_width_eV`` (B,) normalised to unit area on 0..support_eV-1 eV, S^(*n) its n-fold
    self-convolution (the n-th plasmon near n E_p, as measured: Egerton 2011, sec. 3.3), P_n the
    Poisson weights of ``t_over_lambda`` (B,), Z the Lorentzian zero-loss peak of ``fwhm_eV`` (B,).
    Every order is kept: in Fourier space j = z exp((t/lambda)(s - 1)) (Egerton eq. 4.8).
    """
    S = int(support_eV)
    tl = np.asarray(t_over_lambda, dtype=np.float64)[:, None]
    z = _circular(zero_loss_peak(np.arange(-S, S), fwhm_eV).astype(np.float64), n_fft)
    single = np.zeros_like(z)
    sd = drude_loss_function(np.arange(S, dtype=np.float64)[None, :],
                             np.asarray(plasmon_energy_eV, dtype=np.float64)[:, None],
                             np.asarray(plasmon_width_eV, dtype=np.float64)[:, None]).astype(np.float64)
    single[:, :S] = sd / np.maximum(sd.sum(axis=1, keepdims=True), 1e-30)
    j = scipy.fft.rfft(z, axis=1) * np.exp(tl * (scipy.fft.rfft(single, axis=1) - 1.0))
    return np.maximum(scipy.fft.irfft(j, n=n_fft, axis=1), 0.0).astype(np.float32)   # rounding: >= 0


def lowloss_spectrum(kernel, n_channels: int = 3072) -> np.ndarray:
    """The positive-energy part 0..n_channels-1 eV of a kernel from :func:`lowloss_kernel`,
    for display (Fig. 2c)."""
    return np.ascontiguousarray(kernel[:, :n_channels])


def kernel_rfft(kernel) -> np.ndarray:
    """Real FFT (complex64) of kernels (B, n_fft)."""
    return scipy.fft.rfft(np.asarray(kernel, dtype=np.float32), axis=1)


def convolve(signal, kernel=None, *, kernel_ft=None) -> np.ndarray:
    """Circular convolution (signal * kernel)[i] = sum_j signal[j] kernel[(i - j) mod n] of
    (B, n) float32 arrays by scipy.fft (float32 throughout). Give ``kernel`` or its
    :func:`kernel_rfft`."""
    x = np.asarray(signal, dtype=np.float32)
    n = x.shape[1]
    if kernel_ft is None:
        if kernel is None:
            raise ValueError("convolve needs kernel or kernel_ft")
        kernel_ft = kernel_rfft(kernel)
    out = scipy.fft.irfft(scipy.fft.rfft(x, axis=1) * kernel_ft, n=n, axis=1)
    return out.astype(np.float32, copy=False)
