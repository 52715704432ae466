"""The simulator's cross-section shape tables (eels_helpers.simulation.shape_tables): accuracy of
the interpolation in beta*, the disk cache, and which families a GOS source can compute."""

import numpy as np
import pytest

from eels_helpers.physics.elements import EDGE_FAMILIES, ELEMENTS
from eels_helpers.physics.gos_tables import builtin_available, resolve_gos
from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.shape_tables import can_simulate, edge_tables, family_arrays


def test_shape_table_interpolation_against_direct_cross_section():
    """Edges from the interpolated shape tables vs eels_helpers.physics.cross_section.dsigma_dE computed
    directly, at beta* half-way (geometrically) between table nodes: the worst case."""
    from eels_helpers.physics.cross_section import dsigma_dE
    from eels_helpers.simulation.shape_tables import _shape_table

    gos = resolve_gos("auto")
    tab = _shape_table(200.0, gos)
    names = [f.name for f in EDGE_FAMILIES]
    fams = [names.index(n) for n in ("C K", "O K", "Ti L", "Fe L", "Sr L")]
    grid = tab.beta_eff_mrad
    betas = np.sqrt(grid[:-1] * grid[1:])[::9]        # a spread of mid-points
    worst = 0.0
    for f in fams:
        rows = tab.rows(np.full(betas.size, f), np.zeros(betas.size), betas)   # alpha 0: beta*=beta
        E = tab.onset_channel[f] + tab.first_offset + np.arange(rows.shape[1])
        ref = dsigma_dE(EDGE_FAMILIES[f], E.astype(float), 200.0, 0.0, betas, gos=gos)[:, 0]
        ref[:, E < tab.onset_channel[f]] = 0
        sel = ref > 1e-3 * ref.max(axis=1, keepdims=True)
        worst = max(worst, float(np.abs(rows[sel] / ref[sel] - 1).max()))
    assert worst < 0.012, worst


def test_shape_table_disk_cache_round_trip(tmp_path, monkeypatch):
    from eels_helpers.simulation import shape_tables as sim

    monkeypatch.setenv(sim.CACHE_ENV, str(tmp_path))
    built = sim._load_or_build(200.0, "hydrogenic", n_beta=4)
    files = sorted(p.suffix for p in tmp_path.iterdir())
    assert files == [".npy", ".npz"]
    cached = sim._load_or_build(200.0, "hydrogenic", n_beta=4)
    assert isinstance(cached.shapes, np.memmap)
    np.testing.assert_array_equal(cached.shapes, built.shapes)
    np.testing.assert_array_equal(cached.beta_eff_mrad, built.beta_eff_mrad)
    assert cached.first_offset == built.first_offset and cached.E0_keV == 200.0
    # a different beam energy or grid is a different entry
    assert sim._table_key(100.0, "hydrogenic", 4) != sim._table_key(200.0, "hydrogenic", 4)
    assert sim._table_key(200.0, "hydrogenic", 5) != sim._table_key(200.0, "hydrogenic", 4)
    # a damaged file is rebuilt, not trusted
    next(tmp_path.glob("*.npz")).write_bytes(b"not a table")
    again = sim._load_or_build(200.0, "hydrogenic", n_beta=4)
    np.testing.assert_array_equal(again.shapes, built.shapes)


def test_shape_table_cache_can_be_switched_off(tmp_path, monkeypatch):
    from eels_helpers.simulation import shape_tables as sim

    monkeypatch.setenv(sim.CACHE_ENV, "off")
    assert sim.shape_cache_dir() is None
    monkeypatch.setenv("HOME", str(tmp_path))
    table = sim._load_or_build(200.0, "hydrogenic", n_beta=4)
    assert not isinstance(table.shapes, np.memmap) and not any(tmp_path.rglob("*.npy"))


def test_family_arrays_match_the_edge_table():
    fa = family_arrays()
    assert fa.onset.shape == (len(EDGE_FAMILIES),)
    for i, f in enumerate(EDGE_FAMILIES):
        assert fa.onset[i] == f.onset_eV and fa.first[i] == f.first_onset_eV
        majors = [f.onset_of(s) for s in f.major]
        assert fa.major_lo[i] == min(majors) and fa.major_hi[i] == max(majors)
        assert ELEMENTS[fa.element[i]] == f.element


def test_available_families_and_can_simulate():
    cfg = SimulationConfig(E0_keV=(200.0,), gos="hydrogenic")
    tables, avail = edge_tables((200.0,), "hydrogenic")
    assert set(tables) == {200.0}
    shells = {EDGE_FAMILIES[i].name.split()[-1] for i in np.flatnonzero(avail)}
    assert shells <= {"K", "L"} and avail.sum() > 20
    assert can_simulate("C", cfg) and can_simulate("Fe", cfg)
    assert not can_simulate("Ce", cfg)          # M and N edges only: not hydrogenic
    if builtin_available():
        assert can_simulate("Ce", cfg.replace(gos="builtin"))


def test_cache_key_lists_modules_that_exist():
    import importlib

    from eels_helpers.simulation import shape_tables as sim
    for name in sim._TABLE_MODULES:
        importlib.import_module(f"eels_helpers.{name}")
    assert "simulation.shape_tables" in sim._TABLE_MODULES
    assert "physics.edge_shapes" in sim._TABLE_MODULES


