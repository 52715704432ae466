"""The twin resolver scored on the real spectra that ship with the package (compound-grouped CV)."""

import pytest

from eels_helpers import DATA_DIR
from eels_helpers.inference.twin_resolution import RESOLVERS_PATH

pytestmark = pytest.mark.skipif(not RESOLVERS_PATH.is_file(), reason="the shipped twin resolvers are absent")


def test_resolved_cross_validation_on_the_shipped_real_spectra():
    from eels_helpers.evaluation.real_spectra import evaluation_set
    from eels_helpers.evaluation.twin_resolved import resolved_cross_validation

    manifest, _ = evaluation_set(DATA_DIR / "real_spectra")
    table, decisions = resolved_cross_validation("default", manifest, seeds=(0, 1))
    assert list(table.index) == ["0", "1", "mean"]
    assert set(table.columns) == {"threshold", "network_f1", "network_exact_match", "resolved_f1",
                                  "resolved_exact_match"}
    # the shipped set holds BN and AlN N K spectra and no Sc: every resolved N/Sc pair keeps N; it holds
    # no K and no Cl either: where the C/K or B/Cl presence resolver acts, it drops K or Cl
    assert any(d.pair == ("N", "Sc") for _, d in decisions)
    assert all((d.kept, d.dropped) in {("N", "Sc"), ("C", "K"), ("B", "Cl")} for _, d in decisions)
    assert (table["resolved_exact_match"] >= table["network_exact_match"]).all()


def test_resolved_cross_validation_reuses_a_computed_network_cross_validation():
    import pandas as pd

    from eels_helpers.evaluation.cross_validation import grouped_cross_validation
    from eels_helpers.evaluation.real_spectra import evaluation_set
    from eels_helpers.evaluation.twin_resolved import resolved_cross_validation

    manifest, _ = evaluation_set(DATA_DIR / "real_spectra")
    network = grouped_cross_validation("default", manifest, seeds=(0, 1))
    table, decisions = resolved_cross_validation("default", manifest, seeds=(0, 1), network=network)
    again, again_decisions = resolved_cross_validation("default", manifest, seeds=(0, 1),
                                                       probabilities=network.probabilities)
    pd.testing.assert_frame_equal(table, again)
    assert [(f, d.kept, d.dropped) for f, d in decisions] == [(f, d.kept, d.dropped) for f, d in again_decisions]
    with pytest.raises(ValueError, match="split seeds"):
        resolved_cross_validation("default", manifest, seeds=(0, 1, 2), network=network)


def test_the_resolved_decision_withholds_elements_without_a_stable_isotope():
    """As ``predict`` decides, Tc and Pm are withheld (unstable_elements): a Pm put beside every
    labelled spectrum costs the network alone its exact matches, not the resolved decision;
    ``allow_radioactive`` keeps it."""
    import numpy as np

    from eels_helpers.evaluation.real_spectra import evaluation_set, label_matrix
    from eels_helpers.evaluation.twin_resolved import resolved_cross_validation
    from eels_helpers.physics.elements import element_index

    manifest, _ = evaluation_set(DATA_DIR / "real_spectra")
    P = label_matrix(manifest["labels"]).astype(np.float32) * 0.9
    P[:, element_index("Pm")] = 0.9
    inputs = np.zeros((len(manifest), 3072), np.float32)
    table, _ = resolved_cross_validation(None, manifest, seeds=(0,), resolvers={}, probabilities=P, inputs=inputs)
    assert table.loc["mean", "network_exact_match"] == 0.0 and table.loc["mean", "resolved_exact_match"] == 1.0
    table, _ = resolved_cross_validation(None, manifest, seeds=(0,), resolvers={}, probabilities=P, inputs=inputs,
                                         allow_radioactive=True)
    assert table.loc["mean", "resolved_exact_match"] == 0.0
