"""Fit the verification decision rule of a network on simulated spectra and store it.

Usage::

    python scripts/fit_verification_rule.py --model default --experimental-dir ../shared/experimental \
        [--n 2000] [--seed 0] [--configs paper open-world-sharp] [--rows rows.pkl] \
        [--white-lines] [--plural-eV E ...] [--other-edges] [--no-conditional-uncertainty] [--out FILE]

The defaults are the settings of the shipped rules (their ``provenance["command"]``), so the
command above refits a shipped rule the same way.

1. ``--n`` spectra per simulator configuration (the paper's ``SimulationConfig()`` and
   ``named_config("open-world-sharp")``) are simulated, classified by ``--model`` and verified
   (:func:`eels_helpers.evaluation.verified.simulated_candidates`); each candidate is labelled
   true or false by the simulation.
2. A logistic model (:func:`eels_helpers.inference.verification_model.fit_logistic`) is fitted on
   three quarters of the spectra; the other quarter (held out by spectrum) checks its
   calibration (reliability table, Brier score) against the hand-set rule.
3. With ``--experimental-dir`` (a folder with manifest.csv), the decision threshold on the
   combined probability is chosen on the VALIDATION halves of the compound-grouped
   cross-validation of those real spectra (the mean of the five splits' thresholds; the
   coefficients never see them); the grouped-CV means of the network alone and of the
   verified output are logged. Without it the threshold is 0.5.
4. The rule is written, keyed by the model's name (a path: its file stem), to
   ``eels_helpers/data/verification_rules.json`` (atomic replace; other models' rules kept).

Rerun it whenever the model changes (e.g. a fine-tuned ``default``).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

log = logging.getLogger("fit_verification_rule")


def _without_cache(argv: list[str]) -> list[str]:
    """The command's arguments less ``--rows FILE``: a cache of the simulated candidates (the same
    rows the other arguments simulate), not part of what the rule is fitted from."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--rows":
            skip = True
        elif not a.startswith("--rows="):
            out.append(a)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command's options; their defaults are the shipped rules' settings (module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default", help="shipped model name or model file path")
    p.add_argument("--n", type=int, default=2000, help="simulated spectra per configuration [2000]")
    p.add_argument("--seed", type=int, default=0, help="simulation and held-out split seed [0]")
    p.add_argument("--configs", nargs="+", default=["paper", "open-world-sharp"],
                   help="named simulator configurations [paper open-world-sharp]")
    p.add_argument("--l2", type=float, default=1.0, help="ridge penalty of the logistic fit")
    p.add_argument("--held-out", type=float, default=0.25, help="fraction of simulated spectra held out")
    p.add_argument("--experimental-dir", default=None,
                   help="real spectra (manifest.csv) whose validation halves choose the threshold")
    p.add_argument("--rows", default=None,
                   help="pickle of the simulated candidates: read if present, else written (a cache for the "
                        "same other arguments; left out of the command the rule records)")
    p.add_argument("--white-lines", nargs="?", const=True, default=False, metavar="TABLE",
                   help="fit with the computed white lines in each element's edge (VerifyConfig.white_lines): "
                        "the shipped table, or TABLE (single-particle, multiplet, crystal-field)")
    p.add_argument("--plural-eV", type=float, nargs="*", default=[],
                   help="plasmon energies (eV) of plural-scattering replicas (VerifyConfig.plural_eV)")
    p.add_argument("--other-edges", action="store_true",
                   help="also fit each candidate's edges outside the 107 families (VerifyConfig.other_edges)")
    p.add_argument("--conditional-uncertainty", action=argparse.BooleanOptionalAction, default=True,
                   help="each candidate's uncertainty with its neighbours held at their fitted amplitudes "
                        "(VerifyConfig.conditional_uncertainty) [on]")
    p.add_argument("--out", default=None, help="rules file (default eels_helpers/data/verification_rules.json)")
    return p


def main(argv=None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import pandas as pd
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

    from eels_helpers.evaluation.verified import simulated_candidates
    from eels_helpers.inference.verification import VerifyConfig
    from eels_helpers.inference.verification_model import (
        FEATURES,
        LogisticRule,
        calibration,
        fit_logistic,
        network_fingerprint,
        rule_key,
        save_rule,
    )

    if args.n < 1:
        p.error("--n must be >= 1")
    fit = VerifyConfig(white_lines=args.white_lines, plural_eV=tuple(args.plural_eV), other_edges=args.other_edges,
                       conditional_uncertainty=args.conditional_uncertainty)
    key = rule_key(args.model)
    if args.rows and Path(args.rows).is_file():
        rows = pd.read_pickle(args.rows)
        seconds = rows.attrs.get("seconds", np.zeros(0))
        log.info("read %d simulated candidates from %s", len(rows), args.rows)
    else:
        rows, seconds = simulated_candidates(args.model, args.n, args.seed, args.configs, fit=fit)
        rows.attrs["seconds"] = seconds
        if args.rows:
            rows.to_pickle(args.rows)
    spectra = rows["spectrum"].unique()
    rng = np.random.default_rng(args.seed)
    held = set(rng.choice(spectra, int(round(args.held_out * spectra.size)), replace=False).tolist())
    is_held = rows["spectrum"].isin(held).to_numpy()
    X, y = rows[list(FEATURES)].to_numpy(np.float64), rows["label"].to_numpy(np.float64)
    rule = fit_logistic(X[~is_held], y[~is_held], l2=args.l2, model=key)
    q = rule.probability(X[is_held])
    table = calibration(q, y[is_held])
    log.info("held-out simulated candidates: %d (%d spectra), Brier %.4f; reliability:\n%s",
             int(is_held.sum()), len(held), table.attrs["brier"], table.to_string(index=False))
    hand = rows["hand_rule"].fillna(rows["p"] >= 0.5).to_numpy(bool)[is_held]
    net = rows["p"].to_numpy(np.float64)[is_held] >= 0.5

    def acc(pred):
        t = y[is_held] > 0
        return {"accuracy": round(float(np.mean(pred == t)), 4),
                "false_kept": int(np.sum(pred & ~t)), "true_rejected": int(np.sum(~pred & t))}

    scores = {"logistic_0.5": acc(q >= 0.5), "hand_rule": acc(hand), "network_0.5": acc(net)}
    for k, v in scores.items():
        log.info("held-out candidates, %s: %s", k, v)
    for name, c in zip(FEATURES, rule.coefficients):
        log.info("coefficient %-20s %+.3f", name, c)
    provenance = {
        "fitted": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python", "scripts/fit_verification_rule.py",
                             *_without_cache(sys.argv[1:] if argv is None else argv)]),
        "networks": network_fingerprint(args.model),
        "simulated_spectra": int(spectra.size), "configs": list(args.configs), "seed": args.seed,
        "candidates": int(len(rows)), "white_lines": args.white_lines, "line_fwhm_eV": fit.line_fwhm_eV,
        "plural_eV": list(fit.plural_eV),
        "other_edges": bool(args.other_edges),
        "conditional_uncertainty": bool(args.conditional_uncertainty),
        "true_fraction": round(float(y.mean()), 4), "l2": args.l2,
        "held_out_spectra": len(held), "held_out_brier": round(table.attrs["brier"], 4),
        "held_out_reliability": [[round(r.mean_q, 3), round(r.fraction_true, 3), int(r.n)]
                                 for r in table.itertuples()],
        "held_out_scores": scores,
        "verify_ms_per_spectrum": round(1000 * float(np.mean(seconds)), 1) if len(seconds) else None,
        "threshold_from": "default 0.5 (no real validation spectra given)",
    }
    threshold = 0.5
    if args.experimental_dir:
        from eels_helpers.evaluation.real_spectra import evaluation_set
        from eels_helpers.evaluation.verified import before_after, real_candidates, verified_probabilities

        manifest, about = evaluation_set(args.experimental_dir)
        real_rows, P, real_seconds = real_candidates(args.model, manifest, fit=fit)
        V = verified_probabilities(real_rows, len(manifest), rule)
        table2, cv = before_after(manifest, P, V)
        threshold = float(np.clip(cv["verified"].splits["threshold"].mean(), 0.05, 0.95))
        log.info("real spectra (%s), grouped CV (threshold per split on its validation half):\n%s",
                 about, table2.to_string())
        provenance["threshold_from"] = (
            f"mean of the thresholds chosen on the validation halves of 5 compound-grouped splits of "
            f"{len(manifest)} real spectra ({', '.join(f'{t:.2f}' for t in cv['verified'].splits['threshold'])})")
        # what decides whether `eels-id predict` verifies by default (verification_model.verification_helps)
        provenance["real_grouped_cv"] = {
            "spectra": int(len(manifest)), "splits": int(len(cv["verified"].splits)),
            **{name: {k: round(float(table2.loc[name, k]), 4) for k in ("threshold", "f1", "exact_match")}
               for name in ("network", "verified")}}
    rule = LogisticRule(rule.model, rule.coefficients, rule.intercept, rule.mean, rule.scale, round(threshold, 4),
                        provenance)
    out = save_rule(rule, args.out)
    log.info("rule for model %r written to %s (threshold %.2f)", key, out, threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
