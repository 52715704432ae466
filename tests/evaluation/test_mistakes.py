"""The paper's common mistakes (neighbouring elements, thresholding) counted on hand-built
predictions, the deterministic choice of Fig. 6's examples and their figure."""

from __future__ import annotations

import numpy as np
import pytest

from eels_helpers.evaluation.mistakes import choose_examples, common_mistakes, plot_examples
from eels_helpers.evaluation.real_spectra import Evaluation, label_matrix
from eels_helpers.physics.elements import ELEMENTS


def _mistake_matrix():
    """Seven hand-built spectra at threshold 0.5 (see test_common_mistakes_on_a_known_case)."""
    cases = [  # (true elements, {element: probability})
        (("Ce",), {"Ce": 0.9, "Pr": 0.7}),             # 0: neighbouring lanthanide, also threshold only
        (("Nd",), {"Nd": 0.3, "Pm": 0.8}),             # 1: Nd missed, neighbour Pm instead (a swap)
        (("W",), {"W": 0.95, "Re": 0.6}),              # 2: the paper's W/Re case: threshold only
        (("O", "Fe"), {"Fe": 0.9, "O": 0.8, "Ba": 0.6}),  # 3: threshold only, not a neighbour
        (("Fe", "C"), {"Fe": 0.9, "C": 0.99}),         # 4: correct (carbon left out)
        (("C",), {}),                                  # 5: carbon only: nothing scored
        (("Ti",), {"Ti": 0.6, "V": 0.7}),              # 6: neighbour, ranked above the true element
    ]
    p = np.zeros((len(cases), 80))
    for i, (_, probs) in enumerate(cases):
        for symbol, value in probs.items():
            p[i, ELEMENTS.index(symbol)] = value
    return p, label_matrix([c[0] for c in cases])


def test_common_mistakes_on_a_known_case():
    p, y = _mistake_matrix()
    m = common_mistakes(p, y, 0.5, files=[f"f{i}" for i in range(7)])
    assert m.counts == {
        "spectra": 7, "exact_matches": 2, "false_positives": 5, "false_negatives": 1,
        "neighbour_fp": 4, "lanthanide_fp": 2, "lanthanide_neighbour_fp": 2, "neighbour_swaps": 1,
        "threshold_only_fp": 3, "threshold_only_spectra": 3, "other_fp": 0,
    }
    fp = m.false_positives.set_index("element")
    assert list(fp.index) == ["Pr", "Pm", "Re", "Ba", "V"]
    assert fp.loc["Pr", "present neighbours"] == "Ce" and fp.loc["Pr", "lanthanide neighbour"]
    assert fp.loc["Pr", "threshold only"] and not fp.loc["Pm", "threshold only"]
    assert fp.loc["Re", "present neighbours"] == "W" and not fp.loc["Re", "lanthanide neighbour"]
    assert fp.loc["Ba", "present neighbours"] == "" and fp.loc["Ba", "file"] == "f3"
    # the counts agree with the metrics' exact match ratio (carbon left out)
    from eels_helpers.evaluation.metrics import exact_match_ratio

    assert exact_match_ratio(y, p, 0.5, exclude_carbon=True) == pytest.approx(2 / 7)
    other = np.zeros((1, 80))
    other[0, [ELEMENTS.index("Fe"), ELEMENTS.index("Au")]] = 0.3, 0.9     # Fe missed, Au instead
    counts = common_mistakes(other, label_matrix([("Fe",)]), 0.5).counts
    assert (counts["other_fp"], counts["neighbour_fp"], counts["threshold_only_fp"], counts["false_negatives"]) == (1, 0, 0, 1)
    none = common_mistakes(y.astype(float), y, 0.5)
    assert none.counts["false_positives"] == 0 and none.false_positives.empty
    with pytest.raises(ValueError, match=r"must both be \(n, 80\)"):
        common_mistakes(p[:, :79], y[:, :79], 0.5)
    with pytest.raises(ValueError, match="2 file names for 7 spectra"):
        common_mistakes(p, y, 0.5, files=["a", "b"])


def test_choose_examples_is_deterministic_and_mixes_the_kinds():
    p, y = _mistake_matrix()
    chosen = choose_examples(p, y, 0.5)
    # one exact match only (row 5 is carbon only): the five other places go to mistakes, taken in
    # turn: lanthanides by false probability (Pm 0.8, Pr 0.7), threshold-only by margin (W-Re 0.35
    # first), then the rest
    assert chosen == [(4, "correct"), (1, "neighbouring lanthanide"), (2, "threshold only"),
                      (6, "other mistake"), (0, "neighbouring lanthanide"), (3, "threshold only")]
    assert choose_examples(p, y, 0.5) == chosen
    assert choose_examples(p, y, 0.5, n_correct=1, n_mistakes=1) == [(4, "correct"), (1, "neighbouring lanthanide")]
    # many exact matches: spread over Z (lightest, middle, heaviest)
    symbols = ["B", "N", "O", "Fe", "Ce", "Au", "Bi"]
    y2 = label_matrix([(s,) for s in symbols])
    rows = [r for r, kind in choose_examples(y2.astype(float), y2, 0.5, n_mistakes=0)]
    assert [symbols[r] for r in rows] == ["B", "Fe", "Bi"]



def test_plot_examples_draws_each_example():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    energy = np.arange(3072.0)
    inputs = np.where(energy >= 600, (np.maximum(energy, 600) / 600.0) ** -3, 0.0)
    inputs = np.stack([inputs * (1 + 0.3 * (energy > 708)), inputs]).astype(np.float32)
    probabilities = np.full((2, 80), 0.01, dtype=np.float32)
    probabilities[0, ELEMENTS.index("Fe")] = 0.9          # fe.csv: Fe found
    probabilities[1, ELEMENTS.index("O")] = 0.2           # none.csv: O missed
    table = pd.DataFrame({"file": ["fe.csv", "none.csv"], "labels": ["Fe", "O"], "offset_eV": [0.0, 0.0]})
    result = Evaluation(table, probabilities, label_matrix([("Fe",), ("O",)]), 0.5, {}, inputs=inputs)
    fig = plot_examples(result, [(0, "correct"), (1, "other mistake")], ncols=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert "fe.csv [correct]\ntrue: Fe; detected: Fe" in titles
    assert any(t.startswith("none.csv [other mistake]") and "detected: nothing" in t for t in titles)
    bars = fig.axes[1].patches
    assert bars[-1].get_width() > 0.5 and bars[-1].get_facecolor()[:3] == pytest.approx(matplotlib.colors.to_rgb("tab:green"))
    assert fig.axes[3].patches[-1].get_facecolor()[:3] == pytest.approx(matplotlib.colors.to_rgb("tab:orange"))
    plt.close(fig)
    with pytest.raises(ValueError, match="no examples"):
        plot_examples(result, [])
    with pytest.raises(ValueError, match="holds no inputs"):
        plot_examples(Evaluation(table, probabilities, result.labels, 0.5, {}), [(0, "correct")])
