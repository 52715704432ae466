"""The text ``eels-id predict`` prints for one prediction: :func:`format_prediction`.

The detected elements with their probabilities (or pixel fractions for a spectrum image), the next
most probable ones, and one note per thing the pipeline did to the spectrum on the way: twins
resolved, radioactive elements withheld, a splice or a saturated top left out, spikes, dead channels
and gain steps repaired; :func:`input_notes`: notes on the input itself (mostly negative counts);
:func:`image_decision_lines`: what a spectrum image's decision left out (``predict`` and ``map`` print them).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from eels_helpers.inference.mapping import PRESENCE_FRACTION
from eels_helpers.physics.elements import ELEMENTS

if TYPE_CHECKING:
    from eels_helpers.inference.mapping import MappingResult
    from eels_helpers.inference.predict import Prediction

__all__ = ["format_prediction", "image_decision_lines", "input_notes", "set_aside_reasons", "NEGATIVE_FRACTION_NOTE"]

#: a note says the spectrum looks background or mean subtracted above this fraction of negative counts
NEGATIVE_FRACTION_NOTE = 0.5


def format_prediction(pred: Prediction, top: int = 5) -> str:
    """Human-readable lines for one prediction."""
    name = Path(pred.source).name if pred.source else "spectrum"
    if pred.note:      # "no identifiable edge: ..." says it already; a window without edges gets "no element"
        return f"{name}: {pred.note}" if pred.note.startswith("no identifiable edge") else \
            f"{name}: no element: {pred.note}"
    twins = "".join(f"\n  {d.describe()}" for d in pred.twins)
    return (_format_detected(pred, name, top) + twins + _image_lines(pred) + _withheld_lines(pred) + _splice_line(pred)
            + _saturation_line(pred) + _spike_line(pred) + _dead_line(pred) + _step_line(pred))


def input_notes(pred: Prediction) -> list[str]:
    """Notes on the input itself: more than :data:`NEGATIVE_FRACTION_NOTE` of the counts in the
    network's window negative (a background- or mean-subtracted spectrum, not the raw counts the
    networks were trained on); a measured window narrower than the narrowest the simulator makes
    (:func:`training_window_margins_eV`)."""
    from eels_helpers.inference.preprocess import window_channels

    if pred.spectrum is None:
        return []
    energy, data = window_channels(pred.spectrum, pred.offset_eV)
    notes = []
    width, (before, after) = (float(energy[-1] - energy[0]) if data.size else 0.0), training_window_margins_eV()
    if data.size and width < before + after:
        notes.append(f"the spectrum covers only {width:.0f} eV of the networks' window ({energy[0]:.0f}-"
                     f"{energy[-1]:.0f} eV), narrower than any training spectrum ({before + after:.0f} eV: an edge "
                     f"at least {before:.0f} eV after the start and {after:.0f} eV before the end): the elements "
                     "named are a guess")
    negative = float(np.mean(data < 0)) if data.size else 0.0
    if negative > NEGATIVE_FRACTION_NOTE:
        notes.append(f"{100 * negative:.0f} % of the counts between {energy[0]:.0f} and {energy[-1]:.0f} eV are "
                     "negative: a background- or mean-subtracted spectrum? The networks read raw counts (a positive "
                     "background), so the elements named may be wrong")
    return notes


def training_window_margins_eV() -> tuple[float, float]:
    """(before, after) eV: a simulated training spectrum's edges lie at least ``before`` after its
    start and ``after`` before its end (``SimulationConfig.margin_before_eV``, ``margin_after_eV``:
    10 and 25 eV in every named configuration), so no training window is narrower than their sum. The
    dataclass's defaults, read without building a configuration (whose validation loads SciPy and
    tables: ~0.7 s on a predict's first file)."""
    from eels_helpers.simulation.config import SimulationConfig

    return float(SimulationConfig.margin_before_eV), float(SimulationConfig.margin_after_eV)


def image_decision_lines(image: MappingResult, keep_scattered_option: str = "") -> list[str]:
    """What a spectrum image's decision (:func:`eels_helpers.inference.image_decision.decide_image`) did
    beyond the presence criterion, one line each: elements not kept because the sum of their pixels does not
    report them, because their pixels are scattered or placed as by chance, and the pixels where the twin
    resolver kept one of two onset twins. ``keep_scattered_option``: the option that keeps scattered
    elements, named in those lines (``eels-id map``'s ``--keep-scattered``; none for ``predict``)."""
    def share(symbol: str) -> str:
        return f"{100 * image.pixel_fraction[ELEMENTS.index(symbol)]:.1f} % of pixels"

    keeps = f"; {keep_scattered_option} keeps them" if keep_scattered_option else ""
    lines = []
    if image.unconfirmed:
        lines.append("not kept (not reported on the summed spectrum of their pixels): " + ", ".join(
            f"{s} ({share(s)}, p {p:.2f} on the sum)" for s, p in image.unconfirmed.items()))
    if image.incoherent:
        lines.append(f"not kept (scattered pixels{keeps}): " + ", ".join(
            f"{s} ({share(s)}, {100 * v:.0f} % of them with a neighbour above the threshold)"
            for s, v in image.incoherent.items()))
    if image.by_chance:
        lines.append(f"not kept (pixels no more clustered than chance, and the sum of all pixels does not report "
                     f"it{keeps}): " + ", ".join(f"{s} ({share(s)}, p {p:.2f} on the sum)"
                                                 for s, p in image.by_chance.items()))
    if image.twin_pixels:
        lines.append(f"twins with a resolver both above the threshold in {image.twin_pixels} pixels: the twin "
                     "resolver kept one in each (--keep-twins keeps both)")
    return lines


