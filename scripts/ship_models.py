"""Ship trained runs as the package's models, e.g. `default`, `ensemble`, `ensemble-paper` (maintainers).

    python scripts/ship_models.py [--default RUN_DIR] [--ensemble RUN_DIR [RUN_DIR ...]] \
        [--model NAME RUN_DIR [RUN_DIR ...]] ... [--experimental DIR] \
        [--n-validation 1024] [--n-test 2048] [--out eels_helpers/data/models]

RUN_DIR: a directory written by `eels-id train` (model.pt, log.json), or shipped:MODEL:INDEX, the
INDEX-th member (from 0) of a model already in --out (its network and its recorded run: a run whose
directory is gone, e.g. trained on a GPU node; e.g. --ensemble runs/new_run shipped:ensemble:1). One run ships a single
network, several an ensemble (mean member probability). Writes NAME.pt (float16 weights) and
rewrites MODELS.md with the measured scores of every model in --out (eels_helpers.training.release).
After shipping, remeasure what is fitted per network: the verification rule
(scripts/fit_verification_rule.py) and the reliability notes' table (scripts/measure_report_reliability.py
--model NAME); until then predict warns that they were made for the networks shipped before.
"""

import argparse
import shlex
import sys
from pathlib import Path

from eels_helpers.models.model_files import MODELS_DIR
from eels_helpers.training.release import ship_models


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default", help="training run of the default model (same as --model default RUN)")
    parser.add_argument("--ensemble", nargs="+", help="training runs of the ensemble members "
                        "(same as --model ensemble RUN ...)")
    parser.add_argument("--model", nargs="+", action="append", default=[], metavar=("NAME", "RUN_DIR"),
                        help="a model name and its training run(s); repeatable")
    parser.add_argument("--experimental", help="directory of real spectra with manifest.csv (thresholds, scores)")
    parser.add_argument("--n-validation", type=int, default=1024)
    parser.add_argument("--n-test", type=int, default=2048)
    parser.add_argument("--out", default=str(MODELS_DIR))
    parser.add_argument("--quiet", action="store_true", help="no progress bar (batch jobs)")
    args = parser.parse_args(argv)
    models = {}
    if args.default:
        models["default"] = [args.default]
    if args.ensemble:
        models["ensemble"] = args.ensemble
    for name, *runs in args.model:
        if not runs:
            parser.error(f"--model {name}: give at least one training run directory after the name")
        if name in models:
            parser.error(f"model {name!r} is given twice")
        models[name] = runs
    if not models:
        parser.error("nothing to ship: give --default, --ensemble or --model NAME RUN_DIR")
    command = "python scripts/ship_models.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    paths = ship_models(models, args.out, n_validation=args.n_validation, n_test=args.n_test,
                        experimental_dir=args.experimental, command=command, progress=not args.quiet)
    for name, path in paths.items():
        print(f"{name}: {path} ({Path(path).stat().st_size / 1e6:.1f} MB)")
    print(Path(paths["card"]).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
