"""Simulated spectra without a file: the streaming dataset and in-memory sets.

* :class:`StreamingSpectra`: a torch ``IterableDataset`` of freshly simulated batches (training
  with no disk; distributed ranks and DataLoader workers never repeat each other);
* :func:`single_element_arrays`: the single-element set in memory (the confusion matrix);
* :func:`stream_occurrence`: the element occurrence of freshly simulated spectra (Fig. 4a without
  a file);
* :func:`named_stream` / :func:`simulated_arrays`: a seeded stream of a named simulator
  configuration over the elements it can draw, and its first spectra in memory (validation, test
  and calibration sets; per-element scores of :mod:`eels_helpers.evaluation.hard_examples`).

Each batch and each element draws from its own generator (``SeedSequence(seed, spawn_key=...)``),
so what is drawn does not depend on the number of workers or on the other elements asked for.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from eels_helpers.datasets.config import STREAM_KEY, default_simulate, simulatable_elements
from eels_helpers.datasets.occurrence import element_occurrence
from eels_helpers.physics.elements import ELEMENTS

_SINGLE_KEY = 7927  # spawn-key prefix of single_element_arrays
_MIX_KEY = 7933     # spawn-key prefix of the per-batch choice between config and mix_config


class StreamingSpectra(torch.utils.data.IterableDataset):
    """Freshly simulated batches, no disk: an endless (or ``n_batches`` long) stream.

    Each batch draws ``batch_size`` query elements uniformly from ``elements`` (default: all
    80; with ``query_weights``, an element -> relative weight mapping, each element with the
    probability of its weight, unlisted elements weighing 1: more spectra of the elements the
    network gets wrong), one Materials Project specimen containing each, and simulates one spectrum per
    specimen (``single_element=True``: the pure query element). Batch b uses the generator
    ``SeedSequence(seed, spawn_key=(7919, b))``; DataLoader worker w of W (and distributed
    rank r of R) produces the batches b = r + R (w + k W), k = 0, 1, ..., so workers and ranks
    never repeat each other; with ``DataLoader(ds, batch_size=None)`` a rank's stream is the
    same, in the same order, for any number of workers W.
    With ``mix_config`` and ``mix_fraction`` f > 0, batch b is simulated with ``mix_config``
    instead of ``config`` when u_b < f, u_b uniform from its own generator
    ``SeedSequence(seed, spawn_key=(7933, b))`` (so the batch's other draws do not change, and
    the choice does not depend on workers or ranks): a mixture of two simulator configurations,
    e.g. an open-world one with a share of the paper's.
    Yields dicts of torch tensors: ``spectra`` (B, 3072) float32, ``labels_identification``
    (B, 80) float32, ``labels_quantification`` (B, 80) float32, ``query`` (B,) int64, and
    ``batch_index`` (int).
    """

    def __init__(self, config=None, elements: Iterable[str] | None = None, seed: int = 0,
                 batch_size: int = 32, n_batches: int | None = None, single_element: bool = False,
                 rank: int = 0, world_size: int = 1, simulate_fn: Callable | None = None,
                 mix_config=None, mix_fraction: float = 0.0, query_weights=None):
        super().__init__()
        self.elements = tuple(ELEMENTS if elements is None else elements)
        bad = [e for e in self.elements if e not in ELEMENTS]
        if bad or not self.elements:
            raise ValueError(f"elements must be symbols among the 80 network elements, unknown: {bad}")
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise ValueError(f"batch_size (spectra per batch) must be an integer >= 1, got {batch_size!r}")
        if n_batches is not None and not (isinstance(n_batches, int) and n_batches >= 0):
            raise ValueError(f"n_batches must be None (endless) or an integer >= 0, got {n_batches!r}")
        if not (0 <= rank < world_size):
            raise ValueError(f"rank must be in 0..world_size-1, got rank={rank}, world_size={world_size}")
        if not (isinstance(mix_fraction, (int, float)) and 0.0 <= mix_fraction <= 1.0):
            raise ValueError(f"mix_fraction (share of batches from mix_config) must be in [0, 1], got {mix_fraction!r}")
        if mix_fraction > 0 and mix_config is None:
            raise ValueError("mix_fraction > 0 needs a mix_config (the second simulator configuration)")
        self.mix_config, self.mix_fraction = mix_config, float(mix_fraction)
        self.config, self.seed, self.batch_size = config, int(seed), batch_size
        self.n_batches, self.single_element = n_batches, single_element
        self.rank, self.world_size = rank, world_size
        self.simulate_fn = simulate_fn
        self._idx = np.array([ELEMENTS.index(e) for e in self.elements])
        self._p = None if not query_weights else query_probabilities(self.elements, query_weights)

    def batch(self, b: int) -> dict:
        """Batch number ``b`` of the stream (what the iterator yields for it)."""
        from eels_helpers.simulation import specimens as sp

        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(STREAM_KEY, b)))
        config = self.config_of(b)                      # its own generator: rng's draws do not move
        exclude = getattr(config, "exclude_elements", ())
        p = self._p if not exclude else self._query_probabilities_without(exclude)
        queries = self._idx[rng.integers(0, self._idx.size, self.batch_size) if p is None
                            else rng.choice(self._idx.size, self.batch_size, p=p)]
        specs = [None] * self.batch_size
        for q in np.unique(queries):
            where = np.flatnonzero(queries == q)
            rows = (np.full(where.size, -1) if self.single_element
                    else sp.sample_indices(int(q), where.size, rng, exclude=exclude))
            for j, s in zip(where, sp.specimens_from_indices(int(q), rows)):
                specs[j] = s
        batch = (self.simulate_fn or default_simulate())(specs, config, rng)
        f = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32))  # noqa: E731
        return {"spectra": f(batch.spectra), "labels_identification": f(batch.labels_identification),
                "labels_quantification": f(batch.labels_quantification),
                "query": torch.from_numpy(queries.astype(np.int64)), "batch_index": b}

    def _query_probabilities_without(self, exclude: tuple[str, ...]) -> np.ndarray:
        """The query probabilities with the ``exclude``d elements at 0 (a configuration's
        ``exclude_elements``: no specimen holds them), renormalised."""
        p = (np.full(self._idx.size, 1.0) if self._p is None else self._p.copy())
        p[np.isin(self._idx, [ELEMENTS.index(e) for e in exclude])] = 0.0
        if p.sum() <= 0:
            raise ValueError(f"every query element ({', '.join(self.elements)}) is excluded by the "
                             f"simulator configuration's exclude_elements {exclude}")
        return p / p.sum()

    def config_of(self, b: int):
        """The simulator configuration of batch ``b``: ``mix_config`` for a share ``mix_fraction``
        of the batches (class docstring), else ``config`` (default: the paper's Table 1)."""
        if self.mix_fraction > 0:
            u = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_MIX_KEY, b))).random()
            if u < self.mix_fraction:
                return self.mix_config
        if self.config is None:
            from eels_helpers.simulation.config import SimulationConfig

            self.config = SimulationConfig()
        return self.config

    def _indices(self):
        info = torch.utils.data.get_worker_info()
        w, nw = (0, 1) if info is None else (info.id, info.num_workers)
        stride = nw * self.world_size
        b = self.rank + self.world_size * w
        while self.n_batches is None or b < self.n_batches:
            yield b
            b += stride

    def __iter__(self):
        for b in self._indices():
            yield self.batch(b)

    def __len__(self):
        if self.n_batches is None:
            raise TypeError("an endless StreamingSpectra has no length; pass n_batches")
        return len(range(self.rank, self.n_batches, self.world_size))


