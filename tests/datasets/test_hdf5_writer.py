"""Writing HDF5 datasets: layout, determinism for any workers and shards, float16, resume after a
kill, the disk-space check, and a few spectra of the real simulator written to a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from dataset_fakes import REAL, SMALL, all_fields, assert_same, fake_simulate

from eels_helpers.datasets import hdf5_writer
from eels_helpers.datasets.config import SPLITS, DatasetConfig, plan_units, simulate_unit
from eels_helpers.datasets.hdf5_reader import open_dataset
from eels_helpers.datasets.hdf5_writer import InsufficientDiskSpace, write_dataset
from eels_helpers.physics.elements import ELEMENTS

TESTS = Path(__file__).resolve().parent


def test_layout_labels_and_samples(reference):
    d = open_dataset(reference)
    cfg = DatasetConfig(**SMALL)
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
    units = plan_units(cfg)
    u = units[2]
    assert SPLITS[u.split] == "train" and (u.sample_start * u.spectra_per_sample) % 16 != 0
    direct = simulate_unit(u, cfg, 3, fake_simulate)
    v = d[SPLITS[u.split]]
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
    cfg = DatasetConfig(**SMALL)
    ref = all_fields(reference)
    for method in ("fork", "spawn"):
        two = tmp_path / f"two_workers_{method}.h5"
        write_dataset(two, cfg, seed=3, workers=2, simulate_fn=fake_simulate, progress=False,
                      start_method=method)
        assert_same(ref, all_fields(two))
    for i in range(3):
        write_dataset(tmp_path / f"shard{i}.h5", cfg, seed=3, shard=f"{i}/3", simulate_fn=fake_simulate,
                      progress=False)
    sharded = open_dataset(str(tmp_path / "shard*.h5"))
    assert len(sharded.paths) == 3
    assert_same(ref, all_fields(sharded))
    idx = np.random.default_rng(0).integers(0, len(sharded["train"]), 50)   # rows from all shards
    for f in ("spectra", "labels_quantification", "params/window_eV"):
        np.testing.assert_array_equal(sharded["train"].read(f, idx), ref[("train", f)][idx])
    other = tmp_path / "seed4.h5"
    write_dataset(other, cfg, seed=4, simulate_fn=fake_simulate, progress=False)
    assert not np.array_equal(ref[("train", "spectra")], all_fields(other)[("train", "spectra")])


def test_float16_storage(tmp_path):
    cfg = DatasetConfig(**{**SMALL, "dtype": "float16", "splits": ("single",)})
    out = tmp_path / "f16.h5"
    write_dataset(out, cfg, seed=3, simulate_fn=fake_simulate, progress=False)
    x = open_dataset(out)["single"].read("spectra")
    assert x.dtype == np.float16
    ref = simulate_unit(plan_units(cfg)[0], DatasetConfig(**{**SMALL, "splits": ("single",)}), 3,
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
        import dataset_fakes as t
        from eels_helpers.datasets.config import DatasetConfig
        from eels_helpers.datasets.hdf5_writer import write_dataset
        write_dataset({str(out)!r}, DatasetConfig(**t.SMALL), seed=3, workers={workers},
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
    total = len(plan_units(DatasetConfig(**SMALL)))
    with h5py.File(partial, "r") as f:
        n_done = int(f["units/done"][:].sum())
        assert not f["units/done"][:].all()
    assert 3 <= n_done < total and not out.exists()
    with pytest.raises(ValueError, match="incomplete"):
        open_dataset(partial)
    # a rerun with other settings refuses to mix content
    with pytest.raises(RuntimeError, match="seed 3 != 4"):
        write_dataset(out, DatasetConfig(**SMALL), seed=4, simulate_fn=fake_simulate, progress=False)
    summary = write_dataset(out, DatasetConfig(**SMALL), seed=3, simulate_fn=fake_simulate, progress=False)
    assert summary["units_computed"] == total - n_done
    assert out.exists() and not partial.exists()
    assert_same(all_fields(reference), all_fields(out))
    again = write_dataset(out, DatasetConfig(**SMALL), seed=3, simulate_fn=fake_simulate, progress=False)
    assert again["units_computed"] == 0


def test_a_file_written_before_an_option_existed_resumes_while_the_option_is_off(tmp_path):
    import json

    import h5py

    from eels_helpers.simulation.config import SimulationConfig

    out = tmp_path / "old.h5"
    write_dataset(out, DatasetConfig(**SMALL), seed=3, simulate_fn=fake_simulate, progress=False)
    with h5py.File(out, "r+") as f:            # as written before detectability_min_jump existed
        stored = json.loads(f.attrs["simulation_config"])
        del stored["detectability_min_jump"]
        f.attrs["simulation_config"] = json.dumps(stored, sort_keys=True)
    again = write_dataset(out, DatasetConfig(**SMALL), seed=3, simulate_fn=fake_simulate, progress=False)
    assert again["units_computed"] == 0
    stricter = SimulationConfig(labels="detectable", detectability_min_jump=0.05)
    for other in (stricter, SimulationConfig(labels="detectable")):
        with pytest.raises(RuntimeError, match="simulation configuration"):
            write_dataset(out, DatasetConfig(**SMALL, simulation=other), seed=3, simulate_fn=fake_simulate,
                          progress=False)


def test_soft_labels_are_stored_as_float32(tmp_path):
    from eels_helpers.simulation.named_configs import named_config

    def soft_simulate(specimens, config, rng):          # the fake's 0/1 labels, each 1 softened to 0.25
        batch = fake_simulate(specimens, config, rng)
        batch.labels_identification = batch.labels_identification * np.float32(0.25)
        return batch

    soft = DatasetConfig(**SMALL, simulation=named_config("open-world-soft"))
    assert soft.labels_dtype == np.float32 and DatasetConfig(**SMALL).labels_dtype == np.uint8
    write_dataset(tmp_path / "soft.h5", soft, seed=3, simulate_fn=soft_simulate, progress=False)
    labels = open_dataset(tmp_path / "soft.h5")["train"].read("labels_identification")
    assert labels.dtype == np.float32 and set(np.unique(labels)) == {0.0, 0.25}


def test_disk_space_check(tmp_path, monkeypatch):
    real = hdf5_writer.shutil.disk_usage

    def tiny(path):
        return real(path)._replace(free=10_000)

    monkeypatch.setattr(hdf5_writer.shutil, "disk_usage", tiny)
    with pytest.raises(InsufficientDiskSpace) as err:
        write_dataset(tmp_path / "x.h5", DatasetConfig(**SMALL), seed=0, simulate_fn=fake_simulate,
                      progress=False)
    msg = str(err.value)
    assert str(tmp_path.resolve()) in msg and "needs about" in msg and "10.0 kB (10000 bytes) available" in msg
    assert not (tmp_path / "x.h5.partial").exists()
    # the estimate covers what is actually written (spectra + labels + parameters)
    needed = int(msg.split("(")[1].split(" bytes")[0])
    monkeypatch.setattr(hdf5_writer.shutil, "disk_usage", real)
    write_dataset(tmp_path / "x.h5", DatasetConfig(**SMALL), seed=0, simulate_fn=fake_simulate, progress=False)
    n = DatasetConfig(**SMALL).n_spectra()
    assert n * 3072 * 4 < needed < 1.2 * os.path.getsize(tmp_path / "x.h5") + 2e6


# ------------------------------------------------------------------------------------------------
# real simulator (a few spectra)


def test_real_simulator_labels_consistent_with_params_and_specimens(real_dataset):
    from eels_helpers.physics.elements import EDGE_FAMILIES, families_of
    from eels_helpers.simulation import specimens as sp
    from eels_helpers.simulation.shape_tables import edge_tables

    table = sp.load_compositions()
    cfg = DatasetConfig(**REAL).simulation_config()
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
                        outside = o - shift < start + cfg.margin_before_eV or o + shift > end - cfg.margin_after_eV
                        assert outside, (e, fam.name, start, end)
