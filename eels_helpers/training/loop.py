"""The training loop of the paper (Annys et al. 2023, Methods): :func:`train`.

* Loss: binary cross-entropy + macro soft-F1 cost (:mod:`eels_helpers.training.loss`).
* Adam (Keras defaults: betas 0.9/0.999, eps 1e-7), learning rate 1e-3, batch 32.
* Pseudo-epochs of ``steps_per_epoch`` steps (1000 in the paper, at most 35); after each, the
  learning rate is halved on a plateau of the training F1 and training stops below ``min_lr``
  (:mod:`eels_helpers.training.schedule`).
* A checkpoint (model, optimizer, scheduler, RNG states, step, data position) is written after
  every pseudo-epoch and training resumes from it exactly; ``log.csv``/``log.json`` and the
  network as ``model.pt`` beside it (:mod:`eels_helpers.training.runs`).
* Device: CUDA with autocast (bf16, else fp16 with a gradient scaler) when present; else CPU with
  ``torch.set_num_threads(cores per process)`` and bfloat16 autocast only where the CPU has native
  bfloat16 and it computes right (:mod:`eels_helpers.device`: not on AMX under PyTorch 2.13.0+cpu).
* Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in DistributedDataParallel
  (gloo on CPU, NCCL on CUDA); each process draws a different shard of every batch of data
  (:func:`eels_helpers.training.data.iterate_batches`).

:func:`train` reads top to bottom in four steps: :func:`_set_up` (device, precision, model,
optimiser), :func:`_resume` (restore a checkpoint), :func:`_one_epoch` (training steps,
validation, one log row) and :func:`_write_outputs` (checkpoint, ``model.pt``, logs);
:func:`_distribute` wraps the model for several processes.
Progress goes to the logger ``eels_helpers.training.loop`` (``eels-id train`` shows it) and to
a tqdm bar.
"""

from __future__ import annotations

import collections
import copy
import csv
import json
import logging
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from eels_helpers import progress_bar
from eels_helpers.device import resolve_device, resolve_precision
from eels_helpers.models.model_files import atomic_save
from eels_helpers.training.config import TrainConfig
from eels_helpers.training.data import batch_xy, dist_env, iterate_batches
from eels_helpers.training.loss import bce_soft_f1_loss
from eels_helpers.training.runs import CHECKPOINT, LOG_CSV, LOG_JSON, MODEL_FILE
from eels_helpers.training.schedule import PlateauHalving, stop_rule

__all__ = ["train", "seed_everything", "RunMismatchError"]

logger = logging.getLogger(__name__)


class RunMismatchError(ValueError):
    """``--resume`` of a checkpoint written with other settings (the message names each one)."""


def train(config: TrainConfig, train_data, out_dir: str | Path, val_data=None, resume: bool = False) -> list[dict]:
    """Train ``config.model`` on ``train_data``; write checkpoint, model and log to ``out_dir``.

    Parameters
    ----------
    config : TrainConfig
        the run: architecture, schedule, seed, device, precision.
    train_data : torch Dataset, IterableDataset or StreamingSpectra
        items (spectrum float32 (3072,), labels (80,)) or whole batches
        (:func:`eels_helpers.training.data.iterate_batches`).
    out_dir : str or Path
        the run directory: ``checkpoint.pt``, ``model.pt``, ``log.csv``, ``log.json``.
    val_data : torch Dataset, optional
        scored after every pseudo-epoch (on rank 0).
    resume : bool
        continue from ``out_dir/checkpoint.pt`` if present, reproducing the uninterrupted run
        (same weights, bit for bit); the configuration must be the same apart from
        ``max_epochs``, the device, threads, workers, progress and ``recalibration_batches``.

    Returns
    -------
    list of dict
        the training log, one dict per pseudo-epoch: epoch, step, spectra (seen by all
        processes), loss, f1, precision, recall (weighted, at ``monitor_threshold``, on the
        training batches), lr (used), seconds (wall time of the steps), spectra_per_s, threads
        (CPU threads per process), device, and val_loss/val_f1/val_precision/val_recall when
        ``val_data`` is given.

    Raises
    ------
    RunMismatchError
        when resuming from a checkpoint written with a different configuration (a ValueError).
    FileExistsError
        when ``out_dir`` holds a checkpoint and ``resume`` is False, or a model file without a
        checkpoint (a finished run whose checkpoint was removed), or is a file: starting over would
        overwrite that run (nothing is written).
    """
    out = Path(out_dir)
    checkpoint = out / CHECKPOINT
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file: give a folder for the run's model, checkpoint and log")
    if checkpoint.exists() and not resume:
        raise FileExistsError(f"{checkpoint} holds an earlier training run: continue it with --resume "
                              f"(resume=True), or give another output directory to start a new run")
    if (out / MODEL_FILE).exists() and not checkpoint.exists():
        raise FileExistsError(f"{out / MODEL_FILE} holds a trained network and {out} no checkpoint to continue "
                              f"from: give another output directory (or move the model file) to start a new run")
    resuming = resume and checkpoint.exists()
    run = _set_up(config, out, initial_weights=not resuming)   # device, precision, model, optimiser, schedule
    if resuming:
        _resume(run, checkpoint)                 # weights, optimiser, schedule, RNG, data position
    _distribute(run)                             # DistributedDataParallel under torchrun
    batches = iterate_batches(train_data, config, run.step, run.rank, run.world)
    recent = collections.deque(maxlen=config.recalibration_batches)   # for model.pt's BatchNorm statistics
    while stop_rule(run.epoch, run.scheduler.lr, config) is None:
        row = _one_epoch(run, batches, recent, val_data)
        _write_outputs(run, out, row, recent)
    return run.history


