"""The optional white lines of the simulator's shape tables (SimulationConfig.white_lines).

Off (the default) the tables are those of the continuum alone, bit for bit; on, the simulated
edges of Ti L2,3, Ce M4,5 and Tm N4,5 peak at their white lines. Published peaks: Ti L3 456 eV
(Leapman, Grunes & Fejes, Phys. Rev. B 26, 614 (1982)), Ce M5 883 eV (CeO2; Fortner & Buck,
Appl. Phys. Lett. 68, 3817 (1996)); Tm N4,5: no single published peak (its 4d-4f multiplet
spreads over ~20 eV and starts ~12 eV below the tabulated 180 eV onset): the check is against
the model's own N5 position, the tabulated onset.
"""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.physics.elements import EDGE_FAMILIES
from eels_helpers.physics.gos_tables import builtin_available
from eels_helpers.simulation import shape_tables as sim
from eels_helpers.simulation.config import SimulationConfig

pytestmark = pytest.mark.skipif(not builtin_available(),
                                reason="M and N edges need the builtin GOS table")
NAMES = [f.name for f in EDGE_FAMILIES]


@pytest.fixture(scope="module")
def tables():
    return (sim.ShapeTable.build(200.0, "builtin", n_beta=6),
            sim.ShapeTable.build(200.0, "builtin", n_beta=6, white_lines=False),
            sim.ShapeTable.build(200.0, "builtin", n_beta=6, white_lines=True))


def test_off_is_bit_identical(tables):
    plain, off, _ = tables
    assert off.shapes.dtype == plain.shapes.dtype
    assert np.array_equal(off.shapes, plain.shapes)
    assert off.first_offset == plain.first_offset


def test_families_without_lines_unchanged(tables):
    plain, _, on = tables
    for name in ("C K", "Cu L", "Ba M", "Lu M", "Au M"):
        i = NAMES.index(name)
        assert np.array_equal(on.shapes[:, i], plain.shapes[:, i]), name


@pytest.mark.parametrize("name", ["Ti L", "Mn L", "La M", "Ce M"])
def test_fit_models_lines_equal_the_shape_table_lines(tables, name):
    """The fit models' white lines (physics.white_lines.edge_cross_sections: an absolute energy
    axis, beta* from alpha and beta) equal the simulator's (shape table with minus without
    lines: offsets from the onset channel, tabulated beta* nodes) at the same E0 and beta."""
    from eels_helpers.physics.white_lines import edge_cross_sections

    plain, _, on = tables
    i = NAMES.index(name)
    E = on.onset_channel[i] + on.first_offset + np.arange(on.shapes.shape[2], dtype=np.float64)
    for k in (1, 4):
        beta = float(on.beta_eff_mrad[k])                  # a node: alpha = 0 gives beta* = beta
        table = on.rows([i], [0.0], [beta])[0].astype(np.float64) - plain.rows([i], [0.0], [beta])[0]
        lines = edge_cross_sections([EDGE_FAMILIES[i]], E, 200.0, 0.0, beta, "builtin")[1][0]
        assert table.max() > 0
        np.testing.assert_allclose(lines, table, rtol=1e-4, atol=2e-6 * table.max())


@pytest.mark.parametrize("name,peak_eV,tol", [("Ti L", 456, 3), ("Ce M", 883, 3),
                                              ("Tm N", 180, 5)])
def test_maximum_at_the_white_line(tables, name, peak_eV, tol):
    plain, _, on = tables
    i = NAMES.index(name)
    E = on.onset_channel[i] + on.first_offset + np.arange(on.shapes.shape[2])
    for alpha, beta in ((1.0, 5.0), (10.0, 30.0), (20.0, 100.0)):
        row = on.rows([i], [alpha], [beta])[0]
        base = plain.rows([i], [alpha], [beta])[0]
        assert abs(E[np.argmax(row)] - peak_eV) <= tol
        assert row.max() > 2 * base.max()                 # white lines dominate the edge
        assert np.all(row >= base)


def test_cache_key_includes_the_flag():
    assert sim._table_key(200.0, "hydrogenic", 4, True) != sim._table_key(200.0, "hydrogenic", 4)
    assert sim._table_key(200.0, "hydrogenic", 4, False) == sim._table_key(200.0, "hydrogenic", 4)


def test_config_field_and_pipeline(monkeypatch):
    assert SimulationConfig().white_lines is False
    with pytest.raises(ValueError, match="white_lines"):
        SimulationConfig(white_lines=1)
    seen = []
    real = sim.edge_tables

    def spy(E0, gos="auto", white_lines=False):
        seen.append(white_lines)
        return real(E0, gos, white_lines)

    from eels_helpers.simulation import pipeline
    from eels_helpers.simulation.specimens import Specimen

    monkeypatch.setattr(pipeline, "edge_tables", spy)
    monkeypatch.setenv(sim.CACHE_ENV, "off")
    cfg = SimulationConfig(E0_keV=(200.0,), white_lines=True)
    pipeline.simulate_batch([Specimen(("Ti", "O"), (1 / 3, 2 / 3), "Ti")], cfg,
                            np.random.default_rng(0))
    assert seen == ["single-particle", False]     # the second: the continuum tables carry the jump ratio
    pipeline.simulate_batch([Specimen(("Ti", "O"), (1 / 3, 2 / 3), "Ti")],
                            cfg.replace(white_line_model="multiplet"), np.random.default_rng(0))
    assert seen[2:] == ["multiplet", False]
    with pytest.raises(ValueError, match="white_line_model.*multiplet"):
        SimulationConfig(white_line_model="statistical")


def test_white_lines_add_to_the_paper_edges_with_the_same_jump_ratio():
    from eels_helpers.simulation import pipeline
    from eels_helpers.simulation.specimens import pure_specimens

    specs = pure_specimens("Fe", 6) + pure_specimens("Ce", 6)
    plain = pipeline.simulate_batch(specs, SimulationConfig(noise=False), 3, return_steps=True)
    lines = pipeline.simulate_batch(specs, SimulationConfig(noise=False, white_lines=True), 3,
                                    return_steps=True)
    a, b = plain.steps["jump_edge"], lines.steps["jump_edge"]
    onset = np.rint(plain.params["jump_onset_eV"]).astype(int)
    for i in range(len(specs)):
        far = slice(onset[i] + 120, onset[i] + 300)      # well above the lines' Lorentzians
        np.testing.assert_allclose(b[i, far], a[i, far], rtol=0.05)
        assert b[i].max() > 1.5 * a[i].max()               # the lines stand above the continuum
