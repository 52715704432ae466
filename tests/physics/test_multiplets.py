"""The 4d^9 4f^(N+1) particle-hole multiplet against angular-momentum algebra (sympy), analytic
limits (La's 1P pushed up by 2 G^1; Yb's single 4d5/2 -> 4f7/2 line) and measured La lines."""

import itertools

import numpy as np
import pytest

from eels_helpers.physics import elements
from eels_helpers.physics import multiplets as mp
from eels_helpers.physics import white_line_calculation as wc
from eels_helpers.physics import white_lines as wl


def _only(**kw):
    """Slater integrals with everything zero except those given (eV)."""
    base = dict(F_cv={2: 0.0, 4: 0.0}, G_cv={1: 0.0, 3: 0.0, 5: 0.0}, F_vv={2: 0.0, 4: 0.0, 6: 0.0},
                zeta_c=0.0, zeta_v=0.0)
    base.update(kw)
    return mp.SlaterIntegrals(**base)


def test_wigner3j_against_sympy():
    wigner_3j = pytest.importorskip("sympy.physics.wigner").wigner_3j
    for j1, j2, j3 in [(2, 1, 3), (3, 2, 3), (3, 4, 3), (2, 3, 5), (3, 6, 3)]:
        for m1, m2 in itertools.product(range(-j1, j1 + 1), range(-j2, j2 + 1)):
            ref = float(wigner_3j(j1, j2, j3, m1, m2, -m1 - m2))
            assert mp.wigner3j(j1, j2, j3, m1, m2, -m1 - m2) == pytest.approx(ref, abs=1e-12)


def test_gaunt_sum_rule():
    """sum_m2 c^k(l1 m1, l2 m2)^2 = (2 l2 + 1) (l1 k l2; 000)^2 for every m1 (orthogonality of
    the 3j symbols; Edmonds 1957, eq. 3.7.8)."""
    for l1, l2, k in [(3, 2, 1), (3, 3, 2), (2, 3, 3), (3, 3, 6)]:
        ref = (2 * l2 + 1) * mp.wigner3j(l1, k, l2, 0, 0, 0) ** 2
        for m1 in range(-l1, l1 + 1):
            got = sum(mp.gaunt_ck(l1, m1, l2, m2, k) ** 2 for m2 in range(-l2, l2 + 1))
            assert got == pytest.approx(ref)


def test_la_dipole_state_is_pushed_up_by_2g1():
    """4d^9 4f with only G^1: the singlet P (three states) lies 2 G^1 above all others and holds
    every bit of the dipole strength (particle-hole exchange; Dehmer et al. 1971)."""
    G1 = 10.0
    spec = mp.particle_hole_spectrum(0, _only(G_cv={1: G1, 3: 0.0, 5: 0.0}))
    assert spec.energy_eV.size == 140
    top = np.argsort(spec.energy_eV)[-3:]
    rest = np.argsort(spec.energy_eV)[:-3]
    assert np.ptp(spec.energy_eV[top]) < 1e-9 and np.ptp(spec.energy_eV[rest]) < 1e-9
    assert spec.energy_eV[top[0]] - spec.energy_eV[rest[0]] == pytest.approx(2 * G1)
    assert spec.strength[top].sum() == pytest.approx(1.0)
    # configuration average at zero: 3 states at +2G1 among 140
    assert spec.energy_eV[rest[0]] == pytest.approx(-3 * 2 * G1 / 140)


def test_yb_single_line_at_the_4d5_2_level():
    """4f^13 (one 4f7/2 hole): only 4d5/2 -> 4f7/2 is allowed (delta j = 2 forbids 4d3/2), so all
    strength sits in one line whatever the Slater integrals; 4d3/2 lies 2.5 zeta_4d higher."""
    zeta = 3.0
    spec = mp.particle_hole_spectrum(13, _only(zeta_c=zeta, F_cv={2: 8.0, 4: 5.0},
                                               G_cv={1: 9.0, 3: 6.0, 5: 4.0}))
    strong = spec.strength > 1e-9
    assert np.ptp(spec.energy_eV[strong]) < 1e-9
    assert spec.energy_eV.max() - spec.energy_eV[strong][0] == pytest.approx(2.5 * zeta, abs=1e-6)


