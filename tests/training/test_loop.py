"""Training loop: the paper's loss and schedule, exact resume, logs, CLI, data adapters, DDP."""

import json
import os
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest
import torch

from eels_helpers.training.loop import (PlateauHalving, SyntheticPeaks, TrainConfig, _batches, bce_soft_f1_loss,
                                bce_soft_f1_loss_from_probabilities, open_hdf5, stop_reason, train)

TINY = dict(model="mlp", model_options={"width": 0.02}, batch_size=8, steps_per_epoch=3, max_epochs=2,
            progress=False, num_threads=1)


def test_loss_from_logits_equals_keras_probability_form():
    torch.manual_seed(0)
    z = torch.randn(32, 80) * 6
    z[0, :10] = torch.tensor([40.0, -40.0, 17.0, -17.0, 16.0, -16.0, 100.0, -100.0, 0.0, 1e-3])
    y = (torch.rand(32, 80) < 0.1).float()
    y[0, :10] = torch.tensor([1, 1, 0, 0, 1, 0, 0, 1, 1, 0.0])
    a = bce_soft_f1_loss(z, y)
    b = bce_soft_f1_loss_from_probabilities(torch.sigmoid(z.double()), y.double())
    assert a.item() == pytest.approx(b.item(), rel=1e-5)
    z.requires_grad_(True)
    bce_soft_f1_loss(z, y).backward()
    assert torch.isfinite(z.grad).all()


