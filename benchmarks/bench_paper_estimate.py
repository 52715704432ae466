#!/usr/bin/env python
"""An estimate of the ``paper`` profile's time per chapter on one GPU, from FLOP counts and
throughputs measured on this CPU (an ESTIMATE: no GPU was used).

Measured here:
  * FLOPs per spectrum of each paper-size network, forward pass (``torch.utils.flop_counter.
    FlopCounterMode``: 2 FLOPs per multiply-add of matmuls and convolutions); a training step
    costs about 3 forward passes (forward + backward for activations and weights);
  * the CPU's training throughput of each paper-size network (batch ``--batch-size``, this
    process's threads), and the FLOP rate it implies (a check of the counts);
  * the streaming simulator's spectra per CPU-second (one process), which feeds training.
Assumed (options): the GPU's dense bf16 peak (``--gpu-tflops``, 989 for an H100 SXM, 312 for an
A100) and the fraction of it these networks reach (``--efficiency``); the CPU cores that simulate
beside it (``--sim-cores``: DataLoader workers, chapter 04's ``num_workers``); a fixed cost per
training step (``--step-overhead-ms``: kernel launches, optimiser, logging; batches of 32 are too
small to hide it, so it sets a floor for the small networks).

The estimate of one training page (chapter 04, paper schedule: at most 35 pseudo-epochs of 1000
steps of 32 = 1.12M spectra) is max(GPU time = steps x overhead + FLOPs / rate, simulation time)
when the simulator runs in workers, plus the simulation and inference of its 4,096 validation
and 8,192 test spectra. The other chapters are dominated by CPU work that a GPU does not speed
up; they are scaled from the ``cpu``-profile times given with ``--cpu-times`` (README, "Two commands").

Last line: ``paper_gpu_hours=<all chapters, one GPU>``.

Usage: ``python benchmarks/bench_paper_estimate.py [--gpu-tflops 989] [--efficiency 0.25]
[--sim-cores 8] [--step-overhead-ms 10] [--batch-size 4] [--threads 1]``
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from eels_helpers.models import MODEL_NAMES, count_parameters, create_model
from eels_helpers.profiles import PROFILES
from eels_helpers.training.loss import bce_soft_f1_loss

#: chapter 04 at the paper profile: validation + test spectra simulated and classified per page
PAPER_HELD_OUT = 4096 + 8192


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def forward_flops(model: torch.nn.Module) -> float:
    """FLOPs of one spectrum's forward pass (eval mode)."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.rand(1, 3072))
    return float(counter.get_total_flops())


