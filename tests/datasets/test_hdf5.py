"""HDF5 datasets (determinism, shards, resume after a kill, disk space) and the streaming dataset.

Most tests use ``fake_simulate``, a cheap stand-in with the API of ``simulate_batch`` (random
spectra, labels = the specimen, two sampled parameters), so that they test the dataset machinery
in seconds; the tests marked "real simulator" run ``simulate_batch`` itself on a few spectra.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from eels_helpers.datasets import hdf5 as ds
from eels_helpers.physics.elements import ELEMENTS

pytest.importorskip("eels_helpers.simulation.pipeline")  # Specimen objects come from the simulator module

TESTS = Path(__file__).resolve().parent
SMALL = dict(scale=0.01, elements=("B", "C", "O", "Fe", "Ce", "Bi"), splits=("train", "test", "single"),
             chunk_samples=4)


def fake_simulate(specimens, config, rng):
    """Stand-in for simulate_batch: draws from ``rng`` only, labels = the specimen's elements."""
    b = len(specimens)
    lab = np.zeros((b, 80), np.uint8)
    quant = np.zeros((b, 80), np.float32)
    for i, s in enumerate(specimens):
        idx = [ELEMENTS.index(e) for e in s.elements]
        lab[i, idx] = 1
        quant[i, idx] = s.fractions
    params = {"E0_keV": rng.choice([60.0, 100.0, 200.0, 300.0], b).astype(np.float32),
              "window_eV": rng.integers(75, 3000, (b, 2)).astype(np.int32)}
    return SimpleNamespace(spectra=rng.random((b, 3072), dtype=np.float32), labels_identification=lab,
                           labels_quantification=quant, params=params)


def slow_fake_simulate(specimens, config, rng):
    time.sleep(0.2)
    return fake_simulate(specimens, config, rng)


def _all_fields(path_or_ds):
    d = path_or_ds if isinstance(path_or_ds, ds.SpectraDataset) else ds.open_dataset(path_or_ds)
    return {(s, f): d[s].read(f) for s in d.splits for f in d[s].fields}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=str(k))


# ------------------------------------------------------------------------------------------------
# configuration


def test_paper_counts_and_profiles():
    cfg = ds.DatasetConfig()
    assert cfg.n_spectra() == 736_000
    assert {s: cfg.n_spectra(s) for s in ds.SPLITS} == {
        "train": 80 * 1400 * 5, "validation": 80 * 300 * 2, "test": 80 * 300 * 5, "single": 80 * 100}
    assert ds.DatasetConfig.from_profile("paper") == cfg
    assert ds.DatasetConfig.from_profile("smoke").n_spectra() < ds.DatasetConfig.from_profile("cpu").n_spectra()
    with pytest.raises(ValueError, match="unknown profile 'big'"):
        ds.DatasetConfig.from_profile("big")


@pytest.mark.parametrize("kwargs, message", [
    (dict(scale=0), r"scale .* \(0, 10\]"),
    (dict(scale=11), r"scale .* \(0, 10\]"),
    (dict(splits=("train", "dev")), "splits must be distinct names"),
    (dict(elements=("Fe", "Li")), "Be..Bi"),
    (dict(chunk_samples=0), r"chunk_samples .* 1..100000"),
    (dict(dtype="float64"), "'float32' or 'float16'"),
])
def test_invalid_configuration_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ds.DatasetConfig(**kwargs)


def test_units_partition_and_shards():
    cfg = ds.DatasetConfig(**SMALL)
    units = ds.plan_units(cfg)
    assert [u.id for u in units] == list(range(len(units)))
    assert sum(u.n_rows for u in units) == cfg.n_spectra()
    shards = [[u.id for u in units if u.id % 3 == i] for i in range(3)]
    assert sorted(sum(shards, [])) == [u.id for u in units]
    assert ds.parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(ValueError, match="shard"):
            ds.parse_shard(bad)


