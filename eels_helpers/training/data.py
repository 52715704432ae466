"""Training data: datasets, the order of the batches, sharding over processes, exact resume.

* :func:`iterate_batches`: the endless (spectra (B, 3072), labels (B, 80)) batches of a run,
  positioned after the steps already taken (a resumed run sees the same data as an
  uninterrupted one) and sharded over the torchrun processes (:func:`dist_env`). It takes a
  map-style ``torch.utils.data.Dataset`` (a fresh seeded permutation per pass,
  :class:`PermutationSampler`), an ``IterableDataset``, or the streaming simulator
  (:class:`eels_helpers.datasets.streaming.StreamingSpectra`, which yields whole batches).
* Datasets: :class:`SyntheticPeaks` (a toy for tests), :func:`streaming_dataset` (the
  simulator for this process). Validation and test arrays from the simulator:
  :func:`eels_helpers.datasets.streaming.simulated_arrays`; files on disk are read by
  :func:`eels_helpers.datasets.hdf5_reader.open_training_split`.
"""

from __future__ import annotations

import logging
import os
from typing import Iterator

import numpy as np

from eels_helpers.training.config import TrainConfig

__all__ = ["SyntheticPeaks", "PermutationSampler", "iterate_batches", "batch_xy", "dist_env", "streaming_dataset"]

logger = logging.getLogger(__name__)


def dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) of this process, from the torchrun environment
    (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``; (0, 1, 0) outside torchrun)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


class SyntheticPeaks:
    """A toy map-style dataset for tests and smoke runs (NOT EELS physics).

    Spectrum ``i`` holds 1-3 elements; element c adds a Gaussian peak (sigma 4 eV) at 100 + 36 c eV
    on a decaying background, with Gaussian noise; normalised to a maximum of 1. Deterministic in
    (seed, i). Yields (float32 (3072,), float32 (80,)).
    """

    def __init__(self, size: int = 1024, seed: int = 0, n_classes: int = 80, n_channels: int = 3072):
        self.size, self.seed, self.n_classes, self.n_channels = size, seed, n_classes, n_channels
        self.energy = np.arange(n_channels, dtype=np.float32)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int):
        if not 0 <= i < self.size:
            raise IndexError(i)
        rng = np.random.default_rng((self.seed, i))
        classes = rng.choice(self.n_classes, size=rng.integers(1, 4), replace=False)
        centres = 100.0 + 36.0 * classes
        amplitude = rng.uniform(0.3, 1.0, size=classes.size)
        x = np.exp(-((self.energy[:, None] - centres) / 4.0) ** 2 / 2) @ amplitude
        x += 2.0 * np.exp(-self.energy / 300.0) + rng.normal(0, 0.05, self.n_channels)
        x = (x / x.max()).astype(np.float32)
        y = np.zeros(self.n_classes, np.float32)
        y[classes] = 1
        return x, y


class PermutationSampler:
    """Infinite sampler: a fresh seeded permutation of range(n) for every pass over the data, sharded
    over ``world`` processes (process ``rank`` takes every world-th index), starting after ``start``
    indices already consumed (global count), so a resumed run continues with the same data."""

    def __init__(self, n: int, seed: int, start: int = 0, rank: int = 0, world: int = 1):
        self.n, self.seed, self.start, self.rank, self.world = n, seed, start, rank, world

    def __iter__(self) -> Iterator[int]:
        import torch

        data_epoch, offset = divmod(self.start, self.n)
        while True:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + data_epoch)
            perm = torch.randperm(self.n, generator=g).tolist()
            for j in range(offset, self.n):
                if j % self.world == self.rank:
                    yield perm[j]
            data_epoch, offset = data_epoch + 1, 0


def batch_xy(batch):
    """(spectra, labels) from a tuple/list batch or a dict batch (eels_helpers.datasets.streaming fields)."""
    if isinstance(batch, dict):
        return batch["spectra"], batch["labels_identification"]
    return batch[0], batch[1]


