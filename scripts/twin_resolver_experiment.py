"""Twin resolvers (experiments R23b/R23c, docs/research-log.md, session 23): train one small CNN per
onset-twin pair on simulated spectra (:mod:`eels_helpers.training.twin_resolver`), check each on its
simulated gate, then (only with --real DIR) the one real measurement: the network-alone
compound-grouped CV (threshold per split chosen as `eels-id evaluate` does) with, on the test halves,
the twin the resolver disfavours dropped wherever both twins are reported; --save writes the
resolvers that passed the gate (the shipped file: eels_helpers/data/twin_resolvers.pt).

Usage: python scripts/twin_resolver_experiment.py [--pairs N,Sc O,Sb B,Cl] [--model default]
[--config open-world-sharp] [--real ../shared/experimental] [--save PATH]
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys

import numpy as np

log = logging.getLogger("twin_resolver_experiment")


def real_measurement(resolvers, model, directory) -> dict:
    """Network-alone grouped CV with and without dropping the disfavoured reported twin (test halves)."""
    from eels_helpers.evaluation.metrics import evaluate, select_threshold
    from eels_helpers.evaluation.real_spectra import (
        evaluation_set,
        evaluation_split,
        label_matrix,
        manifest_inputs,
        predict_manifest,
    )
    from eels_helpers.inference.twin_resolution import resolve_twins
    from eels_helpers.physics.elements import ELEMENTS

    manifest, about = evaluation_set(directory)
    inputs = manifest_inputs(manifest)
    P = predict_manifest(model, manifest, inputs=inputs)
    labels = label_matrix(manifest["labels"])
    rows = []
    for seed in (0, 1, 2, 3, 4):
        val, _ = evaluation_split(manifest, seed)
        is_val = manifest["file"].isin(val["file"]).to_numpy()
        t = select_threshold(labels[is_val], P[is_val], exclude_carbon=True)
        decided = P >= t
        resolved = decided.copy()
        for i in range(len(manifest)):
            for d in resolve_twins(inputs[i], [ELEMENTS[j] for j in np.flatnonzero(decided[i])], resolvers):
                resolved[i, ELEMENTS.index(d.dropped)] = False
        s0, s1 = (evaluate(labels[~is_val], d[~is_val].astype(float), 0.5, exclude_carbon=True).as_dict()
                  for d in (decided, resolved))
        rows.append((seed, t, s0["f1"], s0["emr"], s1["f1"], s1["emr"]))
    r = np.array(rows)
    print(f"{about}; model {model}; seed, threshold, network F1 / exact match, with the resolver F1 / exact match")
    for row in rows:
        print("  ".join(f"{v:.4f}" for v in row))
    out = {"network": {"f1": round(float(r[:, 2].mean()), 4), "exact_match": round(float(r[:, 3].mean()), 4)},
           "resolved": {"f1": round(float(r[:, 4].mean()), 4), "exact_match": round(float(r[:, 5].mean()), 4)}}
    print(f"mean: network F1 {out['network']['f1']:.4f} exact match {out['network']['exact_match']:.4f}; "
          f"with the resolver F1 {out['resolved']['f1']:.4f} exact match {out['resolved']['exact_match']:.4f}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", nargs="+", default=["N,Sc", "O,Sb", "B,Cl"])
    p.add_argument("--model", default="default")
    p.add_argument("--config", default="open-world-sharp")
    p.add_argument("--gate", type=float, default=0.85, help="simulated gate every pair must pass")
    p.add_argument("--real", default=None, help="directory of real spectra (manifest.csv): the one real measurement")
    p.add_argument("--save", default=None, help="write the resolvers here when every pair passed its gate")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    from eels_helpers.models.model_files import load_model
    from eels_helpers.training.twin_resolver import (
        TwinResolverConfig,
        gate_accuracy,
        save_twin_resolvers,
        train_twin_resolver,
        window_start,
    )

    torch.set_num_threads(1)
    cfg = TwinResolverConfig(config=args.config)
    threshold = load_model(args.model).threshold or 0.5
    resolvers, gates, passed = {}, {}, True
    for pair in args.pairs:
        a, b = pair.split(",")
        net, n_train = train_twin_resolver(a, b, cfg)
        right, n_gate = gate_accuracy(net, a, b, args.model, threshold, cfg)
        log.info("%s/%s gate: %d simulated spectra with both reported and one true; resolver right %.3f",
                 a, b, n_gate, right)
        resolvers[(a, b)] = (net, window_start(a, b))
        gates[pair] = {"training_spectra": n_train, "gate_spectra": n_gate, "gate_right": round(right, 4)}
        passed &= right >= args.gate
    print("simulated gate passed" if passed else "simulated gate failed: no real measurement, nothing saved")
    if not passed:
        return 0
    real = real_measurement(resolvers, args.model, args.real) if args.real else None
    if args.save:
        provenance = {"fitted": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                      "command": " ".join(["python", "scripts/twin_resolver_experiment.py",
                                           *(sys.argv[1:] if argv is None else argv)]),
                      "config": cfg.config, "seed": cfg.seed, "n": cfg.n, "epochs": cfg.epochs,
                      "gate_seed": cfg.gate_seed, "gate_n": cfg.gate_n, "gate_model": args.model,
                      "gate_threshold": threshold, "gates": gates, "real_grouped_cv": real}
        path = save_twin_resolvers(args.save, {k: v[0] for k, v in resolvers.items()}, provenance)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