def _image_lines(pred: Prediction) -> str:
    """A spectrum image's decision beyond the presence criterion (:func:`image_decision_lines`)."""
    return "".join(f"\n  {line}" for line in image_decision_lines(pred.image)) if pred.image is not None else ""


def _withheld_lines(pred: Prediction) -> str:
    from eels_helpers.inference.unstable_elements import withheld_line

    probs = pred.probabilities.reshape(-1, len(ELEMENTS)).mean(axis=0)
    what = "pixels" if pred.is_spectrum_image else "p"
    return "".join(f"\n  {withheld_line(s, v, probs, what=what)}" for s, v in pred.withheld.items())


def _cut_line(pred: Prediction, n: int, where_eV: Sequence[float], text: str) -> str:
    """The note under a prediction whose spectra (``n`` of a spectrum image) had counts left out:
    ``text`` with ``{where}`` replaced by the energies (eV)."""
    which = f"{n} spectra are" if pred.is_spectrum_image else "the spectrum is"
    where = ", ".join(f"{e:.0f}" for e in where_eV[:5]) + (", ..." if len(where_eV) > 5 else "")
    return f"\n   note: {which} " + text.format(where=where)


def _splice_line(pred: Prediction) -> str:
    from eels_helpers.inference.splices import SPLICE_RATIO

    if not pred.spliced_below_eV:
        return ""
    n = int(np.isfinite(np.asarray(pred.splice_cut_eV, dtype=np.float64)).sum())
    return _cut_line(pred, n, pred.spliced_below_eV,
                     f"spliced (a step of more than {SPLICE_RATIO:g}x that no edge makes, at {{where}} eV): "
                     "the counts below it were left out")


def _saturation_line(pred: Prediction) -> str:
    if pred.saturation_cut_eV is None:
        return ""
    cuts = np.asarray(pred.saturation_cut_eV, dtype=np.float64)
    done = cuts[np.isfinite(cuts)]
    if not done.size:
        return ""
    return _cut_line(pred, done.size, np.unique(np.round(done))[:5],
                     "saturated (a flat top at the maximum: a clipped detector); the counts up to {where} eV "
                     "were left out")


def _spike_line(pred: Prediction) -> str:
    from eels_helpers.inference import spikes

    return _repair_line(pred, pred.spike_count, pred.spikes_eV, "spike(s)", f"{spikes.WHAT}): {spikes.DONE}")


def _dead_line(pred: Prediction) -> str:
    from eels_helpers.inference import dead_channels as dead

    return _repair_line(pred, pred.dead_channel_count, pred.dead_channels_eV, "dead channel(s)",
                        f"{dead.WHAT}): {dead.DONE}")


def _step_line(pred: Prediction) -> str:
    from eels_helpers.inference import gain_steps

    return _repair_line(pred, pred.gain_step_count, pred.gain_steps_eV, "gain step(s)",
                        f"{gain_steps.WHAT}): {gain_steps.DONE}")


def _repair_line(pred: Prediction, count, at_eV: Sequence[float], what: str, why: str) -> str:
    """The note under a prediction whose counts were repaired: ``count`` (*navigation_shape) channels
    per spectrum at the energies ``at_eV``, ``what`` they were and ``why`` (closing its parenthesis)."""
    n = 0 if count is None else int(np.count_nonzero(count))
    if not n:
        return ""
    channels = int(np.sum(count))
    where = ", ".join(f"{e:.0f}" for e in at_eV[:5]) + (", ..." if len(at_eV) > 5 else "")
    which = f"{n} spectra have {channels} {what}" if pred.is_spectrum_image else f"the spectrum has {channels} {what}"
    return f"\n   note: {which} at {where} eV ({why}"


def set_aside_reasons(pred: Prediction) -> dict[str, str]:
    """{element: why} of the elements that reached the threshold but are not reported: the twin the
    resolver dropped (single spectra), those without a stable isotope (withheld)."""
    reasons = {d.dropped: "dropped by the twin resolver" for d in pred.twins}
    return reasons | {s: "withheld: no stable isotope" for s in pred.withheld}


def _probability(p: float, threshold: float | None) -> str:
    """``p`` with two decimals, or more where fewer would put it on the other side of ``threshold``
    (0.699 below 0.70 is not written 0.70)."""
    for digits in range(2, 7):
        text = f"{p:.{digits}f}"
        if threshold is None or (float(text) >= threshold) == (p >= threshold):
            break
    return text


def _format_detected(pred: Prediction, name: str, top: int) -> str:
    if pred.is_spectrum_image:
        shape = " x ".join(str(n) for n in pred.navigation_shape)
        n = int(np.prod(pred.navigation_shape))
        head = f"{name} (spectrum image {shape} = {n} spectra): "
        found = ", ".join(f"{s} ({100 * pred.pixel_fraction[s]:.1f} % of pixels)" for s in pred.detected)
        return head + (found or f"no element above threshold in more than {100 * PRESENCE_FRACTION:g} % of pixels")
    probs = pred.probabilities
    order = np.argsort(-probs, kind="stable")[:top]
    found = ", ".join(f"{s} ({probs[ELEMENTS.index(s)]:.2f})" for s in pred.detected)
    set_aside = set_aside_reasons(pred)
    others = ", ".join(f"{ELEMENTS[i]} {_probability(probs[i], pred.threshold)}"
                       + (f" ({set_aside[ELEMENTS[i]]})" if ELEMENTS[i] in set_aside else "")
                       for i in order if ELEMENTS[i] not in pred.detected)
    nothing = ("no element reported (only elements without a stable isotope reached the threshold)" if pred.withheld
               else f"no identifiable edge (no element above the threshold {pred.threshold:.2f})")
    line = f"{name}: {found or nothing}"
    return line + (f"   [next: {others}]" if others else "")
