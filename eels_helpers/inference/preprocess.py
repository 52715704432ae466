"""The paper's pre-processing of experimental spectra (Annys et al. 2023, Fig. 3).

A measured spectrum (any energy window, any dispersion) becomes the networks' input, a
float32 vector of 3072 channels where channel i holds the intensity at i eV:

1. optional energy-offset correction: the axis used is ``E = E_file - offset_eV``, where
   ``offset_eV`` is the calibration error of the file (file minus true, the convention of
   the experimental manifest's ``energy_offset_eV``);
1b. not in the paper: spikes (single channels hit by a cosmic ray or an X-ray, far above both
   neighbours on an unbroken level; :mod:`eels_helpers.inference.spikes`) are replaced by the mean
   of their neighbours on the file's own channels (``remove_spikes=False``: the paper's recipe);
1c. not in the paper: dead channels (runs of up to 8 channels reading nothing between live ones:
   a CCD's dead column, the gap between two chips; :mod:`eels_helpers.inference.dead_channels`)
   are filled from the levels on either side (``fill_dead_channels=False``: the paper's recipe);
1d. not in the paper: gain-change steps (a one-channel jump by a constant factor of 1.05-2 with the same
   relative slope on both sides, on axes of <= 0.35 eV per channel; :mod:`eels_helpers.inference.gain_steps`)
   are evened out by dividing the counts above them by the factor (``repair_gain_steps=False``: the
   paper's recipe);
2. rebin to about 1 eV when the dispersion is finer: consecutive channels are averaged in
   groups of ``floor(1 eV / dispersion)`` (bin energy = mean of the group's energies);
3. cubic interpolating spline (not-a-knot, smoothing s=0, as ``scipy.interpolate.splrep(
   s=0)``) through the (rebinned) points, evaluated at the integer energies inside the
   measured range -- never extrapolated;
3b. not in the paper: where the recorded counts hold a saturated flat top (at least 5 channels
   at exactly the maximum, a clipped detector; :mod:`eels_helpers.inference.saturation`) the
   values up to 2 eV above its end are set to zero (``cut_saturated=False``: the paper's recipe);
4. placed in a zero vector of 3072 channels (0..3071 eV; energies outside are dropped),
   i.e. zero padding on both sides of the measured window;
5. channels below 75 eV are set to zero (zero-loss and plasmon region the simulator does
   not model);
5b. not in the paper: at a splice (two acquisitions joined, a step by more than 20x within
   15 eV that no edge makes; :mod:`eels_helpers.inference.splices`) the channels below the step
   are set to zero (``cut_splices=False``: the paper's recipe);
6. divided by its maximum, so the largest channel is 1.

Negative intensities (over-subtracted dark reference, background-subtracted data, spline
undershoot) are kept by default as the paper's recipe does (set ``clip_negative=True`` to
set them to 0 before normalising). A spectrum whose maximum in 75-3071 eV is not positive
cannot be normalised: it becomes all zeros and a warning says how many did. Everything is
vectorised over a batch / spectrum image: the spline is applied as one linear operator.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from eels_helpers import progress_bar
from eels_helpers.inference.gain_steps import BY_DEFAULT as REPAIR_GAIN_STEPS
from eels_helpers.inference.spectrum_files import SpectrumFileError, check_overlap, nan_report
from eels_helpers.inference.spline import spline_operator, spline_rows
from eels_helpers.spectrum import Spectrum

logger = logging.getLogger(__name__)

#: network input length: channel i = i eV
N_CHANNELS = 3072
#: channels below this energy (eV) are zeroed
MIN_ENERGY_EV = 75.0
#: the largest energy-calibration offset (eV) accepted: a calibration error, not a different edge
MAX_OFFSET_EV = 500.0
#: spectra per block of steps 1-3: a spectrum image's float64 copies and repair masks exist for
#: this many spectra at a time (M39: a 256 x 256 x 2048 image peaked at 3.5 GiB when every step
#: ran on all its spectra at once)
CHUNK = 4096


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
    steps = np.sort(np.diff(energy_eV))   # their median (np.median would import numpy.ma)
    dispersion = float(steps[steps.size // 2] if steps.size % 2
                       else 0.5 * (steps[steps.size // 2 - 1] + steps[steps.size // 2]))
    factor = int(math.floor(1.0 / dispersion + 1e-9)) if dispersion > 0 else 1
    if factor < 2:
        return data, energy_eV
    n = (energy_eV.size // factor) * factor
    if n // factor < 4:
        return data, energy_eV  # too few points left to fit a cubic spline
    binned = data[..., :n].reshape(data.shape[:-1] + (n // factor, factor)).mean(axis=-1)
    return binned, energy_eV[:n].reshape(-1, factor).mean(axis=-1)


def _checked_input(spectrum_or_array, energy_eV, offset_eV: float):
    """(data (..., n), energy (n,) increasing with the offset subtracted (eV), where) of a
    spectrum or array, with every check of :func:`preprocess`'s inputs (shape, NaN/inf,
    monotonic axis, overlap with the window, offset range)."""
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
    if not math.isfinite(offset_eV) or abs(offset_eV) > MAX_OFFSET_EV:
        raise ValueError(f"offset_eV must be a finite energy within +-{MAX_OFFSET_EV:g} eV, got {offset_eV!r} eV")
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

    return data, energy - offset_eV, where


def resample_to_grid(
    spectrum_or_array: Spectrum | np.ndarray,
    energy_eV: np.ndarray | None = None,
    offset_eV: float = 0.0,
    *,
    cut_saturated: bool = False,
    return_saturation: bool = False,
    remove_spikes: bool = True,
    fill_dead_channels: bool = True,
    repair_gain_steps: bool = REPAIR_GAIN_STEPS,
    return_repairs: bool = False,
    progress: bool = False,
) -> tuple[np.ndarray, ...]:
    """Steps 1-3 of the module docstring: offset correction, spike removal, dead channels
    filled and gain steps evened out (steps 1b-1d, :func:`repair_counts`), rebinning to about 1 eV and the cubic spline
    evaluated at the integer energies (eV) of 0..3071 inside the measured range; with
    ``cut_saturated`` (step 3b) the values below a saturated flat top's end are set to 0.

    Arguments as :func:`preprocess`. Returns ``(grid, values)``: ``grid`` (m,) int64 energies
    in eV (possibly empty), ``values`` float32 (..., m) spline intensities (input units); with
    ``return_saturation`` also ``(...,)`` the energies up to which a saturated top is (or, without
    ``cut_saturated``, would be) left out, NaN where there is none (:func:`saturated_below_eV`); with
    ``return_repairs`` last the :class:`RepairedChannels` of steps 1b-1d (the same pass).
    ``progress``: a progress bar on stderr over the blocks of ``CHUNK`` spectra (from two blocks on).
    """
    data, energy, where = _checked_input(spectrum_or_array, energy_eV, offset_eV)
    batch_shape = data.shape[:-1]
    flat = data.reshape(-1, data.shape[-1])
    n = flat.shape[0]
    want_sat = cut_saturated or return_saturation
    debug = logger.isEnabledFor(logging.DEBUG)
    # the report only where asked for or logged (a spectrum image's hot path otherwise)
    tally = _RepairTally(n, energy) if return_repairs or debug else None
    values = sat = grid = operator = None
    starts = range(0, max(n, 1), CHUNK)      # a spectrum image in blocks: float64 copies of CHUNK rows
    if progress and len(starts) > 1:
        starts = progress_bar(starts, desc="pre-processing", unit="block", leave=False)
    for start in starts:
        rows = flat[start : start + CHUNK]
        part_sat = _saturated_below(rows, energy) if want_sat else None
        counts, spikes, dead, steps = repair_counts(rows, remove_spikes=remove_spikes,
                                                    fill_dead_channels=fill_dead_channels,
                                                    repair_gain_steps=repair_gain_steps, energy_eV=energy)
        if tally is not None:
            tally.add(start, spikes, dead, steps)
        counts, binned_energy = rebin_to_1eV(counts, energy)
        if grid is None:
            lo = max(math.ceil(binned_energy[0] - 1e-9), 0)
            hi = min(math.floor(binned_energy[-1] + 1e-9), N_CHANNELS - 1)
            grid = np.arange(lo, hi + 1, dtype=np.int64)
            values = np.zeros((n, grid.size), dtype=np.float32)
            at = grid.astype(np.float64)
            operator = spline_operator(binned_energy, at, n) if grid.size else None
            sat = np.full(n, np.nan) if want_sat else None
        if grid.size and rows.shape[0]:
            values[start : start + rows.shape[0]] = spline_rows(binned_energy, counts, at, operator)
        if want_sat:
            sat[start : start + rows.shape[0]] = part_sat
    repaired = tally.result(batch_shape) if tally is not None else None
    if debug:     # the callers tell the user
        for line in repair_summaries(repaired, where):
            logger.debug(line)
    if cut_saturated and np.isfinite(sat).any():
        values[grid[None, :] <= sat[:, None]] = 0.0       # NaN compares False
        if debug:
            from eels_helpers.inference.saturation import saturation_summary
            logger.debug(saturation_summary(sat.reshape(batch_shape), where))
    values = values.reshape(batch_shape + (grid.size,))
    sat = sat.reshape(batch_shape) if want_sat else None
    return (grid, values) + ((sat,) if return_saturation else ()) + ((repaired,) if return_repairs else ())


def _saturated_below(data, energy) -> np.ndarray:
    """(...,) energy (eV) up to which the counts are left out for a saturated top, NaN: none."""
    from eels_helpers.inference.saturation import MARGIN_EV, saturated_end_eV

    return saturated_end_eV(data, energy, MIN_ENERGY_EV, N_CHANNELS - 1) + MARGIN_EV


def saturated_below_eV(spectrum_or_array, energy_eV=None, offset_eV: float = 0.0) -> np.ndarray:
    """Where step 3b cuts: (...,) the energy (eV, offset corrected) up to which the counts of a
    saturated spectrum are left out (:mod:`eels_helpers.inference.saturation`), NaN where the
    spectrum is not saturated. Arguments as :func:`preprocess`."""
    data, energy, _ = _checked_input(spectrum_or_array, energy_eV, offset_eV)
    return _saturated_below(data, energy)


def repair_counts(data, *, remove_spikes: bool = True, fill_dead_channels: bool = True,
                  repair_gain_steps: bool = REPAIR_GAIN_STEPS, energy_eV=None):
    """Steps 1b-1d on counts ``data`` (..., n) on the file's own channels: spikes replaced by
    their neighbours' mean (:mod:`eels_helpers.inference.spikes`), dead channels filled
    (:mod:`eels_helpers.inference.dead_channels`), then gain steps evened out
    (:mod:`eels_helpers.inference.gain_steps`). Returns ``(counts float64 (..., n), spikes, dead,
    steps)``, the three bool masks of what was changed (``steps``: the first channel above each
    step; all False for a step not run). Step 1d needs the axis ``energy_eV`` (n,) eV (its
    dispersion: :func:`eels_helpers.inference.gain_steps.repair_gain_steps`)."""
    from eels_helpers.inference.dead_channels import fill_dead_channels as _fill
    from eels_helpers.inference.gain_steps import repair_gain_steps as _even
    from eels_helpers.inference.spikes import remove_spikes as _remove

    x = np.asarray(data, dtype=np.float64)
    spikes = dead = steps = np.zeros(x.shape, dtype=bool)
    if remove_spikes:
        x, spikes = _remove(x)
    if fill_dead_channels:
        x, dead = _fill(x)
    if repair_gain_steps:
        if energy_eV is None:
            raise ValueError("repair_gain_steps needs energy_eV, the counts' energy axis (eV)")
        x, steps = _even(x, energy_eV)
    return x, spikes, dead, steps


@dataclass(frozen=True)
class RepairedChannels:
    """Where steps 1b-1d changed a spectrum's counts: per spectrum the number of spike channels
    replaced, of dead channels filled and of gain steps evened out ((...,) int), and the distinct
    energies of each (eV, offset corrected; a step's: the first channel above it) over all spectra."""

    spike_count: np.ndarray
    spikes_eV: np.ndarray
    dead_count: np.ndarray
    dead_eV: np.ndarray
    step_count: np.ndarray | int = 0
    steps_eV: np.ndarray = field(default_factory=lambda: np.zeros(0))


def repaired_channels(spectrum_or_array, energy_eV=None, offset_eV: float = 0.0, *, remove_spikes: bool = True,
                      fill_dead_channels: bool = True,
                      repair_gain_steps: bool = REPAIR_GAIN_STEPS) -> RepairedChannels:
    """Where steps 1b-1d change the counts (:class:`RepairedChannels`). Arguments as :func:`preprocess`."""
    data, energy, _ = _checked_input(spectrum_or_array, energy_eV, offset_eV)
    flat = data.reshape(-1, data.shape[-1])
    _, *masks = repair_counts(flat, remove_spikes=remove_spikes, fill_dead_channels=fill_dead_channels,
                              repair_gain_steps=repair_gain_steps, energy_eV=energy)
    tally = _RepairTally(flat.shape[0], energy)
    tally.add(0, *masks)
    return tally.result(data.shape[:-1])


class _RepairTally:
    """What steps 1b-1d changed, gathered block by block over ``n`` spectra on the axis ``energy``
    (:func:`resample_to_grid`): per spectrum the counts, over all spectra the energies."""

    def __init__(self, n: int, energy: np.ndarray):
        self.energy = energy
        self.counts = np.zeros((3, n), dtype=np.int64)
        self.seen = np.zeros((3, energy.size), dtype=bool)

    def add(self, start: int, *masks: np.ndarray) -> None:
        for k, mask in enumerate(masks):           # spikes, dead channels, gain steps: (rows, channels)
            self.counts[k, start : start + mask.shape[0]] = mask.sum(axis=-1)
            self.seen[k] |= mask.any(axis=0)

    def result(self, batch_shape: tuple[int, ...]) -> RepairedChannels:
        spikes, dead, steps = (c.reshape(batch_shape) for c in self.counts)
        return RepairedChannels(spikes, self.energy[self.seen[0]], dead, self.energy[self.seen[1]],
                                steps, self.energy[self.seen[2]])


def repair_summaries(repaired: RepairedChannels, where: str) -> list[str]:
    """One line per kind of change steps 1b-1d made to the counts of ``where`` (a file, a
    spectrum image), for the user; [] when they changed nothing."""
    from eels_helpers.inference import dead_channels, gain_steps, spikes

    lines = []
    for count, at_eV, noun, step in ((repaired.spike_count, repaired.spikes_eV, "spike", spikes),
                                     (repaired.dead_count, repaired.dead_eV, "dead channel", dead_channels),
                                     (repaired.step_count, repaired.steps_eV, "gain step", gain_steps)):
        per = np.asarray(count).reshape(-1)
        if not per.any():
            continue
        listed = ", ".join(f"{e:.0f}" for e in at_eV[:5]) + (", ..." if len(at_eV) > 5 else "")
        head = (f"{int((per > 0).sum())} of {per.size} spectra have {int(per.sum())} {noun}s" if per.size > 1
                else f"{int(per.sum())} {noun}(s)")
        lines.append(f"{where}: {head} at {listed} eV ({step.WHAT}): {step.DONE}")
    return lines


def pad_and_normalise(
    grid: np.ndarray, values: np.ndarray, *, clip_negative: bool = False, where: str = "spectrum array",
    cut_splices: bool = True, return_cuts: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Steps 4-6 of the module docstring: place ``values`` (..., m) at the integer energies
    ``grid`` (m,) eV of a zero vector of 3072 channels, zero the channels below 75 eV (and below a
    splice, step 5b, with ``cut_splices``) and divide each spectrum by its maximum. Returns
    float32 (..., 3072); with ``return_cuts`` also the energies (...,) below which a splice cut
    the counts (NaN: none)."""
    grid = np.asarray(grid, dtype=np.int64)
    values = np.asarray(values, dtype=np.float32)
    if grid.ndim != 1 or values.shape[-1] != grid.size:
        raise ValueError(f"{where}: grid shape {grid.shape} does not match the last axis of values {values.shape}")
    if grid.size and (grid[0] < 0 or grid[-1] >= N_CHANNELS or np.any(np.diff(grid) != 1)):
        raise ValueError(f"{where}: grid must be consecutive integer energies within 0..{N_CHANNELS - 1} eV")
    batch_shape = values.shape[:-1]
    flat = values.reshape(-1, grid.size)
    out = np.zeros((flat.shape[0], N_CHANNELS), dtype=np.float32)
    if grid.size:
        out[:, grid[0] : grid[-1] + 1] = flat
    out[:, : int(MIN_ENERGY_EV)] = 0.0
    cut_eV = np.full(out.shape[0], np.nan)
    if cut_splices:      # the callers tell the user (predict's note, map's log): debug here
        from eels_helpers.inference.splices import cut_splices as _cut
        from eels_helpers.inference.splices import splice_summary

        out, cut_eV = _cut(out)
        if logger.isEnabledFor(logging.DEBUG) and np.isfinite(cut_eV).any():
            logger.debug(splice_summary(cut_eV, where))
    if clip_negative:
        np.maximum(out, 0.0, out=out)
    peak = out.max(axis=1, keepdims=True)
    dead = peak[:, 0] <= 0
    if dead.any():
        warnings.warn(
            f"{where}: {int(dead.sum())} of {dead.size} spectra have no positive intensity in "
            f"{MIN_ENERGY_EV:.0f}-{N_CHANNELS - 1} eV and were set to zero",
            stacklevel=3,
        )
        out[dead] = 0.0
        peak[dead] = 1.0
    out /= peak
    out = out.reshape(batch_shape + (N_CHANNELS,))
    return (out, cut_eV.reshape(batch_shape)) if return_cuts else out


def window_channels(spectrum: Spectrum, offset_eV: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The native channels of ``spectrum`` inside the network's window (``MIN_ENERGY_EV`` to 3071 eV
    after the ``offset_eV`` correction): ``(energy_eV (C,) on the true axis, data (..., C))``; ``data``
    is a view of the spectrum's array where those channels are contiguous (read it, do not write)."""
    energy = np.asarray(spectrum.energy_eV, dtype=np.float64) - float(offset_eV)
    inside = np.flatnonzero((energy >= MIN_ENERGY_EV) & (energy <= N_CHANNELS - 1))
    if inside.size and inside[-1] - inside[0] + 1 == inside.size:     # a monotonic axis: a view, no copy
        inside = slice(int(inside[0]), int(inside[-1]) + 1)
    return energy[inside], np.asarray(spectrum.data)[..., inside]


def signal_in_window(spectrum: Spectrum, offset_eV: float = 0.0) -> tuple[np.ndarray, tuple[float, float]]:
    """Which spectra of ``spectrum`` carry a signal in the network's window, and that window.

    Returns ``(mask, (lo_eV, hi_eV))``: ``mask`` bool of the navigation shape (a 0-d array for
    one spectrum), True where the counts between ``MIN_ENERGY_EV`` and 3071 eV (after the
    offset correction) hold at least one positive value and are not all equal; an all-zero,
    all-negative or constant spectrum (vacuum, an empty or broken file) carries nothing to
    identify. ``(lo_eV, hi_eV)``: the part of the true energy axis inside the window (eV).
    """
    energy, data = window_channels(spectrum, offset_eV)
    if not energy.size:
        return np.zeros(spectrum.navigation_shape, dtype=bool), (float("nan"), float("nan"))
    mask = np.any(data > 0, axis=-1) & (np.ptp(data, axis=-1) > 0)
    return np.asarray(mask), (float(energy[0]), float(energy[-1]))


def preprocess(
    spectrum_or_array: Spectrum | np.ndarray,
    energy_eV: np.ndarray | None = None,
    offset_eV: float = 0.0,
    *,
    clip_negative: bool = False,
    cut_splices: bool = True,
    cut_saturated: bool = True,
    remove_spikes: bool = True,
    fill_dead_channels: bool = True,
    repair_gain_steps: bool = REPAIR_GAIN_STEPS,
    return_cuts: bool = False,
    return_saturation: bool = False,
    return_repairs: bool = False,
    progress: bool = False,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Pre-process spectra for the networks (paper Fig. 3; steps in the module docstring).

    spectrum_or_array: a :class:`~eels_helpers.spectrum.Spectrum`, or an array (..., n) of
        intensities (any units) with ``energy_eV`` (n,) in eV. Without ``energy_eV`` an
        array must already have 3072 channels on the 0..3071 eV grid.
    offset_eV: calibration error of the energy axis (file minus true, eV), subtracted.
    cut_splices: step 5b (not in the paper): leave out the counts below a splice.
    cut_saturated: step 3b (not in the paper): leave out the counts below a saturated flat top's
        end (:func:`saturated_below_eV` says where).
    remove_spikes: step 1b (not in the paper): replace single-channel spikes by their neighbours'
        mean (:func:`repaired_channels` says where).
    fill_dead_channels: step 1c (not in the paper): fill runs of dead channels from the levels on
        either side (:func:`repaired_channels` says where).
    repair_gain_steps: step 1d (not in the paper): divide the counts above a gain-change step by its
        factor (:func:`repaired_channels` says where).
    Returns float32 (..., 3072), each spectrum scaled so its maximum is 1; with ``return_cuts``
    also the energies (...,) in eV below which a splice cut the counts (NaN: none); with
    ``return_saturation`` last the energies (...,) up to which a saturated top was left out (NaN:
    none; :func:`saturated_below_eV`), from the same pass over the counts; with ``return_repairs``
    last the :class:`RepairedChannels` of steps 1b-1d (what :func:`repaired_channels` says).
    progress: a progress bar on stderr over steps 1-3 of a large spectrum image.
    """
    where = spectrum_or_array.name if isinstance(spectrum_or_array, Spectrum) else "spectrum array"
    grid, values, *extra = resample_to_grid(spectrum_or_array, energy_eV, offset_eV, cut_saturated=cut_saturated,
                                            return_saturation=return_saturation, remove_spikes=remove_spikes,
                                            fill_dead_channels=fill_dead_channels,
                                            repair_gain_steps=repair_gain_steps, return_repairs=return_repairs,
                                            progress=progress)
    out = pad_and_normalise(grid, values, clip_negative=clip_negative, where=where,
                            cut_splices=cut_splices, return_cuts=return_cuts)
    if not extra:
        return out
    return (*out, *extra) if return_cuts else (out, *extra)


def left_out_below_eV(spectrum: Spectrum, offset_eV: float = 0.0) -> float:
    """The energy (eV, after the ``offset_eV`` correction) below which the pre-processing leaves a
    spectrum's counts out: under a splice (step 5b) or up to a saturated top (step 3b); a
    spectrum image: its summed spectrum's; 0.0 when neither. Model fits start above it."""
    if getattr(spectrum, "is_spectrum_image", False):
        spectrum = spectrum.summed()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # no signal at all: the caller reports it itself
        _, splice, saturated = preprocess(spectrum, offset_eV=float(offset_eV), return_cuts=True,
                                          return_saturation=True)
    return left_out_below_cuts(splice, saturated)


def left_out_below_cuts(splice_cut_eV, saturation_cut_eV) -> float:
    """The energy (eV) below which one spectrum's counts were left out, from the pre-processing's two
    cuts (:func:`preprocess` with ``return_cuts`` and ``return_saturation``; NaN: no such cut): the
    higher of them, 0.0 when neither."""
    cuts = (float(np.asarray(c, dtype=np.float64)) for c in (splice_cut_eV, saturation_cut_eV))
    return max((c for c in cuts if np.isfinite(c)), default=0.0)


@dataclass(frozen=True)
class PreprocessingSteps:
    """The stages of paper Fig. 3 for one spectrum (a spectrum image: its summed spectrum).

    raw_energy_eV / raw: the file's axis (eV, as recorded) and intensities;
    offset_eV: the calibration error subtracted from the axis;
    grid_eV / resampled: the spline on the integer energies of the measured range (after the
    offset correction and any rebinning; input units);
    inputs: the network input, float32 (3072,) on 0..3071 eV, zero padded, zero below
    75 eV, maximum 1.
    """

    name: str
    raw_energy_eV: np.ndarray
    raw: np.ndarray
    offset_eV: float
    grid_eV: np.ndarray
    resampled: np.ndarray
    inputs: np.ndarray


def preprocessing_steps(spectrum: Spectrum, offset_eV: float = 0.0, *,
                        clip_negative: bool = False) -> PreprocessingSteps:
    """Every stage of :func:`preprocess` for one spectrum (spectrum images are summed first)."""
    if not isinstance(spectrum, Spectrum):
        raise TypeError(f"spectrum must be an eels_helpers.spectrum.Spectrum, got {type(spectrum).__name__}")
    if spectrum.is_spectrum_image:
        spectrum = spectrum.summed()
    grid, values = resample_to_grid(spectrum, offset_eV=offset_eV, cut_saturated=True)
    inputs = pad_and_normalise(grid, values, clip_negative=clip_negative, where=spectrum.name)
    return PreprocessingSteps(spectrum.name, np.asarray(spectrum.energy_eV, dtype=np.float64),
                              np.asarray(spectrum.data, dtype=np.float64), float(offset_eV), grid,
                              values, inputs)


def plot_preprocessing_steps(steps: PreprocessingSteps, zoom_eV: float = 30.0, centre_eV: float | None = None):
    """Fig. 3: (a) the raw spectrum on its own axis, (b) a ``zoom_eV`` window of the raw
    channels and the 1 eV spline values around ``centre_eV`` (default: the steepest rise of
    the spline, smoothed over 5 eV: usually an edge onset), (c) the network input (zero
    padded, normalised). Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    if zoom_eV <= 0:
        raise ValueError(f"zoom_eV must be a positive energy width (eV), got {zoom_eV}")
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.4), gridspec_kw={"width_ratios": [1.2, 1, 1.6]})
    a.plot(steps.raw_energy_eV, steps.raw, lw=0.8, color="k")
    a.set(title=f"(a) {steps.name}: as recorded", xlabel="energy loss, file axis (eV)", ylabel="counts")
    shifted = steps.raw_energy_eV - steps.offset_eV
    if steps.grid_eV.size:
        if centre_eV is None and steps.grid_eV.size > 6:
            rise = np.convolve(np.diff(steps.resampled), np.ones(5) / 5, mode="same")
            centre_eV = float(steps.grid_eV[int(np.argmax(rise[2:-2])) + 3])
        centre = float(steps.grid_eV[0]) if centre_eV is None else centre_eV
        lo = max(float(steps.grid_eV[0]), centre - zoom_eV / 2)
        hi = lo + zoom_eV
        raw_in = (shifted >= lo) & (shifted <= hi)
        grid_in = (steps.grid_eV >= lo) & (steps.grid_eV <= hi)
        b.plot(shifted[raw_in], steps.raw[raw_in], ".", ms=3, color="0.5", label="recorded channels")
        b.plot(steps.grid_eV[grid_in], steps.resampled[grid_in], "o-", ms=3, lw=0.8, color="tab:blue",
               label="spline at 1 eV")
        b.legend(fontsize=7)
    offset = f", offset {steps.offset_eV:+g} eV corrected" if steps.offset_eV else ""
    b.set(title="(b) spline onto the 1 eV grid", xlabel=f"energy loss (eV{offset})")
    energy = energy_grid()
    c.plot(energy, steps.inputs, lw=0.8, color="tab:blue")
    c.axvspan(0, MIN_ENERGY_EV, color="0.9", label=f"zeroed below {MIN_ENERGY_EV:.0f} eV")
    c.set(title="(c) zero padded and normalised: the network input", xlabel="energy loss (eV)",
          ylabel="normalised intensity", xlim=(0, N_CHANNELS - 1))
    c.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


__all__ = [
    "PreprocessingSteps",
    "pad_and_normalise",
    "plot_preprocessing_steps",
    "preprocessing_steps",
    "resample_to_grid",
    "saturated_below_eV",
    "left_out_below_eV",
    "left_out_below_cuts",
    "N_CHANNELS",
    "MIN_ENERGY_EV",
    "energy_grid",
    "preprocess",
    "rebin_to_1eV",
    "SpectrumFileError",
]
