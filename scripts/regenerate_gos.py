#!/usr/bin/env python
"""Regenerate the shipped GOS table (eels_helpers/data/gos/eels_helpers_gos.gosh) from scratch.

Every nl shell holding a subshell of the 107 edge families (``eels_helpers.physics.elements``) with an
onset in 50..3100 eV is computed with :mod:`eels_helpers.physics.atomic_gos` (GPAW LDA all-electron atom,
Latter tail, Numerov continuum, l' <= 25) on a geometric grid of free energies (0.1..4000 eV
above threshold) and momentum transfers (0.04..60 1/Angstrom), then written through
:func:`eels_helpers.physics.gos_tables.write_gosh`.

Resumable: each element is checkpointed as ``<work>/<El>.npz`` (with its grid parameters); a
re-run skips elements whose checkpoint matches the grid. Not run in CI.

Install the optional engine first (GPAW 26.7.0 built offline from its sdist, needs only g++;
the siteconfig turns off MPI, FFTW, ScaLAPACK, libxc and BLAS)::

    GPAW_CONFIG=scripts/gpaw_siteconfig.py .venv/bin/pip install --no-binary gpaw ".[gos]"

Usage::

    .venv/bin/python scripts/regenerate_gos.py --workers 2            # everything

Cost (measured 2026-11-24): 80 elements, 253 nl tables (128 free energies x 100 q, l' <= 25),
~3.3 s CPU per table including the atom (98.6 s CPU for a 30-table sample of B S Fe Sr Ag Ce Er
W Bi), i.e. ~14 CPU-minutes: ~7-8 min wall on 2 free cores. The shipped table's actual run took
28.7 min wall with 2 workers on a machine loaded 5-10 deep by other jobs. Output ~9.9 MB.
    .venv/bin/python scripts/regenerate_gos.py --elements C O --n-energies 24 --n-q 16 \
        --output /tmp/co.gosh --work /tmp/co_work                     # a quick subset
    .venv/bin/python scripts/regenerate_gos.py --other-edges --workers 2

``--other-edges`` adds to an existing file (default: the builtin) the nl tables of the edges
outside the 107 families (``eels_helpers.physics.elements.OTHER_EDGES``: Al/Mg L2,3, the 3d
metals' M2,3, Kr M4,5, the N2,3/N4,5/N6,7/O2,3 of the heavy elements, ...) that it lacks, with
the same engine and grid, checkpointed in ``<work>/other``; every table already in the file stays
byte for byte (:func:`eels_helpers.physics.gos_tables.add_tables`), so the 107 families' cross
sections, and the paper's dataset, do not change. Measured 2026-12-02: 78 tables of 40 elements.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")   # one BLAS thread per worker process

import argparse  # noqa: E402
import datetime  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from dataclasses import asdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WORK = REPO / "runs" / "gos_work"
ONSET_RANGE_EV = (50.0, 3100.0)


def tables_needed(elements=None, onset_range=ONSET_RANGE_EV) -> dict[str, list[str]]:
    """{element: sorted nl tables} for every edge-family subshell with onset in onset_range."""
    from eels_helpers.physics.elements import EDGE_FAMILIES
    from eels_helpers.physics.gos_tables import nl_table_name

    lo, hi = onset_range
    need: dict[str, set] = {}
    for fam in EDGE_FAMILIES:
        if elements is not None and fam.element not in elements:
            continue
        for sub, onset in zip(fam.subshells, fam.onsets_eV):
            if lo <= onset <= hi:
                need.setdefault(fam.element, set()).add(nl_table_name(sub))
    order = {"K1": 0, "L1": 1, "L23": 2, "M1": 3, "M23": 4, "M45": 5, "N1": 6, "N23": 7,
             "N45": 8, "N67": 9}
    return {el: sorted(t, key=lambda s: order.get(s, 99)) for el, t in need.items()}


def other_tables_needed(gosh_path, elements=None) -> dict[str, list[str]]:
    """{element: sorted nl tables} of the edges outside the families (``OTHER_EDGES``) that the
    GOSH file ``gosh_path`` does not hold."""
    from eels_helpers.physics.elements import OTHER_EDGES
    from eels_helpers.physics.gos_tables import nl_table_name, read_gosh

    have = read_gosh(gosh_path)
    need: dict[str, list[str]] = {}
    for el, edges in OTHER_EDGES.items():
        if elements is not None and el not in elements:
            continue
        present = set(have.tables(el))
        tabs = sorted({nl_table_name(s) for e in edges for s in e.subshells} - present)
        if tabs:
            need[el] = tabs
    return need


def add_other_edges(gosh_path, *, output=None, work=DEFAULT_WORK, workers=1, grid=None, elements=None,
                    log=None) -> dict:
    """Compute (resumably, in ``<work>/other``) the tables of :func:`other_tables_needed` and add
    them to ``gosh_path`` (written to ``output``, default in place); returns a summary dict."""
    from eels_helpers.physics.atomic_gos import GosGrid
    from eels_helpers.physics.gos_tables import add_tables

    grid = grid or GosGrid()
    log = log or (lambda *args: print(*args, flush=True))
    work = Path(work) / "other"
    work.mkdir(parents=True, exist_ok=True)
    need = other_tables_needed(gosh_path, elements)
    todo = [el for el in need if load_checkpoint(el, work, grid) is None
            or sorted(t.table for t in load_checkpoint(el, work, grid)) != need[el]]
    log(f"{sum(map(len, need.values()))} tables of {len(need)} elements missing from {gosh_path}; "
        f"{len(todo)} elements to compute")
    t0, cpu_total, failures = time.perf_counter(), 0.0, {}
    for el, outcome in _computed(todo, need, grid, work, workers):
        if isinstance(outcome, Exception):
            failures[el] = repr(outcome)
            log(f"{el} FAILED: {outcome!r}")
        else:
            cpu_total += outcome[2]
            log(f"{el} {need[el]}: {outcome[1]:.1f} s wall, {outcome[2]:.1f} s CPU")
    summary = {"tables": sum(map(len, need.values())), "failures": failures,
               "wall_s": time.perf_counter() - t0, "cpu_s": cpu_total, "output": None}
    if failures or not need:
        log("nothing added" + (f": {len(failures)} element(s) failed" if failures else ": no table missing"))
        return summary
    tables = [t for el in need for t in load_checkpoint(el, work, grid)]
    out = add_tables(gosh_path, tables, output)
    summary["output"] = str(out)
    log(f"added {len(tables)} tables: {out} ({Path(out).stat().st_size / 1e6:.2f} MB)")
    return summary


def _grid_key(grid) -> str:
    return repr(sorted(asdict(grid).items()))


def compute_element(element: str, tables: list[str], grid, work: Path) -> tuple[str, float, str]:
    """Compute and checkpoint one element; returns (element, wall seconds, CPU seconds)."""
    from eels_helpers.physics.atomic_gos import compute_gos_table, lda_atom

    ckpt = work / f"{element}.npz"
    t0 = time.perf_counter()
    c0 = time.process_time()
    atom = lda_atom(element)
    arrays = {"grid": np.array(_grid_key(grid)), "tables": np.array(tables)}
    for tab in tables:
        t = compute_gos_table(element, tab, grid, atom=atom)
        arrays[f"{tab}__dfde"] = t.dfde_per_eV.astype(np.float32)
        arrays[f"{tab}__E"] = t.free_energies_eV
        arrays[f"{tab}__q"] = t.q_inv_m
        arrays[f"{tab}__meta"] = np.array([t.ionization_energy_eV, t.n, t.l,
                                           t.attrs["occupation"]])
    cpu = time.process_time() - c0
    arrays["cpu_s"] = np.array(cpu)
    tmp = work / f".{element}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, ckpt)
    return element, time.perf_counter() - t0, cpu


def load_checkpoint(element: str, work: Path, grid):
    """The GosTables of one checkpoint, or None when absent or made with another grid."""
    from eels_helpers.physics.gos_tables import GosTable

    ckpt = work / f"{element}.npz"
    if not ckpt.exists():
        return None
    with np.load(ckpt) as z:
        if str(z["grid"]) != _grid_key(grid):
            return None
        out = []
        for tab in [str(s) for s in z["tables"]]:
            I, n, l, occ = z[f"{tab}__meta"]
            out.append(GosTable(element=element, table=tab, q_inv_m=z[f"{tab}__q"],
                                free_energies_eV=z[f"{tab}__E"], dfde_per_eV=z[f"{tab}__dfde"],
                                ionization_energy_eV=float(I), n=int(n), l=int(l),
                                attrs={"occupation": float(occ)}))
        return out


def compress_gosh(path: Path) -> None:
    """Rewrite a GOSH file in place with gzip(6)+shuffle on its large datasets (~30 % smaller;
    transparent to h5py, exspy and pyEELSMODEL)."""
    import h5py

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")

    def copy(src, dst):
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for name, obj in src.items():
            if isinstance(obj, h5py.Group):
                copy(obj, dst.create_group(name))
            else:
                kw = ({"compression": "gzip", "compression_opts": 6, "shuffle": True}
                      if obj.size > 1000 else {})
                d = dst.create_dataset(name, data=obj[()], **kw)
                for k, v in obj.attrs.items():
                    d.attrs[k] = v

    with h5py.File(path, "r") as a, h5py.File(tmp, "w") as b:
        copy(a, b)
    os.replace(tmp, path)


def _computed(todo, need, grid, work, workers):
    """Yield (element, compute_element result or the exception it raised), in process when
    ``workers`` <= 1 (no pickling; used by the tests), else from a process pool as finished."""
    if int(workers) <= 1:
        for el in todo:
            try:
                yield el, compute_element(el, need[el], grid, work)
            except Exception as exc:
                yield el, exc
        return
    with ProcessPoolExecutor(max_workers=int(workers)) as pool:
        futs = {pool.submit(compute_element, el, need[el], grid, work): el for el in todo}
        for fut in as_completed(futs):
            try:
                yield futs[fut], fut.result()
            except Exception as exc:
                yield futs[fut], exc


def regenerate(elements=None, *, output=None, work=DEFAULT_WORK, workers=1, grid=None,
               write=True, log=None) -> dict:
    """Compute (resumably) and write the GOSH file; returns a summary dict."""
    from eels_helpers.physics import gos_tables as gos
    from eels_helpers.physics.atomic_gos import GosGrid

    grid = grid or GosGrid()
    log = log or (lambda *args: print(*args, flush=True))
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    need = tables_needed(elements)
    if elements is not None:
        missing = sorted(set(elements) - set(need))
        if missing:
            raise SystemExit(f"no edge subshell with onset in {ONSET_RANGE_EV} eV for: {missing}")
    todo = [el for el in need if load_checkpoint(el, work, grid) is None
            or sorted(t.table for t in load_checkpoint(el, work, grid)) != sorted(need[el])]
    n_tab = sum(len(v) for v in need.values())
    log(f"{len(need)} elements, {n_tab} tables; {len(need) - len(todo)} elements already done,"
        f" {len(todo)} to compute with {workers} worker(s); work folder {work}")
    t0 = time.perf_counter()
    done = 0
    cpu_total = 0.0
    failures = {}
    for el, outcome in _computed(todo, need, grid, work, workers):
        done += 1
        if isinstance(outcome, Exception):  # keep going; report at the end
            failures[el] = repr(outcome)
            el_msg = f"{el} FAILED: {outcome!r}"
        else:
            _, sec, cpu = outcome
            cpu_total += cpu
            el_msg = f"{el} ({len(need[el])} tables) {sec:.1f} s wall, {cpu:.1f} s CPU"
        wall = time.perf_counter() - t0
        log(f"[{done}/{len(todo)}] {el_msg}; elapsed {wall / 60:.1f} min, "
            f"ETA {wall / done * (len(todo) - done) / 60:.1f} min")
    wall = time.perf_counter() - t0
    summary = {"elements": len(need), "tables": n_tab, "computed": len(todo) - len(failures),
               "failures": failures, "wall_s": wall, "cpu_s": cpu_total, "output": None}
    if write:
        if failures:
            log(f"not writing the GOSH file: {len(failures)} element(s) failed: {failures}")
            return summary
        tables = []
        for el in need:
            tables.extend(load_checkpoint(el, work, grid))
        output = Path(output) if output else gos.BUILTIN_GOS_PATH
        meta = {
            "name": "eels_helpers in-house GOS (LDA all-electron atom, nl-resolved)",
            "authors": "eels_helpers contributors",
            "license": "CC-BY-4.0",
            "message": ("df/dE per eV for whole nl shells; j-subshell = table x occupancy ratio. "
                        "GPAW scalar-relativistic LDA atom + Latter tail, Numerov continuum, "
                        f"l' <= {grid.l_max}; free energies above the LDA threshold; no "
                        "bound-bound transitions. Regenerate with scripts/regenerate_gos.py."),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "grid": _grid_key(grid),
        }
        gos.write_gosh(output, tables, None, meta)
        compress_gosh(output)
        summary["output"] = str(output)
        log(f"wrote {output} ({output.stat().st_size / 1e6:.2f} MB, {len(tables)} tables)")
    return summary


def main(argv=None) -> int:
    from eels_helpers.physics.atomic_gos import GosGrid

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--elements", nargs="+", help="subset of element symbols (default: all)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, help="checkpoint folder")
    p.add_argument("--output", type=Path, default=None, help="GOSH file (default: the builtin)")
    p.add_argument("--n-energies", type=int, default=GosGrid.n_energies)
    p.add_argument("--n-q", type=int, default=GosGrid.n_q)
    p.add_argument("--l-max", type=int, default=GosGrid.l_max)
    p.add_argument("--no-write", action="store_true", help="only compute checkpoints")
    p.add_argument("--other-edges", action="store_true",
                   help="add the missing tables of the edges outside the 107 families to --output "
                        "(default: the builtin file), keeping every table already there")
    p.add_argument("--quiet", action="store_true",
                   help="no per-element progress lines (batch jobs); the final summary line stays")
    a = p.parse_args(argv)
    grid = GosGrid(n_energies=a.n_energies, n_q=a.n_q, l_max=a.l_max)
    if a.other_edges:
        from eels_helpers.physics.gos_tables import BUILTIN_GOS_PATH

        s = add_other_edges(a.output or BUILTIN_GOS_PATH, work=a.work, workers=a.workers, grid=grid,
                            elements=a.elements, log=(lambda *args: None) if a.quiet else None)
        print(f"other_edges_wall_s={s['wall_s']:.1f} cpu_s={s['cpu_s']:.1f} tables={s['tables']} "
              f"failures={len(s['failures'])}")
        return 1 if s["failures"] else 0
    s = regenerate(a.elements, output=a.output, work=a.work, workers=a.workers, grid=grid,
                   write=not a.no_write, log=(lambda *args: None) if a.quiet else None)
    print(f"regeneration_wall_s={s['wall_s']:.1f} cpu_s={s['cpu_s']:.1f} "
          f"computed_elements={s['computed']} "
          f"failures={len(s['failures'])}")
    return 1 if s["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
