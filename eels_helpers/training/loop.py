"""Training loop of the paper (Annys et al. 2023, Methods) and the ``eels-id train`` command.

* Loss = binary cross-entropy on probabilities clipped to [1e-7, 1 - 1e-7] + macro soft-F1 cost
  (per class over the batch: tp = sum p y, fp = sum p (1 - y), fn = sum (1 - p) y,
  softF1 = 2 tp / (2 tp + fn + fp + 1e-16), cost = mean_c (1 - softF1_c)); computed from logits
  with clamped log-sigmoids, which equals the probability form exactly (see ``bce_soft_f1_loss``).
* Adam (Keras defaults: betas 0.9/0.999, eps 1e-7), learning rate 1e-3, batch 32.
* Pseudo-epochs of ``steps_per_epoch`` steps (1000 in the paper, at most 35); after each, the
  learning rate is halved when the training F1 at threshold 0.8 has not improved by 0.025 for 3
  pseudo-epochs (Keras ``ReduceLROnPlateau`` semantics); training stops when it falls below 5e-6.
* A checkpoint (model, optimizer, scheduler, RNG states, step, data position) is written after
  every pseudo-epoch and training resumes from it exactly; ``log.csv``/``log.json`` beside it.
* Device: CUDA with autocast (bf16, else fp16 with a gradient scaler) when present; else CPU with
  ``torch.set_num_threads(cores per process)`` and bfloat16 autocast only if the CPU has native
  bf16 (on AVX2-only CPUs bf16 matmuls are ~100x slower than fp32, measured here).
* Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in DistributedDataParallel
  (gloo on CPU, NCCL on CUDA); each process draws a different shard of every batch of data.

Datasets: any map-style ``torch.utils.data.Dataset`` or ``IterableDataset`` yielding
``(spectrum float32 (3072,), labels (80,))``.
"""

from __future__ import annotations

import argparse
import collections
import copy
import csv
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from eels_helpers import profiles as _profiles
from eels_helpers.models.model_files import atomic_save
from eels_helpers.evaluation.metrics import Scores

CHECKPOINT = "checkpoint.pt"
MODEL_FILE = "model.pt"
LOG_CSV, LOG_JSON = "log.csv", "log.json"

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")


# --------------------------------------------------------------------------------------------
# configuration


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


# --------------------------------------------------------------------------------------------
# loss


def bce_soft_f1_loss(logits, targets, eps: float = 1e-7):
    """The paper's loss from logits z: BCE(clip(sigmoid z, eps, 1 - eps)) + macro soft-F1 cost.

    log clip(p, eps, 1-eps) = clamp(logsigmoid(z), log eps, log(1-eps)) and likewise for 1 - p with
    logsigmoid(-z), so this equals :func:`bce_soft_f1_loss_from_probabilities` (the Keras form)
    while never forming log(0). Dimensionless; mean over batch and classes.
    """
    import torch
    import torch.nn.functional as F

    z, y = logits.float(), targets.float()
    lo, hi = math.log(eps), math.log1p(-eps)
    log_p, log_q = F.logsigmoid(z).clamp(lo, hi), F.logsigmoid(-z).clamp(lo, hi)
    bce = -(y * log_p + (1 - y) * log_q).mean()
    return bce + soft_f1_cost(torch.sigmoid(z), y)


def soft_f1_cost(probs, targets):
    """Macro soft-F1 cost: mean over classes of 1 - 2tp / (2tp + fn + fp + 1e-16), sums over the batch."""
    tp = (probs * targets).sum(0)
    fp = (probs * (1 - targets)).sum(0)
    fn = ((1 - probs) * targets).sum(0)
    return (1 - 2 * tp / (2 * tp + fn + fp + 1e-16)).mean()


def bce_soft_f1_loss_from_probabilities(probs, targets, eps: float = 1e-7):
    """Reference (Keras) form on probabilities: -mean(y log p' + (1-y) log(1-p')), p' = clip(p, eps, 1-eps), + soft-F1 cost.

    Computed in the input's precision (at least float32); in float32, 1 - 1e-7 rounds to
    1 - 1.19e-7, so Keras' float32 bound on -log(1 - p) is 15.94 instead of -log(1e-7) = 16.12.
    """
    import torch

    dtype = torch.promote_types(probs.dtype, torch.float32)
    p, y = probs.to(dtype), targets.to(dtype)
    pc = p.clamp(eps, 1 - eps)
    bce = -(y * pc.log() + (1 - y) * (1 - pc).log()).mean()
    return bce + soft_f1_cost(p, y)


