"""Spatial coherence of a map's kept elements (experiment S35, session 35).

The paper keeps an element when its probability reaches the threshold in more than 1 % of a
spectrum image's pixels. On a small image that is two pixels, and per-pixel Poisson noise makes
isolated false pixels: on 10 x 10 carbon-film images B, Ne, Ar, K or N pass the criterion in 2-8 %
of the pixels, scattered. A phase occupies contiguous pixels, so the test here asks of an element's
above-threshold pixels how many have an above-threshold neighbour (the 8-neighbourhood of a 2D image,
the 2 neighbours of a line scan): :func:`neighbour_share`. Pixels placed at random with density d
have one with probability 1 - (1 - d)^8 (0.22 at d = 0.03); a layer, a particle or a whole field has
nearly all of them. An element whose share is below :data:`COHERENCE_MIN` is not kept; its map is
left as it is.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["COHERENCE_MIN", "neighbour_share"]

#: keep an element only when at least this share of its above-threshold pixels has an
#: above-threshold neighbour (fixed before measuring, experiment S35)
COHERENCE_MIN = 0.5


def neighbour_share(mask: np.ndarray) -> float:
    """The share of the True pixels of ``mask`` (the navigation shape, 1 or 2 axes or more) that
    have a True neighbour (every pixel differing by at most one step along each axis); NaN when
    ``mask`` holds no True pixel or a single pixel (no neighbours to test)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.size < 2 or not mask.any():
        return float("nan")
    padded = np.pad(mask, 1)
    neighbour = np.zeros_like(mask)
    for step in itertools.product((-1, 0, 1), repeat=mask.ndim):
        if any(step):
            neighbour |= padded[tuple(slice(1 + s, 1 + s + n) for s, n in zip(step, mask.shape))]
    return float((neighbour & mask).sum() / mask.sum())
