"""The shape-table disk cache (eels_helpers.simulation.table_cache): the size cap evicts the least
recently used tables, spares recent ones, cleans failed writes, and rejects a bad cap."""

import os
import time

import numpy as np
import pytest

from eels_helpers.simulation import table_cache as tc


def _fake_table(folder, key, nbytes, age_s, now):
    """A cached table of about ``nbytes`` last used ``age_s`` seconds before ``now``."""
    shapes, meta = tc.table_paths(folder, key)
    np.save(shapes, np.zeros(nbytes // 8))
    np.savez(meta, E0_keV=200.0)
    for p in (shapes, meta):
        os.utime(p, (now - age_s, now - age_s))


def _keys(folder):
    return sorted(p.stem[len("shapes_"):] for p in folder.glob("shapes_*.npz"))


def test_eviction_removes_least_recently_used_beyond_the_cap(tmp_path):
    now = 1.0e9
    for key, age in (("old", 5 * 86400), ("older", 9 * 86400), ("newer", 2 * 86400), ("recent", 60)):
        _fake_table(tmp_path, key, 80_000, age, now)
    size = sum(p.stat().st_size for p in tmp_path.iterdir()) // 4      # one table's files
    removed = tc.evict(tmp_path, keep="newer", cap_bytes=2 * size + size // 2, now=now)
    assert removed == ["older", "old"]                  # oldest first, until two tables fit
    assert _keys(tmp_path) == ["newer", "recent"]
    # a cap below what is left: the kept table and the recently used one are spared
    assert tc.evict(tmp_path, keep="newer", cap_bytes=1, now=now) == []
    assert _keys(tmp_path) == ["newer", "recent"]
    # no cap: nothing removed
    _fake_table(tmp_path, "ancient", 80_000, 99 * 86400, now)
    assert tc.evict(tmp_path, cap_bytes=None, now=now) == [] and "ancient" in _keys(tmp_path)


def test_loading_a_table_marks_it_used(tmp_path):
    _fake_table(tmp_path, "k", 800, 10 * 86400, 1.0e9)
    tc.mark_used(tmp_path, "k")
    assert tc.table_paths(tmp_path, "k")[1].stat().st_mtime > 1.0e9     # now, not 10 days before 1e9
    tc.mark_used(tmp_path, "missing")                   # nothing to mark: no error


def test_shape_tables_use_and_evict_through_the_cache(tmp_path, monkeypatch):
    """_load_or_build writes through write_table (so the cap applies) and marks a loaded table used."""
    from eels_helpers.simulation import shape_tables as sim

    monkeypatch.setenv(sim.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(tc.MAX_GB_ENV, "1e-9")           # 1 byte: every older table must go
    _fake_table(tmp_path, "stale", 8_000, 30 * 86400, time.time())
    sim._load_or_build(200.0, "hydrogenic", n_beta=4)
    key = sim._table_key(200.0, "hydrogenic", 4)
    assert _keys(tmp_path) == [key]                     # the stale table evicted, the new one kept
    meta = tc.table_paths(tmp_path, key)[1]
    os.utime(meta, (1.0e9, 1.0e9))
    sim._load_or_build(200.0, "hydrogenic", n_beta=4)
    assert meta.stat().st_mtime > 1.0e9 + 86400


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    assert not tc.write_table(tmp_path, "k", np.zeros(10), E0_keV=200.0)
    assert list(tmp_path.iterdir()) == []


def test_stale_temporary_files_are_removed(tmp_path):
    now = 1.0e9
    stale, fresh = tmp_path / ".abc.123.npy", tmp_path / ".def.456.npy"
    for p, age in ((stale, 2 * tc.STALE_TMP_S), (fresh, 10)):
        p.write_bytes(b"")
        os.utime(p, (now - age, now - age))
    tc.evict(tmp_path, cap_bytes=None, now=now)
    assert not stale.exists() and fresh.exists()        # another process may still be writing it


@pytest.mark.parametrize("value", ["ten", "-1", "nan"])
def test_a_bad_cap_is_named(monkeypatch, value):
    monkeypatch.setenv(tc.MAX_GB_ENV, value)
    with pytest.raises(ValueError, match=tc.MAX_GB_ENV):
        tc.max_cache_bytes()


def test_cap_defaults_and_zero_means_none(monkeypatch):
    monkeypatch.delenv(tc.MAX_GB_ENV, raising=False)
    assert tc.max_cache_bytes() == int(tc.DEFAULT_MAX_GB * 1e9)
    monkeypatch.setenv(tc.MAX_GB_ENV, "0")
    assert tc.max_cache_bytes() is None
