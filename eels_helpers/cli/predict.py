"""``eels-id predict``: identify the elements in spectrum files (:func:`eels_helpers.inference.predict.predict`).

::

    eels-id predict FILE [FILE ...] [--model NAME|ensemble|PATH] [--threshold T]
                    [--offset EV] [--json] [--plot OUT.png] [--batch-size N]
                    [--precision auto|fp32|bf16|int8] [--device auto|cpu|cuda]
                    [--verify | --no-verify] [--keep-twins] [--keep-spikes] [--keep-dead-channels]
                    [--repair-gain-steps | --keep-gain-steps]
                    [--candidate-threshold P]
                    [--E0 KEV --alpha MRAD --beta MRAD]

``--json`` prints ``{"model": ..., "threshold": ..., "results": [{"file": ...,
"detected": [...], "probabilities": {"Be": p, ..., "Bi": p}, ...}]}`` with all 80
probabilities keyed by symbol (nested lists over pixels for a spectrum image, plus
``"pixel_fraction"``, ``"twin_pixels"`` and ``"not_kept"``: a spectrum image is decided as ``eels-id
map`` decides it, :mod:`eels_helpers.inference.image_decision`), one result per input file in their
order: a file that failed is
``{"file": FILE, "error": "the one-line message"}`` (its error line is on stderr too; status 1).
``--plot`` saves each spectrum as the network saw it with the edge onsets of the detected elements
marked (``eels_helpers.physics.elements.EDGE_FAMILIES``).
``--verify`` fits the measured window with background + every candidate's edges
(:mod:`eels_helpers.inference.verification`): the text output gives each candidate's evidence and
decision, ``--json`` adds ``"verification"`` to each result, and ``--plot`` draws the fitted model,
each kept element's contribution with its edges, and the rejected candidates with the reason.
Where two reported elements are ones the network commonly confuses (onset twins such as N/Sc,
neighbouring lanthanides, W/Re/Ta...), a ``caution:`` line names their closest edges and how often
they share a compound (:mod:`eels_helpers.inference.cautions`); ``--json`` has them as ``"cautions"``.
Where a reported element was right in fewer than half of the model's (at least 20) reports of it on
simulated spectra of the same window class (e.g. Be in spectra starting below 110 eV), a ``caution:``
line says how often (:mod:`eels_helpers.inference.report_reliability`; ``"reliability"`` in ``--json``;
not with ``--verify``, whose fit is that check, nor at another ``--threshold`` than the model's).
Where both twins of a pair with a shipped resolver (``eels-id models`` lists them: N/Sc and
neighbouring lanthanides) reach the threshold, the twin resolver (a small network trained on
simulated spectra, :mod:`eels_helpers.inference.twin_resolution`) keeps one and says so (``"twins"``
in ``--json``); ``--keep-twins`` keeps both. For N/Sc and Tb/Dy it also decides where only one twin
reaches the threshold and the other has p >= 0.05, and may report the other instead (``"swapped"``).
Single-channel spikes (cosmic rays, X-ray hits: :mod:`eels_helpers.inference.spikes`) are replaced
by their neighbours' mean before the network reads the spectrum, and a ``note:`` line says where
(``"spike_count"``, ``"spikes_eV"`` in ``--json``); ``--keep-spikes`` leaves them. Likewise runs
of dead channels (reading nothing between live ones) are filled (:mod:`eels_helpers.inference.
dead_channels`; ``"dead_channel_count"``, ``"dead_channels_eV"``; ``--keep-dead-channels``), and
gain-change steps (one-channel jumps by a constant factor) evened out (:mod:`eels_helpers.inference.
gain_steps`; ``"gain_step_count"``, ``"gain_steps_eV"``; ``--keep-gain-steps``).
Without ``--verify`` or ``--no-verify``, a model is verified when validation shows that it helps
(:func:`eels_helpers.inference.verification_model.verification_helps`: in its fitted rule's grouped
cross-validation on real spectra, verified F1 and exact match were both at least the network's alone);
then the text output lists only the candidates the network proposed (p >= the candidate threshold)
and a verification that cannot run is a note, not an error.
Where most counts in the window are negative (a background- or mean-subtracted spectrum, not the raw counts
the networks were trained on) a ``note:`` line says so (``"input_notes"`` in ``--json``). ``--offset`` must be
finite; ``--plot`` is checked before anything runs: a directory or a suffix matplotlib cannot write is a
usage error, a path without suffix gets ``.png``, and the path written is printed.
Torch is imported inside :func:`main` and for ``--model``'s help, not at module level.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eels_helpers import progress_bar
from eels_helpers.cli.arguments import device_name, energy_offset, positive_int, probability


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="spectrum files: .dm3 .dm4 .msa .hspy .emd, or text/CSV columns (energy, counts)")
    from eels_helpers import FALLBACK_THRESHOLD, shipped_model_names
    from eels_helpers.cli import (
        add_channel_options,
        add_microscope_options,
        add_precision_option,
        add_radioactive_option,
    )

    parser.add_argument("--model", default="default",
                        help=f"shipped model name ({', '.join(shipped_model_names()) or 'none installed'}) or a .pt "
                             "file from `eels-id train` [default]")
    parser.add_argument("--threshold", type=probability, default=None, metavar="T",
                        help=f"probability threshold in (0, 1) [the model file's, else {FALLBACK_THRESHOLD}]")
    parser.add_argument("--offset", type=energy_offset, default=0.0, metavar="EV",
                        help="energy calibration error of the files, file minus true, in eV: "
                             "the axis used is E - EV, within +-500 eV [0]")
    parser.add_argument("--column", default=None, metavar="COL",
                        help="text/CSV files: the column holding the counts, by its name in the header line "
                             "or its number counted from 0 [the first column named like counts, else the first "
                             "other column that is not a channel index]")
    parser.add_argument("--json", action="store_true",
                        help="print JSON with all 80 element probabilities keyed by symbol")
    parser.add_argument("--plot", metavar="OUT.png", default=None,
                        help="save the spectra with the detected elements' edge onsets marked (any suffix "
                             "matplotlib writes: .png, .pdf, .svg, ...; none: .png)")
    parser.add_argument("--batch-size", type=positive_int, default=256, metavar="N",
                        help="spectra per network call (spectrum images) [256]")
    add_precision_option(parser)
    parser.add_argument("--device", type=device_name, default="auto", help="auto, cpu or cuda [auto]")
    parser.add_argument("--verify", action=argparse.BooleanOptionalAction, default=None,
                        help="confirm or reject each candidate by a model fit of the measured window "
                             "(background + edges) and print the evidence per element; --no-verify: the "
                             "network alone [verified when validation shows it helps the model: "
                             "`eels-id models`]")
    parser.add_argument("--keep-twins", action="store_true",
                        help="report both twins of a resolved pair (N K 401 eV / Sc L3 402 eV, neighbouring "
                             "lanthanides; `eels-id models` lists them) where the threshold reports both "
                             "(default: the twin resolver keeps the one the spectrum's near-edge shape favours)")
    add_channel_options(parser)
    add_radioactive_option(parser)
    from eels_helpers.inference.verification_rules import CANDIDATE_THRESHOLD

    parser.add_argument("--candidate-threshold", type=float, default=CANDIDATE_THRESHOLD, metavar="P",
                        help="verification: probabilities >= P (and their commonly confused "
                             "neighbours) are tested; rejected neighbours below P are counted in one "
                             f"line (--json lists each) [{CANDIDATE_THRESHOLD:g}]")
    add_microscope_options(parser, prefix="verification: ")


def _read(path: str, column: str | None):
    """The file itself (``predict`` reads it), or with ``--column`` the spectrum read with that counts
    column (a file read by its own format, .dm3 or EMSA, ignores it with a warning)."""
    if column is None:
        return path
    from eels_helpers.inference.spectrum_files import read_spectrum

    return read_spectrum(path, column=column)


def main(args: argparse.Namespace) -> int:
    from eels_helpers.cli import (
        _one_line,
        check_microscope_options,
        gain_steps_repaired,
        precision_bfloat16,
        report_error,
        show_progress,
    )
    from eels_helpers.device import check_bfloat16, resolve_device
    from eels_helpers.inference.cautions import format_cautions
    from eels_helpers.inference.predict import predict
    from eels_helpers.inference.prediction_figures import plot_predictions
    from eels_helpers.inference.prediction_text import format_prediction, input_notes
    from eels_helpers.inference.spectrum_files import SpectrumFileError
    from eels_helpers.models.model_files import ModelNotFoundError, load_model

    try:   # the command line: usage errors (2), every option checked whether or not it is used
        plot = _plot_path(args.plot) if args.plot else None
        check_microscope_options(args)
        if not 0.0 <= args.candidate_threshold < 1.0:
            raise ValueError(f"--candidate-threshold must be a probability in [0, 1), got {args.candidate_threshold}")
        verify, by_default = args.verify, args.verify is None
        if by_default:
            from eels_helpers.inference.verification_model import verification_helps

            verify, why = verification_helps(args.model)
        vconfig = _verify_config(args, args.model) if verify else None
        device = resolve_device(args.device)
        if args.precision == "bf16":      # refused where bfloat16 computes wrong numbers: before any file
            check_bfloat16(device)
        loaded = load_model(args.model, device=device)
    except (ModelNotFoundError, ValueError) as err:
        report_error("eels-id predict", err, args)
        return 2
    _warn_unused_verification_options(args, vconfig)
    results, status = [], 0
    failed = {}   # {place among the inputs: {"file", "error"}} for --json
    files, emit = args.files, print
    bars = show_progress(args)     # drawn on a terminal only (eels_helpers.progress_bar)
    if len(files) > 1 and bars:
        files = bar = progress_bar(files, desc="predict", unit="file", leave=False)

        def emit(text="", file=None):    # clear the bar, print, redraw it: no result line glued to the bar
            bar.write(str(text), file=sys.stdout if file is None else file)
    for path in files:
        try:
            (pred,) = predict(_read(path, args.column), loaded, args.threshold, args.offset, batch_size=args.batch_size,
                              bfloat16=precision_bfloat16(args.precision),
                              int8=args.precision == "int8",
                              device=device, progress=bars, keep_twins=args.keep_twins,
                              remove_spikes=not args.keep_spikes,
                              fill_dead_channels=not args.keep_dead_channels,
                              repair_gain_steps=gain_steps_repaired(args),
                              allow_radioactive=args.allow_radioactive)
        except (SpectrumFileError, ValueError, OSError) as err:   # this file failed (1); go on
            report_error("eels-id predict", err, args, write=emit)
            failed[len(results) + len(failed)] = {"file": str(path), "error": _one_line(err)}
            status = 1
            continue
        check = None
        if vconfig is not None and not pred.note:    # a note: nothing to verify (no edge family, no structure)
            try:
                check = _verify_one(pred, vconfig, args.candidate_threshold, args.model)
            except ValueError as err:
                if by_default:   # the network's answer stands; say why it is not verified
                    emit(f"eels-id predict: note: {path} not verified: {err}", file=sys.stderr)
                else:
                    emit(f"eels-id predict: verification of {path} failed: {err}", file=sys.stderr)
                    status = 1
        results.append((pred, check))
        if not args.json:
            if len(results) == 1 and not getattr(args, "quiet", False):
                shown = args.model if loaded.name == "model" else loaded.name   # a run's model.pt: its path
                emit(f"model {shown}, threshold {pred.threshold:.2f}")
            emit(format_prediction(pred))
            for note in input_notes(pred):
                emit(f"   note: {note}")
            if check is not None:
                from eels_helpers.inference.verification_rules import format_verification

                emit(f"  verified: {', '.join(check.verified) or 'none'}")
                emit(format_verification(check, indent="    ", min_probability=args.candidate_threshold))
            text = format_cautions(_cautions(pred, check))
            if text:
                emit(text)
            text = format_cautions(_reliability(pred, check, args.model))
            if text:
                emit(text)
    if args.json:
        threshold = results[0][0].threshold if results else args.threshold
        out = []
        for pred, check in results:
            d = pred.to_dict()
            if vconfig is not None:
                d["verification"] = None if check is None else check.to_dict()
            d["cautions"] = [c.to_dict() for c in _cautions(pred, check)]
            d["reliability"] = [n.to_dict() for n in _reliability(pred, check, args.model)]
            notes = input_notes(pred)
            if notes:
                d["input_notes"] = notes
            out.append(d)
        for place in sorted(failed):   # in the inputs' order
            out.insert(place, failed[place])
        verification = {"on": vconfig is not None, "by_default": by_default}
        if by_default:
            verification["why"] = why
        print(json.dumps({"model": loaded.source or args.model, "threshold": threshold,
                          "verification": verification, "results": out}))
    elif by_default and vconfig is not None and results:
        print(f"(verified by default: {why}; --no-verify for the network alone)")
    if plot and results:
        checks = [c for _, c in results if c is not None]
        if vconfig is not None and checks:
            from eels_helpers.inference.verification_figures import plot_verifications

            out = plot_verifications(checks, plot, [Path(p.source).name for p, c in results if c is not None])
        else:
            out = plot_predictions([p for p, _ in results], plot)
        if not getattr(args, "quiet", False):
            print(f"plot saved to {out}", file=sys.stderr if args.json else sys.stdout)
    return status


def _warn_unused_verification_options(args, vconfig) -> None:
    """A warning naming the verification-only options given when nothing is verified."""
    from eels_helpers.inference.verification_rules import CANDIDATE_THRESHOLD

    given = [flag for flag, value in (("--E0", args.E0), ("--alpha", args.alpha), ("--beta", args.beta))
             if value is not None]
    if args.candidate_threshold != CANDIDATE_THRESHOLD:
        given.append("--candidate-threshold")
    if given and vconfig is None:
        print(f"eels-id predict: warning: {', '.join(given)} only set the verification, which is off "
              "(--verify turns it on); ignored", file=sys.stderr)


def _plot_path(plot: str) -> Path:
    """The file ``--plot`` writes: ``plot``, or ``plot.png`` without a suffix. ValueError (a usage
    error) for a directory, a suffix matplotlib cannot write, or a folder where it cannot be written."""
    from matplotlib.figure import Figure

    from eels_helpers.inference.mapping_output import check_output_dir

    path = Path(plot)
    formats = Figure().canvas.get_supported_filetypes()
    suffixes = "supported suffixes: " + ", ".join(f".{s}" for s in sorted(formats))
    if path.is_dir():
        raise ValueError(f"--plot {plot} is a directory; give a file name, e.g. {path / 'predictions.png'} "
                         f"({suffixes})")
    if path.suffix and path.suffix[1:].lower() not in formats:
        raise ValueError(f"--plot {plot}: cannot write {path.suffix!r} figures; {suffixes}")
    try:   # its folder exists or can be made, and accepts a file: found before the networks run
        check_output_dir(path.parent)
    except OSError as err:
        raise ValueError(f"--plot {plot}: {err}") from None
    return path if path.suffix else Path(f"{path}.png")


def _cautions(pred, check):
    """Cautions for the elements reported in the end: the verified ones where verified, else the
    network's (none where the network answered with a note)."""
    from eels_helpers.inference.cautions import prediction_cautions

    if pred.note:
        return []
    return prediction_cautions(pred, check.verified if check is not None else None)


