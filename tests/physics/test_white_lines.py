"""White lines (eels_helpers.physics.white_lines): the shipped table against a fresh calculation,
published positions and branching ratios, and the continuity of oscillator strength across the
threshold against the continuum GOS.

References (independent of the project's validation spectra):

* white-line peak energies (eV): Ti L3 456 / L2 462, Fe L3 708 / L2 721, Ni L3 853 / L2 870
  (3d metals; Leapman, Grunes & Fejes, Phys. Rev. B 26, 614 (1982) and the EELS Atlas, Ahn &
  Krivanek 1983); Ce M5 883 / M4 901 (CeO2), Gd M5 1185, Er M5 1406 (lanthanide oxides; Thole
  et al., Phys. Rev. B 32, 5107 (1985); Fortner & Buck, Appl. Phys. Lett. 68, 3817 (1996)).
  Tolerance 3.5 eV: metal-oxide chemical shifts of these lines are 1-3 eV, and the simulator
  itself draws chemical shifts of +-5 eV.
* measured intensity ratios: L3/L2 = 0.8 (Ti), ~3.5 (Fe), ~3 (Ni) (Leapman et al. 1982; the
  brief's Fe 3-4); M5/M4 ~ 0.8 for Ce4+ (Fortner & Buck 1996). Our statistical (2j+1) ratios,
  2 and 1.5, must lie within a factor 3 of them: without multiplets (the 2p-3d and 3d-4f
  exchange that transfers strength between the components) no single-particle model does better;
  the multiplet table's Ti and Ce ratios within 25 %.
* spin-orbit splittings: the tabulated L2 - L3 and M4 - M5 onset differences (data/edges.csv).
"""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.physics import elements
from eels_helpers.physics import white_line_calculation as wc
from eels_helpers.physics import white_lines as wl
from eels_helpers.physics.gos_tables import builtin_available, get_source

PEAKS_EV = {("Ti L", "L3"): 456, ("Ti L", "L2"): 462, ("Fe L", "L3"): 708, ("Fe L", "L2"): 721,
            ("Ni L", "L3"): 853, ("Ni L", "L2"): 870, ("Ce M", "M5"): 883, ("Ce M", "M4"): 901,
            ("Gd M", "M5"): 1185, ("Er M", "M5"): 1406}
MEASURED_RATIO = {fam: ratio for fam, (ratio, _) in wl.MEASURED_RATIOS.items()}


def _lines():
    return {(ln.family, ln.component): ln for ln in wl.white_lines()}


def _energy(ln):
    return elements.family(ln.family).first_onset_eV + ln.offset_eV


def test_table_covers_the_partly_filled_shells():
    lines = _lines()
    fams = {f for f, _ in lines}
    assert {"Sc L", "Ni L", "Y L", "Ru L", "La M", "Yb M", "La N", "Yb N"} <= fams
    assert not {"Cu L", "Lu M", "Lu N", "Ba M", "Cs M"} & fams     # full 3d / 4f; see line_specs
    expected = {"L": ["L3", "L2"], "M": ["M5", "M4"]}
    for f in fams:
        comps = [c for f2, c in lines if f2 == f]
        if f.split()[1] == "N":     # the 4d -> 4f multiplet's lines (test_multiplets.py)
            assert comps == [f"N45_{k + 1}" for k in range(len(comps))], f
        else:
            assert comps == expected[f.split()[1]], f
    for ln in lines.values():
        assert ln.fwhm_eV > 0 and ln.holes > 0 and np.all(np.asarray(ln.f_q) >= 0)
        assert len(ln.f_q) == wl.Q_GRID_INV_ANGSTROM.size


@pytest.mark.parametrize("key", sorted(PEAKS_EV))
def test_positions_against_published_peaks(key):
    assert abs(_energy(_lines()[key]) - PEAKS_EV[key]) <= 3.5