@dataclass(eq=False)
class _Run:
    """One process's part of a training run: where it runs and what it trains."""

    config: TrainConfig
    rank: int                    # this process (torchrun RANK)
    world: int                   # processes (torchrun WORLD_SIZE)
    local_rank: int
    device: Any                  # torch.device
    precision: str               # 'fp32' | 'bf16' | 'fp16'
    options: dict                # the model's constructor keywords
    model: Any
    optimizer: Any
    scheduler: PlateauHalving
    scaler: Any                  # torch.amp.GradScaler (active for fp16)
    ddp_model: Any = None        # the model, wrapped in DistributedDataParallel under torchrun
    epoch: int = 0               # pseudo-epochs done
    step: int = 0                # steps done (by this process)
    history: list = field(default_factory=list)

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def amp_dtype(self):
        """The autocast dtype, None for fp32."""
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)


def _set_up(config: TrainConfig, out: Path, initial_weights: bool = True) -> _Run:
    """Device, threads, process group and precision; the model (the same initial weights on
    every process; those of ``config.init_from`` when ``initial_weights``, not needed when a
    checkpoint follows), the Adam optimiser, the schedule and the gradient scaler."""
    import torch
    import torch.distributed as dist

    from eels_helpers.models import create_model, model_options

    rank, world, local_rank = dist_env()
    device = resolve_device(config.device, local_rank)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    else:
        per_process = max(1, _cpu_count() // int(os.environ.get("LOCAL_WORLD_SIZE", world)))
        torch.set_num_threads(config.num_threads or per_process)
    precision = resolve_precision(config.precision, device)
    options = model_options(config.model, config.model_config, **config.model_options)
    seed_everything(config.seed)                     # same initial weights on every process
    model = create_model(config.model, **options)
    if config.init_from and initial_weights:
        _initial_weights(model, config)
    if rank == 0:                                    # only once the network is built: no empty run folder
        out.mkdir(parents=True, exist_ok=True)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, eps=1e-7)   # Keras epsilon
    scheduler = PlateauHalving(optimizer, config.lr_factor, config.patience, config.min_delta)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    seed_everything(config.seed + 7919 * rank)       # different dropout masks per process
    return _Run(config=config, rank=rank, world=world, local_rank=local_rank, device=device, precision=precision,
                options=options, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler)


def _initial_weights(model, config: TrainConfig) -> None:
    """Load the weights of ``config.init_from`` (a model file or shipped name holding ONE
    network of the same architecture and options) into ``model``: fine-tuning."""
    from eels_helpers.models.model_files import load_model

    loaded = load_model(config.init_from)
    if loaded.architecture != config.model:
        raise ValueError(f"init_from {config.init_from!r} holds a {loaded.architecture}, not a "
                         f"{config.model} (fine-tuning starts from one network of the same architecture)")
    try:
        model.load_state_dict(loaded.model.state_dict())
    except RuntimeError as err:
        raise ValueError(f"init_from {config.init_from!r}: its weights do not fit {config.model} with options "
                         f"{config.model_options} ({str(err).splitlines()[0]})") from None
    logger.info("starting from the weights of %s", config.init_from)


