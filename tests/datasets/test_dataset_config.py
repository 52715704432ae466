"""The dataset configuration, its work units and shards, and the content of a unit
(eels_helpers.datasets.config; named test_dataset_config so as not to clash with
tests/simulation/test_config.py)."""

from __future__ import annotations

import numpy as np
import pytest
from dataset_fakes import REAL, SMALL

from eels_helpers.datasets.config import FORMAT, SPLITS, DatasetConfig, parse_shard, plan_units, simulate_unit
from eels_helpers.physics.elements import ELEMENTS


def test_paper_counts_and_profiles():
    cfg = DatasetConfig()
    assert cfg.n_spectra() == 736_000
    assert {s: cfg.n_spectra(s) for s in SPLITS} == {
        "train": 80 * 1400 * 5, "validation": 80 * 300 * 2, "test": 80 * 300 * 5, "single": 80 * 100}
    assert DatasetConfig.from_profile("paper") == cfg
    assert DatasetConfig.from_profile("smoke").n_spectra() < DatasetConfig.from_profile("cpu").n_spectra()
    with pytest.raises(ValueError, match="unknown profile 'big'"):
        DatasetConfig.from_profile("big")


def test_file_format_identifier_is_unchanged():
    """Files written before the relayout carry this identifier: it must not follow module names."""
    assert FORMAT == "eels_helpers.dataset"


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
        DatasetConfig(**kwargs)


def test_units_partition_and_shards():
    cfg = DatasetConfig(**SMALL)
    units = plan_units(cfg)
    assert [u.id for u in units] == list(range(len(units)))
    assert sum(u.n_rows for u in units) == cfg.n_spectra()
    shards = [[u.id for u in units if u.id % 3 == i] for i in range(3)]
    assert sorted(sum(shards, [])) == [u.id for u in units]
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


def test_real_simulator_unit_is_deterministic():
    cfg = DatasetConfig(**REAL)
    unit = plan_units(cfg)[1]
    a, b = simulate_unit(unit, cfg, 5), simulate_unit(unit, cfg, 5)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["spectra"], simulate_unit(unit, cfg, 6)["spectra"])


def test_a_simulation_excluding_elements_drops_them_as_query_elements():
    from eels_helpers.simulation.config import SimulationConfig

    cfg = DatasetConfig(scale=0.01, simulation=SimulationConfig(exclude_elements=("Tc", "Pm")))
    assert "Tc" not in cfg.elements and "Pm" not in cfg.elements and len(cfg.elements) == 78
    assert {ELEMENTS[u.element] for u in plan_units(cfg)} == set(cfg.elements)
    with pytest.raises(ValueError, match="exclude_elements"):
        DatasetConfig(elements=("Tc",), simulation=SimulationConfig(exclude_elements=("Tc",)))
