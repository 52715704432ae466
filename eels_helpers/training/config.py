"""The configuration of a training run: :class:`TrainConfig` (saved in every checkpoint).

Defaults are the paper's (Annys et al. 2023, Methods): Adam at learning rate 1e-3, batch 32,
pseudo-epochs of 1000 steps, at most 35, the learning rate halved after 3 pseudo-epochs
without a 0.025 gain of the training F1 at threshold 0.8, stop below 5e-6.
:meth:`TrainConfig.from_profile` reads a run scale of :mod:`eels_helpers.profiles`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eels_helpers.device import DEVICES, PRECISIONS

__all__ = ["TrainConfig", "DEVICES", "PRECISIONS"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved in the checkpoint)."""

    model: str = "vit"
    model_config: str = "paper"          # 'paper' sizes or the reduced 'cpu' configuration
    model_options: dict = field(default_factory=dict)
    learning_rate: float = 1e-3          # initial Adam learning rate
    batch_size: int = 32                 # spectra per step (per process under DDP)
    steps_per_epoch: int = 1000          # steps per pseudo-epoch
    max_epochs: int = 35                 # pseudo-epochs at most
    lr_factor: float = 0.5               # learning-rate multiplier on a plateau
    patience: int = 3                    # pseudo-epochs without improvement before reducing
    min_delta: float = 0.025             # F1 improvement that counts
    monitor_threshold: float = 0.8       # threshold of the monitored training F1
    min_lr: float = 5e-6                 # stop when the learning rate falls below this
    seed: int = 0
    #: simulator configuration of the streaming data (eels_helpers.simulation.named_configs.NAMED_CONFIGS)
    simulation: str = "paper"
    #: share of the streaming batches simulated with the paper's configuration (Table 1) instead of
    #: ``simulation``: a mixture that keeps the paper's task in view while training open-world; 0: off
    paper_fraction: float = 0.0
    #: relative weights of the streaming query elements (element -> weight >= 0, unlisted: 1; e.g.
    #: by the simulated errors of the network being fine-tuned, eels_helpers.evaluation.hard_examples);
    #: empty: uniform, as the paper
    query_weights: dict = field(default_factory=dict)
    #: start from the weights of this model file or shipped model name (fine-tuning); None: random
    init_from: str | None = None
    device: str = "auto"                 # auto | cpu | cuda
    precision: str = "auto"              # auto | fp32 | bf16 | fp16 (autocast)
    num_threads: int | None = None       # CPU threads per process (None: cores / processes; 1 on a busy machine)
    num_workers: int = 0                 # DataLoader worker processes
    progress: bool = True                # tqdm progress bar (rank 0)
    #: model.pt gets BatchNorm statistics re-estimated (dropout off) on the last this-many
    #: training batches (models.recalibrate_batchnorm); the training state is untouched; 0: off
    recalibration_batches: int = 64

    def __post_init__(self):
        from eels_helpers.models import CONFIGS, MODEL_NAMES

        if self.model not in MODEL_NAMES:
            raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}, got {self.model!r}")
        if self.model_config not in CONFIGS:
            raise ValueError(f"model_config must be one of {', '.join(CONFIGS)}, got {self.model_config!r}")
        if not isinstance(self.model_options, dict):
            raise ValueError(f"model_options must be a dict of constructor keywords, got {type(self.model_options)}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate must be in (0, 1) (Adam step size), got {self.learning_rate!r}")
        for name in ("batch_size", "steps_per_epoch", "max_epochs", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0 < self.lr_factor < 1:
            raise ValueError(f"lr_factor must be in (0, 1), got {self.lr_factor!r}")
        if not 0 <= self.min_delta < 1:
            raise ValueError(f"min_delta must be in [0, 1) (F1 units), got {self.min_delta!r}")
        if not 0 < self.monitor_threshold < 1:
            raise ValueError(f"monitor_threshold must be a probability in (0, 1), got {self.monitor_threshold!r}")
        if not 0 <= self.min_lr < self.learning_rate:
            raise ValueError(f"min_lr must be in [0, learning_rate={self.learning_rate}), got {self.min_lr!r}")
        from eels_helpers.simulation.named_configs import NAMED_CONFIGS

        if self.simulation not in NAMED_CONFIGS:
            raise ValueError(f"simulation must be one of {', '.join(NAMED_CONFIGS)}, got {self.simulation!r}")
        if not (isinstance(self.paper_fraction, (int, float)) and 0.0 <= self.paper_fraction < 1.0):
            raise ValueError(f"paper_fraction (share of streaming batches in the paper's configuration) must be in "
                             f"[0, 1), got {self.paper_fraction!r}")
        if not isinstance(self.query_weights, dict):
            raise ValueError(f"query_weights must be a dict element -> weight, got {type(self.query_weights)}")
        if self.query_weights:
            from eels_helpers.datasets.streaming import query_probabilities
            from eels_helpers.physics.elements import ELEMENTS

            query_probabilities(ELEMENTS, self.query_weights)       # raises on a bad element or weight
        if self.init_from is not None and (not isinstance(self.init_from, str) or not self.init_from):
            raise ValueError(f"init_from must be None or a model file / shipped model name, got {self.init_from!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.num_threads is not None and (not isinstance(self.num_threads, int) or self.num_threads < 1):
            raise ValueError(f"num_threads must be None or an integer >= 1, got {self.num_threads!r}")
        if not isinstance(self.recalibration_batches, int) or self.recalibration_batches < 0:
            raise ValueError(f"recalibration_batches must be an int >= 0 (training batches), "
                             f"got {self.recalibration_batches!r}")
        if not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise ValueError(f"num_workers must be an integer >= 0, got {self.num_workers!r}")

    @classmethod
    def from_profile(cls, profile: str, **overrides: Any) -> "TrainConfig":
        """The schedule of ``profile`` (:class:`eels_helpers.profiles.Profile`: model
        configuration, steps per pseudo-epoch of the architecture ``overrides['model']``,
        maximum pseudo-epochs, threads); keyword arguments override fields. The device stays
        ``auto`` unless given (the book passes the profile's device)."""
        from eels_helpers.profiles import get_profile

        p = get_profile(profile)
        model = overrides.get("model", cls.model)
        schedule = dict(model_config=p.model_config, steps_per_epoch=p.steps_for(model),
                        max_epochs=p.max_epochs, num_threads=p.num_threads)
        return cls(**{**schedule, **overrides})
