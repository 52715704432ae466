"""Element occurrence (paper Fig. 4): the one count from a label matrix, per split, table and plot."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.datasets.hdf5_reader import open_dataset
from eels_helpers.datasets.occurrence import (
    element_occurrence,
    occurrence_table,
    plot_element_occurrence,
    split_occurrence,
)
from eels_helpers.physics.elements import ELEMENTS


def test_element_occurrence_counts_labelled_rows():
    labels = np.zeros((4, 80), np.float32)
    labels[0, [ELEMENTS.index("O"), ELEMENTS.index("Fe")]] = 1
    labels[1, [ELEMENTS.index("C"), ELEMENTS.index("O")]] = 1
    labels[2, ELEMENTS.index("Ce")] = 1                                  # row 3: nothing labelled
    occ = element_occurrence(labels)
    assert occ.shape == (80,) and occ.dtype == np.int64 and occ.sum() == 5
    assert occ[ELEMENTS.index("O")] == 2 and occ[ELEMENTS.index("C")] == 1 and occ[ELEMENTS.index("Ce")] == 1
    np.testing.assert_array_equal(element_occurrence(labels.astype(np.uint8)), occ)
    np.testing.assert_array_equal(element_occurrence(np.zeros((0, 80))), np.zeros(80))
    with pytest.raises(ValueError, match=r"shape \(N, 80\).*\(4, 79\)"):
        element_occurrence(labels[:, :79])


def test_split_occurrence_and_table(reference):
    d = open_dataset(reference)
    for s in d.splits:
        occ = split_occurrence(d, s, block=50)
        np.testing.assert_array_equal(occ, d[s].read("labels_identification").sum(0))
    tab = occurrence_table(d)
    assert list(tab.element) == list(ELEMENTS)
    assert tab.train_query.sum() == len(d["train"])
    assert (tab.loc[tab.element == "Fe", "train_occurrence"] >= tab.loc[tab.element == "Fe", "train_query"]).all()


def test_plot_element_occurrence_draws_the_fractions(reference):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = open_dataset(reference)
    ax = plot_element_occurrence(d, ("train", "test"))
    bars = [p.get_height() for p in ax.patches]
    assert len(bars) == 2 * 80
    np.testing.assert_allclose(bars[:80], split_occurrence(d, "train") / len(d["train"]))
    plt.close(ax.figure)
