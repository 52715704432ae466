"""Fano profiles of the autoionising lanthanide N4,5 lines (eels_helpers.physics.fano_lines).

References: Fano's profile (Phys. Rev. 124, 1866 (1961)): (q + eps)^2 / (1 + eps^2) has its maximum
1 + q^2 at eps = 1/q and its zero at eps = -q; the resonance part (q^2 - 1 + 2 q eps) / (1 + eps^2)
has the antiderivative (q^2 - 1) atan(eps) + q ln(1 + eps^2); q -> infinity is the Lorentzian."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.physics import elements
from eels_helpers.physics import fano_lines as fl
from eels_helpers.physics import white_lines as wl


def _antiderivative(eps, q):
    return (q * q - 1) * np.arctan(eps) + q * np.log1p(eps * eps)


@pytest.mark.parametrize("bin_eV", [1.0, 0.25])
@pytest.mark.parametrize("q", [1.5, 3.0, 6.0])
def test_unit_area_and_fanos_shape_below_the_taper(q, bin_eV):
    E_line, fwhm = np.array([150.0]), np.array([9.0])
    centre = np.arange(100.0, 320.0, bin_eV)[None, :]
    share = fl.fano_bin_share(centre, E_line, fwhm, bin_eV, q)
    assert share.sum() * bin_eV == pytest.approx(1.0, abs=2e-3)
    half = fwhm[0] / 2
    eps0 = -(q * q - 1) / (2 * q)
    assert not share[0, centre[0] + bin_eV / 2 < E_line[0] + eps0 * half].any()     # nothing below the zero
    # ratio of two regions before the taper (bounds on bin edges): the analytic integrals of Fano's
    # resonance part
    def edge(x):
        return np.round((x - centre[0, 0] + bin_eV / 2) / bin_eV) * bin_eV + centre[0, 0] - bin_eV / 2

    def region(lo, hi):
        m = (centre[0] > lo) & (centre[0] < hi)
        return share[0, m].sum() * bin_eV

    def analytic(lo, hi):
        return _antiderivative((hi - E_line[0]) / half, q) - _antiderivative((lo - E_line[0]) / half, q)

    a = (edge(E_line[0] + eps0 * half + 1.0), edge(E_line[0] + 5.0))
    b = (a[1], edge(E_line[0] + 40.0))
    assert region(*a) / region(*b) == pytest.approx(analytic(*a) / analytic(*b), rel=0.01)


def test_maximum_at_eps_one_over_q_and_large_q_is_lorentzian():
    E_line, fwhm, q = np.array([120.0]), np.array([8.0]), 3.0
    E = np.arange(100.0, 200.0, 0.01)[None, :]
    d = fl.fano_density(E, E_line, fwhm, q)[0]
    assert E[0, np.argmax(d)] == pytest.approx(E_line[0] + (fwhm[0] / 2) / q, abs=0.02)
    assert d.max() == pytest.approx(q * q, rel=1e-4)                  # (q^2 - 1 + 2) / (1 + 1/q^2) = q^2
    centre = np.arange(100.0, 140.0, 0.5)[None, :]
    fano = fl.fano_bin_share(centre, E_line, fwhm, 0.5, 400.0)
    lorentz = wl.lorentzian_bin_share(centre, E_line, fwhm, 0.5)
    np.testing.assert_allclose(fano, lorentz, rtol=0.02, atol=2e-4)


def test_profile_validation_names_the_parameter():
    with pytest.raises(ValueError, match="q must be > 1"):
        fl.FanoProfile(q=1.0)
    with pytest.raises(ValueError, match="extra_fwhm_eV"):
        fl.FanoProfile(q=3.0, extra_fwhm_eV=-1.0)


def test_autoionising_lines_are_the_lanthanide_n45_lines_above_the_threshold():
    table = wl.white_lines(wl.TABLE_PATHS["autoionisation"])
    chosen = [ln for ln in table if fl.is_autoionising(ln)]
    assert {ln.family for ln in chosen} <= {f"{el} N" for el in "La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb".split()}
    assert all(ln.offset_eV >= 0 for ln in chosen)
    er = {ln.component: ln for ln in table if ln.family == "Er N"}
    assert not fl.is_autoionising(er["N45_2"]) and fl.is_autoionising(er["N45_3"])    # -0.64 eV / +5.2 eV
    assert not any(fl.is_autoionising(ln) for ln in table if ln.family.endswith((" L", " M")))
    # below the threshold only the narrow (no autoionisation width) lines: the table's two widths
    assert {round(ln.fwhm_eV - min(x.fwhm_eV for x in table if x.family == ln.family), 3)
            for ln in chosen if ln.family == "Er N"} == {4.5}


def test_fano_model_keeps_each_familys_strength_and_lengthens_the_tail():
    """The "autoionisation-fano" model: each family's lines integrate to the sum of its lines' sigma(beta*)
    (beta* at the family's first onset, Egerton eq. 4.73), as the Lorentzians do (the profile moves
    strength, never makes it); 40 eV above the lines the Fano tail is several times the Lorentzian's;
    Ti L2,3 unchanged."""
    from eels_helpers.physics.cross_section import effective_collection_angle

    assert wl.line_profile("autoionisation-fano") == fl.FanoProfile()
    assert wl.line_profile("autoionisation") is None and wl.line_profile(True) is None
    assert wl.table_path("autoionisation-fano") == wl.TABLE_PATHS["autoionisation"]
    fams = [elements.family(n) for n in ("Nd N", "Ho N", "Ti L")]
    E = np.arange(60.0, 900.0, 0.5)
    kw = {"path": wl.TABLE_PATHS["autoionisation"]}
    _, owner, lorentz = wl.line_profiles(fams, E, 200.0, 1.0, 10.0, **kw)
    lines, owner_f, fano = wl.line_profiles(fams, E, 200.0, 1.0, 10.0, profile=fl.FanoProfile(), **kw)
    assert owner.tolist() == owner_f.tolist()
    for i, fam in enumerate(fams[:2]):
        lo, fa = lorentz[owner == i].sum(axis=0), fano[owner_f == i].sum(axis=0)
        sel = [ln for ln, o in zip(lines, owner_f) if o == i]
        be = float(effective_collection_angle(fam.first_onset_eV, 200.0, 1.0, 10.0))
        sigma = wl.line_cross_sections(np.array([ln.f_q for ln in sel]),
                                       np.array([fam.first_onset_eV + ln.offset_eV for ln in sel]), 200.0,
                                       np.full(len(sel), be))
        assert fa.sum() * 0.5 == pytest.approx(sigma.sum(), rel=0.005), fam.name
        at = np.searchsorted(E, E[np.argmax(lo)] + 40.0)
        assert fa[at] / fa.max() > 3 * lo[at] / lo.max(), fam.name
    np.testing.assert_array_equal(lorentz[owner == 2], fano[owner_f == 2])


def test_unknown_white_line_model_is_named():
    with pytest.raises(ValueError, match="white-line model must be one of"):
        wl.table_path("fano")