def test_strength_conserved_and_hund_occupation():
    s = _only(F_cv={2: 9.0, 4: 6.0}, G_cv={1: 11.0, 3: 7.0, 5: 5.0}, F_vv={2: 11.0, 4: 7.0, 6: 5.0},
              zeta_c=1.5, zeta_v=0.1)
    for n in (1, 6, 7, 12):
        spec = mp.particle_hole_spectrum(n, s)
        assert spec.energy_eV.size == 10 * (14 - n)
        assert spec.strength.sum() == pytest.approx(1.0) and np.all(spec.strength >= -1e-12)
    occ = mp.hund_occupation(9)
    assert sum(o[2] for o in occ) == 5 and sum(o[1] for o in occ) == 5      # 6H: S = 5/2, L = 5
    with pytest.raises(ValueError, match="0..14"):
        mp.hund_occupation(15)


def test_shipped_n45_lines_follow_the_multiplet():
    """The table's N4,5 lines: La's strength within 3.5 eV of the measured 117 eV maximum (La
    metal, Dehmer et al. 1971), the strength-weighted position above the tabulated onset falling
    from La to Yb (the exchange push shrinks as the 4f shell fills)."""
    lines = wl.white_lines()
    push = []
    for el in "La Ce Pr Nd Sm Gd Dy Er Yb".split():
        fam = elements.family(f"{el} N")
        mine = [ln for ln in lines if ln.family == fam.name]
        assert mine and all(ln.component.startswith("N45_") for ln in mine)
        f0 = np.array([ln.f_q[0] for ln in mine])
        e = np.array([fam.first_onset_eV + ln.offset_eV for ln in mine])
        push.append(float(np.sum(f0 * e) / f0.sum()) - fam.onset_of("N5"))
        if el == "La":
            assert abs(e[np.argmax(f0)] - 117.0) <= 3.5
    assert push[0] > 15 and push[-1] < 3
    assert np.all(np.diff(push[::2]) < 0)


def test_slater_integrals_of_la():
    """From the LDA atoms (GPAW): G^1(4d,4f) of La with a 4d hole of order 10 eV after the usual
    0.8 scaling (Hartree-Fock 4d-4f integrals of the lanthanides, 12-18 eV unscaled: Sugar 1972);
    2.5 zeta_4d equal to the 4d spin-orbit splitting of the independent finite-difference solver."""
    pytest.importorskip("gpaw")
    from eels_helpers.physics.atomic_gos import lda_atom

    atom = lda_atom("La")
    s = mp.slater_integrals(atom, lda_atom("Ce"))
    assert 8.0 < s.G_cv[1] < 16.0
    assert s.G_cv[1] > s.G_cv[3] > s.G_cv[5] > 0 and s.F_cv[2] > s.F_cv[4] > 0
    assert 2.5 * s.zeta_c == pytest.approx(wc.spin_orbit_splitting_eV(atom, 4, 2), rel=0.1)


def _pd(**kw):
    """2p-3d Slater integrals, all zero except those given (eV)."""
    base = dict(F_cv={2: 0.0}, G_cv={1: 0.0, 3: 0.0}, F_vv={2: 0.0, 4: 0.0}, zeta_c=0.0, zeta_v=0.0,
                core="p", valence="d")
    base.update(kw)
    return mp.SlaterIntegrals(**base)


@pytest.mark.parametrize("slater, l", [(_pd(zeta_c=3.0), 1), (_only(zeta_c=3.0), 2)])
def test_spin_orbit_alone_gives_the_statistical_branching(slater, l):
    """Empty valence shell and the core spin-orbit alone: two levels, the j = l + 1/2 one (L3,
    N5) at -l zeta/2 and j = l - 1/2 at +(l + 1) zeta/2 from the centre of gravity, with the
    statistical (2l + 2) : 2l share of the strength (2 for p, 1.5 for d)."""
    spec = mp.particle_hole_spectrum(0, slater)
    lo = spec.energy_eV < 0
    assert spec.strength[lo].sum() / spec.strength[~lo].sum() == pytest.approx((l + 1) / l)
    levels = np.unique(np.round(spec.energy_eV, 9))
    zeta = slater.zeta_c
    np.testing.assert_allclose(levels, [-l * zeta / 2, (l + 1) * zeta / 2], atol=1e-9)


def test_p_d_exchange_pushes_all_strength_into_the_1p_state():
    """2p^5 3d^1 with only G^1: three degenerate states (1P1) above the other 57 hold all the
    dipole strength, as 4d^9 4f^1's 1P does for La (Zaanen et al., Phys. Rev. B 32, 4905 (1985))."""
    spec = mp.particle_hole_spectrum(0, _pd(G_cv={1: 5.0, 3: 0.0}))
    assert spec.energy_eV.size == 60
    order = np.argsort(spec.energy_eV)
    top, rest = order[-3:], order[:-3]
    assert np.ptp(spec.energy_eV[top]) < 1e-9 and np.ptp(spec.energy_eV[rest]) < 1e-9
    assert spec.energy_eV[top[0]] > spec.energy_eV[rest[0]] + 1.0
    assert spec.strength[top].sum() == pytest.approx(1.0)