# --------------------------------------------------------------------------------------------
# learning-rate schedule


class PlateauHalving:
    """Keras ``ReduceLROnPlateau(mode='max', factor, patience, min_delta)`` on a monitored score.

    After each pseudo-epoch: if score > best + min_delta the best is updated and the wait reset;
    otherwise wait += 1 and, at ``patience``, every learning rate is multiplied by ``factor``.
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


# --------------------------------------------------------------------------------------------
# data


class SyntheticPeaks:
    """A toy map-style dataset for tests and smoke runs (NOT EELS physics).

    Spectrum ``i`` holds 1-3 elements; element c adds a Gaussian peak (sigma 4 eV) at 100 + 36 c eV
    on a decaying background, with Gaussian noise; normalised to a maximum of 1. Deterministic in
    (seed, i). Yields (float32 (3072,), float32 (80,)).
    """

    def __init__(self, size: int = 1024, seed: int = 0, n_classes: int = 80, n_channels: int = 3072):
        self.size, self.seed, self.n_classes, self.n_channels = size, seed, n_classes, n_channels
        self.energy = np.arange(n_channels, dtype=np.float32)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int):
        if not 0 <= i < self.size:
            raise IndexError(i)
        rng = np.random.default_rng((self.seed, i))
        classes = rng.choice(self.n_classes, size=rng.integers(1, 4), replace=False)
        centres = 100.0 + 36.0 * classes
        amplitude = rng.uniform(0.3, 1.0, size=classes.size)
        x = np.exp(-((self.energy[:, None] - centres) / 4.0) ** 2 / 2) @ amplitude
        x += 2.0 * np.exp(-self.energy / 300.0) + rng.normal(0, 0.05, self.n_channels)
        x = (x / x.max()).astype(np.float32)
        y = np.zeros(self.n_classes, np.float32)
        y[classes] = 1
        return x, y


class HDF5Spectra:
    """Map-style dataset over an HDF5 file with ``spectra`` (N, 3072) and ``labels_identification``
    (or ``labels``) (N, 80), read lazily row by row (the file is opened once per worker process)."""

    def __init__(self, path: str | Path, spectra_key: str = "spectra", labels_key: str | None = None):
        import h5py

        self.path, self.spectra_key = str(path), spectra_key
        with h5py.File(self.path, "r") as f:
            if labels_key is None:
                labels_key = next((k for k in ("labels_identification", "labels") if k in f), None)
            if spectra_key not in f or labels_key is None:
                raise ValueError(f"{path}: needs datasets '{spectra_key}' and 'labels_identification' or 'labels'; "
                                 f"found {sorted(f)}")
            self.size = len(f[spectra_key])
        self.labels_key, self._file = labels_key, None

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int):
        if self._file is None:
            import h5py

            self._file = h5py.File(self.path, "r")
        return (np.asarray(self._file[self.spectra_key][i], np.float32),
                np.asarray(self._file[self.labels_key][i], np.float32))

    def __getstate__(self):
        return {**self.__dict__, "_file": None}


class PermutationSampler:
    """Infinite sampler: a fresh seeded permutation of range(n) for every pass over the data, sharded
    over ``world`` processes (process ``rank`` takes every world-th index), starting after ``start``
    indices already consumed (global count), so a resumed run continues with the same data."""

    def __init__(self, n: int, seed: int, start: int = 0, rank: int = 0, world: int = 1):
        self.n, self.seed, self.start, self.rank, self.world = n, seed, start, rank, world

    def __iter__(self) -> Iterator[int]:
        import torch

        data_epoch, offset = divmod(self.start, self.n)
        while True:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + data_epoch)
            perm = torch.randperm(self.n, generator=g).tolist()
            for j in range(offset, self.n):
                if j % self.world == self.rank:
                    yield perm[j]
            data_epoch, offset = data_epoch + 1, 0


def _xy(batch):
    """(spectra, labels) from a tuple/list batch or a dict batch (eels_helpers.datasets.streaming fields)."""
    if isinstance(batch, dict):
        return batch["spectra"], batch["labels_identification"]
    return batch[0], batch[1]


def _stream_from(stream, start: int):
    """IterableDataset over batches k = start, start+1, ... of a StreamingSpectra (its batch
    ``rank + world_size * k``), split over DataLoader workers; the same sequence for any number of
    workers, so a resumed run continues the stream exactly."""
    import torch

    class StreamFrom(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            w, nw = (0, 1) if info is None else (info.id, info.num_workers)
            k = start + w
            while stream.n_batches is None or stream.rank + stream.world_size * k < stream.n_batches:
                yield stream.batch(stream.rank + stream.world_size * k)
                k += nw

    return StreamFrom()


def _is_batch_stream(dataset) -> bool:
    return all(hasattr(dataset, a) for a in ("batch", "batch_size", "rank", "world_size", "n_batches"))


def _batches(dataset, config: TrainConfig, start_batches: int, rank: int, world: int) -> Iterator:
    """Endless iterator of (x, y) batches, positioned after ``start_batches`` already-used steps."""
    import torch
    from torch.utils.data import DataLoader, IterableDataset

    generator = torch.Generator().manual_seed(config.seed)  # keeps the global RNG untouched
    if _is_batch_stream(dataset):        # eels_helpers.datasets.streaming.StreamingSpectra: yields whole batches
        if dataset.batch_size != config.batch_size:
            raise ValueError(f"the stream's batch_size {dataset.batch_size} differs from batch_size {config.batch_size}")
        if (dataset.rank, dataset.world_size) != (rank, world):
            raise ValueError(f"the stream is for rank {dataset.rank} of {dataset.world_size}, this process is "
                             f"rank {rank} of {world}")
        loader = DataLoader(_stream_from(dataset, start_batches), batch_size=None, num_workers=config.num_workers,
                            generator=generator, persistent_workers=config.num_workers > 0)
        while True:
            yield from map(_xy, loader)
            if dataset.n_batches is not None:
                raise RuntimeError("the stream ended; use n_batches=None (endless) for training")
    elif isinstance(dataset, IterableDataset):
        loader = DataLoader(dataset, batch_size=config.batch_size, num_workers=config.num_workers,
                            generator=generator, drop_last=True)
        skip = start_batches
        while True:   # cycle; a deterministic stream is re-positioned by skipping consumed batches
            for batch in loader:
                if skip:
                    skip -= 1
                    continue
                yield _xy(batch)
    else:
        sampler = PermutationSampler(len(dataset), config.seed, start_batches * config.batch_size * world, rank, world)
        loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler,
                            num_workers=config.num_workers, generator=generator,
                            persistent_workers=config.num_workers > 0)
        yield from map(_xy, loader)


# --------------------------------------------------------------------------------------------
# device, precision, distributed


def resolve_device(config: TrainConfig, local_rank: int = 0):
    import torch

    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("device='cuda' was requested but torch.cuda.is_available() is False")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def cpu_has_fast_bf16() -> bool:
    """True if oneDNN reports native bfloat16 (AVX512-BF16/AMX); AVX2-only CPUs emulate it slowly."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device) -> str:
    """'auto' -> bf16 on CUDA with bf16 (else fp16); on CPU bf16 only with native support, else fp32."""
    import torch

    if precision != "auto":
        if precision == "fp16" and device.type != "cuda":
            raise ValueError("precision='fp16' needs CUDA; use 'bf16' or 'fp32' on CPU")
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def _dist_env() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _rng_state() -> dict:
    import torch

    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _write_log(out: Path, history: list[dict]) -> None:
    (out / LOG_JSON).write_text(json.dumps(history, indent=1))
    if history:
        keys = list(dict.fromkeys(k for row in history for k in row))
        with open(out / LOG_CSV, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)


