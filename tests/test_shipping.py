"""Shipping trained runs: float16 files, thresholds by the paper's rule, a card from measurements."""

import json
from pathlib import Path

import numpy as np
import pytest

from eels_helpers import shipping
from eels_helpers.checkpoints import load_model
from eels_helpers.metrics import select_threshold
from eels_helpers.train import SyntheticPeaks, TrainConfig, train

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


def test_not_a_run_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="log.json"):
        shipping.RunSummary.read(tmp_path)


def test_simulated_threshold_is_the_paper_rule():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 80)) < 0.05).astype(np.float32)
    p = np.clip(y * 0.6 + rng.random((200, 80)) * 0.5, 0, 1)
    threshold, scores = shipping.simulated_scores(p, y, p, y)
    assert threshold == pytest.approx(select_threshold(y, p))
    assert set(scores) >= {"f1", "precision", "recall", "emr", "rmse"}


def test_ship_models_writes_float16_files_and_a_card(runs, tmp_path, monkeypatch):
    rng = np.random.default_rng(1)

    def fake_arrays(n, seed, batch_size=64):   # the simulator is tested elsewhere; keep this fast
        x = rng.random((n, 3072), dtype=np.float32)
        return x, (rng.random((n, 80)) < 0.05).astype(np.float32)

    monkeypatch.setattr("eels_helpers.train.simulated_arrays", fake_arrays)
    paths = shipping.ship_models(runs[0], list(runs), tmp_path, n_validation=32, n_test=32, command="test")
    default, ensemble = load_model(paths["default"]), load_model(paths["ensemble"])
    assert default.architecture == "mlp" and ensemble.architecture == "ensemble"
    assert len(ensemble.model.members) == 2
    assert 0 < default.threshold < 1
    assert default.metadata["scores"]["simulated_threshold"] == default.threshold   # no real spectra given
    card = paths["card"].read_text()
    assert "## `default`" in card and "## `ensemble`" in card and f"{default.threshold:.2f}" in card
    assert not list(tmp_path.glob("*.tmp"))


def test_ship_models_leaves_nothing_behind_on_a_bad_member(runs, tmp_path):
    with pytest.raises(FileNotFoundError):
        shipping.ship_models(runs[0], [runs[0], tmp_path / "missing"], tmp_path / "out", n_validation=8, n_test=8)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
