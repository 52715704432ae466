"""Element identification in real spectra: ``predict()``.

Pipeline per input: read the file (:func:`eels_helpers.inference.spectrum_files.read_spectrum`), pre-process it
as in the paper (:func:`eels_helpers.inference.preprocess.preprocess`, with an optional energy
offset), run the network in batches, and apply a threshold to the sigmoid probabilities.

- Single spectrum: the detected elements are those with probability >= threshold.
- Spectrum image: every pixel is classified; an element is reported when it is detected
  in more than ``presence_fraction`` (1 %, the paper's criterion) of the pixels.

The threshold defaults to the one stored in the model file (chosen on validation data
when the model was trained), else 0.5. :func:`format_prediction`
(:mod:`eels_helpers.inference.prediction_text`), :func:`draw_prediction` and
:func:`plot_predictions` show the results; the command line ``eels-id predict`` is
:mod:`eels_helpers.cli.predict`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from eels_helpers import progress_bar
from eels_helpers.device import check_bfloat16, resolve_device, use_bfloat16
from eels_helpers.inference.gain_steps import BY_DEFAULT as REPAIR_GAIN_STEPS

# the paper's 1 % pixel criterion and map's decision options: one definition
from eels_helpers.inference.mapping import (
    AGAINST_CHANCE,
    CONFIRM_ON_SUMS,
    PRESENCE_FRACTION,
    SPATIAL_COHERENCE,
    TWIN_NEIGHBOURHOOD,
)
from eels_helpers.inference.prediction_text import format_prediction  # noqa: F401  (re-exported)
from eels_helpers.inference.structure import STRUCTURE_Z_MIN, identifiable
from eels_helpers.inference.twin_resolution import resolve_twins
from eels_helpers.inference.unstable_elements import split_withheld
from eels_helpers.physics.elements import ELEMENTS

log = logging.getLogger(__name__)

#: run_model shows a progress bar (when asked) above this many batches
PROGRESS_MIN_BATCHES = 4


@dataclass(eq=False)
class Prediction:
    """The network's answer for one input.

    probabilities: float32 (*navigation_shape, 80), order ``elements.ELEMENTS``.
    detected: symbols reported present (sorted by decreasing probability, or by decreasing
        pixel fraction for a spectrum image).
    pixel_fraction: for a spectrum image, fraction of pixels where each element is
        above threshold (all 80 symbols); empty for a single spectrum.
    spectrum: what was read (:class:`~eels_helpers.spectrum.Spectrum`) and ``inputs`` what the network saw
        (float32 (*navigation_shape, 3072)); for a spectrum image of more than one block of pixels
        (:data:`eels_helpers.inference.image_blocks.BLOCK`) None: it is identified block by block.
    mean_input: the network input averaged over a spectrum image's pixels, float32 (3072,) (the
        input itself for a single spectrum): what the figure plots.
    note: why nothing is reported although the network answered, e.g. a window that holds no
        onset of the 107 edge families; empty otherwise.
    splice_cut_eV: float64 (*navigation_shape): where the spectrum is spliced (two acquisitions
        joined, :mod:`eels_helpers.inference.splices`), the energy in eV below which its counts
        were left out; NaN where it is not (None: not checked).
    saturation_cut_eV: float64 (*navigation_shape): where the spectrum has a saturated flat top
        (a clipped detector, :mod:`eels_helpers.inference.saturation`), the energy in eV up to
        which its counts were left out; NaN where it has none (None: not checked).
    spike_count: int (*navigation_shape): the spikes (single channels hit by a cosmic ray or an
        X-ray, :mod:`eels_helpers.inference.spikes`) replaced in each spectrum before the network
        read it (None: not checked); ``spikes_eV`` their distinct energies (eV, offset corrected).
    dead_channel_count, dead_channels_eV: the same for the dead channels filled
        (:mod:`eels_helpers.inference.dead_channels`).
    gain_step_count, gain_steps_eV: the same for the gain-change steps evened out
        (:mod:`eels_helpers.inference.gain_steps`; the energy of the first channel above each).
    twins: reported onset twins the twin resolver separated (:class:`~eels_helpers.inference.
        twin_resolution.TwinDecision`; the dropped one is not in ``detected``); single spectra only.
    image: for a spectrum image, the decision ``map`` makes (:class:`~eels_helpers.inference.mapping.
        MappingResult` from :func:`~eels_helpers.inference.image_decision.decide_image`: twins resolved
        pixel by pixel, ``twin_pixels``, elements not kept as scattered or placed by chance); None for a
        single spectrum. ``probabilities``, ``detected``, ``pixel_fraction`` and ``withheld`` are its.
    withheld: elements without a stable isotope (Tc, Pm) the threshold reports but the decision
        does not (:mod:`eels_helpers.inference.unstable_elements`), with their probability (pixel
        fraction for a spectrum image); empty with ``allow_radioactive``.
    """

    source: str
    probabilities: np.ndarray
    threshold: float
    detected: tuple[str, ...]
    offset_eV: float = 0.0
    pixel_fraction: dict[str, float] = field(default_factory=dict)
    spectrum: Any = None
    inputs: np.ndarray | None = None
    mean_input: np.ndarray | None = None
    note: str = ""
    splice_cut_eV: np.ndarray | None = None
    saturation_cut_eV: np.ndarray | None = None
    spike_count: np.ndarray | None = None
    spikes_eV: tuple[float, ...] = ()
    dead_channel_count: np.ndarray | None = None
    dead_channels_eV: tuple[float, ...] = ()
    gain_step_count: np.ndarray | None = None
    gain_steps_eV: tuple[float, ...] = ()
    twins: tuple = ()
    withheld: dict[str, float] = field(default_factory=dict)
    image: Any = None

    @property
    def spliced_below_eV(self) -> list[float]:
        """The distinct energies (eV) below which a splice cut the counts (empty: none)."""
        if self.splice_cut_eV is None:
            return []
        cuts = np.asarray(self.splice_cut_eV, dtype=np.float64)
        return [float(e) for e in np.unique(cuts[np.isfinite(cuts)])]

    @property
    def left_out_below_eV(self) -> float | None:
        """One spectrum: the energy (eV, offset corrected) below which the pre-processing left its
        counts out (a splice or a saturated top), 0.0 when neither; None for a spectrum image (its
        pixels have their own cuts) or when the cuts were not recorded. What
        :func:`~eels_helpers.inference.verification.verify` fits above."""
        from eels_helpers.inference.preprocess import left_out_below_cuts

        if self.is_spectrum_image or self.splice_cut_eV is None or self.saturation_cut_eV is None:
            return None
        return left_out_below_cuts(self.splice_cut_eV, self.saturation_cut_eV)

    @property
    def navigation_shape(self) -> tuple[int, ...]:
        return tuple(self.probabilities.shape[:-1])

    @property
    def is_spectrum_image(self) -> bool:
        return len(self.navigation_shape) > 0

    def to_dict(self) -> dict:
        """JSON-ready: all 80 probabilities keyed by symbol (per pixel for an SI)."""
        probs = np.round(self.probabilities.astype(np.float64), 5)
        out = {
            "file": self.source,
            "navigation_shape": list(self.navigation_shape),
            "threshold": self.threshold,
            "offset_eV": self.offset_eV,
            "detected": list(self.detected),
            "probabilities": {s: probs[..., i].tolist() for i, s in enumerate(ELEMENTS)},
        }
        if self.is_spectrum_image:
            out["pixel_fraction"] = {s: round(f, 5) for s, f in self.pixel_fraction.items()}
            out["presence_fraction"] = PRESENCE_FRACTION
        if self.note:
            out["note"] = self.note
        if self.twins:
            out["twins"] = [d.to_dict() for d in self.twins]
        if self.image is not None:   # a spectrum image: map's decision beyond the presence criterion
            out["twin_pixels"] = int(self.image.twin_pixels)
            out["not_kept"] = {"scattered": {s: round(float(v), 5) for s, v in self.image.incoherent.items()},
                               "by_chance": {s: round(float(v), 5) for s, v in self.image.by_chance.items()}}
        if self.withheld:
            out["withheld"] = {s: round(v, 5) for s, v in self.withheld.items()}
        if self.splice_cut_eV is not None:
            cuts = np.asarray(self.splice_cut_eV, dtype=np.float64)
            out["splice_cut_eV"] = np.where(np.isfinite(cuts), cuts, None).tolist()
        if self.saturation_cut_eV is not None:
            cuts = np.asarray(self.saturation_cut_eV, dtype=np.float64)
            out["saturation_cut_eV"] = np.where(np.isfinite(cuts), cuts, None).tolist()
        if self.spike_count is not None:
            out["spike_count"] = np.asarray(self.spike_count).tolist()
            out["spikes_eV"] = [round(e, 2) for e in self.spikes_eV]
        if self.dead_channel_count is not None:
            out["dead_channel_count"] = np.asarray(self.dead_channel_count).tolist()
            out["dead_channels_eV"] = [round(e, 2) for e in self.dead_channels_eV]
        if self.gain_step_count is not None:
            out["gain_step_count"] = np.asarray(self.gain_step_count).tolist()
            out["gain_steps_eV"] = [round(e, 2) for e in self.gain_steps_eV]
        return out

    def to_signal_elements(self, signal: Any, *, exclude=(), replace: bool = True) -> list[str]:
        """Set the detected elements as ``signal.metadata.Sample.elements`` (sorted; carbon
        kept unless in ``exclude``) so that exspy's ``create_model`` adds their edges: see
        :func:`eels_helpers.inference.hyperspy_signals.to_signal_elements`."""
        from eels_helpers.inference.hyperspy_signals import to_signal_elements

        return to_signal_elements(signal, self, exclude=exclude, replace=replace)


def _as_loaded(model: Any, device: str):
    from eels_helpers.models.model_files import LoadedModel, load_model

    if isinstance(model, LoadedModel):
        model.model.to(device)
        return model
    if isinstance(model, (str, Path)):
        return load_model(model, device=device)
    import torch

    if isinstance(model, torch.nn.Module):  # a bare network outputs logits
        return LoadedModel(model=model.to(device).eval(), architecture=type(model).__name__)
    raise TypeError(f"model must be a name, a path, a LoadedModel or a torch.nn.Module, got {type(model)}")


def run_model(
    loaded: Any,
    inputs: np.ndarray,
    *,
    batch_size: int = 256,
    bfloat16: bool = False,
    device: str = "cpu",
    int8: bool = False,
    progress: bool = False,
    network: Any = None,
) -> np.ndarray:
    """Probabilities (..., 80) for pre-processed inputs (..., 3072), in batches.

    progress: a progress bar (tqdm, stderr) over the batches when there are more than
    :data:`PROGRESS_MIN_BATCHES` of them (a spectrum image; a single spectrum shows none).

    network: the module to run, from :func:`prepared_network` (a spectrum image run block by block
    prepares it once); by default prepared here for these inputs (``int8``, frozen copy).

    On the CPU in float32, from :data:`FROZEN_MIN_SPECTRA` spectra on, a traced and frozen copy
    of the network runs (:func:`frozen_copy`).

    int8: on the CPU, run a copy of the network whose transformer Linear layers use dynamically
    quantised int8 weights and activations (:func:`int8_linear_copy`; networks without a
    transformer run unchanged); benchmarks/bench_mapping.py measures speed and scores.

    bfloat16: run under ``torch.autocast(dtype=torch.bfloat16)`` (faster on GPUs and CPUs with native bfloat16,
    slower elsewhere: :func:`eels_helpers.device.fast_bfloat16`; probabilities differ by ~1e-2); refused where
    bfloat16 computes wrong numbers (:func:`eels_helpers.device.bfloat16_fault`).
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 spectra, got {batch_size}")
    if bfloat16:
        check_bfloat16(device)
    flat = np.ascontiguousarray(inputs, dtype=np.float32).reshape(-1, inputs.shape[-1])
    out = np.empty((flat.shape[0], 80), dtype=np.float32)
    if network is None:
        network = prepared_network(loaded, flat.shape[0], bfloat16=bfloat16, device=device, int8=int8,
                                   n_channels=flat.shape[1])
    device_type = "cuda" if str(device).startswith("cuda") else "cpu"
    starts = range(0, flat.shape[0], batch_size)
    if progress and len(starts) > PROGRESS_MIN_BATCHES:
        starts = progress_bar(starts, desc="network", unit="batch", leave=False)
    with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=bfloat16):
        for start in starts:
            x = torch.from_numpy(flat[start : start + batch_size]).to(device)
            y = network(x).float()
            if loaded.outputs == "logits":
                y = torch.sigmoid(y)
            out[start : start + batch_size] = y.cpu().numpy()
    return out.reshape(inputs.shape[:-1] + (80,))


