"""The paper's Table 2 numbers, the training results JSON (eels_helpers.training.runs.save_results /
load_results / find_results) and the Table 2 renderer with missing entries."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from eels_helpers.evaluation.metrics import Scores
from eels_helpers.evaluation.paper_numbers import (
    DISPLAY_NAMES,
    MISSING,
    NOT_REPORTED,
    TABLE2,
    TABLE3,
    TABLE3_NAMES,
    table2_experimental,
    table2_simulated,
    table3,
)
from eels_helpers.training.runs import (
    RESULTS_JSON,
    TrainResults,
    find_results,
    load_results,
    run_directory,
    save_results,
)

PAPER = Path(__file__).resolve().parents[3] / "shared" / "paper" / "annys-2023-deep-learning-core-loss-eels.md"


def make_results(arch="vit", profile="cpu", **kw) -> TrainResults:
    scores = dict(f1=np.float64(0.42), precision=0.4, recall=0.45, emr=0.1, rmse=0.12, threshold=0.35)
    scores.update({k: kw.pop(k) for k in list(kw) if k in scores})
    values = dict(architecture=arch, profile=profile, parameters=np.int64(1_094_097),
                  scores=Scores(**scores), inference_ms_per_spectrum=3.7, train_minutes=9.5,
                  spectra=19_200, epochs=10, n_test=1024, model_config="cpu",
                  options={"heads": 4, "conv_filters": (16, 32)})
    values.update(kw)
    return TrainResults(**values)


def test_results_json_round_trip(tmp_path):
    res = make_results()
    run_dir = run_directory(tmp_path / "train", "vit", "cpu", 0, 60)
    assert run_dir == tmp_path / "train" / "vit-cpu-seed0-steps60"
    path = save_results(res, run_dir)
    assert path == run_dir / RESULTS_JSON
    data = json.loads(path.read_text())          # plain JSON (numpy numbers converted)
    assert data["parameters"] == 1_094_097 and data["scores"]["f1"] == 0.42
    assert data["options"]["conv_filters"] == [16, 32]
    back = load_results(run_dir)
    assert back == load_results(path)
    assert back.as_dict() == {**res.as_dict(), "options": {"heads": 4, "conv_filters": [16, 32]}}
    assert isinstance(back.parameters, int) and isinstance(back.scores.f1, float)
    assert not list(run_dir.glob("*.tmp"))


def test_results_of_the_flat_layout_still_load(tmp_path):
    """results.json files written before the scores were nested (f1, ... beside the rest)."""
    res = make_results()
    flat = {k: v for k, v in res.as_dict().items() if k != "scores"} | res.scores.as_dict()
    (tmp_path / RESULTS_JSON).write_text(json.dumps(flat))
    assert load_results(tmp_path).scores == res.scores


def test_find_results_newest_run_or_none(tmp_path):
    assert find_results(tmp_path, "vit", "cpu") is None
    old = save_results(make_results(f1=0.2), run_directory(tmp_path, "vit", "cpu", 0, 100))
    os.utime(old, (1_000_000_000, 1_000_000_000))
    save_results(make_results(f1=0.3), run_directory(tmp_path, "vit", "cpu", 0, 60))
    save_results(make_results(f1=0.9, profile="smoke"), run_directory(tmp_path, "vit", "smoke", 0, 2))
    assert find_results(tmp_path, "vit", "cpu").scores.f1 == 0.3       # the newest cpu run
    assert find_results(tmp_path, "vit", "smoke").scores.f1 == 0.9
    assert find_results(tmp_path, "vit", "cpu", seed=1) is None
    assert find_results(tmp_path, "cct", "cpu") is None


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(architecture="rnn"), "architecture must be one of"),
        (dict(parameters=0), "parameters must be a positive int"),
        (dict(f1=1.2), r"f1 must be a fraction in \[0, 1\]"),
        (dict(emr=-0.1), r"emr must be a fraction"),
        (dict(train_minutes=float("nan")), "train_minutes must be a finite time"),
        (dict(inference_ms_per_spectrum=-1.0), "inference_ms_per_spectrum must be a finite time"),
    ],
)
def test_results_validation(kw, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_results(**kw)


def test_table2_matches_the_paper_text():
    """TABLE2 against the rows of the paper's Table 2, parsed independently from the paper."""
    if not PAPER.is_file():
        pytest.skip("paper text not available")
    text = PAPER.read_text()
    for name, row in TABLE2.items():
        label = DISPLAY_NAMES[name]
        line = re.search(rf"^{re.escape(label)}\t([0-9.\t]+)$", text, re.M)
        assert line, label
        numbers = [float(v) for v in line.group(1).split("\t")]
        assert numbers == [row.parameters_m, row.sim_f1, row.sim_emr, row.sim_rmse, row.exp_f1,
                           row.exp_emr, row.exp_rmse, row.inference_s], label


