"""The disk cache of the simulator's shape tables: where it lives, atomic writes, and a size cap.

A table is two files, ``shapes_<key>.npy`` (the rows, memory-mapped by readers) and
``shapes_<key>.npz`` (its axes), whose key hashes everything the table depends on
(:func:`eels_helpers.simulation.shape_tables._table_key`). Keys change with the code, so without
eviction every upgrade or edit of a table module would add ~85 MB per beam energy and GOS source
for ever (68 GB on one development machine). Loading a table marks it used (:func:`mark_used`,
the ``.npz``'s modification time); after a table is written, :func:`evict` removes the least
recently used tables until the folder fits ``$EELS_ID_CACHE_MAX_GB`` (default
:data:`DEFAULT_MAX_GB`; ``0``: no cap), never the table just written nor one used within
:data:`RECENT_S` (another process may be reading it; on POSIX a mapped file outlives its
deletion anyway), and removes temporary files of failed writes older than :data:`STALE_TMP_S`.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["CACHE_ENV", "MAX_GB_ENV", "DEFAULT_MAX_GB", "RECENT_S", "STALE_TMP_S", "shape_cache_dir",
           "max_cache_bytes", "table_paths", "mark_used", "write_table", "evict", "cached_tables", "clear"]

#: environment variable naming the folder of cached shape tables ("off": no disk cache);
#: default ``~/.cache/eels_helpers``
CACHE_ENV = "EELS_ID_CACHE"
#: environment variable: the cache's size cap in GB (0: no cap)
MAX_GB_ENV = "EELS_ID_CACHE_MAX_GB"
#: the size cap without ``$EELS_ID_CACHE_MAX_GB`` (GB): ~120 tables
DEFAULT_MAX_GB = 10.0
#: a table used within this many seconds is never evicted
RECENT_S = 3600.0
#: temporary files of a failed write older than this many seconds are removed by :func:`evict`
STALE_TMP_S = 86400.0


def shape_cache_dir() -> Path | None:
    """Folder of cached shape tables (None when ``$EELS_ID_CACHE`` is ``off``)."""
    value = os.environ.get(CACHE_ENV, "")
    if value.lower() == "off":
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "eels_helpers"


def max_cache_bytes() -> int | None:
    """The cache's size cap in bytes from ``$EELS_ID_CACHE_MAX_GB`` (None: no cap)."""
    value = os.environ.get(MAX_GB_ENV, "").strip()
    try:
        gb = float(value) if value else DEFAULT_MAX_GB
    except ValueError:
        raise ValueError(f"{MAX_GB_ENV} must be a size in GB (0: no cap), got {value!r}") from None
    if not np.isfinite(gb) or gb < 0:
        raise ValueError(f"{MAX_GB_ENV} must be a size in GB >= 0 (0: no cap), got {value!r}")
    return None if gb == 0 else int(gb * 1e9)


def table_paths(folder: Path, key: str) -> tuple[Path, Path]:
    """The two files of the table ``key``: rows (.npy) and axes (.npz)."""
    return folder / f"shapes_{key}.npy", folder / f"shapes_{key}.npz"


def mark_used(folder: Path, key: str) -> None:
    """Record that the table ``key`` was just used (the eviction order); a read-only cache is fine."""
    try:
        os.utime(table_paths(folder, key)[1])
    except OSError:
        pass


def write_table(folder: Path, key: str, shapes: np.ndarray, **axes) -> bool:
    """Write a table atomically (temporary files renamed into place, the .npy first: readers need
    both); a failed write (unwritable folder, full disk) removes its temporary files and returns
    False; then :func:`evict` keeps the folder under its cap."""
    tmp = folder / f".{key}.{os.getpid()}"
    parts = (Path(f"{tmp}.npy"), Path(f"{tmp}.npz"))
    shapes_path, meta_path = table_paths(folder, key)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(parts[0], shapes)
        np.savez(parts[1], **axes)
        os.replace(parts[0], shapes_path)
        os.replace(parts[1], meta_path)
        written = True
    except OSError as err:
        log.warning("shape table not cached in %s (%s); it is rebuilt next time", folder, err)
        for p in parts:
            _remove(p)
        written = False
    evict(folder, keep=key)                             # also after a failure: a full disk may be the cache's
    return written


def cached_tables(folder: Path) -> dict[str, tuple[float, int]]:
    """``{key: (last used, UNIX s; bytes)}`` of the tables in ``folder`` (empty if it does not exist)."""
    tables: dict[str, list] = {}
    try:
        files = list(folder.iterdir())
    except OSError:
        return {}
    for p in files:
        if p.name.startswith("shapes_") and p.suffix in (".npy", ".npz"):
            try:
                st = p.stat()
            except OSError:                             # removed meanwhile by another process
                continue
            entry = tables.setdefault(p.stem[len("shapes_"):], [0.0, 0])
            entry[0] = max(entry[0], st.st_mtime)
            entry[1] += st.st_size
    return {key: (used, size) for key, (used, size) in tables.items()}


def clear(folder: Path) -> tuple[int, int]:
    """Remove every cached table (and temporary file) in ``folder``: ``(tables removed, bytes freed)``.
    Running processes keep the tables they have mapped; new ones rebuild them."""
    removed, freed = 0, 0
    for key, (_, size) in cached_tables(folder).items():
        if all([_remove(p) for p in table_paths(folder, key)]):
            removed, freed = removed + 1, freed + size
    for p in folder.glob(".*.np[yz]") if folder.is_dir() else ():
        _remove(p)
    return removed, freed


def evict(folder: Path, keep: str | None = None, cap_bytes: int | None = -1, now: float | None = None) -> list[str]:
    """Remove the least recently used tables until the folder's tables fit ``cap_bytes`` (default
    :func:`max_cache_bytes`; None: no cap), sparing ``keep`` and tables used within
    :data:`RECENT_S`, and temporary files older than :data:`STALE_TMP_S`. Returns the removed keys."""
    cap = max_cache_bytes() if cap_bytes == -1 else cap_bytes
    now = time.time() if now is None else now
    try:
        temporary = [p for p in folder.iterdir() if p.name.startswith(".") and p.suffix in (".npy", ".npz")]
    except OSError:
        return []
    for p in temporary:
        try:
            if now - p.stat().st_mtime > STALE_TMP_S:
                _remove(p)
        except OSError:                                 # renamed into place meanwhile
            continue
    tables = cached_tables(folder)
    total = sum(size for _, size in tables.values())
    removed = []
    if cap is None or total <= cap:
        return removed
    for key, (used, size) in sorted(tables.items(), key=lambda kv: kv[1][0]):
        if total <= cap:
            break
        if key == keep or now - used < RECENT_S:
            continue
        if not all([_remove(p) for p in table_paths(folder, key)]):
            continue                                    # in use where open files cannot be removed
        total -= size
        removed.append(key)
    if removed:
        log.info("shape-table cache %s: removed %d least recently used tables (cap %.1f GB, now %.1f GB)",
                 folder, len(removed), cap / 1e9, total / 1e9)
    return removed


def _remove(path: Path) -> bool:
    """Remove a file if it is there; False where it could not be removed."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        return False
    return True
