"""Elements without a stable isotope (Tc, Pm) are withheld by every decision unless asked for."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from eels_helpers.inference.mapping import map_elements
from eels_helpers.inference.predict import format_prediction, predict
from eels_helpers.inference.unstable_elements import (
    NO_STABLE_ISOTOPE,
    split_withheld,
    unstable_columns,
    withheld_line,
    withhold_unstable,
)
from eels_helpers.physics.elements import ELEMENTS, element_index
from eels_helpers.spectrum import Spectrum


def test_the_withheld_elements_are_exactly_those_without_a_stable_isotope():
    # Z 43 and 61 are the only elements below Bi (83) without a stable isotope (NUBASE2020)
    from eels_helpers.physics.elements import atomic_number

    z = {atomic_number(s) for s in NO_STABLE_ISOTOPE}
    assert z == {43, 61}
    assert [ELEMENTS[i] for i in unstable_columns()] == ["Tc", "Pm"]


def test_withhold_unstable_zeroes_only_their_columns_and_checks_the_shape():
    rng = np.random.default_rng(0)
    P = rng.uniform(size=(3, 4, 80)).astype(np.float32)
    W = withhold_unstable(P)
    keep = np.setdiff1d(np.arange(80), unstable_columns())
    assert np.all(W[..., unstable_columns()] == 0) and np.array_equal(W[..., keep], P[..., keep])
    assert P[..., unstable_columns()].min() > 0                  # a copy: the input is untouched
    R = withhold_unstable(P >= 0.5)
    assert R.dtype == bool and not R[..., unstable_columns()].any()
    with pytest.raises(ValueError, match="80 element columns"):
        withhold_unstable(np.zeros((2, 79)))


def test_split_withheld_keeps_order_and_scores():
    scores = np.zeros(80)
    scores[[element_index("Nd"), element_index("Pm"), element_index("O")]] = (0.7, 0.9, 0.99)
    kept, withheld = split_withheld(("O", "Pm", "Nd"), scores)
    assert kept == ("O", "Nd") and withheld == {"Pm": pytest.approx(0.9)}


def test_withheld_line_names_the_stable_neighbours_by_probability():
    P = np.zeros(80)
    P[[element_index(s) for s in ("Pr", "Nd", "Sm", "Eu")]] = (0.42, 0.10, 0.55, 0.01)
    line = withheld_line("Pm", 0.91, P)
    assert line.startswith("Pm (p 0.91) not reported: it has no stable isotope (Pm-145")
    assert "its neighbours: Sm 0.55, Pr 0.42, Nd 0.10, Eu 0.01" in line and "--allow-radioactive" in line
    tc = withheld_line("Tc", 0.05, P, what="pixels")
    assert "Tc (5% of the pixels)" in tc and "Mo" in tc and "Ru" in tc and "Pm" not in tc
    with pytest.raises(ValueError, match="'Nd' has a stable isotope"):
        withheld_line("Nd", 0.9, P)


class _SaysPmAndO(torch.nn.Module):
    """A fake network: Pm and O at logit 6, Sm at -0.5 (p 0.38), the rest -10."""

    def forward(self, x):
        out = torch.full((x.shape[0], 80), -10.0)
        out[:, [element_index("Pm"), element_index("O")]] = 6.0
        out[:, element_index("Sm")] = -0.5
        return out


def _oxide(shape=()):
    energy = np.arange(100.0, 900.0, 1.0)
    clean = 1e5 * (energy / 100.0) ** -3.0 + np.where(energy >= 532.0, 300.0, 0.0)
    counts = np.random.default_rng(3).poisson(np.broadcast_to(clean, (*shape, energy.size)))
    return Spectrum(counts.astype(np.float32), energy, {"title": "oxide"})


def test_predict_withholds_pm_says_why_and_reports_it_when_allowed():
    [pred] = predict(_oxide(), _SaysPmAndO(), threshold=0.5, device="cpu")
    assert pred.detected == ("O",) and set(pred.withheld) == {"Pm"}
    assert pred.probabilities[element_index("Pm")] > 0.99      # the network's answer is kept
    text = format_prediction(pred)
    assert "Pm (p 1.00) not reported" in text and "Sm 0.38" in text
    assert json.loads(json.dumps(pred.to_dict()))["withheld"]["Pm"] > 0.99
    [allowed] = predict(_oxide(), _SaysPmAndO(), threshold=0.5, device="cpu", allow_radioactive=True)
    assert set(allowed.detected) == {"O", "Pm"} and allowed.withheld == {}


def test_a_spectrum_whose_only_element_is_withheld_says_so():
    class SaysTc(torch.nn.Module):
        def forward(self, x):
            out = torch.full((x.shape[0], 80), -10.0)
            out[:, element_index("Tc")] = 6.0
            return out

    [pred] = predict(_oxide(), SaysTc(), threshold=0.5, device="cpu")
    assert pred.detected == () and "only elements without a stable isotope" in format_prediction(pred)


def test_predict_and_map_withhold_pm_in_spectrum_images(caplog):
    image = _oxide((2, 3))
    [pred] = predict(image, _SaysPmAndO(), threshold=0.5, device="cpu")
    assert pred.detected == ("O",) and pred.withheld == {"Pm": 1.0}
    assert "Pm (100% of the pixels) not reported" in format_prediction(pred)
    with caplog.at_level("DEBUG", logger="eels_helpers.inference.image_decision"):    # map's decision (P41)
        result = map_elements(image, _SaysPmAndO(), threshold=0.5, device="cpu")
    assert result.detected == ("O",) and result.withheld == {"Pm": 1.0}
    assert np.all(result.thresholded_map("Pm"))                 # the map itself is left as it is
    assert "Pm (100% of the pixels) not reported" in caplog.text
    allowed = map_elements(image, _SaysPmAndO(), threshold=0.5, device="cpu", allow_radioactive=True)
    assert set(allowed.detected) == {"O", "Pm"} and allowed.withheld == {}


def test_mapping_file_records_what_was_withheld(tmp_path):
    import h5py

    from eels_helpers.inference.mapping_output import write_results

    image = _oxide((2, 3))
    result = map_elements(image, _SaysPmAndO(), threshold=0.5, device="cpu")
    write_results(tmp_path / "maps", image, result)
    with h5py.File(tmp_path / "maps" / "mapping.h5", "r") as f:
        assert json.loads(f.attrs["kept"]) == ["O"] and json.loads(f.attrs["withheld"]) == {"Pm": 1.0}


def test_the_command_line_withholds_and_allow_radioactive_reports(tmp_path, capsys, monkeypatch):
    from support import write_msa

    import eels_helpers.inference.predict as predict_module
    from eels_helpers.cli import main

    spectrum = _oxide()
    path = tmp_path / "oxide.msa"
    write_msa(path, spectrum.energy_eV, spectrum.data)
    real_predict = predict_module.predict
    monkeypatch.setattr(predict_module, "predict",
                        lambda inputs, model, *a, **k: real_predict(inputs, _SaysPmAndO(), *a, **k))
    assert main(["predict", str(path), "--threshold", "0.5", "--no-verify", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["results"][0]
    assert out["detected"] == ["O"] and "Pm" in out["withheld"]
    assert main(["predict", str(path), "--threshold", "0.5", "--no-verify", "--allow-radioactive", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["results"][0]
    assert set(out["detected"]) == {"O", "Pm"} and "withheld" not in out
