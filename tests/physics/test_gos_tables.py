"""GOSH reader/writer, GOS sources and their errors (eels_helpers.physics.gos_tables)."""

from __future__ import annotations

import logging
import time
import warnings

import h5py
import numpy as np
import pytest
from scipy import integrate

from eels_helpers.physics import gos_tables as gos
from eels_helpers.physics.cross_section import (
    A0_M,
    FOUR_PI_A0SQ_BARN,
    R_EV,
    CrossSectionCalculator,
    kinematics,
    ln_q_limits,
)
from eels_helpers.physics.gos_tables import GoshError, GosTable, default_edges_info, read_gosh, write_gosh
from eels_helpers.physics.hydrogenic import HydrogenicSource, gos_K, gos_L

FE_ONSETS = {"L3": 708.0, "L2": 721.0, "L1": 846.0}
Q_GRID = np.geomspace(5e7, 3e12, 150)           # 1/m
FE_GRID = np.concatenate([[0.0], np.geomspace(0.1, 3000.0, 150)])  # eV


def _hydrogenic_table(element="C", Z=6, onset=284.0, table="K1", fe=FE_GRID):
    E = onset + fe[None, :]
    Q = (Q_GRID[:, None] * A0_M) ** 2
    data = gos_K(E, Q, Z)
    return GosTable(element, table, Q_GRID, fe, data, onset, 1, 0)


def test_occupancy_ratios_and_tables():
    info = default_edges_info("nl")
    # (2j+1)/(2(2l+1)): L3 = 4/6, M5 = 6/10, N7 = 8/14, K = 1
    assert info["L3"]["table"] == "L23" and info["L3"]["occupancy_ratio"] == pytest.approx(2 / 3)
    assert info["L2"]["occupancy_ratio"] == pytest.approx(1 / 3)
    assert info["M5"]["table"] == "M45" and info["M5"]["occupancy_ratio"] == pytest.approx(0.6)
    assert info["N7"]["table"] == "N67" and info["N7"]["occupancy_ratio"] == pytest.approx(4 / 7)
    assert info["K1"]["table"] == "K1" and info["K1"]["occupancy_ratio"] == 1.0
    # the j-subshells of one nl table add up to the whole table
    for tab in {v["table"] for v in info.values()}:
        total = sum(v["occupancy_ratio"] for k, v in info.items() if v["table"] == tab and k != "K")
        assert total == pytest.approx(1.0)
    assert all(v["occupancy_ratio"] == 1.0 for v in default_edges_info("j").values())