def test_multiplet_source_tables_have_their_own_cache_key_and_follow_the_builtin_file(tmp_path, monkeypatch):
    """"builtin+4f-multiplet" tables (open-world-4f) never share a cache entry with "builtin" ones,
    and, like them, are rebuilt when the builtin GOS file changes."""
    from eels_helpers.physics import gos_tables
    from eels_helpers.simulation import shape_tables as sim

    name = "builtin" + gos_tables.MULTIPLET_4F_SUFFIX
    key = sim._table_key(200.0, name, 4)
    assert key != sim._table_key(200.0, "builtin", 4)
    other = tmp_path / "other.gosh"
    other.write_bytes(b"another table")
    monkeypatch.setattr(gos_tables, "BUILTIN_GOS_PATH", other)
    assert sim._table_key(200.0, name, 4) != key


def test_rydberg_source_tables_follow_the_lines_table_and_the_builtin_file_in_any_suffix_order(tmp_path, monkeypatch):
    """"+rydberg" tables (open-world-gas-rydberg) have their own cache entries, and are rebuilt when the Rydberg
    table or the builtin GOS file changes, whichever order the suffixes come in."""
    from eels_helpers.physics import gos_tables, rydberg_lines
    from eels_helpers.simulation import shape_tables as sim

    names = ("builtin+4f-multiplet+rydberg", "builtin+rydberg+4f-multiplet", "builtin+rydberg")
    keys = {n: sim._table_key(200.0, n, 4) for n in names}
    assert len(set(keys.values()) | {sim._table_key(200.0, "builtin+4f-multiplet", 4)}) == 4
    lines = tmp_path / "lines.csv"
    lines.write_text(rydberg_lines.RYDBERG_LINES_PATH.read_text() + "\n")
    monkeypatch.setattr(rydberg_lines, "RYDBERG_LINES_PATH", lines)
    after_lines = {n: sim._table_key(200.0, n, 4) for n in names}
    assert all(after_lines[n] != keys[n] for n in names)
    other = tmp_path / "other.gosh"
    other.write_bytes(b"another table")
    monkeypatch.setattr(gos_tables, "BUILTIN_GOS_PATH", other)
    assert all(sim._table_key(200.0, n, 4) != after_lines[n] for n in names)


def test_cache_key_follows_the_gos_file_contents_not_its_path(tmp_path, monkeypatch):
    """A copy of the builtin GOS file elsewhere (a fresh clone, another environment: other path and
    mtime) shares the cached tables; a changed file does not."""
    import os
    import shutil

    from eels_helpers.physics import gos_tables
    from eels_helpers.simulation import shape_tables as sim

    before = sim._table_key(200.0, "builtin", 4)
    copy = tmp_path / "copy.gosh"
    shutil.copyfile(gos_tables.BUILTIN_GOS_PATH, copy)
    os.utime(copy, ns=(1_000_000_000, 1_000_000_000))
    monkeypatch.setattr(gos_tables, "BUILTIN_GOS_PATH", copy)
    assert sim._table_key(200.0, "builtin", 4) == before
    with open(copy, "r+b") as f:                        # one byte changed, same size and mtime restored
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))
    os.utime(copy, ns=(1_000_000_000, 2_000_000_000))
    assert sim._table_key(200.0, "builtin", 4) != before


def test_fano_white_line_model_has_its_own_cache_key_and_changes_only_the_lanthanide_n_families(monkeypatch):
    """"autoionisation-fano" (open-world-fano) shares the "autoionisation" table's CSV but never its
    cache entry, and its key follows the profile's parameters; built tables differ only in the
    lanthanides' N families, whose integrated cross section stays within 7 % (the Fano profile moves
    strength above the lines, it does not make it; the difference is the Lorentzians' wings below
    the table's first offset, -16 eV, which they lose: they keep 94-97 % of their strength on the
    grid, the Fano lines all of it; tests/physics/test_fano_lines.py checks the strength exactly)."""
    from eels_helpers.physics import fano_lines
    from eels_helpers.physics import white_lines as wl
    from eels_helpers.physics.elements import EDGE_FAMILIES
    from eels_helpers.simulation import shape_tables as sim

    key = sim._table_key(200.0, "builtin", 4, "autoionisation-fano")
    assert key != sim._table_key(200.0, "builtin", 4, "autoionisation")
    monkeypatch.setitem(wl.LINE_PROFILES, "autoionisation-fano", ("autoionisation", fano_lines.FanoProfile(q=3.0)))
    assert sim._table_key(200.0, "builtin", 4, "autoionisation-fano") != key
    monkeypatch.undo()
    if not builtin_available():
        pytest.skip("the builtin GOS table (lanthanide N families) is not shipped here")
    auto = sim.ShapeTable.build(200.0, "builtin", n_beta=4, white_lines="autoionisation")
    fano = sim.ShapeTable.build(200.0, "builtin", n_beta=4, white_lines="autoionisation-fano")
    changed = {EDGE_FAMILIES[i].name for i in np.flatnonzero(np.abs(fano.shapes - auto.shapes).max(axis=(0, 2)) > 0)}
    lanthanide_n = {f"{el} N" for el in "La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb".split()}
    assert {"Nd N", "Ho N", "Er N"} <= changed <= lanthanide_n
    for i in [i for i, f in enumerate(EDGE_FAMILIES) if f.name in changed]:
        assert fano.shapes[:, i].sum() == pytest.approx(auto.shapes[:, i].sum(), rel=0.07), EDGE_FAMILIES[i].name
        assert fano.shapes[:, i].sum() >= auto.shapes[:, i].sum(), EDGE_FAMILIES[i].name