def _reliability(pred, check, model):
    """Reliability notes (:mod:`eels_helpers.inference.report_reliability`) for the network's
    reported elements; none where it answered with a note or where verification ran (the fit is the
    check the note asks for, and the table counts the network's reports, not verified ones). A
    table that cannot be read gives a warning and no notes: the notes only advise."""
    from eels_helpers.inference.report_reliability import reliability_notes

    if pred.note or check is not None:
        return []
    try:
        return reliability_notes(pred, model)
    except (OSError, ValueError) as err:
        print(f"eels-id predict: warning: no reliability notes: {err}", file=sys.stderr)
        return []


def _verify_config(args, model):
    from eels_helpers.cli import gain_steps_repaired
    from eels_helpers.inference.verification import VerifyConfig
    from eels_helpers.inference.verification_model import fit_settings

    return VerifyConfig(**fit_settings(str(model)), E0_keV=args.E0, alpha_mrad=args.alpha, beta_mrad=args.beta,
                        offset_eV=args.offset, remove_spikes=not args.keep_spikes,
                        fill_dead_channels=not args.keep_dead_channels,
                        repair_gain_steps=gain_steps_repaired(args))


def _verify_one(pred, config, candidate_threshold, model):
    """Verify a prediction: candidates from its probabilities (the mean over the pixels of a
    spectrum image, whose summed spectrum is fitted) plus its detected elements, decided by the
    rule fitted for ``model`` (the hand-set rule, with a warning, for a model without one)."""
    from eels_helpers.inference.verification import verify
    from eels_helpers.inference.verification_rules import DecisionRule, candidates_from_probabilities
    from eels_helpers.physics.elements import ELEMENTS

    probs = pred.probabilities.reshape(-1, 80).mean(axis=0)
    cand = candidates_from_probabilities(probs, candidate_threshold)
    for el in pred.detected:
        cand.setdefault(el, float(probs[ELEMENTS.index(el)]))
    for twin in pred.twins:          # the twin resolver's dropped twin is tested as a neighbour, p = 0
        cand[twin.dropped] = 0.0
    for el in pred.withheld:         # no stable isotope (unstable_elements): not a candidate
        cand.pop(el, None)
    if not cand:
        raise ValueError(f"no element has a probability >= {candidate_threshold:g} (--candidate-threshold)")
    return verify(pred.spectrum, cand, config, rule=DecisionRule(model=str(model)), threshold=pred.threshold,
                  left_out_below_eV=pred.left_out_below_eV)