def test_write_read_roundtrip(tmp_path):
    t = _hydrogenic_table()
    fe_l = _hydrogenic_table("Fe", 26, 708.0, "L23")
    path = tmp_path / "t.gosh"
    write_gosh(path, [t, fe_l], metadata={"name": "test", "data_doi": "10.0/none"})
    f = read_gosh(path)
    assert set(f.elements) == {"C", "Fe"}
    back, ratio = f.subshell("C", "K")       # exspy's name for K1 works too
    assert ratio == 1.0
    np.testing.assert_allclose(back.dfde_per_eV, t.dfde_per_eV.astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(back.q_inv_m, Q_GRID.astype(np.float32), rtol=1e-6)
    assert back.ionization_energy_eV == 284.0 and (back.n, back.l) == (1, 0)
    l3, r3 = f.subshell("Fe", "L3")
    assert l3.table == "L23" and r3 == pytest.approx(2 / 3)
    assert set(f.available("Fe")) >= {"L3", "L2"} and "K1" not in f.available("Fe")
    with h5py.File(path) as h:
        assert h.attrs["file_format"] == "GOSH"
        assert h["C/K1/data"].shape == (Q_GRID.size, FE_GRID.size, 1)
        assert h["C/K1/data"].dtype == np.float32
        assert h["metadata/data_ref"].attrs["data_doi"] == "10.0/none"
    # the source interface applies the occupancy ratio
    src = gos.get_source(path)
    d = src.dfde("Fe", "L3", [10.0, 100.0], [1e9, 1e10])
    np.testing.assert_allclose(d, 2 / 3 * l3.interpolate([10.0, 100.0], [1e9, 1e10]))
    gos.clear_source_cache()


def test_add_tables_keeps_the_existing_groups_and_adds_the_new(tmp_path):
    """gos_tables.add_tables: the file's groups stay byte for byte, new tables and their
    edges_info entries come in, a table already there is refused with nothing written."""
    path = tmp_path / "base.gosh"
    write_gosh(path, [_hydrogenic_table(), _hydrogenic_table("Fe", 26, 708.0, "L23")], metadata={"name": "base"})
    with h5py.File(path) as h:
        before = {k: h[f"{k}/data"][()].tobytes() for k in ("C/K1", "Fe/L23")}
        assert "N6" not in h["metadata/edges_info"]
    new = _hydrogenic_table("Pt", 78, 71.1, "N67")
    out = gos.add_tables(path, [new], tmp_path / "merged.gosh")
    with h5py.File(out) as h:
        assert {k: h[f"{k}/data"][()].tobytes() for k in ("C/K1", "Fe/L23")} == before
        assert h["metadata"].attrs["name"] == "base"
        assert {"N6", "N7"} <= set(h["metadata/edges_info"])
    f = read_gosh(out)
    t7, r7 = f.subshell("Pt", "N7")
    assert t7.table == "N67" and r7 == pytest.approx(4 / 7)
    np.testing.assert_allclose(t7.dfde_per_eV, new.dfde_per_eV.astype(np.float32), rtol=1e-6)
    with pytest.raises(ValueError, match=r"already holds table\(s\) \['C/K1'\]"):
        gos.add_tables(out, [_hydrogenic_table()])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.gosh", "merged.gosh"]


def test_interpolate_reproduces_nodes_and_limits():
    t = _hydrogenic_table()
    np.testing.assert_allclose(t.interpolate(FE_GRID[5:9], Q_GRID[3:6]),
                               t.dfde_per_eV[3:6, 5:9], rtol=1e-12)
    below = t.interpolate([10.0], [Q_GRID[0] / 10])       # dipole limit: first column
    np.testing.assert_allclose(below[0], t.interpolate([10.0], [Q_GRID[0]])[0])
    assert t.interpolate([10.0], [Q_GRID[-1] * 2])[0, 0] == 0.0
    assert t.interpolate([-1.0], [1e9])[0, 0] == 0.0


def test_missing_file_errors(tmp_path, monkeypatch):
    missing = tmp_path / "nope.gosh"
    with pytest.raises(FileNotFoundError) as err:
        gos.get_source(str(missing))
    msg = str(err.value)
    assert str(missing) in msg and "download_dirac" in msg and "11199911" in msg
    monkeypatch.setattr(gos, "BUILTIN_GOS_PATH", tmp_path / "builtin.gosh")
    gos.clear_source_cache()
    with pytest.raises(FileNotFoundError, match="regenerate_gos.py"):
        gos.get_source("builtin")
    gos.clear_source_cache()


def test_malformed_file_errors(tmp_path):
    junk = tmp_path / "junk.gosh"
    junk.write_bytes(b"not an hdf5 file")
    with pytest.raises(GoshError, match="HDF5"):
        read_gosh(junk)
    no_info = tmp_path / "noinfo.gosh"
    with h5py.File(no_info, "w") as h:
        h.create_group("C/K1")
    with pytest.raises(GoshError, match="/metadata/edges_info"):
        read_gosh(no_info)
    path = tmp_path / "noq.gosh"
    write_gosh(path, [_hydrogenic_table()])
    with h5py.File(path, "a") as h:
        del h["C/K1/q"]
    f = read_gosh(path)
    with pytest.raises(GoshError, match="/C/K1/q"):
        f.subshell("C", "K1")
    with pytest.raises(GoshError, match="/O/K1 is missing"):
        f.subshell("O", "K1")
    with pytest.raises(GoshError, match="no entry 'L3'"):
        f.subshell("C", "L3")
    bad = tmp_path / "bad.gosh"
    write_gosh(bad, [_hydrogenic_table()])
    with h5py.File(bad, "a") as h:
        del h["C/K1/free_energies"]
        h["C/K1/free_energies"] = FE_GRID[::-1].astype(np.float32)
    with pytest.raises(GoshError, match="strictly increasing"):
        read_gosh(bad).subshell("C", "K1")


def _bound_strength_reference(E_b, strength_of_Q, E0_keV, beta_mrad):
    """Independent reference: one line's cross section (barn) by adaptive quadrature."""
    lo, hi = ln_q_limits(E_b, E0_keV, beta_mrad * 1e-3)
    val, _ = integrate.quad(lambda L: strength_of_Q(np.exp(L)), lo, hi, limit=200)
    _, T, _ = kinematics(E0_keV)
    return FOUR_PI_A0SQ_BARN * R_EV**2 / (E_b * T) * val


def test_dirac_layout_reproduces_its_table(tmp_path):
    """A file in the Dirac layout (j-resolved Fe L3 and L2 tables, ratio 1, negative free
    energies = bound lines) reproduces the cross sections of the tables written into it."""
    src = HydrogenicSource(onsets={"Fe": FE_ONSETS})
    whole, _ = src.table("Fe", "L3")                       # Egerton's whole-L-shell GOS
    fe_b = np.array([-6.0, -2.5])                          # two bound transitions below onset
    q = whole.q_inv_m
    cont = whole.dfde_per_eV
    Qgrid = (q * A0_M) ** 2
    lines = np.stack([0.05 / (1 + Qgrid / 4.0) ** 4, 0.02 / (1 + Qgrid / 9.0) ** 3], axis=1)
    tables = []
    for sub, frac in (("L3", 2 / 3), ("L2", 1 / 3)):
        fe = np.concatenate([fe_b, whole.free_energies_eV])
        data = np.concatenate([lines * frac, cont * frac], axis=1)
        tables.append(GosTable("Fe", sub, q, fe, data, FE_ONSETS[sub], 2, 1))
    path = tmp_path / "Dirac_like.gosh"
    write_gosh(path, tables, default_edges_info("j"), {"name": "synthetic Dirac layout"})
    f = read_gosh(path)
    t3, r3 = f.subshell("Fe", "L3")
    assert t3.table == "L3" and r3 == 1.0 and t3.has_bound
    np.testing.assert_allclose(t3.bound()[0], fe_b)

    E = np.arange(650.0, 1400.0)
    E0, beta = 200.0, 20.0
    dirac = CrossSectionCalculator([("Fe", "L3", 708.0)], E, gos=path)(E0, 0.0, beta)[0, 0]
    # the continuum alone from the in-memory table (Egerton's GOS via the hydrogenic source)
    ref = CrossSectionCalculator([("Fe", "L3", 708.0)], E, gos=src)(E0, 0.0, beta)[0, 0]
    far = E > 708.0 + 8.0
    np.testing.assert_allclose(dirac[far], 2 / 3 * ref[far], rtol=2e-4)
    # bound lines: positions and strengths against an independent quadrature
    extra = dirac - 2 / 3 * ref
    assert np.all(extra[E < 690] == 0)
    shapes = (lambda Q: 0.05 / (1 + Q / 4.0) ** 4, lambda Q: 0.02 / (1 + Q / 9.0) ** 3)
    expect = [_bound_strength_reference(708.0 + e, lambda Q, k=k: 2 / 3 * shapes[k](Q), E0, beta)
              for k, e in enumerate(fe_b)]
    # each line holds (tabulated value x 1 eV) -> its energy integral equals the quadrature
    assert extra.sum() * 1.0 == pytest.approx(sum(expect), rel=0.01)
    win = E < 704
    assert extra[win].sum() == pytest.approx(expect[0] * 0.977, rel=0.03)  # 702 +- 2 sigma
    assert E[np.argmax(extra)] == 702.0


def test_exspy_goshgos_reads_our_file(tmp_path):
    """A tiny GOSH file with the hydrogenic C K GOS loads in exspy's GoshGOS and gives the same
    cross section as ours within 1 %."""
    pytest.importorskip("exspy")
    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from exspy._misc.eels.gosh_gos import GoshGOS
    logging.disable(logging.NOTSET)
    path = tmp_path / "c.gosh"
    info = {k: v for k, v in default_edges_info().items() if k in ("K", "K1")}
    write_gosh(path, [_hydrogenic_table()], info, {"name": "hydrogenic C K"})
    g = GoshGOS("C_K", gos_file_path=str(path))
    for E0, beta in ((200.0, 10.0), (60.0, 2.0), (300.0, 50.0)):
        g.integrateq(284.0, beta * 1e-3, E0)
        E = g.energy_axis[1:]
        ours = CrossSectionCalculator([("C", "K1", 284.0)], E, gos=path)(E0, 0.0, beta)[0, 0]
        np.testing.assert_allclose(ours, g.qint[1:], rtol=0.01)
    gos.clear_source_cache()


def test_hydrogenic_source_interface():
    src = gos.get_source("hydrogenic")
    assert isinstance(src, gos.GosSource)
    assert src.available("C") == ("K1",) and src.available("Fe") == ("L3",)
    assert src.available("Au") == ()
    d = src.dfde("Fe", "L3", [50.0], [1e9])
    Q = (1e9 * A0_M) ** 2
    assert d[0, 0] == pytest.approx(gos_L(758.0, Q, 26, 708.0, 846.0)[()], rel=1e-12)
    with pytest.raises(ValueError, match="K1 and L3"):
        src.dfde("Fe", "M5", [1.0], [1e9])


def test_download_dirac_fails_fast_offline(tmp_path, monkeypatch):
    from eels_helpers.physics import dirac_download

    monkeypatch.setattr(dirac_download, "DIRAC_URL", "http://127.0.0.1:9/Dirac_GOS.gosh")
    t0 = time.perf_counter()
    with pytest.raises(ConnectionError, match="11199911"):
        dirac_download.download_dirac(tmp_path, timeout=2.0)
    assert time.perf_counter() - t0 < 10
    assert not any(tmp_path.iterdir())


def test_resolve_gos_auto_follows_the_builtin_table(monkeypatch, tmp_path):
    """"auto" is the builtin table when shipped, else hydrogenic; everything else passes through
    unchanged (names, paths as str or Path, source objects), for get_source to interpret."""
    expected = "builtin" if gos.builtin_available() else "hydrogenic"
    assert gos.resolve_gos("auto") == expected
    monkeypatch.setattr(gos, "BUILTIN_GOS_PATH", tmp_path / "absent.gosh")
    assert gos.resolve_gos("auto") == "hydrogenic"
    shipped = tmp_path / "shipped.gosh"
    shipped.write_bytes(b"")
    monkeypatch.setattr(gos, "BUILTIN_GOS_PATH", shipped)
    assert gos.resolve_gos("auto") == "builtin"
    src = gos.get_source("hydrogenic")
    for value in ("builtin", "hydrogenic", "/some/file.gosh", tmp_path / "x.gosh", src):
        assert gos.resolve_gos(value) is value
