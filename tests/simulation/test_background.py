"""Power-law background A (E/E_start)^-r."""

import numpy as np

from eels_helpers.simulation.background import power_law


def test_power_law_formula_and_value_at_start():
    E = np.arange(50, 3072)
    A = np.array([1e3, 1e7])
    r = np.array([2.0, 3.7])
    s = np.array([75, 400])
    bg = power_law(E, A, r, s)
    ref = A[:, None] * (E[None, :] / s[:, None]) ** (-r[:, None])
    np.testing.assert_allclose(bg, ref, rtol=2e-5)
    np.testing.assert_allclose(bg[[0, 1], s - 50], A, rtol=1e-5)
    assert bg.dtype == np.float32 and (np.diff(bg, axis=1) < 0).all()


def test_power_law_per_row_energies():
    E = np.array([[100.0, 200.0], [300.0, 600.0]])
    bg = power_law(E, np.array([10.0, 10.0]), np.array([2.0, 3.0]), np.array([100, 300]))
    np.testing.assert_allclose(bg, [[10, 2.5], [10, 1.25]], rtol=1e-5)
