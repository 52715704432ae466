"""Reading HDF5 datasets: shards, random access, the torch view, the raw chunk layout, and the one
reader of training data (our files and plain HDF5 files)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dataset_fakes import SMALL, all_fields, assert_same, fake_simulate

from eels_helpers.datasets.config import DatasetConfig
from eels_helpers.datasets.hdf5_reader import (
    PlainHDF5Spectra,
    TorchSplit,
    file_layout,
    open_dataset,
    open_training_split,
)
from eels_helpers.datasets.hdf5_writer import write_dataset


def test_shard_checks(reference, tmp_path):
    cfg = DatasetConfig(**SMALL)
    for i in (0, 2):
        write_dataset(tmp_path / f"s{i}.h5", cfg, seed=3, shard=(i, 3), simulate_fn=fake_simulate, progress=False)
    with pytest.raises(ValueError, match="shards 1/3 are missing"):
        open_dataset([tmp_path / "s0.h5", tmp_path / "s2.h5"])
    with pytest.raises(ValueError, match="different datasets"):
        open_dataset([tmp_path / "s0.h5", reference])
    with pytest.raises(FileNotFoundError):
        open_dataset(str(tmp_path / "nothing*.h5"))


def test_random_access_and_torch_views(reference):
    d = open_dataset(reference)
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
    assert isinstance(tds, TorchSplit)
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
    lay = file_layout(path, ["train"], strict=False)["train"]
    assert set(lay) == {"a"} and lay["a"].rows_per_chunk == 4 and lay["a"].row_nbytes == 16
    with pytest.raises(ValueError, match="train/b"):
        file_layout(path, ["train"])
    # the offsets HDF5 reports locate the rows: read row 9 by hand
    with open(path, "rb") as fh:
        fh.seek(int(lay["a"].chunk_offsets[2]) + 1 * 16)
        assert np.frombuffer(fh.read(16), "<f8").tolist() == [18.0, 19.0]


def test_reader_module_imports_neither_torch_nor_h5py():
    code = ("import sys, eels_helpers.datasets.hdf5_reader, eels_helpers.datasets.hdf5_writer; "
            "print([m for m in ('torch', 'h5py') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------------
# the one reader of training data


def _plain_file(path, n=12, labels_key="labels_identification"):
    import h5py

    rng = np.random.default_rng(0)
    x = rng.random((n, 3072), dtype=np.float32)
    y = (rng.random((n, 80)) < 0.1).astype(np.uint8)
    with h5py.File(path, "w") as f:
        f["spectra"], f[labels_key] = x, y
    return x, y


def test_open_training_split_reads_our_datasets_and_their_shards(reference, tmp_path):
    d = open_dataset(reference)
    for split in ("train", "test"):
        ds = open_training_split(reference, split)
        assert len(ds) == len(d[split])
        x, y = ds[5]
        np.testing.assert_array_equal(x.numpy(), d[split].read("spectra", 5))
        np.testing.assert_array_equal(y.numpy(), d[split].read("labels_identification", 5).astype(np.float32))
    for i in range(2):
        write_dataset(tmp_path / f"s{i}.h5", DatasetConfig(**SMALL), seed=3, shard=(i, 2), simulate_fn=fake_simulate,
                      progress=False)
    sharded = open_training_split(str(tmp_path / "s*.h5"))
    assert len(sharded) == len(d["train"])
    np.testing.assert_array_equal(sharded[len(sharded) - 1][0].numpy(), d["train"].read("spectra", -1))
    with pytest.raises(ValueError, match=rf"{reference}.*no split 'validation'.*train, test, single"):
        open_training_split(reference, "validation")


@pytest.mark.parametrize("labels_key", ["labels_identification", "labels"])
def test_open_training_split_reads_a_plain_hdf5_file(tmp_path, labels_key):
    import torch

    x, y = _plain_file(tmp_path / "plain.h5", labels_key=labels_key)
    ds = open_training_split(tmp_path / "plain.h5", "validation")   # no splits: the whole file
    assert isinstance(ds.view, PlainHDF5Spectra) and ds.fields == ("spectra", labels_key)
    assert len(ds) == 12
    xi, yi = ds[3]
    assert xi.dtype == yi.dtype == torch.float32
    np.testing.assert_array_equal(xi.numpy(), x[3])
    np.testing.assert_array_equal(yi.numpy(), y[3])
    # batches read at once (unsorted, repeated, negative rows), as through a DataLoader
    rows = [7, 2, 2, -1]
    batch = ds.__getitems__(rows)
    np.testing.assert_array_equal(np.stack([b[0].numpy() for b in batch]), x[rows])
    loader = torch.utils.data.DataLoader(ds, batch_size=5, shuffle=False, num_workers=1)
    xb, yb = next(iter(loader))
    np.testing.assert_array_equal(xb.numpy(), x[:5])
    with pytest.raises(IndexError):
        ds.view.read("spectra", [12])


def test_open_training_split_errors_name_the_file(tmp_path, reference):
    import h5py

    with pytest.raises(FileNotFoundError, match="missing.h5"):
        open_training_split(tmp_path / "missing.h5")
    text = tmp_path / "notes.h5"
    text.write_text("not an HDF5 file")
    with pytest.raises(ValueError, match=rf"{text} is not a readable HDF5 file"):
        open_training_split(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros((3, 3072), np.float32)
    with pytest.raises(ValueError, match=rf"{other}: a plain HDF5 file needs datasets 'spectra'.*found \['x'\]"):
        open_training_split(other)
    mismatched = tmp_path / "mismatched.h5"
    with h5py.File(mismatched, "w") as f:
        f["spectra"], f["labels"] = np.zeros((3, 3072), np.float32), np.zeros((2, 80), np.uint8)
    with pytest.raises(ValueError, match=rf"{mismatched}: 'spectra' has 3 rows but 'labels' has 2"):
        open_training_split(mismatched)
    _plain_file(tmp_path / "p1.h5")
    _plain_file(tmp_path / "p2.h5")
    with pytest.raises(ValueError, match="plain HDF5 file .* not 2"):
        open_training_split(str(tmp_path / "p*.h5"))
    with pytest.raises(ValueError, match=rf"{tmp_path / 'p1.h5'} is not an eels_helpers dataset file"):
        open_training_split([reference, tmp_path / "p1.h5"])


# ------------------------------------------------------------------------------------------------
# files written before the relayout (issue 14)

BEFORE = Path(__file__).resolve().parent / "data" / "written_before_relayout.h5"
BEFORE_CONFIG = dict(scale=0.001, elements=("B", "O"), splits=("test", "single"), chunk_samples=1, dtype="float16")


def test_a_file_written_before_the_relayout_reads_unchanged(tmp_path):
    """data/written_before_relayout.h5 was written by eels_helpers.datasets.hdf5 (commit 751c168) with
    ``fake_simulate``, seed 7 and BEFORE_CONFIG; today's writer writes the same rows and today's
    readers read it."""
    old = open_dataset(BEFORE)
    assert old.splits == ("test", "single") and old.seed == 7 and old.config["dtype"] == "float16"
    write_dataset(tmp_path / "now.h5", DatasetConfig(**BEFORE_CONFIG), seed=7, simulate_fn=fake_simulate,
                  progress=False)
    assert_same(all_fields(old), all_fields(tmp_path / "now.h5"))
    x, y = open_training_split(BEFORE, "test")[9]
    np.testing.assert_array_equal(x.numpy(), old["test"].read("spectra", 9).astype(np.float32))
