"""Generic fine structure: Seah-Dench lifetime widths, profiles, scaling by the +/- ratio."""

import warnings

import numpy as np
import pytest
from scipy import constants

from eels_helpers.simulation import fine_structure as fs


def _gamma_reference(eps_eV, a_pm):
    """Independent: Gamma = hbar v / lambda_i, v = sqrt(2 eps/m), lambda_i = Seah-Dench (nm)."""
    a_nm = a_pm / 1000.0
    lam_nm = 538.0 * a_nm / eps_eV**2 + 0.41 * a_nm**1.5 * np.sqrt(eps_eV)
    v = np.sqrt(2 * eps_eV * constants.electron_volt / constants.electron_mass)
    return constants.hbar * v / (lam_nm * 1e-9) / constants.electron_volt


def test_lifetime_width_follows_seah_dench():
    eps = np.array([0.5, 1, 5, 20, 50, 100])
    for a_pm in (25.0, 100.0, 250.0):
        np.testing.assert_allclose(fs.lifetime_width_eV(eps, a_pm / 1000),
                                   _gamma_reference(eps, a_pm), rtol=1e-6)
    # a worked number: a = 250 pm, eps = 20 eV -> lambda = 0.565 nm, Gamma ~ 3.1 eV
    lam = 538 * .25 / 400 + .41 * .25**1.5 * 20**.5
    assert fs.seah_dench_imfp_nm(20.0, 0.25) == pytest.approx(lam)
    assert fs.lifetime_width_eV(20.0, 0.25) == pytest.approx(3.09, abs=0.01)
    assert fs.lifetime_width_eV(0.0, 0.1) == 0.0


def test_profile_peak_has_the_lifetime_width():
    # one peak at 60 eV above onset, a = 100 pm: the profile's FWHM equals Gamma
    a_nm = 0.1
    g = fs.lifetime_width_eV(60.0, a_nm)
    prof = fs.fine_structure_profile(np.array([[60]]), np.array([[1.0]]), np.array([[g]]),
                                     np.array([100]), n_points=128)[0]
    assert prof.argmax() == 60 and prof.max() == pytest.approx(1.0)
    above = np.flatnonzero(prof >= 0.5)
    # on a 1 eV grid the measured width is within 1 eV of Gamma
    assert abs((above[-1] - above[0]) - g) <= 1.0 + 1e-6


def test_taper_beyond_width():
    prof = fs.fine_structure_profile(np.array([[30]]), np.array([[1.0]]), np.array([[200.0]]),
                                     np.array([50]))[0]
    assert prof[50] > 0.5 and prof[50 + fs.TAPER_EV] == pytest.approx(0, abs=1e-6)
    assert (prof[50 + fs.TAPER_EV:] == pytest.approx(0, abs=1e-6))


def test_sampled_parameters_in_table1_ranges():
    rng = np.random.default_rng(0)
    p = fs.sample_fine_structure(rng, 2000)
    assert p["width_eV"].min() >= 50 and p["width_eV"].max() <= 100
    assert p["degree"].min() == 10 and p["degree"].max() == 25
    assert (p["peak_eV"] >= 0).all() and (p["peak_eV"] <= p["width_eV"][:, None]).all()
    used = np.arange(25)[None, :] < p["degree"][:, None]
    assert (p["weight"][~used] == 0).all() and (np.abs(p["weight"][used]) <= 1).all()
    assert (p["weight"][used] < 0).any() and (p["weight"][used] > 0).any()