def prepared_network(loaded: Any, n_spectra: int, *, bfloat16: bool = False, device: str = "cpu",
                     int8: bool = False, n_channels: int = 3072):
    """The module :func:`run_model` runs on ``n_spectra`` spectra: ``loaded``'s network in eval mode,
    its int8 copy (``int8``, :func:`int8_linear_copy`), or on the CPU in float32 from
    :data:`FROZEN_MIN_SPECTRA` spectra on its frozen copy (:func:`frozen_copy`)."""
    model = loaded.model
    model.eval()
    if int8:
        if str(device).startswith("cuda"):
            raise ValueError("int8 inference is for the CPU; on CUDA use bfloat16")
        model = int8_linear_copy(model)
    # not a quantised copy (int8 leaves a network without transformer layers as it is: float32)
    if model is loaded.model and not bfloat16 and str(device) == "cpu" and n_spectra >= FROZEN_MIN_SPECTRA:
        model = frozen_copy(model, n_channels)
    return model


#: from this many spectra on, :func:`run_model` runs a TorchScript copy of the network on the CPU
#: (:func:`frozen_copy`): tracing and the executor's first (profiling) runs cost ~1 s, so 1,100
#: spectra of the U-Net ran 6.0 s frozen vs 5.3 s eager, 4,000 spectra 17.1 vs 21.3 s
#: (benchmarks/bench_mapping.py, session 12, a loaded 2-core machine)
FROZEN_MIN_SPECTRA = 2048


