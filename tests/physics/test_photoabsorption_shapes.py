"""The lanthanide N4,5 giant resonance shaped as the measured 4d photoabsorption
(eels_helpers.physics.photoabsorption_shapes, white-line model "autoionisation-henke").

Reference values: the maxima of the 4d photoabsorption in the Henke / CXRO tables (Henke, Gullikson &
Davis, At. Data Nucl. Data Tables 54, 181 (1993), f2 of the ``xsf`` files of periodictable 1.7.1, read
after a power law fitted at 60-90 eV is subtracted; research log D35h), in eV."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.physics import elements
from eels_helpers.physics import fano_lines as fl
from eels_helpers.physics import photoabsorption_shapes as ps
from eels_helpers.physics import white_lines as wl

#: maxima of the measured 4d photoabsorption (Henke et al. 1993), eV
HENKE_MAXIMA_EV = {"La": 119.3, "Ce": 124.2, "Nd": 132.4, "Sm": 134.5, "Gd": 149.1, "Tb": 150.5, "Dy": 153.0,
                   "Ho": 158.0, "Er": 163.1, "Tm": 173.9}
AUTO = wl.TABLE_PATHS["autoionisation"]


def test_shipped_shapes_are_unit_area_densities_of_the_trivalent_metals_only():
    shapes = ps.measured_shapes()
    assert set(shapes) == {f"{el} N" for el in "La Ce Pr Nd Sm Gd Tb Dy Ho Er Tm".split()}
    for family, (x, cdf) in shapes.items():
        assert cdf[0] == 0.0 and cdf[-1] == pytest.approx(1.0) and np.all(np.diff(cdf) >= 0), family
        assert x[0] >= -40.0 and x[-1] <= 150.0, family
    assert wl.line_profile("autoionisation-henke") == ps.MeasuredProfile()
    assert wl.table_path("autoionisation-henke") == AUTO


@pytest.mark.parametrize("element", sorted(HENKE_MAXIMA_EV))
def test_the_edges_maximum_is_the_measured_one(element):
    """The whole N4,5 edge's maximum (continuum + lines, df/dE-like: E dsigma/dE / ln(1 + beta*^2 /
    theta_E^2), 200 keV, 1 / 10 mrad) lies within 1.5 eV of the measured photoabsorption's; with the
    Fano lines it lies 3-15 eV above it for most of them (research log D35h, F36)."""
    from eels_helpers.physics.cross_section import dipole_df_factor

    fam = elements.family(f"{element} N")
    E = np.arange(80.0, 260.0, 0.5)
    to_df = dipole_df_factor(E, 200.0, 1.0, 10.0)
    continuum, lines, _ = wl.edge_cross_sections([fam], E, 200.0, 1.0, 10.0, gos="builtin+4f-multiplet",
                                                 white_lines="autoionisation-henke")
    if not continuum.any():
        pytest.skip("the builtin GOS table (lanthanide N families) is not shipped here")
    shape = (continuum[0] + lines[0]) * to_df
    assert E[np.argmax(shape)] == pytest.approx(HENKE_MAXIMA_EV[element], abs=1.5)


def test_each_familys_strength_is_kept_and_other_families_are_untouched():
    """As the Fano profile: the lines of a measured family integrate to the sum of their sigma(beta*)
    (beta* at the family's first onset, Egerton eq. 4.73); Eu N (divalent metal: no measured shape) keeps
    the Fano lines; Ti L2,3 its Lorentzians."""
    from eels_helpers.physics.cross_section import effective_collection_angle

    fams = [elements.family(n) for n in ("Ho N", "Eu N", "Ti L")]
    E = np.arange(60.0, 900.0, 0.5)
    lines, owner, measured = wl.line_profiles(fams, E, 200.0, 1.0, 10.0, path=AUTO, profile=ps.MeasuredProfile())
    _, _, fano = wl.line_profiles(fams, E, 200.0, 1.0, 10.0, path=AUTO, profile=fl.FanoProfile())
    _, _, lorentz = wl.line_profiles(fams, E, 200.0, 1.0, 10.0, path=AUTO)
    ho = [ln for ln, o in zip(lines, owner) if o == 0]
    be = float(effective_collection_angle(fams[0].first_onset_eV, 200.0, 1.0, 10.0))
    sigma = wl.line_cross_sections(np.array([ln.f_q for ln in ho]),
                                   np.array([fams[0].first_onset_eV + ln.offset_eV for ln in ho]), 200.0,
                                   np.full(len(ho), be))
    assert measured[owner == 0].sum() * 0.5 == pytest.approx(sigma.sum(), rel=0.005)
    assert not np.array_equal(measured[owner == 0], fano[owner == 0])
    np.testing.assert_array_equal(measured[owner == 1], fano[owner == 1])
    np.testing.assert_array_equal(measured[owner == 2], lorentz[owner == 2])


def test_the_shape_moves_with_the_familys_onset():
    """A calibration or chemical shift of the family moves every line and the measured shape with it."""
    ho = [ln for ln in wl.white_lines(AUTO) if ln.family == "Ho N" and fl.is_autoionising(ln)]
    first = elements.family("Ho N").first_onset_eV
    E_line = first + np.array([ln.offset_eV for ln in ho])
    centre = np.broadcast_to(np.arange(130.0, 260.0, 1.0), (len(ho), 130))
    prof = ps.MeasuredProfile()
    before = prof.bin_share(ho, centre, E_line, np.array([ln.fwhm_eV for ln in ho]), 1.0)
    after = prof.bin_share(ho, centre + 5.0, E_line + 5.0, np.array([ln.fwhm_eV for ln in ho]), 1.0)
    np.testing.assert_allclose(after, before, atol=1e-12)
    np.testing.assert_allclose(before, np.broadcast_to(before[0], before.shape))   # one shape for all lines


@pytest.mark.parametrize("rows, why", [("Ho N,0.0,0.0\nHo N,1.0,-0.5\nHo N,2.0,0.1\n", ">= 0"),
                                       ("Ho N,0.0,0.0\nHo N,1.0,nan\n", "finite"),
                                       ("Ho N,0.0,0.1\n", ">= 2 rows"),
                                       ("Ho N,1.0,0.1\nHo N,0.0,0.1\n", "increasing"),
                                       ("Ho N,0.0,0.0\nHo N,1.0,0.0\n", "zero everywhere")])
def test_a_bad_shape_file_names_the_family_and_the_problem(tmp_path, rows, why):
    bad = tmp_path / "shapes.csv"
    bad.write_text("# header\nfamily,offset_eV,density\n" + rows)
    with pytest.raises(ValueError, match=f"Ho N.*{why}"):
        ps.measured_shapes(bad)


def test_henke_model_has_its_own_cache_key_which_follows_the_shapes_file(tmp_path, monkeypatch):
    from eels_helpers.simulation import shape_tables as sim

    key = sim._table_key(200.0, "builtin", 4, "autoionisation-henke")
    assert key not in {sim._table_key(200.0, "builtin", 4, m) for m in ("autoionisation", "autoionisation-fano")}
    copy = tmp_path / "shapes.csv"
    copy.write_bytes(ps.SHAPES_PATH.read_bytes())
    monkeypatch.setitem(wl.LINE_PROFILES, "autoionisation-henke", ("autoionisation", ps.MeasuredProfile(path=copy)))
    assert sim._table_key(200.0, "builtin", 4, "autoionisation-henke") == key       # the same contents
    copy.write_text(copy.read_text().replace("Ho N,0.00,", "Ho N,0.00,1"))     # one density changed
    assert sim._table_key(200.0, "builtin", 4, "autoionisation-henke") != key       # edited: rebuilt
