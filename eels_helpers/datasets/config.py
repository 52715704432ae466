"""What a simulated dataset holds: its configuration, its work units and the content of a unit.

Splits (Annys et al. 2023, Methods, "Specimen sampling"): for each of the 80 elements, ``train``
1,400 samples x 5 spectra, ``validation`` 300 x 2, ``test`` 300 x 5 and a ``single``-element set of
100 spectra (specimen = the pure query element), 9,200 spectra per element, 736,000 in all at
``scale=1`` (the ``paper`` profile). A "sample" is a specimen (one Materials Project formula
containing the query element, :mod:`eels_helpers.simulation.specimens`); each of its spectra draws its own
microscope parameters and detector window (:func:`eels_helpers.simulation.pipeline.simulate_batch`).

Reproducibility and scale-out
-----------------------------
Work is cut into *units* (:class:`Unit`): (split, query element, chunk of ``chunk_samples``
samples). Each unit draws from its own generator ``SeedSequence(seed, spawn_key=(split, element,
chunk))`` (:func:`unit_rng`), so the content of a unit (:func:`simulate_unit`) depends on the seed
and the dataset configuration only, never on the number of worker processes, on shards or on the
order in which units are computed. Shard ``I/N`` (:func:`parse_shard`) holds the units whose
global number u satisfies ``u % N == I``.

Writing the units to HDF5: :mod:`eels_helpers.datasets.hdf5_writer`; reading them back:
:mod:`eels_helpers.datasets.hdf5_reader`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from eels_helpers.physics.elements import ELEMENTS

#: File-format identifier stored in every dataset file (an identifier, not a module path: files
#: written by earlier versions carry it too).
FORMAT = "eels_helpers.dataset"
VERSION = 1
N_CHANNELS = 3072
N_ELEMENTS = len(ELEMENTS)
SPLITS = ("train", "validation", "test", "single")
#: The paper's (samples per element, spectra per sample) for each split.
PAPER_SPLITS = {"train": (1400, 5), "validation": (300, 2), "test": (300, 5), "single": (100, 1)}
#: Spawn-key prefix separating the streaming generator (and the writer's probe) from the file units.
STREAM_KEY = 7919


# --------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class DatasetConfig:
    """Which spectra a dataset holds.

    Attributes
    ----------
    scale : float
        fraction of the paper's samples per element (1 = 736,000 spectra), in (0, 10]; every
        split keeps at least one sample per element.
    splits : tuple of str
        subset of ``SPLITS`` to generate.
    elements : tuple of str
        query elements (symbols among the 80); default all 80; those in the simulation's
        ``exclude_elements`` are dropped (no specimen holds them).
    chunk_samples : int
        samples per work unit, 1..100,000 (part of the content's definition).
    dtype : {'float32', 'float16'}
        storage dtype of the spectra.
    simulation : SimulationConfig or None
        an ``eels_helpers.simulation.config.SimulationConfig``; None = its defaults (Table 1).
    """

    scale: float = 1.0
    splits: tuple[str, ...] = SPLITS
    elements: tuple[str, ...] = ELEMENTS
    chunk_samples: int = 100
    dtype: str = "float32"
    simulation: object = None

    def __post_init__(self):
        if not (isinstance(self.scale, (int, float)) and 0 < self.scale <= 10):
            raise ValueError(f"scale (fraction of the paper's samples per element, dimensionless) "
                             f"must be in (0, 10], got {self.scale!r}")
        object.__setattr__(self, "splits", tuple(self.splits))
        object.__setattr__(self, "elements", tuple(self.elements))
        bad = [s for s in self.splits if s not in SPLITS]
        if bad or not self.splits or len(set(self.splits)) != len(self.splits):
            raise ValueError(f"splits must be distinct names among {SPLITS}, got {self.splits}")
        bad = [e for e in self.elements if e not in ELEMENTS]
        if bad or not self.elements or len(set(self.elements)) != len(self.elements):
            raise ValueError(f"elements must be distinct symbols among the 80 network elements "
                             f"{ELEMENTS[0]}..{ELEMENTS[-1]}; unknown or repeated: {bad or self.elements}")
        if not (isinstance(self.chunk_samples, (int, np.integer)) and 1 <= self.chunk_samples <= 100_000):
            raise ValueError(f"chunk_samples (samples per work unit) must be an integer in "
                             f"1..100000, got {self.chunk_samples!r}")
        if self.dtype not in ("float32", "float16"):
            raise ValueError(f"dtype (storage type of the spectra) must be 'float32' or 'float16', "
                             f"got {self.dtype!r}")
        # keep split order canonical so that unit numbers do not depend on the order given
        object.__setattr__(self, "splits", tuple(s for s in SPLITS if s in self.splits))
        object.__setattr__(self, "elements", tuple(e for e in ELEMENTS if e in self.elements))
        excluded = getattr(self.simulation, "exclude_elements", ())
        if excluded:                                    # no specimen holds them: never a query element
            object.__setattr__(self, "elements", tuple(e for e in self.elements if e not in excluded))
            if not self.elements:
                raise ValueError(f"elements: every query element is among the simulation's exclude_elements {excluded}")

    @classmethod
    def from_profile(cls, profile: str, **overrides) -> "DatasetConfig":
        """The dataset of a profile (``smoke``, ``cpu``, ``paper``: its
        :attr:`eels_helpers.profiles.Profile.dataset_scale`); keyword arguments override fields
        (e.g. ``scale``, ``splits``, ``dtype``)."""
        from eels_helpers.profiles import get_profile

        return cls(**{"scale": get_profile(profile).dataset_scale, **overrides})

    def samples_per_element(self, split: str) -> int:
        return max(1, int(round(PAPER_SPLITS[split][0] * self.scale)))

    def spectra_per_sample(self, split: str) -> int:
        return PAPER_SPLITS[split][1]

    def n_spectra(self, split: str | None = None) -> int:
        splits = self.splits if split is None else (split,)
        return sum(self.samples_per_element(s) * self.spectra_per_sample(s) * len(self.elements)
                   for s in splits)

    def simulation_config(self):
        if self.simulation is not None:
            return self.simulation
        from eels_helpers.simulation.config import SimulationConfig

        return SimulationConfig()

    @property
    def labels_dtype(self):
        """The stored identification labels' dtype: uint8 (0/1), float32 with soft labels
        (``detectability_soft_factor`` > 1)."""
        return np.float32 if self.simulation_config().soft_labels else np.uint8

    def to_json(self) -> str:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "simulation"}
        return json.dumps(d, sort_keys=True)


def config_json(obj) -> str:
    """A configuration (dataclass, dict or None) as canonical JSON (as stored in the file attributes)."""
    if obj is None:
        return "null"
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    return json.dumps(obj, sort_keys=True, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))


def same_config(stored: str, obj) -> bool:
    """Whether ``stored`` (:func:`config_json` of a configuration written earlier) describes the
    dataclass ``obj``: equal field by field, where a field added since (absent from ``stored``)
    must hold its default in ``obj``. Options are added off by default and leave earlier output
    unchanged (tests/simulation/test_reference.py), so a file written before them can be resumed."""
    now, then = json.loads(config_json(obj)), json.loads(stored)
    if not (dataclasses.is_dataclass(obj) and isinstance(now, dict) and isinstance(then, dict)):
        return stored == config_json(obj)
    defaults = json.loads(config_json(type(obj)()))
    return set(then) <= set(now) and all(then.get(k, defaults.get(k)) == v for k, v in now.items())


# --------------------------------------------------------------------------------------------
# work units


@dataclass(frozen=True)
class Unit:
    """One work unit: ``n_samples`` samples (from ``sample_start``) of one split and query element."""

    id: int          # global unit number
    split: int       # index into SPLITS
    element: int     # 0..79
    chunk: int
    sample_start: int
    n_samples: int
    spectra_per_sample: int

    @property
    def n_rows(self) -> int:
        return self.n_samples * self.spectra_per_sample


def plan_units(config: DatasetConfig) -> list[Unit]:
    """Every unit of the dataset, in canonical order (split, element, chunk)."""
    units = []
    for split in config.splits:
        n = config.samples_per_element(split)
        k = config.spectra_per_sample(split)
        for el in config.elements:
            e = ELEMENTS.index(el)
            for c, start in enumerate(range(0, n, config.chunk_samples)):
                units.append(Unit(len(units), SPLITS.index(split), e, c, start,
                                  min(config.chunk_samples, n - start), k))
    return units


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N."""
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard I/N needs 0 <= I < N, got {text!r}")
    return i, n


def unit_rng(seed: int, unit: Unit) -> np.random.Generator:
    """The generator of one unit: depends on (seed, split, element, chunk) only."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(unit.split, unit.element, unit.chunk)))


# --------------------------------------------------------------------------------------------
# the content of a unit


def default_simulate():
    """The simulator (:func:`eels_helpers.simulation.pipeline.simulate_batch`), imported when first needed."""
    from eels_helpers.simulation.pipeline import simulate_batch

    return simulate_batch


def simulate_unit(unit: Unit, config: DatasetConfig, seed: int,
                  simulate_fn: Callable | None = None) -> dict[str, np.ndarray]:
    """Simulate the spectra of one unit; returns the rows to store, field by field (the layout in
    :mod:`eels_helpers.datasets.hdf5_writer`)."""
    from eels_helpers.simulation import specimens as sp

    simulate_fn = simulate_fn or default_simulate()
    rng = unit_rng(seed, unit)
    split = SPLITS[unit.split]
    if split == "single":
        rows = np.full(unit.n_samples, -1, np.int64)
    else:
        rows = sp.sample_indices(unit.element, unit.n_samples, rng,
                                 exclude=config.simulation_config().exclude_elements)
    specs = sp.specimens_from_indices(unit.element, rows)
    k = unit.spectra_per_sample
    specs = [s for s in specs for _ in range(k)]
    batch = simulate_fn(specs, config.simulation_config(), rng)
    n = unit.n_rows
    out = {
        "spectra": np.asarray(batch.spectra, dtype=config.dtype),
        "labels_identification": np.asarray(batch.labels_identification, config.labels_dtype),
        "labels_quantification": np.asarray(batch.labels_quantification, np.float32),
        "query": np.full(n, unit.element, np.int16),
        "sample": np.repeat(np.arange(unit.sample_start, unit.sample_start + unit.n_samples,
                                      dtype=np.int32), k),
        "mp_row": np.repeat(rows.astype(np.int32), k),
    }
    for name, value in batch.params.items():
        value = np.asarray(value)
        if value.shape[:1] != (n,):
            raise ValueError(f"simulate_batch parameter {name!r} has shape {value.shape}, expected "
                             f"first axis {n} (one entry per spectrum)")
        out["params/" + name] = value
    if out["spectra"].shape != (n, N_CHANNELS):
        raise ValueError(f"simulate_batch returned spectra of shape {out['spectra'].shape}, "
                         f"expected ({n}, {N_CHANNELS})")
    return out


def simulatable_elements(simulation=None, elements: Sequence[str] = ELEMENTS,
                         simulate_fn: Callable | None = None) -> tuple[tuple[str, ...], dict]:
    """Which query elements the simulator can draw with this SimulationConfig (e.g. a
    hydrogenic GOS source has K and L edges only). Returns (elements that work,
    {element: error} for the others), from one pure-element spectrum each."""
    from eels_helpers.simulation import specimens as sp

    if simulation is None:
        from eels_helpers.simulation.config import SimulationConfig

        simulation = SimulationConfig()
    simulate_fn = simulate_fn or default_simulate()
    rng = np.random.default_rng(0)
    ok, failures = [], {}
    for el in elements:
        try:
            simulate_fn(sp.pure_specimens(el, 1), simulation, rng)
            ok.append(el)
        except ValueError as err:
            failures[el] = err
    return tuple(ok), failures