def test_table2_renderer_with_missing_entries():
    table = table2_simulated({"vit": make_results(), "mlp": None})
    assert list(table.index) == ["MLP", "CNN", "ResNet", "U-Net", "ViT", "CCT"]   # paper order
    vit = table.loc["ViT"]
    assert vit[("F1", "paper")] == 0.84 and vit[("F1", "ours")] == 0.42
    assert vit[("EMR", "paper")] == 0.55 and vit[("EMR", "ours")] == 0.1
    assert vit[("RMSE", "paper")] == 0.09 and vit[("RMSE", "ours")] == 0.12
    assert vit[("parameters (M)", "paper")] == 2 and vit[("parameters (M)", "ours")] == 1.09
    assert vit[("inference", "ours [ms/spectrum]")] == 3.7
    assert vit[("this run", "training spectra")] == 19_200
    for missing in ("MLP", "CNN", "CCT"):                  # None, or not given at all
        row = table.loc[missing]
        assert row[("F1", "ours")] == MISSING and row[("this run", "training (min)")] == MISSING
        assert row[("F1", "paper")] == TABLE2[missing.lower()].sim_f1   # the paper's still shown
    assert "not run" in table.to_html()
    empty = table2_simulated({})
    assert (empty[("F1", "ours")] == MISSING).all()
    with pytest.raises(ValueError, match=r"unknown architecture\(s\) \['rnn'\]"):
        table2_simulated({"rnn": None})


# --------------------------------------------------------------------------------------------
# Table 3 and the experimental columns of Table 2


def test_table3_matches_the_paper_text():
    """TABLE3 against the rows printed under "Table 3" (F1, precision, recall, EMR, threshold)."""
    if not PAPER.is_file():
        pytest.skip("paper text not available")
    text = PAPER.read_text()
    block = text[text.index("Model\tF <sub>1</sub> -score\tPrecision"):text.index("Table 3. Evaluation")]
    printed = {"ViT": "vit", "U-Net": "unet", "2\u00d7ViT+3\u00d7U-Net": "ensemble"}
    rows = dict(re.findall(r"^(\S+)\t([0-9.\t]+)$", block, re.M))
    assert set(rows) == set(printed)
    for label, key in printed.items():
        row = TABLE3[key]
        assert [float(v) for v in rows[label].split("\t")] == [row.f1, row.precision, row.recall, row.emr,
                                                              row.threshold], label
        assert TABLE3_NAMES[key] == label
    assert list(TABLE3) == ["vit", "unet", "ensemble"]                  # the paper's order


def test_table3_values_as_printed():
    """Independent of the paper file: the numbers of the published Table 3."""
    assert TABLE3["vit"].f1 == 0.84 and TABLE3["vit"].precision == 0.86 and TABLE3["vit"].emr == 0.60
    assert TABLE3["unet"].emr == 0.62 and TABLE3["unet"].threshold == 0.95
    assert (TABLE3["ensemble"].f1, TABLE3["ensemble"].precision, TABLE3["ensemble"].recall,
            TABLE3["ensemble"].emr, TABLE3["ensemble"].threshold) == (0.86, 0.88, 0.88, 0.70, 0.75)


SCORES = {"f1": 0.614, "precision": 0.6, "recall": 0.7, "emr": 0.123, "rmse": 0.0999, "threshold": 0.35}


def test_table2_experimental_renderer():
    table = table2_experimental({"default": ("vit", SCORES), "ens": ("ensemble", SCORES), "run": ("cct", None)})
    assert list(table.index) == ["default", "ens", "run"]
    assert table.loc["default", ("architecture", "")] == "ViT"
    assert table.loc["default", ("F1", "paper")] == 0.84 and table.loc["default", ("F1", "ours")] == 0.61
    assert table.loc["default", ("EMR", "paper")] == 0.60 and table.loc["default", ("EMR", "ours")] == 0.12
    assert table.loc["default", ("RMSE", "paper")] == 0.08 and table.loc["default", ("RMSE", "ours")] == 0.1
    assert table.loc["default", ("threshold", "ours")] == 0.35
    assert table.loc["ens", ("F1", "paper")] == NOT_REPORTED and table.loc["ens", ("F1", "ours")] == 0.61
    assert table.loc["run", ("RMSE", "paper")] == 0.08 and table.loc["run", ("RMSE", "ours")] == MISSING
    with pytest.raises(ValueError, match="unknown architecture 'rnn'"):
        table2_experimental({"x": ("rnn", SCORES)})
    with pytest.raises(ValueError, match=r"must be \(architecture, scores or None\)"):
        table2_experimental({"x": SCORES})


def test_table3_renderer_with_missing_rows():
    table = table3({"vit": SCORES, "unet": None}, sources={"vit": "default"})
    assert list(table.index) == ["ViT", "U-Net", "2\u00d7ViT+3\u00d7U-Net"]
    vit = table.loc["ViT"]
    assert vit[("precision", "paper")] == 0.86 and vit[("precision", "ours")] == 0.6
    assert vit[("recall", "ours")] == 0.7 and vit[("EMR", "ours")] == 0.12 and vit[("threshold", "paper")] == 0.80
    assert vit[("our model", "")] == "default"
    for missing in ("U-Net", "2\u00d7ViT+3\u00d7U-Net"):
        assert table.loc[missing, ("F1", "ours")] == MISSING and table.loc[missing, ("our model", "")] == MISSING
    assert table.loc["U-Net", ("threshold", "paper")] == 0.95
    with pytest.raises(ValueError, match=r"unknown model\(s\) \['cct'\]"):
        table3({"cct": SCORES})


def test_composition_writes_an_ensemble_as_the_paper_does():
    from eels_helpers.evaluation.paper_numbers import composition

    assert composition(("vit", "unet", "vit", "unet", "unet")) == "2\u00d7ViT+3\u00d7U-Net"
    assert composition(("unet", "vit")) == "1\u00d7U-Net+1\u00d7ViT"          # first-seen order
    assert composition(("mystery",)) == "1\u00d7mystery"                        # unknown names kept
