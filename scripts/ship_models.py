"""Ship trained runs as the package's `default` and `ensemble` models (maintainers).

    python scripts/ship_models.py --default RUN_DIR --ensemble RUN_DIR [RUN_DIR ...] \
        [--experimental DIR] [--n-validation 1024] [--n-test 2048] [--out eels_helpers/data/models]

RUN_DIR: a directory written by `eels-id train` (model.pt, log.json). Writes default.pt,
ensemble.pt (float16 weights) and MODELS.md with the measured scores (eels_helpers.shipping).
"""

import argparse
import shlex
import sys
from pathlib import Path

from eels_helpers.checkpoints import MODELS_DIR
from eels_helpers.shipping import ship_models


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default", required=True, help="training run of the default model")
    parser.add_argument("--ensemble", nargs="+", required=True, help="training runs of the ensemble members")
    parser.add_argument("--experimental", help="directory of real spectra with manifest.csv (thresholds, scores)")
    parser.add_argument("--n-validation", type=int, default=1024)
    parser.add_argument("--n-test", type=int, default=2048)
    parser.add_argument("--out", default=str(MODELS_DIR))
    args = parser.parse_args(argv)
    command = "python scripts/ship_models.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    paths = ship_models(args.default, args.ensemble, args.out, n_validation=args.n_validation, n_test=args.n_test,
                        experimental_dir=args.experimental, command=command)
    for name, path in paths.items():
        print(f"{name}: {path} ({Path(path).stat().st_size / 1e6:.1f} MB)")
    print(Path(paths["card"]).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
