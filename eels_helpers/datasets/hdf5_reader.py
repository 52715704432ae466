"""Reading simulated datasets back: one file, several shard files or a glob, as one dataset.

``open_dataset(paths or glob)`` gives a :class:`SpectraDataset` (the files and their units);
``dataset[split]`` a :class:`SplitView` (the rows of one split: ``len``, ``read(field, rows)`` and
``torch()``, a :class:`TorchSplit`). Shards are read together as one dataset, row for row identical
to an unsharded file, without copying, with checks that they belong together and that none is
missing. Contiguous rows are read through h5py; scattered rows (shuffled training batches) directly
at their byte offsets in the file (:func:`file_layout`), much faster than h5py's fancy indexing
(``benchmarks/`` measures it). Any HDF5 tool reads the files as ordinary datasets (the layout is in
:mod:`eels_helpers.datasets.hdf5_writer`).

:func:`open_training_split` is the one reader of training data: a dataset written by ``eels-id
simulate`` or a plain HDF5 file (``spectra`` and ``labels_identification`` or ``labels`` at its
root, :class:`PlainHDF5Spectra`), as a torch dataset of (spectra, labels).

Importing this module imports neither torch nor the simulator (:class:`TorchSplit` imports torch
when it reads its first row).
"""

from __future__ import annotations

import glob as _glob
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from eels_helpers.datasets.config import FORMAT, SPLITS

# --------------------------------------------------------------------------------------------
# where the rows are in the file


@dataclass(frozen=True)
class FieldLayout:
    """Where the rows of one field lie in the file: chunk c holds rows c*rows_per_chunk ... ."""

    rows_per_chunk: int
    chunk_offsets: np.ndarray   # byte offset in the file of chunk c (rows c*rows_per_chunk ...)
    row_nbytes: int
    dtype: str
    row_shape: tuple


def file_layout(path: Path, splits: Sequence[str], strict: bool = True) -> dict[str, dict[str, FieldLayout]]:
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
                fields[name] = FieldLayout(rows, np.array([offsets[c * rows] for c in range(n_chunks)], np.int64),
                                           int(np.prod(d.shape[1:], dtype=np.int64)) * d.dtype.itemsize,
                                           d.dtype.str, tuple(d.shape[1:]))
            layout[split] = fields
    return layout


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


# --------------------------------------------------------------------------------------------
# datasets written by eels-id simulate


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
        """(file descriptor, FieldLayout) for direct row reads, or None (filtered data)."""
        self._check_pid()
        key = (i, split)
        if key not in self._layouts:
            self._layouts[key] = file_layout(Path(self.paths[i]), [split], strict=False)[split]
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
        """A :class:`TorchSplit`: a torch dataset of tuples of float32 tensors, one per field (labels
        as float for the losses)."""
        return TorchSplit(self, fields)


class TorchSplit:
    """A map-style torch dataset over the rows of a split: item ``i`` is a tuple of float32
    tensors, one per field of ``fields`` (labels as float for the losses).

    ``view``: anything with ``len`` and ``read(field, rows)`` (:class:`SplitView`,
    :class:`PlainHDF5Spectra`). torch's ``DataLoader`` needs only ``__len__`` and ``__getitem__``
    (and reads a whole batch at once through ``__getitems__``), so the class does not derive from
    ``torch.utils.data.Dataset``: torch is imported when the first row is read, not with this module.
    """

    def __init__(self, view, fields: Sequence[str]):
        self.view, self.fields = view, tuple(fields)

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, i):
        import torch

        return tuple(torch.from_numpy(np.asarray(self.view.read(f, i), np.float32)) for f in self.fields)

    def __getitems__(self, indices):
        import torch

        cols = [torch.from_numpy(np.asarray(self.view.read(f, np.asarray(indices)), np.float32))
                for f in self.fields]
        return [tuple(c[j] for c in cols) for j in range(len(indices))]


def open_dataset(paths_or_glob, allow_incomplete: bool = False) -> SpectraDataset:
    """Open a dataset written by :func:`eels_helpers.datasets.hdf5_writer.write_dataset`: one file,
    several shards, or a glob.

    Shards are read together as one dataset (rows in the same order as an unsharded file), with
    checks that they belong together and that none is missing.
    """
    return SpectraDataset(_expand(paths_or_glob), allow_incomplete=allow_incomplete)