def query_probabilities(elements: Sequence[str], query_weights) -> np.ndarray:
    """The probability of each of ``elements`` as a query element: its weight in the
    ``query_weights`` mapping (element -> relative weight >= 0; unlisted elements weigh 1),
    normalised. Raises ValueError naming an unknown element or a bad weight."""
    unknown = sorted(set(query_weights) - set(ELEMENTS))
    if unknown:
        raise ValueError(f"query_weights: unknown element symbols {unknown} (the 80 network elements)")
    w = np.array([float(query_weights.get(e, 1.0)) for e in elements])
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("query_weights: every weight must be finite and >= 0, and the drawn elements' "
                         f"weights must not all be 0; got {dict(zip(elements, w.tolist()))}")
    return w / w.sum()


def single_element_arrays(n_per_element: int, seed: int, elements: Sequence[str] | None = None, config=None,
                          simulate_fn: Callable | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The single-element set in memory: ``n_per_element`` spectra of each pure element.

    Returns spectra (N, 3072) float32 and labels (N, 80) float32, element by element in Z order
    (N = n_per_element x len(elements); default elements: all those the simulator can draw,
    :func:`eels_helpers.datasets.config.simulatable_elements`). Element e uses
    ``SeedSequence(seed, spawn_key=(7927, e))``, so its spectra do not depend on which other
    elements are asked for. The paper uses this set "to determine what pairs of elements are often
    confused" (:func:`eels_helpers.evaluation.metrics.confusion_matrix`).
    """
    from eels_helpers.simulation import specimens as sp

    if not (isinstance(n_per_element, (int, np.integer)) and n_per_element >= 1):
        raise ValueError(f"n_per_element (spectra per element) must be an integer >= 1, got {n_per_element!r}")
    if elements is None:
        elements = simulatable_elements(config, simulate_fn=simulate_fn)[0]
    bad = [e for e in elements if e not in ELEMENTS]
    if bad or not len(elements):
        raise ValueError(f"elements must be symbols among the 80 network elements, unknown: {bad}")
    if config is None:
        from eels_helpers.simulation.config import SimulationConfig

        config = SimulationConfig()
    simulate_fn = simulate_fn or default_simulate()
    spectra, labels = [], []
    for el in sorted(elements, key=ELEMENTS.index):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SINGLE_KEY, ELEMENTS.index(el))))
        batch = simulate_fn(sp.pure_specimens(el, int(n_per_element)), config, rng)
        spectra.append(np.asarray(batch.spectra, np.float32))
        labels.append(np.asarray(batch.labels_identification, np.float32))
    return np.concatenate(spectra), np.concatenate(labels)


def stream_occurrence(n_spectra: int, seed: int = 0, batch_size: int = 64, config=None,
                      simulate_fn: Callable | None = None) -> np.ndarray:
    """(80,) number of spectra labelled with each element among ``n_spectra`` freshly simulated
    ones (:class:`StreamingSpectra`, rounded up to whole batches of ``batch_size``): Fig. 4a
    without a file. ``simulate_fn``: a stand-in for the simulator (tests)."""
    if not (isinstance(n_spectra, int) and n_spectra >= 1):
        raise ValueError(f"n_spectra must be an integer >= 1 (spectra to simulate), got {n_spectra!r}")
    stream = StreamingSpectra(config=config, seed=seed, batch_size=batch_size,
                              n_batches=-(-n_spectra // batch_size), simulate_fn=simulate_fn)
    total = np.zeros(len(ELEMENTS), np.int64)
    for batch in stream:
        total += element_occurrence(batch["labels_identification"].numpy())
    return total


def named_stream(simulation="paper", seed: int = 0, batch_size: int = 64, n_batches: int | None = None,
                 elements: Sequence[str] | None = None) -> StreamingSpectra:
    """:class:`StreamingSpectra` of the simulator configuration ``simulation`` (a name of
    :data:`eels_helpers.simulation.named_configs.NAMED_CONFIGS` or a SimulationConfig), query elements
    uniform over ``elements``, by default over those it can draw
    (:func:`~eels_helpers.datasets.config.simulatable_elements`), as a training run draws them."""
    from eels_helpers.simulation.named_configs import named_config

    config = named_config(simulation) if isinstance(simulation, str) else simulation
    if elements is None:
        elements = simulatable_elements(config)[0]
    return StreamingSpectra(config=config, elements=elements, seed=seed, batch_size=batch_size,
                            n_batches=n_batches)


def simulated_arrays(n_spectra: int, seed: int, batch_size: int = 64, simulation="paper",
                     elements: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n_spectra`` (rounded up to whole batches) spectra (N, 3072) and labels (N, 80) of
    :func:`named_stream` with ``seed`` (use a seed other than the training seed for test data)."""
    if not (isinstance(n_spectra, (int, np.integer)) and n_spectra >= 1):
        raise ValueError(f"n_spectra must be an integer >= 1 (spectra to simulate), got {n_spectra!r}")
    stream = named_stream(simulation, seed, batch_size, -(-int(n_spectra) // batch_size), elements)
    batches = [stream.batch(b) for b in range(stream.n_batches)]
    return (np.concatenate([b["spectra"].numpy() for b in batches]),
            np.concatenate([b["labels_identification"].numpy() for b in batches]))
