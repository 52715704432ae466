"""The three run scales (profiles) that every stage reads.

``smoke``
    continuous integration: seconds per notebook, tiny data, checks that the code runs.
``cpu`` (default)
    the whole book on a 2-core laptop in at most 90 minutes: reduced, documented
    configurations of the paper's experiments (same code, smaller numbers).
``paper``
    the paper's full scale (736,000 spectra, full-size networks); meant for a GPU node.

A :class:`Profile` holds every number that differs between the scales and is shared by
several stages: the dataset scale (:mod:`eels_helpers.datasets`), the model configuration
(:mod:`eels_helpers.models`), the training schedule (:mod:`eels_helpers.training`) and the
device. The book's chapter parameters (:mod:`eels_helpers.book.chapters`) read these values
instead of repeating them.

This module is a foundation of the package (any stage may import it) and is imported by
``eels-id --help``: keep it free of heavy imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["PROFILES", "DEFAULT_PROFILE", "Profile", "get_profile", "validate_profile",
           "shared_parameters"]

#: model configurations known to :mod:`eels_helpers.models` (``models.CONFIGS`` keys)
MODEL_CONFIGS = ("cpu", "paper")


@dataclass(frozen=True)
class Profile:
    """One run scale.

    Attributes
    ----------
    name : str
        ``smoke``, ``cpu`` or ``paper``.
    description : str
        one line for ``eels-id book --help`` and the book's introduction.
    device : {'cpu', 'cuda'}
        where networks train and run.
    dataset_scale : float
        fraction of the paper's samples per (element, split) in a written dataset
        (``datasets.DatasetConfig.from_profile``); 1.0 is the paper's 736,000 spectra.
    model_config : {'cpu', 'paper'}
        the network sizes (``models.CONFIGS``): reduced ``cpu`` or the paper's.
    steps_per_epoch : int
        training steps per pseudo-epoch; ``steps_per_epoch_by_model`` overrides it per
        architecture (the cpu profile gives the slow and the fast networks equal wall time).
    max_epochs : int
        pseudo-epochs at most (the paper's plateau rule may stop a run earlier).
    num_threads : int or None
        CPU threads per training process (None: cores / processes).
    seed : int
        the book's default seed.
    """

    name: str
    description: str
    device: str
    dataset_scale: float
    model_config: str
    steps_per_epoch: int
    max_epochs: int
    steps_per_epoch_by_model: Mapping[str, int] = field(default_factory=dict)
    num_threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"Profile.device must be 'cpu' or 'cuda', got {self.device!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"Profile.seed must be a non-negative int, got {self.seed!r}")
        if not 0 < self.dataset_scale <= 1:
            raise ValueError(f"Profile.dataset_scale must be in (0, 1] (fraction of the paper's "
                             f"dataset), got {self.dataset_scale!r}")
        if self.model_config not in MODEL_CONFIGS:
            raise ValueError(f"Profile.model_config must be one of {', '.join(MODEL_CONFIGS)}, "
                             f"got {self.model_config!r}")
        steps = {"steps_per_epoch": self.steps_per_epoch, "max_epochs": self.max_epochs,
                 **{f"steps_per_epoch_by_model[{k!r}]": v for k, v in self.steps_per_epoch_by_model.items()}}
        for what, value in steps.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Profile.{what} must be an integer >= 1, got {value!r}")
        if self.num_threads is not None and (not isinstance(self.num_threads, int) or self.num_threads < 1):
            raise ValueError(f"Profile.num_threads must be None or an integer >= 1, got {self.num_threads!r}")
        object.__setattr__(self, "steps_per_epoch_by_model",
                           MappingProxyType(dict(self.steps_per_epoch_by_model)))

    def steps_for(self, architecture: str) -> int:
        """Training steps per pseudo-epoch of ``architecture`` at this profile."""
        return self.steps_per_epoch_by_model.get(architecture, self.steps_per_epoch)

    @property
    def shared(self) -> dict[str, Any]:
        """Parameters that every chapter may declare (injected only where declared)."""
        return {"profile": self.name, "seed": self.seed, "device": self.device}


#: The three profiles, in increasing cost.
PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "smoke": Profile(
            "smoke",
            "CI: seconds per notebook, tiny data; checks that every chapter runs",
            device="cpu", dataset_scale=0.005, model_config="cpu",
            steps_per_epoch=2, max_epochs=1, num_threads=1,
        ),
        # cpu schedule per architecture: the reduced networks of models.CPU_CONFIGS train at
        # different speeds (benchmarks/bench_models.py prints them), so the slow U-Net and CCT
        # get fewer steps and the fast MLP more, for about ten minutes each on one thread.
        "cpu": Profile(
            "cpu",
            "default: the whole book on a 2-core laptop in at most 90 minutes "
            "(reduced, documented configurations)",
            device="cpu", dataset_scale=0.1, model_config="cpu",
            steps_per_epoch=60, max_epochs=10,
            steps_per_epoch_by_model={"mlp": 100, "unet": 50, "cct": 50}, num_threads=1,
        ),
        "paper": Profile(
            "paper",
            "the paper's full scale (736,000 spectra, full-size networks); GPU node",
            device="cuda", dataset_scale=1.0, model_config="paper",
            steps_per_epoch=1000, max_epochs=35, num_threads=None,
        ),
    }
)

DEFAULT_PROFILE = "cpu"


def validate_profile(name: str) -> str:
    """Return ``name`` if it is a known profile, else raise ValueError listing the valid ones."""
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}"
        )
    return name


def get_profile(name: str) -> Profile:
    """The :class:`Profile` called ``name`` (ValueError listing the valid names otherwise)."""
    return PROFILES[validate_profile(name)]


def shared_parameters(profile: str) -> dict[str, Any]:
    """Parameters offered to every chapter at ``profile`` (injected only where declared)."""
    return dict(get_profile(profile).shared)
