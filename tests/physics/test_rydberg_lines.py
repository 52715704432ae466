"""The Kr 3d -> np Rydberg lines (eels_helpers.physics.rydberg_lines) against measured positions, quantum-defect
theory and the continuum they join; the "+rydberg" GOS source changes nothing but the Kr M4,5 tables."""

import numpy as np
import pytest

from eels_helpers.physics import rydberg_lines as ry
from eels_helpers.physics.cross_section import dsigma_dE
from eels_helpers.physics.elements import OTHER_EDGES
from eels_helpers.physics.gos_tables import get_source

RYDBERG_EV = 13.605693


def _kr_m45():
    return next(e for e in OTHER_EDGES["Kr"] if e.name == "Kr M4,5")


def test_equivalent_core_positions_match_king_1977():
    """E_threshold - B(Rb n'p) against the measured 3d5/2, 3d3/2 -> 5p lines (King et al., J. Phys. B 10,
    2479 (1977): 91.20 and 92.43 eV)."""
    for (el, sub, fin), measured in ry.MEASURED_EV.items():
        assert ry.line_energy_eV(el, sub, fin) == pytest.approx(measured, abs=0.2)
    shipped = {(ln.element, ln.subshell, ln.final): ln.energy_eV for ln in ry.rydberg_lines()}
    for key, e in shipped.items():
        assert e == pytest.approx(ry.line_energy_eV(*key), abs=1e-3)
        assert e < ry.THRESHOLDS_EV[key[:2]]          # bound: below the gas threshold


def test_unknown_threshold_is_named():
    with pytest.raises(ValueError, match="Xe M5"):
        ry.line_energy_eV("Xe", "M5", "6p")


def test_series_scales_as_quantum_defect_theory_and_joins_the_continuum():
    """f_n n*^3 is nearly constant along a Rydberg series, and the series' oscillator-strength density
    f_n n*^3 / (2R) meets the continuum's df/dE at the threshold (Fano & Cooper, Rev. Mod. Phys. 40, 441
    (1968), sec. 2.3): below the continuum there (the 3d -> epsilon f channel adds to it, if little at the
    threshold, held back by the centrifugal barrier) and not far below."""
    src = get_source("builtin")
    for sub in ("M5", "M4"):
        lines = [ln for ln in ry.rydberg_lines() if ln.subshell == sub]
        assert [ln.final for ln in lines] == ["5p", "6p", "7p"]
        n_star = np.array([np.sqrt(RYDBERG_EV / ry.Z_PLUS_1_BINDING_EV[("Rb", ln.final)]) for ln in lines])
        density = np.array([ln.f_q[0] for ln in lines]) * n_star**3 / (2 * RYDBERG_EV)
        assert density.max() / density.min() < 1.15
        table, _ = src.table("Kr", sub)
        cont = table.continuum()
        at_threshold = float(cont.interpolate([0.5], [cont.q_inv_m[0]])[0, 0])
        assert 0.5 * at_threshold < density[-1] < at_threshold


def test_shipped_table_is_what_the_lda_atoms_give():
    pytest.importorskip("gpaw")
    fresh = ry.compute_lines()
    shipped = ry.rydberg_lines()
    assert [(ln.element, ln.subshell, ln.final) for ln in fresh] == [
        (ln.element, ln.subshell, ln.final) for ln in shipped]
    for a, b in zip(fresh, shipped):
        np.testing.assert_allclose(a.f_q, b.f_q, rtol=1e-4)


def test_source_adds_bound_rows_to_kr_m45_only():
    base = get_source("builtin+4f-multiplet")
    src = get_source("builtin+4f-multiplet+rydberg")
    assert isinstance(src, ry.RydbergSource) and src.base is base
    for el, sub in (("Kr", "M3"), ("Kr", "L3"), ("Fe", "L3"), ("Ba", "M5"), ("Ar", "L3"), ("Xe", "M5")):
        assert src.table(el, sub)[0] is base.table(el, sub)[0]
    for sub, onset in zip(_kr_m45().subshells, _kr_m45().onsets_eV):
        t, ratio = src.table("Kr", sub)
        t0, ratio0 = base.table("Kr", sub)
        assert ratio == ratio0
        fe, rows = t.bound()
        expected = sorted(ln.energy_eV - onset for ln in ry.rydberg_lines() if ln.subshell == sub)
        np.testing.assert_allclose(fe, expected, atol=1e-9)
        assert np.all(rows > 0)
        np.testing.assert_array_equal(t.continuum().dfde_per_eV, t0.dfde_per_eV)


def test_cross_section_gains_the_lines_below_the_threshold_only():
    E = np.arange(80.0, 140.0, 0.5)
    edge = [_kr_m45()]
    without = dsigma_dE(edge, E, 200, 10, 20, gos="builtin+4f-multiplet")[0, 0]
    with_lines = dsigma_dE(edge, E, 200, 10, 20, gos="builtin+4f-multiplet+rydberg")[0, 0]
    added = with_lines - without
    assert np.all(added >= -1e-9 * with_lines.max())
    # the 1-eV Gaussians of lines at 91.2-94.3 eV: nothing beyond 4.5 sigma of them
    assert np.all(added[(E < 86.5) | (E > 99.0)] <= 1e-6 * with_lines.max())
    peak = E[np.argmax(added)]
    assert 90.5 <= peak <= 93.0
    assert added[(E >= 90) & (E <= 93)].max() > 0.3 * without[(E > 95) & (E < 100)].mean()
