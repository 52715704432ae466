"""``eels-id models``: list the shipped models with their measured scores
(:func:`eels_helpers.training.release.models_table`), or print their model card.

A ``.pt`` file in the folder that cannot be read (or refers to a network file that is missing)
does not stop the listing: the others are listed, one line ``eels-id models: skipped FILE: why``
per bad file follows on stderr, and the status is 1 (as ``eels-id predict`` with a bad file
among several). A training run's ``checkpoint.pt`` (its state, for ``eels-id train --resume``) is not a
model file and is left out. A folder without any other ``.pt`` file is an error (status 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=None,
                        help="a folder of model files (default: the models shipped with the package)")
    parser.add_argument("--card", action="store_true", help="print the full model card (MODELS.md) instead")


def main(args: argparse.Namespace) -> int:
    from eels_helpers.training.release import model_card, model_paths, models_table, shipped_cards

    directory = args.dir
    if directory is not None and not directory.is_dir():
        print(f"eels-id models: error: --dir {directory} is not a folder", file=sys.stderr)
        return 2
    from eels_helpers.models.model_files import MODELS_DIR
    from eels_helpers.training.runs import CHECKPOINT

    folder = directory if directory is not None else MODELS_DIR
    if not model_paths(folder):     # nothing to list (a run's checkpoint is not a model): the work failed (1)
        print(f"eels-id models: error: no model files (*.pt) in {folder}"
              + (f" ({CHECKPOINT} is a training run's state, for eels-id train --resume)"
                 if (folder / CHECKPOINT).is_file() else ""), file=sys.stderr)
        return 1
    bad = unreadable_models(folder)
    skip = [path for path, _ in bad]
    print(model_card(shipped_cards(folder, skip)) if args.card else models_table(directory, skip))
    if not args.card and directory is None:
        print(verification_defaults())
        print(twin_resolvers())
    sys.stdout.flush()
    for path, why in bad:
        print(f"eels-id models: skipped {path}: {why}", file=sys.stderr)
    return 1 if bad else 0


def unreadable_models(folder: Path) -> list[tuple[Path, str]]:
    """``(file, why)`` for every ``*.pt`` in ``folder`` that cannot be listed: not a readable
    model file, or one that refers to a network file that is missing."""
    from eels_helpers.cli import _one_line
    from eels_helpers.models.model_files import model_files, read_info
    from eels_helpers.training.release import model_paths

    bad = []
    for path in sorted(model_paths(folder)):     # a run's checkpoint.pt is left out: not a model
        try:
            read_info(path)
            missing = [f for f in model_files(path) if not f.is_file()]
            if missing:
                raise FileNotFoundError(f"the network file it refers to, {missing[0]}, does not exist")
        except KeyError as err:
            bad.append((path, f"no {err} entry in the checkpoint"))
        except (ValueError, OSError, TypeError) as err:
            why = _one_line(err)
            if why.startswith(str(path)):     # the library's messages name the file: once is enough
                why = why[len(str(path)):].lstrip(":").strip()
                why = f"it {why}" if why.startswith("is ") else why
            bad.append((path, why))
    return bad


def verification_defaults() -> str:
    """Lines saying, per shipped model, whether `eels-id predict` verifies it by default and why."""
    from eels_helpers import shipped_model_names
    from eels_helpers.inference.verification_model import verification_helps

    lines = ["", "`eels-id predict` verifies (fits background + edges to confirm each element) when validation "
             "shows it helps:"]
    for name in shipped_model_names():
        helps, why = verification_helps(name)
        lines.append(f"  {name}: {'verified by default' if helps else 'network alone (--verify to verify)'}; {why}")
    return "\n".join(lines)


def twin_resolvers() -> str:
    """Lines naming the shipped twin resolvers: pairs, training configuration, simulated gate."""
    from eels_helpers.inference.twin_resolution import SWAP_CANDIDATE, resolver_summary
    from eels_helpers.models.twin_resolver import EARLY_END_MAX, LATE_START_MAX

    rows = resolver_summary()
    if not rows:
        return "\nno twin resolvers shipped: reported twins are kept as the network reports them"
    lines = ["", "`eels-id predict`, `evaluate`, `failures` and `map` resolve reported twins "
             "(--keep-twins keeps both):"]
    for r in rows:
        a, b = r["pair"]
        gate = ("" if r["gate_right"] is None else
                f"; right on {r['gate_right']:.2f} of {r['gate_spectra']} simulated spectra where the network "
                f"reports {'it' if a == b else 'both'}")
        notes = ([f"lone presence: {b} dropped wherever it is reported and its edge is absent"] if a == b else
                 [f"presence: {b} dropped where absent, {a} kept"] if r.get("presence") else [])
        if r.get("swap"):
            notes.append(f"also where only one reaches the threshold and the other has p >= {SWAP_CANDIDATE:g}")
        if r.get("late_start"):
            notes.append(f"windows starting up to {LATE_START_MAX} eV late read")
        if r.get("late_net"):
            notes.append(f"windows starting up to {LATE_START_MAX} eV late read by a second network trained on them")
        if r.get("early_end"):
            notes.append(f"windows ending up to {EARLY_END_MAX} eV early read")
        kind = f" ({'; '.join(notes)})" if notes else ""
        name = a if a == b else f"{a}/{b}"
        lines.append(f"  {name}{kind}: trained on {r['training_spectra']} `{r['config']}` spectra{gate}")
    return "\n".join(lines)
