"""The steps of the simulator (eels_helpers.simulation.steps): each against a direct
computation, and no randomness outside the noise step."""

import inspect

import numpy as np
import pytest

from eels_helpers.simulation import steps
from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.parameters import draw_parameters
from eels_helpers.simulation.shape_tables import edge_tables
from eels_helpers.simulation.specimens import Specimen

CFG = SimulationConfig(E0_keV=(200.0,))
SPECIMENS = [Specimen(("Fe", "O"), (0.4, 0.6), "Fe"), Specimen(("C",), (1.0,), "C"),
             Specimen(("Ti", "Sr", "O"), (0.2, 0.2, 0.6), "Ti")] * 3


@pytest.fixture(scope="module")
def drawn():
    tables, avail = edge_tables(tuple(CFG.E0_keV), CFG.gos)
    return tables, draw_parameters(SPECIMENS, CFG, np.random.default_rng(1), avail)


def test_only_the_noise_step_takes_a_generator():
    for name in steps.__all__:
        obj = getattr(steps, name)
        if inspect.isfunction(obj):
            takes_rng = "rng" in inspect.signature(obj).parameters
            assert takes_rng == (name == "counting_noise"), name


def test_place_edges_is_a_sum_of_slices():
    rng = np.random.default_rng(0)
    rows = rng.random((5, 7)).astype(np.float32)
    b = np.array([0, 1, 0, 2, 0])
    first = np.array([0, 3, 2, 10, 95])
    out = steps.place_edges(rows, b, first, 3, n_channels=100)
    ref = np.zeros((3, 100 + 7), np.float32)
    for m in range(5):
        ref[b[m], first[m]:first[m] + 7] += rows[m]
    np.testing.assert_array_equal(out, ref[:, :100])
    with pytest.raises(ValueError, match=">= 0"):
        steps.place_edges(rows, b, first - 1, 3)


def test_instrumental_shift_moves_true_energy_to_recorded_channel():
    s_max, n = 3, 10
    true_axis = np.tile(np.arange(-s_max, n + s_max, dtype=np.float32), (3, 1))  # value = E
    out = steps.instrumental_shift(true_axis, np.array([-2, 0, 3]), n, s_max)
    ch = np.arange(n)
    for row, s in zip(out, (-2, 0, 3)):
        np.testing.assert_array_equal(row, ch - s)        # recorded channel i holds E = i - s


def test_scaled_edges_give_the_drawn_jump_ratio(drawn):
    tables, p = drawn
    e = steps.scaled_edges(tables, p)
    jm = p.jump_pair
    bg = p.bg_amplitude * (e.onset_eV[jm] / p.start_eV) ** (-p.bg_exponent)
    np.testing.assert_allclose(e.rows[jm].max(axis=1) / bg, p.jump_ratio, rtol=1e-5)
    # one scale per spectrum: weight / fraction is constant within a spectrum
    scale = e.weight / p.pair_fraction
    np.testing.assert_allclose(scale, scale[jm][p.pair_spectrum], rtol=1e-12)


def test_fine_structure_keeps_edges_non_negative_and_leaves_the_pre_edge(drawn):
    tables, p = drawn
    e = steps.scaled_edges(tables, p)
    before = e.rows.copy()
    ratio = steps.add_fine_structure_step(e, p, CFG.fs_max_scale)
    assert ratio.shape == (len(e.rows),)
    assert (e.rows >= 0).all()
    for m in range(len(e.rows)):
        np.testing.assert_array_equal(e.rows[m, :e.fs_start[m]], before[m, :e.fs_start[m]])


def test_background_and_record(drawn):
    _, p = drawn
    n, s_max = 3072, 5
    bg = steps.background(p, n, s_max)
    E = np.arange(-s_max, n + s_max)
    i = 0
    ref = p.bg_amplitude[i] * (np.maximum(E, 1) / p.start_eV[i]) ** (-p.bg_exponent[i])
    np.testing.assert_allclose(bg[i], ref, rtol=1e-4)
    conv = np.zeros((len(p), steps.N_FFT), np.float32)
    conv[:, 100] = 7.0
    conv[:, -1] = 3.0                        # true energy -1 eV (circular convolution)
    total = steps.add_background(bg, conv, n, s_max)
    assert total[0, s_max + 100] == pytest.approx(bg[0, s_max + 100] + 7.0)
    assert total[0, s_max - 1] == pytest.approx(bg[0, s_max - 1] + 3.0)
    assert not np.shares_memory(total, bg)
    expected = steps.record(total, p, n, s_max)
    ch = np.arange(n)
    outside = (ch[None, :] < p.start_eV[:, None]) | (ch[None, :] > p.end_eV[:, None])
    assert (expected[outside] == 0).all() and (expected[~outside] > 0).all()


def test_normalise_and_labels(drawn):
    _, p = drawn
    x = np.array([[0, 2, 4], [0, 0, 0]], np.float32)
    np.testing.assert_array_equal(steps.normalise(x), [[0, 0.5, 1], [0, 0, 0]])
    ident, quant = steps.labels(p)
    assert ident.dtype == np.uint8 and quant.dtype == np.float32
    np.testing.assert_allclose(quant.sum(axis=1), 1.0, rtol=1e-6)
    assert ((quant > 0) == (ident == 1)).all()
    from eels_helpers.physics.elements import EDGE_FAMILIES, ELEMENTS
    for i in range(len(p)):
        fams = p.family[i][p.included[i]]
        assert {ELEMENTS[j] for j in np.flatnonzero(ident[i])} == {
            EDGE_FAMILIES[f].element for f in fams}
