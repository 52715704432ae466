"""Egerton's hydrogenic K and L GOS (eels_helpers.physics.hydrogenic) against exspy's HydrogenicGOS."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from eels_helpers.physics.cross_section import CrossSectionCalculator, effective_collection_angle
from eels_helpers.physics.gos_checks import bethe_sum, optical_limit_comparison
from eels_helpers.physics.hydrogenic import HydrogenicSource, gos_K, gos_L

pytest.importorskip("exspy")
logging.disable(logging.WARNING)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from exspy._misc.eels.effective_angle import effective_angle as exspy_effective_angle
    from exspy._misc.eels.hydrogenic_gos import HydrogenicGOS
logging.disable(logging.NOTSET)

CASES = [("C_K", "C", "K1"), ("O_K", "O", "K1"), ("Fe_L3", "Fe", "L3")]


def _exspy(name):
    g = HydrogenicGOS(name)
    if name.endswith("K"):
        onsets = {"K1": g.onset_energy}
    else:
        onsets = {"L3": g.onset_energy_L3, "L1": g.onset_energy_L1}
    return g, onsets


@pytest.mark.parametrize("name,element,sub", CASES)
def test_gos_pointwise_equals_exspy(name, element, sub):
    g, on = _exspy(name)
    E = g.onset_energy + np.array([0.0, 1.0, 5.0, 40.0, 137.0, 140.0, 600.0, 2500.0])
    Q = np.array([1e-3, 0.05, 0.7, 4.0, 40.0, 400.0])
    fn = g.gosfuncK if sub == "K1" else g.gosfuncL
    ref = np.array([[fn(e, qq) for e in E] for qq in Q])
    ours = (gos_K(E[None, :], Q[:, None], g.Z) if sub == "K1"
            else gos_L(E[None, :], Q[:, None], g.Z, on["L3"], on["L1"]))
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_gos_below_threshold_branch_is_finite():
    # the analytic continuation below threshold (k^2 < 0) used by SIGMAK3 near the onset
    v = gos_K(np.array([250.0, 260.0]), np.array([0.1, 1.0]), 6)
    assert np.all(np.isfinite(v)) and np.all(v > 0)


@pytest.mark.parametrize("name,element,sub", CASES)
@pytest.mark.parametrize("E0,alpha,beta", [(200.0, 0.0, 10.0), (60.0, 0.0, 2.0),
                                           (300.0, 15.0, 40.0), (100.0, 20.0, 5.0)])
def test_cross_section_matches_exspy_within_1_percent(name, element, sub, E0, alpha, beta):
    """Same formulas, independent code: our hydrogenic source through our cross-section engine
    vs exspy's quadrature, with exspy's convention for alpha (Egerton's beta* at the onset)."""
    g, on = _exspy(name)
    angle = exspy_effective_angle(E0, g.onset_energy, alpha, beta) if alpha else beta
    g.integrateq(g.onset_energy, angle * 1e-3, E0)
    src = HydrogenicSource(onsets={element: on})
    calc = CrossSectionCalculator([(element, sub, g.onset_energy)], g.energy_axis, gos=src)
    ours = calc(E0, alpha, beta)[0, 0]
    np.testing.assert_allclose(ours, g.qint, rtol=0.01)


def test_effective_angle_matches_exspy():
    for E0 in (60.0, 200.0, 300.0):
        for E in (100.0, 700.0, 2500.0):
            for a, b in ((1.0, 1.0), (20.0, 1.0), (10.0, 30.0), (5.0, 100.0), (20.0, 15.0)):
                ours = effective_collection_angle(E, E0, a, b)
                assert ours == pytest.approx(exspy_effective_angle(E0, E, a, b), rel=1e-9)
    assert effective_collection_angle(300.0, 200.0, 0.0, 12.0) == 12.0


def test_bethe_sum_rule_hydrogenic_k():
    """Bethe (1930): integral of df/dE over E -> number of electrons (2 for a K shell) when the
    Bethe ridge lies well inside the continuum."""
    assert bethe_sum("C", "K1", 10.0, "hydrogenic") == pytest.approx(2.0, rel=0.01)
    assert bethe_sum("Si", "K1", 12.0, "hydrogenic") == pytest.approx(2.0, rel=0.02)
    assert bethe_sum("C", "K1", 0.5, "hydrogenic") < 1.9  # part of the strength is bound


def test_hydrogenic_k_optical_limit_vs_kissel():
    """For K shells of Z >= 13 the hydrogenic model is known to be good to ~10 %: compare its
    optical limit with Kissel photo-ionisation (xraylib), an independent reference."""
    pytest.importorskip("xraylib")
    df = optical_limit_comparison("hydrogenic", ["Al K", "Si K"])
    assert list(df["ok"]) == [True, True]
    assert df["ratio_median"].between(0.95, 1.05).all()


def test_known_l1_onset_needs_no_xraylib(monkeypatch):
    """With the L1 onset given (as the open-world distractors give it), the L-shell GOS is computed
    without xraylib, a test-only dependency; without it the fallback says what is missing."""
    import sys

    from eels_helpers.physics.hydrogenic import HydrogenicSource

    monkeypatch.setitem(sys.modules, "xraylib", None)             # import xraylib -> ImportError
    source = HydrogenicSource(onsets={"Al": {"L3": 73.0, "L1": 118.0}})
    table, occupancy = source.table("Al", "L3")
    assert occupancy == 1.0 and np.isfinite(table.dfde_per_eV).all() and table.dfde_per_eV.max() > 0
    with pytest.raises(ImportError, match="no L1 onset is known for Al.*xraylib"):
        HydrogenicSource(onsets={"Al": {"L3": 73.0}}).table("Al", "L3")
