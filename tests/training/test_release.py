"""Shipping trained runs: float16 files, thresholds by the paper's rule, a card from measurements."""

import json
from pathlib import Path

import numpy as np
import pytest
from support import terminal_stderr

from eels_helpers.evaluation.metrics import evaluate, evaluate_at_validation_threshold, select_threshold
from eels_helpers.models.model_files import load_model, model_files
from eels_helpers.training import release as shipping
from eels_helpers.training.config import TrainConfig
from eels_helpers.training.data import SyntheticPeaks
from eels_helpers.training.loop import train

TINY = dict(model="mlp", model_options={"width": 0.02}, batch_size=8, steps_per_epoch=2, max_epochs=1,
            progress=False, num_threads=1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    data = SyntheticPeaks(64, seed=0)
    for seed in (0, 1):
        train(TrainConfig(**TINY, seed=seed), data, root / f"run{seed}")
    return root / "run0", root / "run1"


def test_run_summary_reads_the_log(runs):
    summary = shipping.RunSummary.read(runs[0])
    log = json.loads((runs[0] / "log.json").read_text())
    assert summary.architecture == "mlp" and summary.spectra == log[-1]["spectra"] == 16
    assert summary.train_hours == pytest.approx(sum(r["seconds"] for r in log) / 3600)
    assert summary.threads == "1" and log[-1]["threads"] == 1 and log[-1]["device"] == "cpu"
    assert shipping._thread_history([{}, {}, {"threads": 2}, {"threads": 2}]) == "? -> 2"
    gpu = [{"threads": 16, "device": "cuda"}] * 2 + [{"threads": 1, "device": "cpu"}]
    assert shipping._thread_history(gpu) == "16 (cuda) -> 1"
    assert summary.lr_history == f"{log[0]['lr']:.3g}"
    halved = [{"epoch": e, "lr": lr} for e, lr in ((1, 1e-3), (2, 1e-3), (3, 5e-4), (4, 5e-4), (5, 1.25e-4))]
    assert shipping._lr_history(halved) == "0.001; 0.0005 from 3; 0.000125 from 5"
    assert shipping._lr_history([{"epoch": 1}]) == ""
    assert summary.stopped == "max_epochs 1 reached"


def test_run_summary_says_what_the_run_trained_on(runs, tmp_path, fake_arrays):
    assert shipping.RunSummary.read(runs[0]).data == "paper"
    tuned = tmp_path / "tuned"
    train(TrainConfig(**TINY, simulation="open-world", init_from=str(runs[0] / "model.pt")),
          SyntheticPeaks(64, seed=0), tuned)
    summary = shipping.RunSummary.read(tuned)
    assert (summary.simulation, summary.init_from) == ("open-world", str(runs[0] / "model.pt"))
    assert summary.data == "open-world, fine-tuned from `model.pt`"
    shipping.Scorer(16, 16).network(summary)           # BatchNorm statistics from its own configuration
    assert CALIBRATION_CONFIGS[-1] == "open-world"
    mixed = tmp_path / "mixed"
    train(TrainConfig(**TINY, simulation="open-world", paper_fraction=0.3), SyntheticPeaks(64, seed=0), mixed)
    summary = shipping.RunSummary.read(mixed)
    assert summary.paper_fraction == 0.3 and summary.data == "open-world with 30 % of its batches in `paper`"
    shipping.Scorer(16, 16).network(summary)           # BatchNorm statistics from its mixture
    assert set(CALIBRATION_CONFIGS[-2:]) == {"open-world", "paper"}
    with pytest.raises(ValueError, match="paper_fraction"):
        TrainConfig(**TINY, paper_fraction=1.0)
    weighted = tmp_path / "weighted"
    train(TrainConfig(**TINY, simulation="open-world", query_weights={"Sc": 1.8, "O": 0.6}), SyntheticPeaks(64, seed=0),
          weighted)
    summary = shipping.RunSummary.read(weighted)
    assert summary.query_weights == {"Sc": 1.8, "O": 0.6}
    assert summary.data == "open-world, query elements weighted 0.6-1.8 (hard examples)"


def test_a_copied_snapshot_does_not_know_why_its_run_stopped(runs, tmp_path):
    import shutil

    for name in ("model.pt", "log.json"):
        shutil.copy(runs[0] / name, tmp_path / name)
    assert shipping.RunSummary.read(tmp_path).stopped == "?"


def test_not_a_run_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="log.json"):
        shipping.RunSummary.read(tmp_path)


