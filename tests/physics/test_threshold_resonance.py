"""Ba M4,5's threshold resonance shared M5 : M4 by the 3d^9 4f^1 multiplet
(eels_helpers.physics.threshold_resonance): the branching recomputed from the atoms, strength
conserved, the continuum beyond the resonance and every other table unchanged."""

import numpy as np
import pytest

from eels_helpers.physics import threshold_resonance as tr
from eels_helpers.physics.cross_section import CrossSectionCalculator
from eels_helpers.physics.gos_tables import get_source

Q_INV_M = np.array([1e9, 1e10, 5e10])


def test_branching_recomputed_from_the_atoms():
    """Ba: the multiplet with La's collapsed 4f moves strength to M4, as La's own lines (both
    4f^0 -> 4f^1; measured M5/M4 ~0.8-0.9 for the 4f^0/4f^1 ions); Cs: no collapsed 4f in its Z+1
    atom, G1 = 0, the statistical 3/5 (hence not in the table)."""
    pytest.importorskip("gpaw")
    from eels_helpers.physics.atomic_gos import lda_atom
    from eels_helpers.physics.white_line_calculation import multiplet_branching

    ba, _ = multiplet_branching(lda_atom("Ba"), lda_atom("La"), "M4f", 0)
    la, _ = multiplet_branching(lda_atom("La"), lda_atom("Ce"), "M4f", 0)
    cs, _ = multiplet_branching(lda_atom("Cs"), lda_atom("Ba"), "M4f", 0)
    assert abs(ba - tr.RESONANCE_BRANCHING["Ba"][0]) < 2e-3
    assert abs(ba - la) < 0.02 and 0.7 <= ba / (1 - ba) <= 0.9      # M5/M4 0.75; La's 0.73
    assert abs(cs - 0.6) < 2e-3 and "Cs" not in tr.RESONANCE_BRANCHING


def test_resonance_shared_by_the_multiplet_and_strength_conserved():
    base, src = get_source("builtin"), get_source("builtin" + tr.SUFFIX)
    assert src.name == "builtin+4f-multiplet" and get_source("builtin+4f-multiplet") is src
    eps = np.arange(0.0, 60.0, 0.5)
    b5, b4 = base.dfde("Ba", "M5", eps, Q_INV_M), base.dfde("Ba", "M4", eps, Q_INV_M)
    m5, m4 = src.dfde("Ba", "M5", eps, Q_INV_M), src.dfde("Ba", "M4", eps, Q_INV_M)
    share = tr.RESONANCE_BRANCHING["Ba"][0]
    # (the factor is set on the table's energy nodes: 1 eV of margin for the interpolation between them)
    inside, beyond = eps <= tr.RESONANCE_FULL_EV - 1, eps >= tr.RESONANCE_END_EV + 1
    np.testing.assert_allclose(b5[:, inside] / b4[:, inside], 1.5, rtol=1e-9)          # statistical 3:2
    np.testing.assert_allclose(m5[:, inside] / m4[:, inside], share / (1 - share), rtol=1e-9)
    np.testing.assert_allclose(m5 + m4, b5 + b4, rtol=1e-9)                            # nothing created
    np.testing.assert_allclose(m5[:, beyond], b5[:, beyond], rtol=1e-12)
    np.testing.assert_allclose(m4[:, beyond], b4[:, beyond], rtol=1e-12)
    for element, sub in (("La", "M5"), ("Cs", "M4"), ("Ba", "L3"), ("Co", "L3")):
        if sub in base.available(element):
            assert src.table(element, sub) == base.table(element, sub)
    w = tr.resonance_weight(np.array([-1.0, 0.0, 10.0, 15.0, 20.0, 30.0]))
    np.testing.assert_allclose(w, [0, 1, 1, 0.5, 0, 0], atol=1e-12)


def test_ba_m4_line_now_above_m5_as_measured():
    """The family's edge: M4 peak (796-798 eV) above the M5 peak (781-783 eV), as in real Ba2+
    spectra (and La3+); with the statistical share M5 is the higher one, like Co L3 over L2."""
    E = np.arange(770.0, 860.0, 1.0)
    peaks = {}
    for gos in ("builtin", "builtin+4f-multiplet"):
        edge = CrossSectionCalculator(["Ba M"], E, gos)(200.0, 10.0, 50.0)[0][0]
        peaks[gos] = edge[(E >= 780) & (E <= 786)].max(), edge[(E >= 795) & (E <= 801)].max()
    assert peaks["builtin"][0] > peaks["builtin"][1]
    assert peaks["builtin+4f-multiplet"][1] > peaks["builtin+4f-multiplet"][0]


def test_unknown_base_source_is_named():
    with pytest.raises(FileNotFoundError, match="nowhere.gosh"):
        get_source("/nowhere.gosh" + tr.SUFFIX)
