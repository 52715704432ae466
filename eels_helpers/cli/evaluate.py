"""``eels-id evaluate``: a model's scores on labelled real spectra by compound-grouped
cross-validation, and its invention rates on the open-world suite
(:func:`eels_helpers.evaluation.cross_validation.model_report`).

::

    eels-id evaluate [MODEL ...] [--experimental-dir DIR] [--splits N] [--suite N] [--film-images N]
                     [--superlattices N] [--keep-twins] [--allow-radioactive] [--json]

For each model (shipped name or model file; default ``default``): on the real spectra
(``--experimental-dir``, else ``$EELS_ID_EXPERIMENTAL_DIR``, else the spectra shipped with the
package), for each of ``--splits`` grouped splits the threshold is chosen on the validation half
by the paper's rule and the test half scored at it, carbon left out; the means are printed with
each split's threshold; then the same splits as ``eels-id predict`` decides, with reported onset
twins resolved (:mod:`eels_helpers.inference.twin_resolution`; ``--keep-twins``: the network
alone only) and Tc and Pm withheld (:mod:`eels_helpers.inference.unstable_elements`;
``--allow-radioactive``: reported). Then the open-world suite (``--suite`` spectra per kind), as
``predict`` decides: the fraction of spectra where an element other than the true ones is reported,
at the model's own threshold. Then ``--film-images`` carbon-film spectrum images of 10 x 10 pixels
(:mod:`eels_helpers.evaluation.film_images`), mapped as ``eels-id map`` does: the images that keep an
element other than carbon (empty pixels must give none). Then ``--superlattices`` synthetic
superlattices of 60 x 130 pixels (seeds 2023, 2024, ...; :mod:`eels_helpers.evaluation.superlattice_maps`),
mapped likewise: how many keep exactly the elements with an edge in the window, and which extra ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from eels_helpers.cli import add_radioactive_option
    from eels_helpers.cli.arguments import device_name
    from eels_helpers.evaluation.film_images import N_IMAGES, SEED

    parser.add_argument("models", nargs="*", default=["default"], metavar="MODEL",
                        help="shipped model names or .pt files [default]")
    parser.add_argument("--experimental-dir", type=Path, default=None, metavar="DIR",
                        help="folder of real spectra with a manifest.csv [$EELS_ID_EXPERIMENTAL_DIR, else the "
                             "spectra shipped with the package]")
    parser.add_argument("--splits", type=int, default=5, metavar="N",
                        help="compound-grouped splits (seeds 0..N-1) [5]")
    parser.add_argument("--suite", type=int, default=25, metavar="N",
                        help="open-world spectra per kind; 0: skip the suite [25]")
    parser.add_argument("--film-images", type=int, default=N_IMAGES, metavar="N",
                        help=f"carbon-film spectrum images (10 x 10 pixels, seed {SEED}) mapped as `eels-id map` "
                             f"does; 0: skip them [{N_IMAGES}]")
    parser.add_argument("--superlattices", type=int, default=0, metavar="N",
                        help="synthetic superlattices (60 x 130 pixels, seeds 2023..2022+N, the training physics) "
                             "mapped as `eels-id map` does: which keep exactly the true elements; about 15-30 s "
                             "each on 2 cores [0: skip]")
    parser.add_argument("--per-element", action="store_true",
                        help="also score with one threshold per element chosen on each validation half")
    parser.add_argument("--keep-twins", action="store_true",
                        help="score the network alone only; by default the real spectra are also scored as "
                             "`eels-id predict` decides, with reported twins resolved "
                             "(the pairs `eels-id models` lists)")
    add_radioactive_option(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--device", type=device_name, default="cpu", help="auto, cpu or cuda [cpu]")


def main(args: argparse.Namespace) -> int:
    from eels_helpers.cli import report_error
    from eels_helpers.device import resolve_device
    from eels_helpers.evaluation.cross_validation import grouped_cross_validation, model_report
    from eels_helpers.evaluation.film_images import carbon_film_images, film_image_report
    from eels_helpers.evaluation.real_spectra import ManifestError, evaluation_set, manifest_inputs
    from eels_helpers.evaluation.superlattice_maps import superlattice_report
    from eels_helpers.evaluation.twin_resolved import resolved_cross_validation
    from eels_helpers.models.model_files import ModelNotFoundError

    if args.splits < 1 or args.suite < 0 or args.film_images < 0 or args.superlattices < 0:
        print("eels-id evaluate: error: --splits must be >= 1, --suite, --film-images and --superlattices >= 0",
              file=sys.stderr)
        return 2
    if args.experimental_dir is not None and not (args.experimental_dir / "manifest.csv").is_file():
        print(f"eels-id evaluate: error: --experimental-dir {args.experimental_dir}: no manifest.csv there",
              file=sys.stderr)
        return 2
    device = resolve_device(args.device)
    out = {}
    try:
        manifest, description = evaluation_set(args.experimental_dir)
        inputs = manifest_inputs(manifest)
        films = carbon_film_images(args.film_images) if args.film_images else []   # the same images for every model
        for model in args.models:
            report = model_report(model, manifest, inputs=inputs, seeds=range(args.splits),
                                  n_per_kind=args.suite, device=device,
                                  allow_radioactive=args.allow_radioactive)
            cv, rates = report["real"], report["open_world"]
            out[model] = {"real": cv.mean, "splits": cv.splits.to_dict("records"), "open_world": rates}
            if not args.keep_twins:
                table, decisions = resolved_cross_validation(model, manifest, seeds=range(args.splits),
                                                             network=cv, inputs=inputs,
                                                             allow_radioactive=args.allow_radioactive)
                out[model]["real_twins_resolved"] = {
                    "f1": float(table.loc["mean", "resolved_f1"]),
                    "exact_match": float(table.loc["mean", "resolved_exact_match"]),
                    "pairs_resolved_split0": len(decisions)}
            if films:
                film = film_image_report(model, films, device=device,
                                         allow_radioactive=args.allow_radioactive,
                                         keep_twins=args.keep_twins)
                out[model]["film_images"] = film.to_dict()
            if args.superlattices:
                lattices = superlattice_report(model, args.superlattices, device=device,
                                               allow_radioactive=args.allow_radioactive, keep_twins=args.keep_twins)
                out[model]["superlattices"] = lattices.to_dict()
            if args.per_element:
                pe = grouped_cross_validation(model, manifest, probabilities=cv.probabilities, seeds=range(args.splits),
                                              name=f"{model} (per-element thresholds)", per_element=True)
                out[model]["real_per_element"] = pe.mean
            if not args.json:
                print(cv.summary())
                if args.per_element:
                    print("  " + pe.summary())
                if not args.keep_twins:
                    r = out[model]["real_twins_resolved"]
                    withheld = "" if args.allow_radioactive else ", Tc/Pm withheld"
                    print(f"  as `eels-id predict` decides (onset twins resolved{withheld}): F1 {r['f1']:.3f}, "
                          f"exact match {r['exact_match']:.3f} "
                          f"({r['pairs_resolved_split0']} twin pairs resolved in split 0)")
                if rates:
                    print("  open-world suite, invented element: "
                          + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()))
                if films:
                    print("  " + film.summary())
                if args.superlattices:
                    print("  " + lattices.summary())
    except (ModelNotFoundError, ManifestError, ValueError, OSError) as err:
        report_error("eels-id evaluate", err, args)
        return 2
    if args.json:
        print(json.dumps({"spectra": description, "models": out}))
    else:
        print(f"real spectra: {description}")
    return 0