def _stream_from(stream, start: int):
    """IterableDataset over batches k = start, start+1, ... of a StreamingSpectra (its batch
    ``rank + world_size * k``), split over DataLoader workers; the same sequence for any number of
    workers, so a resumed run continues the stream exactly."""
    import torch

    class StreamFrom(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            w, nw = (0, 1) if info is None else (info.id, info.num_workers)
            k = start + w
            while stream.n_batches is None or stream.rank + stream.world_size * k < stream.n_batches:
                yield stream.batch(stream.rank + stream.world_size * k)
                k += nw

    return StreamFrom()


def _is_batch_stream(dataset) -> bool:
    return all(hasattr(dataset, a) for a in ("batch", "batch_size", "rank", "world_size", "n_batches"))


def iterate_batches(dataset, config: TrainConfig, start_batches: int, rank: int, world: int) -> Iterator:
    """Endless iterator of (x, y) batches, positioned after ``start_batches`` already-used steps.

    Parameters
    ----------
    dataset : torch Dataset, IterableDataset or StreamingSpectra
        items (spectrum (3072,), labels (80,)) or dict batches with ``spectra`` and
        ``labels_identification``.
    config : TrainConfig
        gives ``batch_size`` (per process), ``seed`` (the data order) and ``num_workers``.
    start_batches : int
        steps this process has already taken (0 for a new run).
    rank, world : int
        this process and the number of processes; each takes a different shard of the data.

    Yields
    ------
    (x, y) : torch.Tensor (B, 3072), torch.Tensor (B, 80)
        spectra and labels of one step (B = ``config.batch_size``).
    """
    import torch
    from torch.utils.data import DataLoader, IterableDataset

    generator = torch.Generator().manual_seed(config.seed)  # keeps the global RNG untouched
    if _is_batch_stream(dataset):        # eels_helpers.datasets.streaming.StreamingSpectra: yields whole batches
        if dataset.batch_size != config.batch_size:
            raise ValueError(f"the stream's batch_size {dataset.batch_size} differs from batch_size "
                             f"{config.batch_size}")
        if (dataset.rank, dataset.world_size) != (rank, world):
            raise ValueError(f"the stream is for rank {dataset.rank} of {dataset.world_size}, this process is "
                             f"rank {rank} of {world}")
        loader = DataLoader(_stream_from(dataset, start_batches), batch_size=None, num_workers=config.num_workers,
                            generator=generator, persistent_workers=config.num_workers > 0)
        while True:
            yield from map(batch_xy, loader)
            if dataset.n_batches is not None:
                raise RuntimeError("the stream ended; use n_batches=None (endless) for training")
    elif isinstance(dataset, IterableDataset):
        loader = DataLoader(dataset, batch_size=config.batch_size, num_workers=config.num_workers,
                            generator=generator, drop_last=True)
        skip = start_batches
        while True:   # cycle; a deterministic stream is re-positioned by skipping consumed batches
            for batch in loader:
                if skip:
                    skip -= 1
                    continue
                yield batch_xy(batch)
    else:
        sampler = PermutationSampler(len(dataset), config.seed, start_batches * config.batch_size * world, rank, world)
        loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler,
                            num_workers=config.num_workers, generator=generator,
                            persistent_workers=config.num_workers > 0)
        yield from map(batch_xy, loader)



def streaming_dataset(config: TrainConfig):
    """The streaming simulator for this process (rank/world from the torchrun environment), drawing
    query elements among those the simulator can produce with its default configuration; a share
    ``config.paper_fraction`` of the batches in the paper's configuration; query elements drawn
    with ``config.query_weights`` when given."""
    from eels_helpers.datasets.config import simulatable_elements
    from eels_helpers.datasets.streaming import StreamingSpectra
    from eels_helpers.simulation.named_configs import named_config

    rank, world, _ = dist_env()
    simulation = named_config(config.simulation)
    elements, failures = simulatable_elements(simulation)
    if failures and rank == 0:
        logger.warning("streaming simulator: %d of 80 elements cannot be simulated with the current GOS "
                       "source and are never drawn as query elements: %s", len(failures), ", ".join(failures))
    mix = named_config("paper") if config.paper_fraction > 0 else None
    return StreamingSpectra(config=simulation, elements=elements, seed=config.seed, batch_size=config.batch_size,
                            rank=rank, world_size=world, mix_config=mix, mix_fraction=config.paper_fraction,
                            query_weights=config.query_weights or None)
