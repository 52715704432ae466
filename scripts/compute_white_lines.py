"""Compute the white-line table ``eels_helpers/data/white_lines.csv``.

Bound-bound generalised oscillator strengths of the white lines (2p -> 3d, 2p -> 4d, 3d -> 4f,
4d -> 4f) from GPAW's all-electron LDA atoms: see :mod:`eels_helpers.physics.white_lines` for
the physics. Needs the optional extra ``gos`` (GPAW, see scripts/regenerate_gos.py) and xraylib
(core-level widths); about a minute on one core.

Usage::

    OMP_NUM_THREADS=1 python scripts/compute_white_lines.py [--table multiplet] [--output PATH] [--elements Ti Ce]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from eels_helpers.physics.white_line_calculation import compute_lines, line_specs, write_csv
from eels_helpers.physics.white_lines import TABLE_PATHS

log = logging.getLogger("compute_white_lines")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--table", choices=sorted(TABLE_PATHS), default="single-particle",
                   help="which table: the statistical branching or the multiplet's (physics.white_lines)")
    p.add_argument("--output", type=Path, default=None, help="CSV file to write [the table's shipped path]")
    p.add_argument("--elements", nargs="*", default=None,
                   help="only these elements (default: every family with white lines)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    specs = line_specs(args.table)
    if args.elements:
        specs = [s for s in specs if s.element in set(args.elements)]
    t0 = time.perf_counter()
    lines = compute_lines(specs, table=args.table)
    output = args.output or TABLE_PATHS[args.table]
    write_csv(lines, output)
    log.info("%d lines of %d families written to %s in %.0f s", len(lines), len(specs),
             output, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
