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