# --------------------------------------------------------------------------------------------
# training


def train(config: TrainConfig, train_data, out_dir: str | Path, val_data=None, resume: bool = False) -> list[dict]:
    """Train ``config.model`` on ``train_data``; write checkpoint, model and log to ``out_dir``.

    Returns the training log: one dict per pseudo-epoch (epoch, step, spectra, loss, f1, precision,
    recall at ``monitor_threshold`` on the training batches, lr used, seconds, spectra_per_s, the
    CPU threads per process and the device, and
    val_loss/val_f1/... when ``val_data`` is given). ``resume=True`` continues from
    ``out_dir/checkpoint.pt`` if present, reproducing the uninterrupted run.
    """
    import torch
    import torch.distributed as dist

    from eels_helpers.evaluation.metrics import precision_recall_f1, weighted_scores_from_counts
    from eels_helpers.models import count_parameters, create_model, model_options

    out = Path(out_dir)
    rank, world, local_rank = _dist_env()
    distributed = world > 1
    device = resolve_device(config, local_rank)
    if distributed and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(config.num_threads or max(1, _cpu_count() // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    precision = resolve_precision(config.precision, device)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    options = model_options(config.model, config.model_config, **config.model_options)
    seed_everything(config.seed)                     # same initial weights on every process
    model = create_model(config.model, **options).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, eps=1e-7)   # Keras epsilon
    scheduler = PlateauHalving(optimizer, config.lr_factor, config.patience, config.min_delta)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    state = {"epoch": 0, "step": 0, "history": []}
    seed_everything(config.seed + 7919 * rank)       # different dropout masks per process

    checkpoint = out / CHECKPOINT
    if resume and checkpoint.exists():
        blob = torch.load(checkpoint, map_location=device, weights_only=False)
        saved = TrainConfig(**blob["config"])
        free = dict(num_threads=None, num_workers=0, device="auto", progress=True, max_epochs=1,
                    recalibration_batches=0)  # may change
        if replace(saved, **free) != replace(config, **free):
            raise ValueError(f"{checkpoint} was written with a different configuration: {saved} (now {config})")
        model.load_state_dict(blob["model_state"])
        optimizer.load_state_dict(blob["optimizer_state"])
        scheduler.load_state_dict(blob["scheduler_state"])
        scaler.load_state_dict(blob["scaler_state"])
        state = {"epoch": blob["epoch"], "step": blob["step"], "history": blob["history"]}
        if blob.get("world_size", 1) == world:
            _set_rng_state(blob["rng_state"][rank])
    ddp_model = model
    if distributed:
        ddp_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None)

    batches = _batches(train_data, config, state["step"], rank, world)
    n_params = count_parameters(model)
    recent = collections.deque(maxlen=config.recalibration_batches)   # for model.pt's BatchNorm statistics
    history: list[dict] = state["history"]

    while _stop_reason(state["epoch"], scheduler.lr, config) is None:
        ddp_model.train()
        counts = torch.zeros(4, 80, dtype=torch.float64, device=device)     # tp, fp, fn, (loss sum, n) in row 3
        bar = None
        if config.progress and rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=config.steps_per_epoch, desc=f"{config.model} epoch {state['epoch'] + 1}", leave=False)
        lr, t0 = scheduler.lr, time.perf_counter()
        for _ in range(config.steps_per_epoch):
            x, y = next(batches)
            x, y = x.to(device, torch.float32, non_blocking=True), y.to(device, torch.float32, non_blocking=True)
            if rank == 0 and config.recalibration_batches:
                recent.append(x.detach())
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                logits = ddp_model(x)
            loss = bce_soft_f1_loss(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            with torch.no_grad():
                pred, true = torch.sigmoid(logits.float()) >= config.monitor_threshold, y > 0.5
                counts[0] += (pred & true).sum(0)
                counts[1] += (pred & ~true).sum(0)
                counts[2] += (~pred & true).sum(0)
                counts[3, 0] += loss.detach().double()
                counts[3, 1] += 1
            state["step"] += 1
            if bar is not None:
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2g}")
        if bar is not None:
            bar.close()
        if distributed:
            dist.all_reduce(counts)
        seconds = time.perf_counter() - t0
        precision_, recall, f1 = weighted_scores_from_counts(*counts[:3].cpu().numpy())
        state["epoch"] += 1
        row = {"epoch": state["epoch"], "step": state["step"],
               "spectra": state["step"] * config.batch_size * world,
               "loss": float(counts[3, 0] / counts[3, 1]), "f1": f1, "precision": precision_, "recall": recall,
               "lr": lr, "seconds": round(seconds, 3),
               "spectra_per_s": round(config.steps_per_epoch * config.batch_size * world / seconds, 2),
               "threads": torch.get_num_threads(), "device": device.type}
        if val_data is not None and rank == 0:
            row.update(_validate(model, val_data, device, amp_dtype, config.monitor_threshold, precision_recall_f1))
        scheduler.step(f1)
        history.append(row)
        rng = [_rng_state()]
        if distributed:
            rng = [None] * world
            dist.all_gather_object(rng, _rng_state())
        if rank == 0:
            atomic_save({"config": asdict(config), "model": config.model, "options": options,
                         "model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(),
                         "scheduler_state": scheduler.state_dict(), "scaler_state": scaler.state_dict(),
                         "rng_state": rng, "world_size": world, "epoch": state["epoch"], "step": state["step"],
                         "history": history}, checkpoint)
            metadata = dict(epoch=state["epoch"], step=state["step"], spectra=row["spectra"], train_f1=f1,
                            parameters=n_params, precision=precision, world_size=world,
                            model_config=config.model_config, seed=config.seed)
            net = model
            if recent:
                from eels_helpers.models import recalibrate_batchnorm

                net = recalibrate_batchnorm(copy.deepcopy(model), torch.cat(list(recent)))
                metadata["batchnorm_recalibration"] = {"spectra": sum(len(b) for b in recent),
                                                       "source": "the last training batches"}
            _save_model_file(out / MODEL_FILE, net, config, options, metadata)
            _write_log(out, history)
            if config.progress:
                print(f"[{config.model}] epoch {row['epoch']}: loss {row['loss']:.4f} F1@{config.monitor_threshold} "
                      f"{f1:.3f} lr {lr:.2g} ({row['spectra_per_s']:.0f} spectra/s)", file=sys.stderr)
        if distributed:
            dist.barrier()
    return history