@pytest.mark.parametrize("family", sorted(MEASURED_RATIO))
def test_branching_ratio_within_factor_3_of_measured(family):
    lines = _lines()
    major, minor = [c for f, c in lines if f == family]
    ours = lines[(family, major)].f_q[0] / lines[(family, minor)].f_q[0]
    shell = family.split()[1]
    statistical = {"L": 2.0, "M": 1.5, "N": 1.5}[shell]
    assert ours == pytest.approx(statistical, rel=0.05)       # (2j+1) x E_line
    assert 1 / 3 <= ours / MEASURED_RATIO[family] <= 3


def test_multiplet_table_moves_strength_between_components_only():
    """The multiplet table: the same lines (positions, widths) as the shipped one plus K and Ca
    L2,3 (d0 ions); the lanthanides' M4,5 and the d0 ions' L2,3 with their strength shared by the
    particle-hole multiplet, the family total kept within 2 %; L3/L2 of Ti and M5/M4 of Ce within 25 % of the
    measured 0.8 (where the statistical ratios are 2 and 1.5); V..Ni as before (module
    docstring of white_lines: the atomic spin polarisation overstates their L3 share)."""
    one = _lines()
    mult = {(ln.family, ln.component): ln for ln in wl.white_lines(wl.TABLE_PATHS["multiplet"])}
    assert set(mult) - set(one) == {("K L", "L3"), ("K L", "L2"), ("Ca L", "L3"), ("Ca L", "L2")}
    assert set(one) <= set(mult)
    changed = {"K L", "Ca L"}
    for key, ln in one.items():
        assert mult[key].offset_eV == ln.offset_eV and mult[key].fwhm_eV == ln.fwhm_eV
        if mult[key].f_q != ln.f_q:
            changed.add(key[0])
    expected = {f"{el} M" for el in "La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb".split()}
    assert changed == expected | {f"{el} L" for el in wc.D0_IONS}
    for fam in changed - {"K L", "Ca L"}:
        total = [sum(t[k].f_q[0] for k in t if k[0] == fam) for t in (one, mult)]
        assert total[1] == pytest.approx(total[0], rel=0.02), fam
    for fam, (major, minor) in {"Ti L": ("L3", "L2"), "Ce M": ("M5", "M4")}.items():
        ratio = mult[(fam, major)].f_q[0] / mult[(fam, minor)].f_q[0]
        assert ratio == pytest.approx(MEASURED_RATIO[fam], rel=0.25)
    table = wl.branching_ratios().set_index("family")
    assert table.loc["Ti L", "multiplet"] == pytest.approx(_ratio_of(mult, "Ti L"))
    assert table.loc["Fe L", "single-particle"] == table.loc["Fe L", "multiplet"] == pytest.approx(2.0, rel=0.05)
    assert table.loc["Yb M", "multiplet"] == np.inf and table.loc["Ce M", "measured"] == 0.8


def _ratio_of(lines, fam):
    major, minor = ("L3", "L2") if fam.endswith("L") else ("M5", "M4")
    return lines[(fam, major)].f_q[0] / lines[(fam, minor)].f_q[0]


def test_lorentzian_bins_keep_the_strength():
    lines = _lines()
    names = ["Ti L", "Ce M", "C K"]
    fams = [elements.family(n) for n in names]
    first = np.array([f.first_onset_eV for f in fams])
    off = np.arange(-16, 400, dtype=float)
    shapes = wl.white_line_shapes(names, first, np.round(first), off, 200.0, [5.0, 50.0])
    assert np.all(shapes[:, 2] == 0)
    for i, fam in enumerate(names[:2]):
        sel = [ln for (f, _), ln in lines.items() if f == fam]
        sigma = wl.line_cross_sections(np.array([ln.f_q for ln in sel]),
                                       np.array([_energy(ln) for ln in sel]), 200.0,
                                       np.array([[5.0], [50.0]]))
        # all but the Lorentzian tails beyond the offset grid
        np.testing.assert_allclose(shapes[:, i].sum(axis=1), sigma.sum(axis=1), rtol=0.02)
    assert np.all(shapes[1, :2] > shapes[0, :2])                  # more collected at 50 mrad


