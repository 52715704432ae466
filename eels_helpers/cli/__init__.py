"""The ``eels-id`` command line.

Each sub-command lives in the module that does its work; that module exposes
``configure_parser(parser)`` and ``main(args) -> int``. Modules are imported lazily so
that ``eels-id --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: sub-command -> (module, one-line help)
COMMANDS = {
    "book": ("eels_helpers.book.runner", "execute the notebooks with papermill and build the book"),
    "simulate": ("eels_helpers.datasets.hdf5", "simulate spectra: a dataset to HDF5 or a quick plot"),
    "train": ("eels_helpers.training.loop", "train an architecture on simulated spectra"),
    "predict": ("eels_helpers.inference.predict", "identify the elements in spectrum files"),
    "map": ("eels_helpers.inference.mapping", "map elements in a spectrum image"),
    "models": ("eels_helpers.training.release", "list the shipped models with their measured scores"),
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
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
