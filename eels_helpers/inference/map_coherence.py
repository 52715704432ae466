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

Against chance (experiment Z37, session 37): at a density of 8-15 % random pixels pass that rule
too (a neighbour with probability 0.49-0.73), and false elements on carbon-film images did so in
about 5 % of the images. :func:`chance_component_size` gives what random placements of the same
number of pixels reach (:data:`CHANCE_DRAWS` seeded draws, percentile :data:`CHANCE_PERCENTILE`);
an element that does not exceed it is, for this test, spread over the image as noise over one
material would be, and :func:`eels_helpers.inference.map_confirmation.confirm_on_image_sum` decides
it on the sum of all pixels (the element's own pixels were selected for their noise). The statistic
(experiment Z38, session 38) is :func:`mean_component_size`, the pixel-weighted mean size of the
connected components: 2 for two separate noise pairs, 4 for a 2 x 2 particle, a layer's length for a
layer. Z37 compared the neighbour share instead, which is 1.0 for both the pairs and the particle (4
random pixels on 10 x 10 reach it in 1.4 % of placements).
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["COHERENCE_MIN", "CHANCE_DRAWS", "CHANCE_PERCENTILE", "neighbour_share", "mean_component_size",
           "chance_component_size"]

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


#: random placements and the percentile of their statistic that a clustered element must exceed (Z37,
#: fixed before measuring; kept by Z38)
CHANCE_DRAWS, CHANCE_PERCENTILE = 200, 99.0


def _mean_component_sizes(masks: np.ndarray) -> np.ndarray:
    """Pixel-weighted mean size of the connected components of each mask of ``masks`` (batch,
    *navigation): sum of size^2 over the components / True pixels, connected as in
    :func:`neighbour_share` (every pixel differing by at most one step along each axis); NaN where a
    mask has fewer than 2 True pixels."""
    from scipy import ndimage

    masks = np.asarray(masks, dtype=bool)
    structure = np.zeros((3,) * masks.ndim, dtype=bool)
    structure[1] = True                            # nothing connects across the batch axis
    labels, _ = ndimage.label(masks, structure=structure)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    n_true = masks.reshape(len(masks), -1).sum(axis=1)
    weighted = sizes[labels].reshape(len(masks), -1).sum(axis=1, dtype=np.float64)
    return np.where(n_true >= 2, weighted / np.maximum(n_true, 1), np.nan)


def mean_component_size(mask: np.ndarray) -> float:
    """The mean size (pixels) of the connected component that a True pixel of ``mask`` lies in,
    over its True pixels (connected as in :func:`neighbour_share`): two separate adjacent pairs give
    2, a 2 x 2 particle 4, a layer its length; NaN when ``mask`` holds fewer than 2 True pixels
    (experiment Z38)."""
    return float(_mean_component_sizes(np.asarray(mask, dtype=bool)[None])[0])


def chance_component_size(mask: np.ndarray, draws: int = CHANCE_DRAWS, percentile: float = CHANCE_PERCENTILE,
                          seed: int = 0) -> float:
    """The ``percentile`` of :func:`mean_component_size` over ``draws`` placements of as many True
    pixels as ``mask`` holds, each uniformly at random on ``mask``'s shape (edges included; seeded, so
    the same mask gives the same value); NaN when ``mask`` holds fewer than 2 True pixels (Z38)."""
    mask = np.asarray(mask, dtype=bool)
    k, n = int(mask.sum()), mask.size
    if k < 2:
        return float("nan")
    rng, sizes = np.random.default_rng(seed), []
    block = max(1, _BLOCK_PIXELS // n)             # draws at a time: a large image's draws in pieces
    for first in range(0, int(draws), block):
        m = min(block, int(draws) - first)
        keys = rng.random((m, n))                  # the k smallest keys of each draw are its pixels
        placed = np.zeros((m, n), dtype=bool)
        np.put_along_axis(placed, np.argpartition(keys, k - 1, axis=1)[:, :k], True, axis=1)
        sizes.append(_mean_component_sizes(placed.reshape((m,) + mask.shape)))
    return float(np.percentile(np.concatenate(sizes), percentile))


#: random placements are drawn in blocks of about this many pixels (memory: ~10 bytes each)
_BLOCK_PIXELS = 1 << 22
