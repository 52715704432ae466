"""``eels-id failures``: run a model on labelled real spectra and group every mistake by cause
(:func:`eels_helpers.evaluation.failure_analysis.analyse_failures`).

::

    eels-id failures [--model NAME|PATH] [--experimental-dir DIR] [--threshold T]
                     [--keep-twins] [--allow-radioactive] [--compare NAME|PATH] [--out DIR] [--json]
                     [--device auto|cpu|cuda]

The spectra: ``--experimental-dir`` (a folder with ``manifest.csv``), else
``$EELS_ID_EXPERIMENTAL_DIR``, else the real spectra that ship with installed packages (said on
stderr). The threshold: the model file's own unless ``--threshold``. The elements are decided as
``eels-id predict`` decides them: where both twins of a pair with a shipped resolver (``eels-id
models`` lists them) reach the threshold, the twin
resolver drops one (listed; ``--keep-twins``: both kept), and Tc and Pm, which have no stable isotope,
are withheld (``--allow-radioactive``: reported). The table lists each cause
(rules in :mod:`eels_helpers.evaluation.failure_analysis`, applied in order, first match wins)
with its false positives, false negatives and files; ``--json`` prints the groups and every
mistake as JSON; ``--out DIR`` writes one figure per non-empty group (the network input over
simulated spectra of the same composition and window) and ``MODEL_mistakes.csv``.

``--compare B``: B is analysed the same way (at its own file's threshold) and compared with the
model on the same spectra (:mod:`eels_helpers.evaluation.paired_comparison`): F1 and exact match
of both, their difference with a 95 % interval over resampled compound groups, and the files that
only one of them gets exactly right (``"comparison"`` in ``--json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eels_helpers.cli.arguments import device_name, probability


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from eels_helpers.cli import add_radioactive_option

    parser.add_argument("--model", default="default",
                        help="shipped model name (default, ensemble, ...) or a .pt file from `eels-id train` [default]")
    parser.add_argument("--experimental-dir", type=Path, default=None, metavar="DIR",
                        help="folder of real spectra with a manifest.csv (columns file, elements, optional "
                             "energy_offset_eV, notes) [$EELS_ID_EXPERIMENTAL_DIR, else the spectra shipped with "
                             "installed packages]")
    parser.add_argument("--threshold", type=probability, default=None, metavar="T",
                        help="probability threshold in (0, 1) [the model file's own]")
    parser.add_argument("--keep-twins", action="store_true",
                        help="keep both twins of a resolved pair (`eels-id models` lists them) where both reach "
                             "the threshold [resolved, as predict]")
    add_radioactive_option(parser)
    parser.add_argument("--compare", default=None, metavar="MODEL",
                        help="a second model (name or .pt file), analysed at its own threshold and compared with "
                             "--model on the same spectra: F1 and exact match, their difference with a 95 %% interval "
                             "over resampled compound groups, the files only one gets right")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="write one PNG per group (the network input over simulated spectra of the same "
                             "composition and window) and MODEL_mistakes.csv into DIR")
    parser.add_argument("--json", action="store_true", help="print the groups and every mistake as JSON")
    parser.add_argument("--device", type=device_name, default="cpu", help="auto, cpu or cuda [cpu]")


def format_table(analysis) -> str:
    """The text table: one line per cause (counts), then the files of each non-empty group."""
    table = analysis.table
    n_fp, n_fn = int(table["false positives"].sum()), int(table["false negatives"].sum())
    n = len(analysis.manifest)
    lines = [f"model {analysis.model}, threshold {analysis.threshold:.2f}, {n} spectra: "
             f"{n_fp} false positives, {n_fn} false negatives (carbon left out); exact match on all of them "
             f"{analysis.exact_matches}/{n}",
             analysis.neighbour_pairs.summary(),
             *(f"{f}: {d.describe()}" for f, d in analysis.twins),
             "('alone': spectra whose only mistakes have that cause, the exact matches its removal would add)",
             f"{'cause':<45} {'FP':>4} {'FN':>4} {'spectra':>8} {'alone':>6}"]
    for rec in table.to_dict("records"):
        lines.append(f"{rec['title']:<45} {rec['false positives']:>4} {rec['false negatives']:>4} {rec['spectra']:>8}"
                     f" {rec['alone']:>6}")
    for rec in table.to_dict("records"):
        if rec["files"]:
            lines.append(f"\n{rec['title']}:")
            for m in (m for m in analysis.mistakes if m.cause == rec["cause"]):
                lines.append(f"  {m.file}: {m.kind} {m.element} (p={m.probability:.2f}) {m.reason}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from eels_helpers.cli import report_error, show_progress
    from eels_helpers.device import resolve_device
    from eels_helpers.evaluation.failure_analysis import analyse_failures
    from eels_helpers.evaluation.real_spectra import ManifestError
    from eels_helpers.models.model_files import ModelNotFoundError

    if args.out is not None and args.out.exists() and not args.out.is_dir():
        print(f"eels-id failures: error: --out {args.out} exists and is not a folder", file=sys.stderr)
        return 2
    if args.experimental_dir is not None and not (args.experimental_dir / "manifest.csv").is_file():
        print(f"eels-id failures: error: --experimental-dir {args.experimental_dir}: no manifest.csv there",
              file=sys.stderr)
        return 2
    try:
        device = resolve_device(args.device)
        analysis = analyse_failures(args.model, args.experimental_dir, threshold=args.threshold,
                                    device=device, keep_twins=args.keep_twins,
                                    allow_radioactive=args.allow_radioactive)
        comparison = None
        if args.compare is not None:
            from eels_helpers.evaluation.paired_comparison import compare_analyses

            other = analyse_failures(args.compare, manifest=analysis.manifest, device=device,
                                     keep_twins=args.keep_twins, allow_radioactive=args.allow_radioactive)
            comparison = compare_analyses(analysis, other)
    except (ModelNotFoundError, ManifestError, ValueError, OSError) as err:
        report_error("eels-id failures", err, args)
        return 2
    if show_progress(args):    # which spectra (a folder's, or those that ship with the package)
        print(f"eels-id failures: real spectra: {analysis.description}", file=sys.stderr)
    if args.json:
        out = analysis.to_dict()
        if comparison is not None:
            out["comparison"] = comparison.to_dict()
        print(json.dumps(out))
    else:
        print(format_table(analysis))
        if comparison is not None:
            print("\n" + comparison.summary())
    if args.out is not None:
        import pandas as pd

        from eels_helpers.evaluation.failure_figures import save_failure_figures

        paths = save_failure_figures(analysis, args.out)
        csv = args.out / f"{analysis.model}_mistakes.csv"
        tmp = csv.with_suffix(".tmp")
        columns = ["row", "file", "kind", "element", "probability", "cause", "reason"]
        pd.DataFrame([m.__dict__ for m in analysis.mistakes], columns=columns).to_csv(tmp, index=False)
        tmp.replace(csv)
        print(f"{len(paths)} figures and {csv.name} written to {args.out}",
              file=sys.stderr if args.json else sys.stdout)
    return 0
