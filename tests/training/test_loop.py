"""train(): exact resume, logs and model file, BatchNorm recalibration, DDP, simulated datasets."""

import json
import os
import subprocess
import sys

import pytest
import torch

from eels_helpers.datasets.hdf5_reader import open_training_split
from eels_helpers.training.config import TrainConfig
from eels_helpers.training.data import SyntheticPeaks
from eels_helpers.training.loop import train

TINY = dict(model="mlp", model_options={"width": 0.02}, batch_size=8, steps_per_epoch=3, max_epochs=2,
            progress=False, num_threads=1)


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
    with pytest.raises(ValueError, match="written with other settings"):
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
    train_split = open_training_split(tmp_path / "d.h5", "train")
    val_split = open_training_split(tmp_path / "d.h5", "validation")
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


def test_progress_goes_to_the_log_not_stdout(tmp_path, caplog, capsys):
    with caplog.at_level("INFO", logger="eels_helpers.training"):
        train(TrainConfig(**{**TINY, "max_epochs": 1, "progress": True}), SyntheticPeaks(32), tmp_path)
    assert any(r.name == "eels_helpers.training.loop" and r.getMessage().startswith("[mlp] epoch 1: loss ")
               for r in caplog.records)
    assert capsys.readouterr().out == ""


def test_fine_tuning_starts_from_the_weights_of_a_model_file(tmp_path):
    data = SyntheticPeaks(64, seed=1)
    train(TrainConfig(**{**TINY, "max_epochs": 1, "recalibration_batches": 0}), data, tmp_path / "first")
    start = tmp_path / "first" / "model.pt"
    tuned = TrainConfig(**{**TINY, "max_epochs": 1, "recalibration_batches": 0, "init_from": str(start),
                           "learning_rate": 1e-6, "min_lr": 0.0})
    history = train(tuned, data, tmp_path / "tuned")
    before = train(TrainConfig(**{**TINY, "max_epochs": 1, "recalibration_batches": 0, "learning_rate": 1e-6,
                                  "min_lr": 0.0}), data, tmp_path / "fresh")
    # at a tiny learning rate the fine-tuned run keeps the first run's skill, a fresh one has none
    assert history[-1]["loss"] < before[-1]["loss"]
    # a resumed fine-tuning run needs its checkpoint, not the model it started from
    start.rename(tmp_path / "moved.pt")
    longer = TrainConfig(**{**tuned.__dict__, "max_epochs": 2})
    assert len(train(longer, data, tmp_path / "tuned", resume=True)) == 2
    start = tmp_path / "moved.pt"
    with pytest.raises(ValueError, match="holds a mlp, not a unet"):
        train(TrainConfig(**{**TINY, "model": "unet", "model_options": {}, "init_from": str(start)}), data,
              tmp_path / "wrong")
    with pytest.raises(ValueError, match="do not fit mlp"):
        train(TrainConfig(**{**TINY, "model_options": {"width": 0.05}, "init_from": str(start)}), data,
              tmp_path / "wrong2")


def test_streaming_data_follow_the_named_simulator_configuration():
    from eels_helpers.simulation.named_configs import named_config
    from eels_helpers.training.data import streaming_dataset

    stream = streaming_dataset(TrainConfig(**{**TINY, "simulation": "open-world"}))
    assert stream.config == named_config("open-world")
    assert streaming_dataset(TrainConfig(**TINY)).config == named_config("paper")
