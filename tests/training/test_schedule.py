"""The learning-rate schedule (Keras ReduceLROnPlateau) and the stopping rule."""

from dataclasses import asdict

import pytest
import torch

from eels_helpers.training.config import TrainConfig
from eels_helpers.training.data import SyntheticPeaks
from eels_helpers.training.loop import train
from eels_helpers.training.schedule import PlateauHalving, stop_reason

TINY = dict(model="mlp", model_options={"width": 0.02}, batch_size=8, steps_per_epoch=3, max_epochs=2,
            progress=False, num_threads=1)


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
