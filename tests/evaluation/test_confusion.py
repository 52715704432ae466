"""Reading the single-element confusion matrix, on hand-built matrices with known answers."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from eels_helpers.evaluation.confusion import (
    confusion_shares,
    edge_distances,
    frequent_confusions,
    plot_confusion_matrix,
    single_element_outcomes,
    twin_scores,
)
from eels_helpers.evaluation.metrics import confusion_matrix
from eels_helpers.physics.elements import ELEMENTS

I = {e: i for i, e in enumerate(ELEMENTS)}


@pytest.fixture
def matrix():
    """10 spectra each of Ce, Fe, O; Ce -> La x3 and Ce -> Pr x1 (neighbouring lanthanides),
    Fe -> Co x2 (|dZ| = 1, not lanthanides), O -> Ce x1 (|dZ| = 50)."""
    m = np.zeros((80, 80), np.int64)
    m[I["Ce"], [I["Ce"], I["La"], I["Pr"]]] = 6, 3, 1
    m[I["Fe"], [I["Fe"], I["Co"]]] = 8, 2
    m[I["O"], [I["O"], I["Ce"]]] = 9, 1
    return m


def test_frequent_confusions_sorted_with_dz(matrix):
    table = frequent_confusions(matrix)
    assert list(zip(table.true, table.predicted, table["count"])) == [
        ("Ce", "La", 3), ("Fe", "Co", 2), ("O", "Ce", 1), ("Ce", "Pr", 1)]   # ties in element order
    assert list(table.dZ) == [1, 1, 50, 1] and list(table.lanthanides) == [True, False, False, True]
    assert list(table.dE_eV) == [11.0, 71.0, 351.0, 4.0]    # Ce N 110 / La N 99, Fe L 708 / Co L 779, ...
    np.testing.assert_allclose(table.fraction, [0.3, 0.2, 0.1, 0.1])
    assert len(frequent_confusions(matrix, top=2)) == 2


def test_confusion_shares(matrix):
    s = confusion_shares(matrix)
    assert (s["spectra"], s["correct"], s["confused"], s["pairs"]) == (30, 23, 7, 4)
    assert s["accuracy"] == pytest.approx(23 / 30)
    assert s["neighbour_share"] == pytest.approx(6 / 7)            # Ce-La, Ce-Pr, Fe-Co
    assert s["lanthanide_share"] == pytest.approx(4 / 7) == s["lanthanide_neighbour_share"]
    assert s["overlap_share"] == pytest.approx(4 / 7)              # Ce-La 11 eV, Ce-Pr 4 eV apart
    assert confusion_shares(matrix, overlap_eV=100)["overlap_share"] == pytest.approx(6 / 7)
    perfect = confusion_shares(np.diag(np.full(80, 2)))
    assert perfect["accuracy"] == 1 and np.isnan(perfect["neighbour_share"])


def test_edge_distances_from_the_onset_table():
    d = edge_distances()
    assert d.shape == (80, 80) and (d == d.T).all() and (np.diag(d) == 0).all()
    assert d[I["Sb"], I["O"]] == 4.0 and d[I["Co"], I["Ba"]] == 2.0      # Sb M 528 / O K 532, Co L 779 / Ba M 781


def test_matrix_from_single_element_predictions():
    y = np.zeros((3, 80))
    y[[0, 1, 2], [I["Nd"], I["Nd"], I["Ti"]]] = 1
    p = np.zeros((3, 80))
    p[[0, 1, 2], [I["Nd"], I["Pm"], I["Ti"]]] = 0.9
    s = confusion_shares(confusion_matrix(y, p))
    assert s["confused"] == 1 and s["lanthanide_neighbour_share"] == 1


def test_errors_name_the_input():
    with pytest.raises(ValueError, match="80 x 80"):
        confusion_shares(np.zeros((3, 3), int))
    with pytest.raises(ValueError, match="non-negative integer"):
        frequent_confusions(np.full((80, 80), 0.5))
    with pytest.raises(ValueError, match="span"):
        plot_confusion_matrix(np.zeros((80, 80), int), span=("Lu", "La"))


def test_plot_full_and_lanthanide_block(matrix):
    ax = plot_confusion_matrix(matrix)
    assert ax.get_images()[0].get_array().shape == (80, 80)
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["Be", "C"]     # every 2nd element
    ax = plot_confusion_matrix(matrix, span=("La", "Lu"), label_every=1)
    assert ax.get_images()[0].get_array().shape == (15, 15)
    assert ax.get_yticklabels()[-1].get_text() == "Lu"
    plt.close("all")


def test_single_element_outcomes_are_disjoint_and_known():
    y = np.zeros((4, 80))
    y[:, I["Ce"]] = 1
    p = np.zeros((4, 80))
    p[0, I["Ce"]] = 0.9                                  # exact
    p[1, [I["Ce"], I["La"]]] = 0.9, 0.6                  # Ce right, La also above 0.5: extra
    p[2, I["Ce"]] = 0.3                                  # most probable but below 0.5: missed
    p[3, [I["Ce"], I["Pr"]]] = 0.6, 0.7                  # Pr most probable: confused
    assert single_element_outcomes(y, p, 0.5) == {"exact": 0.25, "extra": 0.25, "missed": 0.25, "confused": 0.25}
    assert single_element_outcomes(y, p, 0.25)["extra"] == 0.25 and single_element_outcomes(y, p, 0.25)["missed"] == 0
    with pytest.raises(ValueError, match="exactly one element"):
        single_element_outcomes(np.ones((1, 80)), np.ones((1, 80)), 0.5)


def test_twin_scores_count_both_reported_on_each_ones_spectra():
    y, p = np.zeros((4, 80)), np.zeros((4, 80))
    n, sc = ELEMENTS.index("N"), ELEMENTS.index("Sc")
    y[0, n] = y[1, n] = 1
    y[2, sc] = y[3, sc] = 1
    p[:, n] = [0.9, 0.8, 0.7, 0.1]            # N reported on both N spectra and one Sc spectrum
    p[:, sc] = [0.9, 0.1, 0.9, 0.9]           # Sc on one N spectrum and both Sc spectra
    row = twin_scores(y, p, 0.5, pairs=(("N", "Sc"),)).iloc[0]
    assert (row.pair, row.n_a, row.n_b) == ("N/Sc", 2, 2)
    assert row.f1_a == pytest.approx(2 * 2 / (2 + 3)) and row.f1_b == pytest.approx(2 * 2 / (2 + 3))
    assert row.both_a == 0.5 and row.both_b == 0.5
    with pytest.raises(ValueError, match="unknown element symbols"):
        twin_scores(y, p, 0.5, pairs=(("N", "Xx"),))


def test_simulated_twin_scores_runs_a_network_on_the_twins_spectra():
    import torch

    from eels_helpers.evaluation.confusion import simulated_twin_scores
    from eels_helpers.models import create_model

    torch.manual_seed(0)
    table = simulated_twin_scores(create_model("mlp", hidden=[8]).eval(), "paper", 0.5, n_spectra=64, seed=1)
    assert list(table.pair) == ["N/Sc", "O/Sb", "F/Xe", "B/Cl"]
    assert (table.n_a + table.n_b).sum() > 0 and table[["f1_a", "f1_b"]].stack().between(0, 1).all()
