"""Reliability notes: how often a reported element was right on simulated spectra of the same
window class (a hand-made table here; the shipped one is measured by scripts/measure_report_reliability.py)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from eels_helpers.inference.predict import Prediction
from eels_helpers.inference.report_reliability import (
    MIN_REPORTS,
    NOTE_BELOW,
    load_reliability,
    reliability_notes,
    save_reliability,
    window_class,
)
from eels_helpers.inference.verification_model import network_fingerprint


def _input(first_eV: int) -> np.ndarray:
    x = np.zeros(3072, np.float32)
    x[first_eV:first_eV + 500] = np.linspace(1.0, 0.1, 500)
    return x


def _prediction(detected, first_eV=80) -> Prediction:
    return Prediction(source="s.msa", probabilities=np.zeros(80, np.float32), threshold=0.5,
                      detected=tuple(detected), mean_input=_input(first_eV))


def _entry(networks, low, other=None) -> dict:
    return {"model": "default", "networks": networks, "config": "open-world-henke",
            "classes": {"low_start": low, "other": other or {}},
            "simulated_per_class": {"low_start": 4000, "other": 12000}}


def test_window_class_is_the_first_measured_channel_of_the_network_input():
    x = np.stack([_input(75), _input(109), _input(110), _input(400), np.zeros(3072, np.float32)])
    assert window_class(x).tolist() == ["low_start", "low_start", "other", "other", "other"]
    assert window_class(_input(80)).tolist() == ["low_start"]          # one input


def test_a_note_needs_enough_reports_right_in_fewer_than_half(tmp_path):
    assert (MIN_REPORTS, NOTE_BELOW) == (20, 0.5)                       # fixed before the table was measured
    table = tmp_path / "rel.json"
    low = {"Be": [150, 33], "O": [19, 2], "C": [40, 20], "Si": [30, 14]}
    save_reliability("default", _entry(network_fingerprint("default"), low, {"Be": [50, 40]}), table)
    notes = reliability_notes(_prediction(["Be", "O", "C", "Si", "N"]), "default", path=table)
    assert [n.element for n in notes] == ["Be", "Si"]           # O: too few reports; C: exactly half; N: none
    be = notes[0]
    assert (be.reported, be.right, be.simulated) == (150, 33, 4000) and be.precision == pytest.approx(0.22)
    assert be.message() == ("Be is often reported where it is absent in spectra like this one: on 4,000 simulated "
                            "spectra whose window starts below 110 eV, `default` reported Be 150 times and was right "
                            "33 times (22 %); check its edges by eye")
    assert be.to_dict()["precision"] == 0.22 and be.to_dict()["message"] == be.message()
    assert be.to_dict()["config"] == "open-world-henke"
    # the same element in a window that starts higher: that class's counts (right 40 of 50): no note
    assert reliability_notes(_prediction(["Be"], first_eV=300), "default", path=table) == []
    # the elements finally reported (e.g. the verified ones) instead of the network's
    assert [n.element for n in reliability_notes(_prediction(["Be", "Si"]), "default", ["Si"], table)] == ["Si"]


def test_no_note_without_a_current_table_at_another_threshold_or_for_a_spectrum_image(tmp_path, caplog):
    table = tmp_path / "rel.json"
    assert reliability_notes(_prediction(["Be"]), "default", path=table) == []          # no table
    save_reliability("default", _entry(["unet-old.pt:0123456789ab"], {"Be": [150, 33]}), table)
    save_reliability("ensemble", _entry(None, {"Be": [100, 10]}), table)                # records no networks
    with caplog.at_level(logging.WARNING, logger="eels_helpers.inference.report_reliability"):
        assert load_reliability("default", table) is None
        assert reliability_notes(_prediction(["Be"]), "default", path=table) == []
        assert reliability_notes(_prediction(["Be"]), "ensemble", path=table) == []
    assert "measured for the networks unet-old.pt:0123456789ab" in caplog.text
    assert "python scripts/measure_report_reliability.py --model default" in caplog.text
    assert "'ensemble' records no networks" in caplog.text
    assert caplog.text.count("measured for the networks") == 1                          # warned once
    data = json.loads(table.read_text())
    assert set(data["models"]) == {"default", "ensemble"}                  # saving one keeps the others
    current = _entry(network_fingerprint("ensemble"), {"Be": [100, 10]})
    save_reliability("ensemble", current, table)
    assert [n.element for n in reliability_notes(_prediction(["Be"]), "ensemble", path=table)] == ["Be"]
    # measured with other twin resolvers than the shipped ones: stale; at another threshold: no notes
    save_reliability("ensemble", {**current, "resolvers": "000000000000"}, table)
    with caplog.at_level(logging.WARNING, logger="eels_helpers.inference.report_reliability"):
        assert reliability_notes(_prediction(["Be"]), "ensemble", path=table) == []
    assert "measured with the twin resolvers 000000000000" in caplog.text
    save_reliability("ensemble", {**current, "threshold": 0.65}, table)
    assert reliability_notes(_prediction(["Be"]), "ensemble", path=table) == []         # the prediction used 0.5
    save_reliability("ensemble", {**current, "threshold": 0.5}, table)
    assert [n.element for n in reliability_notes(_prediction(["Be"]), "ensemble", path=table)] == ["Be"]
    load_reliability("ensemble", table)["classes"]["low_start"]["Be"] = [100, 100]      # a copy: the cache keeps its own
    assert [n.element for n in reliability_notes(_prediction(["Be"]), "ensemble", path=table)] == ["Be"]
    image = Prediction(source="si.dm4", probabilities=np.zeros((2, 2, 80), np.float32), threshold=0.5,
                       detected=("Be",), mean_input=_input(80))
    assert reliability_notes(image, "ensemble", path=table) == []
    table.write_text("{not json")
    with pytest.raises(ValueError, match="not a valid report-reliability table"):
        load_reliability("other-model", table)


def test_cli_predict_prints_and_writes_the_reliability_notes(tmp_path, capsys, monkeypatch):
    """`eels-id predict` on a 350-750 eV spectrum with a model that reports N: the note where the
    table says N was rarely right in such windows, text and JSON; none with a table saying otherwise."""
    import torch
    from support import write_msa

    from eels_helpers.cli import main as cli_main
    from eels_helpers.inference import report_reliability
    from eels_helpers.models import create_model, model_files
    from eels_helpers.physics.elements import ELEMENTS

    net = create_model("mlp", hidden=[4]).eval()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.fill_(-10.0)
        net.head.bias[ELEMENTS.index("N")] = 3.0
    model = tmp_path / "only_n.pt"
    model_files.save_model(model, net, architecture="mlp", options={"hidden": [4]}, threshold=0.5,
                           metadata={"trained_on": "nothing (test)", "steps": 0})
    energy = 350.0 + 0.5 * np.arange(800)
    write_msa(tmp_path / "bn.msa", energy, 1e5 * (energy / 350.0) ** -3 * (1 + 0.5 / (1 + np.exp(-(energy - 401.0)))))
    table = tmp_path / "rel.json"
    save_reliability(str(model), {**_entry(network_fingerprint(str(model)), {}, {"N": [100, 10]}),
                                  "model": "only_n"}, table)
    monkeypatch.setattr(report_reliability, "RELIABILITY_FILE", table)
    args = ["predict", str(tmp_path / "bn.msa"), "--model", str(model), "--no-verify"]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert ("caution: N is often reported where it is absent in spectra like this one: on 12,000 simulated spectra "
            "whose window starts at 110 eV or above, `only_n` reported N 100 times and was right 10 times (10 %)") in out
    assert cli_main(args + ["--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    (note,) = result["reliability"]
    assert note["element"] == "N" and note["precision"] == 0.1 and note["window"].endswith("110 eV or above")
    save_reliability(str(model), {**_entry(network_fingerprint(str(model)), {}, {"N": [100, 90]}),
                                  "model": "only_n"}, table)
    assert cli_main(args + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["reliability"] == []
    # a broken table: predict goes on, with a warning and no notes
    table.write_text("{half")
    assert cli_main(args) == 0
    captured = capsys.readouterr()
    assert "N (" in captured.out and "caution: N" not in captured.out
    assert "eels-id predict: warning: no reliability notes: " in captured.err and "rel.json" in captured.err


def test_no_reliability_notes_where_verification_ran():
    """`--verify`'s fit is the check the note asks for, and the table counts the network's reports."""
    from types import SimpleNamespace

    from eels_helpers.cli.predict import _reliability

    threshold = load_reliability("ensemble")["threshold"]      # the shipped ensemble's threshold and table
    pred = Prediction(source="s.msa", probabilities=np.zeros(80, np.float32), threshold=threshold, detected=("Be",),
                      mean_input=_input(80))
    assert [n.element for n in _reliability(pred, None, "ensemble")] == ["Be"]
    assert _reliability(pred, SimpleNamespace(verified=("Be",)), "ensemble") == []
