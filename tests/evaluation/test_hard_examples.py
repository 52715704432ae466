"""Per-element errors on simulated spectra and the query weights made from them."""

import numpy as np
import pandas as pd
import pytest

from eels_helpers.evaluation.hard_examples import element_errors, query_weights
from eels_helpers.physics.elements import ELEMENTS


def test_query_weights_average_one_and_follow_the_errors():
    errors = pd.DataFrame({"error": [0.1, 0.3, np.nan, 0.2]}, index=["O", "Sc", "Fe", "N"])
    w = query_weights(errors, uniform_share=0.5)
    assert w["Fe"] == pytest.approx(1.0)                 # no score: the mean error
    assert w["O"] < w["N"] < w["Sc"] and np.mean(list(w.values())) == pytest.approx(1.0)
    assert w["Sc"] == pytest.approx(0.5 + 0.5 * 0.3 / 0.2)
    assert set(query_weights(errors, uniform_share=1.0).values()) == {1.0}      # the paper's uniform draw
    with pytest.raises(ValueError, match="uniform_share"):
        query_weights(errors, uniform_share=1.5)


def test_element_errors_count_each_elements_outcomes_on_simulated_spectra(monkeypatch):
    class Fixed:                     # a "network" that reports O on every spectrum, nothing else
        threshold = 0.5

    import eels_helpers.inference.predict as predict

    calls = []

    def run_model(_loaded, spectra):
        calls.append(len(spectra))
        p = np.zeros((len(spectra), 80), np.float32)
        p[:, ELEMENTS.index("O")] = 1
        return p

    monkeypatch.setattr(predict, "run_model", run_model)
    monkeypatch.setattr(predict, "_as_loaded", lambda model, device: model)
    errors = element_errors(Fixed(), "paper", 0.5, n_spectra=16, batch_size=8)
    assert calls == [8, 8] and list(errors.index) == list(ELEMENTS)
    o = errors.loc["O"]
    assert o.tp + o.fp == 16 and o.tp == o.support and o.fn == 0      # reported everywhere: never missed
    others = errors.drop("O")
    assert (others.tp == 0).all() and (others.fp == 0).all() and (others.fn == others.support).all()
    assert (others.f1[others.support > 0] == 0).all() and others.f1[others.support == 0].isna().all()
    with pytest.raises(ValueError, match="threshold"):
        element_errors(Fixed(), "paper", 1.0)