def test_line_cross_section_dipole_limit():
    """With a q-independent f the integral is f ln(Qmax/Qmin) (Egerton 2011, section 3.6)."""
    from eels_helpers.physics.cross_section import FOUR_PI_A0SQ_BARN, R_EV, kinematics, ln_q_limits

    f = np.full((1, wl.Q_GRID_INV_ANGSTROM.size), 0.5)
    E, theta = 456.0, 0.003                           # small angle: Qmax inside the grid
    lo, hi = ln_q_limits(E, 200.0, theta)
    _, T, _ = kinematics(200.0)
    expect = FOUR_PI_A0SQ_BARN * R_EV**2 / (E * T) * 0.5 * (hi - lo)
    got = wl.line_cross_sections(f, np.array([E]), 200.0, np.array([theta * 1e3]))
    assert got[0] == pytest.approx(float(expect), rel=1e-9)


@pytest.mark.skipif(not builtin_available(), reason="needs the builtin continuum GOS table")
def test_continuity_with_the_continuum():
    """Bound strength against the continuum of the same shell at q -> 0 (same normalisation).

    Pearson, Ahn & Fultz (Phys. Rev. B 47, 8471 (1993)) normalise the 3d metals' white lines to
    the continuum in a ~50 eV window after the edge: the ratio is of order one and grows with
    the 3d holes. For the 4f, the centrifugal barrier delays and weakens the near-threshold d->f
    continuum, so the localised lines dominate more (up to ~10). Bounds: 0.3 .. 12; and the
    lines never exceed the Thomas-Reiche-Kuhn sum, the core shell's electrons.
    """
    src = get_source("builtin")
    lines = _lines()
    for fam in sorted({f for f, _ in lines}):
        pair = [ln for (f, _), ln in lines.items() if f == fam]
        el = fam.split()[0]
        sub = {"N": "N5"}.get(fam.split()[1], pair[0].component)    # N4,5: multiplet lines
        table, _ = src.table(el, sub)
        cont = table.continuum()
        fe, d = cont.free_energies_eV, cont.dfde_per_eV[0]          # whole nl shell, q_min
        m = fe <= 50
        ratio = sum(ln.f_q[0] for ln in pair) / np.trapezoid(d[m], fe[m])
        assert 0.3 <= ratio <= 12, (fam, ratio)
        n_core = {"L": 6, "M": 10, "N": 10}[fam.split()[1]]
        assert sum(ln.f_q[0] for ln in pair) < n_core


def test_edge_cross_sections_continuum_as_calculator_and_lines_keep_strength():
    """The fit models' builder: the continuum is CrossSectionCalculator's bit for bit; each
    family's lines on a 0.25 eV axis integrate to the sum of its lines' sigma(beta*) (beta* at
    the family's first onset, Egerton eq. 4.73) and peak at the L3 line; O K has none."""
    from eels_helpers.physics.cross_section import CrossSectionCalculator, effective_collection_angle

    names = ["Ti L", "O K", "Mn L"]
    fams = [elements.family(n) for n in names]
    E = np.arange(300.0, 1200.0, 0.25)
    cont, lines, _ = wl.edge_cross_sections(fams, E, 200.0, 10.0, 30.0, "hydrogenic")
    assert np.array_equal(cont, CrossSectionCalculator(fams, E, "hydrogenic")(200.0, 10.0, 30.0)[0])
    assert not wl.edge_cross_sections(fams, E, 200.0, 10.0, 30.0, "hydrogenic", white_lines=False)[1].any()
    assert not lines[1].any()
    for i in (0, 2):
        sel = [ln for (f, _), ln in _lines().items() if f == names[i]]
        be = effective_collection_angle(fams[i].first_onset_eV, 200.0, 10.0, 30.0)
        sigma = wl.line_cross_sections(np.array([ln.f_q for ln in sel]), np.array([_energy(ln) for ln in sel]),
                                       200.0, np.full(len(sel), float(be)))
        assert lines[i].sum() * 0.25 == pytest.approx(sigma.sum(), rel=0.01)
        l3 = next(ln for ln in sel if ln.component == "L3")
        assert abs(E[np.argmax(lines[i])] - _energy(l3)) <= 0.25
        assert lines[i].max() > 3 * cont[i].max()          # the lines dominate a 3d-metal L2,3 edge


