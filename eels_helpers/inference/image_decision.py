"""The elements a spectrum image holds, decided from its pixels' probabilities: one rule for ``map`` and
``predict``.

:func:`decide_image` takes the network's probabilities of every pixel (:func:`eels_helpers.inference.
image_blocks.probabilities_in_blocks`) and what the structure test found (:func:`eels_helpers.inference.
structure.identifiable`), and applies, in order: no element in empty pixels, pixels without structure
beyond their noise or a window without an edge family; the twin resolvers pixel by pixel (onset twins
both above the threshold, :func:`eels_helpers.inference.twin_resolution.resolve_probability_maps`); the
paper's presence criterion (above the threshold in more than ``presence`` of the pixels); Tc and Pm
withheld (:mod:`eels_helpers.inference.unstable_elements`); optionally the confirmation on the sums of
an element's pixels (M35b); the spatial coherence of its pixels (S35) and, for pixels placed as chance
places noise, the sum of all pixels (Z37, Z38; :mod:`eels_helpers.inference.map_coherence`,
:mod:`eels_helpers.inference.map_confirmation`).

Session 41 (P41): ``predict`` on a spectrum image used only the presence criterion and the
withholding, so it named both onset twins (a BN image: B, N and Sc) where ``map`` resolved them.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import numpy as np

from eels_helpers.inference.image_blocks import ImageProbabilities, inputs_of_pixels
from eels_helpers.physics.elements import ELEMENTS
from eels_helpers.spectrum import Spectrum

__all__ = ["decide_image"]

log = logging.getLogger(__name__)


def decide_image(spectrum: Spectrum, loaded: Any, blocks: ImageProbabilities, has_signal: np.ndarray,
                 z: np.ndarray, families: Any, threshold: float, presence: float, *, offset_eV: float,
                 device: Any, bfloat16: bool, int8: bool, keep_twins: bool, twin_neighbourhood: int,
                 preprocessing: dict, allow_radioactive: bool, confirm_on_sums: bool, spatial_coherence: bool,
                 against_chance: bool, model_name: str = ""):
    """The :class:`~eels_helpers.inference.mapping.MappingResult` (``seconds`` 0) of ``spectrum``'s pixels.

    ``blocks``: the network's probabilities (modified in place: empty and structureless pixels, and the
    twin a resolver drops, set to 0); ``has_signal``, ``z``, ``families``: the structure test's;
    ``preprocessing``: the keyword arguments of :func:`~eels_helpers.inference.preprocess.preprocess`
    the blocks were made with (the twin resolvers make the inputs of the pixels they read again with
    them); the other options as :func:`eels_helpers.inference.mapping.map_elements` takes them. What was
    withheld or not kept is in the result (``withheld``, ``incoherent``, ...), which ``map`` and ``predict``
    print; the same lines are logged at DEBUG only (at INFO the commands showed each twice)."""
    from eels_helpers.inference.map_coherence import (
        COHERENCE_MIN,
        chance_component_size,
        mean_component_size,
        neighbour_share,
    )
    from eels_helpers.inference.map_confirmation import CONFIRM_MAX_FRACTION, confirm_on_image_sum
    from eels_helpers.inference.map_confirmation import confirm_on_sums as confirm_kept
    from eels_helpers.inference.mapping import MappingResult
    from eels_helpers.inference.structure import STRUCTURE_Z_MIN
    from eels_helpers.inference.twin_resolution import resolve_probability_maps
    from eels_helpers.inference.unstable_elements import split_withheld, withheld_line

    probs = blocks.probabilities
    probs[~has_signal | (z < STRUCTURE_Z_MIN)] = 0.0   # empty pixels, pixels without structure beyond noise
    if not families:
        probs[...] = 0.0           # a window with no edge family: nothing can be identified
    twin_pixels = 0
    network_above = (probs >= threshold).reshape(-1, len(ELEMENTS))   # each pixel from its own counts
    if not keep_twins:             # onset twins both reported in a pixel: the resolver drops one
        inputs = blocks.inputs if blocks.inputs is not None else \
            partial(inputs_of_pixels, spectrum, offset_eV=float(offset_eV), **preprocessing)   # made again where read
        flat, found = resolve_probability_maps(inputs, probs.reshape(-1, len(ELEMENTS)), float(threshold),
                                               navigation_shape=probs.shape[:-1], neighbourhood=twin_neighbourhood)
        probs, twin_pixels = flat.reshape(probs.shape), len(found)
    above = (probs >= threshold).reshape(-1, len(ELEMENTS))
    frac = above.mean(axis=0)
    order = np.argsort(-frac, kind="stable")
    detected, withheld, unconfirmed = tuple(ELEMENTS[i] for i in order if frac[i] > presence), {}, {}
    if not allow_radioactive:      # no stable isotope: never in a specimen (unstable_elements)
        detected, withheld = split_withheld(detected, frac)
        mean = probs.reshape(-1, len(ELEMENTS)).mean(axis=0)
        for symbol, fraction in withheld.items():
            log.debug(withheld_line(symbol, fraction, mean, what="pixels"))
    on_sums = dict(offset_eV=float(offset_eV), device=device, bfloat16=bfloat16, int8=int8, keep_twins=keep_twins,
                   remove_spikes=preprocessing["remove_spikes"], fill_dead_channels=preprocessing["fill_dead_channels"],
                   repair_gain_steps=preprocessing["repair_gain_steps"], allow_radioactive=allow_radioactive)
    if confirm_on_sums:            # elements kept in few pixels identified on the sum of those pixels (M35b)
        rare = [e for e in detected if frac[ELEMENTS.index(e)] <= CONFIRM_MAX_FRACTION]
        _, unconfirmed = confirm_kept(spectrum, above, rare, loaded, float(threshold), **on_sums)
        detected = tuple(e for e in detected if e not in unconfirmed)
    incoherent, by_chance = {}, {}
    if spatial_coherence:          # scattered above-threshold pixels are noise, a phase is contiguous (S35)
        nav = probs.shape[:-1]
        shares = {e: neighbour_share(above[:, ELEMENTS.index(e)].reshape(nav)) for e in detected}
        incoherent = {e: v for e, v in shares.items() if v < COHERENCE_MIN}     # NaN (one pixel) passes
        for symbol, share in incoherent.items():
            log.debug("%s: above the threshold in %.1f %% of the pixels, but only %.0f %% of them have such a "
                      "neighbour (< %.0f %%): scattered pixels, not kept (eels_helpers.inference.map_coherence)",
                      symbol, 100 * frac[ELEMENTS.index(symbol)], 100 * share, 100 * COHERENCE_MIN)
        detected = tuple(e for e in detected if e not in incoherent)
        if against_chance:         # placed as chance places noise: decided on the sum of all pixels (Z37)
            # the network's own pixels (each from its own counts; the resolvers' 3 x 3 reading makes the
            # pixels where they keep a twin cluster), with those a twin was swapped into (Z37b)
            masks = {e: (network_above[:, ELEMENTS.index(e)] | above[:, ELEMENTS.index(e)]).reshape(nav)
                     for e in detected}
            sizes = {e: mean_component_size(m) for e, m in masks.items()}     # two noise pairs: 2 (Z38)
            placed = [e for e in detected if np.isfinite(sizes[e]) and not sizes[e] > chance_component_size(masks[e])]
            _, by_chance = confirm_on_image_sum(spectrum, placed, loaded, float(threshold), **on_sums)
            detected = tuple(e for e in detected if e not in by_chance)
    return MappingResult(probs.astype(np.float32, copy=False), float(threshold), float(presence), detected,
                         frac.astype(np.float64), model_name, float(offset_eV), 0.0, twin_pixels, withheld,
                         unconfirmed, incoherent, by_chance)
