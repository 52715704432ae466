"""The pre-processing's cubic spline, checked against SciPy's interpolating spline."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.inference.spline import not_a_knot_spline, spline_operator, spline_rows


def test_not_a_knot_spline_equals_scipys_interpolating_spline():
    """The NumPy spline (no SciPy import at start-up) is scipy's make_interp_spline(k=3)."""
    from scipy.interpolate import make_interp_spline

    rng = np.random.default_rng(3)
    for n in (4, 5, 9, 300):
        x = np.cumsum(rng.uniform(0.2, 2.0, n)) + 100.0          # uneven knots (eV)
        y = rng.normal(size=(n, 3)) * 1e3
        at = np.linspace(x[0], x[-1], 517)
        expected = make_interp_spline(x, y, k=3)(at)
        assert np.allclose(not_a_knot_spline(x, y, at), expected, rtol=0, atol=1e-9 * np.abs(y).max())
    with pytest.raises(ValueError, match=">= 4 knots"):
        not_a_knot_spline(np.arange(3.0), np.ones((3, 1)), np.arange(3.0))


def test_spline_rows_in_blocks_equals_the_spline_of_each_row(monkeypatch):
    """Rows are independent: the matrix form over blocks of rows (a short last block included)
    is the row-by-row spline, and a given operator is the one it would compute."""
    from eels_helpers.inference import spline

    monkeypatch.setattr(spline, "CHUNK", 4)
    rng = np.random.default_rng(5)
    x = np.cumsum(rng.uniform(0.5, 1.5, 40)) + 80.0
    y = rng.normal(size=(11, 40)) * 50.0 + 1e3
    at = np.arange(np.ceil(x[0]), np.floor(x[-1]) + 1.0)
    expected = not_a_knot_spline(x, y.T, at).T
    np.testing.assert_allclose(spline_rows(x, y, at), expected, rtol=1e-6)
    np.testing.assert_allclose(spline_rows(x, y, at, spline_operator(x, at, y.shape[0])), expected, rtol=1e-6)
    assert spline_operator(x, at, 7) is None          # few rows: fitted row by row