def frozen_copy(model, n_channels: int = 3072):
    """A traced, frozen TorchScript copy of ``model`` (eval mode) for CPU inference, or ``model``
    itself when tracing fails. Freezing folds each BatchNorm into its convolution and inlines the
    weights: 10-20 % faster on the CPU (benchmarks/bench_mapping.py); outputs equal to ~1e-5.
    The trace holds for any batch of ``n_channels``-long spectra (every network's input)."""
    import warnings

    import torch

    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")     # TracerWarning: the padding is fixed for one length
            return torch.jit.freeze(torch.jit.trace(model.eval(), torch.zeros(2, n_channels), check_trace=False))
    except Exception as err:  # noqa: BLE001 - an untraceable module still runs eagerly
        log.debug("running %s eagerly: tracing failed (%s)", type(model).__name__, err)
        return model


def int8_linear_copy(model):
    """A copy of ``model`` whose transformer Linear layers run with dynamic int8 quantisation (CPU).

    torch.ao.quantization.quantize_dynamic on the nn.Linear layers inside modules named
    ``transformer`` (attention and MLP blocks of the ViT and CCT, also as ensemble members):
    weights quantised once, activations per batch. The patch embedding, the token reduction,
    the classification heads and every convolution stay float32: quantising those too moved
    probabilities of the shipped ViT by up to 0.6 (0.07 with this rule, on 64 simulated
    spectra). A network without such layers (U-Net, CNN, MLP) is returned as it is, with a logged
    warning. (PyTorch marks this eager API as deprecated in favour of torchao, which this project
    does not install.)
    """
    import warnings

    import torch

    spec = {name: torch.ao.quantization.default_dynamic_qconfig for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and "transformer" in name.split(".")}
    if not spec:
        log.warning("int8: %s has no transformer Linear layers to quantise (only the ViT and CCT, alone or in "
                    "an ensemble, have them); it runs in float32", type(model).__name__)
        return model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8).eval()


