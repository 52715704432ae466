"""``eels-id simulate``: simulate spectra, as a dataset (``dataset``) or a quick look (``preview``).

``eels-id simulate dataset --profile cpu --out data/cpu.h5 --workers 2`` writes the paper's splits
to HDF5 (:func:`eels_helpers.datasets.hdf5_writer.write_dataset`; an interrupted run resumes when
rerun with the same arguments); ``eels-id simulate preview --elements Ce,O --n 5 --plot ceo2.png``
prints and plots a few spectra of one specimen (:mod:`eels_helpers.simulation.preview`). Each
sub-command has its own flags, so argparse rejects a flag of the other mode. The library modules
are imported inside :func:`main`: ``eels-id simulate --help`` imports neither torch nor h5py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eels_helpers.cli import add_quiet_option, report_error, show_progress
from eels_helpers.cli.arguments import finite_float, finite_float_list, non_negative_int
from eels_helpers.datasets.config import SPLITS
from eels_helpers.simulation.named_configs import NAMED_CONFIGS, named_config_help

PROG = "eels-id simulate"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Simulate spectra. Either a dataset: simulate dataset --profile PROFILE --out FILE [--workers N] "
        "[--shard I/N] [--seed S] (an interrupted run resumes when rerun with the same arguments); "
        "or a quick look: simulate preview --elements Ce,O --n 5 --plot OUT.png.")
    modes = parser.add_subparsers(dest="simulate_mode", metavar="MODE")
    g = modes.add_parser("dataset", help="the paper's splits (scaled by a profile) to an HDF5 file",
                         description="Simulate the paper's splits, scaled by a profile, to an HDF5 file "
                                     "(OUT.partial while running; an interrupted run resumes when rerun "
                                     "with the same arguments).")
    g.add_argument("--profile", required=True, help="smoke, cpu or paper (736,000 spectra)")
    g.add_argument("--out", type=Path, required=True, help="HDF5 file to write (OUT.partial while running)")
    g.add_argument("--workers", type=int, default=1, help="simulation processes (default 1)")
    g.add_argument("--shard", default="0/1", help="write shard I of N (0-based), e.g. 3/16")
    g.add_argument("--seed", type=non_negative_int, default=0, help="random seed, >= 0 (default 0)")
    g.add_argument("--splits", default=",".join(SPLITS), help=f"comma-separated subset of {','.join(SPLITS)}")
    g.add_argument("--dtype", default="float32", choices=("float32", "float16"), help="spectra storage dtype")
    g.add_argument("--scale", type=finite_float, help="override the profile's dataset scale (1 = paper)")
    g.add_argument("--query-elements", help="comma-separated query elements (default: all 80), or "
                   "'simulatable': those the configured GOS source can draw")
    g.add_argument("--simulation", default="paper", choices=sorted(NAMED_CONFIGS), metavar="NAME",
                   help=f"simulator configuration: {named_config_help()}")
    add_quiet_option(g, no_progress=True)
    q = modes.add_parser("preview", help="a quick look: a few spectra of one specimen, printed and plotted",
                         description="A quick look: simulate a few spectra of one specimen, print their "
                                     "labels and plot them with the edges marked.")
    q.add_argument("--elements", required=True, help="comma-separated specimen elements, first = query, e.g. Ce,O")
    q.add_argument("--fractions", type=finite_float_list,
                   help="comma-separated atomic fractions (default: a Materials Project formula)")
    q.add_argument("--n", type=int, default=5, help="number of spectra (default 5)")
    q.add_argument("--plot", type=Path, help="PNG file for the quick look (its folder is created)")
    q.add_argument("--seed", type=non_negative_int, default=0, help="random seed, >= 0 (default 0)")
    q.add_argument("--simulation", default="paper", choices=sorted(NAMED_CONFIGS), metavar="NAME",
                   help=f"simulator configuration: {named_config_help()}")
    add_quiet_option(q)


def main(args: argparse.Namespace) -> int:
    """Run ``eels-id simulate MODE``; without MODE print the help (to stderr) and return 2."""
    if args.simulate_mode is None:
        parser = argparse.ArgumentParser(prog=PROG)
        configure_parser(parser)
        parser.print_help(sys.stderr)
        return 2
    from eels_helpers.datasets.hdf5_writer import InsufficientDiskSpace

    try:
        return _preview(args) if args.simulate_mode == "preview" else _dataset(args)
    except (ValueError, RuntimeError) as err:   # a bad value, or an --out that holds other work
        report_error(f"{PROG} {args.simulate_mode}", err, args)
        return 2
    except (InsufficientDiskSpace, OSError) as err:   # the work failed (disk full, unwritable)
        report_error(f"{PROG} {args.simulate_mode}", err, args)
        return 1


def _preview(args: argparse.Namespace) -> int:
    from eels_helpers.physics.elements import ELEMENTS
    from eels_helpers.simulation.named_configs import named_config
    from eels_helpers.simulation.preview import plot_quick_look, quick_look

    elements = [e.strip() for e in args.elements.split(",") if e.strip()]
    fractions = args.fractions     # a list of floats (finite_float_list) or None
    if args.plot is not None and args.plot.is_dir():
        raise ValueError(f"--plot {args.plot} is a directory; give a .png file path")
    spec, batch, formula = quick_look(elements, args.n, seed=args.seed, fractions=fractions,
                                      config=named_config(args.simulation))
    name = formula or " ".join(f"{e}{f:.2f}" for e, f in zip(spec.elements, spec.fractions))
    print(f"specimen {name} (query {spec.query}); {args.n} spectra")
    for i in range(args.n):
        lab = [ELEMENTS[j] for j in batch.labels_identification[i].nonzero()[0]]
        print(f"  spectrum {i}: labelled {' '.join(lab) or '(none)'}")
    if args.plot:
        args.plot.parent.mkdir(parents=True, exist_ok=True)      # as predict --plot does
        plot_quick_look(spec, batch, args.plot, title=f"{name}: {args.n} simulated spectra")
        print(f"wrote {args.plot}")
    return 0


def _dataset(args: argparse.Namespace) -> int:
    from eels_helpers.datasets.config import DatasetConfig, parse_shard, plan_units, simulatable_elements
    from eels_helpers.datasets.hdf5_writer import write_dataset
    from eels_helpers.simulation.named_configs import named_config

    if args.out.is_dir():
        raise ValueError(f"--out {args.out} is a directory; give a .h5 file path")
    overrides = {"splits": tuple(s.strip() for s in args.splits.split(",") if s.strip()),
                 "dtype": args.dtype}
    if args.simulation != "paper":
        overrides["simulation"] = named_config(args.simulation)
    if args.scale is not None:
        overrides["scale"] = args.scale
    if args.query_elements == "simulatable":
        overrides["elements"], left_out = simulatable_elements(overrides.get("simulation"))
        if left_out:
            print(f"leaving out {len(left_out)} query elements the GOS source cannot draw: "
                  f"{', '.join(left_out)}", file=sys.stderr)
    elif args.query_elements:
        overrides["elements"] = tuple(e.strip() for e in args.query_elements.split(",") if e.strip())
    config = DatasetConfig.from_profile(args.profile, **overrides)
    shard = parse_shard(args.shard)
    n = sum(u.n_rows for u in plan_units(config) if u.id % shard[1] == shard[0])
    if show_progress(args):
        print(f"profile {args.profile}: {config.n_spectra():,} spectra (scale {config.scale:g}); "
              f"shard {shard[0]}/{shard[1]}: {n:,} spectra -> {args.out}", file=sys.stderr)
    summary = write_dataset(args.out, config, seed=args.seed, workers=args.workers, shard=shard,
                            progress=show_progress(args))
    if not show_progress(args):      # --quiet: the file is the result
        return 0
    if summary["units_computed"] == 0:
        print(f"{args.out} is already complete", file=sys.stderr)
    else:
        print(f"wrote {args.out}: {summary['units_computed']} units in {summary['seconds']:.1f} s "
              f"({summary['spectra_per_s']:,.0f} spectra/s)", file=sys.stderr)
    return 0
