#!/usr/bin/env python
"""Simulation throughput: ours (in memory, to HDF5 with workers, streaming) vs pyEELSMODEL.

Ours: ``simulate_batch`` with the paper's random microscope parameters drawn per spectrum
(E0, alpha, beta, window, shifts, low-loss, fine structure, background, Poisson noise) and
Materials Project specimens, measured
  1. in memory, one process (spectra/s per core);
  2. end to end to an HDF5 file with ``write_dataset(..., workers=2)`` (the ``eels-id simulate``
     path: specimens, simulation, float32 storage, every parameter stored, progress bookkeeping);
  3. streaming: ``StreamingSpectra`` through a torch DataLoader with 2 workers.
pyEELSMODEL (1.0.9) per core for comparable spectra: three hydrogenic K edges (C, N, O),
3,072 channels at 1 eV, low-loss (ZLP + 5 plasmons) convolution, power-law background, Poisson:
  (a) its ``CoreLossSimulator`` over a map, cross sections computed once (marginal cost per
      spectrum: (T(N x N map) - T(1 x 1)) / (N^2 - 1));
  (b) new microscope parameters (E0, alpha, beta) for every spectrum, as the paper's dataset needs:
      a 1 x 1 simulator per spectrum (its cross sections are recomputed).
(``CoreLossSimulator`` builds Zhang's GOS edges, which need a download; we override
``make_elements`` to use its ``HydrogenicCoreLossEdge`` instead, with its default q_steps=20.)

The machine is shared: the load average (``uptime``) is printed with the results.
Last line: ``spectra_per_s=<HDF5, 2 workers> ratio_fixed=<ours per core / (a)> ratio_random=<ours per core / (b)>``
where "ours per core" is the 2-worker HDF5 rate divided by 2.

Usage: ``python benchmarks/bench_simulate.py [--spectra 60000] [--quick]``
"""

from __future__ import annotations

import argparse
import os
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