def test_line_profiles_per_line_sum_to_the_family_lines():
    fams = [elements.family(n) for n in ("Ce M", "Ba M", "Ti L")]
    E = np.arange(400.0, 1000.0, 1.0)
    lines, owner, prof = wl.line_profiles(fams, E, 300.0, 20.0, 50.0)
    assert [ln.component for ln in lines] == ["L3", "L2", "M5", "M4"]   # table order; Ba has none
    assert owner.tolist() == [2, 2, 0, 0]
    fam_lines = wl.edge_cross_sections(fams, E, 300.0, 20.0, 50.0, "builtin")[1] if builtin_available() else None
    if fam_lines is not None:
        np.testing.assert_allclose(fam_lines[0], prof[2] + prof[3])
        assert not fam_lines[1].any()


def test_autoionisation_table_narrows_only_the_lines_below_the_4d_threshold():
    """The "autoionisation" table is the crystal-field table except the lanthanides' N4,5: their
    multiplet split at the 4d5/2 threshold (tabulated N5 onset), the lines below without the
    autoionisation width (Dehmer, Starace, Fano, Sugar & Cooper, PRL 26, 1521 (1971): only the raised
    levels above the threshold decay into 4d^9 4f^N eps f), each family's total strength kept."""
    crystal = {(ln.family, ln.component): ln for ln in wl.white_lines(wl.TABLE_PATHS["crystal-field"])}
    auto = {(ln.family, ln.component): ln for ln in wl.white_lines(wl.TABLE_PATHS["autoionisation"])}
    assert {k: v for k, v in auto.items() if not k[0].endswith(" N")} == \
           {k: v for k, v in crystal.items() if not k[0].endswith(" N")}
    narrower = wc.SOLID_FWHM_EV["N4f"] - wc.SOLID_FWHM_EV["M4f"]
    below_share = {}
    for el in "La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb".split():
        fam = elements.family(f"{el} N")
        lines = [ln for k, ln in auto.items() if k[0] == fam.name]
        before = [ln for k, ln in crystal.items() if k[0] == fam.name]
        assert sum(ln.f_q[0] for ln in lines) == pytest.approx(sum(ln.f_q[0] for ln in before), rel=1e-4), el
        threshold = fam.onset_of("N5") - fam.first_onset_eV
        widths = {ln.offset_eV < threshold: ln.fwhm_eV for ln in lines}
        broad = max(ln.fwhm_eV for ln in before)
        assert widths.get(False, broad) == pytest.approx(broad, abs=1e-3), el    # above: unchanged
        if True in widths:
            assert widths[True] == pytest.approx(broad - narrower, abs=1e-3), el
        below_share[el] = sum(ln.f_q[0] for ln in lines if ln.offset_eV < threshold) / sum(ln.f_q[0] for ln in lines)
    # the frozen-spectator multiplet pushes the light lanthanides' strength above the threshold
    # and leaves a third of Er's below it (module docstring of white_line_calculation)
    assert all(below_share[el] == 0 for el in "La Ce Pr Nd Gd Yb".split())
    assert all(below_share[el] < 0.05 for el in "Pm Sm Eu Tb".split())
    assert below_share["Er"] > 0.3 and below_share["Tm"] > 0.15 and below_share["Dy"] > 0.1 and below_share["Ho"] > 0.05
