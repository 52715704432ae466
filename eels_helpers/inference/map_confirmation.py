"""Confirming a spectrum image's kept elements on summed spectra (experiment M35, session 35).

A map keeps an element when its probability reaches the threshold in more than 1 % of the pixels
(the paper's criterion). On a thin carbon film of a few counts per channel, per-pixel Poisson noise
passes that criterion now and then (K beside C K in 6 % of one image's pixels). Each element the
criterion keeps is therefore also identified on the summed spectrum of the pixels that report it,
decided as :func:`eels_helpers.inference.predict.predict` decides (pre-processing, network,
structure test, twin resolvers, the same threshold): summing k pixels of one material divides the
relative noise by sqrt(k), so an element that is there stays, and one that the sum does not report
is not kept. Its probability map is left as it is; :attr:`MappingResult.unconfirmed` lists it with
its probability on the sum.

Only elements kept in at most :data:`CONFIRM_MAX_FRACTION` of the pixels are confirmed (experiment
M35b): per-pixel noise passes the 1 % criterion in a few % of the pixels, while a sum over most of a
heterogeneous image mixes its materials into a spectrum unlike any the networks were trained on (M35:
on a superlattice the sum of the 6,332 pixels reporting O, all three layers, gave O p 0.62 < 0.65).
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["CONFIRM_MAX_FRACTION", "pixel_sums", "confirm_on_sums", "confirm_on_image_sum"]

#: only elements kept in at most this fraction of the pixels are confirmed (experiment M35b)
CONFIRM_MAX_FRACTION = 0.10


def pixel_sums(spectrum: Any, above: np.ndarray, elements: Sequence[str]) -> list:
    """One :class:`eels_helpers.spectrum.Spectrum` per element of ``elements``: the counts summed
    over the pixels where ``above`` (n_pixels, 80) bool, pixels in C order of the spectrum image's
    navigation shape, holds that element."""
    from eels_helpers.physics.elements import ELEMENTS
    from eels_helpers.spectrum import Spectrum

    counts = np.asarray(spectrum.data, dtype=np.float64).reshape(-1, np.shape(spectrum.data)[-1])
    if above.shape != (len(counts), len(ELEMENTS)):
        raise ValueError(f"above must be (n_pixels, {len(ELEMENTS)}) for {len(counts)} pixels, got {above.shape}")
    name = getattr(spectrum, "name", "") or "spectrum image"
    return [Spectrum(counts[above[:, ELEMENTS.index(e)]].sum(axis=0), spectrum.energy_eV,
                     dict(spectrum.metadata, title=f"{name}: sum of the {int(above[:, ELEMENTS.index(e)].sum())} "
                                               f"pixels reporting {e}"))
            for e in elements]


def confirm_on_sums(spectrum: Any, above: np.ndarray, kept: Sequence[str], model: Any, threshold: float,
                    **predict_options) -> tuple[tuple[str, ...], dict[str, float]]:
    """``(confirmed, unconfirmed)``: the elements of ``kept`` that ``predict`` reports on the summed
    spectrum of their pixels (:func:`pixel_sums`; ``model`` a loaded model, ``threshold`` the map's),
    in ``kept``'s order, and ``{element: its probability on that sum}`` for the others.
    ``predict_options`` (offset_eV, device, keep_twins, the repairs, allow_radioactive) as the map's."""
    from eels_helpers.inference.predict import predict
    from eels_helpers.physics.elements import ELEMENTS

    kept = tuple(kept)
    if not kept:
        return (), {}
    preds = predict(pixel_sums(spectrum, above, kept), model, threshold, **predict_options)
    confirmed, unconfirmed = [], {}
    for e, pred in zip(kept, preds):
        if e in pred.detected:
            confirmed.append(e)
            continue
        p = unconfirmed[e] = float(np.asarray(pred.probabilities).reshape(-1)[ELEMENTS.index(e)])
        why = next((d.describe() for d in pred.twins if d.dropped == e), None) or (
            f"p = {p:.2f} < {threshold:g}" if p < threshold else f"p = {p:.2f}, not reported: {pred.note}")
        log.info("%s: above the threshold in %d pixels, but the summed spectrum of those pixels does not report "
                 "it (%s): not kept (eels_helpers.inference.map_confirmation)", e,
                 int(above[:, ELEMENTS.index(e)].sum()), why)
    return tuple(confirmed), unconfirmed


def confirm_on_image_sum(spectrum: Any, elements: Sequence[str], model: Any, threshold: float,
                         **predict_options) -> tuple[tuple[str, ...], dict[str, float]]:
    """``(confirmed, unconfirmed)`` as :func:`confirm_on_sums`, but on the summed spectrum of all the
    image's pixels, one ``predict`` for every element of ``elements`` (experiment Z37: an element whose
    above-threshold pixels are placed as chance would place them, :mod:`eels_helpers.inference.
    map_coherence`; its own pixels were selected for their noise, all of them were not)."""
    from eels_helpers.inference.predict import predict
    from eels_helpers.physics.elements import ELEMENTS

    elements = tuple(elements)
    if not elements:
        return (), {}
    n_pixels = int(np.prod(spectrum.navigation_shape))
    pred = predict(spectrum.summed(), model, threshold, **predict_options)[0]
    p = np.asarray(pred.probabilities).reshape(-1)
    confirmed = tuple(e for e in elements if e in pred.detected)
    unconfirmed = {e: float(p[ELEMENTS.index(e)]) for e in elements if e not in confirmed}
    for e, pe in unconfirmed.items():   # debug: predict's and map's results say it (their "not kept" lines)
        log.debug("%s: its above-threshold pixels are placed as chance places noise, and the sum of all %d pixels "
                  "does not report it (p = %.2f): not kept (eels_helpers.inference.map_confirmation)", e,
                  n_pixels, pe)
    return confirmed, unconfirmed
