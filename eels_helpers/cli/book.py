"""``eels-id book``: execute the chapter notebooks at a profile and build the book.

The work is done by :func:`eels_helpers.book.runner.run_book` (execution) and
:mod:`eels_helpers.book.build` (``_toc.yml``, offline assets, jupyter-book); this module holds the
command line and ``--list``. Only the light chapter registry and profiles are imported at module
level, so that ``eels-id --help`` stays fast.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Mapping, Sequence

from eels_helpers import profiles as _profiles
from eels_helpers.book import chapters as _chapters


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    profiles_help = "; ".join(f"{p.name}: {p.description}" for p in _profiles.PROFILES.values())
    parser.add_argument(
        "--profile", default=_profiles.DEFAULT_PROFILE, metavar="|".join(_profiles.PROFILES),
        help=f"run scale (default {_profiles.DEFAULT_PROFILE}). {profiles_help}",
    )
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="NAME",
        help="execute only these chapters (page names, e.g. 01_introduction or "
        "04_train_architecture_vit; a notebook run several times, e.g. 04_train_architecture, "
        "selects all its pages)",
    )
    parser.add_argument(
        "--param", action="append", default=[], metavar="[NOTEBOOK.]KEY=VALUE",
        help="override a parameter (VALUE is a Python literal, else a string); "
        "KEY=VALUE applies to every selected notebook that declares KEY; NOTEBOOK may be a "
        "page (04_train_architecture_vit) or a notebook (all its pages); repeatable",
    )
    parser.add_argument(
        "--rehearse", action="store_true",
        help="with --profile paper: rehearse it on the CPU (the paper's network sizes and code paths, "
        "tiny step and sample sizes; minutes) instead of the full run on a GPU node",
    )
    parser.add_argument("--no-build", action="store_true", help="execute the notebooks only")
    parser.add_argument(
        "--output", type=Path, default=None, metavar="DIR",
        help="build folder root: HTML goes to DIR/_build/html (default: the project root); the executed "
        "notebooks are written to the project's book/executed either way (unused with --no-build)",
    )
    parser.add_argument("--root", type=Path, default=None, metavar="DIR",
                        help="project folder with _toc.yml and notebooks/ (default: found)")
    from eels_helpers.cli import add_quiet_option

    add_quiet_option(parser, no_progress=True)
    parser.add_argument("--list", action="store_true",
                        help="list the chapters with their parameters at --profile, run nothing")
    parser.add_argument("--papermill-params", metavar="PAGE", default=None,
                        help="print, as a YAML file for `papermill NOTEBOOK OUT -f FILE`, the parameters this "
                             "command would inject into PAGE at --profile (with --param and --rehearse); run "
                             "nothing. Plain papermill injects only what it is given: `-p profile paper` alone "
                             "leaves every other parameter at the notebook's (cpu) default")
    return parser


def papermill_parameters(page: str, profile: str, params: Sequence[str] = (), rehearse: bool = False,
                         root: Path | None = None) -> tuple[Path, dict]:
    """(notebook, parameters) of book page ``page`` at ``profile``: exactly what ``eels-id book``
    injects there (:func:`eels_helpers.book.runner.resolve_parameters`, ``params`` as ``--param``), for a
    run with plain papermill. BookUsageError for an unknown page or parameter, ValueError for an
    unknown profile."""
    from eels_helpers.book.build import BookUsageError, project_root
    from eels_helpers.book.runner import NOTEBOOK_DIR, notebook_parameters, parse_param, resolve_parameters

    _profiles.validate_profile(profile)
    if rehearse and profile != _chapters.REHEARSED_PROFILE:
        raise ValueError(f"--rehearse rehearses the {_chapters.REHEARSED_PROFILE!r} profile, not {profile!r}")
    registry = _chapters.expand_chapters(_chapters.REGISTRY)
    if page not in registry:
        raise BookUsageError(f"--papermill-params {page}: no such page; pages: {', '.join(registry)}")
    chapter = registry[page]
    notebook = (Path(root) if root is not None else project_root()) / NOTEBOOK_DIR / f"{chapter.notebook}.ipynb"
    overrides = [parse_param(p) for p in params]
    declared = notebook_parameters(notebook)
    for ov in overrides:
        if ov.key not in declared and ov.notebook in (None, chapter.name, chapter.notebook):
            raise BookUsageError(f"--param {ov.key}: {page} declares no such parameter; its parameters: "
                                 f"{', '.join(sorted(declared))}")
    return notebook, resolve_parameters(chapter, profile, declared, overrides, rehearse=rehearse)[0]


def list_chapters(profile: str, registry: Mapping[str, _chapters.Chapter] | None = None,
                  rehearse: bool = False, only: Sequence[str] = ()) -> str:
    """One line per registered chapter (``only``: those pages, or every page of those notebooks):
    name, budget and parameters at ``profile`` (``rehearse``: in the rehearsal of the paper profile
    on the CPU). ValueError for an unknown profile, BookUsageError for an unknown chapter."""
    from eels_helpers.book.runner import select_chapters

    _profiles.validate_profile(profile)
    registry = _chapters.expand_chapters(_chapters.REGISTRY if registry is None else registry)
    registry = {n: registry[n] for n in select_chapters(list(registry), registry, only)}
    shared = _profiles.shared_parameters(profile)
    if rehearse:
        if profile != _chapters.REHEARSED_PROFILE:
            raise ValueError(f"--rehearse rehearses the {_chapters.REHEARSED_PROFILE!r} profile, not {profile!r}")
        shared["device"] = _chapters.REHEARSAL_DEVICE
    shared_text = ", ".join(f"{k}={v!r}" for k, v in shared.items())
    lines = [f"profile {profile!r}{' (rehearsal on the CPU)' if rehearse else ''}: "
             f"{_profiles.PROFILES[profile].description}",
             f"shared parameters (where declared): {shared_text}", "chapters [budget]:"]
    for name, ch in registry.items():
        budget = ch.budget_minutes.get(profile)
        own = {**ch.params(profile), **(ch.rehearse if rehearse else {})}
        params = ", ".join(f"{k}={v!r}" for k, v in own.items()) or "-"
        lines.append(f"  {name}  [{'?' if budget is None else budget} min]  {params}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from eels_helpers.book.build import BookError, BookUsageError
    from eels_helpers.book.runner import run_book
    from eels_helpers.cli import report_error, show_progress

    t0 = time.perf_counter()
    if getattr(args, "list", False):     # a wrong profile, chapter or option: a usage error (2)
        try:
            if args.param:
                raise ValueError("--list shows each chapter's parameters at --profile; --param is for a run")
            print(list_chapters(args.profile, rehearse=args.rehearse, only=args.only))
        except (ValueError, BookUsageError) as err:
            report_error("eels-id book", err, args)
            return 2
        return 0
    if args.papermill_params:
        import yaml

        try:
            notebook, values = papermill_parameters(args.papermill_params, args.profile, args.param,
                                                    rehearse=args.rehearse, root=args.root)
        except (ValueError, BookUsageError) as err:
            report_error("eels-id book", err, args)
            return 2
        print(f"# {args.papermill_params} at profile {args.profile}, as `eels-id book` runs it:\n"
              f"# papermill {notebook} OUT.ipynb -f THIS_FILE --cwd {notebook.parent}")
        print(yaml.safe_dump(values, sort_keys=False, default_flow_style=False).rstrip())
        return 0
    try:
        result = run_book(
            args.profile, only=args.only, params=args.param, build=not args.no_build,
            output=args.output, root=args.root, progress=show_progress(args), rehearse=args.rehearse,
        )
    except BookError as err:      # BookUsageError: unknown profile, chapter or parameter (2)
        report_error("eels-id book", err, args)
        return 2 if isinstance(err, BookUsageError) else 1
    total = time.perf_counter() - t0
    summary = (f"executed {len(result.chapters)} notebook(s) with profile {result.profile}"
               + (" (rehearsal on the CPU)" if result.rehearsal else ""))
    if result.html_dir is not None:
        summary += f"; book built in {result.build_duration_s:.1f} s: {result.html_dir / 'index.html'}"
    print(f"{summary} (total {total:.1f} s)")
    return 0
