"""Twin resolvers (experiments R23b/R23c, docs/research-log.md, session 23): train one small CNN per
onset-twin pair on simulated spectra (:mod:`eels_helpers.training.twin_resolver`), check each on its
simulated gate, then (only with --real DIR) the one real measurement: the network-alone
compound-grouped CV (threshold per split chosen as `eels-id evaluate` does) with, on the test halves,
the twin the resolver disfavours dropped wherever both twins are reported; --save writes the
resolvers that passed the gate (the shipped file: eels_helpers/data/twin_resolvers.pt).

Each pair is trained on its own simulated spectra (specimens holding one of its twins), or, with
--shared, all pairs on ONE simulated training set and are gated on ONE gate set whose specimens
hold any of the pairs' elements (experiment R24: 29 lanthanide / S pairs); --keep-shipped adds the
shipped resolvers (their own provenance kept) to the real measurement and to --save. Only pairs
that pass the gate (>= --gate right on >= --min-gate spectra) go on. With --balanced (experiment
R25: F/Xe, Be/Si) each pair trains on as many spectra drawn for each twin, both classes weighted
equally, and its gate must be passed in EACH class (>= --gate right on >= --min-gate spectra of
each twin). With --presence (experiment K26: C,K) the resolver says whether the second twin is
there, from spectra with either or both labelled; its gate is passed in each class as well. A pair
of one element (--pairs Be,Be --presence --shared --queries Si Al ...; experiment B46) is a lone
presence resolver: it learns from every shared spectrum whether the element is labelled and decides
wherever the element is reported; --queries adds the elements whose edges it must tell apart, and
--balanced (with --shared, for lone pairs only) weighs its two classes equally (B46b).
With --swap-gate MODEL ... (experiment T28's gate, session 35's R35) a pair that passed also meets
the gate for deciding below the threshold, for every model named (its own threshold; --swap-n
spectra of --swap-seed): resolver right >= 0.85 and >= the network's choice + 0.05 on >= 30 spectra
where one twin is reported and the other has p >= 0.05; it is saved with ``swap`` when all pass.
With --late-start-share F (experiment L36) that share of the training spectra start 1..LATE_START_MAX
channels into the pair's window (channels before zero) and the resolver reads such windows padded;
--late-start-gate SEED adds W28's cut gate (--late-start-n fresh spectra, each cut so): per class right
>= --gate and at most 0.03 below the same spectra whole; --late-only (L36b, with --keep-shipped) keeps
the shipped network of the pair for whole windows and adds the trained one for late windows only.

Usage: python scripts/twin_resolver_experiment.py [--pairs N,Sc O,Sb B,Cl | --lanthanide-pairs]
[--shared [--queries EL ...] | --balanced] [--presence] [--keep-shipped] [--model default] [--config open-world-sharp]
[--epochs 15] [--gate-seed 13]
[--late-start-share F] [--late-start-gate SEED] [--late-only] [--real ../shared/experimental] [--save PATH]
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


def rule_pairs() -> list[str]:
    """R24's pairs, fixed by a rule: every lanthanide pair (Z, Z+1), (Z, Z+2), La..Lu, and S with every
    lanthanide, whose closest family onsets are onset twins (training.twin_resolver.window_start)."""
    from eels_helpers.training.twin_resolver import window_start

    lan = ["La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"]
    candidates = [(a, b) for i, a in enumerate(lan) for b in lan[i + 1:i + 3]] + [("S", el) for el in lan]
    out = []
    for a, b in candidates:
        try:
            window_start(a, b)
        except ValueError:
            continue
        out.append(f"{a},{b}")
    return out


def swap_gates(net, a, b, models, cfg, n, seed) -> dict:
    """T28's gate per model (its own threshold): resolver right >= 0.85 and >= the network's choice
    + 0.05 on >= 30 spectra where one twin is reported and the other has p >= 0.05."""
    from dataclasses import replace

    from eels_helpers.inference.predict import _as_loaded, run_model
    from eels_helpers.models.model_files import load_model
    from eels_helpers.training.twin_resolver import simulated_set, swap_gate

    gcfg = replace(cfg, gate_n=n, gate_seed=seed)
    data = simulated_set([a, b], n, seed, cfg.config)
    out = {}
    for model in models:
        threshold = load_model(model).threshold or 0.5
        g = swap_gate(net, a, b, model, threshold, gcfg, data=data,
                      probabilities=run_model(_as_loaded(model, "cpu"), data[0]))
        g["passed"] = bool(g["spectra"] >= 30 and g["resolver"] >= 0.85 and g["resolver"] >= g["network"] + 0.05)
        g["threshold"] = threshold
        log.info("%s/%s swap gate, %s at %.2f: %d spectra, network right %.3f, resolver right %.3f: %s", a, b,
                 model, threshold, g["spectra"], g["network"], g["resolver"], "passed" if g["passed"] else "failed")
        out[model] = g
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", nargs="+", default=["N,Sc", "O,Sb", "B,Cl"])
    p.add_argument("--lanthanide-pairs", action="store_true", help="R24's rule pairs instead of --pairs")
    p.add_argument("--shared", action="store_true", help="one simulated training set and one gate set for all pairs")
    p.add_argument("--balanced", action="store_true",
                   help="n spectra per twin, classes weighted equally, the gate passed in each class")
    p.add_argument("--presence", action="store_true",
                   help="presence resolvers: the second twin there or not, either or both labelled (K26: C,K)")
    p.add_argument("--n", type=int, default=16384, help="training spectra per pair (--balanced: per twin) [16384]")
    p.add_argument("--gate-n", type=int, default=8192, help="gate spectra per pair (--balanced: per twin) [8192]")
    p.add_argument("--shared-n", type=int, default=32768, help="spectra of the shared training set [32768]")
    p.add_argument("--shared-gate-n", type=int, default=16384, help="spectra of the shared gate set [16384]")
    p.add_argument("--queries", nargs="+", default=(), metavar="EL",
                   help="with --shared: more query elements of the shared sets beside the pairs' own (B46: "
                        "the elements whose edges a lone resolver must tell from its element's)")
    p.add_argument("--epochs", type=int, default=15, help="training passes over the spectra [15]")
    p.add_argument("--gate-seed", type=int, default=13, help="seed of the gate spectra [13]")
    p.add_argument("--keep-shipped", action="store_true", help="add the shipped resolvers (measurement, --save)")
    p.add_argument("--model", default="default")
    p.add_argument("--config", default="open-world-sharp")
    p.add_argument("--gate", type=float, default=0.85, help="simulated gate every pair must pass")
    p.add_argument("--min-gate", type=int, default=1, help="gate spectra a pair needs at least [1]")
    p.add_argument("--real", default=None, help="directory of real spectra (manifest.csv): the one real measurement")
    p.add_argument("--save", default=None, help="write the resolvers that passed their gate here")
    p.add_argument("--swap-gate", nargs="+", default=None, metavar="MODEL",
                   help="T28's gate for deciding below the threshold, for these models (all must pass); "
                        "a pair that passes is saved with swap")
    p.add_argument("--swap-n", type=int, default=16384, help="spectra of the swap gate per pair [16384]")
    p.add_argument("--swap-seed", type=int, default=2828, help="seed of the swap gate's spectra [2828, T28's]")
    p.add_argument("--late-start-share", type=float, default=0.0,
                   help="share of training spectra that start late, 1..LATE_START_MAX channels into the window "
                        "(L36); the resolver then reads late windows [0]")
    p.add_argument("--late-start-gate", type=int, default=None, metavar="SEED",
                   help="also W28's cut gate on fresh spectra of SEED: per class right >= --gate and at most 0.03 "
                        "below the same spectra uncut")
    p.add_argument("--late-start-n", type=int, default=16384, help="spectra of the cut gate [16384]")
    p.add_argument("--late-only", action="store_true",
                   help="with --keep-shipped: a trained resolver reads only the windows that start late, beside "
                        "the shipped network of its pair, which keeps the whole windows (L36b)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    from eels_helpers.inference.predict import _as_loaded, run_model
    from eels_helpers.inference.twin_resolution import RESOLVERS_PATH, load_twin_resolvers
    from eels_helpers.models.model_files import load_model
    from eels_helpers.training.twin_resolver import (
        TwinResolverConfig,
        cut_gate,
        cut_gate_passed,
        gate_accuracy,
        gate_by_class,
        save_twin_resolvers,
        simulated_set,
        train_twin_resolver,
        window_start,
    )

    torch.set_num_threads(1)
    pairs = rule_pairs() if args.lanthanide_pairs else args.pairs
    lone = all(a == b for a, b in (pair.split(",") for pair in pairs))
    if args.shared and args.balanced and not lone:
        p.error("--shared and --balanced exclude each other (but for lone pairs: classes weighted equally)")
    if args.queries and not args.shared:
        p.error("--queries needs --shared")
    if lone and not (args.presence and args.shared):
        p.error("a pair of one element (a lone presence resolver) needs --presence and --shared")
    cfg = TwinResolverConfig(config=args.config, n=args.n, gate_n=args.gate_n, balanced=args.balanced,
                             epochs=args.epochs, gate_seed=args.gate_seed,
                             presence=args.presence, late_start_share=args.late_start_share)
    threshold = load_model(args.model).threshold or 0.5
    train_set = gate_set = gate_probs = None
    if args.shared:
        elements = sorted({el for pair in pairs for el in pair.split(",")} | set(args.queries))
        log.info("shared sets for %d pairs, query elements %s", len(pairs), " ".join(elements))
        train_set = simulated_set(elements, args.shared_n, cfg.seed, cfg.config)
        gate_set = simulated_set(elements, args.shared_gate_n, cfg.gate_seed, cfg.config)
        gate_probs = run_model(_as_loaded(args.model, "cpu"), gate_set[0])
    resolvers, gates = {}, {}
    for pair in pairs:
        a, b = pair.split(",")
        try:
            net, n_train = train_twin_resolver(a, b, cfg, data=train_set)
        except ValueError as err:
            log.info("%s: not trained (%s)", pair, err)
            gates[pair] = {"training_spectra": 0, "gate_spectra": 0, "gate_right": None, "passed": False}
            continue
        if args.balanced or args.presence:
            per_class = gate_by_class(net, a, b, args.model, threshold, cfg, data=gate_set, probabilities=gate_probs)
            n_gate = sum(n for _, n in per_class.values())
            right = sum(r * n for r, n in per_class.values() if n) / n_gate if n_gate else float("nan")
            ok = all(n >= args.min_gate and r >= args.gate for r, n in per_class.values())
            log.info("%s/%s gate per class: %s", a, b, ", ".join(
                f"{el} true: {n} spectra, right {r:.3f}" for el, (r, n) in per_class.items()))
        else:
            per_class = None
            right, n_gate = gate_accuracy(net, a, b, args.model, threshold, cfg, data=gate_set,
                                          probabilities=gate_probs)
            ok = n_gate >= args.min_gate and right >= args.gate
        log.info("%s/%s gate: %d simulated spectra with %s; resolver right %.3f: %s", a, b, n_gate,
                 f"{a} reported" if a == b else "both reported and one true", right, "passed" if ok else "failed")
        gates[pair] = {"training_spectra": n_train, "gate_spectra": n_gate,
                       "gate_right": None if n_gate == 0 else round(right, 4), "passed": bool(ok)}
        if per_class is not None:
            gates[pair]["gate_by_class"] = {el: {"spectra": n, "right": None if n == 0 else round(r, 4)}
                                            for el, (r, n) in per_class.items()}
        if ok and args.late_start_gate is not None:
            cut = cut_gate(net, a, b, args.model, threshold, cfg, args.late_start_gate, args.late_start_n)
            ok = cut_gate_passed(cut, args.gate, args.min_gate)
            gates[pair]["late_start_gate"] = cut
            gates[pair]["passed"] = bool(ok)
            log.info("%s/%s cut gate (seed %d): %s: %s", a, b, args.late_start_gate, ", ".join(
                f"{el} true: {g['spectra']} spectra, right {g['cut']:.3f} cut / {g['uncut']:.3f} uncut"
                for el, g in cut.items()), "passed" if ok else "failed")
        if ok and args.swap_gate and not args.presence:
            gates[pair]["swap_gate"] = swap_gates(net, a, b, args.swap_gate, cfg, args.swap_n, args.swap_seed)
            net.swap = all(g["passed"] for g in gates[pair]["swap_gate"].values())
        if ok:
            resolvers[(a, b)] = (net, window_start(a, b))
    print("gates: " + ", ".join(f"{k} {v['gate_right']} ({v['gate_spectra']})" for k, v in gates.items()))
    print(f"passed: {', '.join(f'{a},{b}' for a, b in resolvers) or 'none'}")
    shipped = load_twin_resolvers() if args.keep_shipped else {}
    if args.late_only:
        if not (args.keep_shipped and args.late_start_share > 0):
            p.error("--late-only needs --keep-shipped and --late-start-share")
        for pair, (net, start) in list(resolvers.items()):
            if pair in shipped:                       # the shipped network keeps the whole windows
                shipped[pair][0].late_net = net
                resolvers[pair] = shipped[pair]
                key = ",".join(pair)                  # the gates describe the late network: the pair's own
                gates[f"{key} late_net"] = gates.pop(key)   # (whole-window) provenance stays the kept one
    measured = {**shipped, **resolvers}
    if not resolvers:
        print("no pair passed its simulated gate: no real measurement, nothing saved")
        return 0
    real = real_measurement(measured, args.model, args.real) if args.real else None
    if args.save:
        provenance = {"fitted": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                      "command": " ".join(["python", "scripts/twin_resolver_experiment.py",
                                           *(sys.argv[1:] if argv is None else argv)]),
                      "config": cfg.config, "seed": cfg.seed, "n": args.shared_n if args.shared else cfg.n,
                      "shared": bool(args.shared), "queries": list(args.queries), "balanced": bool(args.balanced),
                      "presence": bool(args.presence), "epochs": cfg.epochs,
                      "late_start_share": cfg.late_start_share, "late_only": bool(args.late_only),
                      "gate_seed": cfg.gate_seed,
                      "gate_n": args.shared_gate_n if args.shared else cfg.gate_n, "gate_model": args.model,
                      "gate_threshold": threshold, "gate": args.gate, "min_gate": args.min_gate, "gates": gates,
                      "real_grouped_cv": real}
        if shipped:
            provenance["kept"] = {"pairs": [f"{a},{b}" for a, b in shipped],
                                  "provenance": torch.load(RESOLVERS_PATH, weights_only=True)["provenance"]}
        path = save_twin_resolvers(args.save, {k: v[0] for k, v in measured.items()}, provenance)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
