"""``eels-id cache``: the shape-table cache's folder, size and cap; ``--clear`` empties it."""

import numpy as np

from eels_helpers.cli import main
from eels_helpers.simulation import table_cache as tc


def _table(folder, key, n=1000):
    shapes, meta = tc.table_paths(folder, key)
    np.save(shapes, np.zeros(n))
    np.savez(meta, E0_keV=200.0)


def test_cache_reports_tables_size_and_cap(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(tc.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(tc.MAX_GB_ENV, "2.5")
    for key in ("a", "b", "c"):
        _table(tmp_path, key)
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "3 tables" in out and "cap 2.5 GB ($EELS_ID_CACHE_MAX_GB)" in out
    monkeypatch.setenv(tc.MAX_GB_ENV, "0")
    assert main(["cache"]) == 0 and "no cap" in capsys.readouterr().out


def test_cache_clear_removes_every_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(tc.CACHE_ENV, str(tmp_path))
    for key in ("a", "b"):
        _table(tmp_path, key)
    (tmp_path / ".k.123.npy").write_bytes(b"partial")
    (tmp_path / "exspy").mkdir()                        # other cached files are not the tables'
    assert main(["cache", "--clear"]) == 0
    assert "removed 2 tables" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exspy"]


def test_cache_off_and_bad_cap(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(tc.CACHE_ENV, "off")
    assert main(["cache"]) == 0 and "off" in capsys.readouterr().out
    monkeypatch.setenv(tc.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(tc.MAX_GB_ENV, "lots")
    assert main(["cache"]) == 2
    assert "EELS_ID_CACHE_MAX_GB" in capsys.readouterr().err
