"""The paper's pre-processing of experimental spectra (Annys et al. 2023, Fig. 3).

A measured spectrum (any energy window, any dispersion) becomes the networks' input, a
float32 vector of 3072 channels where channel i holds the intensity at i eV:

1. optional energy-offset correction: the axis used is ``E = E_file - offset_eV``, where
   ``offset_eV`` is the calibration error of the file (file minus true, the convention of
   the experimental manifest's ``energy_offset_eV``);
2. rebin to about 1 eV when the dispersion is finer: consecutive channels are averaged in
   groups of ``floor(1 eV / dispersion)`` (bin energy = mean of the group's energies);
3. cubic interpolating spline (not-a-knot, smoothing s=0, as ``scipy.interpolate.splrep(
   s=0)``) through the (rebinned) points, evaluated at the integer energies inside the
   measured range -- never extrapolated;
4. placed in a zero vector of 3072 channels (0..3071 eV; energies outside are dropped),
   i.e. zero padding on both sides of the measured window;
5. channels below 75 eV are set to zero (zero-loss and plasmon region the simulator does
   not model);
6. divided by its maximum, so the largest channel is 1.

Negative intensities (over-subtracted dark reference, background-subtracted data, spline
undershoot) are kept by default as the paper's recipe does (set ``clip_negative=True`` to
set them to 0 before normalising). A spectrum whose maximum in 75-3071 eV is not positive
cannot be normalised: it becomes all zeros and a warning says how many did. Everything is
vectorised over a batch / spectrum image: the spline is applied as one linear operator.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .io import Spectrum, SpectrumFileError, check_overlap, nan_report

#: network input length: channel i = i eV
N_CHANNELS = 3072
#: channels below this energy (eV) are zeroed
MIN_ENERGY_EV = 75.0
#: spectra per matrix product (bounds memory for large spectrum images)
CHUNK = 4096
#: above this many (rebinned) channels the spline is fitted per batch instead of as a matrix
OPERATOR_MAX_POINTS = 4096


def energy_grid() -> np.ndarray:
    """The networks' energy axis: 0, 1, ..., 3071 eV."""
    return np.arange(N_CHANNELS, dtype=np.float64)


