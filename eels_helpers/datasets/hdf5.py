"""The paper's simulated datasets: HDF5 files (resumable, sharded) and a streaming IterableDataset.

Splits (Annys et al. 2023, Methods, "Specimen sampling"): for each of the 80 elements, ``train``
1,400 samples x 5 spectra, ``validation`` 300 x 2, ``test`` 300 x 5 and a ``single``-element set of
100 spectra (specimen = the pure query element), 9,200 spectra per element, 736,000 in all at
``scale=1`` (the ``paper`` profile). A "sample" is a specimen (one Materials Project formula
containing the query element, :mod:`eels_helpers.simulation.specimens`); each of its spectra draws its own
microscope parameters and detector window (:func:`eels_helpers.simulation.pipeline.simulate_batch`).

Reproducibility and scale-out
-----------------------------
Work is cut into *units*: (split, query element, chunk of ``chunk_samples`` samples). Each unit
draws from its own generator ``SeedSequence(seed, spawn_key=(split, element, chunk))``, so the
content of a unit depends on the seed and the dataset configuration only, never on the number of
worker processes, on shards or on the order in which units are computed. ``--shard I/N`` writes the
units whose global number u satisfies ``u % N == I``; :func:`open_dataset` reads any set of shard
files back as one dataset, row for row identical to an unsharded file, without copying.

HDF5 layout (format ``eels_helpers.datasets.hdf5`` version 1)
------------------------------------------------------
Root attributes: ``format``, ``version``, ``seed``, ``dataset_config`` and ``simulation_config``
(JSON), ``shard_index``, ``shard_count``, ``package_version``, ``created``.
``/units``: one row per unit of this file: ``id`` (global unit number), ``split`` (index into
``SPLITS``), ``element`` (0..79), ``chunk``, ``row_start``, ``n_rows``, ``done`` (uint8).
``/<split>/`` datasets, one row per spectrum, in unit order:

=========================  ============  =======================================================
``spectra``                (N, 3072)     float32 (default) or float16; channel i = i eV,
                                         normalised to maximum 1, zero outside the detector window
``labels_identification``  (N, 80)       uint8, 1 where an edge of the element is in the window
``labels_quantification``  (N, 80)       float32, atomic fractions over the labelled elements
``query``                  (N,)          int16, query element (0..79)
``sample``                 (N,)          int32, sample number within (split, element)
``mp_row``                 (N,)          int32, row of the composition table (-1: pure element)
``params/<name>``          (N, ...)      every parameter sampled by ``simulate_batch``
=========================  ============  =======================================================

Datasets are chunked (16 spectra per chunk: about 200 kB, good for random access while training),
uncompressed (lzf/gzip cost 30-40 % of the generation rate, cpu-costs note) and allocated at
creation (sparse on disk), so every row has a fixed place in the file: the worker that simulated a
unit writes its rows there itself (``os.pwrite`` at the byte offsets HDF5 allocated; no transfer
of arrays to the main process, no HDF5 call, no metadata change) and the main process then sets
the unit's ``done`` flag (at most one HDF5 flush per second). A run killed at any moment leaves a
readable file; a rerun with the same arguments computes only the units not done (a unit half
written when killed is simply written again). The file is written as ``OUT.partial`` and renamed
to ``OUT`` (atomic ``os.replace``) once every unit is done (a file is complete when all its
``done`` flags are set: nothing else is written at the end).

Reading: ``open_dataset(paths or glob)[split]`` gives ``len``, ``read(field, rows)`` and
``torch()`` (a torch Dataset); contiguous rows are read through h5py, scattered rows (shuffled
training batches) directly at their byte offsets: 8,300 spectra/s in random batches of 32 here,
against 1,040/s through h5py fancy indexing (measured under a load average of 10 on 2 cores).
Any HDF5 tool reads the files as ordinary datasets.

Size: about 13.9 kB per spectrum with float32 spectra (12.3 kB spectrum, 1.6 kB labels and
parameters with the simulator of 2026-11-24), 10.2 GB for the paper set; float16 spectra
(``--dtype float16``) save 6.1 kB per spectrum. Measured on 600 simulated spectra (2026-11-24): float16 rounding keeps zeros, its largest
error is 2.4e-4 of the maximum and its median is 0.6 % of the Poisson standard deviation of the
channel; at the highest count level (A = 1e7) the median is 8 % and 0.6 % of the channels exceed
one standard deviation. float32 is the default (exact); float16 is a documented option.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob as _glob
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from eels_helpers.physics.elements import ELEMENTS

FORMAT = "eels_helpers.dataset"
VERSION = 1
N_CHANNELS = 3072
N_ELEMENTS = len(ELEMENTS)
SPLITS = ("train", "validation", "test", "single")
#: The paper's (samples per element, spectra per sample) for each split.
PAPER_SPLITS = {"train": (1400, 5), "validation": (300, 2), "test": (300, 5), "single": (100, 1)}
#: Fraction of the paper's samples per element at each profile of eels_helpers.profiles:
#: smoke 4,000 spectra (CI), cpu 73,600, paper 736,000 (the paper's set).
_SPECTRA_CHUNK_ROWS = 16
_STREAM_KEY = 7919  # spawn-key prefix separating the streaming generator from the file units


class InsufficientDiskSpace(OSError):
    """Not enough free disk space for the dataset to be written."""


# --------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class DatasetConfig:
    """Which spectra a dataset holds.

    scale: fraction of the paper's samples per element (1 = 736,000 spectra), in (0, 10];
        every split keeps at least one sample per element.
    splits: subset of ``SPLITS`` to generate.
    elements: query elements (symbols among the 80); default all 80.
    chunk_samples: samples per work unit, 1..100,000 (part of the content's definition).
    dtype: storage dtype of the spectra, "float32" or "float16".
    simulation: an ``eels_helpers.simulation.config.SimulationConfig``; None = its defaults (Table 1).
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

    def to_json(self) -> str:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "simulation"}
        return json.dumps(d, sort_keys=True)


def _config_json(obj) -> str:
    if obj is None:
        return "null"
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    return json.dumps(obj, sort_keys=True, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))


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


def _default_simulate():
    from eels_helpers.simulation.pipeline import simulate_batch

    return simulate_batch