def _resume(run: _Run, checkpoint: Path) -> None:
    """Restore model, optimiser, schedule, scaler, position, log and (same number of
    processes) the RNG states from ``checkpoint``; refuse one of a different configuration."""
    import torch

    config = run.config
    blob = torch.load(checkpoint, map_location=run.device, weights_only=False)
    saved = TrainConfig(**blob["config"])
    free = dict(num_threads=None, num_workers=0, device="auto", progress=True, max_epochs=1,
                recalibration_batches=0)  # may change
    then, now = asdict(replace(saved, **free)), asdict(replace(config, **free))
    changed = [f"{k} {then[k]!r} then, {now[k]!r} now" for k in then if then[k] != now.get(k)]
    if changed:
        raise RunMismatchError(f"{checkpoint} was written with other settings: {'; '.join(changed)} (resume with "
                               "the run's own settings: the same --profile, --model, --simulation and options)")
    run.model.load_state_dict(blob["model_state"])
    run.optimizer.load_state_dict(blob["optimizer_state"])
    run.scheduler.load_state_dict(blob["scheduler_state"])
    run.scaler.load_state_dict(blob["scaler_state"])
    run.epoch, run.step, run.history = blob["epoch"], blob["step"], blob["history"]
    if blob.get("world_size", 1) == run.world:
        _set_rng_state(blob["rng_state"][run.rank])


def _distribute(run: _Run) -> None:
    """The model that trains: under torchrun wrapped in DistributedDataParallel (which
    averages the gradients of all processes), else the model itself."""
    run.ddp_model = run.model
    if run.distributed:
        import torch

        run.ddp_model = torch.nn.parallel.DistributedDataParallel(
            run.model, device_ids=[run.local_rank] if run.device.type == "cuda" else None)


def _one_epoch(run: _Run, batches: Iterator, recent: collections.deque, val_data) -> dict:
    """``steps_per_epoch`` training steps, then the pseudo-epoch's log row (training scores
    summed over all processes, validation scores), the schedule's step and the log."""
    import torch
    import torch.distributed as dist

    from eels_helpers.evaluation.metrics import weighted_scores_from_counts

    config, device, amp_dtype = run.config, run.device, run.amp_dtype
    run.ddp_model.train()
    counts = torch.zeros(4, 80, dtype=torch.float64, device=device)     # tp, fp, fn, (loss sum, n) in row 3
    bar = None
    if config.progress and run.rank == 0:
        bar = progress_bar(total=config.steps_per_epoch, desc=f"{config.model} epoch {run.epoch + 1}", leave=False)
    lr, t0 = run.scheduler.lr, time.perf_counter()
    for _ in range(config.steps_per_epoch):
        x, y = next(batches)
        x, y = x.to(device, torch.float32, non_blocking=True), y.to(device, torch.float32, non_blocking=True)
        if run.rank == 0 and config.recalibration_batches:
            recent.append(x.detach())
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = run.ddp_model(x)
        loss = bce_soft_f1_loss(logits.float(), y)
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
        with torch.no_grad():
            pred, true = torch.sigmoid(logits.float()) >= config.monitor_threshold, y > 0.5
            counts[0] += (pred & true).sum(0)
            counts[1] += (pred & ~true).sum(0)
            counts[2] += (~pred & true).sum(0)
            counts[3, 0] += loss.detach().double()
            counts[3, 1] += 1
        run.step += 1
        if bar is not None:
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2g}")
    if bar is not None:
        bar.close()
    if run.distributed:
        dist.all_reduce(counts)
    seconds = time.perf_counter() - t0
    precision_, recall, f1 = weighted_scores_from_counts(*counts[:3].cpu().numpy())
    run.epoch += 1
    row = {"epoch": run.epoch, "step": run.step,
           "spectra": run.step * config.batch_size * run.world,
           "loss": float(counts[3, 0] / counts[3, 1]), "f1": f1, "precision": precision_, "recall": recall,
           "lr": lr, "seconds": round(seconds, 3),
           "spectra_per_s": round(config.steps_per_epoch * config.batch_size * run.world / seconds, 2),
           "threads": torch.get_num_threads(), "device": device.type}
    if val_data is not None and run.rank == 0:
        row.update(_validate(run.model, val_data, device, amp_dtype, config.monitor_threshold))
    run.scheduler.step(f1)
    run.history.append(row)
    return row


