#!/usr/bin/env python
"""Mapping speed: 7,826 spectra (the size of the paper's SI) through ``map_elements``
(pre-processing onto the 3072-channel grid + the network) on this machine.

Paper: about one minute on an RTX 3060 GPU for its 2 ViT + 3 U-Net ensemble.

The model: ``--model`` (a shipped name or a .pt checkpoint). If it does not resolve (no trained
ensemble ships yet), the benchmark builds the paper's ensemble layout, 2 ViT + 3 U-Net, from
``create_model`` at ``--config`` (``cpu``: the reduced CPU configurations, ``paper``: full size)
with untrained weights: the time of a forward pass does not depend on the weight values, only
the probabilities are meaningless. The output says which model was timed.

Spectra: the synthetic superlattice (``eels_helpers.superlattice``, 400-1000 eV) reshaped to
7,826 spectra when a GOS with M edges is installed, otherwise Poisson-noised power laws on the
same axis (the content does not change the cost).

Last line: ``mapping_s=<seconds> spectra_per_s=<rate>``.

Usage: ``nice python benchmarks/bench_mapping.py [--n 7826] [--bf16] [--config cpu|paper]
[--model NAME|PATH] [--batch-size 256]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import numpy as np


def spectra(n: int):
    from eels_helpers.io import Spectrum

    try:
        from eels_helpers.gos import builtin_available
        if not builtin_available():
            raise ValueError("no builtin GOS")
        from eels_helpers.superlattice import SuperlatticeConfig, superlattice_si
        ny = int(np.ceil(n / 130))
        si = superlattice_si(SuperlatticeConfig(shape=(ny, 130)))
        data = si.spectrum.data.reshape(-1, si.spectrum.n_channels)[:n]
        return Spectrum(data, si.spectrum.energy_eV), "synthetic superlattice"
    except ValueError:
        rng = np.random.default_rng(0)
        E = np.arange(400.0, 1001.0)
        lam = 1e4 * (E / 400.0) ** -3.0
        data = rng.poisson(np.broadcast_to(lam, (n, E.size))).astype(np.float32)
        return Spectrum(data, E), "Poisson power laws (no GOS with M edges installed)"


def model(name: str, config: str):
    from eels_helpers.checkpoints import ModelNotFoundError, load_model

    try:
        loaded = load_model(name)
        return loaded, f"{name} ({loaded.source})"
    except ModelNotFoundError:
        import torch

        from eels_helpers.models import Ensemble, create_model
        torch.manual_seed(0)
        members = [create_model("vit", config=config) for _ in range(2)] + \
                  [create_model("unet", config=config) for _ in range(3)]
        ens = Ensemble(members).eval()
        return ens, (f"untrained 2 ViT + 3 U-Net ensemble at config={config!r} "
                     f"({sum(p.numel() for p in ens.parameters()) / 1e6:.1f} M parameters; "
                     f"no shipped {name!r})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=7826)
    ap.add_argument("--model", default="ensemble")
    ap.add_argument("--config", default="cpu", choices=["cpu", "paper"])
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()

    import torch

    from eels_helpers.mapping import map_elements

    data, what = spectra(args.n)
    net, desc = model(args.model, args.config)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"load: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"model: {desc}; bf16={args.bf16}; batch {args.batch_size}")
    print(f"spectra: {args.n} x {data.n_channels} channels, {what}")
    map_elements(data.data[:8], net, 0.75, energy_eV=data.energy_eV, bfloat16=args.bf16,
                 batch_size=args.batch_size)                      # warm-up
    t0 = time.perf_counter()
    cpu0 = os.times()
    res = map_elements(data, net, 0.75, batch_size=args.batch_size, bfloat16=args.bf16)
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    print(f"map_elements: {wall:.1f} s wall, {cpu:.1f} s CPU; kept {len(res.detected)} elements")
    members = getattr(getattr(net, "model", net), "members", None)
    if members is not None:              # where the time goes: each member on 256 spectra
        x = torch.from_numpy(np.random.default_rng(1).random((256, 3072), dtype=np.float32))
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                    enabled=args.bf16):
            for m in members:
                t = time.perf_counter()
                for i in range(0, 256, args.batch_size):
                    m.eval()(x[i:i + args.batch_size])
                dt = time.perf_counter() - t
                print(f"  member {type(m).__name__}: {256 / dt:.1f} spectra/s alone")
    print(f"mapping_s={wall:.1f} spectra_per_s={args.n / wall:.1f}")


if __name__ == "__main__":
    main()
