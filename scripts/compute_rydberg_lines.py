"""Compute the Rydberg-line table ``eels_helpers/data/rydberg_lines.csv``.

Bound-bound generalised oscillator strengths of the Kr 3d -> 5p, 6p, 7p lines from GPAW's all-electron LDA
atoms (Kr core, Rb final orbitals; equivalent-core positions): see :mod:`eels_helpers.physics.rydberg_lines`.
Needs the optional extra ``gos`` (GPAW, see scripts/regenerate_gos.py); a few seconds on one core.

Usage::

    OMP_NUM_THREADS=1 python scripts/compute_rydberg_lines.py [--output PATH]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from eels_helpers.physics.rydberg_lines import RYDBERG_LINES_PATH, compute_lines, write_csv


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", type=Path, default=RYDBERG_LINES_PATH, help=f"[{RYDBERG_LINES_PATH}]")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    lines = compute_lines()
    tmp = args.output.with_suffix(".tmp")
    write_csv(lines, tmp)
    tmp.replace(args.output)           # nothing half-written at the destination
    logging.info("wrote %d lines to %s", len(lines), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
