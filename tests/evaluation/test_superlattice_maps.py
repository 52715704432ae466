"""Synthetic superlattices of several seeds mapped as `eels-id map` does
(eels_helpers.evaluation.superlattice_maps): kept, true, extra and missed elements per seed."""

import pytest

from eels_helpers.evaluation.superlattice_maps import (
    TRAINING_PHYSICS,
    SuperlatticeMap,
    SuperlatticeReport,
    superlattice_report,
)


@pytest.fixture(scope="module")
def builtin_gos():
    from eels_helpers.physics.gos_tables import builtin_available

    if not builtin_available():
        pytest.skip("the builtin GOS table (Ba and La M edges) is not installed")


def test_report_is_what_map_elements_keeps_on_each_seed(builtin_gos):
    from eels_helpers.inference.mapping import map_elements
    from eels_helpers.simulation.superlattice import SuperlatticeConfig, superlattice_si

    report = superlattice_report("default", 2, shape=(4, 43))
    assert [m.seed for m in report.maps] == [2023, 2024] and report.shape == (4, 43)
    si = superlattice_si(SuperlatticeConfig(shape=(4, 43), seed=2024, **TRAINING_PHYSICS))
    direct = map_elements(si, "default")
    second = report.maps[1]
    assert second.kept == tuple(direct.detected) and second.true == tuple(si.elements_in_window)
    assert set(second.true) == {"O", "Ti", "Mn", "Ba", "La"}              # Sr has no edge in 400-1000 eV
    for m in report.maps:
        assert set(m.extra) == set(m.kept) - set(m.true) and set(m.missed) == set(m.true) - set(m.kept)
        assert set(m.pixel_fraction) == set(m.kept) and all(0.01 <= f <= 1 for f in m.pixel_fraction.values())
    d = report.to_dict()
    assert d["superlattices"] == 2 and d["exact"] == report.exact and d["maps"][1]["kept"] == list(second.kept)
    plain = superlattice_report("default", 1, shape=(4, 43), physics={"gos": "builtin", "white_lines": False})
    assert plain.maps[0].true == second.true
    with pytest.raises(ValueError, match="n_seeds"):
        superlattice_report("default", 0)
    with pytest.raises(ValueError, match="gos and white_lines"):
        superlattice_report("default", 1, physics={"noise": False})


def test_summary_counts_exact_maps_and_extra_elements():
    true = ("O", "Ti", "Mn", "Ba", "La")
    maps = (SuperlatticeMap(1, true + ("Co", "Sb"), true, {}), SuperlatticeMap(2, true, true, {}),
            SuperlatticeMap(3, ("O", "Ti", "Mn", "La", "Co"), true, {}))
    report = SuperlatticeReport("m", (60, 130), maps)
    assert report.exact == 1 and report.extra_counts() == {"Co": 2, "Sb": 1}
    assert report.summary() == ("superlattices (3 seeds, 60 x 130 pixels): exactly the true elements kept in 1; "
                                "extra elements kept: Co 2/3, Sb 1/3; true elements missed: Ba")
    table = report.table()
    assert list(table.index) == [1, 2, 3] and table.loc[2, "extra"] == "-" and table.loc[3, "missed"] == "Ba"
