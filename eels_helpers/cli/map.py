"""``eels-id map``: element maps of a spectrum image (:mod:`eels_helpers.inference.mapping`).

::

    eels-id map FILE --out DIR [--model NAME|PATH] [--threshold T] [--offset EV]
                [--presence F] [--batch-size N] [--precision auto|fp32|bf16|int8] [--no-quantify]
                [--E0 KEV --alpha MRAD --beta MRAD] [--lowloss FILE] [--gos SRC]
                [--verify [--verify-blocks N]] [--keep-twins] [--twin-neighbourhood N] [--keep-spikes]
                [--keep-dead-channels] [--repair-gain-steps | --keep-gain-steps] [--keep-scattered]
                [--confirm-on-sums]

FILE is a spectrum image (.dm3/.dm4/.hspy/.emd ... read by :mod:`eels_helpers.inference.spectrum_files`), a file
written by :func:`eels_helpers.simulation.superlattice.save_si`, or the word ``superlattice`` (chapter
06's synthetic LaMnO3/BaTiO3/SrTiO3 superlattice, with the shipped networks' training physics; a synthetic
superlattice is quantified with its own GOS and white lines,
:func:`eels_helpers.inference.mapping.quantification_options`). DIR receives ``mapping.h5``
(probabilities, thresholded maps, kept elements, the scan's navigation axes with their pixel size as the file
gave them and, when quantified, amounts/fractions/chi2) and PNGs (``fig7.png``,
``probabilities.png``, ``thresholded.png``, ``quantification.png``). Everything is written to a
temporary directory first and moved into DIR only when complete; an error or Ctrl-C leaves nothing
new behind (not DIR either, when the run created it). Files of an earlier map in DIR that this run
does not write (``mapping.h5`` lists them; e.g. ``quantification.png`` after ``--no-quantify``) are
removed; no other file in DIR is touched.

Every option, the GOS source and DIR are checked before the file is read and the network runs
(a usage error, 2; DIR where nothing can be created: 1), and FILE's navigation axes (1 or 2) before the
network. The quantification's E0, alpha and beta are the options', else the file's, else 200 keV, 10
mrad and 30 mrad, as ``predict``'s verification takes them; a note on stderr names the defaulted ones.

``--verify`` checks the network's candidates by a model fit of the summed spectrum and of an
N x N grid of summed blocks (:func:`eels_helpers.inference.verification_rules.verify_regions`);
the quantification then fits the verified elements, and DIR also receives ``verification.json``
(the evidence per element, for the sum and per block) and ``verification.png``.
Where both twins of a pair with a shipped resolver (``eels-id models`` lists them) reach the
threshold in a pixel, the twin resolver keeps one there, reading the mean of the pixel's 3 x 3
neighbourhood (``--twin-neighbourhood``; 1: the pixel alone)
(:mod:`eels_helpers.inference.twin_resolution`; ``--keep-twins``: both stay).
Single-channel spikes in a pixel (cosmic rays, X-ray hits) are replaced by their neighbours' mean
first, as in ``predict`` (:mod:`eels_helpers.inference.spikes`; ``--keep-spikes`` leaves them),
and runs of dead channels filled (:mod:`eels_helpers.inference.dead_channels`;
``--keep-dead-channels``), and gain-change steps evened out (:mod:`eels_helpers.inference.gain_steps`;
``--keep-gain-steps``).
Kept elements that the network commonly confuses with each other get a ``caution:`` line
(:mod:`eels_helpers.inference.cautions`). An element whose above-threshold pixels are scattered (fewer
than half of them with such a neighbour) is not kept (:mod:`eels_helpers.inference.map_coherence`,
experiment S35; ``--keep-scattered`` keeps it), nor one whose pixels are no more clustered than random
pixels and that the sum of all pixels does not report (experiment Z37; ``--keep-scattered`` too).
``--confirm-on-sums`` keeps an element found in at most
10 % of the pixels only where ``predict`` also reports it on the summed spectrum of those pixels
(:mod:`eels_helpers.inference.map_confirmation`; off by default: experiments M35/M35b, research log).

Torch is imported inside :func:`main` and for ``--model``'s help, not at module level.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from eels_helpers.cli.arguments import device_name, energy_offset, finite_float, positive_int, probability
from eels_helpers.inference.mapping import PRESENCE_FRACTION, TWIN_NEIGHBOURHOOD
from eels_helpers.inference.verification_rules import MAX_BLOCKS as MAX_VERIFY_BLOCKS

EPILOG = ("E0, alpha and beta of the quantification are the options', else the file's, else 200 keV, "
          "10 mrad, 30 mrad as in `eels-id predict` (a note names the ones defaulted). All options and the "
          "output folder are checked before the network runs. DIR may hold an earlier map: this run "
          "replaces its files and removes those of them it does not write (e.g. quantification.png after "
          "--no-quantify); other files in DIR are left alone. Nothing is left half-written on an error or Ctrl-C.")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE",
                        help="spectrum image (.dm3 .dm4 .hspy .emd ...), a superlattice .h5, or "
                             "'superlattice' for chapter 06's synthetic one")
    parser.epilog = EPILOG
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (created; an earlier map's files in it are replaced or removed, "
                             "other files left alone)")
    from eels_helpers import FALLBACK_THRESHOLD, shipped_model_names
    from eels_helpers.cli import (
        add_channel_options,
        add_microscope_options,
        add_precision_option,
        add_radioactive_option,
    )

    parser.add_argument("--model", default="ensemble",
                        help=f"shipped model name ({', '.join(shipped_model_names()) or 'none installed'}) or a .pt "
                             "checkpoint [ensemble]")
    parser.add_argument("--threshold", type=probability, default=None, metavar="T",
                        help=f"probability threshold in (0, 1) [the model file's, else "
                             f"{FALLBACK_THRESHOLD}]")
    parser.add_argument("--offset", type=energy_offset, default=0.0, metavar="EV",
                        help="energy calibration error, file minus true, in eV, within +-500 eV [0]")
    parser.add_argument("--presence", type=finite_float, default=PRESENCE_FRACTION, metavar="F",
                        help="keep elements detected in more than this pixel fraction [0.01]")
    parser.add_argument("--batch-size", type=positive_int, default=256, metavar="N",
                        help="pixels per network call; lower it if memory runs short [256]")
    precision = parser.add_mutually_exclusive_group()      # one choice: no silent "last one wins"
    add_precision_option(precision)
    precision.add_argument("--bf16", action="store_const", const="bf16", dest="precision",
                           help="the same as --precision bf16")
    precision.add_argument("--int8", action="store_const", const="int8", dest="precision",
                           help="the same as --precision int8")
    parser.add_argument("--device", type=device_name, default="auto",
                        help="auto (cuda where available), cpu or cuda [auto]")
    parser.add_argument("--no-quantify", action="store_true",
                        help="skip the model-based quantification (E0, alpha, beta then unused)")
    add_microscope_options(parser)
    parser.add_argument("--lowloss", default=None, metavar="FILE",
                        help="low-loss spectrum of the same area (a spectrum file, or a spectrum image, summed), "
                             "zero-loss peak included, for the plural-scattering convolution of the quantification "
                             "[none: single scattering]")
    parser.add_argument("--gos", default=None, help="GOS source: auto, builtin, hydrogenic or a GOSH path [auto; "
                                                    "a synthetic superlattice's quantification: its own]")
    parser.add_argument("--verify", action="store_true",
                        help="confirm or reject the candidates by a model fit of the summed spectrum "
                             "and of summed blocks; quantify the verified elements")
    parser.add_argument("--keep-twins", action="store_true",
                        help="keep both twins of a resolved pair (`eels-id models`) in pixels where both reach "
                             "the threshold [the twin resolver keeps one, as in predict]")
    parser.add_argument("--twin-neighbourhood", type=int, default=TWIN_NEIGHBOURHOOD, metavar="N",
                        help="the twin resolver reads the mean of the pixel's N x N neighbourhood (odd; 1: the "
                             f"pixel alone) [{TWIN_NEIGHBOURHOOD}]")
    add_channel_options(parser, what="the pixels' counts")
    add_radioactive_option(parser)
    parser.add_argument("--keep-scattered", action="store_true",
                        help="keep an element whose above-threshold pixels are scattered (fewer than half of them "
                             "with an above-threshold neighbour, or no more clustered than random pixels and not "
                             "reported on the sum of all pixels) [not kept: noise pixels; research log S35, Z37]")
    parser.add_argument("--confirm-on-sums", action="store_true",
                        help="keep an element found in at most 10 %% of the pixels only where the summed spectrum "
                             "of those pixels reports it too (off by default: it helped on some carbon-film "
                             "images, not on others; research log M35b)")
    parser.add_argument("--verify-blocks", type=int, default=4, metavar="N",
                        help=f"with --verify: N x N blocks of the image are verified (1..{MAX_VERIFY_BLOCKS}) [4]")


def main(args: argparse.Namespace) -> int:
    from eels_helpers.cli import gain_steps_repaired, precision_bfloat16, report_error, show_progress
    from eels_helpers.inference.mapping import (
        map_elements,
        quantification_options,
        quantify_map,
        read_map_input,
        score_identification,
        score_quantification,
    )
    from eels_helpers.inference.mapping_output import write_results
    from eels_helpers.inference.prediction_text import image_decision_lines
    from eels_helpers.inference.spectrum_files import SpectrumFileError, read_spectrum
    from eels_helpers.models.model_files import ModelNotFoundError

    prog = "eels-id map"
    try:   # the command line, before any file is read: usage errors (2)
        _check_options(args)
    except ValueError as err:
        report_error(prog, err, args)
        return 2
    try:   # the output folder, before any work: a file given as --out is a usage error, no room a failure
        _check_out(args.out)
    except ValueError as err:
        report_error(prog, err, args)
        return 2
    except OSError as err:
        report_error(prog, err, args, f"cannot write to --out {args.out}: {err}")
        return 1
    microscope = None
    try:
        spectrum, lowloss, si = read_map_input(args.file)
        _check_image(spectrum, args.file)
        if args.lowloss:
            lowloss = read_spectrum(args.lowloss, check_window=False)     # a low-loss file may end below 75 eV
        if not args.no_quantify:     # E0, alpha, beta: known before the network pass
            microscope = _microscope(spectrum, args)
        mapping = map_elements(spectrum, args.model, args.threshold, args.presence,
                               args.batch_size, args.offset, bfloat16=precision_bfloat16(args.precision),
                               device=args.device, int8=args.precision == "int8", progress=show_progress(args),
                               keep_twins=args.keep_twins, twin_neighbourhood=args.twin_neighbourhood,
                               remove_spikes=not args.keep_spikes,
                               fill_dead_channels=not args.keep_dead_channels,
                               repair_gain_steps=gain_steps_repaired(args),
                               allow_radioactive=args.allow_radioactive, confirm_on_sums=args.confirm_on_sums,
                               spatial_coherence=not args.keep_scattered)
    except ModelNotFoundError as err:                # --model names nothing: a usage error
        report_error(prog, err, args)
        return 2
    except (SpectrumFileError, OSError) as err:      # a file missing or unreadable: failed
        report_error(prog, err, args)
        return 1
    except ValueError as err:                        # a value out of its range: a usage error
        report_error(prog, err, args)
        return 2
    n = int(np.prod(mapping.navigation_shape))
    print(f"{n} spectra mapped in {mapping.seconds:.1f} s with {mapping.model_name}; kept "
          f"(> {100 * mapping.presence:g} % of pixels at p >= {mapping.threshold:g}): "
          f"{', '.join(mapping.detected) or 'none'}")
    if mapping.withheld:
        print("withheld (no stable isotope; --allow-radioactive keeps them): "
              + ", ".join(f"{s} ({100 * f:.1f} % of pixels)" for s, f in mapping.withheld.items()))
    for line in image_decision_lines(mapping, "--keep-scattered"):
        print(line)
    quant, status, checked = None, 0, None
    to_quantify = mapping.detected
    if args.verify:
        checked = _verify(spectrum, mapping, args)
        if checked is None:
            status = 1
        else:
            to_quantify = checked["verified"]
    _print_cautions(spectrum, mapping, to_quantify, args.offset)
    if microscope is not None and to_quantify:
        try:
            # a synthetic superlattice is fitted with what it holds (its GOS, its white lines), as chapter 06 does
            options = quantification_options(si) if si is not None else {}
            options["gos"] = args.gos or options.get("gos", "auto")
            quant = quantify_map(spectrum, to_quantify, microscope["E0_keV"], microscope["alpha_mrad"],
                                 microscope["beta_mrad"], lowloss=lowloss, offset_eV=args.offset, **options)
            print(f"quantified {', '.join(quant.elements)} in {quant.seconds:.1f} s")
            by_reason: dict[str, list[str]] = {}
            for el, why in quant.result.skipped.items():
                by_reason.setdefault(why.split(" with its onset")[0], []).append(el)
            for why, els in by_reason.items():
                print(f"  not quantified ({why}): {', '.join(els)}")
        except ValueError as err:
            print(f"{prog}: quantification skipped: {err}", file=sys.stderr)
            status = 1
    scores = None
    if si is not None:
        scores = {"identification": score_identification(mapping, si.labels)}
        if quant is not None:
            scores["quantification"] = score_quantification(quant, si.fractions)
        print(_score_text(scores))
    created = [p for p in (Path(args.out), *Path(args.out).parents) if not p.exists()]
    try:
        written = write_results(args.out, spectrum, mapping, quant,
                                probes=si.probe_positions if si is not None else None,
                                truth=si, scores=scores,
                                extra=None if checked is None else lambda tmp: _write_verification(tmp, checked),
                                microscope_source=None if microscope is None else microscope["source"])
    except BaseException as err:      # an error or Ctrl-C: no folder of this run is left behind
        for p in created:             # the folders this run made, deepest first, where still empty
            try:
                p.rmdir()
            except OSError:
                break
        if not isinstance(err, OSError):
            raise
        report_error(prog, err, args, f"cannot write to {args.out}: {err}")
        return 1
    print("wrote " + ", ".join(str(p) for p in written))
    return status


def _score_text(scores: dict) -> str:
    """A synthetic SI's scores against its truth (:func:`~eels_helpers.inference.mapping.score_identification`,
    :func:`~eels_helpers.inference.mapping.score_quantification`), as lines for the terminal."""
    def num(value: float, digits: int) -> str:     # nan: an element not in the truth (no recall, no r)
        return "-" if value != value else f"{value:.{digits}f}"

    ident = scores["identification"]
    kept, true = ident["kept"], ident["true"]
    extra, missed = [e for e in kept if e not in true], [e for e in true if e not in kept]
    lines = [f"against the truth: true elements {', '.join(true)}; kept "
             + ("exactly these" if ident["kept_equals_truth"] else
                f"extra {', '.join(extra) or 'none'}, missed {', '.join(missed) or 'none'}"),
             "  pixels, recall / precision: " + ", ".join(
                 f"{el} {num(v['recall'], 2)} / {num(v['precision'], 2)}" for el, v in ident["elements"].items())]
    if "quantification" in scores:
        lines.append("  atomic fraction, mean absolute error / Pearson r: " + ", ".join(
            f"{el} {num(v['mae'], 3)} / {num(v['pearson_r'], 2)}" for el, v in scores["quantification"].items()))
    return "\n".join(lines)


def _check_options(args) -> None:
    """The options' values, before any file is read (ValueError naming the option): --E0/--alpha/--beta
    as ``predict`` checks them (:func:`eels_helpers.cli.check_microscope_options`), the GOS source (opened
    as the quantification and verification would), --verify-blocks, --twin-neighbourhood, --precision bf16 where
    bfloat16 is wrong (--threshold and --batch-size: their argparse types)."""
    from eels_helpers.cli import check_microscope_options
    from eels_helpers.inference.twin_resolution import check_neighbourhood
    from eels_helpers.physics.gos_tables import get_source, resolve_gos

    check_neighbourhood(args.twin_neighbourhood, "--twin-neighbourhood")
    if args.precision == "bf16":      # refused where bfloat16 is wrong (eels_helpers.device.check_bfloat16)
        from eels_helpers.device import check_bfloat16, resolve_device

        check_bfloat16(resolve_device(args.device))
    if not 0.0 <= args.presence < 1.0:
        raise ValueError(f"--presence must be a pixel fraction in [0, 1), got {args.presence:g}")
    check_microscope_options(args)
    if not 1 <= args.verify_blocks <= MAX_VERIFY_BLOCKS:
        raise ValueError(f"--verify-blocks must be 1..{MAX_VERIFY_BLOCKS} blocks per image axis, got "
                         f"{args.verify_blocks}")
    if not args.no_quantify or args.verify:
        try:
            get_source(resolve_gos(_gos(args)))
        except (OSError, ValueError, TypeError) as err:
            raise ValueError(f"--gos {args.gos}: {err}") from None


def _gos(args) -> str:
    """--gos, "auto" where not given."""
    return args.gos or "auto"


def _check_out(out) -> None:
    """--out: ValueError when it names a file; OSError when nothing can be created there."""
    from eels_helpers.inference.mapping_output import check_output_dir

    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"--out {out} is a file; give a folder (it is created when missing)")
    check_output_dir(out)


def _check_image(spectrum, path) -> None:
    """A spectrum image with 1 or 2 navigation axes, else ValueError (a usage error)."""
    nav = tuple(spectrum.navigation_shape)
    if not spectrum.is_spectrum_image:
        raise ValueError(f"{path}: a single spectrum, not a spectrum image; use `eels-id predict`")
    if len(nav) > 2:
        raise ValueError(f"{path} has {len(nav)} navigation axes {nav}; map takes a line scan or an image "
                         "(1 or 2 axes); use `eels-id predict` for single spectra")


def _microscope(spectrum, args) -> dict:
    """E0, alpha, beta of the quantification as ``predict``'s verification takes them
    (:func:`~eels_helpers.inference.verification.microscope_values`: the option's, else the file's,
    else the default), checked by :class:`~eels_helpers.inference.quantify.QuantificationConfig`
    (ValueError naming a file value that cannot be used); a note names the defaulted ones, all at once."""
    from eels_helpers.inference.quantify import QuantificationConfig
    from eels_helpers.inference.verification import (
        DEFAULT_MICROSCOPE,
        MICROSCOPE_METADATA_KEYS,
        microscope_values,
    )

    flags = {"E0_keV": ("--E0", "keV"), "alpha_mrad": ("--alpha", "mrad"), "beta_mrad": ("--beta", "mrad")}
    values = microscope_values(spectrum, {name: getattr(args, flag[2:]) for name, (flag, _) in flags.items()})
    source = values.pop("source")
    for name, (flag, unit) in flags.items():
        if source[name] == "metadata":
            try:
                QuantificationConfig(**{**DEFAULT_MICROSCOPE, name: values[name]})
            except ValueError as err:
                raise ValueError(f"{args.file}: the file's {MICROSCOPE_METADATA_KEYS[name]} {values[name]:g} {unit} "
                                 f"cannot be used ({err}); pass {flag}") from None
    QuantificationConfig(**values, gos=_gos(args))
    missing = [name for name in flags if source[name] == "default"]
    if missing:
        keys = ", ".join(MICROSCOPE_METADATA_KEYS[n] for n in missing)
        given = ", ".join(f"{flags[n][0][2:]} {values[n]:g} {flags[n][1]}" for n in missing)
        print(f"eels-id map: note: {args.file} has no {keys}; the quantification takes {given}, the "
              f"default{'s' if len(missing) > 1 else ''} of predict (pass {', '.join(flags[n][0] for n in missing)} "
              "with the microscope's values, or --no-quantify)", file=sys.stderr)
    return {**values, "source": source}


def _print_cautions(spectrum, mapping, elements, offset_eV):
    """A ``caution:`` line for each pair of kept elements the network commonly confuses."""
    from eels_helpers.inference.cautions import format_cautions, measured_range, neighbour_cautions
    from eels_helpers.physics.elements import ELEMENTS

    scores = dict(zip(ELEMENTS, map(float, mapping.pixel_fraction)))
    text = format_cautions(neighbour_cautions(elements, scores, "pixel fraction", measured_range(spectrum, offset_eV)))
    if text:
        print(text)


def _verify(spectrum, mapping, args):
    """Verification of the summed image and of blocks; prints the evidence; None on failure."""
    from eels_helpers.cli import gain_steps_repaired
    from eels_helpers.inference.verification import VerifyConfig
    from eels_helpers.inference.verification_model import fit_settings
    from eels_helpers.inference.verification_rules import (
        CANDIDATE_THRESHOLD,
        DecisionRule,
        format_verification,
        verify_regions,
    )

    try:
        config = VerifyConfig(**fit_settings(str(args.model)), E0_keV=args.E0, alpha_mrad=args.alpha,
                              beta_mrad=args.beta, offset_eV=args.offset, gos=_gos(args),
                              remove_spikes=not args.keep_spikes,
                              fill_dead_channels=not args.keep_dead_channels,
                              repair_gain_steps=gain_steps_repaired(args))
        checked = verify_regions(spectrum, mapping.probabilities, mapping.threshold, config,
                                 blocks=args.verify_blocks, rule=DecisionRule(model=str(args.model)))
    except ValueError as err:
        print(f"eels-id map: verification skipped: {err}", file=sys.stderr)
        return None
    n_ok = sum(not isinstance(r, str) for _, r in checked["regions"])
    print(f"verified (summed spectrum and {n_ok} of {len(checked['regions'])} blocks): "
          f"{', '.join(checked['verified']) or 'none'}")
    print(format_verification(checked["summed"], min_probability=CANDIDATE_THRESHOLD))
    return checked


def _write_verification(folder, checked) -> list[str]:
    """verification.json and verification.png into ``folder`` (write_results' temporary folder,
    moved into --out with the maps); returns their names."""
    import json

    from eels_helpers.inference.verification_figures import plot_verifications

    out = Path(folder)
    doc = {"verified": list(checked["verified"]), "summed": checked["summed"].to_dict(),
           "regions": [{"slices": [[s.start, s.stop] for s in sl],
                        **({"error": r} if isinstance(r, str) else r.to_dict())}
                       for sl, r in checked["regions"]]}
    (out / "verification.json").write_text(json.dumps(doc, indent=1))
    plot_verifications([checked["summed"]], out / "verification.png", ["summed spectrum image"])
    return ["verification.json", "verification.png"]
