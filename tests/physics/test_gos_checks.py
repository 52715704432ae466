"""Validation aids (eels_helpers.physics.gos_checks): the optical-limit comparison table."""

from __future__ import annotations

import pytest

from eels_helpers.physics.gos_checks import optical_limit_comparison


def test_optical_limit_table_lists_every_group():
    pytest.importorskip("xraylib")
    df = optical_limit_comparison("hydrogenic", ["C K", "Fe L", "Au M"])
    assert list(df["edge"]).count("Fe L") == 2 and "Au M" in set(df["edge"])
    skipped = df[df["ok"].isna()]
    assert (skipped["note"].str.len() > 0).all()
    assert bool(df.loc[df["edge"] == "C K", "ratio_median"].between(0.7, 1.1).all())


@pytest.mark.parametrize("family, n, l", [("La N", 4, 2), ("La M", 3, 2), ("Ti L", 2, 1), ("Ag M", 3, 2)])
def test_lines_plus_continuum_obey_the_subshell_sum_rule(family, n, l):
    """Thomas-Reiche-Kuhn for one subshell: allowed (upward) strength = N + |Pauli-blocked
    downward strength|, both from the same LDA atom's bound orbitals (independent of the GOS
    tables). La's 4f is empty (lines to all 14 holes), Ag's 4f and 5f are empty (no lines: the
    continuum holds all), Ti's 3d holds 2 of 10 electrons (their 2p -> 3d share is blocked:
    added back as lines x 2/8). The white lines' normalisation and the continuum tables must
    together give the sum within 8 %: La 4d 15.1 vs 15.9, La 3d 14.6 vs 14.6 (measured)."""
    pytest.importorskip("gpaw")
    from eels_helpers.physics.atomic_gos import lda_atom
    from eels_helpers.physics.gos_checks import pauli_blocked_strength, subshell_strength

    element = family.split()[0]
    allowed = 2 * (2 * l + 1) - pauli_blocked_strength(lda_atom(element), n, l)
    lines, continuum = subshell_strength(family)
    blocked_lines = lines * 2 / 8 if element == "Ti" else 0.0
    assert allowed > 2 * (2 * l + 1)          # downward transitions exist and are negative
    assert lines + blocked_lines + continuum == pytest.approx(allowed, rel=0.08)


def test_subshell_strength_rejects_other_shells():
    from eels_helpers.physics.gos_checks import subshell_strength

    with pytest.raises(ValueError, match="L2,3, M4,5 and N4,5"):
        subshell_strength("O K")
