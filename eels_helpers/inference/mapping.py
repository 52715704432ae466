"""Spectrum-image mapping (paper "Elemental mapping" and Fig. 7).

Two kinds of map, as in the paper:

1. the network's per-pixel probabilities (before and after a threshold; the paper's SI demo uses
   the ensemble at 0.75), with the paper's presence criterion: an element is kept only when it
   is above threshold in MORE than ``presence`` = 1 % of the pixels (:func:`map_elements`);
2. a model-based quantification fed with the kept elements (:mod:`eels_helpers.inference.quantify`:
   cross sections convolved with the low-loss, a linearised power-law background, non-negative
   least squares), giving relative atomic-fraction maps (:func:`quantify_map`).

Both can be scored against a known truth (:func:`score_identification`,
:func:`score_quantification`), e.g. the synthetic superlattice of
:mod:`eels_helpers.simulation.superlattice`, and drawn like Fig. 7
(:func:`eels_helpers.inference.mapping_output.plot_fig7`).

:func:`read_map_input` reads a spectrum image file, a superlattice file or the synthetic
``superlattice``; :func:`eels_helpers.inference.mapping_output.write_results` writes ``mapping.h5``
and the PNGs into a folder atomically. The command line ``eels-id map`` is :mod:`eels_helpers.cli.map`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from eels_helpers.inference.gain_steps import BY_DEFAULT as REPAIR_GAIN_STEPS

__all__ = ["PRESENCE_FRACTION", "CONFIRM_ON_SUMS", "SPATIAL_COHERENCE", "AGAINST_CHANCE",
           "TWIN_NEIGHBOURHOOD",
           "MappingResult", "QuantMap", "map_elements", "quantify_map", "score_identification",
           "score_quantification", "as_spectrum", "read_map_input", "quantification_options"]

#: keep an element only if it is detected in more than this fraction of the pixels (paper: 1 %)
PRESENCE_FRACTION = 0.01
#: confirm each kept element on the summed spectrum of its pixels (:mod:`~eels_helpers.inference.map_confirmation`)
CONFIRM_ON_SUMS = False
#: keep only elements whose above-threshold pixels are spatially coherent (:mod:`~eels_helpers.inference.map_coherence`)
SPATIAL_COHERENCE = True
#: elements whose pixels are no more clustered than chance placements are decided on the sum of all
#: pixels (:func:`~eels_helpers.inference.map_coherence.chance_component_size`, experiments Z37, Z38)
AGAINST_CHANCE = True
#: the twin resolver reads the mean network input of each pixel's N x N neighbourhood (M27)
TWIN_NEIGHBOURHOOD = 3


# --------------------------------------------------------------------------- results
@dataclass(eq=False)
class MappingResult:
    """Network maps of a spectrum image.

    probabilities: float32 (*nav, 80) in ``elements.ELEMENTS`` order; threshold; presence;
    detected: kept elements (above threshold in > presence of pixels), by decreasing pixel
    fraction; pixel_fraction: (80,) fraction of pixels above threshold; seconds: wall time of
    pre-processing + network (+ twin resolver, + the confirmation on sums); twin_pixels: pixels where the twin resolver
    dropped one of two reported onset twins (its probability there set to 0); withheld: elements
    without a stable isotope (Tc, Pm) above the presence criterion but not kept, with their pixel
    fraction (:mod:`eels_helpers.inference.unstable_elements`; their maps are left as they are);
    unconfirmed: elements above the presence criterion that the summed spectrum of their pixels does
    not report, with their probability there (:mod:`eels_helpers.inference.map_confirmation`);
    incoherent: elements above the presence criterion whose above-threshold pixels are scattered,
    with the share of them that has an above-threshold neighbour (:mod:`eels_helpers.inference.map_coherence`).
    by_chance: elements whose above-threshold pixels are no more clustered than chance placements of as many
    pixels and that the sum of all pixels does not report, with their probability on that sum
    (:func:`eels_helpers.inference.map_confirmation.confirm_on_image_sum`, experiment Z37).
    """

    probabilities: np.ndarray
    threshold: float
    presence: float
    detected: tuple[str, ...]
    pixel_fraction: np.ndarray
    model_name: str = ""
    offset_eV: float = 0.0
    seconds: float = 0.0
    twin_pixels: int = 0
    withheld: dict[str, float] = field(default_factory=dict)
    unconfirmed: dict[str, float] = field(default_factory=dict)
    incoherent: dict[str, float] = field(default_factory=dict)
    by_chance: dict[str, float] = field(default_factory=dict)

    @property
    def navigation_shape(self) -> tuple[int, ...]:
        return tuple(self.probabilities.shape[:-1])

    @property
    def thresholded(self) -> np.ndarray:
        """bool (*nav, 80): probability >= threshold."""
        return self.probabilities >= self.threshold

    def probability_map(self, element: str) -> np.ndarray:
        from eels_helpers.physics.elements import element_index
        return self.probabilities[..., element_index(element)]

    def thresholded_map(self, element: str) -> np.ndarray:
        return self.probability_map(element) >= self.threshold

    def to_signal_elements(self, signal: Any, *, exclude=(), replace: bool = True) -> list[str]:
        """Set the kept elements as ``signal.metadata.Sample.elements`` (see
        :func:`eels_helpers.inference.hyperspy_signals.to_signal_elements`)."""
        from eels_helpers.inference.hyperspy_signals import to_signal_elements
        return to_signal_elements(signal, self, exclude=exclude, replace=replace)


@dataclass(eq=False)
class QuantMap:
    """Model-based quantification of a spectrum image: ``result`` (a quantify.QuantResult with
    arrays of shape (*nav, ...)) plus the energy offset applied."""

    result: Any
    offset_eV: float = 0.0
    seconds: float = 0.0

    @property
    def elements(self) -> list[str]:
        return list(self.result.elements)

    def fraction_map(self, element: str) -> np.ndarray:
        return self.result.fraction(element)

    def amount_map(self, element: str) -> np.ndarray:
        return self.result.amounts[..., self.result.elements.index(element)]


# --------------------------------------------------------------------------- inputs
def as_spectrum(data: Any, energy_eV=None):
    """The spectrum image of ``data`` as a :class:`eels_helpers.spectrum.Spectrum`: a Spectrum as
    it is, a synthetic SI's spectrum, a file read by :func:`read_map_input`, a HyperSpy signal, or
    an array (energy last) on ``energy_eV`` (default: the 3072-channel 0..3071 eV grid)."""
    from eels_helpers.spectrum import Spectrum

    if isinstance(data, Spectrum):
        return data
    if hasattr(data, "spectrum") and isinstance(getattr(data, "spectrum"), Spectrum):
        return data.spectrum                      # a superlattice.SyntheticSI
    if isinstance(data, (str, os.PathLike)):
        return read_map_input(data)[0]
    from eels_helpers.inference.hyperspy_signals import is_signal, signal_to_spectrum
    if is_signal(data):                           # a HyperSpy Signal1D / exspy EELSSpectrum
        if energy_eV is not None:
            raise ValueError("energy_eV is for arrays; a HyperSpy signal has its own energy axis")
        return signal_to_spectrum(data)
    arr = np.asarray(data)
    if energy_eV is None:
        from eels_helpers.inference.preprocess import N_CHANNELS, energy_grid
        if arr.shape[-1] != N_CHANNELS:
            raise ValueError(f"an array needs energy_eV unless it has {N_CHANNELS} channels "
                             "(0..3071 eV)")
        energy_eV = energy_grid()
    return Spectrum(arr, np.asarray(energy_eV, dtype=np.float64), {"title": "array"}, None)


def read_map_input(path):
    """(Spectrum, low-loss Spectrum or None, SyntheticSI or None) for a file or 'superlattice' (chapter
    06's superlattice: 60 x 130 pixels, seed 2023, the shipped networks' training physics,
    :data:`eels_helpers.simulation.superlattice.TRAINING_PHYSICS`)."""
    from eels_helpers.inference.spectrum_files import read_spectrum

    p = Path(path)
    if str(path) == "superlattice" and not p.exists():
        from eels_helpers.simulation.superlattice import TRAINING_PHYSICS, SuperlatticeConfig, superlattice_si
        si = superlattice_si(SuperlatticeConfig(**TRAINING_PHYSICS))
        return si.spectrum, si.lowloss, si
    if p.suffix.lower() in (".h5", ".hdf5") and p.is_file():
        import h5py
        with h5py.File(p, "r") as f:
            fmt = f.attrs.get("format")
        from eels_helpers.simulation.superlattice import FORMAT, load_si
        if fmt == FORMAT:
            si = load_si(p)
            return si.spectrum, si.lowloss, si
    return read_spectrum(p), None, None


#: free fine-structure columns (eV above each onset) of a quantification of data with white lines: chapter
#: 06's setting (``quant_fine_structure_eV``; README, "each atomic fraction within 10 %")
WHITE_LINE_FINE_STRUCTURE_EV = 30.0


def quantification_options(si) -> dict:
    """``quantify_map``'s options that model what a synthetic superlattice ``si`` holds, as chapter 06
    fits it: its GOS and, where it has white lines, the same lines in each edge (``white_lines="edge"``,
    its table) and :data:`WHITE_LINE_FINE_STRUCTURE_EV` eV of free fine structure."""
    from eels_helpers.inference.quantify import QuantificationConfig

    config = si.config
    options = {"gos": config.gos}
    if config.white_lines:
        table = config.white_lines if isinstance(config.white_lines, str) else QuantificationConfig.line_table
        options.update(white_lines="edge", line_table=table, fine_structure_eV=WHITE_LINE_FINE_STRUCTURE_EV)
    return options


# --------------------------------------------------------------------------- network maps
def map_elements(data: Any, model: Any = "ensemble", threshold: float | None = None,
                 presence: float = PRESENCE_FRACTION, batch_size: int = 256,
                 offset_eV: float = 0.0, *, energy_eV=None, bfloat16: bool | str = False,
                 device: str = "cpu", int8: bool = False, progress: bool = False,
                 keep_twins: bool = False, twin_neighbourhood: int = TWIN_NEIGHBOURHOOD,
                 remove_spikes: bool = True, fill_dead_channels: bool = True,
                 repair_gain_steps: bool = REPAIR_GAIN_STEPS,
                 allow_radioactive: bool = False, confirm_on_sums: bool = CONFIRM_ON_SUMS,
                 spatial_coherence: bool = SPATIAL_COHERENCE, against_chance: bool = AGAINST_CHANCE) -> MappingResult:
    """Per-pixel element probabilities of a spectrum image and the elements it keeps.

    Every pixel is pre-processed as in the paper and classified; an element is kept when its
    probability is at or above ``threshold`` in more than ``presence`` of the pixels (the
    paper's 1 % criterion, "Elemental mapping", Fig. 7). The pixels are pre-processed and
    classified block by block, so memory beyond the image grows by ~1.3 kB per pixel, not by the
    12 KiB of its network input (:mod:`eels_helpers.inference.image_blocks`).

    Parameters
    ----------
    data : eels_helpers.spectrum.Spectrum, SyntheticSI, hyperspy signal, str, pathlib.Path or numpy.ndarray
        The spectrum image: a spectrum with ``data`` of shape ``(*nav, C)`` (counts) and its
        energy axis, a :class:`eels_helpers.simulation.superlattice.SyntheticSI`, a HyperSpy
        ``Signal1D`` / exspy ``EELSSpectrum`` (lazy or not;
        :func:`eels_helpers.inference.hyperspy_signals.signal_to_spectrum`), a file path
        (or the word ``"superlattice"`` for chapter 06's synthetic one), or an array
        ``(*nav, C)`` with ``energy_eV``. Hand the kept elements back to a signal with
        :meth:`MappingResult.to_signal_elements`, the maps with
        :func:`eels_helpers.inference.hyperspy_signals.probability_maps`.
    model : str, pathlib.Path, eels_helpers.models.model_files.LoadedModel or torch.nn.Module, default "ensemble"
        A shipped model name, a model-file path, a loaded model file, or a torch module
        mapping ``(batch, 3072)`` float32 to ``(batch, 80)`` logits.
    threshold : float, optional
        Probability threshold in (0, 1). Default: the model file's threshold, else
        :data:`eels_helpers.FALLBACK_THRESHOLD` (as ``predict``).
    presence : float, default 0.01
        Keep an element when it is above threshold in more than this fraction of the
        pixels; in [0, 1).
    batch_size : int, default 256
        Spectra per forward pass; at least 1.
    offset_eV : float, default 0.0
        Energy calibration error in eV (file axis minus true axis), removed before
        pre-processing.
    energy_eV : numpy.ndarray, optional
        Energy axis in eV, shape ``(C,)``, of an array ``data``; may be omitted when the
        array already has 3072 channels at 0..3071 eV.
    bfloat16 : bool or "auto", default False
        Run the network under bfloat16 autocast; ``"auto"`` only where it is faster and computes
        right (:func:`eels_helpers.device.fast_bfloat16`), as ``predict``.
    device : str, default "cpu"
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    int8 : bool, default False
        CPU inference with dynamically quantised int8 Linear layers in the transformer
        blocks (:func:`eels_helpers.inference.predict.run_model`).
    keep_twins : bool, default False
        Keep both onset twins (N, Sc) in a pixel where both reach the threshold; by default the
        twin resolver (:mod:`eels_helpers.inference.twin_resolution`) sets the disfavoured twin's
        probability in that pixel to 0, as ``predict`` drops it (``MappingResult.twin_pixels``).
    twin_neighbourhood : int, default 3
        The resolver reads the mean network input over the pixel's ``twin_neighbourhood`` x
        ``twin_neighbourhood`` neighbourhood (a line scan: ``twin_neighbourhood`` pixels;
        :func:`eels_helpers.inference.twin_resolution.neighbourhood_mean`), less noisy than the
        pixel alone; 1: the pixel alone. Odd, >= 1.
    remove_spikes : bool, default True
        Replace single-channel spikes (cosmic rays, X-ray hits) in each pixel by their neighbours'
        mean before the network reads it (:mod:`eels_helpers.inference.spikes`; logged); False: the
        paper's recipe.
    fill_dead_channels : bool, default True
        Fill runs of dead channels (a dead column, a gap between detector chips) from the levels on
        either side (:mod:`eels_helpers.inference.dead_channels`; logged); False: the paper's recipe.
    repair_gain_steps : bool, default :data:`eels_helpers.inference.gain_steps.BY_DEFAULT`
        Divide the counts above a gain-change step in each pixel by its factor
        (:mod:`eels_helpers.inference.gain_steps`; logged); False: the paper's recipe.
    allow_radioactive : bool, default False
        Keep technetium and promethium (no stable isotope) where they pass the presence criterion; by
        default they are withheld and logged (``MappingResult.withheld``,
        :mod:`eels_helpers.inference.unstable_elements`).
    confirm_on_sums : bool, default :data:`CONFIRM_ON_SUMS`
        Keep an element that passes the presence criterion in at most
        :data:`~eels_helpers.inference.map_confirmation.CONFIRM_MAX_FRACTION` of the pixels only
        where ``predict`` also reports it on the summed spectrum of those pixels
        (:mod:`eels_helpers.inference.map_confirmation`; the others are listed in
        ``MappingResult.unconfirmed``).
    spatial_coherence : bool, default :data:`SPATIAL_COHERENCE`
        Keep an element only where at least
        :data:`~eels_helpers.inference.map_coherence.COHERENCE_MIN` of its above-threshold pixels
        have an above-threshold neighbour (:mod:`eels_helpers.inference.map_coherence`; the others
        are listed in ``MappingResult.incoherent``).
    against_chance : bool, default :data:`AGAINST_CHANCE`
        With ``spatial_coherence``: an element whose mean connected-component size, over the pixels
        where the network put it above the threshold (before twin resolution, with any it was swapped
        into), does not exceed what random placements of as many pixels reach
        (:func:`~eels_helpers.inference.map_coherence.chance_component_size`) is kept only where ``predict``
        reports it on the sum of all pixels
        (:func:`~eels_helpers.inference.map_confirmation.confirm_on_image_sum`; the others are listed
        in ``MappingResult.by_chance``).
    progress : bool, default False
        A progress bar on stderr over the pixels, identified block by block
        (:mod:`eels_helpers.inference.image_blocks`; ``eels-id map`` shows it unless ``--quiet``).

    Returns
    -------
    MappingResult
        ``probabilities`` float32 ``(*nav, 80)`` in the order of
        :data:`eels_helpers.physics.elements.ELEMENTS`, the ``threshold`` and ``presence``
        used, the kept elements ``detected`` (by decreasing pixel fraction), the
        ``pixel_fraction`` ``(80,)`` above threshold, and ``seconds`` of pre-processing
        plus network time (and the twin resolvers and the confirmation on sums, where they run).

    Raises
    ------
    ValueError
        If ``presence`` is not in [0, 1), ``batch_size`` < 1, ``threshold`` is not in
        (0, 1), or an array without ``energy_eV`` does not have 3072 channels.

    See Also
    --------
    quantify_map : model-based quantification of the kept elements.
    eels_helpers.inference.predict.predict : element identification of single spectra.
    """
    from eels_helpers.device import resolve_device, use_bfloat16
    from eels_helpers.inference.image_blocks import probabilities_in_blocks
    from eels_helpers.inference.image_decision import decide_image
    from eels_helpers.inference.memory import check_memory
    from eels_helpers.inference.predict import _as_loaded
    from eels_helpers.inference.preprocess import repair_summaries
    from eels_helpers.inference.saturation import saturation_summary
    from eels_helpers.inference.splices import splice_summary
    from eels_helpers.inference.structure import identifiable
    from eels_helpers.inference.twin_resolution import check_neighbourhood

    if not 0.0 <= presence < 1.0:
        raise ValueError(f"presence must be a pixel fraction in [0, 1); got {presence}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 spectra; got {batch_size}")
    check_neighbourhood(twin_neighbourhood, "twin_neighbourhood")
    spectrum = as_spectrum(data, energy_eV)
    check_memory(int(np.prod(spectrum.navigation_shape)), spectrum.data.shape[-1], spectrum.name)
    device = resolve_device(device)
    bfloat16 = use_bfloat16(bfloat16, device)      # "auto": as predict, only where faster and right
    loaded = _as_loaded(model, device)
    from eels_helpers.models.model_files import decision_threshold

    threshold = decision_threshold(loaded, threshold)
    t0 = time.perf_counter()
    has_signal, z, families, _ = identifiable(spectrum, float(offset_eV))
    repairs = dict(remove_spikes=remove_spikes, fill_dead_channels=fill_dead_channels,
                   repair_gain_steps=repair_gain_steps)
    # block by block: the network inputs (12 KiB per pixel) are not kept (M40)
    blocks = probabilities_in_blocks(spectrum, loaded, offset_eV=float(offset_eV), batch_size=batch_size,
                                     bfloat16=bfloat16, device=device, int8=int8, progress=progress, **repairs)
    for note in filter(None, (splice_summary(blocks.splice_cut_eV, spectrum.name),
                              saturation_summary(blocks.saturated_below_eV, spectrum.name),
                              *repair_summaries(blocks.repairs, spectrum.name))):
        logging.getLogger(__name__).info(note)
    result = decide_image(spectrum, loaded, blocks, has_signal, z, families, float(threshold), presence,
                          offset_eV=float(offset_eV), device=device, bfloat16=bfloat16, int8=int8,
                          keep_twins=keep_twins, twin_neighbourhood=twin_neighbourhood, preprocessing=repairs,
                          allow_radioactive=allow_radioactive, confirm_on_sums=confirm_on_sums,
                          spatial_coherence=spatial_coherence, against_chance=against_chance,
                          model_name=getattr(loaded, "name", "") or str(model))
    result.seconds = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------- quantification
def quantify_map(data: Any, elements: Sequence[str] | MappingResult,
                 E0_keV: float | None = None, alpha_mrad: float | None = None,
                 beta_mrad: float | None = None, *, lowloss: Any = None, offset_eV: float = 0.0,
                 energy_eV=None, **options) -> QuantMap:
    """Model-based quantification of every pixel of a spectrum image.

    Fits every pixel with the cross sections of ``elements`` (convolved with the low-loss
    spectrum when one is given) plus a linearised power-law background, by non-negative
    least squares (:func:`eels_helpers.inference.quantify.quantify`).

    Parameters
    ----------
    data : eels_helpers.spectrum.Spectrum, SyntheticSI, str, pathlib.Path or numpy.ndarray
        The spectrum image, as for :func:`map_elements`: data ``(*nav, C)`` in counts.
    elements : sequence of str or MappingResult
        Element symbols to fit, or a :class:`MappingResult` whose kept elements are used.
    E0_keV : float, optional
        Beam energy in keV. Default: the file's ``beam_energy_keV`` metadata.
    alpha_mrad : float, optional
        Convergence semi-angle in mrad. Default: the file's ``convergence_angle_mrad``.
    beta_mrad : float, optional
        Collection semi-angle in mrad. Default: the file's ``collection_angle_mrad``.
    lowloss : eels_helpers.spectrum.Spectrum or tuple of numpy.ndarray, optional
        Low-loss spectrum for the convolution: a spectrum (a low-loss spectrum image is
        summed into one kernel) or ``(intensities (C_ll,), energies (C_ll,) eV)``. Default: a
        SyntheticSI's own low-loss, else no convolution.
    offset_eV : float, default 0.0
        Energy calibration error in eV (file axis minus true axis), subtracted from the
        energy axis.
    energy_eV : numpy.ndarray, optional
        Energy axis in eV, shape ``(C,)``, of an array ``data``.
    **options
        Further fields of :class:`eels_helpers.inference.quantify.QuantificationConfig`
        (``fit_range_eV``, ``background_exponents``, ``weighting``, ``gos``, ...).

    Returns
    -------
    QuantMap
        ``result`` (a :class:`eels_helpers.inference.quantify.QuantResult` whose arrays
        have the navigation shape first: ``amounts`` and ``fractions`` ``(*nav, n_elements)``),
        the ``offset_eV`` applied and the fit time in ``seconds``.

    Raises
    ------
    ValueError
        If there is no element to fit, or E0, alpha or beta is neither given nor in the
        file's metadata, or the configuration is out of range.
    """
    from eels_helpers.inference.quantify import QuantificationConfig, quantify

    if lowloss is None and hasattr(data, "lowloss") and hasattr(data, "spectrum"):
        lowloss = data.lowloss                    # a SyntheticSI brings its low-loss
    spectrum = as_spectrum(data, energy_eV)
    if isinstance(elements, MappingResult):
        elements = elements.detected
    elements = list(elements)
    if not elements:
        raise ValueError("no element to quantify (the network kept none)")
    meta = spectrum.metadata or {}
    vals = {"E0_keV": (E0_keV, "beam_energy_keV", "--E0"),
            "alpha_mrad": (alpha_mrad, "convergence_angle_mrad", "--alpha"),
            "beta_mrad": (beta_mrad, "collection_angle_mrad", "--beta")}
    params = {}
    for name, (given, key, flag) in vals.items():
        v = given if given is not None else meta.get(key)
        if v is None:
            raise ValueError(f"{name} is needed for the quantification and the file has no "
                             f"{key}; pass it ({flag} on the command line)")
        params[name] = float(v)
    config = QuantificationConfig(**params, **options)
    ll, llE = None, None
    if lowloss is not None:
        if hasattr(lowloss, "energy_eV"):
            ll, llE = np.asarray(lowloss.data, dtype=np.float64), lowloss.energy_eV
            if ll.ndim > 1:  # a low-loss SI: use its sum (one kernel for the whole SI)
                ll = ll.reshape(-1, ll.shape[-1]).sum(axis=0)
        else:
            ll, llE = lowloss
    t0 = time.perf_counter()
    res = quantify(spectrum.data, spectrum.energy_eV - float(offset_eV), elements, config,
                   lowloss=ll, lowloss_energy_eV=llE)
    return QuantMap(res, float(offset_eV), time.perf_counter() - t0)


# --------------------------------------------------------------------------- scores
def score_identification(result: MappingResult, truth_labels: np.ndarray) -> dict:
    """Per element (kept or truly present in > presence of the pixels) the pixel accuracy,
    precision and recall of the thresholded map against ``truth_labels`` (bool (*nav, 80)),
    plus ``"kept_equals_truth"``: whether the kept set equals the set of elements present in
    more than ``presence`` of the pixels."""
    from eels_helpers.physics.elements import ELEMENTS, element_index

    truth = np.asarray(truth_labels, dtype=bool)
    if truth.shape != result.probabilities.shape:
        raise ValueError(f"truth_labels shape {truth.shape} != probabilities shape "
                         f"{result.probabilities.shape}")
    t = truth.reshape(-1, len(ELEMENTS))
    p = result.thresholded.reshape(-1, len(ELEMENTS))
    true_set = {ELEMENTS[i] for i in np.flatnonzero(t.mean(axis=0) > result.presence)}
    out: dict[str, Any] = {"kept": list(result.detected), "true": sorted(true_set, key=element_index),
                           "kept_equals_truth": set(result.detected) == true_set, "elements": {}}
    for el in sorted(true_set | set(result.detected), key=element_index):
        i = element_index(el)
        tp = int(np.sum(p[:, i] & t[:, i]))
        fp = int(np.sum(p[:, i] & ~t[:, i]))
        fn = int(np.sum(~p[:, i] & t[:, i]))
        out["elements"][el] = {
            "accuracy": float(np.mean(p[:, i] == t[:, i])),
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "predicted_fraction": float(p[:, i].mean()), "true_fraction": float(t[:, i].mean())}
    return out


def score_quantification(quant: QuantMap, truth_fractions: np.ndarray) -> dict:
    """Per fitted element: Pearson correlation of the relative map with the truth, mean absolute
    error and mean bias (atomic fraction). ``truth_fractions``: (*nav, 80) atomic fractions,
    renormalised here over the fitted elements (what the fit can measure)."""
    from eels_helpers.physics.elements import element_index

    tf = np.asarray(truth_fractions, dtype=np.float64)
    idx = [element_index(e) for e in quant.elements]
    sub = tf[..., idx]
    tot = sub.sum(axis=-1, keepdims=True)
    sub = np.divide(sub, tot, out=np.full_like(sub, np.nan), where=tot > 0)
    out = {}
    for k, el in enumerate(quant.elements):
        est = np.asarray(quant.result.fractions[..., k], dtype=np.float64).ravel()
        tru = sub[..., k].ravel()
        ok = np.isfinite(est) & np.isfinite(tru)
        r = float(np.corrcoef(est[ok], tru[ok])[0, 1]) if ok.sum() > 2 and est[ok].std() > 0 \
            and tru[ok].std() > 0 else float("nan")
        d = est[ok] - tru[ok]
        out[el] = {"pearson_r": r,
                   "mae": float(np.mean(np.abs(d))) if d.size else float("nan"),
                   "bias": float(np.mean(d)) if d.size else float("nan")}
    return out