def simulate_unit(unit: Unit, config: DatasetConfig, seed: int,
                  simulate_fn: Callable | None = None) -> dict[str, np.ndarray]:
    """Simulate the spectra of one unit; returns the rows to store (see the module docstring)."""
    from eels_helpers.simulation import specimens as sp

    simulate_fn = simulate_fn or _default_simulate()
    rng = unit_rng(seed, unit)
    split = SPLITS[unit.split]
    if split == "single":
        rows = np.full(unit.n_samples, -1, np.int64)
    else:
        rows = sp.sample_indices(unit.element, unit.n_samples, rng)
    specs = sp.specimens_from_indices(unit.element, rows)
    k = unit.spectra_per_sample
    specs = [s for s in specs for _ in range(k)]
    batch = simulate_fn(specs, config.simulation_config(), rng)
    n = unit.n_rows
    out = {
        "spectra": np.asarray(batch.spectra, dtype=config.dtype),
        "labels_identification": np.asarray(batch.labels_identification, np.uint8),
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


# --------------------------------------------------------------------------------------------
# disk space


def check_disk_space(folder: str | Path, needed_bytes: int) -> None:
    """Raise InsufficientDiskSpace (naming the folder, needed and available) if it does not fit."""
    folder = Path(folder).resolve()
    free = shutil.disk_usage(folder).free
    if needed_bytes > free:
        raise InsufficientDiskSpace(
            f"not enough free disk space in {folder}: the dataset needs about "
            f"{_human(needed_bytes)} ({needed_bytes} bytes), {_human(free)} ({free} bytes) available; "
            f"free some space, choose another --out folder, a smaller profile, --dtype float16, "
            f"or write shards (--shard I/N) on several disks")


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000


def _row_bytes(sample: dict[str, np.ndarray]) -> int:
    return sum(v[0].nbytes for v in sample.values())


# --------------------------------------------------------------------------------------------
# writing


def _create_dataset(group, name: str, shape: tuple, dtype, chunk_rows: int):
    """A chunked dataset allocated at creation, never filled (sparse file, no metadata changes later)."""
    import h5py

    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    if shape[0] > 0:
        dcpl.set_chunk((min(chunk_rows, shape[0]),) + tuple(max(1, s) for s in shape[1:]))
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    space = h5py.h5s.create_simple(shape)
    h5py.h5d.create(group.id, name.encode(), h5py.h5t.py_create(np.dtype(dtype), logical=True),
                    space, dcpl=dcpl)


def simulatable_elements(simulation=None, elements: Sequence[str] = ELEMENTS,
                         simulate_fn: Callable | None = None) -> tuple[tuple[str, ...], dict]:
    """Which query elements the simulator can draw with this SimulationConfig (e.g. a
    hydrogenic GOS source has K and L edges only). Returns (elements that work,
    {element: error} for the others), from one pure-element spectrum each."""
    from eels_helpers.simulation import specimens as sp

    if simulation is None:
        from eels_helpers.simulation.config import SimulationConfig

        simulation = SimulationConfig()
    simulate_fn = simulate_fn or _default_simulate()
    rng = np.random.default_rng(0)
    ok, failures = [], {}
    for el in elements:
        try:
            simulate_fn(sp.pure_specimens(el, 1), simulation, rng)
            ok.append(el)
        except ValueError as err:
            failures[el] = err
    return tuple(ok), failures


def _probe(config: DatasetConfig, seed: int, simulate_fn) -> dict[str, np.ndarray]:
    """Fail early, naming every query element that cannot be simulated; then simulate two
    spectra (own generator) to learn the fields' shapes and dtypes."""
    from eels_helpers.simulation import specimens as sp

    _, failures = simulatable_elements(config.simulation_config(), config.elements, simulate_fn)
    if failures:
        first = next(iter(failures.values()))
        raise ValueError(f"cannot simulate query element(s) {', '.join(failures)} with this "
                         f"simulation configuration (leave them out with --query-elements simulatable, "
                         f"or DatasetConfig(elements=...)); e.g.: {first}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAM_KEY, 999_983)))
    batch = (simulate_fn or _default_simulate())(sp.pure_specimens(config.elements[0], 2),
                                                 config.simulation_config(), rng)
    out = {"spectra": np.asarray(batch.spectra, config.dtype),
           "labels_identification": np.asarray(batch.labels_identification, np.uint8),
           "labels_quantification": np.asarray(batch.labels_quantification, np.float32),
           "query": np.zeros(2, np.int16), "sample": np.zeros(2, np.int32),
           "mp_row": np.zeros(2, np.int32)}
    for name, value in batch.params.items():
        out["params/" + name] = np.asarray(value)
    return out


def _init_file(path: Path, config: DatasetConfig, seed: int, shard: tuple[int, int],
               units: list[Unit], template: dict[str, np.ndarray]) -> None:
    import h5py

    from eels_helpers import __version__

    with h5py.File(path, "w", libver="earliest") as f:
        f.attrs.update(format=FORMAT, version=VERSION, seed=seed,
                       dataset_config=config.to_json(),
                       simulation_config=_config_json(config.simulation_config()),
                       shard_index=shard[0], shard_count=shard[1], package_version=__version__,
                       created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        g = f.create_group("units")
        starts, n_per_split = [], dict.fromkeys(range(len(SPLITS)), 0)
        for u in units:
            starts.append(n_per_split[u.split])
            n_per_split[u.split] += u.n_rows
        cols = {"id": [u.id for u in units], "split": [u.split for u in units],
                "element": [u.element for u in units], "chunk": [u.chunk for u in units],
                "row_start": starts, "n_rows": [u.n_rows for u in units]}
        types = {"id": np.int32, "split": np.uint8, "element": np.int16, "chunk": np.int32,
                 "row_start": np.int64, "n_rows": np.int32}
        for k, v in cols.items():
            g.create_dataset(k, data=np.asarray(v, types[k]))
        g.create_dataset("done", data=np.zeros(len(units), np.uint8))  # contiguous, allocated
        for s_idx, n in n_per_split.items():
            if SPLITS[s_idx] not in config.splits:
                continue
            grp = f.create_group(SPLITS[s_idx])
            grp.attrs["n_rows"] = n
            for name, value in template.items():
                rows = _SPECTRA_CHUNK_ROWS if name == "spectra" else 4096
                if "/" in name:
                    parent = grp.require_group(name.split("/")[0])
                    _create_dataset(parent, name.split("/")[1], (n,) + value.shape[1:], value.dtype, rows)
                else:
                    _create_dataset(grp, name, (n,) + value.shape[1:], value.dtype, rows)


@dataclass(frozen=True)
class _FieldLayout:
    rows_per_chunk: int
    chunk_offsets: np.ndarray   # byte offset in the file of chunk c (rows c*rows_per_chunk ...)
    row_nbytes: int
    dtype: str
    row_shape: tuple


def _file_layout(path: Path, splits: Sequence[str], strict: bool = True) -> dict[str, dict[str, _FieldLayout]]:
    """Where HDF5 allocated every chunk of every field (byte offsets in the file).

    A field whose bytes are not stored as is (compressed, other byte order, not chunked) raises
    ValueError, or with ``strict=False`` is left out (read through h5py instead)."""
    import h5py

    layout = {}
    with h5py.File(path, "r", locking=False) as f:
        for split in splits:
            fields = {}
            for name in _walk(f[split]):
                d = f[split][name]
                raw = (d.chunks is not None and d.id.get_create_plist().get_nfilters() == 0
                       and d.dtype.byteorder in ("=", "|", "<" if sys.byteorder == "little" else ">"))
                if not raw:
                    if strict:
                        raise ValueError(f"{path}: {split}/{name} is not stored as raw native chunks")
                    continue
                rows = d.chunks[0]
                offsets = {}
                try:
                    d.id.chunk_iter(lambda info, o=offsets: o.__setitem__(info.chunk_offset[0], info.byte_offset))
                except (AttributeError, NotImplementedError):  # older HDF5
                    for c in range(0, d.shape[0], rows):
                        offsets[c] = d.id.get_chunk_info_by_coord((c,) + (0,) * (d.ndim - 1)).byte_offset
                n_chunks = -(-d.shape[0] // rows)
                fields[name] = _FieldLayout(rows, np.array([offsets[c * rows] for c in range(n_chunks)], np.int64),
                                            int(np.prod(d.shape[1:], dtype=np.int64)) * d.dtype.itemsize,
                                            d.dtype.str, tuple(d.shape[1:]))
            layout[split] = fields
    return layout


class _DirectWriter:
    """Writes a unit's rows straight into the file regions HDF5 allocated for them (pwrite).

    The datasets are allocated at creation, uncompressed, so a row's bytes have a fixed place in
    the file: workers write there themselves (no transfer of the arrays to the main process, no
    HDF5 call, no metadata change), and the main process only sets the ``done`` flags.
    """

    def __init__(self, path: Path, layout: dict[str, dict[str, _FieldLayout]]):
        self.path, self.layout = str(path), layout
        self._fd, self._pid = None, None

    def _file(self) -> int:
        if self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_WRONLY | getattr(os, "O_BINARY", 0)), os.getpid()
        return self._fd

    def write(self, split: str, start: int, rows: dict[str, np.ndarray]) -> None:
        fd = self._file()
        fields = self.layout[split]
        for name, value in rows.items():
            lay = fields.get(name)
            if lay is None:
                raise KeyError(f"simulate_batch returned field {name!r} that is not in {self.path}")
            v = np.ascontiguousarray(value, dtype=np.dtype(lay.dtype))
            if v.shape[1:] != lay.row_shape:
                raise ValueError(f"field {name!r}: rows of shape {v.shape[1:]}, {self.path} holds {lay.row_shape}")
            buf = memoryview(v.reshape(-1).view(np.uint8))
            i, n, r = 0, v.shape[0], start
            while i < n:
                c, within = divmod(r, lay.rows_per_chunk)
                k = min(lay.rows_per_chunk - within, n - i)
                _pwrite_all(fd, buf[i * lay.row_nbytes:(i + k) * lay.row_nbytes],
                            int(lay.chunk_offsets[c]) + within * lay.row_nbytes)
                i, r = i + k, r + k


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while len(data):
        if hasattr(os, "pwrite"):
            n = os.pwrite(fd, data, offset)
        else:  # Windows
            os.lseek(fd, offset, os.SEEK_SET)
            n = os.write(fd, data)
        data, offset = data[n:], offset + n


def _pread_into(fd: int, out: memoryview, offset: int) -> None:
    n = out.nbytes
    if hasattr(os, "preadv"):
        got = os.preadv(fd, [out], offset)
    else:  # Windows
        os.lseek(fd, offset, os.SEEK_SET)
        data = os.read(fd, n)
        out[:len(data)] = data
        got = len(data)
    if got != n:
        raise OSError(f"short read at byte {offset}: {got} of {n} bytes (truncated dataset file?)")


_WORKER_WRITER: _DirectWriter | None = None


def _init_worker(writer: _DirectWriter, in_pool: bool = False) -> None:
    global _WORKER_WRITER
    _WORKER_WRITER = writer
    if in_pool and sys.platform.startswith("linux"):
        # die with the main process (e.g. killed): no orphan finishing a unit after the run ended
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _simulate_and_write(args) -> int:
    unit, config, seed, simulate_fn, row_start = args
    _WORKER_WRITER.write(SPLITS[unit.split], row_start, simulate_unit(unit, config, seed, simulate_fn))
    return unit.id


def write_dataset(out: str | Path, config: DatasetConfig, *, seed: int = 0, workers: int = 1,
                  shard: tuple[int, int] | str = (0, 1), progress: bool = True,
                  simulate_fn: Callable | None = None, check_space: bool = True,
                  start_method: str | None = None) -> dict:
    """Write (or resume) the dataset, or one shard of it, to the HDF5 file ``out``.

    Returns a summary dict: path, units_total, units_computed (this call), spectra, seconds,
    spectra_per_s. The same (config, seed) always gives the same content: rows of a unit do not
    depend on ``workers`` or ``shard``. ``simulate_fn`` replaces ``simulate_batch`` (tests); it must
    be picklable when ``workers > 1``. ``start_method``: multiprocessing start method of the
    workers (default fork on Linux, spawn elsewhere).
    """
    import h5py

    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    if isinstance(shard, str):
        shard = parse_shard(shard)
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers (processes) must be an integer >= 1, got {workers!r}")
    units = [u for u in plan_units(config) if u.id % shard[1] == shard[0]]
    t0 = time.perf_counter()
    summary = dict(path=str(out), units_total=len(units), units_computed=0,
                   spectra=sum(u.n_rows for u in units), seconds=0.0, spectra_per_s=0.0)
    if out.exists():
        _check_matches(out, config, seed, shard)
        with h5py.File(out, "r") as f:
            if f["units/done"][:].all():
                return summary
        raise RuntimeError(f"{out} exists but is not complete; remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    if partial.exists():
        _check_matches(partial, config, seed, shard)
        with h5py.File(partial, "r") as f:
            done = f["units/done"][:].astype(bool)
            ids = f["units/id"][:]
        if not np.array_equal(ids, [u.id for u in units]):
            raise RuntimeError(f"{partial} holds other units than this run would write; remove it")
    else:
        template = _probe(config, seed, simulate_fn)
        needed = _row_bytes(template) * summary["spectra"] + 1_000_000
        if check_space:
            check_disk_space(out.parent, needed)
        creating = partial.with_name(partial.name + ".init")  # a kill during creation leaves no .partial
        _init_file(creating, config, seed, shard, units, template)
        os.replace(creating, partial)
        done = np.zeros(len(units), bool)
    todo = [i for i, d in enumerate(done) if not d]
    if check_space and todo and done.any():
        template = _probe(config, seed, simulate_fn)
        check_disk_space(out.parent, _row_bytes(template) * sum(units[i].n_rows for i in todo))

    import contextlib
    import multiprocessing as mp

    from tqdm.auto import tqdm

    with h5py.File(partial, "r") as f:
        starts = f["units/row_start"][:]
    writer = _DirectWriter(partial, _file_layout(partial, config.splits))
    with contextlib.ExitStack() as stack:
        pool = None
        if workers > 1 and len(todo) > 1:
            # fork (Linux) lets the workers inherit the GOS tables the probe has loaded; the pool
            # is started before any other thread (progress bar) exists
            method = start_method or ("fork" if sys.platform.startswith("linux") else "spawn")
            pool = stack.enter_context(mp.get_context(method).Pool(
                processes=min(workers, len(todo)), initializer=_init_worker, initargs=(writer, True)))
        bar = stack.enter_context(tqdm(
            total=summary["spectra"], initial=sum(units[i].n_rows for i in np.flatnonzero(done)),
            unit="spectra", unit_scale=True, disable=not progress, desc=out.name, smoothing=0.1))
        f = stack.enter_context(h5py.File(partial, "r+"))
        done_ds = f["units/done"]
        pending: list[int] = []
        last_flush = [time.perf_counter()]

        def commit():
            # units are marked done after their rows were written (pwrite returned); at most
            # one HDF5 flush per second
            for pos in pending:
                done_ds[pos] = 1
            f.flush()
            pending.clear()
            last_flush[0] = time.perf_counter()

        def finished(pos: int):
            pending.append(pos)
            summary["units_computed"] += 1
            bar.update(units[pos].n_rows)
            if time.perf_counter() - last_flush[0] > 1.0:
                commit()

        position = {u.id: i for i, u in enumerate(units)}
        if pool is None:
            _init_worker(writer)
            for pos in todo:
                finished(position[_simulate_and_write((units[pos], config, seed, simulate_fn, int(starts[pos])))])
        else:
            jobs = ((units[pos], config, seed, simulate_fn, int(starts[pos])) for pos in todo)
            for uid in pool.imap_unordered(_simulate_and_write, jobs):
                finished(position[uid])
        commit()
        if not done_ds[:].all():
            raise RuntimeError(f"{partial}: some units were not written")
    os.replace(partial, out)
    summary["seconds"] = time.perf_counter() - t0
    n_done = sum(units[i].n_rows for i in todo)
    summary["spectra_per_s"] = n_done / summary["seconds"] if summary["seconds"] > 0 else 0.0
    return summary


def _check_matches(path: Path, config: DatasetConfig, seed: int, shard: tuple[int, int]) -> None:
    import h5py

    with h5py.File(path, "r") as f:
        a = f.attrs
        if a.get("format") != FORMAT:
            raise RuntimeError(f"{path} is not an eels_helpers dataset file; remove it or choose another --out")
        mismatch = []
        if int(a["seed"]) != seed:
            mismatch.append(f"seed {int(a['seed'])} != {seed}")
        if a["dataset_config"] != config.to_json():
            mismatch.append("dataset configuration (profile, dtype, splits or elements)")
        if a["simulation_config"] != _config_json(config.simulation_config()):
            mismatch.append("simulation configuration")
        if (int(a["shard_index"]), int(a["shard_count"])) != tuple(shard):
            mismatch.append(f"shard {int(a['shard_index'])}/{int(a['shard_count'])} != {shard[0]}/{shard[1]}")
        if mismatch:
            raise RuntimeError(f"{path} was written with different settings ({'; '.join(mismatch)}); "
                               f"remove it or choose another --out to start afresh")


# --------------------------------------------------------------------------------------------
# reading


def _expand(paths_or_glob) -> list[str]:
    items = [paths_or_glob] if isinstance(paths_or_glob, (str, os.PathLike)) else list(paths_or_glob)
    files = []
    for item in items:
        item = str(item)
        matches = sorted(_glob.glob(item)) if any(c in item for c in "*?[") else [item]
        if not matches:
            raise FileNotFoundError(f"no dataset file matches {item!r}")
        files.extend(matches)
    if not files:
        raise FileNotFoundError("no dataset files given")
    for p in files:
        if not os.path.exists(p):
            raise FileNotFoundError(f"dataset file {p} does not exist")
    return list(dict.fromkeys(files))


class SpectraDataset:
    """One dataset read from one or several (shard) files, without copying.

    ``ds.splits`` names the splits present; ``ds[split]`` is a :class:`SplitView` with
    ``len``, row access and :meth:`SplitView.torch`. Files are opened lazily per process, so the
    object can be handed to DataLoader workers.
    """

    def __init__(self, paths: Sequence[str], allow_incomplete: bool = False):
        import h5py

        self.paths = list(paths)
        metas, units = [], []
        for fi, p in enumerate(self.paths):
            with h5py.File(p, "r", locking=False) as f:
                a = dict(f.attrs)
                if a.get("format") != FORMAT:
                    raise ValueError(f"{p} is not an eels_helpers dataset file")
                if not allow_incomplete and not f["units/done"][:].all():
                    raise ValueError(f"{p} is incomplete (an interrupted run): resume it with the same "
                                     f"command, or pass allow_incomplete=True")
                metas.append(a)
                u = {k: f["units/" + k][:] for k in ("id", "split", "element", "chunk",
                                                     "row_start", "n_rows", "done")}
                u["file"] = np.full(len(u["id"]), fi)
                units.append(u)
                self.fields = {s: sorted(_walk(f[s])) for s in SPLITS if s in f}
        ref = metas[0]
        for p, a in zip(self.paths, metas):
            for key in ("seed", "dataset_config", "simulation_config", "shard_count"):
                if a[key] != ref[key]:
                    raise ValueError(f"{p} and {self.paths[0]} belong to different datasets ({key} differs)")
        n_shards = int(ref["shard_count"])
        have = sorted(int(a["shard_index"]) for a in metas)
        if len(set(have)) != len(have):
            raise ValueError(f"a shard is given twice: shard indices {have}")
        missing = sorted(set(range(n_shards)) - set(have))
        self.missing_shards = missing
        if missing and not allow_incomplete:
            raise ValueError(f"shards {', '.join(f'{i}/{n_shards}' for i in missing)} are missing")
        self.seed = int(ref["seed"])
        self.config = json.loads(ref["dataset_config"])
        self.simulation_config = json.loads(ref["simulation_config"])
        cat = {k: np.concatenate([u[k] for u in units]) for k in units[0]}
        keep = cat["done"].astype(bool)  # all True in complete files
        cat = {k: v[keep] for k, v in cat.items()}
        order = np.argsort(cat["id"], kind="stable")
        self._units = {k: v[order] for k, v in cat.items()}
        self.splits = tuple(s for s in SPLITS if (self._units["split"] == SPLITS.index(s)).any()
                            or s in self.fields)
        self._handles: dict = {}
        self._fds: dict = {}
        self._layouts: dict = {}
        self._pid = None

    def _check_pid(self):
        if self._pid != os.getpid():  # a forked DataLoader worker: own handles
            self._handles, self._fds, self._pid = {}, {}, os.getpid()

    def _file(self, i: int):
        import h5py

        self._check_pid()
        if i not in self._handles:
            self._handles[i] = h5py.File(self.paths[i], "r", locking=False)
        return self._handles[i]

    def _raw(self, i: int, split: str, name: str):
        """(file descriptor, _FieldLayout) for direct row reads, or None (filtered data)."""
        self._check_pid()
        key = (i, split)
        if key not in self._layouts:
            self._layouts[key] = _file_layout(Path(self.paths[i]), [split], strict=False)[split]
        lay = self._layouts[key].get(name)
        if lay is None:
            return None
        if i not in self._fds:
            self._fds[i] = os.open(self.paths[i], os.O_RDONLY | getattr(os, "O_BINARY", 0))
        return self._fds[i], lay

    def close(self):
        for h in self._handles.values():
            h.close()
        for fd in self._fds.values():
            os.close(fd)
        self._handles, self._fds = {}, {}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handles"], state["_fds"], state["_pid"] = {}, {}, None
        return state

    def __getitem__(self, split: str) -> "SplitView":
        if split not in self.splits:
            raise KeyError(f"split {split!r} not in this dataset (it has {self.splits})")
        return SplitView(self, split)

    def __repr__(self):
        sizes = ", ".join(f"{s}={len(self[s])}" for s in self.splits)
        return f"SpectraDataset({len(self.paths)} file(s), seed={self.seed}, {sizes})"


def _walk(group, prefix=""):
    import h5py

    for k, v in group.items():
        if isinstance(v, h5py.Group):
            yield from _walk(v, prefix + k + "/")
        else:
            yield prefix + k


class SplitView:
    """Rows of one split across all files, in the canonical unit order."""

    def __init__(self, ds: SpectraDataset, split: str):
        self.ds, self.split = ds, split
        u = ds._units
        sel = u["split"] == SPLITS.index(split)
        self._file = u["file"][sel]
        self._start = u["row_start"][sel]
        self._n = u["n_rows"][sel].astype(np.int64)
        self._offset = np.concatenate([[0], np.cumsum(self._n)])
        self.fields = tuple(ds.fields.get(split, ()))

    def __len__(self) -> int:
        return int(self._offset[-1])

    def read(self, name: str, index=None) -> np.ndarray:
        """Field ``name`` (e.g. 'spectra', 'params/E0_keV') for rows ``index`` (int, slice, array)."""
        if name not in self.fields:
            raise KeyError(f"field {name!r} not in split {self.split!r}; fields: {self.fields}")
        n = len(self)
        if index is None:
            index = slice(None)
        if isinstance(index, (int, np.integer)):
            i = int(index) + (n if index < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"row {index} out of range for split {self.split!r} of {n} rows")
            return self.read(name, np.array([i]))[0]
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step == 1:
                return self._read_range(name, start, stop)
            index = np.arange(start, stop, step)
        idx = np.asarray(index, np.int64)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"rows out of range for split {self.split!r} of {n} rows")
        idx = np.where(idx < 0, idx + n, idx)
        seg = np.searchsorted(self._offset, idx, side="right") - 1
        local = self._start[seg] + (idx - self._offset[seg])
        files = self._file[seg]
        first = self.ds._file(0)[self.split][name]
        out = np.empty((idx.size,) + first.shape[1:], first.dtype)
        for fi in np.unique(files):
            m = files == fi
            rows = local[m]
            raw = self.ds._raw(int(fi), self.split, name)
            if raw is not None:  # rows have fixed byte offsets: read them directly (random access)
                fd, lay = raw
                c, within = np.divmod(rows, lay.rows_per_chunk)
                offsets = lay.chunk_offsets[c] + within * lay.row_nbytes
                part = np.empty((rows.size,) + lay.row_shape, np.dtype(lay.dtype))
                flat = part.reshape(rows.size, -1).view(np.uint8)
                for j, off in enumerate(offsets.tolist()):
                    _pread_into(fd, memoryview(flat[j]), off)
                out[m] = part
                continue
            uniq, inv = np.unique(rows, return_inverse=True)
            dset = self.ds._file(int(fi))[self.split][name]
            out[m] = dset[uniq][inv] if uniq.size > 1 else dset[uniq[0]:uniq[0] + 1][inv]
        return out

    def _read_range(self, name: str, start: int, stop: int) -> np.ndarray:
        parts = []
        s0 = max(0, np.searchsorted(self._offset, start, side="right") - 1)
        for s in range(s0, len(self._n)):
            lo, hi = self._offset[s], self._offset[s + 1]
            if lo >= stop:
                break
            a, b = max(start, lo) - lo, min(stop, hi) - lo
            if b > a:
                d = self.ds._file(int(self._file[s]))[self.split][name]
                parts.append(d[self._start[s] + a:self._start[s] + b])
        if not parts:
            d = self.ds._file(int(self._file[0]) if len(self._file) else 0)[self.split][name]
            return np.empty((0,) + d.shape[1:], d.dtype)
        return np.concatenate(parts)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        """All fields of one row."""
        return {name: self.read(name, index) for name in self.fields}

    def torch(self, fields: Sequence[str] = ("spectra", "labels_identification", "labels_quantification")):
        """A torch ``Dataset`` of tuples of float32 tensors (labels as float for the losses)."""
        return _TorchSplit(self, tuple(fields))


def _make_torch_split():
    import torch

    class TorchSplit(torch.utils.data.Dataset):
        def __init__(self, view: SplitView, fields: tuple[str, ...]):
            self.view, self.fields = view, fields

        def __len__(self):
            return len(self.view)

        def __getitem__(self, i):
            return tuple(torch.from_numpy(np.asarray(self.view.read(f, i), np.float32)) for f in self.fields)

        def __getitems__(self, indices):
            cols = [torch.from_numpy(np.asarray(self.view.read(f, np.asarray(indices)), np.float32))
                    for f in self.fields]
            return [tuple(c[j] for c in cols) for j in range(len(indices))]

    return TorchSplit


def _TorchSplit(view, fields):
    global _TORCH_SPLIT
    if _TORCH_SPLIT is None:
        _TORCH_SPLIT = _make_torch_split()
    return _TORCH_SPLIT(view, fields)


_TORCH_SPLIT = None


def open_dataset(paths_or_glob, allow_incomplete: bool = False) -> SpectraDataset:
    """Open a dataset written by :func:`write_dataset`: one file, several shards, or a glob.

    Shards are read together as one dataset (rows in the same order as an unsharded file), with
    checks that they belong together and that none is missing.
    """
    return SpectraDataset(_expand(paths_or_glob), allow_incomplete=allow_incomplete)


# --------------------------------------------------------------------------------------------
# statistics for the book


def element_occurrence(dataset: SpectraDataset, split: str = "train", block: int = 65_536) -> np.ndarray:
    """(80,) number of spectra of ``split`` in which each element is labelled (paper Fig. 4a)."""
    view = dataset[split]
    total = np.zeros(N_ELEMENTS, np.int64)
    for start in range(0, len(view), block):
        total += view.read("labels_identification", slice(start, start + block)).sum(axis=0, dtype=np.int64)
    return total


def stream_occurrence(n_spectra: int, seed: int = 0, batch_size: int = 64, config=None,
                      simulate_fn: Callable | None = None) -> np.ndarray:
    """(80,) number of spectra labelled with each element among ``n_spectra`` freshly simulated
    ones (:class:`StreamingSpectra`, rounded up to whole batches of ``batch_size``): Fig. 4a
    without a file. ``simulate_fn``: a stand-in for the simulator (tests)."""
    if not (isinstance(n_spectra, int) and n_spectra >= 1):
        raise ValueError(f"n_spectra must be an integer >= 1 (spectra to simulate), got {n_spectra!r}")
    stream = __getattr__("StreamingSpectra")(config=config, seed=seed, batch_size=batch_size,
                                            n_batches=-(-n_spectra // batch_size), simulate_fn=simulate_fn)
    total = np.zeros(N_ELEMENTS, np.int64)
    for batch in stream:
        total += batch["labels_identification"].numpy().sum(axis=0).astype(np.int64)
    return total


def occurrence_table(dataset: SpectraDataset):
    """pandas DataFrame, one row per element: labelled occurrences and query spectra per split."""
    import pandas as pd

    cols = {"element": list(ELEMENTS)}
    for s in dataset.splits:
        cols[f"{s}_occurrence"] = element_occurrence(dataset, s)
        q = dataset[s].read("query")
        cols[f"{s}_query"] = np.bincount(q, minlength=N_ELEMENTS)
    return pd.DataFrame(cols)


def plot_element_occurrence(dataset: SpectraDataset, splits: Sequence[str] = ("train", "test"), ax=None):
    """Bar chart of the relative occurrence of each element, one series per split (Fig. 4a)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(12, 3.2))
    width = 0.8 / len(splits)
    x = np.arange(N_ELEMENTS)
    for k, s in enumerate(splits):
        occ = element_occurrence(dataset, s)
        ax.bar(x + (k - (len(splits) - 1) / 2) * width, occ / max(1, len(dataset[s])), width, label=s)
    ax.set_xticks(x, ELEMENTS, fontsize=6, rotation=90)
    ax.set_ylabel("fraction of spectra")
    ax.set_xlim(-1, N_ELEMENTS)
    ax.legend()
    return ax


# --------------------------------------------------------------------------------------------
# streaming


def _make_streaming_class():
    import torch

    class StreamingSpectra(torch.utils.data.IterableDataset):
        """Freshly simulated batches, no disk: an endless (or ``n_batches`` long) stream.

        Each batch draws ``batch_size`` query elements uniformly from ``elements`` (default: all
        80), one Materials Project specimen containing each, and simulates one spectrum per
        specimen (``single_element=True``: the pure query element). Batch b uses the generator
        ``SeedSequence(seed, spawn_key=(7919, b))``; DataLoader worker w of W (and distributed
        rank r of R) produces the batches b = r + R (w + k W), k = 0, 1, ..., so workers and ranks
        never repeat each other; with ``DataLoader(ds, batch_size=None)`` a rank's stream is the
        same, in the same order, for any number of workers W.
        Yields dicts of torch tensors: ``spectra`` (B, 3072) float32, ``labels_identification``
        (B, 80) float32, ``labels_quantification`` (B, 80) float32, ``query`` (B,) int64, and
        ``batch_index`` (int).
        """

        def __init__(self, config=None, elements: Iterable[str] | None = None, seed: int = 0,
                     batch_size: int = 32, n_batches: int | None = None, single_element: bool = False,
                     rank: int = 0, world_size: int = 1, simulate_fn: Callable | None = None):
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
            self.config, self.seed, self.batch_size = config, int(seed), batch_size
            self.n_batches, self.single_element = n_batches, single_element
            self.rank, self.world_size = rank, world_size
            self.simulate_fn = simulate_fn
            self._idx = np.array([ELEMENTS.index(e) for e in self.elements])

        def batch(self, b: int) -> dict:
            """Batch number ``b`` of the stream (what the iterator yields for it)."""
            from eels_helpers.simulation import specimens as sp

            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_STREAM_KEY, b)))
            queries = self._idx[rng.integers(0, self._idx.size, self.batch_size)]
            specs = [None] * self.batch_size
            for q in np.unique(queries):
                where = np.flatnonzero(queries == q)
                rows = (np.full(where.size, -1) if self.single_element
                        else sp.sample_indices(int(q), where.size, rng))
                for j, s in zip(where, sp.specimens_from_indices(int(q), rows)):
                    specs[j] = s
            config = self.config
            if config is None:
                from eels_helpers.simulation.config import SimulationConfig

                config = self.config = SimulationConfig()
            batch = (self.simulate_fn or _default_simulate())(specs, config, rng)
            f = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32))  # noqa: E731
            return {"spectra": f(batch.spectra), "labels_identification": f(batch.labels_identification),
                    "labels_quantification": f(batch.labels_quantification),
                    "query": torch.from_numpy(queries.astype(np.int64)), "batch_index": b}

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

    return StreamingSpectra


def __getattr__(name: str):
    if name == "StreamingSpectra":  # defined lazily so that importing this module skips torch
        cls = _make_streaming_class()
        cls.__module__ = __name__
        globals()["StreamingSpectra"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_SINGLE_KEY = 7927  # spawn-key prefix of single_element_arrays


def single_element_arrays(n_per_element: int, seed: int, elements: Sequence[str] | None = None, config=None,
                          simulate_fn: Callable | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The single-element set in memory: ``n_per_element`` spectra of each pure element.

    Returns spectra (N, 3072) float32 and labels (N, 80) float32, element by element in Z order
    (N = n_per_element x len(elements); default elements: all those the simulator can draw,
    :func:`simulatable_elements`). Element e uses ``SeedSequence(seed, spawn_key=(7927, e))``, so
    its spectra do not depend on which other elements are asked for. The paper uses this set "to
    determine what pairs of elements are often confused" (:func:`eels_helpers.evaluation.metrics.confusion_matrix`).
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
    simulate_fn = simulate_fn or _default_simulate()
    spectra, labels = [], []
    for el in sorted(elements, key=ELEMENTS.index):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SINGLE_KEY, ELEMENTS.index(el))))
        batch = simulate_fn(sp.pure_specimens(el, int(n_per_element)), config, rng)
        spectra.append(np.asarray(batch.spectra, np.float32))
        labels.append(np.asarray(batch.labels_identification, np.float32))
    return np.concatenate(spectra), np.concatenate(labels)


# --------------------------------------------------------------------------------------------
# quick look


def quick_look(elements: Sequence[str], n: int = 5, *, seed: int = 0, fractions=None, config=None,
               simulate_fn: Callable | None = None):
    """Simulate ``n`` spectra of one specimen (query = first element).

    Returns (specimen, SimulatedBatch, Materials Project formula or None).

    Fractions: given, else those of the Materials Project formula made of exactly these elements
    with the most entries (polymorphs), else equal.
    """
    from eels_helpers.simulation import specimens as sp
    from eels_helpers.simulation.specimens import Specimen

    elements = tuple(elements)
    bad = [e for e in elements if e not in ELEMENTS]
    if bad:
        raise ValueError(f"unknown element(s) {', '.join(bad)}: choose among the 80 network elements "
                         f"{ELEMENTS[0]}..{ELEMENTS[-1]} (H, He, Li and elements beyond Bi have no edge/label)")
    if len(set(elements)) != len(elements) or not elements:
        raise ValueError(f"--elements must list distinct elements, got {','.join(elements)}")
    if n < 1:
        raise ValueError(f"--n (number of spectra) must be >= 1, got {n}")
    order = sorted(elements, key=ELEMENTS.index)
    formula = None
    if fractions is None:
        table = sp.load_compositions()
        idx = [ELEMENTS.index(e) for e in order]
        mask = np.zeros(N_ELEMENTS, bool)
        mask[idx] = True
        rows = np.flatnonzero(((table.fractions > 0) == mask).all(axis=1))
        pure = [r for r in rows if set(re.findall(r"[A-Z][a-z]?", table.formula[r])) == set(order)]
        rows = np.asarray(pure if pure else rows, np.int64)  # prefer formulas without H or Li
        if rows.size:  # the formula with the most Materials Project entries (e.g. SrTiO3 for Sr,Ti,O)
            best = rows[np.argmax(table.n_entries[rows])]
            fr = table.fractions[best, idx].astype(float)
            formula = table.formula[best]
        else:
            fr = np.ones(len(order))
    else:
        fr = np.asarray(fractions, float)
        if fr.shape != (len(elements),) or (fr <= 0).any():
            raise ValueError(f"--fractions needs {len(elements)} positive numbers, got {fractions}")
        fr = fr[[elements.index(e) for e in order]]
    fr = fr / fr.sum()
    spec = Specimen(elements=tuple(order), fractions=tuple(float(x) for x in fr), query=elements[0])
    if config is None:
        from eels_helpers.simulation.config import SimulationConfig

        config = SimulationConfig()
    rng = np.random.default_rng(seed)
    batch = (simulate_fn or _default_simulate())([spec] * n, config, rng)
    return spec, batch, formula


def plot_quick_look(spec, batch, out: str | Path | None = None, title: str | None = None):
    """Stacked spectra with markers at the major edge onsets of every specimen element."""
    import matplotlib

    if out is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eels_helpers.physics.elements import families_of

    spectra = np.asarray(batch.spectra)
    n = spectra.shape[0]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 1.1 * n))
    e = np.arange(N_CHANNELS)
    for i in range(n):
        ax.plot(e, spectra[i] + 1.1 * (n - 1 - i), lw=0.8)
        lab = [ELEMENTS[j] for j in np.flatnonzero(batch.labels_identification[i])]
        ax.text(N_CHANNELS - 10, 1.1 * (n - 1 - i) + 0.5, " ".join(lab) or "(none)", ha="right", fontsize=8)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, el in enumerate(spec.elements):
        for fam in families_of(el):
            onset = float(fam.onset_eV)
            ax.axvline(onset, color=colours[k % len(colours)], ls=":", lw=1)
            ax.text(onset, 1.1 * n + 0.02, f"{el} {getattr(fam, 'shell', '')}", rotation=90,
                    fontsize=7, va="bottom", ha="center", color=colours[k % len(colours)])
    ax.set_xlabel("energy loss (eV)")
    ax.set_ylabel("normalised intensity (offset)")
    ax.set_xlim(0, N_CHANNELS)
    ax.set_title(title or "", fontsize=10, pad=28)
    fig.tight_layout()
    if out is not None:
        fig.savefig(out, dpi=120)
        plt.close(fig)
    return fig


# --------------------------------------------------------------------------------------------
# CLI


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Simulate spectra. Either a dataset: --profile PROFILE --out FILE [--workers N] "
        "[--shard I/N] [--seed S] (an interrupted run resumes when rerun with the same arguments); "
        "or a quick look: --elements Ce,O --n 5 --plot OUT.png.")
    g = parser.add_argument_group("dataset")
    g.add_argument("--profile", help="smoke, cpu or paper (736,000 spectra)")
    g.add_argument("--out", type=Path, help="HDF5 file to write (OUT.partial while running)")
    g.add_argument("--workers", type=int, default=1, help="simulation processes (default 1)")
    g.add_argument("--shard", default="0/1", help="write shard I of N (0-based), e.g. 3/16")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--splits", default=",".join(SPLITS), help=f"comma-separated subset of {','.join(SPLITS)}")
    g.add_argument("--dtype", default="float32", choices=("float32", "float16"), help="spectra storage dtype")
    g.add_argument("--scale", type=float, help="override the profile's dataset scale (1 = paper)")
    g.add_argument("--query-elements", help="comma-separated query elements (default: all 80), or "
                   "'simulatable': those the configured GOS source can draw")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    q = parser.add_argument_group("quick look")
    q.add_argument("--elements", help="comma-separated specimen elements, first = query, e.g. Ce,O")
    q.add_argument("--fractions", help="comma-separated atomic fractions (default: a Materials Project formula)")
    q.add_argument("--n", type=int, default=5, help="number of spectra (default 5)")
    q.add_argument("--plot", type=Path, help="PNG file for the quick look")


def main(args: argparse.Namespace) -> int:
    try:
        if args.elements:
            if args.profile or args.out:
                raise ValueError("use either --elements (quick look) or --profile/--out (dataset), not both")
            elements = [e.strip() for e in args.elements.split(",") if e.strip()]
            fractions = [float(x) for x in args.fractions.split(",")] if args.fractions else None
            spec, batch, formula = quick_look(elements, args.n, seed=args.seed, fractions=fractions)
            name = formula or " ".join(f"{e}{f:.2f}" for e, f in zip(spec.elements, spec.fractions))
            print(f"specimen {name} (query {spec.query}); {args.n} spectra")
            for i in range(args.n):
                lab = [ELEMENTS[j] for j in np.flatnonzero(batch.labels_identification[i])]
                print(f"  spectrum {i}: labelled {' '.join(lab) or '(none)'}")
            if args.plot:
                plot_quick_look(spec, batch, args.plot, title=f"{name}: {args.n} simulated spectra")
                print(f"wrote {args.plot}")
            return 0
        if not args.profile or not args.out:
            raise ValueError("give --profile PROFILE --out FILE (dataset) or --elements E1,E2 --plot OUT.png")
        overrides = {"splits": tuple(s.strip() for s in args.splits.split(",") if s.strip()),
                     "dtype": args.dtype}
        if args.scale is not None:
            overrides["scale"] = args.scale
        if args.query_elements == "simulatable":
            overrides["elements"], left_out = simulatable_elements()
            if left_out:
                print(f"leaving out {len(left_out)} query elements the GOS source cannot draw: "
                      f"{', '.join(left_out)}", file=sys.stderr)
        elif args.query_elements:
            overrides["elements"] = tuple(e.strip() for e in args.query_elements.split(",") if e.strip())
        config = DatasetConfig.from_profile(args.profile, **overrides)
        shard = parse_shard(args.shard)
        n = sum(u.n_rows for u in plan_units(config) if u.id % shard[1] == shard[0])
        print(f"profile {args.profile}: {config.n_spectra():,} spectra (scale {config.scale:g}); "
              f"shard {shard[0]}/{shard[1]}: {n:,} spectra -> {args.out}", file=sys.stderr)
        summary = write_dataset(args.out, config, seed=args.seed, workers=args.workers, shard=shard,
                                progress=not args.no_progress)
        if summary["units_computed"] == 0:
            print(f"{args.out} is already complete", file=sys.stderr)
        else:
            print(f"wrote {args.out}: {summary['units_computed']} units in {summary['seconds']:.1f} s "
                  f"({summary['spectra_per_s']:,.0f} spectra/s)", file=sys.stderr)
        return 0
    except (ValueError, InsufficientDiskSpace, RuntimeError, FileNotFoundError) as err:
        print(f"eels-id simulate: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    _p = argparse.ArgumentParser(prog="python -m eels_helpers.datasets.hdf5")
    configure_parser(_p)
    sys.exit(main(_p.parse_args()))
