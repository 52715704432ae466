"""Experiments R23b/R23c (docs/research-log.md, session 23): a small 1D CNN per onset-twin pair that
tells the twins apart from a 95 eV window of the network input, trained on simulated spectra only;
a simulated gate, then (only with --real DIR) the one real measurement: the network-alone
compound-grouped CV (threshold per split chosen as `eels-id evaluate` does) with, on the test halves,
the twin the resolver disfavours dropped wherever both twins are reported.

Usage: python scripts/twin_resolver_experiment.py [--pairs N,Sc O,Sb B,Cl] [--model default]
[--config open-world-sharp] [--real ../shared/experimental]

Not part of the package yet: the research log says what an integration has to decide.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

log = logging.getLogger("twin_resolver_experiment")

#: onsets (eV) of the twins' major edges (data/edges.csv) and the window around the lower one
ONSETS = {"N": 401, "Sc": 402, "O": 532, "Sb": 528, "B": 188, "Cl": 200, "F": 685, "Xe": 672}
WINDOW_BELOW_EV, WINDOW_CHANNELS = 26, 95


def windows(inputs: np.ndarray, lo: int):
    """The window [lo, lo + 95) eV of network inputs (n, 3072): minus the mean of its first five
    channels, divided by its largest |value|; and whether it is measured (no zero channel)."""
    import torch

    w = inputs[:, lo:lo + WINDOW_CHANNELS].astype(np.float32)
    ok = (w != 0).all(axis=1)
    w = w - w[:, :5].mean(axis=1, keepdims=True)
    w = w / np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12)
    return torch.tensor(w[:, None]), ok


def resolver_net():
    """Three 5-tap convolutions (32, 32, 64 channels), two poolings, a 64-unit dense layer: one logit,
    that of the second twin."""
    import torch.nn as nn

    return nn.Sequential(nn.Conv1d(1, 32, 5, padding=2), nn.ReLU(), nn.Conv1d(32, 32, 5, padding=2), nn.ReLU(),
                         nn.MaxPool1d(2), nn.Conv1d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(),
                         nn.Linear(64 * (WINDOW_CHANNELS // 4), 64), nn.ReLU(), nn.Linear(64, 1))


def train(a: str, b: str, config: str, n: int = 16384, seed: int = 11, epochs: int = 15):
    """A resolver for (a, b) on simulated spectra with exactly one of them labelled."""
    import torch
    import torch.nn as nn

    from eels_helpers.datasets.streaming import simulated_arrays
    from eels_helpers.physics.elements import ELEMENTS

    lo = min(ONSETS[a], ONSETS[b]) - WINDOW_BELOW_EV
    ia, ib = ELEMENTS.index(a), ELEMENTS.index(b)
    X, Y = simulated_arrays(n, seed, 64, config, [a, b])
    keep = (Y[:, ia] > .5) ^ (Y[:, ib] > .5)
    w, ok = windows(X[keep], lo)
    x, y = w[ok], torch.tensor((Y[keep][ok][:, ib] > .5).astype(np.float32))
    torch.manual_seed(0)
    net = resolver_net()
    opt, loss = torch.optim.Adam(net.parameters(), 1e-3), nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        perm = torch.randperm(len(y))
        for i in range(0, len(y), 128):
            batch = perm[i:i + 128]
            opt.zero_grad()
            loss(net(x[batch]).squeeze(1), y[batch]).backward()
            opt.step()
    log.info("%s/%s: trained on %d simulated spectra (%.2f %s)", a, b, len(y), float(y.mean()), b)
    return net.eval(), lo


def second_twin_probability(net, lo: int, inputs: np.ndarray):
    """(resolver probability of the second twin (n,), window measured (n,))."""
    import torch

    w, ok = windows(inputs, lo)
    with torch.no_grad():
        return torch.sigmoid(net(w).squeeze(1)).numpy(), ok


def gate(net, lo, a, b, model, config, threshold, n=8192, seed=13) -> float:
    """Share of simulated spectra with exactly one twin labelled and both reported by ``model`` at
    ``threshold`` in which the resolver picks the labelled one."""
    from eels_helpers.datasets.streaming import simulated_arrays
    from eels_helpers.inference.predict import _as_loaded, run_model
    from eels_helpers.physics.elements import ELEMENTS

    ia, ib = ELEMENTS.index(a), ELEMENTS.index(b)
    X, Y = simulated_arrays(n, seed, 64, config, [a, b])
    P = run_model(_as_loaded(model, "cpu"), X)
    q, ok = second_twin_probability(net, lo, X)
    sel = ((Y[:, ia] > .5) ^ (Y[:, ib] > .5)) & (P[:, ia] >= threshold) & (P[:, ib] >= threshold) & ok
    right = float(((q[sel] > 0.5) == (Y[sel][:, ib] > .5)).mean()) if sel.any() else float("nan")
    log.info("%s/%s gate: %d simulated spectra with both reported and one true; resolver right %.3f",
             a, b, int(sel.sum()), right)
    return right


def real_measurement(resolvers, model, directory) -> None:
    """Network-alone grouped CV with and without dropping the disfavoured reported twin (test halves)."""
    from eels_helpers.evaluation.metrics import evaluate, select_threshold
    from eels_helpers.evaluation.real_spectra import (
        evaluation_set,
        evaluation_split,
        label_matrix,
        manifest_inputs,
        predict_manifest,
    )
    from eels_helpers.physics.elements import ELEMENTS

    manifest, about = evaluation_set(directory)
    inputs = manifest_inputs(manifest)
    P = predict_manifest(model, manifest, inputs=inputs)
    labels = label_matrix(manifest["labels"])
    prefer = {pair: second_twin_probability(net, lo, inputs) for pair, (net, lo) in resolvers.items()}
    rows = []
    for seed in (0, 1, 2, 3, 4):
        val, _ = evaluation_split(manifest, seed)
        is_val = manifest["file"].isin(val["file"]).to_numpy()
        t = select_threshold(labels[is_val], P[is_val], exclude_carbon=True)
        decided = P >= t
        resolved = decided.copy()
        for (a, b), (q, ok) in prefer.items():
            both = decided[:, ELEMENTS.index(a)] & decided[:, ELEMENTS.index(b)] & ok
            resolved[both & (q > 0.5), ELEMENTS.index(a)] = False
            resolved[both & (q <= 0.5), ELEMENTS.index(b)] = False
        s0, s1 = (evaluate(labels[~is_val], d[~is_val].astype(float), 0.5, exclude_carbon=True).as_dict()
                  for d in (decided, resolved))
        rows.append((seed, t, s0["f1"], s0["emr"], s1["f1"], s1["emr"]))
    r = np.array(rows)
    print(f"{about}; model {model}; seed, threshold, network F1 / exact match, with the resolver F1 / exact match")
    for row in rows:
        print("  ".join(f"{v:.4f}" for v in row))
    print(f"mean: network F1 {r[:, 2].mean():.4f} exact match {r[:, 3].mean():.4f}; "
          f"with the resolver F1 {r[:, 4].mean():.4f} exact match {r[:, 5].mean():.4f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", nargs="+", default=["N,Sc", "O,Sb", "B,Cl"])
    p.add_argument("--model", default="default")
    p.add_argument("--config", default="open-world-sharp")
    p.add_argument("--gate", type=float, default=0.85, help="simulated gate every pair must pass")
    p.add_argument("--real", default=None, help="directory of real spectra (manifest.csv): the one real measurement")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    from eels_helpers.models.model_files import load_model

    torch.set_num_threads(1)
    threshold = load_model(args.model).threshold or 0.5
    resolvers, passed = {}, True
    for pair in args.pairs:
        a, b = pair.split(",")
        net, lo = train(a, b, args.config)
        resolvers[(a, b)] = (net, lo)
        passed &= gate(net, lo, a, b, args.model, args.config, threshold) >= args.gate
    print("simulated gate passed" if passed else "simulated gate failed: no real measurement")
    if passed and args.real:
        real_measurement(resolvers, args.model, args.real)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