def _stop_reason(epoch: int, lr: float, config: TrainConfig) -> str | None:
    """Why training stops after ``epoch`` pseudo-epochs at learning rate ``lr``, or None."""
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
    return _stop_reason(int(blob["epoch"]), float(blob["optimizer_state"]["param_groups"][0]["lr"]), config)


def _save_model_file(path: Path, model, config: TrainConfig, options: dict, metadata: dict) -> None:
    """The trained network in the project's model-file format (``eels-id predict --model PATH``)."""
    from eels_helpers.models.model_files import save_model

    save_model(path, model, architecture=config.model, options=json.loads(json.dumps(options)), metadata=metadata)


def _validate(model, val_data, device, amp_dtype, threshold: float, precision_recall_f1) -> dict:
    """Loss and weighted P/R/F1 at ``threshold`` on a validation dataset (eval mode)."""
    import torch
    from torch.utils.data import DataLoader

    model.eval()
    probs, labels, loss_sum, n = [], [], 0.0, 0
    with torch.no_grad():
        for batch in DataLoader(val_data, batch_size=256):
            x, y = _xy(batch)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                logits = model(x.to(device, torch.float32)).float()
            y = y.to(device, torch.float32)
            loss_sum += float(bce_soft_f1_loss(logits, y)) * len(y)
            n += len(y)
            probs.append(torch.sigmoid(logits).cpu())
            labels.append(y.cpu())
    p, r, f = precision_recall_f1(torch.cat(labels), torch.cat(probs), threshold)
    return {"val_loss": loss_sum / max(n, 1), "val_f1": f, "val_precision": p, "val_recall": r}


