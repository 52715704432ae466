"""The ``eels-id`` command line.

One module per sub-command (``eels_helpers.cli.<command>``), each exposing
``configure_parser(parser)`` and ``main(args) -> int``; the library modules hold no argparse.
Command modules are imported lazily and import neither torch nor matplotlib at module level,
so that ``eels-id --help`` and ``eels-id COMMAND --help`` stay fast (``tests/cli/test_startup.py``).

Exit statuses, the same for every command: 0 success; 1 the work failed (a file missing or
unreadable, a chapter or a training run failed, an output that cannot be written); 2 the command
line is wrong (argparse's usage errors, a value out of its range, an unknown model, profile or
element); 130 interrupted (Ctrl-C); 141 the reader of the output went away (``eels-id models |
head -1``), silently. An expected error prints one line ``eels-id COMMAND: error: ...`` on
stderr; ``eels-id --traceback COMMAND`` (or ``--traceback`` after the command) shows the full
traceback instead. ``eels-id`` without a command is a usage error (2). A command that does part of
its work (``predict`` or ``models --dir`` with one bad file among several) reports the good ones,
one error line per bad one, and ends with 1.

``eels-id --quiet COMMAND`` (or ``--quiet`` after the command) turns off progress bars and
informational log lines: only warnings, errors and the command's results are printed.

A Python warning raised while a command runs is one line on stderr, ``eels-id COMMAND: warning:
MESSAGE`` (no file, line or source); warnings are not informational, so ``--quiet`` keeps them.
With ``--traceback`` they keep Python's own form (file and line, for debugging). :func:`main`
restores Python's warning display when it returns: the library's warnings are untouched.

This stage is the top of the package: it may import every stage below it (physics through book)
and the foundations; nothing imports it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings

#: sub-command -> (module, one-line help)
COMMANDS = {
    "book": ("eels_helpers.cli.book", "execute the notebooks with papermill and build the book"),
    "simulate": ("eels_helpers.cli.simulate", "simulate spectra: a dataset to HDF5 or a quick plot"),
    "train": ("eels_helpers.cli.train", "train an architecture on simulated spectra"),
    "predict": ("eels_helpers.cli.predict", "identify the elements in spectrum files"),
    "map": ("eels_helpers.cli.map", "map elements in a spectrum image"),
    "models": ("eels_helpers.cli.models", "list the shipped models with their measured scores"),
    "failures": ("eels_helpers.cli.failures", "run a model on labelled real spectra and group its mistakes by cause"),
    "evaluate": ("eels_helpers.cli.evaluate", "score models on real spectra (grouped cross-validation) and the "
                 "open-world suite"),
    "cache": ("eels_helpers.cli.cache", "show or clear the simulator's shape-table cache"),
}

#: exit statuses (module docstring)
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141

#: errors a user can cause (bad values, files, optional packages, failed runs): one line, no
#: traceback. Library errors derive from these (SpectrumFileError, ModelNotFoundError, BookError,
#: InsufficientDiskSpace, ConfigError, ...).
EXPECTED_ERRORS = (ValueError, OSError, RuntimeError, ImportError, MemoryError)


#: ``--precision`` of ``predict`` and ``map``: the network's arithmetic
PRECISION_CHOICES = ("auto", "fp32", "bf16", "int8")


def add_precision_option(parser) -> None:
    """``--precision auto|fp32|bf16|int8`` (default auto), shared by ``predict`` and ``map`` (``parser``:
    an argparse parser or argument group)."""
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                        help="bf16 autocast is 5-7x faster on GPUs and CPUs with AMX/AVX512-BF16 and slower "
                             "elsewhere; auto picks it only there, and only where it computes right; int8: CPU, "
                             "dynamically quantised transformer Linear layers (ViT/CCT members; a U-Net runs "
                             "in float32) [auto]")


def precision_bfloat16(precision: str) -> bool | str:
    """The ``bfloat16`` argument of ``predict`` / ``map_elements`` for a ``--precision`` value."""
    return {"auto": "auto", "fp32": False, "bf16": True, "int8": False}[precision]


def add_quiet_option(parser: argparse.ArgumentParser, *, no_progress: bool = False) -> None:
    """``--quiet`` (and, for commands that had it, its older alias ``--no-progress``), and
    ``--traceback``: the global options, after the command too (the same as before it)."""
    parser.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error instead of one line; the same as "
                             "`eels-id --traceback COMMAND`")
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars and no informational messages (batch jobs); the "
                             "same as `eels-id --quiet COMMAND`")
    if no_progress:
        parser.add_argument("--no-progress", action="store_true", dest="quiet",
                            default=argparse.SUPPRESS, help="the same as --quiet")


def add_microscope_options(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """``--E0`` (keV), ``--alpha`` and ``--beta`` (mrad): the microscope values a command uses when
    the file has none (the help names the default the library takes then); nan and inf are usage errors."""
    from eels_helpers.cli.arguments import finite_float
    from eels_helpers.inference.verification import DEFAULT_MICROSCOPE

    for flag, metavar, what, key in (("--E0", "KEV", "beam energy (keV)", "E0_keV"),
                                     ("--alpha", "MRAD", "convergence semi-angle (mrad)", "alpha_mrad"),
                                     ("--beta", "MRAD", "collection semi-angle (mrad)", "beta_mrad")):
        parser.add_argument(flag, type=finite_float, default=None, metavar=metavar,
                            help=f"{prefix}{what} [the file's, else {DEFAULT_MICROSCOPE[key]:g}]")


def check_microscope_options(args: argparse.Namespace) -> None:
    """ValueError naming the option where ``--E0``, ``--alpha`` or ``--beta`` (:func:`add_microscope_options`)
    is out of the range the cross sections take (:func:`~eels_helpers.physics.cross_section.validate_microscope`),
    checked before any file is read whether or not the command ends up using it."""
    from eels_helpers.inference.verification import DEFAULT_MICROSCOPE
    from eels_helpers.physics.cross_section import validate_microscope

    for flag, name in (("--E0", "E0_keV"), ("--alpha", "alpha_mrad"), ("--beta", "beta_mrad")):
        value = getattr(args, flag[2:])
        if value is not None:
            try:
                validate_microscope(**{**DEFAULT_MICROSCOPE, name: value})
            except ValueError as err:
                raise ValueError(f"{flag} {value:g}: {err}") from None


def add_channel_options(parser: argparse.ArgumentParser, *, what: str = "the counts") -> None:
    """``--keep-spikes`` and ``--keep-dead-channels``: leave the detector channels that pre-processing
    steps 1b and 1c repair (:func:`eels_helpers.inference.preprocess.repair_counts`) as recorded in
    ``what``; ``args.keep_spikes``, ``args.keep_dead_channels``. ``--repair-gain-steps`` and
    ``--keep-gain-steps`` set ``args.gain_steps`` (True, False; None: the pre-processing's default,
    step 1d; :func:`gain_steps_repaired` resolves it)."""
    from eels_helpers.inference.gain_steps import BY_DEFAULT

    parser.add_argument("--keep-spikes", action="store_true",
                        help=f"leave single-channel spikes (cosmic rays, X-ray hits) in {what} [they are "
                             "replaced by their neighbours' mean, and a note says where]")
    parser.add_argument("--keep-dead-channels", action="store_true",
                        help=f"leave runs of dead channels (reading nothing between live ones) in {what} "
                             "[they are filled from the levels on either side, and a note says where]")
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--repair-gain-steps", dest="gain_steps", action="store_const", const=True, default=None,
                       help=f"divide the counts above a gain-change step in {what} by its factor (a one-channel "
                            "jump by x1.05-2 with the same slope on both sides, on axes of <= 0.35 eV per channel; "
                            "a note says where)" + (" [the default]" if BY_DEFAULT else ""))
    steps.add_argument("--keep-gain-steps", dest="gain_steps", action="store_const", const=False,
                       help=f"leave gain-change steps in {what} as recorded" + ("" if BY_DEFAULT else " [the default]"))


def gain_steps_repaired(args: argparse.Namespace) -> bool:
    """Whether ``--repair-gain-steps`` / ``--keep-gain-steps`` (:func:`add_channel_options`) ask for
    pre-processing step 1d; neither: :data:`eels_helpers.inference.gain_steps.BY_DEFAULT`."""
    from eels_helpers.inference.gain_steps import BY_DEFAULT

    return BY_DEFAULT if args.gain_steps is None else bool(args.gain_steps)


def add_radioactive_option(parser: argparse.ArgumentParser) -> None:
    """``--allow-radioactive``: report technetium and promethium, which have no stable isotope and
    are withheld by default (:mod:`eels_helpers.inference.unstable_elements`); ``args.allow_radioactive``."""
    parser.add_argument("--allow-radioactive", action="store_true",
                        help="report Tc and Pm where the threshold reports them (they have no stable isotope, "
                             "so by default they are withheld and a line names their neighbours' probabilities)")


def report_error(prog: str, err: BaseException, args: argparse.Namespace, message: str | None = None,
                 write=None) -> None:
    """An error a command handles itself (its own exit status, or it goes on with the next file):
    one line ``PROG: error: MESSAGE`` (``message``, else the error's text) on stderr, after Python's
    traceback of ``err`` with ``--traceback`` (module docstring). ``write(text, file=)``: instead of
    ``print`` (e.g. ``tqdm.write`` above a progress bar)."""
    text = f"{prog}: error: {err if message is None else message}"
    if getattr(args, "traceback", False):
        import traceback

        text = "".join(traceback.format_exception(err)).rstrip("\n") + "\n" + text
    (write or print)(text, file=sys.stderr)


def show_progress(args: argparse.Namespace) -> bool:
    """Whether a command shows progress bars: not with ``--quiet`` (global or the command's)."""
    return not getattr(args, "quiet", False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eels-id", description=__doc__.splitlines()[0],
        epilog="exit status: 0 success, 1 the work failed, 2 a usage error, 130 interrupted")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars and no informational messages, for every command")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue  # command not available in this version
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.configure_parser(command)
        if not any("--quiet" in a.option_strings for a in command._actions):
            add_quiet_option(command)
    return parser


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    if isinstance(err, ImportError) and getattr(err, "name", None):
        text = f"{text} (an optional package is missing: pip install {err.name.split('.')[0]})"
    return " ".join(text.split()) if "\n" not in text else text.splitlines()[0]


def _warning_line(prog: str):
    """A ``warnings.showwarning`` that writes ``PROG: warning: MESSAGE`` as one line on stderr,
    without file, line or source: a record of the package's logger, whose handler writes above a
    running progress bar and whose formatter adds the prefix (:func:`eels_helpers.show_logs`)."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if file is None:
            logging.getLogger("eels_helpers").warning(text)
        else:
            print(f"{prog}: warning: {text}", file=file)
    return show


def _quiet_broken_pipe() -> int:
    """The reader went away: stop without a traceback, also for the flush at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return EXIT_BROKEN_PIPE


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("a command is required (e.g. eels-id predict FILE)")   # exits with 2
    from eels_helpers import show_logs

    # the library's progress lines and notices, on stderr (--quiet: warnings and errors only)
    prog = f"eels-id {args.command}"
    show_logs(logging.WARNING if args.quiet else logging.INFO, prefix=prog)
    shown = warnings.showwarning   # restored on the way out (tests call main again and again)
    if not args.traceback:
        warnings.showwarning = _warning_line(prog)
    try:
        return _run(args, prog)
    finally:
        warnings.showwarning = shown


def _run(args: argparse.Namespace, prog: str) -> int:
    """The command's status; an expected error as one line (module docstring)."""
    try:
        module = importlib.import_module(COMMANDS[args.command][0])
        status = int(module.main(args) or 0)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except EXPECTED_ERRORS as err:
        if args.traceback:
            raise
        print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
