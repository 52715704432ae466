"""The ``eels-id`` command line.

One module per sub-command (``eels_helpers.cli.<command>``), each exposing
``configure_parser(parser)`` and ``main(args) -> int``; the library modules hold no argparse.
Command modules are imported lazily so that ``eels-id --help`` stays fast.

This stage is the top of the package: it may import every stage below it (physics through book)
and the foundations; nothing imports it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: sub-command -> (module, one-line help)
COMMANDS = {
    "book": ("eels_helpers.cli.book", "execute the notebooks with papermill and build the book"),
    "simulate": ("eels_helpers.cli.simulate", "simulate spectra: a dataset to HDF5 or a quick plot"),
    "train": ("eels_helpers.cli.train", "train an architecture on simulated spectra"),
    "predict": ("eels_helpers.cli.predict", "identify the elements in spectrum files"),
    "map": ("eels_helpers.cli.map", "map elements in a spectrum image"),
    "models": ("eels_helpers.cli.models", "list the shipped models with their measured scores"),
    "failures": ("eels_helpers.cli.failures", "run a model on labelled real spectra and group its mistakes by cause"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eels-id", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue  # command not available in this version
        module.configure_parser(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from eels_helpers import show_logs

    show_logs()   # the library's progress lines and notices, on stderr
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
