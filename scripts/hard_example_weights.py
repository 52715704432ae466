"""Query weights for a fine-tuning that trains more on the elements a network gets wrong in
simulation (:mod:`eels_helpers.evaluation.hard_examples`; simulated spectra only, never real ones).
Usage: python scripts/hard_example_weights.py MODEL --out FILE [--config open-world-sharp]
[--n 8192] [--seed 7] [--uniform-share 0.5] [--threshold T]; then
``eels-id train ... --query-weights FILE``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from eels_helpers.evaluation.hard_examples import element_errors, query_weights
from eels_helpers.models.model_files import load_model


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--config", default="open-world-sharp")
    ap.add_argument("--n", type=int, default=8192)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--uniform-share", type=float, default=0.5)
    ap.add_argument("--threshold", type=float, default=None)
    args = ap.parse_args(argv)
    model = load_model(args.model)
    threshold = args.threshold if args.threshold is not None else (model.threshold or 0.5)
    errors = element_errors(model, args.config, threshold, n_spectra=args.n, seed=args.seed)
    weights = query_weights(errors, args.uniform_share)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(weights, indent=1) + "\n")
    tmp.replace(args.out)
    worst = errors.sort_values("error", ascending=False).head(15)
    print(f"{args.model} on {args.n} simulated spectra ({args.config}, seed {args.seed}, threshold {threshold:.2f}); "
          f"weights written to {args.out}\n" + worst.assign(weight=[weights[e] for e in worst.index]).to_string(
              float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