# ------------------------------------------------------------------------------------------------
# determinism, workers and shards


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The SMALL dataset written in one process: the reference content."""
    path = tmp_path_factory.mktemp("ref") / "full.h5"
    summary = ds.write_dataset(path, ds.DatasetConfig(**SMALL), seed=3, simulate_fn=fake_simulate, progress=False)
    assert summary["units_computed"] == summary["units_total"] == len(ds.plan_units(ds.DatasetConfig(**SMALL)))
    return path


def test_layout_labels_and_samples(reference):
    d = ds.open_dataset(reference)
    cfg = ds.DatasetConfig(**SMALL)
    assert d.splits == ("train", "test", "single")
    for s in d.splits:
        v = d[s]
        assert len(v) == cfg.n_spectra(s)
        spectra = v.read("spectra")
        assert spectra.shape == (len(v), 3072) and spectra.dtype == np.float32
        lab, quant, query = v.read("labels_identification"), v.read("labels_quantification"), v.read("query")
        assert lab.dtype == np.uint8 and quant.dtype == np.float32 and query.dtype == np.int16
        assert (lab[np.arange(len(v)), query] == 1).all()          # the query is always labelled
        np.testing.assert_allclose(quant.sum(1), 1, atol=1e-5)
        assert ((quant > 0) == (lab == 1)).all()
        assert v.read("params/window_eV").shape == (len(v), 2)
        # no duplicates or gaps: each (query, sample) appears spectra_per_sample times
        k = cfg.spectra_per_sample(s)
        for e in cfg.elements:
            samples = v.read("sample")[query == ELEMENTS.index(e)]
            np.testing.assert_array_equal(np.sort(samples), np.repeat(np.arange(cfg.samples_per_element(s)), k))
    # every field of a unit whose rows straddle HDF5 chunks reads back as simulate_unit made it
    units = ds.plan_units(cfg)
    u = units[2]
    assert ds.SPLITS[u.split] == "train" and (u.sample_start * u.spectra_per_sample) % 16 != 0
    direct = ds.simulate_unit(u, cfg, 3, fake_simulate)
    v = d[ds.SPLITS[u.split]]
    rows = np.flatnonzero((v.read("query") == u.element) & (v.read("sample") >= u.sample_start)
                          & (v.read("sample") < u.sample_start + u.n_samples))
    assert rows.size == u.n_rows and (np.diff(rows) == 1).all()
    for name, value in direct.items():
        np.testing.assert_array_equal(v.read(name, slice(rows[0], rows[-1] + 1)), value, err_msg=name)
    single = d["single"]
    assert (single.read("labels_identification").sum(1) == 1).all()
    assert (single.read("mp_row") == -1).all()
    # the k spectra of one sample share the specimen but draw their own parameters
    tr = d["train"]
    assert (tr.read("mp_row")[:5] == tr.read("mp_row")[0]).all()
    assert len(np.unique(tr.read("params/window_eV")[:5], axis=0)) > 1


def test_same_seed_same_content_for_any_workers_and_shards(reference, tmp_path):
    cfg = ds.DatasetConfig(**SMALL)
    ref = _all_fields(reference)
    for method in ("fork", "spawn"):
        two = tmp_path / f"two_workers_{method}.h5"
        ds.write_dataset(two, cfg, seed=3, workers=2, simulate_fn=fake_simulate, progress=False,
                         start_method=method)
        _assert_same(ref, _all_fields(two))
    for i in range(3):
        ds.write_dataset(tmp_path / f"shard{i}.h5", cfg, seed=3, shard=f"{i}/3", simulate_fn=fake_simulate,
                         progress=False)
    sharded = ds.open_dataset(str(tmp_path / "shard*.h5"))
    assert len(sharded.paths) == 3
    _assert_same(ref, _all_fields(sharded))
    idx = np.random.default_rng(0).integers(0, len(sharded["train"]), 50)   # rows from all shards
    for f in ("spectra", "labels_quantification", "params/window_eV"):
        np.testing.assert_array_equal(sharded["train"].read(f, idx), ref[("train", f)][idx])
    other = tmp_path / "seed4.h5"
    ds.write_dataset(other, cfg, seed=4, simulate_fn=fake_simulate, progress=False)
    assert not np.array_equal(ref[("train", "spectra")], _all_fields(other)[("train", "spectra")])


def test_shard_checks(reference, tmp_path):
    cfg = ds.DatasetConfig(**SMALL)
    for i in (0, 2):
        ds.write_dataset(tmp_path / f"s{i}.h5", cfg, seed=3, shard=(i, 3), simulate_fn=fake_simulate, progress=False)
    with pytest.raises(ValueError, match="shards 1/3 are missing"):
        ds.open_dataset([tmp_path / "s0.h5", tmp_path / "s2.h5"])
    with pytest.raises(ValueError, match="different datasets"):
        ds.open_dataset([tmp_path / "s0.h5", reference])
    with pytest.raises(FileNotFoundError):
        ds.open_dataset(str(tmp_path / "nothing*.h5"))


def test_random_access_and_torch_views(reference):
    d = ds.open_dataset(reference)
    v = d["train"]
    full = v.read("spectra")
    idx = np.array([7, 3, 3, len(v) - 1, 0])
    np.testing.assert_array_equal(v.read("spectra", idx), full[idx])
    np.testing.assert_array_equal(v.read("spectra", slice(5, 40, 3)), full[5:40:3])
    np.testing.assert_array_equal(v.read("spectra", -1), full[-1])
    row = v[11]
    np.testing.assert_array_equal(row["labels_identification"], v.read("labels_identification")[11])
    with pytest.raises(IndexError):
        v.read("spectra", len(v))
    with pytest.raises(KeyError, match="not in split"):
        v.read("nope")
    import torch

    tds = v.torch()
    x, y, q = tds[2]
    assert x.shape == (3072,) and y.shape == (80,) and x.dtype == torch.float32
    loader = torch.utils.data.DataLoader(tds, batch_size=16, shuffle=False)
    xb, yb, qb = next(iter(loader))
    assert xb.shape == (16, 3072) and yb.shape == (16, 80)
    np.testing.assert_array_equal(xb.numpy(), full[:16])


def test_raw_layout_only_for_uncompressed_native_chunks(tmp_path):
    import h5py

    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("train")
        g.create_dataset("a", data=np.arange(40.0).reshape(20, 2), chunks=(4, 2))
        g.create_dataset("b", data=np.arange(20.0), chunks=(4,), compression="gzip")
    lay = ds._file_layout(path, ["train"], strict=False)["train"]
    assert set(lay) == {"a"} and lay["a"].rows_per_chunk == 4 and lay["a"].row_nbytes == 16
    with pytest.raises(ValueError, match="train/b"):
        ds._file_layout(path, ["train"])
    # the offsets HDF5 reports locate the rows: read row 9 by hand
    with open(path, "rb") as fh:
        fh.seek(int(lay["a"].chunk_offsets[2]) + 1 * 16)
        assert np.frombuffer(fh.read(16), "<f8").tolist() == [18.0, 19.0]


def test_element_occurrence_and_table(reference):
    d = ds.open_dataset(reference)
    for s in d.splits:
        occ = ds.element_occurrence(d, s, block=50)
        np.testing.assert_array_equal(occ, d[s].read("labels_identification").sum(0))
    tab = ds.occurrence_table(d)
    assert list(tab.element) == list(ELEMENTS)
    assert tab.train_query.sum() == len(d["train"])
    assert (tab.loc[tab.element == "Fe", "train_occurrence"] >= tab.loc[tab.element == "Fe", "train_query"]).all()


def test_float16_storage(tmp_path):
    cfg = ds.DatasetConfig(**{**SMALL, "dtype": "float16", "splits": ("single",)})
    out = tmp_path / "f16.h5"
    ds.write_dataset(out, cfg, seed=3, simulate_fn=fake_simulate, progress=False)
    x = ds.open_dataset(out)["single"].read("spectra")
    assert x.dtype == np.float16
    ref = ds.simulate_unit(ds.plan_units(cfg)[0], ds.DatasetConfig(**{**SMALL, "splits": ("single",)}), 3,
                           fake_simulate)["spectra"]
    np.testing.assert_allclose(x[:1].astype(np.float32), ref, rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------------------------------------------
# resume, disk space


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            if text.encode() in (p / "cmdline").read_bytes():
                pids.append(int(p.name))
        except OSError:
            pass
    return pids


@pytest.mark.parametrize("workers", [1, 2])
def test_resume_after_killed_run_no_loss_no_duplicates(reference, tmp_path, workers):
    out = tmp_path / "killed.h5"
    partial = tmp_path / "killed.h5.partial"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import test_hdf5 as t
        from eels_helpers.datasets import hdf5 as ds
        ds.write_dataset({str(out)!r}, ds.DatasetConfig(**t.SMALL), seed=3, workers={workers},
                         simulate_fn=t.slow_fake_simulate, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path)
    import h5py

    n_done, t0 = 0, time.time()
    try:
        while time.time() - t0 < 60:
            time.sleep(0.1)
            assert proc.poll() is None, "the writer finished before it could be killed"
            if partial.exists():
                try:
                    with h5py.File(partial, "r", locking=False) as f:
                        n_done = int(f["units/done"][:].sum())
                except (OSError, KeyError):
                    continue  # the file is being created
                if n_done >= 3:
                    break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if sys.platform.startswith("linux"):  # pool workers die with the killed main process
        t1 = time.time()
        while _processes_mentioning(str(out)) and time.time() - t1 < 5:
            time.sleep(0.1)
        assert _processes_mentioning(str(out)) == []
    total = len(ds.plan_units(ds.DatasetConfig(**SMALL)))
    with h5py.File(partial, "r") as f:
        n_done = int(f["units/done"][:].sum())
        assert not f["units/done"][:].all()
    assert 3 <= n_done < total and not out.exists()
    with pytest.raises(ValueError, match="incomplete"):
        ds.open_dataset(partial)
    # a rerun with other settings refuses to mix content
    with pytest.raises(RuntimeError, match="seed 3 != 4"):
        ds.write_dataset(out, ds.DatasetConfig(**SMALL), seed=4, simulate_fn=fake_simulate, progress=False)
    summary = ds.write_dataset(out, ds.DatasetConfig(**SMALL), seed=3, simulate_fn=fake_simulate, progress=False)
    assert summary["units_computed"] == total - n_done
    assert out.exists() and not partial.exists()
    _assert_same(_all_fields(reference), _all_fields(out))
    again = ds.write_dataset(out, ds.DatasetConfig(**SMALL), seed=3, simulate_fn=fake_simulate, progress=False)
    assert again["units_computed"] == 0


def test_disk_space_check(tmp_path, monkeypatch):
    real = ds.shutil.disk_usage

    def tiny(path):
        return real(path)._replace(free=10_000)

    monkeypatch.setattr(ds.shutil, "disk_usage", tiny)
    with pytest.raises(ds.InsufficientDiskSpace) as err:
        ds.write_dataset(tmp_path / "x.h5", ds.DatasetConfig(**SMALL), seed=0, simulate_fn=fake_simulate,
                         progress=False)
    msg = str(err.value)
    assert str(tmp_path.resolve()) in msg and "needs about" in msg and "10.0 kB (10000 bytes) available" in msg
    assert not (tmp_path / "x.h5.partial").exists()
    # the estimate covers what is actually written (spectra + labels + parameters)
    needed = int(msg.split("(")[1].split(" bytes")[0])
    monkeypatch.setattr(ds.shutil, "disk_usage", real)
    ds.write_dataset(tmp_path / "x.h5", ds.DatasetConfig(**SMALL), seed=0, simulate_fn=fake_simulate, progress=False)
    n = ds.DatasetConfig(**SMALL).n_spectra()
    assert n * 3072 * 4 < needed < 1.2 * os.path.getsize(tmp_path / "x.h5") + 2e6


# ------------------------------------------------------------------------------------------------
# streaming


def test_stream_occurrence_counts_the_labels_of_whole_batches():
    occ = ds.stream_occurrence(10, seed=2, batch_size=4, simulate_fn=fake_simulate)   # 3 batches
    stream = ds.StreamingSpectra(seed=2, batch_size=4, n_batches=3, simulate_fn=fake_simulate)
    expected = sum(stream.batch(b)["labels_identification"].numpy().sum(axis=0) for b in range(3))
    assert occ.shape == (80,) and occ.dtype == np.int64
    np.testing.assert_array_equal(occ, expected)
    assert occ.sum() >= 12                   # every spectrum holds at least its query element
    with pytest.raises(ValueError, match="n_spectra must be an integer >= 1"):
        ds.stream_occurrence(0)


def test_streaming_shapes_determinism_and_workers():
    import torch

    stream = ds.StreamingSpectra(elements=("O", "Fe", "Ce"), seed=5, batch_size=8, n_batches=6,
                                 simulate_fn=fake_simulate)
    assert len(stream) == 6
    single = list(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=0))
    multi = list(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2))
    assert [b["batch_index"] for b in single] == list(range(6)) == [int(b["batch_index"]) for b in multi]
    for a, b in zip(single, multi):
        assert a["spectra"].shape == (8, 3072) and a["labels_identification"].shape == (8, 80)
        assert a["spectra"].dtype == torch.float32
        assert set(a["query"].tolist()) <= {ELEMENTS.index(e) for e in ("O", "Fe", "Ce")}
        assert (a["labels_identification"][torch.arange(8), a["query"]] == 1).all()
        torch.testing.assert_close(a["spectra"], b["spectra"])
    # consecutive batches (served by different workers) differ
    assert not torch.equal(multi[0]["spectra"], multi[1]["spectra"])
    # ranks split the stream without overlap
    r = [ds.StreamingSpectra(seed=5, batch_size=4, n_batches=5, rank=k, world_size=2, simulate_fn=fake_simulate)
         for k in range(2)]
    assert [b["batch_index"] for b in r[0]] == [0, 2, 4] and [b["batch_index"] for b in r[1]] == [1, 3]
    with pytest.raises(ValueError, match="batch_size"):
        ds.StreamingSpectra(batch_size=0)
    with pytest.raises(ValueError, match="unknown"):
        ds.StreamingSpectra(elements=("H",))


def test_single_element_arrays_are_pure_ordered_and_seeded_per_element():
    x, y = ds.single_element_arrays(3, seed=4, elements=("Ce", "O"), simulate_fn=fake_simulate)
    assert x.shape == (6, 3072) and y.shape == (6, 80) and x.dtype == y.dtype == np.float32
    np.testing.assert_array_equal(y.argmax(axis=1), [ELEMENTS.index("O")] * 3 + [ELEMENTS.index("Ce")] * 3)
    assert (y.sum(axis=1) == 1).all()                              # pure elements (Z order: O before Ce)
    x_ce, _ = ds.single_element_arrays(3, seed=4, elements=("Ce",), simulate_fn=fake_simulate)
    np.testing.assert_array_equal(x[3:], x_ce)                      # independent of the other elements
    assert not np.array_equal(x_ce, ds.single_element_arrays(3, seed=5, elements=("Ce",),
                                                             simulate_fn=fake_simulate)[0])
    with pytest.raises(ValueError, match="n_per_element"):
        ds.single_element_arrays(0, seed=0, elements=("Ce",), simulate_fn=fake_simulate)
    with pytest.raises(ValueError, match="unknown"):
        ds.single_element_arrays(1, seed=0, elements=("Xy",), simulate_fn=fake_simulate)


# ------------------------------------------------------------------------------------------------
# CLI


def test_cli_errors(capsys):
    from eels_helpers.cli import main

    assert main(["simulate", "--elements", "Ce,Xy", "--n", "2"]) == 2
    assert "unknown element(s) Xy" in capsys.readouterr().err
    assert main(["simulate", "--profile", "huge", "--out", "x.h5"]) == 2
    assert "unknown profile 'huge'" in capsys.readouterr().err
    assert main(["simulate", "--profile", "smoke"]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["simulate", "--profile", "smoke", "--out", "x.h5", "--shard", "4/4"]) == 2
    assert "0 <= I < N" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# real simulator (a few spectra)

REAL = dict(scale=0.005, elements=("B", "O", "Si", "Fe"), splits=("test", "single"), chunk_samples=2)


@pytest.fixture(scope="module")
def real_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("real") / "real.h5"
    ds.write_dataset(path, ds.DatasetConfig(**REAL), seed=11, progress=False)
    return ds.open_dataset(path)


def test_real_simulator_labels_consistent_with_params_and_specimens(real_dataset):
    from eels_helpers.simulation import specimens as sp
    from eels_helpers.physics.elements import EDGE_FAMILIES, families_of
    from eels_helpers.simulation.shape_tables import edge_tables

    table = sp.load_compositions()
    cfg = ds.DatasetConfig(**REAL).simulation_config()
    available = edge_tables(tuple(cfg.E0_keV), cfg.gos)[1]
    fam_index = {f.name: i for i, f in enumerate(EDGE_FAMILIES)}
    for split in real_dataset.splits:
        v = real_dataset[split]
        rows = {f: v.read(f) for f in v.fields}
        for i in range(len(v)):
            x, lab, quant = rows["spectra"][i], rows["labels_identification"][i], rows["labels_quantification"][i]
            start, end = int(rows["params/start_eV"][i]), int(rows["params/end_eV"][i])
            assert x.max() == pytest.approx(1.0) and x.min() >= 0
            assert not x[:start].any() and not x[end + 1:].any()
            n_edges = int(rows["params/n_edges"][i])
            fams = rows["params/edge_family"][i]
            assert (fams[:n_edges] >= 0).all() and (fams[n_edges:] == -1).all()
            labelled = {ELEMENTS[j] for j in np.flatnonzero(lab)}
            assert labelled == {EDGE_FAMILIES[f].element for f in fams[:n_edges]}
            query = ELEMENTS[rows["query"][i]]
            assert query in labelled and EDGE_FAMILIES[rows["params/query_family"][i]].element == query
            onsets = rows["params/edge_onset_eV"][i, :n_edges]
            assert (onsets >= start + cfg.margin_before_eV).all() and (onsets <= end - cfg.margin_after_eV).all()
            # the specimen, read back independently from the composition table
            m = int(rows["mp_row"][i])
            fr = {query: 1.0} if m < 0 else {ELEMENTS[j]: float(table.fractions[m, j])
                                               for j in np.flatnonzero(table.fractions[m])}
            assert labelled <= set(fr)
            tot = sum(fr[e] for e in labelled)
            for e in labelled:
                assert quant[ELEMENTS.index(e)] == pytest.approx(fr[e] / tot, rel=1e-4)
            assert quant.sum() == pytest.approx(1.0, abs=1e-5) and ((quant > 0) == (lab > 0)).all()
            # a specimen element left unlabelled has no computable family surely inside the window
            shift = max(abs(s) for s in cfg.chemical_shift_eV)
            for e in set(fr) - labelled:
                for fam in families_of(e):
                    if available[fam_index[fam.name]]:
                        o = fam.onset_eV
                        assert (o - shift < start + cfg.margin_before_eV or o + shift > end - cfg.margin_after_eV), (e, fam.name, start, end)


def test_real_simulator_unit_is_deterministic():
    cfg = ds.DatasetConfig(**REAL)
    unit = ds.plan_units(cfg)[1]
    a, b = ds.simulate_unit(unit, cfg, 5), ds.simulate_unit(unit, cfg, 5)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["spectra"], ds.simulate_unit(unit, cfg, 6)["spectra"])


def test_real_streaming_and_quick_look_cli(tmp_path, capsys):
    stream = ds.StreamingSpectra(elements=("C", "Fe"), seed=1, batch_size=6, n_batches=2)
    batches = list(stream)
    assert [b["spectra"].shape for b in batches] == [(6, 3072)] * 2
    assert not np.array_equal(batches[0]["spectra"].numpy(), batches[1]["spectra"].numpy())
    from eels_helpers.cli import main

    png = tmp_path / "look.png"
    assert main(["simulate", "--elements", "Fe,O", "--n", "3", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "query Fe" in out and out.count("spectrum ") == 3
    assert png.stat().st_size > 10_000


def test_cli_writes_a_dataset_and_resumes_nothing_twice(tmp_path, capsys):
    from eels_helpers.cli import main

    out = tmp_path / "cli.h5"
    args = ["simulate", "--profile", "smoke", "--out", str(out), "--query-elements", "C,Fe",
            "--splits", "test,single", "--seed", "2", "--no-progress"]
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().err
    d = ds.open_dataset(out)
    assert d.splits == ("test", "single") and len(d["test"]) == 2 * ds.DatasetConfig.from_profile("smoke").samples_per_element("test") * 5
    assert main(args) == 0
    assert "already complete" in capsys.readouterr().err
    assert main(args[:-3] + ["--seed", "3", "--no-progress"]) == 2   # same file, other seed
    assert "different settings" in capsys.readouterr().err


def test_quick_look_uses_a_materials_project_formula():
    spec, batch, formula = ds.quick_look(["Sr", "Ti", "O"], 3, simulate_fn=fake_simulate)
    assert formula == "SrTiO3" and spec.query == "Sr" and spec.elements == ("O", "Ti", "Sr")
    np.testing.assert_allclose(spec.fractions, [0.6, 0.2, 0.2], atol=1e-6)
    assert batch.spectra.shape == (3, 3072)
    spec, _, formula = ds.quick_look(["Fe", "O"], 1, simulate_fn=fake_simulate, fractions=[1, 3])
    assert formula is None and spec.fractions == pytest.approx((0.75, 0.25))   # O, Fe in Z order
    with pytest.raises(ValueError, match="2 positive numbers"):
        ds.quick_look(["Fe", "O"], 1, simulate_fn=fake_simulate, fractions=[1])
