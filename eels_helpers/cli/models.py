"""``eels-id models``: list the shipped models with their measured scores
(:func:`eels_helpers.training.release.models_table`), or print their model card."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=None,
                        help="a folder of model files (default: the models shipped with the package)")
    parser.add_argument("--card", action="store_true", help="print the full model card (MODELS.md) instead")


def main(args: argparse.Namespace) -> int:
    from eels_helpers.training.release import model_card, models_table, shipped_cards

    directory = args.dir
    if directory is not None and not directory.is_dir():
        print(f"eels-id models: error: --dir {directory} is not a folder", file=sys.stderr)
        return 2
    if args.card:
        from eels_helpers.models.model_files import MODELS_DIR

        print(model_card(shipped_cards(directory if directory is not None else MODELS_DIR)))
    else:
        print(models_table(directory))
    return 0