def test_multiplet_table_branching_against_measured():
    """The multiplet table (reproduced from GPAW's atoms in test_white_line_calculation.py): the d0
    ions' L3/L2 within 25 % of the measured 0.8 of Ti (Leapman, Grunes & Fejes 1982; statistical
    2), Ca's as Ti's; the lanthanides' M5/M4 rising from La (< 1, measured ~0.8 for Ce) through Gd
    to Tm (Thole et al., Phys. Rev. B 32, 5107 (1985)), Yb's M4 forbidden (one 4f7/2 hole)."""
    ratios = wl.branching_ratios().set_index("family")["multiplet"]
    assert ratios["Ti L"] == pytest.approx(0.8, rel=0.25) and ratios["Ca L"] == pytest.approx(0.8, rel=0.25)
    assert ratios["La M"] < 1.0 < ratios["Gd M"] < ratios["Tm M"] < np.inf == ratios["Yb M"]


def test_octahedral_field_alone_splits_t2g_and_eg_three_to_two():
    """2p^5 3d^1 with only an octahedral field: t2g at -4 Dq and e_g at +6 Dq (traceless), the
    dipole strength 3 : 2 as their orbitals (Ballhausen 1962); with the core spin-orbit too, each j
    level splits the same way (four levels, shares 2/3 x (3/5, 2/5) and 1/3 x (3/5, 2/5))."""
    spec = mp.particle_hole_spectrum(0, _pd(), crystal_field_eV=2.0)
    levels = np.unique(np.round(spec.energy_eV, 9))
    np.testing.assert_allclose(levels, [-0.8, 1.2], atol=1e-9)
    assert spec.strength[spec.energy_eV < 0].sum() == pytest.approx(0.6)
    spec = mp.particle_hole_spectrum(0, _pd(zeta_c=3.0), crystal_field_eV=2.0)
    E = np.round(spec.energy_eV, 9)
    levels = np.unique(E)
    np.testing.assert_allclose(levels, [-1.5 - 0.8, -1.5 + 1.2, 3.0 - 0.8, 3.0 + 1.2], atol=1e-9)
    np.testing.assert_allclose([spec.strength[E == e].sum() for e in levels], [0.4, 0.8 / 3, 0.2, 0.4 / 3])


def test_crystal_field_needs_an_empty_d_shell():
    with pytest.raises(ValueError, match="empty d shell"):
        mp.particle_hole_spectrum(1, _pd(), crystal_field_eV=1.0)
    with pytest.raises(ValueError, match="empty d shell"):
        mp.particle_hole_spectrum(0, _only(), crystal_field_eV=1.0)


def test_crystal_field_table_gives_the_four_peak_l23_of_d0_ions():
    """The "crystal-field" table: Ca, Sc and Ti L2,3 each as four lines (L3 t2g, e_g; L2 t2g, e_g),
    K (10 Dq 0.6 eV, under the line width) as two; for Ti the L3 t2g - e_g split within 1.5-2.5 eV
    (~2 eV in TiO2 and SrTiO3, de Groot et al., Phys. Rev. B 41, 928 (1990)), L3 to L2 within
    5.2-6.2 eV (Ti 2p spin-orbit split, 5.7 eV in TiO2) and L3/L2 within 25 % of the measured 0.8;
    every other family's lines are the multiplet table's."""
    lines = wl.white_lines(wl.TABLE_PATHS["crystal-field"])
    by_family = {}
    for ln in lines:
        by_family.setdefault(ln.family, []).append(ln)
    assert [ln.component for ln in by_family["Ti L"]] == ["L3_1", "L3_2", "L2_1", "L2_2"]
    for fam in ("Ca L", "Sc L"):
        assert len(by_family[fam]) == 4
    assert len(by_family["K L"]) == 2
    ti = [ln.offset_eV for ln in by_family["Ti L"]]
    assert 1.5 <= ti[1] - ti[0] <= 2.5 and 5.2 <= ti[2] - ti[0] <= 6.2
    assert wl.branching_ratios().set_index("family")["crystal-field"]["Ti L"] == pytest.approx(0.8, rel=0.25)
    multiplet = {(ln.family, ln.component): ln for ln in wl.white_lines(wl.TABLE_PATHS["multiplet"])}
    others = [ln for ln in lines if ln.family not in ("K L", "Ca L", "Sc L", "Ti L")]
    assert others and all(multiplet[(ln.family, ln.component)] == ln for ln in others)
