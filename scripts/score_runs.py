"""Score training runs as shipping would, one row each: a learning curve from snapshots of a run.

    python scripts/score_runs.py RUN_DIR [RUN_DIR ...] [--experimental DIR] [--json FILE]
        [--n-validation 1024] [--n-test 2048]

RUN_DIR: a directory written by `eels-id train` (model.pt, log.json), e.g. copies of one run's
model.pt and log.json taken at several pseudo-epochs. Each network is BatchNorm-recalibrated and
rounded through float16, then scored on the simulated validation/test spectra of shipping and,
with --experimental, on the real test split (eels_helpers.training.release.score_runs). Prints a
Markdown table; --json also writes the rows.
"""

import argparse
import json
import sys
from pathlib import Path

from eels_helpers.training.release import runs_table, score_runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="training run directories (model.pt, log.json)")
    parser.add_argument("--experimental", help="directory of real spectra with manifest.csv")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--n-validation", type=int, default=1024)
    parser.add_argument("--n-test", type=int, default=2048)
    args = parser.parse_args(argv)
    rows = score_runs(args.runs, n_validation=args.n_validation, n_test=args.n_test,
                      experimental_dir=args.experimental)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(runs_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