def rebin_to_1eV(data: np.ndarray, energy_eV: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average groups of floor(1 eV / dispersion) consecutive channels (no-op above 0.5 eV).

    data: (..., n) intensities; energy_eV: (n,) increasing axis in eV. Returns the rebinned
    (..., n // f) data and the mean energy of each group (eV). The trailing incomplete group
    is dropped. Averaging (not summing) keeps counts per channel comparable; the scale is
    irrelevant after normalisation.
    """
    dispersion = float(np.median(np.diff(energy_eV)))
    factor = int(math.floor(1.0 / dispersion + 1e-9)) if dispersion > 0 else 1
    if factor < 2:
        return data, energy_eV
    n = (energy_eV.size // factor) * factor
    if n // factor < 4:
        return data, energy_eV  # too few points left to fit a cubic spline
    binned = data[..., :n].reshape(data.shape[:-1] + (n // factor, factor)).mean(axis=-1)
    return binned, energy_eV[:n].reshape(-1, factor).mean(axis=-1)


def preprocess(
    spectrum_or_array: Spectrum | np.ndarray,
    energy_eV: np.ndarray | None = None,
    offset_eV: float = 0.0,
    *,
    clip_negative: bool = False,
) -> np.ndarray:
    """Pre-process spectra for the networks (paper Fig. 3; steps in the module docstring).

    spectrum_or_array: a :class:`~eels_helpers.io.Spectrum`, or an array (..., n) of
        intensities (any units) with ``energy_eV`` (n,) in eV. Without ``energy_eV`` an
        array must already have 3072 channels on the 0..3071 eV grid.
    offset_eV: calibration error of the energy axis (file minus true, eV), subtracted.
    Returns float32 (..., 3072), each spectrum scaled so its maximum is 1.
    """
    if isinstance(spectrum_or_array, Spectrum):
        if energy_eV is not None:
            raise ValueError("energy_eV must not be given with a Spectrum (it has its own axis)")
        data, energy, where = spectrum_or_array.data, spectrum_or_array.energy_eV, spectrum_or_array.name
    else:
        data = np.asarray(spectrum_or_array)
        where = "spectrum array"
        if energy_eV is None:
            if data.shape[-1] != N_CHANNELS:
                raise ValueError(
                    f"energy_eV is required for arrays that are not on the 0..3071 eV grid "
                    f"(got {data.shape[-1]} channels, expected {N_CHANNELS})"
                )
            energy = energy_grid()
        else:
            energy = np.asarray(energy_eV, dtype=np.float64)
    if not math.isfinite(offset_eV) or abs(offset_eV) > 500:
        raise ValueError(f"offset_eV must be a finite energy within +-500 eV, got {offset_eV!r} eV")
    if energy.ndim != 1 or data.ndim < 1 or data.shape[-1] != energy.size:
        raise ValueError(
            f"{where}: energy_eV shape {energy.shape} does not match the last axis of data {data.shape}"
        )
    if energy.size < 4:
        raise ValueError(f"{where}: {energy.size} channels; a cubic spline needs at least 4")
    if not np.all(np.isfinite(energy)):
        raise ValueError(f"{where}: energy_eV holds NaN/inf values")
    report = nan_report(data, energy)
    if report:
        raise ValueError(f"{where}: {report}")
    step = np.diff(energy)
    if np.all(step < 0):
        energy, data = energy[::-1], data[..., ::-1]
    elif not np.all(step > 0):
        raise ValueError(f"{where}: energy_eV must be strictly monotonic")
    check_overlap(energy, where, offset_eV)

    energy = energy - offset_eV
    batch_shape = data.shape[:-1]
    flat = np.asarray(data, dtype=np.float64).reshape(-1, data.shape[-1])
    flat, energy = rebin_to_1eV(flat, energy)

    lo = max(math.ceil(energy[0] - 1e-9), 0)
    hi = min(math.floor(energy[-1] + 1e-9), N_CHANNELS - 1)
    grid = np.arange(lo, hi + 1)
    out = np.zeros((flat.shape[0], N_CHANNELS), dtype=np.float32)
    if grid.size:
        out[:, lo : hi + 1] = _spline(energy, flat, grid.astype(np.float64))
    out[:, : int(MIN_ENERGY_EV)] = 0.0
    if clip_negative:
        np.maximum(out, 0.0, out=out)
    peak = out.max(axis=1, keepdims=True)
    dead = peak[:, 0] <= 0
    if dead.any():
        warnings.warn(
            f"{where}: {int(dead.sum())} of {dead.size} spectra have no positive intensity in "
            f"{MIN_ENERGY_EV:.0f}-{N_CHANNELS - 1} eV and were set to zero",
            stacklevel=2,
        )
        out[dead] = 0.0
        peak[dead] = 1.0
    out /= peak
    return out.reshape(batch_shape + (N_CHANNELS,))


def _spline(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Not-a-knot cubic interpolating spline through (x, y[b]) for every row b, at grid.

    The interpolating spline is linear in the data, so for a batch it is applied as one
    matrix: M = spline(identity) evaluated at grid (m x n), result = y @ M.T (exact, and
    ~10x faster than fitting every row for spectrum images).
    """
    from scipy.interpolate import make_interp_spline

    n = x.size
    if y.shape[0] < 8 or n > OPERATOR_MAX_POINTS:
        return make_interp_spline(x, np.ascontiguousarray(y.T), k=3, axis=0)(grid).T.astype(np.float32)
    operator = make_interp_spline(x, np.eye(n), k=3, axis=0)(grid)  # (m, n)
    result = np.empty((y.shape[0], grid.size), dtype=np.float32)
    for start in range(0, y.shape[0], CHUNK):
        result[start : start + CHUNK] = y[start : start + CHUNK] @ operator.T
    return result


__all__ = [
    "N_CHANNELS",
    "MIN_ENERGY_EV",
    "energy_grid",
    "preprocess",
    "rebin_to_1eV",
    "SpectrumFileError",
]