def test_modulation_scaling_rule():
    f = np.array([[-0.5, 1.0, 0.0],      # ratio 2 -> c = 1/0.5: dip to 0, peak 1 + 2
                  [-0.01, 1.0, 0.0],     # ratio 100 -> capped: peak 1 + 10
                  [0.0, 2.0, 1.0]],      # no negative part -> peak 1 + 10
                 dtype=np.float32)
    factor, ratio, c = fs.modulation(f, 10.0)
    np.testing.assert_allclose(ratio[:2], [2.0, 100.0], rtol=1e-5)
    assert np.isinf(ratio[2])
    np.testing.assert_allclose(factor[0], [0.0, 3.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(factor.max(axis=1), [3.0, 11.0, 11.0], rtol=1e-5)
    assert (factor >= 0).all()
    # random profiles: never negative, fine-structure peak / edge <= 10
    rng = np.random.default_rng(1)
    p = fs.sample_fine_structure(rng, 500)
    g = fs.lifetime_width_eV(p["peak_eV"], 0.1)
    fac, _, _ = fs.modulation(fs.fine_structure_profile(p["peak_eV"], p["weight"], g,
                                                        p["width_eV"]), 10.0)
    assert (fac >= 0).all() and (fac - 1 <= 10 + 1e-4).all()
    assert np.isclose(fac.min(axis=1), 0, atol=1e-5).mean() > 0.5  # most reach the zero dip
    # capped at 1 (open-world-mild): no peak lifts the edge above twice itself, dips still reach 0
    fac1, _, _ = fs.modulation(fs.fine_structure_profile(p["peak_eV"], p["weight"], g, p["width_eV"]), 1.0)
    assert (fac1 >= 0).all() and (fac1 <= 2 + 1e-5).all()
    # each profile is scaled until its peak reaches the cap (R > 1) or its dip reaches zero (R <= 1)
    assert (np.isclose(fac1.max(axis=1), 2, atol=1e-4) | np.isclose(fac1.min(axis=1), 0, atol=1e-4)).all()


def test_modulation_of_vanishing_profiles_stays_in_float32_range():
    """A negative (or whole) profile below float32 resolution must not overflow the float32
    ratio and scale that the simulator stores (seen as RuntimeWarnings in streaming training)."""
    tiny = np.float32(1e-44)                          # subnormal float32
    f = np.array([[-tiny, 1.0, 0.0],                  # ratio 1e44 > float32 max
                  [-tiny, tiny, 0.0]], dtype=np.float32)   # scale 1/1e-44 > float32 max
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        factor, ratio, c = fs.modulation(f, 10.0)
        ratio32, c32 = ratio.astype(np.float32), c.astype(np.float32)
    assert np.isinf(ratio32[0]) and np.isfinite(c32).all()
    np.testing.assert_allclose(factor[0], [1.0, 11.0, 1.0], rtol=1e-5)   # as with no dip
    assert np.isfinite(factor).all() and np.abs(factor[1] - 1).max() < 1e-4   # invisible


def test_fast_profile_equals_exact_evaluation():
    rng = np.random.default_rng(7)
    p = fs.sample_fine_structure(rng, 300)
    a = rng.uniform(0.025, 0.25, 300)
    g = fs.lifetime_width_eV(p["peak_eV"], a[:, None])
    fast = fs.fine_structure_profile(p["peak_eV"], p["weight"], g, p["width_eV"])
    exact = fs.fine_structure_profile(p["peak_eV"], p["weight"], g, p["width_eV"], exact=True)
    scale = np.abs(exact).max(axis=1, keepdims=True)
    assert np.abs(fast - exact).max() / scale.min() < 5e-3
    # a row with no peaks (degree 0) is flat zero
    w = np.array([[0, 0, 0], [1, 0, 0]], np.float32)
    z = fs.fine_structure_profile(np.zeros((2, 3), int), w, np.ones((2, 3)), np.array([50, 50]))
    assert (z[0] == 0).all() and z[1, 0] == pytest.approx(1.0)


def test_conserve_strength_moves_the_edge_strength_without_adding_to_it():
    """conserve_strength: sum over the region of edge x (factor - 1) is zero, factors stay >= 0,
    nothing changes beyond the fine structure's envelope; the paper's modulation does add."""
    rng = np.random.default_rng(3)
    p = fs.sample_fine_structure(rng, 64)
    fwhm = fs.lifetime_width_eV(p["peak_eV"], rng.uniform(0.025, 0.25, size=(64, 1)))
    prof = fs.fine_structure_profile(p["peak_eV"], p["weight"], fwhm, p["width_eV"])
    factor, _, _ = fs.modulation(prof, 3.0)
    eps = np.arange(factor.shape[1], dtype=np.float64)
    edge = np.exp(-eps / rng.uniform(30, 300, size=(64, 1)))          # decaying edges
    kept = fs.conserve_strength(factor, edge, p["width_eV"])
    assert kept.dtype == np.float32 and kept.shape == factor.shape and kept.min() >= 0
    added = np.sum(edge * (factor - 1), axis=1) / edge.sum(axis=1)
    moved = np.sum(edge * (kept - 1.0), axis=1) / edge.sum(axis=1)
    assert np.abs(added).max() > 0.05
    np.testing.assert_allclose(moved, 0.0, atol=1e-5)
    outside = fs.envelope(p["width_eV"], factor.shape[1]) == 0
    np.testing.assert_allclose(kept[outside], 1.0, atol=1e-6)
