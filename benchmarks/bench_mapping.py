#!/usr/bin/env python
"""Mapping speed: 7,826 spectra (the size of the paper's SI) through ``map_elements``
(pre-processing onto the 3072-channel grid + the network) on this machine.

Paper: about one minute on an RTX 3060 GPU for its 2 ViT + 3 U-Net ensemble.

The model: ``--model`` (a shipped name or a .pt checkpoint). If it does not resolve (no trained
ensemble ships yet), the benchmark builds the paper's ensemble layout, 2 ViT + 3 U-Net, from
``create_model`` at ``--config`` (``cpu``: the reduced CPU configurations, ``paper``: full size)
with untrained weights: the time of a forward pass does not depend on the weight values, only
the probabilities are meaningless. The output says which model was timed.

Spectra: the synthetic superlattice (``eels_helpers.simulation.superlattice``, 400-1000 eV) reshaped to
7,826 spectra when a GOS with M edges is installed, otherwise Poisson-noised power laws on the
same axis (the content does not change the cost).

Variants, timed side by side in one run: float32 (a traced, frozen TorchScript copy of the
network, what ``run_model`` runs for spectrum images since session 12), float32 eager (the
module as written, ``fp32-eager``), int8 (dynamically quantised Linear layers, ``--int8`` of
``eels-id map``) and with ``--bf16`` bfloat16 autocast; each one's F1 / EMR on
simulated validation spectra shows what the speed costs. ``--compare`` models (default: the
shipped ``ensemble-paper``, the paper's 2 ViT + 3 U-Net, when it ships) are timed in the same
run, each at its own threshold. Last line, for ``--model``: the fastest variant whose F1 is
within ``--max-f1-drop`` of float32's, ``mapping_s=<seconds> spectra_per_s=<rate>``.

Usage: ``nice python benchmarks/bench_mapping.py [--n 7826] [--bf16] [--config cpu|paper]
[--model NAME|PATH] [--compare NAME|PATH ...] [--batch-size 256] [--n-validation 512]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import numpy as np


def spectra(n: int):
    from eels_helpers.spectrum import Spectrum

    try:
        from eels_helpers.physics.gos_tables import builtin_available
        if not builtin_available():
            raise ValueError("no builtin GOS")
        from eels_helpers.simulation.superlattice import SuperlatticeConfig, superlattice_si
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
    from eels_helpers.models.model_files import ModelNotFoundError, load_model

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


def accuracy(net, variants: dict, n: int, threshold: float) -> dict:
    """Simulated validation spectra (VALIDATION_SEED, as in shipping): F1 / EMR of each variant."""
    from eels_helpers.datasets.streaming import simulated_arrays
    from eels_helpers.evaluation.held_out import VALIDATION_SEED
    from eels_helpers.evaluation.metrics import evaluate
    from eels_helpers.inference.predict import _as_loaded, run_model

    x, y = simulated_arrays(n, seed=VALIDATION_SEED)
    loaded = _as_loaded(net, "cpu")
    probs = {name: run_model(loaded, x, **_eager(kw)[0]) for name, kw in variants.items()}
    return {name: (evaluate(y, p, threshold), float(np.abs(p - probs["fp32"]).max())) for name, p in probs.items()}


def _eager(kw: dict):
    """The variant's keywords without the private ``eager`` flag, and the FROZEN_MIN_SPECTRA to
    use (never freeze for the eager variant)."""
    from eels_helpers.inference import predict

    kw = dict(kw)
    return kw, (float("inf") if kw.pop("eager", False) else predict.FROZEN_MIN_SPECTRA)


def time_variants(net, data, variants: dict, threshold: float, batch_size: int) -> dict:
    """{variant: (wall s, CPU s, elements kept)} of mapping ``data`` with each variant."""
    from eels_helpers.inference import predict
    from eels_helpers.inference.mapping import map_elements

    rows, default = {}, predict.FROZEN_MIN_SPECTRA
    for name, kw in variants.items():
        kw, predict.FROZEN_MIN_SPECTRA = _eager(kw)
        try:
            map_elements(data.data[:8], net, threshold, energy_eV=data.energy_eV, batch_size=batch_size, **kw)
            t0, cpu0 = time.perf_counter(), os.times()
            res = map_elements(data, net, threshold, batch_size=batch_size, **kw)
            wall, cpu1 = time.perf_counter() - t0, os.times()
        finally:
            predict.FROZEN_MIN_SPECTRA = default
        rows[name] = (wall, (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), res.detected)
    return rows


def member_rates(net) -> None:
    """Where the time goes: each member of an ensemble on 256 spectra, printed."""
    import torch

    for m in getattr(getattr(net, "model", net), "members", None) or []:
        x = torch.from_numpy(np.random.default_rng(1).random((256, 3072), dtype=np.float32))
        with torch.inference_mode():
            t = time.perf_counter()
            m.eval()(x)
            print(f"  member {type(m).__name__}: {256 / (time.perf_counter() - t):.1f} spectra/s alone (fp32)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=7826)
    ap.add_argument("--model", default="ensemble")
    ap.add_argument("--compare", nargs="*", default=None,
                    help="more models timed in the same run (default: ensemble-paper when it ships)")
    ap.add_argument("--config", default="cpu", choices=["cpu", "paper"])
    ap.add_argument("--bf16", action="store_true", help="also time bfloat16 autocast")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--n-validation", type=int, default=512,
                    help="simulated validation spectra for the accuracy of each variant (0: skip)")
    ap.add_argument("--max-f1-drop", type=float, default=0.01,
                    help="a faster variant counts only if its F1 is within this of fp32's")
    args = ap.parse_args()

    import torch

    from eels_helpers.models.model_files import shipped_models

    compare = args.compare if args.compare is not None else [m for m in ["ensemble-paper"] if m in shipped_models()]
    data, what = spectra(args.n)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"load: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"spectra: {args.n} x {data.n_channels} channels, {what}; batch {args.batch_size}")
    variants = {"fp32": {}, "fp32-eager": {"eager": True}, "int8": {"int8": True}}
    if args.bf16:
        variants["bf16"] = {"bfloat16": True}
    results = {}
    for name in [args.model, *compare]:
        net, desc = model(name, args.config)
        print(f"model {name}: {desc}")
        threshold = getattr(net, "threshold", None) or 0.75
        rows = time_variants(net, data, variants, threshold, args.batch_size)
        acc = accuracy(net, variants, args.n_validation, threshold) if args.n_validation else {}
        member_rates(net)
        results[name] = (rows, acc, threshold)

    print(f"\n{'model':16s} {'variant':8s} {'mapping s':>10s} {'CPU s':>7s} {'spectra/s':>10s} {'sim F1':>7s} "
          f"{'sim EMR':>8s} {'max|dp|':>8s}  kept")
    for name, (rows, acc, threshold) in results.items():
        for variant, (wall, cpu, kept) in rows.items():
            f1, emr, dp = ((acc[variant][0].f1, acc[variant][0].emr, acc[variant][1]) if variant in acc
                           else (np.nan,) * 3)
            print(f"{name:16s} {variant:8s} {wall:10.1f} {cpu:7.1f} {args.n / wall:10.1f} {f1:7.3f} {emr:8.3f} "
                  f"{dp:8.4f}  {', '.join(kept[:6])}")
    if args.n_validation:
        print(f"(accuracy: {args.n_validation} simulated validation spectra, each model at its own threshold: "
              + ", ".join(f"{n} {t:.2f}" for n, (_, _, t) in results.items()) + ")")
    rows, acc, _ = results[args.model]
    ok = [n for n in rows if not acc or acc[n][0].f1 >= acc["fp32"][0].f1 - args.max_f1_drop]
    best = min(ok, key=lambda n: rows[n][0])
    print(f"{args.model}: fastest variant within {args.max_f1_drop} F1 of fp32: {best}")
    print(f"mapping_s={rows[best][0]:.1f} spectra_per_s={args.n / rows[best][0]:.1f}")


if __name__ == "__main__":
    main()
