"""Writing a simulated dataset (or one shard of it) to an HDF5 file: resumable, in parallel.

HDF5 layout (format ``eels_helpers.dataset`` version 1)
--------------------------------------------------------
Root attributes: ``format``, ``version``, ``seed``, ``dataset_config`` and ``simulation_config``
(JSON), ``shard_index``, ``shard_count``, ``package_version``, ``created``.
``/units``: one row per unit of this file: ``id`` (global unit number), ``split`` (index into
``SPLITS``), ``element`` (0..79), ``chunk``, ``row_start``, ``n_rows``, ``done`` (uint8).
``/<split>/`` datasets, one row per spectrum, in unit order:

=========================  ============  =======================================================
``spectra``                (N, 3072)     float32 (default) or float16; channel i = i eV,
                                         normalised to maximum 1, zero outside the detector window
``labels_identification``  (N, 80)       uint8, 1 where an edge of the element is in the window
                                         (float32 in [0, 1] with soft labels)
``labels_quantification``  (N, 80)       float32, atomic fractions over the labelled elements
``query``                  (N,)          int16, query element (0..79)
``sample``                 (N,)          int32, sample number within (split, element)
``mp_row``                 (N,)          int32, row of the composition table (-1: pure element)
``params/<name>``          (N, ...)      every parameter sampled by ``simulate_batch``
=========================  ============  =======================================================

Datasets are chunked (16 spectra per chunk: about 200 kB, good for random access while training),
uncompressed (compression costs a large share of the generation rate: the cpu-costs note) and
allocated at creation (sparse on disk), so every row has a fixed place in the file: the worker that
simulated a unit writes its rows there itself (``os.pwrite`` at the byte offsets HDF5 allocated; no
transfer of arrays to the main process, no HDF5 call, no metadata change) and the main process then
sets the unit's ``done`` flag (at most one HDF5 flush per second). A run killed at any moment leaves
a readable file; a rerun with the same arguments computes only the units not done (a unit half
written when killed is simply written again). The file is written as ``OUT.partial`` and renamed
to ``OUT`` (atomic ``os.replace``) once every unit is done (a file is complete when all its
``done`` flags are set: nothing else is written at the end).

Size: a float32 spectrum takes 12.3 kB (3072 x 4 bytes), plus its labels (80 x 5 bytes) and its
sampled parameters; float16 spectra (``--dtype float16``) halve the spectrum. float32 is the default (exact);
float16 is a documented option (its rounding keeps zeros; its error is small against the Poisson
noise of a channel, but not negligible at the highest count levels). :func:`check_disk_space`
refuses to start a run that does not fit.

What the units hold: :mod:`eels_helpers.datasets.config`; reading the files:
:mod:`eels_helpers.datasets.hdf5_reader`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from eels_helpers import progress_bar
from eels_helpers.datasets.config import (
    FORMAT,
    SPLITS,
    STREAM_KEY,
    VERSION,
    DatasetConfig,
    Unit,
    config_json,
    default_simulate,
    parse_shard,
    plan_units,
    same_config,
    simulatable_elements,
    simulate_unit,
)
from eels_helpers.datasets.hdf5_reader import FieldLayout, file_layout

_SPECTRA_CHUNK_ROWS = 16


class InsufficientDiskSpace(OSError):
    """Not enough free disk space for the dataset to be written."""


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
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_KEY, 999_983)))
    batch = (simulate_fn or default_simulate())(sp.pure_specimens(config.elements[0], 2),
                                                 config.simulation_config(), rng)
    out = {"spectra": np.asarray(batch.spectra, config.dtype),
           "labels_identification": np.asarray(batch.labels_identification, config.labels_dtype),
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
                       simulation_config=config_json(config.simulation_config()),
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


class _DirectWriter:
    """Writes a unit's rows straight into the file regions HDF5 allocated for them (pwrite).

    The datasets are allocated at creation, uncompressed, so a row's bytes have a fixed place in
    the file: workers write there themselves (no transfer of the arrays to the main process, no
    HDF5 call, no metadata change), and the main process only sets the ``done`` flags.
    """

    def __init__(self, path: Path, layout: dict[str, dict[str, FieldLayout]]):
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

    with h5py.File(partial, "r") as f:
        starts = f["units/row_start"][:]
    writer = _DirectWriter(partial, file_layout(partial, config.splits))
    with contextlib.ExitStack() as stack:
        pool = None
        if workers > 1 and len(todo) > 1:
            # fork (Linux) lets the workers inherit the GOS tables the probe has loaded; the pool
            # is started before any other thread (progress bar) exists
            method = start_method or ("fork" if sys.platform.startswith("linux") else "spawn")
            pool = stack.enter_context(mp.get_context(method).Pool(
                processes=min(workers, len(todo)), initializer=_init_worker, initargs=(writer, True)))
        bar = stack.enter_context(progress_bar(
            total=summary["spectra"], initial=sum(units[i].n_rows for i in np.flatnonzero(done)),
            unit="spectra", unit_scale=True, enabled=progress, desc=out.name, smoothing=0.1))
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

    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise RuntimeError(f"{path} is not an HDF5 file ({err}); remove it or choose another --out") from None
    with f:
        a = f.attrs
        if a.get("format") != FORMAT:
            raise RuntimeError(f"{path} is not an eels_helpers dataset file; remove it or choose another --out")
        mismatch = []
        if int(a["seed"]) != seed:
            mismatch.append(f"seed {int(a['seed'])} != {seed}")
        if a["dataset_config"] != config.to_json():
            then, now = json.loads(a["dataset_config"]), json.loads(config.to_json())
            mismatch += [f"{k} {then.get(k)!r} != {now.get(k)!r}" for k in sorted(set(then) | set(now))
                         if then.get(k) != now.get(k)] or ["dataset configuration"]
        if not same_config(a["simulation_config"], config.simulation_config()):
            mismatch.append("simulation configuration")
        if (int(a["shard_index"]), int(a["shard_count"])) != tuple(shard):
            mismatch.append(f"shard {int(a['shard_index'])}/{int(a['shard_count'])} != {shard[0]}/{shard[1]}")
        if mismatch:
            raise RuntimeError(f"{path} was written with different settings ({'; '.join(mismatch)}); "
                               f"remove it or choose another --out to start afresh")