def _detect(probabilities: np.ndarray, threshold: float) -> tuple[str, ...]:
    """One spectrum's elements at or above ``threshold``, by decreasing probability (a spectrum image:
    :func:`eels_helpers.inference.image_decision.decide_image`)."""
    order = np.argsort(-probabilities, kind="stable")
    return tuple(ELEMENTS[i] for i in order if probabilities[i] >= threshold)


def _as_spectrum(item: Any, energy_eV: np.ndarray | None, index: int):
    from eels_helpers.inference.hyperspy_signals import is_signal, signal_to_spectrum
    from eels_helpers.inference.preprocess import N_CHANNELS, energy_grid
    from eels_helpers.inference.spectrum_files import read_spectrum
    from eels_helpers.spectrum import Spectrum

    if isinstance(item, Spectrum):
        return item
    if isinstance(item, (str, Path)):
        return read_spectrum(item)
    if is_signal(item):  # a HyperSpy Signal1D / exspy EELSSpectrum carries its own energy axis
        if energy_eV is not None:
            raise ValueError(f"input {index}: energy_eV is for arrays; a HyperSpy signal has its own axis")
        return signal_to_spectrum(item)
    data = np.asarray(item)
    if energy_eV is None:
        if data.shape[-1] != N_CHANNELS:
            raise ValueError(
                f"input {index}: an array without energy_eV must have {N_CHANNELS} channels (0..3071 eV)"
            )
        energy_eV = energy_grid()
    return Spectrum(data, energy_eV, {"title": f"array {index}"}, None)


