"""The cubic spline of the pre-processing (paper Fig. 3, step 3): not-a-knot interpolation in NumPy.

:func:`not_a_knot_spline` is ``scipy.interpolate.make_interp_spline(x, y, k=3)`` without importing
SciPy's interpolation at start-up; :func:`spline_rows` applies it to many spectra on one axis as
one matrix (:func:`spline_operator`), in blocks of ``CHUNK`` rows.
"""
from __future__ import annotations

import numpy as np

__all__ = ["CHUNK", "OPERATOR_MAX_POINTS", "not_a_knot_spline", "spline_operator", "spline_rows"]

#: spectra per matrix product (bounds memory for large spectrum images)
CHUNK = 4096
#: above this many (rebinned) channels the spline is fitted per batch instead of as a matrix
OPERATOR_MAX_POINTS = 4096


def not_a_knot_spline(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Cubic interpolating spline with not-a-knot ends through ``(x, y[:, j])``, evaluated at ``at``.

    The spline of ``scipy.interpolate.make_interp_spline(x, y, k=3)`` (and of ``splrep(s=0)``),
    computed in NumPy so that reading one spectrum does not import SciPy's interpolation
    package (a large share of ``eels-id predict``'s start-up). The slopes s_i at the knots solve
    the tridiagonal system of C2 continuity with the not-a-knot conditions at both ends (de Boor,
    *A Practical Guide to Splines*, ch. IV, the formulation of ``scipy.interpolate.CubicSpline``),
    by the Thomas algorithm, which needs no pivoting here: the interior rows are diagonally
    dominant and the end rows are eliminated into their neighbours first. Each interval is then
    the cubic Hermite polynomial of its end values and slopes.

    Parameters
    ----------
    x : numpy.ndarray
        Knots, shape ``(n,)``, strictly increasing, ``n >= 4`` (eV).
    y : numpy.ndarray
        Values at the knots, shape ``(n, k)``: one spline per column.
    at : numpy.ndarray
        Where to evaluate, shape ``(m,)``, inside ``[x[0], x[-1]]`` (eV).

    Returns
    -------
    numpy.ndarray
        float64 values, shape ``(m, k)``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.size
    if n < 4 or y.shape[0] != n or y.ndim != 2:
        raise ValueError(f"a not-a-knot cubic spline needs >= 4 knots and values (n, k); got "
                         f"{n} knots and values of shape {y.shape}")
    dx = np.diff(x)
    slope = np.diff(y, axis=0) / dx[:, None]                       # (n-1, k)
    lower = np.zeros(n)
    diag = np.empty(n)
    upper = np.zeros(n)
    rhs = np.empty_like(y)
    lower[1:-1], diag[1:-1], upper[1:-1] = dx[1:], 2.0 * (dx[:-1] + dx[1:]), dx[:-1]
    rhs[1:-1] = 3.0 * (dx[1:, None] * slope[:-1] + dx[:-1, None] * slope[1:])
    d = x[2] - x[0]                                                # not-a-knot at x[1]
    diag[0], upper[0] = dx[1], d
    rhs[0] = ((dx[0] + 2.0 * d) * dx[1] * slope[0] + dx[0] ** 2 * slope[1]) / d
    d = x[-1] - x[-3]                                              # not-a-knot at x[-2]
    lower[-1], diag[-1] = d, dx[-2]
    rhs[-1] = (dx[-1] ** 2 * slope[-2] + (2.0 * d + dx[-1]) * dx[-2] * slope[-1]) / d
    # Thomas algorithm: the factors are scalars (the same matrix for every column)
    c = np.empty(n)
    c[0] = upper[0] / diag[0]
    rhs[0] /= diag[0]
    for i in range(1, n):
        denom = diag[i] - lower[i] * c[i - 1]
        c[i] = upper[i] / denom
        rhs[i] -= lower[i] * rhs[i - 1]
        rhs[i] /= denom
    for i in range(n - 2, -1, -1):
        rhs[i] -= c[i] * rhs[i + 1]
    s = rhs                                                        # slopes at the knots (n, k)
    at = np.asarray(at, dtype=np.float64)
    i = np.clip(np.searchsorted(x, at, side="right") - 1, 0, n - 2)
    t = (at - x[i])[:, None]
    h = dx[i][:, None]
    s0, s1, m = s[i], s[i + 1], slope[i]
    c2 = (3.0 * m - 2.0 * s0 - s1) / h
    c3 = (s0 + s1 - 2.0 * m) / h**2
    return y[i] + t * (s0 + t * (c2 + t * c3))


def spline_rows(x: np.ndarray, y: np.ndarray, grid: np.ndarray, operator: np.ndarray | None = None) -> np.ndarray:
    """Not-a-knot cubic interpolating spline through (x, y[b]) for every row b, at grid.

    The interpolating spline is linear in the data, so for a batch it is applied as one
    matrix: M = spline(identity) evaluated at grid (m x n, :func:`spline_operator`; pass it as
    ``operator`` to reuse it over blocks of rows), result = y @ M.T (exact, and ~10x faster than
    fitting every row for spectrum images).
    """
    if operator is None:
        operator = spline_operator(x, grid, y.shape[0])
    if operator is None:
        return not_a_knot_spline(x, np.ascontiguousarray(y.T), grid).T.astype(np.float32)
    result = np.empty((y.shape[0], grid.size), dtype=np.float32)
    for start in range(0, y.shape[0], CHUNK):
        result[start : start + CHUNK] = y[start : start + CHUNK] @ operator.T
    return result


def spline_operator(x: np.ndarray, grid: np.ndarray, n_rows: int) -> np.ndarray | None:
    """The (m, n) matrix of :func:`spline_rows` for ``n_rows`` spectra on ``x``, or None where fitting
    row by row is cheaper (fewer than 8 rows, more than ``OPERATOR_MAX_POINTS`` points)."""
    if n_rows < 8 or x.size > OPERATOR_MAX_POINTS:
        return None
    return not_a_knot_spline(x, np.eye(x.size), grid)