def ours_in_memory(n: int, elements, batch: int = 500) -> float:
    from eels_helpers import dataset as ds

    config = ds.DatasetConfig(scale=1.0, splits=("train",), chunk_samples=batch // 5, elements=elements)
    units = ds.plan_units(config)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(units), size=max(1, n // batch), replace=False)
    ds.simulate_unit(units[0], config, 0)  # warm-up (GOS tables, caches)
    t = time.perf_counter()
    done = 0
    for p in picks:
        done += ds.simulate_unit(units[p], config, 0)["spectra"].shape[0]
    return done / (time.perf_counter() - t)


def ours_hdf5(n: int, workers: int, folder: Path, elements) -> tuple[float, int, int]:
    """(spectra/s end to end, spectra written, bytes on disk)."""
    from eels_helpers import dataset as ds

    scale = n / ds.DatasetConfig(scale=1.0, elements=elements).n_spectra()
    config = ds.DatasetConfig(scale=scale, elements=elements)
    out = folder / "bench.h5"
    t = time.perf_counter()
    summary = ds.write_dataset(out, config, seed=1, workers=workers, progress=False)
    wall = time.perf_counter() - t
    size = out.stat().st_blocks * 512
    out.unlink()
    return summary["spectra"] / wall, summary["spectra"], size


def ours_streaming(n: int, workers: int, elements, batch_size: int = 256) -> float:
    """Spectra/s through a DataLoader (fork workers: they inherit the loaded GOS tables)."""
    import torch

    from eels_helpers.dataset import StreamingSpectra

    n_batches = max(workers * 2, n // batch_size)
    stream = StreamingSpectra(seed=2, batch_size=batch_size, n_batches=n_batches, elements=elements)
    stream.batch(10**9)  # load the GOS tables in the parent before the workers fork
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers)
    t = time.perf_counter()
    got = sum(b["spectra"].shape[0] for b in loader)
    return got / (time.perf_counter() - t)


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

    def simulate(nx: int, ny: int, E0_V: float, alpha_rad: float, beta_rad: float) -> float:
        shape = MultiSpectrumshape(1.0, 75.0, 3072, nx, ny)
        maps = [np.full((nx, ny), a) for a in (1.0, 0.5, 0.7)]
        sim = HydrogenicSimulator(shape, ["C", "N", "O"], ["K"] * 3, maps, np.full((nx, ny), 0.5),
                                  (E0_V, alpha_rad, beta_rad))
        t = time.perf_counter()
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            sim.simulate_multispectrum()
        dt = time.perf_counter() - t
        assert sim.multispectrum.multidata.shape == (nx, ny, 3072)
        return dt

    return simulate


def pyeelsmodel_rates(map_side: int, n_random: int) -> tuple[float, float]:
    simulate = _pyeelsmodel()
    simulate(1, 1, 200e3, 0.01, 0.05)  # warm-up imports
    t1 = np.median([simulate(1, 1, 200e3, 0.01, 0.05) for _ in range(2)])
    tn = simulate(map_side, map_side, 200e3, 0.01, 0.05)
    fixed = (map_side ** 2 - 1) / max(tn - t1, 1e-9)
    rng = np.random.default_rng(0)
    times = [simulate(1, 1, float(rng.choice([60e3, 100e3, 200e3, 300e3])), rng.uniform(1e-3, 20e-3),
                      rng.uniform(1e-3, 100e-3)) for _ in range(n_random)]
    return fixed, n_random / float(np.sum(times))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=60_000, help="spectra for the HDF5 run (default 60,000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test of the script)")
    parser.add_argument("--folder", type=Path, default=None, help="where to write the HDF5 file (default: a temp dir)")
    args = parser.parse_args(argv)
    n = 4_000 if args.quick else args.spectra
    print(f"machine: {os.cpu_count()} logical CPUs; {uptime()}")
    from eels_helpers.config import SimulationConfig
    from eels_helpers.dataset import simulatable_elements

    t = time.perf_counter()
    elements, missing = simulatable_elements()
    print(f"GOS source {SimulationConfig().gos!r}: {len(elements)} of 80 query elements can be simulated"
          + (f" (not: {' '.join(missing)})" if missing else "")
          + f"; one-off set-up {time.perf_counter() - t:.1f} s")

    mem = ours_in_memory(n // 4 if not args.quick else 1000, elements)
    print(f"ours, in memory, 1 process: {mem:,.0f} spectra/s")
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        h5_wall, n_written, size = ours_hdf5(n, args.workers, Path(tmp), elements)
    print(f"ours, HDF5, {args.workers} workers, {n_written:,} spectra: {h5_wall:,.0f} spectra/s end to end "
          f"(probe, file creation, simulation, writing), {size / n_written / 1e3:.1f} kB/spectrum on disk")
    stream = ours_streaming(n // 2, args.workers, elements)
    print(f"ours, streaming DataLoader, {args.workers} workers: {stream:,.0f} spectra/s")
    load_mid = uptime()

    fixed, random_ = pyeelsmodel_rates(8 if args.quick else 24, 2 if args.quick else 5)
    per_core = h5_wall / args.workers
    print()
    print(f"{'per core (spectra/s)':<58}{'ours':>10}{'pyEELSMODEL':>13}{'ratio':>9}")
    print(f"{'(a) same microscope for every spectrum (cross sections once)':<58}{per_core:>10,.0f}"
          f"{fixed:>13,.1f}{per_core / fixed:>9,.1f}")
    print(f"{'(b) new E0, alpha, beta for every spectrum':<58}{per_core:>10,.0f}"
          f"{random_:>13,.2f}{per_core / random_:>9,.0f}")
    print("ours: MP specimens (often several elements and edges), all Table 1 parameters random per "
          "spectrum, written to HDF5; pyEELSMODEL: C, N, O hydrogenic K edges")
    print(f"load during our runs: {load_mid}")
    print(f"load at the end: {uptime()}")
    print(f"spectra_per_s={h5_wall:.0f} ratio_fixed={per_core / fixed:.1f} ratio_random={per_core / random_:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
