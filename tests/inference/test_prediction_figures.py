"""The prediction figure (`eels-id predict --plot`): edge labels, the measured range, set-aside bars."""

import numpy as np

from eels_helpers.inference.predict import Prediction
from eels_helpers.inference.prediction_figures import draw_prediction, edge_labels
from eels_helpers.inference.twin_resolution import TwinDecision
from eels_helpers.physics.elements import ELEMENTS


def test_edge_labels_name_k_as_k_and_merge_close_onsets_into_one_family_label():
    assert edge_labels("O", [(532.0, "K1")], 5.0) == [(532.0, "O K")]
    assert edge_labels("Ce", [(901.0, "M4"), (883.0, "M5")], 20.0) == [(883.0, "Ce M4,5"), (901.0, "")]
    assert edge_labels("Ce", [(901.0, "M4"), (883.0, "M5")], 5.0) == [(883.0, "Ce M5"), (901.0, "Ce M4")]
    assert edge_labels("Ba", [(100.0, "N5"), (102.0, "N4"), (104.0, "M1")], 3.0)[0] == (100.0, "Ba N5, N4, M1")


def test_the_figure_draws_only_the_measured_range_and_says_why_a_bar_above_the_threshold_is_not_reported():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spectrum = np.zeros(3072, np.float32)
    spectrum[300:700] = np.linspace(1.0, 0.2, 400)
    probs = np.zeros(80, np.float32)
    for s, v in (("N", 0.83), ("Sc", 0.98), ("O", 0.9), ("Pm", 0.75)):
        probs[ELEMENTS.index(s)] = v
    pred = Prediction("bn.msa", probs, 0.7, ("O", "N"), mean_input=spectrum,
                      twins=(TwinDecision(("N", "Sc"), "N", "Sc", 0.8),), withheld={"Pm": 0.75})
    fig, (ax, bar) = plt.subplots(1, 2)
    draw_prediction(ax, bar, pred)
    line = ax.get_lines()[0].get_ydata()
    assert np.isnan(line[:300]).all() and np.isnan(line[700:]).all() and np.isfinite(line[300:700]).all()
    labels = {t.get_text() for t in ax.texts}
    assert "O K" in labels and "N K" in labels and not any(t.endswith("K1") for t in labels)
    assert sorted(t.get_text() for t in bar.texts) == ["dropped by the twin resolver", "withheld: no stable isotope"]
    plt.close(fig)
