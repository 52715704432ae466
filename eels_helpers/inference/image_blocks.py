"""A spectrum image identified block by block, keeping only what the map needs.

:func:`probabilities_in_blocks` pre-processes :data:`BLOCK` pixels at a time and runs the network on
them, so the network input (3,072 float32 channels, 12 KiB per pixel) exists for one block at a time;
what stays per pixel are its 80 probabilities and what the pre-processing did (splice and saturation
cuts, repairs). The twin resolvers read the network input again at the few pixels where both twins
are reported and their neighbours: :func:`inputs_of_pixels` makes it for those pixels alone.
``map_elements`` and ``predict`` (for a spectrum image) both run it; ``predict``'s figure plots the
network input averaged over the pixels, summed block by block (``ImageProbabilities.mean_input``).

Session 40 (M40): before, ``map_elements`` kept every pixel's network input; a 512 x 512 x 2,048
float32 image (2 GiB) peaked at 5.8 GiB (``benchmarks/bench_map_memory.py``). The probabilities are
the same: the blocks hold whole batches of the network (a multiple of ``batch_size``) and, with the
default batch size, whole pre-processing blocks of ``preprocess.CHUNK`` spectra. Session 41 (M41):
``predict`` kept every pixel's input too; it runs blocks since.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from eels_helpers import progress_bar
from eels_helpers.inference.preprocess import CHUNK, N_CHANNELS, RepairedChannels, preprocess
from eels_helpers.spectrum import Spectrum

__all__ = ["BLOCK", "ImageProbabilities", "block_size", "inputs_of_pixels", "probabilities_in_blocks"]

#: pixels per block: four of the pre-processing's own blocks of ``preprocess.CHUNK`` spectra (its float64
#: copies exist for one of those at a time). Each switch from pre-processing to the network costs the
#: network ~0.7 s on this 2-core machine (M40: 512 x 512 pixels in blocks of 4,096 ran the network 365 s
#: against 319 s in one pass), so blocks are large; the network input of one block is 192 MiB
BLOCK = 4 * CHUNK


@dataclass(frozen=True)
class ImageProbabilities:
    """Per pixel of a spectrum image: the network's ``probabilities`` (*nav, 80) float32, the
    energies below which a splice cut the counts (``splice_cut_eV``, NaN: none) and up to which a
    saturated top was left out (``saturated_below_eV``), and the ``repairs`` of steps 1b-1d; the
    network ``inputs`` (n, 3072) where the image was one block (small: kept), else None; the network
    input averaged over the pixels, ``mean_input`` (3072,) float32 (summed in float64 block by block)."""

    probabilities: np.ndarray
    splice_cut_eV: np.ndarray
    saturated_below_eV: np.ndarray
    repairs: RepairedChannels
    inputs: np.ndarray | None = None
    mean_input: np.ndarray | None = None


def block_size(batch_size: int) -> int:
    """Pixels per block: whole network batches, :data:`BLOCK` where ``batch_size`` divides it."""
    return max(1, BLOCK // batch_size) * batch_size


def _pixel_block(spectrum: Spectrum, start: int, stop: int) -> np.ndarray:
    """The spectra of flat (C-order) pixels ``start``..``stop`` (stop - start, n_channels): a view of a
    contiguous image, else a copy of those pixels alone (flattening a transposed or strided image would
    copy all of it: with a 2 GiB image, 2 GiB more at once)."""
    nav = spectrum.navigation_shape
    if not nav:
        return spectrum.data[None][start:stop]
    if spectrum.data.flags.c_contiguous:
        return spectrum.data.reshape(-1, spectrum.n_channels)[start:stop]
    return spectrum.data[np.unravel_index(np.arange(start, min(stop, int(np.prod(nav)))), nav)]


def inputs_of_pixels(spectrum: Spectrum, rows: np.ndarray, offset_eV: float = 0.0, **preprocessing: Any) -> np.ndarray:
    """The network inputs (m, 3072) float32 of a spectrum image's pixels at the flat (C-order) indices
    ``rows`` (m,), pre-processed as :func:`~eels_helpers.inference.preprocess.preprocess` does
    (``preprocessing``: its keyword arguments)."""
    rows, nav = np.asarray(rows, dtype=np.int64), spectrum.navigation_shape
    # by their coordinates: flattening an image whose array is not contiguous would copy all of it per call
    data = spectrum.data[np.unravel_index(rows, nav)] if nav else spectrum.data[None][rows]
    return preprocess(replace(spectrum, data=data), offset_eV=offset_eV, **preprocessing)


def probabilities_in_blocks(spectrum: Spectrum, loaded: Any, *, offset_eV: float = 0.0, batch_size: int = 256,
                            bfloat16: bool = False, device: str = "cpu", int8: bool = False,
                            progress: bool = False, **preprocessing: Any) -> ImageProbabilities:
    """Pre-process a spectrum image and run ``loaded``'s network on it, :func:`block_size` pixels at a
    time (the network prepared once, :func:`eels_helpers.inference.predict.prepared_network`).

    ``preprocessing``: keyword arguments of :func:`~eels_helpers.inference.preprocess.preprocess`
    (``remove_spikes``, ``fill_dead_channels``, ``repair_gain_steps``). ``progress``: a bar over
    the pixels (from two blocks on; within one block, the pre-processing's bar over its own blocks and
    :func:`~eels_helpers.inference.predict.run_model`'s over the batches)."""
    from eels_helpers.inference.predict import prepared_network, run_model

    n, size = int(np.prod(spectrum.navigation_shape)), block_size(batch_size)
    network = prepared_network(loaded, n, bfloat16=bfloat16, device=device, int8=int8)
    probs = np.empty((n, 80), dtype=np.float32)
    cuts, saturated, repairs = np.full(n, np.nan), np.full(n, np.nan), []
    input_sum = np.zeros(N_CHANNELS)
    starts = range(0, max(n, 1), size)
    bar = None
    if progress and len(starts) > 1:
        bar = progress_bar(total=n, desc="identifying", unit="spectrum", leave=False)
    try:
        for start in starts:
            rows = slice(start, start + size)
            block = replace(spectrum, data=_pixel_block(spectrum, start, start + size))
            x, cuts[rows], saturated[rows], fixed = preprocess(
                block, offset_eV=offset_eV, return_cuts=True, return_saturation=True, return_repairs=True,
                progress=progress and bar is None, **preprocessing)
            repairs.append(fixed)
            input_sum += x.sum(axis=0, dtype=np.float64)
            probs[rows] = run_model(loaded, x, batch_size=batch_size, bfloat16=bfloat16, device=device,
                                    progress=progress and bar is None, network=network)
            if bar is not None:
                bar.update(len(x))
    finally:
        if bar is not None:
            bar.close()
    nav = spectrum.navigation_shape
    return ImageProbabilities(probs.reshape(nav + (80,)), cuts.reshape(nav), saturated.reshape(nav),
                              _joined(repairs, nav), None if len(starts) > 1 else x,
                              (input_sum / max(n, 1)).astype(np.float32))


def _joined(parts: list[RepairedChannels], shape: tuple[int, ...]) -> RepairedChannels:
    """One :class:`RepairedChannels` for the image from its blocks': counts side by side, energies merged."""
    def counts(name):
        return np.concatenate([np.broadcast_to(getattr(p, name), np.shape(p.spike_count)).ravel()
                               for p in parts]).reshape(shape)

    def energies(name):
        return np.unique(np.concatenate([np.asarray(getattr(p, name), dtype=np.float64) for p in parts]))

    return RepairedChannels(counts("spike_count"), energies("spikes_eV"), counts("dead_count"), energies("dead_eV"),
                            counts("step_count"), energies("steps_eV"))