def test_validation_threshold_is_the_paper_rule():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 80)) < 0.05).astype(np.float32)
    p = np.clip(y * 0.6 + rng.random((200, 80)) * 0.5, 0, 1)
    scores = evaluate_at_validation_threshold(y, p, y, p)
    assert scores.threshold == pytest.approx(select_threshold(y, p))
    assert scores == evaluate(y, p, select_threshold(y, p))


CALIBRATION_CONFIGS = []


def random_arrays(n, seed, batch_size=64, simulation="paper"):
    """Random stand-ins for simulated arrays, a function of (n, seed, simulation) like the real ones."""
    if seed == shipping.RECALIBRATION_SEED:
        CALIBRATION_CONFIGS.append(simulation)
    rng = np.random.default_rng([seed, len(simulation)])
    x = rng.random((n, 3072), dtype=np.float32)
    return x, (rng.random((n, 80)) < 0.05).astype(np.float32)


@pytest.fixture
def fake_arrays(monkeypatch):
    """The simulator is tested elsewhere; random arrays keep these tests fast."""
    monkeypatch.setattr("eels_helpers.datasets.streaming.simulated_arrays", random_arrays)


def test_ship_models_writes_float16_files_and_a_card(runs, tmp_path, fake_arrays, monkeypatch, capsys):
    import eels_helpers.models as models
    from eels_helpers.models import predict_proba

    calibrated, original = [], models.recalibrate_batchnorm
    monkeypatch.setattr(models, "recalibrate_batchnorm",
                        lambda m, x, **kw: calibrated.append(m) or original(m, x, **kw))
    terminal_stderr(monkeypatch)
    paths = shipping.ship_models({"default": [runs[0]], "ensemble": list(runs)}, tmp_path,
                                 n_validation=32, n_test=32, command="test", progress=True)
    assert "shipping models" in capsys.readouterr().err   # the progress bar, on stderr
    assert len(calibrated) == 2   # run0 is in both models: recalibrated and evaluated once
    assert CALIBRATION_CONFIGS[-1:] == ["paper"]     # recalibrated on what the runs trained on
    default, ensemble = load_model(paths["default"]), load_model(paths["ensemble"])
    assert default.architecture == "mlp" and ensemble.architecture == "ensemble"
    assert len(ensemble.model.members) == 2
    assert 0 < default.threshold < 1
    assert default.metadata["scores"]["simulated_threshold"] == default.threshold   # no real spectra given
    # the scores in the file are those of the float16 weights that ship, at the stored threshold
    x_val, y_val = random_arrays(32, shipping.VALIDATION_SEED)
    x_test, y_test = random_arrays(32, shipping.TEST_SEED)
    expected = evaluate_at_validation_threshold(y_val, predict_proba(ensemble.model, x_val), y_test,
                                                predict_proba(ensemble.model, x_test))
    assert ensemble.metadata["scores"]["simulated_test"]["f1"] == pytest.approx(expected.f1, abs=1e-6)
    assert ensemble.threshold == pytest.approx(expected.threshold)
    card = paths["card"].read_text()
    assert "## `default`: 1\u00d7MLP" in card and "## `ensemble`: 2\u00d7MLP" in card
    assert f"{default.threshold:.2f}" in card
    assert not list(tmp_path.glob("**/*.tmp"))
    # each network is stored once, in its own file, and the models refer to it
    assert sorted(p.name for p in (tmp_path / "networks").iterdir()) == ["mlp-seed0-16.pt", "mlp-seed1-16.pt"]
    assert load_model(tmp_path / "networks" / "mlp-seed0-16.pt").metadata == {}   # the card is in default.pt
    assert [f.name for f in model_files(paths["default"])] == ["default.pt", "mlp-seed0-16.pt"]
    assert paths["default"].stat().st_size < 0.2 * (tmp_path / "networks" / "mlp-seed0-16.pt").stat().st_size


def test_the_card_describes_every_shipped_file(runs, tmp_path, fake_arrays):
    shipping.ship_models({"default": [runs[0]], "ensemble": list(runs)}, tmp_path, n_validation=16, n_test=16)
    paths = shipping.ship_models({"ensemble-paper": [runs[1], runs[0], runs[1]]}, tmp_path,
                                 n_validation=16, n_test=16)
    card = paths["card"].read_text()
    headings = [line for line in card.splitlines() if line.startswith("## ")]
    assert [h.split("`")[1] for h in headings] == ["default", "ensemble", "ensemble-paper"]
    assert "3\u00d7MLP" in headings[2]
    assert len(load_model(tmp_path / "ensemble-paper.pt").model.members) == 3


