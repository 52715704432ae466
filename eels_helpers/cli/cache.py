"""``eels-id cache``: where the simulator's shape-table cache is, how big, its size cap; ``--clear``
empties it (:mod:`eels_helpers.simulation.table_cache`)."""

from __future__ import annotations

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clear", action="store_true",
                        help="remove every cached table (they are rebuilt on demand, ~10 s each); running "
                             "processes keep the tables they have open")


def _ago(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds < 2 * 86400 else f"{seconds / 86400:.0f} days"


def main(args: argparse.Namespace) -> int:
    import os
    import time

    from eels_helpers.cli import report_error
    from eels_helpers.simulation.table_cache import (
        CACHE_ENV,
        DEFAULT_MAX_GB,
        MAX_GB_ENV,
        cached_tables,
        clear,
        max_cache_bytes,
        shape_cache_dir,
    )

    folder = shape_cache_dir()
    if folder is None:
        print(f"the shape-table cache is off (${CACHE_ENV}=off): tables are built in each process")
        return 0
    try:
        cap = max_cache_bytes()
    except ValueError as err:
        report_error("eels-id cache", err, args)
        return 2
    if args.clear:
        removed, freed = clear(folder)
        print(f"{folder}: removed {removed} tables, {freed / 1e9:.2f} GB freed")
        return 0
    tables = cached_tables(folder)
    size = sum(s for _, s in tables.values())
    source = f"${MAX_GB_ENV}" if os.environ.get(MAX_GB_ENV, "").strip() else f"default {DEFAULT_MAX_GB:g} GB"
    rule = ("tables are kept until `eels-id cache --clear`" if cap is None else
            "least recently used tables beyond it are removed when a new one is written")
    print(f"shape-table cache: {folder} (${CACHE_ENV} moves it, ${CACHE_ENV}=off switches it off)")
    cap_text = "no cap" if cap is None else f"cap {cap / 1e9:g} GB"
    print(f"  {len(tables)} tables, {size / 1e9:.2f} GB; {cap_text} ({source}): {rule}")
    if tables:
        now = time.time()
        used = sorted(u for u, _ in tables.values())
        print(f"  last used: newest {_ago(now - used[-1])} ago, oldest {_ago(now - used[0])} ago")
    return 0
