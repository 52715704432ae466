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
        if directory is None:
            print(verification_defaults())
            print(twin_resolvers())
    return 0


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
        gate = ("" if r["gate_right"] is None else
                f"; right on {r['gate_right']:.2f} of {r['gate_spectra']} simulated spectra where the network "
                "reports both")
        notes = [f"presence: {r['pair'][1]} dropped where absent, {r['pair'][0]} kept"] if r.get("presence") else []
        if r.get("swap"):
            notes.append(f"also where only one reaches the threshold and the other has p >= {SWAP_CANDIDATE:g}")
        if r.get("late_start"):
            notes.append(f"windows starting up to {LATE_START_MAX} eV late read")
        if r.get("late_net"):
            notes.append(f"windows starting up to {LATE_START_MAX} eV late read by a second network trained on them")
        if r.get("early_end"):
            notes.append(f"windows ending up to {EARLY_END_MAX} eV early read")
        kind = f" ({'; '.join(notes)})" if notes else ""
        lines.append(f"  {'/'.join(r['pair'])}{kind}: trained on {r['training_spectra']} `{r['config']}` spectra{gate}")
    return "\n".join(lines)
