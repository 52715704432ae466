"""Time dsigma/dE of all 107 edge families for one (E0, alpha, beta) on the 0-3071 eV grid.

Usage: python benchmarks/bench_cross_section.py [--gos builtin|hydrogenic|PATH] [--repeat N]

Uses the shipped table when present (else the hydrogenic GOS, which covers only K and L
families: the other families are then reported as missing). Prints the one-off compile time
(reading tables, interpolation weights), the time of a call (median of --repeat), the time of
the edge-shape tables used by the simulator, and ends with ``cross_sections_ms=<median call ms>``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None) -> int:
    from eels_helpers.physics import gos_tables as gos_mod
    from eels_helpers.physics.cross_section import CrossSectionCalculator
    from eels_helpers.physics.edge_shapes import EdgeShapeTable
    from eels_helpers.physics.elements import EDGE_FAMILIES

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gos", default=None, help="GOS source (default: builtin if present, "
                   "else hydrogenic)")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--E0", type=float, default=200.0, help="beam energy (keV)")
    p.add_argument("--alpha", type=float, default=10.0, help="convergence semi-angle (mrad)")
    p.add_argument("--beta", type=float, default=30.0, help="collection semi-angle (mrad)")
    p.add_argument("--shape-table", action="store_true",
                   help="also time building one EdgeShapeTable (40 beta* values)")
    args = p.parse_args(argv)

    gos = args.gos or ("builtin" if gos_mod.builtin_available() else "hydrogenic")
    if args.gos is None and gos == "hydrogenic":
        print(f"NOTE: {gos_mod.BUILTIN_GOS_PATH} not found: using the hydrogenic GOS "
              "(K and L families only)")
    energy = np.arange(3072, dtype=np.float64)
    t0 = time.perf_counter()
    calc = CrossSectionCalculator(EDGE_FAMILIES, energy, gos)
    t_compile = time.perf_counter() - t0
    n_missing = {}
    for name, _, _ in calc.missing:
        n_missing[name] = n_missing.get(name, 0) + 1
    empty = [f.name for f in EDGE_FAMILIES if n_missing.get(f.name, 0) == len(f.subshells)]
    print(f"gos={gos}: {len(EDGE_FAMILIES)} families, {len(calc.missing)} subshells missing "
          f"from the source, {len(empty)} families without any subshell")
    print(f"compile (tables + weights): {1e3 * t_compile:.1f} ms")
    times = []
    for _ in range(max(args.repeat, 1)):
        t0 = time.perf_counter()
        out = calc(args.E0, args.alpha, args.beta)
        times.append(time.perf_counter() - t0)
    ms = 1e3 * float(np.median(times))
    print(f"one call, E0={args.E0:g} keV alpha={args.alpha:g} beta={args.beta:g} mrad: "
          f"median {ms:.1f} ms (min {1e3 * min(times):.1f}) -> array {out.shape}")
    t0 = time.perf_counter()
    calc(np.full(8, args.E0), np.full(8, args.alpha), np.linspace(5, 100, 8))
    print(f"batch of 8 (E0, alpha, beta): {1e3 * (time.perf_counter() - t0):.1f} ms")
    if args.shape_table:
        t0 = time.perf_counter()
        tab = EdgeShapeTable(args.E0, EDGE_FAMILIES, gos)
        print(f"EdgeShapeTable E0={args.E0:g} keV (40 beta*, 107 families): "
              f"{time.perf_counter() - t0:.2f} s, {tab.log_shapes.nbytes / 1e6:.0f} MB")
        t0 = time.perf_counter()
        idx = np.random.default_rng(0).integers(0, len(EDGE_FAMILIES), size=(256, 3))
        s = tab.shapes(np.full(256, 5.0), np.full(256, 30.0), idx)
        tab.place(s, idx)
        print(f"256 spectra x 3 edges interpolated and placed: "
              f"{1e3 * (time.perf_counter() - t0):.1f} ms")
    print(f"cross_sections_ms={ms:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
