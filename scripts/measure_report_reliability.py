"""Measure how often each element is right where a model reports it on simulated spectra, and store
the table behind ``predict``'s reliability notes (:mod:`eels_helpers.inference.report_reliability`).

Usage::

    python scripts/measure_report_reliability.py --model default ensemble --n 16384 --seed 4646 \
        [--config open-world-henke] [--out FILE]

For each model: ``--n`` fresh spectra of the named simulator configuration ``--config`` and
``--seed``, decided as ``predict`` decides single spectra
(:func:`eels_helpers.evaluation.report_precision.simulated_report_counts`), counted per window class
and element; the entry records the networks' fingerprint and that of the twin resolvers' file (a
replaced network or resolver file makes it stale: no notes, a warning), the threshold (a prediction
at another gets no notes), the command and the date, and is written, keyed by the model's name (a
path: its file stem), to ``eels_helpers/data/report_reliability.json`` (atomic replace; other
models' entries kept). Rerun it whenever a shipped network, threshold or twin resolver changes.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

log = logging.getLogger("measure_report_reliability")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", nargs="+", default=["default", "ensemble"], help="shipped names or model files")
    p.add_argument("--n", type=int, default=16384, help="simulated spectra per model [16384]")
    p.add_argument("--seed", type=int, default=4646, help="seed of the simulated spectra [4646, session 46's]")
    p.add_argument("--config", default="open-world-henke", help="named simulator configuration [open-world-henke]")
    p.add_argument("--out", default=None, help="the table to write [eels_helpers/data/report_reliability.json]")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from eels_helpers.evaluation.report_precision import simulated_report_counts
    from eels_helpers.inference.report_reliability import (
        MIN_REPORTS,
        WINDOW_CLASSES,
        _resolvers_digest,
        save_reliability,
    )
    from eels_helpers.inference.verification_model import network_fingerprint, rule_key
    from eels_helpers.simulation.named_configs import NAMED_CONFIGS

    if args.n < 1:
        p.error(f"--n must be >= 1, got {args.n}")
    if args.config not in NAMED_CONFIGS:
        p.error(f"--config must be a named simulator configuration ({', '.join(NAMED_CONFIGS)}), got {args.config!r}")
    for model in args.model:
        entry = simulated_report_counts(model, args.n, args.seed, args.config)
        entry.update(model=rule_key(model), networks=network_fingerprint(model), resolvers=_resolvers_digest(),
                     measured=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                     command=" ".join(["python", "scripts/measure_report_reliability.py",
                                       *(sys.argv[1:] if argv is None else argv)]))
        path = save_reliability(model, entry, args.out)
        key, words = WINDOW_CLASSES[0]
        low = entry["classes"].get(key, {})
        worst = sorted(((right / rep, el, rep, right) for el, (rep, right) in low.items() if rep >= MIN_REPORTS))[:5]
        log.info("%s -> %s; in spectra %s, least often right: %s", model, path, words,
                 ", ".join(f"{el} {right}/{rep}" for _, el, rep, right in worst))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
