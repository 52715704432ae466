"""The paper's Table 2 numbers, the training results JSON (eels_helpers.train.save_results /
load_results / find_results) and the Table 2 renderer with missing entries."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from eels_helpers.paper_results import DISPLAY_NAMES, MISSING, TABLE2, table2_simulated
from eels_helpers.train import (
    RESULTS_JSON,
    TrainResults,
    find_results,
    load_results,
    run_directory,
    save_results,
)

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper" / "annys-2023-deep-learning-core-loss-eels.md"


def make_results(arch="vit", profile="cpu", **kw) -> TrainResults:
    values = dict(architecture=arch, profile=profile, parameters=np.int64(1_094_097),
                  f1=np.float64(0.42), precision=0.4, recall=0.45, emr=0.1, rmse=0.12,
                  threshold=0.35, inference_ms_per_spectrum=3.7, train_minutes=9.5,
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
    assert data["parameters"] == 1_094_097 and data["f1"] == 0.42 and data["options"]["conv_filters"] == [16, 32]
    back = load_results(run_dir)
    assert back == load_results(path)
    assert back.as_dict() == {**res.as_dict(), "options": {"heads": 4, "conv_filters": [16, 32]}}
    assert isinstance(back.parameters, int) and isinstance(back.f1, float)
    assert not list(run_dir.glob("*.tmp"))


def test_find_results_newest_run_or_none(tmp_path):
    assert find_results(tmp_path, "vit", "cpu") is None
    old = save_results(make_results(f1=0.2), run_directory(tmp_path, "vit", "cpu", 0, 100))
    os.utime(old, (1_000_000_000, 1_000_000_000))
    save_results(make_results(f1=0.3), run_directory(tmp_path, "vit", "cpu", 0, 60))
    save_results(make_results(f1=0.9, profile="smoke"), run_directory(tmp_path, "vit", "smoke", 0, 2))
    assert find_results(tmp_path, "vit", "cpu").f1 == 0.3       # the newest cpu run
    assert find_results(tmp_path, "vit", "smoke").f1 == 0.9
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
