#!/usr/bin/env python
"""Simulation throughput: ours (in memory, to HDF5 with workers, streaming) vs pyEELSMODEL.

Ours: ``simulate_batch`` with the paper's random microscope parameters drawn per spectrum
(E0, alpha, beta, window, shifts, low-loss, fine structure, background, Poisson noise) and
Materials Project specimens, measured
  1. in memory, one process;
  2. end to end to an HDF5 file with ``write_dataset(..., workers=2)`` (the ``eels-id simulate``
     path: element probe, file creation, specimens, simulation, float32 storage of the spectra,
     labels and every parameter, resume bookkeeping);
  3. streaming: ``StreamingSpectra`` through a torch DataLoader with 2 workers.
pyEELSMODEL (1.0.9), one process, for comparable spectra: three hydrogenic K edges (C, N, O),
3,072 channels at 1 eV, low-loss (ZLP + 5 plasmons) convolution, power-law background, Poisson:
  (a) its ``CoreLossSimulator`` over a map, cross sections computed once (marginal cost per
      spectrum: (T(N x N map) - T(1 x 1)) / (N^2 - 1));
  (b) new microscope parameters (E0, alpha, beta) for every spectrum, as the paper's dataset needs:
      a 1 x 1 simulator per spectrum (its cross sections are recomputed).
(``CoreLossSimulator`` builds Zhang's GOS edges, which need a download; we override
``make_elements`` to use its ``HydrogenicCoreLossEdge``, with the simulator's q_steps=20.)

Every rate is given twice: per wall-clock second, and per CPU second (user + system time of the
process and its workers, from ``getrusage``). On a machine shared with other jobs the wall-clock
rates drop with the load, the CPU-time rates much less: "per core" comparisons use CPU time.
The load average (``uptime``) is printed.

Last line: ``spectra_per_s=<HDF5, 2 workers, wall clock> ratio_fixed=<ours / (a)>
ratio_random=<ours / (b)>``, ratios of spectra per CPU-second (ours: the HDF5 run, all processes).

Usage: ``python benchmarks/bench_simulate.py [--spectra 60000] [--quick]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


class Clock:
    """Wall-clock and CPU time (this process + reaped children) of a block."""

    @staticmethod
    def _cpu() -> float:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.t0, self._cpu() - self.c0


def ours_in_memory(n: int, elements, batch: int = 500) -> tuple[float, float]:
    from eels_helpers.datasets.config import DatasetConfig, plan_units, simulate_unit

    config = DatasetConfig(scale=1.0, splits=("train",), chunk_samples=batch // 5, elements=elements)
    units = plan_units(config)
    picks = np.random.default_rng(0).choice(len(units), size=max(1, n // batch), replace=False)
    simulate_unit(units[0], config, 0)  # warm-up (GOS tables, caches)
    done = 0
    with Clock() as c:
        for p in picks:
            done += simulate_unit(units[p], config, 0)["spectra"].shape[0]
    return done / c.wall, done / c.cpu


def ours_hdf5(n: int, workers: int, folder: Path, elements) -> tuple[float, float, int, int]:
    """(spectra/s wall clock, spectra per CPU-second, spectra written, bytes on disk)."""
    from eels_helpers.datasets.config import DatasetConfig
    from eels_helpers.datasets.hdf5_writer import write_dataset

    scale = n / DatasetConfig(scale=1.0, elements=elements).n_spectra()
    config = DatasetConfig(scale=scale, elements=elements)
    out = folder / "bench.h5"
    with Clock() as c:
        summary = write_dataset(out, config, seed=1, workers=workers, progress=False)
    size = out.stat().st_blocks * 512
    out.unlink()
    return summary["spectra"] / c.wall, summary["spectra"] / c.cpu, summary["spectra"], size


def ours_streaming(n: int, workers: int, elements, batch_size: int = 256) -> tuple[float, float]:
    """Spectra/s through a DataLoader (fork workers: they inherit the loaded GOS tables)."""
    import torch

    from eels_helpers.datasets.streaming import StreamingSpectra

    n_batches = max(workers * 2, n // batch_size)
    stream = StreamingSpectra(seed=2, batch_size=batch_size, n_batches=n_batches, elements=elements)
    stream.batch(10**9)  # load the GOS tables in the parent before the workers fork
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers)
    with Clock() as c:
        got = sum(b["spectra"].shape[0] for b in loader)
        del loader  # workers exit and are reaped inside the timed block
    return got / c.wall, got / c.cpu


def _pyeelsmodel():
    import pyEELSMODEL.operators.simulator.coreloss_simulator as cls
    from pyEELSMODEL.components.CLedge.hydrogen_coreloss_edge import HydrogenicCoreLossEdge
    from pyEELSMODEL.core.multispectrum import MultiSpectrumshape

    cls.tqdm = lambda it, *a, **k: it  # silence its per-pixel progress bars

    class HydrogenicSimulator(cls.CoreLossSimulator):
        def make_elements(self):
            self.element_components = [
                HydrogenicCoreLossEdge(self.spectrumshape, 1, self.E0, self.alpha, self.beta, el, edge,
                                       eshift=0, q_steps=self.qsteps)
                for el, edge in zip(self.elements, self.edges)]

    def simulate(nx: int, ny: int, E0_V: float, alpha_rad: float, beta_rad: float) -> Clock:
        shape = MultiSpectrumshape(1.0, 75.0, 3072, nx, ny)
        maps = [np.full((nx, ny), a) for a in (1.0, 0.5, 0.7)]
        sim = HydrogenicSimulator(shape, ["C", "N", "O"], ["K"] * 3, maps, np.full((nx, ny), 0.5),
                                  (E0_V, alpha_rad, beta_rad))
        with Clock() as c, contextlib.redirect_stdout(io.StringIO()):
            sim.simulate_multispectrum()
        assert sim.multispectrum.multidata.shape == (nx, ny, 3072)
        return c

    return simulate


def pyeelsmodel_rates(map_side: int, n_random: int) -> dict[str, float]:
    simulate = _pyeelsmodel()
    simulate(1, 1, 200e3, 0.01, 0.05)  # warm-up imports
    one = [simulate(1, 1, 200e3, 0.01, 0.05) for _ in range(2)]
    big = simulate(map_side, map_side, 200e3, 0.01, 0.05)
    m = map_side ** 2 - 1
    rng = np.random.default_rng(0)
    rand = [simulate(1, 1, float(rng.choice([60e3, 100e3, 200e3, 300e3])), rng.uniform(1e-3, 20e-3),
                     rng.uniform(1e-3, 100e-3)) for _ in range(n_random)]
    return {
        "fixed_wall": m / max(big.wall - np.median([c.wall for c in one]), 1e-9),
        "fixed_cpu": m / max(big.cpu - np.median([c.cpu for c in one]), 1e-9),
        "random_wall": n_random / sum(c.wall for c in rand),
        "random_cpu": n_random / sum(c.cpu for c in rand),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=60_000, help="spectra for the HDF5 run (default 60,000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test of the script)")
    parser.add_argument("--folder", type=Path, default=None, help="where to write the HDF5 file (default: a temp dir)")
    args = parser.parse_args(argv)
    n = 4_000 if args.quick else args.spectra
    print(f"machine: {os.cpu_count()} logical CPUs; {uptime()}")
    from eels_helpers.datasets.config import simulatable_elements
    from eels_helpers.simulation.config import SimulationConfig

    t = time.perf_counter()
    elements, missing = simulatable_elements()
    print(f"GOS source {SimulationConfig().gos!r}: {len(elements)} of 80 query elements can be simulated"
          + (f" (not: {' '.join(missing)})" if missing else "")
          + f"; one-off set-up {time.perf_counter() - t:.1f} s")

    rows = []
    mem_w, mem_c = ours_in_memory(n // 4 if not args.quick else 1000, elements)
    rows.append(("ours, in memory, 1 process", mem_w, mem_c))
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        h5_w, h5_c, n_written, size = ours_hdf5(n, args.workers, Path(tmp), elements)
    rows.append((f"ours, to HDF5, {args.workers} workers, {n_written:,} spectra", h5_w, h5_c))
    st_w, st_c = ours_streaming(n // 2, args.workers, elements)
    rows.append((f"ours, streaming DataLoader, {args.workers} workers", st_w, st_c))
    load_mid = uptime()
    try:
        import pyEELSMODEL  # noqa: F401  (the `bench` extra: `make benchmarks` installs it)
    except ImportError as err:
        pem = None
        print(f"pyEELSMODEL comparison skipped: {err}; install the `bench` extra "
              "(`pip install -e .[bench]`, which `make benchmarks` does)")
    else:
        pem = pyeelsmodel_rates(8 if args.quick else 24, 2 if args.quick else 5)
        rows.append(("pyEELSMODEL (a) cross sections once, 1 process", pem["fixed_wall"], pem["fixed_cpu"]))
        rows.append(("pyEELSMODEL (b) new E0/alpha/beta per spectrum", pem["random_wall"], pem["random_cpu"]))

    print()
    print(f"{'run':<52}{'spectra/s (wall)':>18}{'per CPU-second':>16}")
    for name, w, c in rows:
        print(f"{name:<52}{w:>18,.1f}{c:>16,.1f}")
    print(f"HDF5 on disk: {size / n_written / 1e3:.1f} kB per spectrum (float32 spectra + labels + every parameter)")
    print("ours: Materials Project specimens (often several elements and edges), every Table 1 parameter "
          "random per spectrum; pyEELSMODEL: C, N, O hydrogenic K edges")
    print(f"load average during our runs: {load_mid}")
    print(f"load average at the end:      {uptime()}")
    if pem is None:
        print(f"spectra_per_s={h5_w:.0f} ratio_fixed=skipped ratio_random=skipped")
        return 0
    ratio_fixed, ratio_random = h5_c / pem["fixed_cpu"], h5_c / pem["random_cpu"]
    print(f"per core (CPU time): ours {h5_c:,.0f}/s vs pyEELSMODEL (a) {pem['fixed_cpu']:,.1f}/s -> "
          f"{ratio_fixed:.1f}x; (b) {pem['random_cpu']:.2f}/s -> {ratio_random:,.0f}x")
    print(f"spectra_per_s={h5_w:.0f} ratio_fixed={ratio_fixed:.1f} ratio_random={ratio_random:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