def _write_outputs(run: _Run, out: Path, row: dict, recent: collections.deque) -> None:
    """After a pseudo-epoch: gather every process's RNG state, then (rank 0) write the
    checkpoint, ``model.pt`` (BatchNorm statistics re-estimated on the ``recent`` batches) and
    the logs; every process waits for them."""
    import torch
    import torch.distributed as dist

    from eels_helpers.models import count_parameters

    config, model = run.config, run.model
    rng = [_rng_state()]
    if run.distributed:
        rng = [None] * run.world
        dist.all_gather_object(rng, _rng_state())
    if run.rank == 0:
        atomic_save({"config": asdict(config), "model": config.model, "options": run.options,
                     "model_state": model.state_dict(), "optimizer_state": run.optimizer.state_dict(),
                     "scheduler_state": run.scheduler.state_dict(), "scaler_state": run.scaler.state_dict(),
                     "rng_state": rng, "world_size": run.world, "epoch": run.epoch, "step": run.step,
                     "history": run.history}, out / CHECKPOINT)
        metadata = dict(epoch=run.epoch, step=run.step, spectra=row["spectra"], train_f1=row["f1"],
                        parameters=count_parameters(model), precision=run.precision, world_size=run.world,
                        model_config=config.model_config, seed=config.seed, simulation=config.simulation,
                        paper_fraction=config.paper_fraction, init_from=config.init_from,
                        query_weights=dict(config.query_weights))
        net = model
        if recent:
            from eels_helpers.models import recalibrate_batchnorm

            net = recalibrate_batchnorm(copy.deepcopy(model), torch.cat(list(recent)))
            metadata["batchnorm_recalibration"] = {"spectra": sum(len(b) for b in recent),
                                                   "source": "the last training batches"}
        _save_model_file(out / MODEL_FILE, net, config, run.options, metadata)
        _write_log(out, run.history)
        if config.progress:
            logger.info("[%s] epoch %d: loss %.4f F1@%s %.3f lr %.2g (%.0f spectra/s)", config.model, row["epoch"],
                        row["loss"], config.monitor_threshold, row["f1"], row["lr"], row["spectra_per_s"])
    if run.distributed:
        dist.barrier()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# NumPy's legacy global generator is saved and restored (NPY002) because any code the run
# calls may draw from it: an exact resume needs its state too.


def _rng_state() -> dict:
    import torch

    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),  # noqa: NPY002
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    import torch

    # the checkpoint is loaded with map_location=<device>: RNG states must come back to the CPU
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(state["numpy"])  # noqa: NPY002
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global random generators with ``seed``."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)


def _write_log(out: Path, history: list[dict]) -> None:
    (out / LOG_JSON).write_text(json.dumps(history, indent=1))
    if history:
        keys = list(dict.fromkeys(k for row in history for k in row))
        with open(out / LOG_CSV, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)


def _save_model_file(path: Path, model, config: TrainConfig, options: dict, metadata: dict) -> None:
    """The trained network in the project's model-file format (``eels-id predict --model PATH``)."""
    from eels_helpers.models.model_files import save_model

    save_model(path, model, architecture=config.model, options=json.loads(json.dumps(options)), metadata=metadata)


def _validate(model, val_data, device, amp_dtype, threshold: float) -> dict:
    """Loss and weighted P/R/F1 at ``threshold`` on a validation dataset (eval mode)."""
    import torch
    from torch.utils.data import DataLoader

    from eels_helpers.evaluation.metrics import precision_recall_f1

    model.eval()
    probs, labels, loss_sum, n = [], [], 0.0, 0
    with torch.no_grad():
        for batch in DataLoader(val_data, batch_size=256):
            x, y = batch_xy(batch)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                logits = model(x.to(device, torch.float32)).float()
            y = y.to(device, torch.float32)
            loss_sum += float(bce_soft_f1_loss(logits, y)) * len(y)
            n += len(y)
            probs.append(torch.sigmoid(logits).cpu())
            labels.append(y.cpu())
    p, r, f = precision_recall_f1(torch.cat(labels), torch.cat(probs), threshold)
    return {"val_loss": loss_sum / max(n, 1), "val_f1": f, "val_precision": p, "val_recall": r}
