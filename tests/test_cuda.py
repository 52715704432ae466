"""The CUDA code paths: device placement, mixed precision (bf16 autocast; fp16 with a gradient
scaler), inference on the GPU, the streaming simulator's DataLoader workers beside a GPU, and
DistributedDataParallel with NCCL under torchrun.

Every test here needs CUDA and skips without it (the project's 2-core machine has none, so they
are skipped there); on a GPU node they run with ``make test`` (or ``pytest tests/test_cuda.py``).
The NCCL test needs two GPUs.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from eels_helpers.device import cuda_unavailable_reason, fast_bfloat16, resolve_device, resolve_precision
from eels_helpers.training.config import TrainConfig
from eels_helpers.training.data import SyntheticPeaks
from eels_helpers.training.loop import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason=f"needs CUDA: {cuda_unavailable_reason()}")

TINY = dict(model="mlp", model_options={"width": 0.02}, batch_size=8, steps_per_epoch=2, max_epochs=1,
            progress=False, device="cuda")


def _checkpoint(path):
    return torch.load(path / "checkpoint.pt", weights_only=False)   # tensors keep their device


def _precisions():
    """The autocast precisions this GPU runs: fp16 everywhere, bf16 from compute capability 8.0."""
    if not torch.cuda.is_available():
        return ["fp16"]
    return ["fp16", "bf16"] if torch.cuda.is_bf16_supported(including_emulation=False) else ["fp16"]


def test_cuda_is_resolved_and_reported():
    assert cuda_unavailable_reason() is None
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda", local_rank=0) == torch.device("cuda", 0)
    # auto precision: bf16 where the GPU has it natively (Ampere and later), else fp16 + scaler
    expected = "bf16" if fast_bfloat16("cuda") else "fp16"
    assert resolve_precision("auto", "cuda") == expected


@pytest.mark.parametrize("precision", ["fp32", *_precisions()])
def test_one_training_step_on_the_gpu(tmp_path, precision):
    history = train(TrainConfig(**TINY, precision=precision), SyntheticPeaks(64), tmp_path)
    row = history[-1]
    assert row["device"] == "cuda" and math.isfinite(row["loss"]) and row["loss"] > 0
    blob = _checkpoint(tmp_path)
    weights = blob["model_state"]
    assert all(t.is_cuda for t in weights.values())                      # the model trained on the GPU
    assert all(torch.isfinite(t.float()).all() for t in weights.values())
    moments = [s["exp_avg"] for s in blob["optimizer_state"]["state"].values()]
    assert moments and all(m.is_cuda and m.abs().sum() > 0 for m in moments)   # Adam stepped on the GPU
    # the gradient scaler runs for fp16 only; its scale is finite after the steps
    scaler = blob["scaler_state"]
    if precision == "fp16":
        assert scaler and math.isfinite(float(scaler["scale"])) and float(scaler["scale"]) > 0
    else:
        assert not scaler
    from eels_helpers.models.model_files import load_model

    loaded = load_model(tmp_path / "model.pt", device="cuda")
    assert loaded.metadata["precision"] == precision
    assert next(loaded.model.parameters()).is_cuda


@pytest.mark.parametrize("precision", _precisions())
def test_autocast_computes_in_the_reduced_dtype(precision):
    from eels_helpers.models import create_model

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    model = create_model("vit", "cpu").cuda().eval()
    x = torch.rand(4, 3072, device="cuda")
    with torch.no_grad():
        reference = torch.sigmoid(model(x).float())
        with torch.autocast("cuda", dtype=dtype):
            logits = model(x)
    assert logits.dtype == dtype and logits.is_cuda
    assert torch.allclose(torch.sigmoid(logits.float()), reference, atol=5e-2)


def test_inference_on_the_gpu_matches_the_cpu():
    from eels_helpers.inference.predict import run_model
    from eels_helpers.models import create_model
    from eels_helpers.models.model_files import LoadedModel

    torch.manual_seed(0)
    net = create_model("cnn", "cpu").eval()
    x = np.stack([SyntheticPeaks(8, seed=1)[i][0] for i in range(8)])
    cpu = run_model(LoadedModel(model=net, architecture="cnn"), x, device="cpu")
    gpu = run_model(LoadedModel(model=net.cuda(), architecture="cnn"), x, device="cuda")
    assert np.allclose(cpu, gpu, atol=1e-3)
    if fast_bfloat16("cuda"):
        bf16 = run_model(LoadedModel(model=net, architecture="cnn"), x, device="cuda", bfloat16=True)
        assert np.allclose(cpu, bf16, atol=5e-2)


def test_resume_on_the_gpu_reproduces_the_uninterrupted_run(tmp_path):
    """A checkpoint is loaded onto the GPU (map_location): its CPU and CUDA RNG states must go
    back to the CPU before they are restored (session 24's H200 run failed there)."""
    data = SyntheticPeaks(40, seed=3)
    full = train(TrainConfig(**{**TINY, "max_epochs": 2}), data, tmp_path / "full")
    train(TrainConfig(**TINY), data, tmp_path / "part")
    resumed = train(TrainConfig(**{**TINY, "max_epochs": 2}), data, tmp_path / "part", resume=True)
    assert [r["epoch"] for r in resumed] == [1, 2] and resumed[-1]["spectra"] == full[-1]["spectra"]
    assert math.isfinite(resumed[-1]["loss"])


def test_streaming_simulator_workers_beside_the_gpu(tmp_path):
    """DataLoader workers are forked after CUDA was initialised in the parent: they must
    simulate with NumPy only (a CUDA call in a forked worker fails)."""
    from eels_helpers.training.data import streaming_dataset

    torch.zeros(1, device="cuda")                         # CUDA initialised before the fork
    config = TrainConfig(**{**TINY, "num_workers": 2, "batch_size": 4, "steps_per_epoch": 3})
    history = train(config, streaming_dataset(config), tmp_path)
    assert history[-1]["device"] == "cuda" and history[-1]["spectra"] == 12
    assert math.isfinite(history[-1]["loss"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="DDP with NCCL needs at least two GPUs")
def test_distributed_data_parallel_nccl_two_gpus(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), "-m", "eels_helpers.cli", "train", "--model", "mlp",
           "--option", "width=0.02", "--profile", "smoke", "--synthetic", "64", "--batch-size", "4",
           "--device", "cuda", "--out", str(tmp_path), "--no-progress", "--steps-per-epoch", "3",
           "--max-epochs", "1"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    history = json.loads((tmp_path / "log.json").read_text())
    assert history[-1]["device"] == "cuda" and history[-1]["spectra"] == 3 * 4 * 2
    blob = _checkpoint(tmp_path)
    assert blob["world_size"] == 2 and len(blob["rng_state"]) == 2
    assert all(t.is_cuda for t in blob["model_state"].values())
