"""Training and inference throughput (spectra/s) of the six architectures on this machine.

    .venv/bin/python benchmarks/bench_models.py                       # all models, paper + cpu, fp32
    .venv/bin/python benchmarks/bench_models.py --models vit,unet --configs cpu --precisions fp32,bf16
    .venv/bin/python benchmarks/bench_models.py --modes infer --seconds 2 --json out.json

Training = forward + backward + Adam step with the paper's loss; inference = eval-mode forward
under no_grad. Each measurement runs one warm-up step, then steps until ``--seconds`` have passed
(at least ``--min-steps``). 'bf16' means bfloat16 autocast (on CPUs without native bf16 it is
emulated and very slow; ``--precisions auto`` adds bf16 only where it is native). The machine
load (``uptime``) is printed before and after: other jobs share the cores, so treat the numbers
as lower bounds; the '/cpu-s' columns (spectra per CPU-second of the benchmark process) are
insensitive to other jobs. Default total runtime is a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from eels_helpers.device import cpu_has_native_bf16, fast_bfloat16
from eels_helpers.models import MODEL_NAMES, count_parameters, create_model
from eels_helpers.training.loss import bce_soft_f1_loss


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def measure(model: torch.nn.Module, mode: str, precision: str, batch_size: int, seconds: float,
            min_steps: int) -> tuple[float, float]:
    """(spectra per wall second, spectra per CPU second of this process) for one (model, mode, precision).

    The second figure counts the CPU time of all of this process's threads, so it is insensitive to
    other jobs on a shared machine; with T threads, T times it bounds the unshared wall throughput.
    """
    x = torch.rand(batch_size, 3072)
    y = (torch.rand(batch_size, 80) < 0.04).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    amp = dict(device_type="cpu", dtype=torch.bfloat16, enabled=precision == "bf16")

    def step():
        if mode == "train":
            with torch.autocast(**amp):
                logits = model(x)
            loss = bce_soft_f1_loss(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad(), torch.autocast(**amp):
                model(x)

    model.train(mode == "train")
    step()  # warm-up
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while n < min_steps or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n * batch_size / (time.perf_counter() - t0), n * batch_size / (time.process_time() - c0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated architectures")
    parser.add_argument("--configs", default="paper,cpu", help="comma-separated: paper, cpu")
    parser.add_argument("--precisions", default="auto", help="comma-separated: fp32, bf16, or auto")
    parser.add_argument("--modes", default="train,infer", help="comma-separated: train, infer")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds per measurement")
    parser.add_argument("--min-steps", type=int, default=1)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    precisions = args.precisions.split(",")
    if precisions == ["auto"]:
        precisions = ["fp32", "bf16"] if fast_bfloat16("cpu") else ["fp32"]      # native and computing right
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads, "
          f"native bf16: {cpu_has_native_bf16()} (computes right: {fast_bfloat16('cpu')}), batch {args.batch_size}")
    print(f"# start: {load()}")
    modes = args.modes.split(",")
    header = (f"{'model':7} {'config':6} {'params':>8} {'precision':9} "
              + " ".join(f"{m + ' /s':>10} {m + ' /cpu-s':>12}" for m in modes))
    print(header)
    rows, t_start = [], time.perf_counter()
    for name in args.models.split(","):
        for config in args.configs.split(","):
            torch.manual_seed(0)
            model = create_model(name, config=config)
            params = count_parameters(model)
            for precision in precisions:
                row = dict(model=name, config=config, parameters=params, precision=precision)
                for mode in modes:
                    row[mode], row[mode + "_per_cpu_s"] = measure(model, mode, precision, args.batch_size,
                                                                  args.seconds, args.min_steps)
                rows.append(row)
                print(f"{name:7} {config:6} {params / 1e6:7.2f}M {precision:9} "
                      + " ".join(f"{row[m]:10.1f} {row[m + '_per_cpu_s']:12.1f}" for m in modes), flush=True)
    print(f"# end: {load()}; total {time.perf_counter() - t_start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_end": load(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
