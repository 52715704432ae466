"""Onset twins on simulated spectra: how well each model tells N from Sc, O from Sb, F from Xe and
B from Cl (:func:`eels_helpers.evaluation.confusion.simulated_twin_scores`), per simulator
configuration. Usage: python scripts/twin_scores.py MODEL [MODEL ...] [--config NAME ...]
[--n 1920] [--seed 99] [--threshold T] (default: each model's own threshold, else 0.5)."""

from __future__ import annotations

import argparse

from eels_helpers.evaluation.confusion import simulated_twin_scores
from eels_helpers.models.model_files import load_model


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--config", nargs="+", default=["open-world", "open-world-elnes", "paper"])
    ap.add_argument("--n", type=int, default=1920)
    ap.add_argument("--seed", type=int, default=99)
    ap.add_argument("--threshold", type=float, default=None)
    args = ap.parse_args(argv)
    for name in args.models:
        model = load_model(name)
        threshold = args.threshold if args.threshold is not None else (model.threshold or 0.5)
        for config in args.config:
            table = simulated_twin_scores(model, config, threshold, n_spectra=args.n, seed=args.seed)
            print(f"\n{name} (threshold {threshold:.2f}) on {config}:")
            print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
