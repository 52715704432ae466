"""Datasets written once per session for the dataset tests (stand-ins in ``dataset_fakes``).

* ``reference``: the SMALL dataset written in one process with ``fake_simulate`` (seed 3): the
  reference content;
* ``real_dataset``: the REAL dataset written by the real simulator (a few spectra), opened.
"""

from __future__ import annotations

import pytest
from dataset_fakes import REAL, SMALL, fake_simulate

from eels_helpers.datasets.config import DatasetConfig, plan_units
from eels_helpers.datasets.hdf5_reader import open_dataset
from eels_helpers.datasets.hdf5_writer import write_dataset


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "full.h5"
    summary = write_dataset(path, DatasetConfig(**SMALL), seed=3, simulate_fn=fake_simulate, progress=False)
    assert summary["units_computed"] == summary["units_total"] == len(plan_units(DatasetConfig(**SMALL)))
    return path


@pytest.fixture(scope="session")
def real_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("real") / "real.h5"
    write_dataset(path, DatasetConfig(**REAL), seed=11, progress=False)
    return open_dataset(path)
