"""Twin resolvers on windows that end early (experiment E37, docs/research-log.md, session 37).

A spectrum that ends soon after a pair's onsets (a carbon K acquisition up to ~340 eV) leaves the end
of the resolver's 95 eV window unmeasured, so the resolver did not decide and both twins stayed (C and
K on a carbon film). Read such a window with its last channels set to the last measured value
(:func:`eels_helpers.models.twin_resolver.twin_windows` with ``early_end``; at most EARLY_END_MAX
channels, the last measured one at least 30 eV above the lower onset), with the pair's shipped network.

Gate per shipped pair (W28's bar, :func:`eels_helpers.training.twin_resolver.cut_gate` with
``end=True``): ``--n`` fresh simulated spectra of the pair's own training configuration (seed
``--seed`` + the pair's index), each cut at a uniform 1..EARLY_END_MAX trailing window channels; on
the rows whose model reports both twins in the cut spectrum: per class right >= ``--gate`` and at most
0.03 below the same rows whole, on >= ``--min-gate`` spectra of each class. ``--save`` writes the
shipped file with ``early_end`` set for the pairs that passed (every network bit for bit; the gates
in the provenance under ``early_end``).

Usage: python scripts/early_end_gate.py [--pairs C,K ...] [--model default] [--seed 3750] [--n 16384]
[--save eels_helpers/data/twin_resolvers.pt]
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys

log = logging.getLogger("early_end_gate")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", nargs="+", default=None, help="pairs as A,B [every shipped pair]")
    p.add_argument("--model", default="default")
    p.add_argument("--seed", type=int, default=3750)
    p.add_argument("--n", type=int, default=16384, help="gate spectra per pair [16384]")
    p.add_argument("--gate", type=float, default=0.85)
    p.add_argument("--min-gate", type=int, default=30, help="gate spectra each class needs at least [30]")
    p.add_argument("--save", default=None, help="write the shipped file with early_end for the pairs that passed")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    import torch

    from eels_helpers.inference.predict import _as_loaded
    from eels_helpers.inference.twin_resolution import RESOLVERS_PATH, load_twin_resolvers, resolver_summary
    from eels_helpers.training.twin_resolver import (
        TwinResolverConfig,
        cut_gate,
        cut_gate_passed,
        save_twin_resolvers,
    )

    resolvers = load_twin_resolvers()
    configs = {row["pair"]: row["config"] for row in resolver_summary()}
    pairs = [tuple(s.split(",")) for s in args.pairs] if args.pairs else list(resolvers)
    threshold = float(_as_loaded(args.model, "cpu").threshold)
    gates, passed = {}, []
    for k, (a, b) in enumerate(pairs):
        if (a, b) not in resolvers:
            p.error(f"no shipped resolver for {a},{b}: the shipped pairs are {', '.join(map(','.join, resolvers))}")
        net, _ = resolvers[(a, b)]
        cfg = TwinResolverConfig(config=configs[(a, b)], presence=bool(net.presence))
        res = cut_gate(net, a, b, args.model, threshold, cfg, args.seed + k, args.n, end=True)
        ok = cut_gate_passed(res, args.gate, args.min_gate)
        gates[f"{a},{b}"] = {"config": cfg.config, "seed": args.seed + k, "n": args.n, "classes": res, "passed": ok}
        passed += [(a, b)] if ok else []
        print(f"{a}/{b} ({cfg.config}, seed {args.seed + k}): " + "; ".join(
            f"{el} cut {r['cut']:.3f} / whole {r['uncut']:.3f} ({r['spectra']})" for el, r in res.items())
            + (" passed" if ok else " failed"), flush=True)
    if args.save:                                    # the shipped networks and provenance, early_end added
        for a, b in pairs:
            resolvers[(a, b)][0].early_end = (a, b) in passed
        provenance = dict(torch.load(RESOLVERS_PATH, weights_only=True)["provenance"],
                          early_end={"experiment": "E37", "model": args.model, "threshold": threshold,
                                     "gate": args.gate, "min_gate": args.min_gate, "gates": gates,
                                     "fitted": datetime.date.today().isoformat()})
        save_twin_resolvers(args.save, {pair: net for pair, (net, _) in resolvers.items()}, provenance)
        print(f"wrote {args.save}: early_end for {', '.join(map('/'.join, passed)) or 'no pair'}")
    print(json.dumps(gates, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