def test_soft_f1_cost_by_hand():
    """Two classes, batch of two: p = [[.9, .2], [.4, .0]], y = [[1, 0], [0, 0]].
    Class 0: tp = .9, fp = .4, fn = .1 -> F1 = 1.8 / 2.3; class 1: tp = 0 -> F1 = 0."""
    p = torch.tensor([[0.9, 0.2], [0.4, 0.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    bce = -(np.log(0.9) + np.log(0.8) + np.log(0.6) + np.log(1 - 1e-7)) / 4
    expected = bce + ((1 - 1.8 / 2.3) + 1.0) / 2
    assert bce_soft_f1_loss_from_probabilities(p, y).item() == pytest.approx(expected, rel=1e-9)


def test_plateau_halving_follows_keras_reduce_lr_on_plateau():
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)
    sched = PlateauHalving(opt, factor=0.5, patience=3, min_delta=0.025)
    scores = [0.1, 0.2, 0.21, 0.22, 0.23, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    reduced = [sched.step(s) for s in scores]
    # 0.23 > 0.2 + 0.025 resets the wait; 0.3 is the best from index 5; three flat epochs -> halve
    assert reduced == [False] * 8 + [True] + [False, False, True]
    assert sched.lr == pytest.approx(2.5e-4)
    again = PlateauHalving(opt)
    again.load_state_dict(sched.state_dict())
    assert again.state_dict() == sched.state_dict()


def test_config_validation_names_the_parameter():
    with pytest.raises(ValueError, match="model must be one of"):
        TrainConfig(model="lstm")
    with pytest.raises(ValueError, match="learning_rate"):
        TrainConfig(learning_rate=0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        TrainConfig(steps_per_epoch=0)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="int8")
    with pytest.raises(ValueError, match="profile"):
        TrainConfig.from_profile("laptop")
    assert TrainConfig.from_profile("paper").steps_per_epoch == 1000


def _weights(path):
    return torch.load(path, weights_only=False)["model_state"]


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    data = SyntheticPeaks(40, seed=3)                     # 40 spectra: the permutation wraps around
    full = train(TrainConfig(**TINY), data, tmp_path / "full")
    train(TrainConfig(**{**TINY, "max_epochs": 1}), data, tmp_path / "part")
    resumed = train(TrainConfig(**TINY), data, tmp_path / "part", resume=True)
    a, b = _weights(tmp_path / "full/checkpoint.pt"), _weights(tmp_path / "part/checkpoint.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda h: [{k: v for k, v in r.items() if k not in ("seconds", "spectra_per_s")} for r in h]  # noqa: E731
    assert strip(full) == strip(resumed) and len(full) == 2
    with pytest.raises(ValueError, match="different configuration"):
        train(TrainConfig(**{**TINY, "learning_rate": 1e-4}), data, tmp_path / "part", resume=True)


def test_training_learns_and_writes_logs(tmp_path):
    cfg = TrainConfig(**{**TINY, "model_options": {"width": 0.05}, "batch_size": 16, "steps_per_epoch": 15,
                         "max_epochs": 3, "learning_rate": 3e-3})
    history = train(cfg, SyntheticPeaks(256), tmp_path, val_data=SyntheticPeaks(64, seed=9))
    assert history[-1]["loss"] < history[0]["loss"] - 0.05
    assert {"val_loss", "val_f1", "lr", "f1"} <= set(history[-1])
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,step,spectra,loss,f1") and len(rows) == 4
    assert json.loads((tmp_path / "log.json").read_text())[-1]["epoch"] == 3
    from eels_helpers.models.model_files import load_model

    loaded = load_model(tmp_path / "model.pt")
    assert loaded.architecture == "mlp" and loaded.metadata["epoch"] == 3
    x = torch.from_numpy(SyntheticPeaks(4, seed=5)[0][0])[None]
    assert loaded.model(x).shape == (1, 80)


def test_stops_when_learning_rate_falls_below_min_lr(tmp_path):
    cfg = TrainConfig(**{**TINY, "max_epochs": 10, "steps_per_epoch": 1, "patience": 1, "min_delta": 0.99,
                         "min_lr": 6e-4})
    history = train(cfg, SyntheticPeaks(32), tmp_path)
    assert [r["lr"] for r in history] == [1e-3, 1e-3]       # halved to 5e-4 < 6e-4 after epoch 2: stop
    assert stop_reason(tmp_path) == "learning rate 0.0005 below min_lr 0.0006 after pseudo-epoch 2 (the paper's rule)"
    train(TrainConfig(**{**TINY, "max_epochs": 1}), SyntheticPeaks(32), tmp_path / "short")
    assert stop_reason(tmp_path / "short") == "max_epochs 1 reached"
    cfg = TrainConfig(**{**TINY, "max_epochs": 3})
    with pytest.raises(FileNotFoundError, match="no checkpoint.pt"):
        stop_reason(tmp_path / "nowhere")
    blob = torch.load(tmp_path / "short" / "checkpoint.pt", weights_only=False)   # as if cut short:
    blob["config"] = asdict(cfg)                                                  # --resume trains on
    torch.save(blob, tmp_path / "short" / "checkpoint.pt")
    assert stop_reason(tmp_path / "short") is None


def test_cli_and_plain_hdf5(tmp_path, capsys):
    import h5py

    from eels_helpers.cli import main

    data = SyntheticPeaks(24)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["spectra"] = np.stack([data[i][0] for i in range(24)])
        f["labels_identification"] = np.stack([data[i][1] for i in range(24)])
    ds = open_hdf5(tmp_path / "d.h5")
    assert len(ds) == 24 and np.array_equal(ds[5][0], data[5][0])
    code = main(["train", "--model", "mlp", "--profile", "smoke", "--data", str(tmp_path / "d.h5"),
                 "--out", str(tmp_path / "run"), "--option", "width=0.02", "--batch-size", "4", "--no-progress",
                 "--threads", "1", "--steps-per-epoch", "5", "--max-epochs", "2"])
    assert code == 0 and len(json.loads((tmp_path / "run/log.json").read_text())) == 2
    assert "stopped: max_epochs 2 reached" in capsys.readouterr().out


class FakeStream:
    """Duck-typed like eels_helpers.datasets.streaming.StreamingSpectra: batch(b) is a function of b only."""

    def __init__(self, batch_size=4, rank=0, world_size=1):
        self.batch_size, self.rank, self.world_size, self.n_batches = batch_size, rank, world_size, None

    def batch(self, b):
        x = torch.full((self.batch_size, 3072), float(b))
        return {"spectra": x, "labels_identification": torch.zeros(self.batch_size, 80), "batch_index": b}


@pytest.mark.parametrize("workers", [0, 2])
def test_stream_adapter_resumes_at_the_right_batch(workers):
    cfg = TrainConfig(**{**TINY, "batch_size": 4, "num_workers": workers})
    it = _batches(FakeStream(rank=1, world_size=2), cfg, start_batches=5, rank=1, world=2)
    seen = [int(next(it)[0][0, 0]) for _ in range(4)]
    assert seen == [1 + 2 * k for k in range(5, 9)]


def test_map_dataset_position_and_sharding():
    cfg = TrainConfig(**{**TINY, "batch_size": 2})

    class Index(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return torch.tensor([float(i)]), torch.zeros(80)

    it = _batches(Index(), cfg, 0, 0, 1)
    whole = [int(v) for _ in range(10) for v in next(it)[0].ravel()]     # two passes of 10
    assert sorted(whole[:10]) == list(range(10)) and sorted(whole[10:]) == list(range(10))
    later = _batches(Index(), cfg, 3, 0, 1)
    assert [int(v) for v in next(later)[0].ravel()] == whole[6:8]
    r0, r1 = _batches(Index(), cfg, 0, 0, 2), _batches(Index(), cfg, 0, 1, 2)
    shards = [int(v) for v in next(r0)[0].ravel()] + [int(v) for v in next(r1)[0].ravel()]
    assert sorted(shards) == sorted(whole[:4])


@pytest.mark.slow
def test_distributed_data_parallel_gloo_two_processes(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "eels_helpers.cli", "train", "--model", "mlp", "--option", "width=0.02", "--profile", "smoke",
           "--synthetic", "64", "--batch-size", "4", "--out", str(tmp_path), "--no-progress", "--threads", "1",
           "--steps-per-epoch", "5", "--max-epochs", "2"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-3000:]
    history = json.loads((tmp_path / "log.json").read_text())
    assert [r["spectra"] for r in history] == [5 * 4 * 2, 10 * 4 * 2]   # both processes' batches count
    blob = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert blob["world_size"] == 2 and len(blob["rng_state"]) == 2


def test_trains_from_a_dataset_written_by_eels_id_simulate(tmp_path):
    from eels_helpers.datasets.config import DatasetConfig
    from eels_helpers.datasets.hdf5_writer import write_dataset

    cfg = DatasetConfig(scale=0.0003, splits=("train", "validation"), elements=("B", "C", "N", "O"),
                        chunk_samples=4)
    write_dataset(tmp_path / "d.h5", cfg, seed=0, workers=1)
    train_split, val_split = open_hdf5(tmp_path / "d.h5", "train"), open_hdf5(tmp_path / "d.h5", "validation")
    assert len(train_split) == cfg.n_spectra("train") and len(val_split) == cfg.n_spectra("validation")
    history = train(TrainConfig(**{**TINY, "batch_size": 4, "max_epochs": 1}), train_split, tmp_path / "run",
                    val_data=val_split)
    assert history[0]["spectra"] == 12 and "val_f1" in history[0]


def test_model_file_gets_recalibrated_batchnorm_and_the_training_state_does_not(tmp_path):
    from eels_helpers.models.model_files import load_model

    data = SyntheticPeaks(256, seed=0)
    train(TrainConfig(**{**TINY, "recalibration_batches": 2}), data, tmp_path / "on")
    loaded = load_model(tmp_path / "on" / "model.pt")
    assert loaded.metadata["batchnorm_recalibration"]["spectra"] == 2 * TINY["batch_size"]
    state = torch.load(tmp_path / "on" / "checkpoint.pt", weights_only=False)["model_state"]
    key = next(k for k in state if k.endswith("running_var"))
    shipped = loaded.model.state_dict()[key]
    assert not torch.allclose(state[key].cpu(), shipped)          # the checkpoint keeps the training statistics
    with pytest.raises(ValueError, match=r"checkpoint.pt holds its training state, use .*model.pt instead"):
        load_model(tmp_path / "on" / "checkpoint.pt")
    train(TrainConfig(**{**TINY, "recalibration_batches": 0}), data, tmp_path / "off")
    assert "batchnorm_recalibration" not in load_model(tmp_path / "off" / "model.pt").metadata
    with pytest.raises(ValueError, match="recalibration_batches must be"):
        TrainConfig(recalibration_batches=-1)
