"""Stand-ins shared by the dataset tests (a module of its own, importable by name, so that worker
processes started with "spawn" and the killed-writer subprocess can unpickle ``fake_simulate``).

``fake_simulate`` is a cheap stand-in with the API of ``simulate_batch`` (random spectra, labels =
the specimen, two sampled parameters), so that the tests check the dataset machinery in seconds;
the tests marked "real simulator" run ``simulate_batch`` itself on a few spectra.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from eels_helpers.datasets.hdf5_reader import SpectraDataset, open_dataset
from eels_helpers.physics.elements import ELEMENTS

SMALL = dict(scale=0.01, elements=("B", "C", "O", "Fe", "Ce", "Bi"), splits=("train", "test", "single"),
             chunk_samples=4)
REAL = dict(scale=0.005, elements=("B", "O", "Si", "Fe"), splits=("test", "single"), chunk_samples=2)


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


def all_fields(path_or_ds):
    d = path_or_ds if isinstance(path_or_ds, SpectraDataset) else open_dataset(path_or_ds)
    return {(s, f): d[s].read(f) for s in d.splits for f in d[s].fields}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=str(k))
