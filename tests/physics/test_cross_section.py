"""Cross sections (eels_helpers.physics.cross_section): kinematics, batching, extrapolation, and
the builtin table against exspy's hydrogenic model."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from eels_helpers.physics import gos_tables as gos
from eels_helpers.physics.cross_section import (
    A0_M,
    CrossSectionCalculator,
    EdgeSpec,
    dsigma_dE,
    ln_q_limits,
    resolve_edge,
)
from eels_helpers.physics.gos_tables import GosTable, write_gosh
from eels_helpers.physics.hydrogenic import HydrogenicSource

MC2 = 510998.95          # eV (CODATA)
HBAR_C = 1973.269804     # eV Angstrom


def _k(kinetic_eV):
    """Relativistic wave number (1/Angstrom) of an electron of the given kinetic energy."""
    return np.sqrt(kinetic_eV * (kinetic_eV + 2 * MC2)) / HBAR_C


@pytest.mark.parametrize("E0", [60.0, 200.0, 300.0])
def test_q_limits_against_exact_relativistic_momenta(E0):
    E = np.array([50.0, 500.0, 3000.0])
    theta = 0.03  # rad
    k0, k1 = _k(E0 * 1e3), _k(E0 * 1e3 - E)
    a0 = A0_M * 1e10
    qmin = ((k0 - k1) * a0) ** 2
    qmax = (k0**2 + k1**2 - 2 * k0 * k1 * np.cos(theta)) * a0**2
    lo, hi = ln_q_limits(E, E0, theta)
    np.testing.assert_allclose(np.exp(lo), qmin, rtol=1e-3)
    np.testing.assert_allclose(np.exp(hi), qmax, rtol=1e-3)


def test_resolve_edges():
    fe = resolve_edge("Fe L")
    assert fe.subshells[:2] == ("L3", "L2") and fe.onset_eV == 708.0
    assert resolve_edge("Fe L3").subshells == ("L3",)
    assert resolve_edge(("C", "K")) .subshells == ("K1",)
    assert resolve_edge(("C", "K1", 290.0)).onsets_eV == (290.0,)
    with pytest.raises(ValueError, match="Xx"):
        resolve_edge("Xx K")
    with pytest.raises(ValueError, match="onset"):
        EdgeSpec("bad", "C", ("K1",), (-3.0,))


def test_parameter_validation_names_parameter_and_unit():
    calc = CrossSectionCalculator(["C K"], np.arange(3072.0), "hydrogenic")
    with pytest.raises(ValueError, match=r"E0_keV = 5.0 keV .*\[10.0, 1000.0\] keV"):
        calc(5.0, 1.0, 10.0)
    with pytest.raises(ValueError, match="beta_mrad"):
        calc(200.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="alpha_mrad"):
        calc(200.0, -1.0, 10.0)


def test_batch_equals_one_by_one():
    fams = ["B K", "C K", "O K", "Fe L", "Si K", "Si L", "Cu L"]
    calc = CrossSectionCalculator(fams, np.arange(3072.0), "hydrogenic")
    E0 = np.array([60.0, 100.0, 200.0, 300.0, 300.0])
    alpha = np.array([1.0, 20.0, 0.0, 5.0, 12.0])
    beta = np.array([1.0, 100.0, 30.0, 7.0, 50.0])
    batch = calc(E0, alpha, beta)
    assert batch.shape == (5, len(fams), 3072)
    for b in range(5):
        np.testing.assert_allclose(batch[b], calc(E0[b], alpha[b], beta[b])[0], rtol=1e-12)
    one = dsigma_dE("C K", np.arange(3072.0), 200.0, 0.0, 30.0, gos="hydrogenic")
    np.testing.assert_allclose(one[0, 0], batch[2, 1], rtol=1e-12)
    # zero below the onset, positive from it; larger beta collects more
    assert np.all(batch[:, 1, :284] == 0) and np.all(batch[:, 1, 284:] > 0)
    assert np.all(calc(200.0, 0.0, 50.0) >= calc(200.0, 0.0, 10.0))
    # families without a hydrogenic GOS are listed, not silently dropped
    assert ("Fe L", "L2", "not in GOS source hydrogenic") in calc.missing


def test_power_law_extrapolation_beyond_table(tmp_path):
    """A table cut at 1 keV above threshold, extrapolated by the power law, stays within 5 % of
    the full one up to 1.25 keV (our tables reach >= 3 keV, so extrapolation is short)."""
    src = HydrogenicSource(onsets={"O": {"K1": 532.0}})
    full, _ = src.table("O", "K1")
    keep = full.free_energies_eV <= 1000.0
    cut = GosTable("O", "K1", full.q_inv_m, full.free_energies_eV[keep],
                   full.dfde_per_eV[:, keep], 532.0, 1, 0)
    path = tmp_path / "cut.gosh"
    write_gosh(path, [cut])
    E = np.arange(532.0, 532.0 + 1250.0)
    last = 532.0 + cut.free_energies_eV[-1]
    for E0, beta in ((200.0, 20.0), (60.0, 5.0), (300.0, 100.0)):
        a = CrossSectionCalculator([("O", "K1", 532.0)], E, path)(E0, 0.0, beta)[0, 0]
        b = CrossSectionCalculator([("O", "K1", 532.0)], E, src)(E0, 0.0, beta)[0, 0]
        tail = E > last
        assert tail.sum() > 200
        np.testing.assert_allclose(a[tail], b[tail], rtol=0.05)
        np.testing.assert_allclose(a[~tail], b[~tail], rtol=1e-4)
    gos.clear_source_cache()


@pytest.mark.skipif(not gos.builtin_available(),
                    reason=f"shipped GOS table {gos.BUILTIN_GOS_PATH} not generated yet")
@pytest.mark.parametrize("name,element", [("C_K", "C"), ("O_K", "O")])
def test_builtin_k_edges_agree_with_exspy_hydrogenic_within_20_percent(name, element):
    pytest.importorskip("exspy")
    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from exspy._misc.eels.hydrogenic_gos import HydrogenicGOS
    logging.disable(logging.NOTSET)
    g = HydrogenicGOS(name)
    E0, beta = 200.0, 20.0
    g.integrateq(g.onset_energy, beta * 1e-3, E0)
    # from 30 eV above the onset (past the near-edge structure neither model has in common)
    sel = (g.energy_axis > g.onset_energy + 30) & (g.energy_axis < g.onset_energy + 800)
    E = g.energy_axis[sel]
    ours = CrossSectionCalculator([(element, "K1", g.onset_energy)], E, "builtin")(E0, 0.0, beta)
    ratio = ours[0, 0] / g.qint[sel]
    assert np.all(np.abs(ratio - 1) < 0.20), ratio


@pytest.mark.slow
def test_chapter_renders_in_the_smoke_book(smoke_book):
    """The chapter "Core-loss cross sections" executes at the smoke profile and renders with
    its figures (GOS surface, edge shapes, optical-limit ratios, Bethe sum)."""
    page = smoke_book.html / "book" / "executed" / "02_cross_sections.html"
    assert page.exists(), f"not rendered (book exit code {smoke_book.exit_code})"
    html = page.read_text()
    assert "Core-loss cross sections" in html and "Kissel" in html
    assert html.count("<img") >= 4


def test_dipole_df_factor_is_egertons_bethe_factor():
    """E / ln(1 + beta^2 / theta_E^2) with a parallel beam (beta* = beta), theta_E = E / (gamma m0 v^2)
    (Egerton 2011, eqs. 3.146 and 3.28), the electron's speed from E0 directly (m0 c^2 = 510.999 keV)."""
    from eels_helpers.physics.cross_section import dipole_df_factor

    E = np.array([100.0, 160.0, 500.0])
    gamma = 1.0 + 200.0 / 510.999
    m0v2_eV = 510.999e3 * (1.0 - 1.0 / gamma ** 2)
    theta_E_rad = E / (gamma * m0v2_eV)
    expected = E / np.log1p((10e-3) ** 2 / theta_E_rad ** 2)
    np.testing.assert_allclose(dipole_df_factor(E, 200.0, 0.0, 10.0), expected, rtol=2e-4)
