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

log = logging.getLogger("twin_resolver_experiment")


def real_measurement(resolvers, model, directory) -> dict:
    """Network-alone grouped CV with and without dropping the disfavoured reported twin (test halves)."""
    from eels_helpers.evaluation.real_spectra import evaluation_set
    from eels_helpers.evaluation.twin_resolved import resolved_cross_validation

    manifest, about = evaluation_set(directory)
    table, decisions = resolved_cross_validation(model, manifest, resolvers=resolvers)
    print(f"{about}; model {model}:")
    print(table.round(4).to_string())
    for file, d in decisions:
        print(f"  {file}: {d.describe()}")
    mean = table.loc["mean"]
    return {"network": {"f1": round(float(mean["network_f1"]), 4),
                        "exact_match": round(float(mean["network_exact_match"]), 4)},
            "resolved": {"f1": round(float(mean["resolved_f1"]), 4),
                         "exact_match": round(float(mean["resolved_exact_match"]), 4)}}


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