# --------------------------------------------------------------------------------------------
# command line


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, choices=("mlp", "cnn", "unet", "resnet", "vit", "cct"),
                        help="architecture")
    parser.add_argument("--profile", default="cpu", choices=sorted(_profiles.PROFILES),
                        help="schedule and model configuration (smoke, cpu = reduced models, paper = paper sizes)")
    parser.add_argument("--model-config", choices=["paper", "cpu"], help="override the profile's model configuration")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="model constructor option, e.g. --option width=0.5 (repeatable; JSON values)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="dataset of 'eels-id simulate' (file, shards or glob): its 'train' split")
    source.add_argument("--stream", action="store_true", help="train on the streaming simulator")
    source.add_argument("--synthetic", type=int, metavar="N", help="toy Gaussian-peak dataset of N spectra (smoke tests)")
    parser.add_argument("--val", type=Path, help="dataset whose 'validation' split is evaluated after each pseudo-epoch")
    parser.add_argument("--out", type=Path, required=True, help="output directory (checkpoint, model.pt, log)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if present")
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--max-epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, dest="learning_rate")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", choices=DEVICES)
    parser.add_argument("--precision", choices=PRECISIONS)
    parser.add_argument("--threads", type=int, dest="num_threads", help="CPU threads per process")
    parser.add_argument("--workers", type=int, dest="num_workers", help="DataLoader worker processes")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    options = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--option expects KEY=VALUE, got {item!r}")
        options[key.strip()] = _parse_value(value)
    overrides = {k: getattr(args, k) for k in ("steps_per_epoch", "max_epochs", "batch_size", "learning_rate", "seed",
                                               "device", "precision", "num_threads", "num_workers")
                 if getattr(args, k) is not None}
    if args.model_config:
        overrides["model_config"] = args.model_config
    return TrainConfig.from_profile(args.profile, model=args.model, model_options=options,
                                    progress=not args.no_progress, **overrides)