# --------------------------------------------------------------------------------------------
# plain HDF5 files, and the one reader of training data


class PlainHDF5Spectra:
    """The rows of a plain HDF5 file: ``spectra`` (N, 3072) and ``labels_identification`` (or
    ``labels``) (N, 80) at its root (e.g. arrays saved with h5py). It offers the ``len`` and
    ``read(field, rows)`` of :class:`SplitView`, so :class:`TorchSplit` wraps either; the file is
    opened once per process (the object can be handed to DataLoader workers).
    """

    def __init__(self, path: str | Path):
        import h5py

        self.path = str(path)
        try:
            with h5py.File(self.path, "r", locking=False) as f:
                labels = next((k for k in ("labels_identification", "labels") if k in f), None)
                if "spectra" not in f or labels is None:
                    raise ValueError(f"{self.path}: a plain HDF5 file needs datasets 'spectra' and "
                                     f"'labels_identification' (or 'labels') at its root; found {sorted(f)}")
                n = len(f["spectra"])
                if len(f[labels]) != n:
                    raise ValueError(f"{self.path}: 'spectra' has {n} rows but {labels!r} has {len(f[labels])}")
        except OSError as err:
            raise ValueError(f"{self.path} is not a readable HDF5 file ({err})") from err
        self.labels_key, self.fields, self._n = labels, ("spectra", labels), n
        self._file, self._pid = None, None

    def __len__(self) -> int:
        return self._n

    def _handle(self):
        if self._pid != os.getpid():  # a forked DataLoader worker opens its own handle
            import h5py

            self._file, self._pid = h5py.File(self.path, "r", locking=False), os.getpid()
        return self._file

    def read(self, name: str, index=None) -> np.ndarray:
        """Field ``name`` for rows ``index`` (None: all; int, slice or array of row numbers)."""
        if name not in self.fields:
            raise KeyError(f"field {name!r} not in {self.path}; fields: {self.fields}")
        d = self._handle()[name]
        if index is None:
            return d[:]
        if isinstance(index, (int, np.integer, slice)):
            return d[index]
        idx = np.asarray(index, np.int64)
        if idx.size and (idx.min() < -self._n or idx.max() >= self._n):
            raise IndexError(f"rows out of range for {self.path} of {self._n} rows")
        if not idx.size:
            return np.empty((0,) + d.shape[1:], d.dtype)
        uniq, inv = np.unique(np.where(idx < 0, idx + self._n, idx), return_inverse=True)
        return d[uniq][inv]  # h5py reads increasing rows

    def __getstate__(self):
        return {**self.__dict__, "_file": None, "_pid": None}


def open_training_split(paths_or_glob, split: str = "train") -> TorchSplit:
    """Training data as a torch dataset of (spectra (3072,), labels (80,)) float32 tensors.

    ``paths_or_glob``: a dataset written by ``eels-id simulate`` (one file, its shards or a glob;
    the split ``split`` is read, fields ``spectra`` and ``labels_identification``), or one plain
    HDF5 file (:class:`PlainHDF5Spectra`; it has no splits: ``split`` is ignored).

    Raises FileNotFoundError (no such file), ValueError naming the file (not HDF5, neither layout,
    several plain files, or no split ``split``).
    """
    import h5py

    files = _expand(paths_or_glob)
    try:
        with h5py.File(files[0], "r", locking=False) as f:
            ours = f.attrs.get("format") == FORMAT
    except OSError as err:
        raise ValueError(f"{files[0]} is not a readable HDF5 file ({err})") from err
    if not ours:
        if len(files) > 1:
            raise ValueError(f"{files[0]} is a plain HDF5 file (not written by eels-id simulate): give one "
                             f"such file, not {len(files)}")
        plain = PlainHDF5Spectra(files[0])
        return TorchSplit(plain, plain.fields)
    dataset = open_dataset(files)
    if split not in dataset.splits:
        raise ValueError(f"{', '.join(files)}: no split {split!r} in this dataset (it has {', '.join(dataset.splits)})")
    return dataset[split].torch(("spectra", "labels_identification"))
