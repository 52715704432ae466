#!/usr/bin/env python
"""Start-up of the command line: ``eels-id --help``, every ``eels-id COMMAND --help`` and
``eels-id predict`` on one small spectrum file, each in a fresh process (wall clock, best of
``--repeat``), against the targets: help well under 1 s, predict at most 2 s.

The spectrum is exspy's test spectrum ``tests/components/coreloss_spectrum.msa`` when exspy is
installed, else a small .msa (1,024 channels, a power law and two edges) written by the benchmark
itself. The processes run ``python -m eels_helpers.cli``, which is what the ``eels-id`` script
runs. The machine's load average is printed: other jobs on the cores slow the wall clock down,
so the best of several runs is reported; each line also gives the CPU time (user + system) of
the best run, which the load changes much less.

Last lines: ``help_s=<slowest help command> predict_cold_s=<predict>``, then ``ok`` or which
target was missed (exit status 1 then).

Usage: ``python benchmarks/bench_startup.py [--repeat 5] [--file SPECTRUM] [--model default]``
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: targets (seconds of wall time)
HELP_TARGET_S = 1.0
PREDICT_TARGET_S = 2.0


def uptime() -> str:
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


def run_once(argv: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of ``python -m eels_helpers.cli *argv`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "eels_helpers.cli", *argv], capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"eels-id {' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def best_of(argv: list[str], repeat: int) -> tuple[float, float]:
    runs = [run_once(argv) for _ in range(repeat)]
    return min(runs)


def small_spectrum(folder: Path) -> Path:
    """exspy's core-loss test spectrum, else a small synthetic .msa written here."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("exspy")
        if spec is not None and spec.origin:
            path = Path(spec.origin).parent / "tests" / "components" / "coreloss_spectrum.msa"
            if path.is_file():
                return path
    except (ImportError, ValueError):
        pass
    import numpy as np

    energy = 400.0 + np.arange(1024) * 0.5
    counts = 1e6 * (energy / 400.0) ** -3.0
    for onset in (532.0, 640.0):          # O K and Mn L3 onsets, as steps with a decay
        counts += np.where(energy >= onset, 2e4 * np.exp(-(energy - onset) / 80.0), 0.0)
    path = folder / "bench_small.msa"
    header = ["#FORMAT      : EMSA/MAS Spectral Data File", "#VERSION     : 1.0",
              "#TITLE       : bench_startup", "#NPOINTS     : 1024", "#NCOLUMNS    : 1",
              "#XUNITS      : eV", "#YUNITS      : counts", "#DATATYPE    : XY",
              "#XPERCHAN    : 0.5", "#OFFSET      : 400.0", "#SPECTRUM    : Spectral Data Starts Here"]
    rows = [f"{e:.2f}, {c:.3f}" for e, c in zip(energy, counts)]
    path.write_text("\n".join(header + rows + ["#ENDOFDATA   : End Of Data and File", ""]))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command; the best counts [5]")
    parser.add_argument("--file", type=Path, default=None, help="spectrum for predict [exspy's test spectrum]")
    parser.add_argument("--model", default="default", help="model for predict [default]")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    from eels_helpers.cli import COMMANDS

    print(f"machine: {os.cpu_count()} logical CPUs; {uptime()}; best of {args.repeat} fresh processes")
    print(f"{'command':<44}{'wall s':>8}{'CPU s':>8}")
    help_worst = 0.0
    for argv_ in [["--help"]] + [[name, "--help"] for name in COMMANDS]:
        wall, cpu = best_of(argv_, args.repeat)
        help_worst = max(help_worst, wall)
        print(f"{'eels-id ' + ' '.join(argv_):<44}{wall:>8.2f}{cpu:>8.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        spectrum = args.file or small_spectrum(Path(tmp))
        predict_argv = ["predict", str(spectrum), "--model", args.model]
        wall, cpu = best_of(predict_argv, args.repeat)
    print(f"{'eels-id predict ' + spectrum.name + ' --model ' + args.model:<44}{wall:>8.2f}{cpu:>8.2f}")
    print(f"at the end: {uptime()}")
    print(f"targets: help < {HELP_TARGET_S:g} s, predict <= {PREDICT_TARGET_S:g} s (wall)")
    print(f"help_s={help_worst:.2f} predict_cold_s={wall:.2f}")
    missed = [f"help {help_worst:.2f} s > {HELP_TARGET_S:g} s"] if help_worst >= HELP_TARGET_S else []
    if wall > PREDICT_TARGET_S:
        missed.append(f"predict {wall:.2f} s > {PREDICT_TARGET_S:g} s")
    print("ok" if not missed else "missed: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
