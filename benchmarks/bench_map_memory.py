#!/usr/bin/env python
"""Memory and time of ``map_elements`` (or ``predict``) on a microscope-sized spectrum image, side by side.

A spectrum image of ``--size`` x ``--size`` pixels and ``--channels`` channels (float32, 0.25 eV
per channel from 250 eV: a power law with a C K-like edge, Poisson noise) is mapped by
``--model`` (``--command predict``: identified by ``predict``) in a fresh child process per package
checkout, which reports its peak resident
memory (``ru_maxrss``), the resident memory once the image is made (the input), and the
mapping's seconds. ``--compare-path DIR`` adds the package found in DIR (e.g. a ``git worktree``
of an earlier commit) to the same run, measured the same way on the same image, so the two
rows can be read against each other; each row says which checkout it is.

Session 39 (M39): before the pre-processing ran in blocks of spectra, a 256 x 256 x 2,048 image
(0.5 GiB) peaked at 3.5 GiB. Session 40 (M40): before ``map`` ran block by block, it kept the
network input of every pixel (12 KiB: 3,072 float32 channels) for the twin resolvers, and a 512 x
512 x 2,048 image (2 GiB) peaked at 5.8 GiB; now 3.0 GiB (README, "Memory"). Session 41 (M41):
``predict`` on a spectrum image kept every pixel's network input too, until it ran the same blocks.

Usage: ``nice python benchmarks/bench_map_memory.py [--size 256] [--channels 2048]
[--model default] [--command map|predict] [--compare-path /tmp/worktree]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
import eels_helpers
from eels_helpers.inference.mapping import map_elements
from eels_helpers.inference.predict import predict

size, channels, model, command = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
energy = 250.0 + 0.25 * np.arange(channels)
mean = 1e4 * (energy / energy[0]) ** -3.0 + np.where(energy > 284.0, 2e3 * (energy / 284.0) ** -3.0, 0.0)
rng = np.random.default_rng(0)
data = np.empty((size, size, channels), np.float32)
for row in range(size):                      # row by row: no int64 copy of the whole image
    data[row] = rng.poisson(mean, size=(size, channels))
rss_input = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if command == "map":
    result = map_elements(data, model, energy_eV=energy)
else:
    [result] = predict(data, model, energy_eV=energy)
seconds = time.perf_counter() - t0
print(json.dumps({"package": eels_helpers.__file__, "input_GiB": data.nbytes / 2**30,
                  "rss_input_GiB": rss_input / 2**20,
                  "peak_GiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "seconds": seconds, "detected": list(result.detected)}))
"""


def measure(path: str, size: int, channels: int, model: str, command: str = "map") -> dict:
    """One child process with ``path`` first on PYTHONPATH: its JSON line."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [path, os.environ.get("PYTHONPATH")])))
    # run from the checkout: ``python -c`` puts the working folder first on sys.path
    done = subprocess.run([sys.executable, "-c", CHILD, str(size), str(channels), model, command], env=env, cwd=path,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the child for {path} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="pixels per side (default 256)")
    parser.add_argument("--channels", type=int, default=2048, help="channels per spectrum (default 2048)")
    parser.add_argument("--model", default="default", help="shipped name or .pt (default: default)")
    parser.add_argument("--command", choices=("map", "predict"), default="map",
                        help="what identifies the image: map_elements (default) or predict")
    parser.add_argument("--compare-path", action="append", default=[],
                        help="another checkout of the package to measure in the same run (repeatable)")
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parents[1])
    what = "map_elements" if args.command == "map" else "predict"
    print(f"{what}, {args.size} x {args.size} x {args.channels} float32, model {args.model}, "
          f"{os.cpu_count()} CPU cores")
    print(f"{'checkout':<40} {'input GiB':>9} {'peak GiB':>9} {'peak/input':>10} {'s':>7}  kept")
    for path in [here, *args.compare_path]:
        r = measure(path, args.size, args.channels, args.model, args.command)
        if not Path(r["package"]).resolve().is_relative_to(Path(path).resolve()):
            raise SystemExit(f"the child for {path} imported {r['package']}, another checkout")
        print(f"{path:<40} {r['input_GiB']:9.2f} {r['peak_GiB']:9.2f} {r['peak_GiB'] / r['input_GiB']:10.1f} "
              f"{r['seconds']:7.1f}  {', '.join(r['detected']) or '-'}")


if __name__ == "__main__":
    main()