def open_training_data(args: argparse.Namespace, config: TrainConfig):
    if args.synthetic is not None:
        return SyntheticPeaks(args.synthetic, seed=config.seed)
    if args.stream:
        return streaming_dataset(config)
    return open_hdf5(args.data, "train")


def open_hdf5(path, split: str = "train"):
    """Split ``split`` of a dataset written by ``eels-id simulate`` (one file, shards or a glob), as
    a torch Dataset of (spectra, labels_identification); a plain HDF5 file with ``spectra`` and
    ``labels_identification`` datasets at its root is read by :class:`HDF5Spectra`."""
    import h5py

    from eels_helpers.datasets import hdf5_reader as dataset

    first = dataset._expand(str(path))[0]
    with h5py.File(first, "r") as f:
        ours = f.attrs.get("format") == dataset.FORMAT
    if not ours:
        return HDF5Spectra(first)
    return dataset.open_dataset(str(path))[split].torch(("spectra", "labels_identification"))


def streaming_dataset(config: TrainConfig):
    """The streaming simulator for this process (rank/world from the torchrun environment), drawing
    query elements among those the simulator can produce with its default configuration."""
    from eels_helpers.datasets.config import simulatable_elements
    from eels_helpers.datasets.streaming import StreamingSpectra

    rank, world, _ = _dist_env()
    elements, failures = simulatable_elements()
    if failures and rank == 0:
        print(f"streaming simulator: {len(failures)} of 80 elements cannot be simulated with the current GOS "
              f"source and are never drawn as query elements: {', '.join(failures)}", file=sys.stderr)
    return StreamingSpectra(elements=elements, seed=config.seed, batch_size=config.batch_size, rank=rank,
                            world_size=world)