def train_step_seconds(model: torch.nn.Module, batch_size: int, steps: int = 2) -> tuple[float, float]:
    """(wall s, CPU s) of one training step (mean of ``steps`` after a warm-up step)."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x, y = torch.rand(batch_size, 3072), (torch.rand(batch_size, 80) < 0.05).float()

    def step():
        loss = bce_soft_f1_loss(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    t0, c0 = time.perf_counter(), cpu_seconds()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps, (cpu_seconds() - c0) / steps


def simulator_rate(n_batches: int = 4, batch_size: int = 64) -> float:
    """Streaming-simulator spectra per CPU-second of this process (start-up excluded)."""
    from eels_helpers.datasets.config import simulatable_elements
    from eels_helpers.datasets.streaming import StreamingSpectra

    stream = StreamingSpectra(elements=simulatable_elements()[0], seed=1, batch_size=batch_size)
    stream.batch(0)   # start-up: shape tables, specimens
    c0 = cpu_seconds()
    for b in range(1, n_batches + 1):
        stream.batch(b)
    return n_batches * batch_size / (cpu_seconds() - c0)


def parse_cpu_times(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in (item.split("=") for item in text.split(",") if item)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU, TFLOP/s")
    parser.add_argument("--efficiency", type=float, default=0.25, help="fraction of the peak reached")
    parser.add_argument("--sim-cores", type=int, default=8, help="CPU cores simulating beside the GPU")
    parser.add_argument("--step-overhead-ms", type=float, default=10.0, help="fixed GPU cost per training step")
    parser.add_argument("--batch-size", type=int, default=4, help="batch of the CPU measurement")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    parser.add_argument(
        "--cpu-times", default="01_introduction=3.1,02_cross_sections=6.0,03_simulated_dataset=18.6,"
        "05_table2_simulated=4.3,06_spectrum_image_mapping=141.3,07_experimental_evaluation=35.0,"
        "08_ensemble_confusion=36.5",
        help="measured cpu-profile seconds of the chapters other than 04 (README's make book row)")
    args = parser.parse_args()
    if not (0 < args.efficiency <= 1 and args.gpu_tflops > 0 and args.sim_cores >= 1 and args.step_overhead_ms >= 0):
        parser.error("--efficiency must be in (0, 1], --gpu-tflops > 0, --sim-cores >= 1, --step-overhead-ms >= 0")
    torch.set_num_threads(args.threads)
    print("load average %.2f %.2f %.2f" % os.getloadavg(), f"threads {args.threads}")

    paper = PROFILES["paper"]
    sim = simulator_rate()
    print(f"streaming simulator: {sim:.0f} spectra per CPU-second (one process)")
    gpu_flops = args.gpu_tflops * 1e12 * args.efficiency
    print(f"assumed GPU: {args.gpu_tflops:g} TFLOP/s peak at {args.efficiency:.0%} = {gpu_flops / 1e12:.0f} "
          f"TFLOP/s; {args.sim_cores} simulating cores; {args.step_overhead_ms:g} ms per step")
    print(f"{'model':7} {'params M':>8} {'fwd GFLOP':>9} {'CPU s/step':>10} {'CPU GFLOP/s':>11} "
          f"{'GPU train min':>13} {'sim min':>8} {'page min':>8}")
    total_s = 0.0
    for name in args.models.split(","):
        model = create_model(name, "paper")
        fwd = forward_flops(model)
        wall, cpu = train_step_seconds(model, args.batch_size)
        spectra = paper.max_epochs * paper.steps_for(name) * 32
        gpu_train_s = 3 * fwd * spectra / gpu_flops + spectra / 32 * args.step_overhead_ms / 1e3
        sim_train_s = spectra / (sim * args.sim_cores)
        held_out_s = PAPER_HELD_OUT / sim + fwd * PAPER_HELD_OUT / gpu_flops   # simulated in-process
        page_s = max(gpu_train_s, sim_train_s) + held_out_s
        total_s += page_s
        print(f"{name:7} {count_parameters(model) / 1e6:8.1f} {fwd / 1e9:9.3f} {wall:10.2f} "
              f"{3 * fwd * args.batch_size / cpu / 1e9:11.1f} {gpu_train_s / 60:13.1f} {sim_train_s / 60:8.1f} "
              f"{page_s / 60:8.1f}", flush=True)
        print(f"chapter=04_train_architecture_{name} est_gpu_min={page_s / 60:.1f}")

    # the other chapters: CPU work (cross sections, simulation, quantification) scaled from the cpu profile
    from eels_helpers.book.chapters import REGISTRY

    for chapter, seconds in parse_cpu_times(args.cpu_times).items():
        cpu, pap = REGISTRY[chapter].params("cpu"), REGISTRY[chapter].params("paper")
        scale = max([1.0] + [pap[k] / cpu[k] for k in cpu if isinstance(cpu[k], (int, float))
                             and not isinstance(cpu[k], bool) and cpu[k] and pap[k] != cpu[k]])
        est = seconds * scale
        total_s += est
        print(f"chapter={chapter} est_gpu_min={est / 60:.1f} (cpu profile {seconds:g} s x {scale:g})")
    print(f"paper_gpu_hours={total_s / 3600:.1f}")


if __name__ == "__main__":
    main()