def predict(
    inputs: Any,
    model: Any = "default",
    threshold: float | None = None,
    offset_eV: float | Sequence[float] = 0.0,
    *,
    energy_eV: np.ndarray | None = None,
    batch_size: int = 256,
    bfloat16: bool | str = False,
    device: str = "auto",
    presence_fraction: float = PRESENCE_FRACTION,
    clip_negative: bool = False,
    int8: bool = False,
    progress: bool = False,
    keep_twins: bool = False,
    remove_spikes: bool = True,
    fill_dead_channels: bool = True,
    repair_gain_steps: bool = REPAIR_GAIN_STEPS,
    allow_radioactive: bool = False,
) -> list[Prediction]:
    """Identify the elements present in core-loss EELS spectra.

    Each input is read, pre-processed as in the paper
    (:func:`eels_helpers.inference.preprocess.preprocess`: spline-interpolated onto the
    3072-channel grid 0..3071 eV at 1 eV per channel, zero below 75 eV, scaled so its
    maximum is 1), classified by the network in batches, and the sigmoid probabilities are
    compared with ``threshold``.

    Parameters
    ----------
    inputs : str, pathlib.Path, eels_helpers.spectrum.Spectrum, hyperspy signal, numpy.ndarray or list of them
        Spectrum files (any format :func:`eels_helpers.inference.spectrum_files.read_spectrum`
        reads), spectra already read, HyperSpy ``Signal1D`` / exspy ``EELSSpectrum`` signals
        (lazy or not, any navigation shape; energy axis from their axes manager, see
        :func:`eels_helpers.inference.hyperspy_signals.signal_to_spectrum`), or arrays of
        shape ``(..., n)`` (counts; the leading axes are navigation axes of a spectrum
        image). A list gives one result per item. Hand the detected elements back to a
        signal with :meth:`Prediction.to_signal_elements`.
    model : str, pathlib.Path, eels_helpers.models.model_files.LoadedModel or torch.nn.Module
        A shipped model name (``"default"``, ``"ensemble"``), a model-file path, a loaded
        model file, or a torch module mapping ``(batch, 3072)`` float32 to ``(batch, 80)``
        logits.
    threshold : float, optional
        Probability threshold in (0, 1). Default: the threshold stored in the model file
        (chosen on validation data when it was trained), else 0.5.
    offset_eV : float or sequence of float, default 0.0
        Energy-axis calibration error in eV (file axis minus true axis): one value for all
        inputs or one per input.
    energy_eV : numpy.ndarray, optional
        Energy axis in eV, shape ``(n,)``, of array inputs. May be omitted for arrays that
        already have 3072 channels at 0..3071 eV.
    batch_size : int, default 256
        Spectra per forward pass.
    bfloat16 : bool or "auto", default False
        Run under bfloat16 autocast. ``"auto"`` uses it only where it is faster and right
        (:func:`eels_helpers.device.fast_bfloat16`); probabilities then differ by about 1e-2.
    device : str, default "auto"
        ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``.
    presence_fraction : float, default 0.01
        For a spectrum image, an element is reported when it is detected in more than this
        fraction of the pixels (the paper's 1 %). Must be in [0, 1). A spectrum image is decided as
        :func:`eels_helpers.inference.mapping.map_elements` decides it (``Prediction.image``: onset
        twins resolved pixel by pixel, scattered or chance-placed elements not kept).
    clip_negative : bool, default False
        Set negative counts to zero before pre-processing.
    int8 : bool, default False
        CPU inference with dynamically quantised int8 Linear layers in the transformer
        blocks (:func:`run_model`).
    progress : bool, default False
        Progress bars on stderr over the pre-processing's blocks and the network's batches of a
        large spectrum image (``eels-id predict`` shows them unless ``--quiet``).
    keep_twins : bool, default False
        Keep both onset twins (N, Sc) where the threshold reports both; by default the twin resolver
        (:mod:`eels_helpers.inference.twin_resolution`) drops one (``Prediction.twins``; in a spectrum
        image pixel by pixel, ``Prediction.image.twin_pixels``).
    remove_spikes : bool, default True
        Replace single-channel spikes (cosmic rays, X-ray hits) by their neighbours' mean before
        the network reads the spectrum (:mod:`eels_helpers.inference.spikes`;
        ``Prediction.spike_count`` says where); False: the paper's recipe.
    fill_dead_channels : bool, default True
        Fill runs of up to 8 channels that read nothing between live ones (a dead column, a gap
        between detector chips) from the levels on either side
        (:mod:`eels_helpers.inference.dead_channels`; ``Prediction.dead_channel_count``); False:
        the paper's recipe.
    repair_gain_steps : bool, default :data:`eels_helpers.inference.gain_steps.BY_DEFAULT`
        Divide the counts above a gain-change step (a one-channel jump by a constant factor of at
        most 2; :mod:`eels_helpers.inference.gain_steps`) by its factor
        (``Prediction.gain_step_count``); False: the paper's recipe.
    allow_radioactive : bool, default False
        Report technetium and promethium, which have no stable isotope, where the threshold reports
        them; by default they are withheld (``Prediction.withheld``, a line says so and names their
        neighbours' probabilities: :mod:`eels_helpers.inference.unstable_elements`).

    Returns
    -------
    list of Prediction
        One :class:`Prediction` per input, in input order: ``probabilities`` float32 of
        shape ``(*navigation_shape, 80)`` in the order of
        :data:`eels_helpers.physics.elements.ELEMENTS`, the ``detected`` symbols, the
        ``threshold`` used and, for a spectrum image, the ``pixel_fraction`` per element.

    Raises
    ------
    ValueError
        If the number of offsets differs from the number of inputs, ``threshold`` is not in
        (0, 1), ``presence_fraction`` is not in [0, 1), ``int8`` is asked for on CUDA, CUDA is
        asked for where none is available, or an array without ``energy_eV`` does not have
        3072 channels, or ``energy_eV`` is given with a HyperSpy signal.
    eels_helpers.inference.spectrum_files.SpectrumFileError
        (a ValueError) If a file or signal cannot be used: the message names it and the
        problem (e.g. an energy axis not in eV or keV).
    TypeError
        If ``model`` is none of the accepted kinds.

    Examples
    --------
    >>> from eels_helpers.inference.predict import predict
    >>> [result] = predict("spectrum.msa", model="default")  # doctest: +SKIP
    >>> result.detected  # doctest: +SKIP
    ('O', 'Fe')
    """
    from eels_helpers.inference.image_blocks import probabilities_in_blocks
    from eels_helpers.inference.image_decision import decide_image
    from eels_helpers.inference.memory import check_memory
    from eels_helpers.inference.preprocess import preprocess

    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    offsets = list(offset_eV) if isinstance(offset_eV, (list, tuple, np.ndarray)) else [offset_eV] * len(items)
    if len(offsets) != len(items):
        raise ValueError(f"got {len(offsets)} offsets for {len(items)} inputs")
    if not 0.0 <= presence_fraction < 1.0:
        raise ValueError(f"presence_fraction must be in [0, 1), got {presence_fraction}")
    if int8 and str(device).startswith("cuda"):      # refused before asking for the GPU
        raise ValueError("int8 inference is for the CPU; on CUDA use bfloat16")
    device = resolve_device(device)
    use_bf16 = use_bfloat16(bfloat16, device)
    if int8 and device.type == "cuda":
        raise ValueError("int8 inference is for the CPU; on CUDA use bfloat16")
    loaded = _as_loaded(model, device)
    from eels_helpers.models.model_files import decision_threshold

    threshold = decision_threshold(loaded, threshold)
    if int8:        # quantise once for all inputs, not once per file
        loaded = replace(loaded, model=int8_linear_copy(loaded.model))

    results = []
    for index, (item, offset) in enumerate(zip(items, offsets)):
        spectrum = _as_spectrum(item, energy_eV, index)
        check_memory(int(np.prod(spectrum.navigation_shape)), spectrum.data.shape[-1], spectrum.name)
        has_signal, z, families, (lo, hi) = identifiable(spectrum, float(offset), index)
        preprocessing = dict(clip_negative=clip_negative, remove_spikes=remove_spikes,
                             fill_dead_channels=fill_dead_channels, repair_gain_steps=repair_gain_steps)
        image = None
        if spectrum.is_spectrum_image:     # block by block (one block's network inputs at a time), decided as map does
            blocks = probabilities_in_blocks(spectrum, loaded, offset_eV=float(offset), batch_size=batch_size,
                                             bfloat16=use_bf16, device=device, progress=progress, **preprocessing)
            cuts, saturated, repaired = blocks.splice_cut_eV, blocks.saturated_below_eV, blocks.repairs
            x = None if blocks.inputs is None else blocks.inputs.reshape(spectrum.navigation_shape + (-1,))
            mean_input = blocks.mean_input
            image = decide_image(spectrum, loaded, blocks, has_signal, z, families, threshold, presence_fraction,
                                 offset_eV=float(offset), device=device, bfloat16=use_bf16, int8=False,
                                 keep_twins=keep_twins, twin_neighbourhood=TWIN_NEIGHBOURHOOD,
                                 preprocessing=preprocessing, allow_radioactive=allow_radioactive,
                                 confirm_on_sums=CONFIRM_ON_SUMS, spatial_coherence=SPATIAL_COHERENCE,
                                 against_chance=AGAINST_CHANCE, model_name=getattr(loaded, "name", "") or str(model))
            probs, detected, withheld = image.probabilities, image.detected, image.withheld
            fractions = {s: float(f) for s, f in zip(ELEMENTS, image.pixel_fraction)}
        else:
            x, cuts, saturated, repaired = preprocess(spectrum, offset_eV=float(offset), return_cuts=True,
                                                      return_saturation=True, return_repairs=True,
                                                      progress=progress, **preprocessing)
            probs = run_model(loaded, x, batch_size=batch_size, bfloat16=use_bf16, device=device,
                              progress=progress)
            mean_input = x
            # a spectrum without structure beyond its noise names no element
            probs[~has_signal | (z < STRUCTURE_Z_MIN)] = 0.0
            detected, fractions, withheld = _detect(probs, threshold), {}, {}
            if not allow_radioactive:     # no stable isotope: never in a specimen (unstable_elements)
                detected, withheld = split_withheld(detected, probs)
        note = ""
        if not families:
            detected, fractions, withheld = (), {s: 0.0 for s in fractions}, {}
            note = (f"the window {lo:.0f}-{hi:.0f} eV holds no onset of the 107 edge families the "
                    "networks know: nothing can be identified")
        elif not spectrum.is_spectrum_image and z < STRUCTURE_Z_MIN:
            note = (f"no identifiable edge: between {lo:.0f} and {hi:.0f} eV the counts are a smooth background "
                    f"within their own noise (structure z = {float(z):.1f} < {STRUCTURE_Z_MIN:g}; "
                    "eels_helpers.inference.structure)")
        twins = ()
        if not keep_twins and detected and not note and not spectrum.is_spectrum_image:  # twins reported together
            twins = resolve_twins(np.asarray(x).reshape(-1, x.shape[-1])[0], detected, probabilities=probs)
            swapped_in = {d.dropped: d.kept for d in twins if d.swapped}       # in the dropped one's place
            detected = tuple(swapped_in.get(s, s) for s in detected if s in swapped_in or
                             s not in {d.dropped for d in twins})
        results.append(
            Prediction(
                source=spectrum.source or spectrum.metadata.get("title", f"array {index}"),
                probabilities=probs,
                threshold=threshold,
                detected=detected,
                offset_eV=float(offset),
                pixel_fraction=fractions,
                spectrum=spectrum,
                inputs=x,
                mean_input=mean_input,
                note=note,
                splice_cut_eV=cuts,
                saturation_cut_eV=saturated,
                spike_count=repaired.spike_count if remove_spikes else None,
                spikes_eV=tuple(float(e) for e in repaired.spikes_eV),
                dead_channel_count=repaired.dead_count if fill_dead_channels else None,
                dead_channels_eV=tuple(float(e) for e in repaired.dead_eV),
                gain_step_count=repaired.step_count if repair_gain_steps else None,
                gain_steps_eV=tuple(float(e) for e in repaired.steps_eV),
                twins=twins,
                withheld=withheld,
                image=image,
            )
        )
    return results
