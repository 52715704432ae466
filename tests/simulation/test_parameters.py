"""The parameter draw (eels_helpers.simulation.parameters.draw_parameters): fixed order, the
window rules, the jump edge, shapes, and that the noise is drawn after every parameter."""

import dataclasses

import numpy as np
import pytest

from eels_helpers.physics.elements import EDGE_FAMILIES, families_of
from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.parameters import BatchParameters, draw_parameters
from eels_helpers.simulation.pipeline import simulate_batch
from eels_helpers.simulation.shape_tables import edge_tables
from eels_helpers.simulation.specimens import Specimen

CFG = SimulationConfig(E0_keV=(100.0, 200.0))
SPECIMENS = [
    Specimen(("Fe", "O"), (0.4, 0.6), "Fe"),
    Specimen(("C",), (1.0,), "C"),
    Specimen(("Ti", "Sr", "O"), (0.2, 0.2, 0.6), "Ti"),
    Specimen(("B", "N"), (0.5, 0.5), "N"),
] * 5


@pytest.fixture(scope="module")
def drawn():
    avail = edge_tables(tuple(CFG.E0_keV), CFG.gos)[1]
    return draw_parameters(SPECIMENS, CFG, np.random.default_rng(3), avail)


def test_shapes_and_frozen(drawn):
    p = drawn
    B, K = len(SPECIMENS), max(len([f for e in s.elements for f in families_of(e)])
                                for s in SPECIMENS)
    M = int(p.included.sum())
    assert isinstance(p, BatchParameters) and len(p) == B
    for name in ("E0_keV", "alpha_mrad", "beta_mrad", "start_eV", "end_eV", "query_family",
                 "jump_ratio", "jump_pair", "bg_amplitude", "bg_exponent", "atomic_diameter_pm",
                 "zlp_fwhm_eV", "n_plasmons", "t_over_lambda", "instrumental_shift_eV"):
        assert getattr(p, name).shape == (B,), name
    for name in ("family", "fraction", "chemical_shift_eV", "onset_eV", "included"):
        assert getattr(p, name).shape == (B, K), name
    for name in ("pair_spectrum", "pair_slot", "fs_width_eV", "fs_degree"):
        assert getattr(p, name).shape == (M,), name
    assert p.fs_peak_eV.shape == p.fs_weight.shape == (M, CFG.fs_degree[1])
    assert p.plasmon_energy_eV.shape == (B, CFG.n_plasmons[1])
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.jump_ratio = np.zeros(B)


def test_first_draws_are_the_microscope_in_order():
    """The draw order is part of the dataset's definition: E0, alpha, beta come first."""
    B = len(SPECIMENS)
    p = draw_parameters(SPECIMENS, CFG, np.random.default_rng(9))
    rng = np.random.default_rng(9)
    np.testing.assert_array_equal(p.E0_keV, rng.choice(np.asarray(CFG.E0_keV), size=B))
    np.testing.assert_array_equal(p.alpha_mrad, rng.uniform(*CFG.alpha_mrad, size=B))
    np.testing.assert_array_equal(p.beta_mrad, rng.uniform(*CFG.beta_mrad, size=B))


def test_noise_is_drawn_after_every_parameter():
    a = simulate_batch(SPECIMENS, CFG, np.random.default_rng(5))
    b = simulate_batch(SPECIMENS, CFG.replace(noise=False), np.random.default_rng(5))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.spectra, b.spectra)


def test_draw_equals_what_simulate_batch_stores(drawn):
    b = simulate_batch(SPECIMENS, CFG, np.random.default_rng(3))
    p = drawn
    for name in ("E0_keV", "alpha_mrad", "beta_mrad", "jump_ratio", "bg_amplitude",
                 "bg_exponent", "zlp_fwhm_eV", "t_over_lambda"):
        np.testing.assert_array_equal(b.params[name], getattr(p, name).astype(np.float32))
    for name in ("start_eV", "end_eV", "query_family", "n_plasmons", "instrumental_shift_eV"):
        np.testing.assert_array_equal(b.params[name], getattr(p, name))
    np.testing.assert_array_equal(b.params["n_edges"], p.included.sum(axis=1))
    np.testing.assert_array_equal(b.params["jump_family"], p.pair_family[p.jump_pair])


def test_window_rules(drawn):
    p = drawn
    for i in range(len(p)):
        qf = p.query_family[i]
        slot = list(p.family[i]).index(qf)
        shift = p.chemical_shift_eV[i, slot]
        majors = [EDGE_FAMILIES[qf].onset_of(s) + shift for s in EDGE_FAMILIES[qf].major]
        assert 75 <= p.start_eV[i] <= min(majors) - 10
        assert max(majors) + 25 <= p.end_eV[i] <= 3272
        assert p.included[i, slot]
        for k, f in enumerate(p.family[i]):
            if f < 0 or k == slot:
                continue
            inside = p.start_eV[i] + 10 <= p.onset_eV[i, k] <= p.end_eV[i] - 25
            assert p.included[i, k] == inside
    assert ((p.chemical_shift_eV >= -5) & (p.chemical_shift_eV <= 5)).all()


def test_jump_edge_is_an_included_edge_of_its_spectrum(drawn):
    p = drawn
    assert np.array_equal(p.pair_spectrum[p.jump_pair], np.arange(len(p)))
    assert p.included[p.pair_spectrum, p.pair_slot].all()
    assert ((p.jump_ratio >= 0.2) & (p.jump_ratio <= 1.5)).all()


def test_no_window_for_the_query_is_an_error():
    cfg = CFG.replace(end_max_eV=200)          # no Fe L (708 eV) window fits below 200 eV
    with pytest.raises(ValueError, match="no major edge set that fits"):
        draw_parameters([Specimen.pure("Fe")], cfg, np.random.default_rng(0))
