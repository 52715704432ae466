"""Validation of the in-house GOS calculation (eels_helpers.physics.atomic_gos) and the shipped table.

Independent references only: the closed-form hydrogenic 1s GOS (Bethe; Inokuti 1971, eq. 4.37),
sympy's Wigner 3j symbols, xraylib's Kissel subshell photo-ionisation cross sections, the Bethe
sum rule. Run with ``-s`` to see the optical-limit table (it is also printed on failure).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from eels_helpers.physics import atomic_gos as ga

REPO = Path(__file__).resolve().parents[2]
RYDBERG_EV = ga.HARTREE_EV / 2
N_A = 6.02214076e23
SIGMA_PER_DFDE = 1.0976e-16          # cm^2 eV: sigma_photo = 1.0976e-16 df/dE[1/eV]

try:
    import gpaw  # noqa: F401
    HAVE_GPAW = True
except ImportError:
    HAVE_GPAW = False
needs_gpaw = pytest.mark.skipif(not HAVE_GPAW, reason="GPAW not importable (optional extra "
                                "'gos'; see scripts/regenerate_gos.py for the offline install)")


def hydrogenic_1s_dfde(Z, free_energies_eV, q_inv_angstrom):
    """Analytic GOS of one 1s electron of a hydrogen-like ion, per eV, shape (n_q, n_E).

    Inokuti (1971) / Bethe (1930), with K = q a0 / Z, kappa^2 = eps/(Z^2 Ry), W = 1 + kappa^2:
    df/dW = 2^7 W (K^2 + W/3) exp[-(2/kappa) atan2(2 kappa, K^2 - kappa^2 + 1)]
            / {[(K+kappa)^2 + 1]^3 [(K-kappa)^2 + 1]^3 [1 - exp(-2 pi/kappa)]}, W in Z^2 Ry.
    """
    K = (np.asarray(q_inv_angstrom) * ga.BOHR_ANGSTROM / Z)[:, None]
    kap = np.sqrt(np.asarray(free_energies_eV) / (Z * Z * RYDBERG_EV))[None, :]
    W = 1 + kap ** 2
    phase = np.arctan2(2 * kap, K ** 2 - kap ** 2 + 1)
    num = 128 * W * (K ** 2 + W / 3) * np.exp(-(2 / kap) * phase)
    den = ((K + kap) ** 2 + 1) ** 3 * ((K - kap) ** 2 + 1) ** 3 * (1 - np.exp(-2 * np.pi / kap))
    return num / den / (Z * Z * RYDBERG_EV)


# ------------------------------------------------------------------------------ unit level
def test_wigner3j_matches_sympy():
    from sympy.physics.wigner import wigner_3j

    for l1 in range(0, 4):
        for l2 in range(0, 9):
            for l3 in range(abs(l1 - l2), l1 + l2 + 2):
                ref = float(wigner_3j(l1, l2, l3, 0, 0, 0))
                assert ga.wigner3j_000(l1, l2, l3) == pytest.approx(ref, abs=1e-13)


def test_grid_validation_names_parameter_and_range():
    with pytest.raises(ValueError, match=r"q_max_inv_angstrom.*1/Angstrom"):
        ga.GosGrid(q_max_inv_angstrom=0.01)
    with pytest.raises(ValueError, match=r"free_energy_min_eV.*eV"):
        ga.GosGrid(free_energy_min_eV=-1.0)
    with pytest.raises(ValueError, match="l_max"):
        ga.GosGrid(l_max=0)


def test_table_names_round_trip():
    for (n, l), name in {(1, 0): "K1", (2, 1): "L23", (3, 2): "M45", (4, 3): "N67",
                         (4, 0): "N1"}.items():
        assert ga.table_name(n, l) == name
        assert ga.nl_of_table(name) == (n, l)


@pytest.mark.parametrize("Z, l_max", [(2, 30), (6, 25), (29, 20)])
def test_coulomb_potential_reproduces_analytic_hydrogenic_k_gos(Z, l_max):
    """Pure -Z/r potential: numerical GOS within 2 % of the closed form across the table.

    The table grid of the shipped file (0.1..4000 eV, 0.04..60 1/Angstrom), coarser. Z = 2
    (binding 54 eV) is the most diffuse shell in the table's domain (onsets >= 50 eV); on its
    Bethe ridge at q ~ 20 1/Angstrom it needs l' <= 30 (l' <= 25 leaves 2.8 %); hydrogen
    (13.6 eV) would need l' > 35 at the largest q and E.
    """
    grid = ga.GosGrid(free_energy_max_eV=max(4000.0, 3 * Z * Z * RYDBERG_EV),
                      n_energies=20, n_q=12, l_max=l_max)
    E, qA, dfde, I_eV = ga.gos_nl(ga.coulomb_atom(Z), 1, 0, grid)
    assert I_eV == pytest.approx(Z * Z * RYDBERG_EV, rel=1e-12)
    ref = hydrogenic_1s_dfde(Z, E, qA)
    significant = ref > 1e-6 * ref.max()          # where the GOS matters for any cross section
    ratio = dfde[significant] / ref[significant]
    assert significant.mean() > 0.6
    assert np.all(np.abs(ratio - 1) < 0.02), f"worst ratio {ratio.min():.4f}..{ratio.max():.4f}"


def test_coulomb_optical_limit_matches_dipole_formula():
    """At q -> 0 the full multipole sum reduces to the dipole form (independent code path)."""
    atom = ga.coulomb_atom(8)
    grid = ga.GosGrid(q_min_inv_angstrom=1e-3, q_max_inv_angstrom=2e-3, n_q=2,
                      n_energies=10, l_max=6)
    E, _, dfde, _ = ga.gos_nl(atom, 1, 0, grid)
    opt = ga.optical_dfde_nl(atom, 1, 0, E)
    np.testing.assert_allclose(dfde[0], opt, rtol=2e-3)
    np.testing.assert_allclose(opt, hydrogenic_1s_dfde(8, E, np.array([0.0]))[0], rtol=0.01)


# ------------------------------------------------------------------------------ LDA atom
@needs_gpaw
def test_bethe_sum_rule_carbon_k_at_q_10_au():
    """integral df/dE dE over the continuum for C 1s at q = 10 a.u. >= 0.95 x 2 electrons."""
    q_A = 10.0 / ga.BOHR_ANGSTROM
    grid = ga.GosGrid(free_energy_min_eV=0.01, free_energy_max_eV=40000.0, n_energies=160,
                      q_min_inv_angstrom=q_A, q_max_inv_angstrom=q_A * 1.0001, n_q=2, l_max=25)
    atom = ga.lda_atom("C")
    E, _, dfde, _ = ga.gos_nl(atom, 1, 0, grid)
    total = float(np.trapezoid(dfde[0], E))
    occupancy = atom.orbital(1, 0).occupation
    print(f"Bethe sum, C 1s, q = 10 a.u.: {total:.4f} of {occupancy:g} electrons")
    assert occupancy == 2
    assert 0.95 * occupancy <= total <= 1.02 * occupancy


def _load_regenerate_module():
    spec = importlib.util.spec_from_file_location("regenerate_gos",
                                                  REPO / "scripts" / "regenerate_gos.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@needs_gpaw
def test_two_edge_regeneration_writes_valid_gosh(tmp_path):
    from eels_helpers.physics import gos_tables as gos

    regen = _load_regenerate_module()
    grid = ga.GosGrid(n_energies=16, n_q=10, l_max=12)
    out = tmp_path / "co.gosh"
    lines = []
    s = regen.regenerate(["C", "O"], output=out, work=tmp_path / "work", workers=1, grid=grid,
                         log=lines.append)
    assert s["failures"] == {} and s["computed"] == 2 and out.exists()
    assert (tmp_path / "work" / "C.npz").exists()
    # resumable: a second run computes nothing
    s2 = regen.regenerate(["C", "O"], output=out, work=tmp_path / "work", grid=grid,
                          log=lines.append)
    assert s2["computed"] == 0
    f = gos.read_gosh(out)
    for el, Z in (("C", 6), ("O", 8)):
        assert f.tables(el) == ("K1",)
        t, ratio = f.subshell(el, "K1")
        assert ratio == 1.0 and t.n == 1 and t.l == 0
        assert t.dfde_per_eV.shape == (10, 16)
        assert np.all(t.dfde_per_eV >= 0) and t.dfde_per_eV.max() > 0
        assert t.q_inv_m[0] == pytest.approx(0.04e10, rel=1e-6)
        # the LDA 1s eigenvalue sits a little below the experimental onset (C 284, O 532 eV)
        assert 0.9 < t.ionization_energy_eV / {6: 284.0, 8: 532.0}[Z] < 1.0


# ------------------------------------------------------------------------------ shipped table
def _builtin():
    from eels_helpers.physics import gos_tables as gos

    if not gos.BUILTIN_GOS_PATH.exists():
        pytest.skip(f"shipped table {gos.BUILTIN_GOS_PATH} not present (run "
                    "scripts/regenerate_gos.py)")
    return gos.read_gosh(gos.BUILTIN_GOS_PATH)


def test_shipped_table_covers_every_edge_subshell_and_grids():
    from eels_helpers.physics import gos_tables as gos
    from eels_helpers.physics.elements import EDGE_FAMILIES

    f = _builtin()
    size_mb = gos.BUILTIN_GOS_PATH.stat().st_size / 1e6
    assert size_mb <= 15.0
    checked = 0
    for fam in EDGE_FAMILIES:
        for sub, onset in zip(fam.subshells, fam.onsets_eV):
            if not 50 <= onset <= 3100:
                continue
            t, ratio = f.subshell(fam.element, sub)
            assert ratio == pytest.approx(gos.occupancy_ratio(sub))
            assert t.free_energies_eV[0] <= 0.1 + 1e-6 and t.free_energies_eV[-1] >= 3000
            assert t.q_inv_m[0] <= 0.05e10 and t.q_inv_m[-1] >= 50e10 * (1 - 1e-6)
            assert np.all(np.isfinite(t.dfde_per_eV)) and np.all(t.dfde_per_eV >= 0)
            checked += 1
    assert checked >= 250


def test_bethe_sum_rule_in_shipped_carbon_k_table():
    """The shipped C K1 table alone (0.1..4000 eV) holds >= 0.95 x 2 at q = 10 a.u. (the Bethe
    ridge sits at q^2/2 = 1.36 keV; the GPAW test above integrates to 40 keV)."""
    f = _builtin()
    t, ratio = f.subshell("C", "K1")
    q = 10.0 / (ga.BOHR_ANGSTROM * 1e-10)                    # 1/m
    dfde = t.interpolate(t.free_energies_eV, [q])[0]
    total = float(np.trapezoid(dfde, t.free_energies_eV))
    print(f"Bethe sum in the shipped C K1 table at q = 10 a.u.: {total:.3f} of 2")
    assert ratio == 1.0 and 0.95 * 2 <= total <= 1.02 * 2


def _kissel_dfde(Z, shells, E_eV):
    """xraylib Kissel photo-ionisation (sum over shells) as optical df/dE in 1/eV."""
    import xraylib

    A = xraylib.AtomicWeight(Z)
    out = np.zeros(len(E_eV))
    for sh in shells:
        out += [xraylib.CS_Photo_Partial(Z, sh, e / 1000.0) * A / N_A / SIGMA_PER_DFDE
                if e > 1000.0 * xraylib.EdgeEnergy(Z, sh) else 0.0 for e in E_eV]
    return out


KISSEL_EDGE_MARGIN_EV = 25.0
# M4,5 / N4,5: checked from 60 / 70 eV above the LAST subshell onset (reason in the report)
DELAYED_START_EV = {"M": 60.0, "N": 70.0}
# (element, shell) -> first energy above onset checked (reason in the report)
NEAR_EDGE_EXCEPTIONS = {("Ne", "K"): 40.0, ("Ar", "L"): 40.0}
EXCEPTION_LEGEND = [
    "[a] check starts 25 eV above the last subshell onset: Kissel's data are log-log "
    "interpolated within ~15-25 eV of each subshell edge",
    "[b] d -> eps f delayed maximum (and the 4d -> 4f giant resonance of La..Lu) sits 10-20 eV "
    "elsewhere in our LDA potential than in Kissel's Dirac-Slater one: known near-threshold "
    "weak spot (no white lines either; the simulator's fine structure covers that region)",
    "[c] closed-shell atom: 10-14 % above Kissel in the first ~10 eV checked",
]


def _ratio(f, fam, subs, onsets, Z, shells, E):
    """ours / Kissel at absolute energy losses E (eV); each j-subshell of ours is the nl table x
    occupancy ratio placed at its own EELS onset, as the cross-section code does."""
    ours = np.zeros_like(E)
    for s in subs:
        t, ratio = f.subshell(fam.element, s)
        ours += ratio * t.interpolate(E - onsets[s], t.q_inv_m[:1])[0]
    return ours / _kissel_dfde(Z, [shells[s] for s in subs], E)


def test_optical_limit_of_shipped_table_matches_kissel(tmp_path):
    """q -> 0 of the shipped table vs xraylib CS_Photo_Partial (Kissel), 30 eV..3 keV above onset.

    Each j-subshell is the nl table x occupancy ratio placed at its own onset (as the cross
    section code does); compared with the sum of Kissel's subshells. K, L2,3, M4,5: 10 %;
    N edges: 25 %. Exceptions (printed with their reasons and the ratios they skip): each check
    starts >= 25 eV above the last subshell onset (Kissel interpolated there); M4,5 (N4,5)
    from 60 (70) eV above the last subshell onset; Ne K and Ar L from 40 eV.
    """
    xraylib = pytest.importorskip("xraylib")
    from eels_helpers.physics.elements import EDGE_FAMILIES

    f = _builtin()
    shells = {"K1": xraylib.K_SHELL, "L2": xraylib.L2_SHELL, "L3": xraylib.L3_SHELL,
              "M4": xraylib.M4_SHELL, "M5": xraylib.M5_SHELL, "N4": xraylib.N4_SHELL,
              "N5": xraylib.N5_SHELL}
    kind_subs = {"K": ("K1",), "L": ("L3", "L2"), "M": ("M5", "M4"), "N": ("N5", "N4")}
    rows, failures, exceptions = [], [], []
    for fam in EDGE_FAMILIES:
        subs = kind_subs[fam.shell]
        onsets = dict(zip(fam.subshells, fam.onsets_eV))
        if not all(s in onsets for s in subs):
            exceptions.append(f"{fam.element} {fam.shell}: subshells {subs} not all listed")
            continue
        first = min(onsets[s] for s in subs)
        if not 50 <= first <= 3100:
            exceptions.append(f"{fam.element} {fam.shell}: onset {first} eV outside 50..3100")
            continue
        Z = gos_Z(fam.element)
        tol = 0.25 if fam.shell == "N" else 0.10
        # from 30 eV above the first onset, and >= 25 eV above every subshell onset: xraylib's
        # Kissel data are log-log interpolated within ~15-25 eV of each subshell edge
        start = max(first + 30.0, max(onsets[s] for s in subs) + KISSEL_EDGE_MARGIN_EV)
        if start > first + 30.0:
            exceptions.append(f"{fam.element} {fam.shell}: from +{start - first:.0f} eV [a]")
        last = max(onsets[s] for s in subs)
        late = None
        if fam.shell in DELAYED_START_EV:
            late = (last + DELAYED_START_EV[fam.shell], "[b]")
        elif (fam.element, fam.shell) in NEAR_EDGE_EXCEPTIONS:
            late = (first + NEAR_EDGE_EXCEPTIONS[(fam.element, fam.shell)], "[c]")
        if late is not None and late[0] > start:
            near = _ratio(f, fam, subs, onsets, Z, shells, np.linspace(start, late[0], 6))
            exceptions.append(f"{fam.element} {fam.shell}: from +{late[0] - first:.0f} eV "
                              f"{late[1]}; ratio {near.min():.2f}..{near.max():.2f} in "
                              f"+{start - first:.0f}..+{late[0] - first:.0f} eV")
            start = late[0]
        E = start + np.geomspace(1.0, first + 3000.0 - start, 16) - 1.0
        r = _ratio(f, fam, subs, onsets, Z, shells, E)
        worst = float(r[np.argmax(np.abs(r - 1))])
        ok = bool(np.all(np.abs(r - 1) <= tol))
        rows.append(f"{fam.element:>2} {fam.shell}{''.join(x[1:] for x in subs):<4} "
                    f"onset {first:7.1f} eV  from +{start - first:3.0f} eV: first {r[0]:.3f}  "
                    f"+300 eV {np.interp(first + 300, E, r):.3f}  +3 keV {r[-1]:.3f}  "
                    f"min {r.min():.3f}  max {r.max():.3f}  tol {tol:.0%}  "
                    f"{'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(f"{fam.element} {fam.shell}: worst ratio {worst:.3f}")
    report = "\n".join(["optical limit (shipped table, q = q_min) / Kissel (xraylib)", *rows,
                        f"checked {len(rows)} edge families; exceptions ({len(exceptions)}):",
                        *EXCEPTION_LEGEND, *exceptions, f"failures ({len(failures)}):", *failures])
    (tmp_path / "optical_limit_report.txt").write_text(report)
    print(report)
    assert len(rows) >= 100
    assert not failures, report


def gos_Z(symbol: str) -> int:
    import xraylib

    return int(xraylib.SymbolToAtomicNumber(symbol))


def test_shipped_table_holds_the_other_edges_near_kissel():
    """The nl tables of the edges outside the 107 families (elements.OTHER_EDGES, added by
    scripts/regenerate_gos.py --other-edges) are shipped, and their optical limit follows Kissel
    (xraylib) from 30 eV above onset to 3 keV: median ratio within 25 % for the L2,3, M4,5, N2,3,
    N4,5 and N6,7 groups, every point within a factor 2 for all groups (M2,3 and O2,3: reported).
    A looser check than the families' (every point within 10-25 % from the delayed start): these
    edges only add the specimen's own weak extra edges to open-world spectra; the measured ratios
    (N2,3 of Hf..Bi 0.61-0.94, O2,3 0.52-1.02, N6,7 up to 1.6 in the first 40 eV) are printed."""
    pytest.importorskip("xraylib")
    from eels_helpers.physics.elements import OTHER_EDGES
    from eels_helpers.physics.gos_checks import optical_limit_comparison

    f = _builtin()
    edges = [e for group in OTHER_EDGES.values() for e in group]
    for e in edges:
        for sub in e.subshells:
            t, _ = f.subshell(e.element, sub)
            assert np.all(np.isfinite(t.dfde_per_eV)) and np.all(t.dfde_per_eV >= 0)
    df = optical_limit_comparison("builtin", edges=edges, start_above_eV=30.0, stop_eV=3000.0)
    print(df[["edge", "group", "ratio_min", "ratio_median", "ratio_max"]].to_string(index=False))
    checked = df.dropna(subset=["ratio_median"])
    assert len(checked) == len(edges) - 1                  # Rh L2,3 (3004 eV) is past 3 keV
    validated = checked[checked.group.isin(["L23", "M45", "N23", "N45", "N67"])]
    assert (abs(validated.ratio_median - 1) <= 0.25).all(), validated[abs(validated.ratio_median - 1) > 0.25]
    assert ((checked.ratio_min >= 0.5) & (checked.ratio_max <= 2.0)).all()