@pytest.mark.parametrize("models, match", [
    ({}, "nothing to ship"),
    ({"Bad Name": ["x"]}, "lower-case"),
    ({"default": "run0"}, "list of one or more"),
    ({"default": []}, "list of one or more"),
])
def test_bad_requests_are_named(models, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        shipping.ship_models(models, tmp_path)


def test_ship_models_leaves_nothing_behind_on_a_bad_member(runs, tmp_path):
    with pytest.raises(FileNotFoundError):
        shipping.ship_models({"default": [runs[0]], "ensemble": [runs[0], tmp_path / "missing"]}, tmp_path / "out",
                             n_validation=8, n_test=8)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_networks_no_ensemble_uses_are_removed(runs, tmp_path, fake_arrays, monkeypatch):
    shipping.ship_models({"ensemble": list(runs)}, tmp_path, n_validation=8, n_test=8)
    # re-shipping the ensemble with other runs leaves no stale member file
    shipping.ship_models({"ensemble": [runs[0], runs[0]]}, tmp_path, n_validation=8, n_test=8)
    assert [p.name for p in (tmp_path / "networks").iterdir()] == ["mlp-seed0-16.pt"]
    assert len(load_model(tmp_path / "ensemble.pt").model.members) == 2
    # a ship that fails after writing a new member file removes it and keeps what was shipped
    import eels_helpers.evaluation.metrics as metrics

    calls, original = [], metrics.evaluate_at_validation_threshold

    def fail_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("late")
        return original(*args)

    monkeypatch.setattr(metrics, "evaluate_at_validation_threshold", fail_second)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(RuntimeError, match="late"):
        shipping.ship_models({"pair": [runs[1], runs[0]], "other": [runs[1], runs[1]]}, tmp_path,
                             n_validation=8, n_test=8)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    # a model file that cannot be read may refer to anything: nothing is deleted
    (tmp_path / "networks" / "spare.pt").write_bytes((tmp_path / "networks" / "mlp-seed0-16.pt").read_bytes())
    (tmp_path / "broken.pt").write_bytes(b"junk")
    assert shipping.prune_networks(tmp_path) == [] and (tmp_path / "networks" / "spare.pt").is_file()


def test_a_shipped_member_is_kept_without_its_run_directory(runs, tmp_path, fake_arrays, monkeypatch):
    """``shipped:MODEL:INDEX`` (a member whose run directory is gone, e.g. trained on a GPU node): its
    shipped network bit for bit, not recalibrated again, with the run its metadata records."""
    import shutil

    import torch

    import eels_helpers.models as models

    work = tmp_path / "runs"
    shutil.copytree(runs[0].parent, work)
    shipping.ship_models({"ensemble": [work / "run0", work / "run1"]}, tmp_path / "out", n_validation=8, n_test=8)
    kept = load_model(tmp_path / "out" / "networks" / "mlp-seed1-16.pt").model.state_dict()
    shutil.rmtree(work / "run1")                                        # the second member's run is gone
    calibrated, original = [], models.recalibrate_batchnorm
    monkeypatch.setattr(models, "recalibrate_batchnorm", lambda m, x, **kw: calibrated.append(m) or original(m, x, **kw))
    shipping.ship_models({"ensemble": [work / "run0", "shipped:ensemble:1"]}, tmp_path / "out", n_validation=8,
                         n_test=8)
    assert len(calibrated) == 1                                          # run0 only
    again = load_model(tmp_path / "out" / "ensemble.pt")
    assert [r["run_dir"] for r in again.metadata["runs"]] == [str(work / "run0"), str(work / "run1")]
    for name, tensor in load_model(tmp_path / "out" / "networks" / "mlp-seed1-16.pt").model.state_dict().items():
        assert torch.equal(tensor, kept[name]), name
    for bad, match in (("shipped:ensemble", "MODEL:INDEX"), ("shipped:ensemble:5", r"records 2 run\(s\)"),
                       ("shipped:nothing:0", "no model 'nothing'")):
        with pytest.raises((ValueError, FileNotFoundError), match=match):
            shipping.ship_models({"ensemble": [work / "run0", bad]}, tmp_path / "out", n_validation=8, n_test=8)
    # members sharing one network file map by the members' order, not by a list of distinct files: member 2
    # of [run0, run0, run1] is run1's network (the deduplicated list put it at 1, under run0's record)
    from eels_helpers.models.model_files import member_files, save_model

    shutil.copytree(runs[1], work / "run1")
    shipping.ship_models({"mixed": [work / "run0", work / "run0", work / "run1"]}, tmp_path / "out",
                         n_validation=8, n_test=8)
    shipping.ship_models({"again": ["shipped:mixed:1", "shipped:mixed:2"]}, tmp_path / "out", n_validation=8, n_test=8)
    again = load_model(tmp_path / "out" / "again.pt")
    assert [r["run_dir"] for r in again.metadata["runs"]] == [str(work / "run0"), str(work / "run1")]
    assert [f.name for f in member_files(tmp_path / "out" / "again.pt")] == ["mlp-seed0-16.pt", "mlp-seed1-16.pt"]
    # a member stored inside its model file cannot be shipped again by itself: said, not guessed
    inline = load_model(tmp_path / "out" / "networks" / "mlp-seed0-16.pt")
    save_model(tmp_path / "out" / "inline.pt", inline.model, architecture=inline.architecture,
               options=inline.options, metadata={"runs": again.metadata["runs"][:1]})
    with pytest.raises(ValueError, match="stored inside it"):
        shipping.ship_models({"x": ["shipped:inline:0"]}, tmp_path / "out", n_validation=8, n_test=8)


def test_the_script_maps_its_options_to_models(runs, tmp_path, fake_arrays):
    import importlib.util

    script_path = Path(__file__).parents[2] / "scripts" / "ship_models.py"
    spec = importlib.util.spec_from_file_location("ship_script", script_path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--default", str(runs[0]), "--model", "pair", str(runs[0]), str(runs[1]),
                        "--out", str(tmp_path), "--n-validation", "16", "--n-test", "16"]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["default.pt", "pair.pt"]
    with pytest.raises(SystemExit):
        script.main(["--model", "lonely", "--out", str(tmp_path)])


def test_the_models_command_lists_what_was_measured(runs, tmp_path, fake_arrays, capsys):
    from eels_helpers.cli import main as cli_main

    shipping.ship_models({"default": [runs[0]], "ensemble": list(runs)}, tmp_path, n_validation=16, n_test=16)
    assert cli_main(["models", "--dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["model", "networks"]
    default = load_model(tmp_path / "default.pt")
    sim = default.metadata["scores"]["simulated_test"]
    assert lines[1].split()[:2] == ["default", "1\u00d7MLP"] and f"{sim['f1']:.2f} / {sim['emr']:.2f}" in lines[1]
    assert lines[2].split()[:2] == ["ensemble", "2\u00d7MLP"]
    assert cli_main(["models", "--dir", str(tmp_path), "--card"]) == 0
    assert capsys.readouterr().out.startswith("# Shipped models")
    assert cli_main(["models", "--dir", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert "no model files" in shipping.models_table(tmp_path / "empty")


def test_score_runs_measures_each_run_as_shipping_does(runs, tmp_path, fake_arrays):
    import importlib.util

    rows = shipping.score_runs(list(runs), n_validation=16, n_test=16)
    paths = shipping.ship_models({"one": [runs[1]]}, tmp_path, n_validation=16, n_test=16)
    shipped = load_model(paths["one"]).metadata["scores"]["simulated_test"]
    assert [r["seed"] for r in rows] == [0, 1] and rows[1]["simulated_f1"] == pytest.approx(shipped["f1"])
    assert rows[0]["spectra"] == 16 and "real_f1" not in rows[0]
    assert rows[0]["lr"] == json.loads((runs[0] / "log.json").read_text())[-1]["lr"]
    table = shipping.runs_table(rows).splitlines()
    assert len(table) == 4 and "`run1`" in table[3] and "real" not in table[0]
    assert "learning rate" in table[0] and f"| {rows[1]['lr']:.3g} |" in table[3]
    real = shipping.runs_table([dict(rows[0], real_f1=0.5, real_emr=0.25, real_threshold=0.3)]).splitlines()
    assert "real F1 / EMR (threshold)" in real[0] and real[2].endswith("| 0.500 / 0.250 (0.30) |")
    script_path = Path(__file__).parents[2] / "scripts" / "score_runs.py"
    spec = importlib.util.spec_from_file_location("score_script", script_path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    args = [str(runs[0]), "--n-validation", "16", "--n-test", "16", "--json", str(tmp_path / "r.json")]
    assert script.main(args) == 0
    assert json.loads((tmp_path / "r.json").read_text())[0]["simulated_f1"] == pytest.approx(rows[0]["simulated_f1"])
