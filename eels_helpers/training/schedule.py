"""The paper's learning-rate schedule and stopping rule (Annys et al. 2023, Methods).

After each pseudo-epoch the learning rate is halved when the training F1 at threshold 0.8 has
not improved by 0.025 for 3 pseudo-epochs (Keras ``ReduceLROnPlateau`` semantics,
:class:`PlateauHalving`); training stops when the learning rate falls below ``min_lr``
(5e-6 in the paper) or after ``max_epochs`` pseudo-epochs (:func:`stop_rule`;
:func:`stop_reason` reads it back from a run directory).
"""

from __future__ import annotations

import math
from pathlib import Path

from eels_helpers.training.config import TrainConfig
from eels_helpers.training.runs import CHECKPOINT

__all__ = ["PlateauHalving", "stop_rule", "stop_reason"]


class PlateauHalving:
    """Keras ``ReduceLROnPlateau(mode='max', factor, patience, min_delta)`` on a monitored score.

    After each pseudo-epoch: if score > best + min_delta the best is updated and the wait reset;
    otherwise wait += 1 and, at ``patience``, every learning rate is multiplied by ``factor``.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        whose learning rates are reduced.
    factor : float
        multiplier of the learning rate on a plateau (the paper: 0.5).
    patience : int
        pseudo-epochs without improvement before a reduction (the paper: 3).
    min_delta : float
        the score gain that counts as an improvement (F1 units; the paper: 0.025).
    """

    def __init__(self, optimizer, factor: float = 0.5, patience: int = 3, min_delta: float = 0.025):
        self.optimizer, self.factor, self.patience, self.min_delta = optimizer, factor, patience, min_delta
        self.best, self.wait = -math.inf, 0

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def step(self, score: float) -> bool:
        """Update with this pseudo-epoch's score; True if the learning rate was reduced."""
        if score > self.best + self.min_delta:
            self.best, self.wait = score, 0
            return False
        self.wait += 1
        if self.wait < self.patience:
            return False
        for group in self.optimizer.param_groups:
            group["lr"] *= self.factor
        self.wait = 0
        return True

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait = state["best"], state["wait"]


def stop_rule(epoch: int, lr: float, config: TrainConfig) -> str | None:
    """Why training stops after ``epoch`` pseudo-epochs at learning rate ``lr``, or None.

    Parameters
    ----------
    epoch : int
        pseudo-epochs trained so far.
    lr : float
        the learning rate the next pseudo-epoch would use.
    config : TrainConfig
        gives ``min_lr`` (the paper's rule: stop once the halved rate is below it) and
        ``max_epochs``.

    Returns
    -------
    str or None
        the reason in words, or None to train on.
    """
    if lr < config.min_lr:
        return f"learning rate {lr:.3g} below min_lr {config.min_lr:.3g} after pseudo-epoch {epoch} (the paper's rule)"
    if epoch >= config.max_epochs:
        return f"max_epochs {config.max_epochs} reached"
    return None


def stop_reason(run_dir: str | Path) -> str | None:
    """Why the run in ``run_dir`` stopped, read from its ``checkpoint.pt`` (the configuration
    of its last invocation): the learning rate fell below ``min_lr`` (the paper's stopping
    rule) or ``max_epochs`` was reached; None when ``--resume`` would train further."""
    import torch

    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no {CHECKPOINT} (not a directory written by `eels-id train`)")
    blob = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    config = TrainConfig(**blob["config"])
    return stop_rule(int(blob["epoch"]), float(blob["optimizer_state"]["param_groups"][0]["lr"]), config)