def simulated_arrays(n_spectra: int, seed: int, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``n_spectra`` (rounded up to whole batches) spectra (N, 3072) and labels (N, 80) from the
    streaming simulator with ``seed`` (use a seed other than the training seed for test data)."""
    from eels_helpers.datasets.config import simulatable_elements
    from eels_helpers.datasets.streaming import StreamingSpectra

    stream = StreamingSpectra(elements=simulatable_elements()[0], seed=seed, batch_size=batch_size,
                              n_batches=-(-n_spectra // batch_size))
    batches = [stream.batch(b) for b in range(stream.n_batches)]
    return (np.concatenate([b["spectra"].numpy() for b in batches]),
            np.concatenate([b["labels_identification"].numpy() for b in batches]))


def main(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    history = train(config, open_training_data(args, config), args.out,
                    val_data=open_hdf5(args.val, "validation") if args.val else None, resume=args.resume)
    if _dist_env()[0] == 0 and history:
        last = history[-1]
        reason = stop_reason(args.out)
        print(f"{config.model}: {last['epoch']} pseudo-epochs, loss {last['loss']:.4f}, F1 {last['f1']:.3f}; "
              f"wrote {Path(args.out) / MODEL_FILE}; stopped: {reason or 'unknown'}")
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":   # torchrun --nproc_per_node 2 -m eels_helpers.training.loop ...
    _parser = argparse.ArgumentParser(prog="python -m eels_helpers.training.loop", description=__doc__.splitlines()[0])
    configure_parser(_parser)
    sys.exit(main(_parser.parse_args()))


# --------------------------------------------------------------------------------------------
# results of a trained architecture (Table 2's simulated columns), saved beside the checkpoint

RESULTS_JSON = "results.json"


@dataclass(frozen=True)
class TrainResults:
    """Simulated-test results of one trained architecture (one row of Table 2).

    ``scores``: :class:`eels_helpers.evaluation.metrics.Scores` on the simulated test spectra at the
    threshold chosen on validation spectra (precision and recall closest);
    ``inference_ms_per_spectrum`` is the wall time of a forward pass per spectrum (batch 32,
    milliseconds), ``train_minutes`` the wall time of all training pseudo-epochs (minutes,
    summed over resumed runs).
    """

    architecture: str
    profile: str
    parameters: int
    scores: Scores
    inference_ms_per_spectrum: float
    train_minutes: float
    spectra: int = 0                        # training spectra seen
    epochs: int = 0                         # pseudo-epochs trained
    n_test: int = 0                         # simulated test spectra
    model_config: str = ""                  # 'cpu' (reduced) or 'paper' sizes
    options: dict = field(default_factory=dict)   # the model's constructor keywords

    def __post_init__(self):
        from eels_helpers.models import MODEL_NAMES

        if self.architecture not in MODEL_NAMES:
            raise ValueError(f"architecture must be one of {', '.join(MODEL_NAMES)}, got {self.architecture!r}")
        if not isinstance(self.scores, Scores):
            raise TypeError(f"scores must be an eels_helpers.evaluation.metrics.Scores, got {type(self.scores).__name__}")
        import numbers

        for name in ("parameters", "spectra", "epochs", "n_test"):   # numpy ints -> int
            value = getattr(self, name)
            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                object.__setattr__(self, name, int(value))
        for name in ("inference_ms_per_spectrum", "train_minutes"):   # numpy floats -> float
            value = getattr(self, name)
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        object.__setattr__(self, "options", dict(self.options))
        if not isinstance(self.parameters, int) or self.parameters < 1:
            raise ValueError(f"parameters must be a positive int (trainable weights), got {self.parameters!r}")
        for name in ("inference_ms_per_spectrum", "train_minutes"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite time >= 0, got {value!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainResults":
        """From :meth:`as_dict` (``scores`` nested); also reads the flat layout of results
        files written before 2026-11-24 15:00 (f1, precision, ... beside the other fields)."""
        data = dict(data)
        score_fields = tuple(Scores.__dataclass_fields__)
        scores = data.pop("scores", None) or {k: data[k] for k in score_fields if k in data}
        known = set(cls.__dataclass_fields__) - {"scores"}
        return cls(scores=Scores(**scores), **{k: v for k, v in data.items() if k in known})


def run_directory(out_dir: str | Path, architecture: str, profile: str, seed: int, steps_per_epoch: int) -> Path:
    """``<out_dir>/<architecture>-<profile>-seed<seed>-steps<steps_per_epoch>``: the folder of one
    training run (checkpoint, log, results). The step count is in the name because a checkpoint
    resumes only with the same pseudo-epoch length."""
    return Path(out_dir) / f"{architecture}-{profile}-seed{seed}-steps{steps_per_epoch}"


def save_results(results: TrainResults, run_dir: str | Path) -> Path:
    """Write ``results`` to ``<run_dir>/results.json`` (atomically) and return the path."""
    path = Path(run_dir) / RESULTS_JSON
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results.as_dict(), indent=1))
    os.replace(tmp, path)
    return path


def load_results(path: str | Path) -> TrainResults:
    """Read a ``results.json`` written by :func:`save_results` (a run folder or the file)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_JSON
    return TrainResults.from_dict(json.loads(path.read_text()))


def find_run(out_dir: str | Path, architecture: str, profile: str, seed: int = 0) -> Path | None:
    """The folder of the newest finished run (one with ``results.json``) of ``architecture`` at
    ``profile`` and ``seed`` under ``out_dir`` (any pseudo-epoch length), or None."""
    paths = sorted(Path(out_dir).glob(f"{architecture}-{profile}-seed{seed}-steps*/{RESULTS_JSON}"),
                   key=lambda p: p.stat().st_mtime)
    return paths[-1].parent if paths else None


def find_results(out_dir: str | Path, architecture: str, profile: str, seed: int = 0) -> TrainResults | None:
    """The newest results of ``architecture`` at ``profile`` and ``seed`` under ``out_dir``
    (any pseudo-epoch length), or None when that architecture has not been trained there."""
    run = find_run(out_dir, architecture, profile, seed)
    return load_results(run) if run is not None else None
