"""eels_helpers: deep-learning element identification in core-loss EELS.

An executable reproduction of Annys, Jannis & Verbeeck, "Deep learning for automated
materials characterisation in core-loss electron energy loss spectroscopy",
Sci. Rep. 13:13724 (2023), and a command-line tool (``eels-id``) for microscopists.

The package is split into stages (``physics`` -> ``simulation`` -> ``datasets`` -> ``models``
-> ``inference`` -> ``evaluation`` -> ``training`` -> ``book`` -> ``cli``) on four foundation
modules (``profiles``, ``device``, ``spectrum``, ``files``); docs/ARCHITECTURE.md describes them. Library
code reports through :mod:`logging` (logger ``eels_helpers``); :func:`show_logs` shows those
messages, as ``eels-id`` does.
"""

import logging
import sys
from pathlib import Path

__version__ = "0.1.0"

#: the package's data: edge onsets, the GOS table, compositions, shipped models and real spectra
DATA_DIR = Path(__file__).resolve().parent / "data"

#: the decision threshold of a model that stores none (a file written by ``eels-id train``, a bare
#: network): the sigmoid's midpoint; shipped files store the one chosen on validation spectra
#: (:func:`eels_helpers.models.model_files.decision_threshold` applies it, for every command)
FALLBACK_THRESHOLD = 0.5


def shipped_model_names(folder: "str | Path | None" = None) -> list[str]:
    """Names of the shipped models (``*.pt`` in ``data/models``, or in ``folder``), sorted.

    Reads the folder only, without importing torch, so that ``eels-id --help`` can list them;
    :func:`eels_helpers.models.model_files.shipped_models` is this list for its ``MODELS_DIR``.
    """
    folder = DATA_DIR / "models" if folder is None else Path(folder)
    return sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []


class _StderrHandler(logging.StreamHandler):
    """A handler that writes to the *current* ``sys.stderr`` (pytest and Jupyter replace it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass

    def emit(self, record: logging.LogRecord) -> None:
        """Above a running progress bar (tqdm), not glued to its line."""
        tqdm = sys.modules.get("tqdm")
        if tqdm is None or not getattr(tqdm.tqdm, "_instances", None):
            super().emit(record)
            return
        try:
            tqdm.tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)


class _MessageFormatter(logging.Formatter):
    """The message alone; a warning or error starts ``PREFIX: warning:`` (``PREFIX: error:``), as
    the command line's own warnings and errors do (without a prefix: ``warning: ...``)."""

    prefix = ""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno < logging.WARNING:
            return text
        kind = "warning" if record.levelno == logging.WARNING else "error"
        return f"{self.prefix}: {kind}: {text}" if self.prefix else f"{kind}: {text}"


def show_logs(level: int | str = logging.INFO, prefix: str = "") -> None:
    """Show the package's log messages at ``level`` and above on stderr, message only; warnings
    and errors start ``PREFIX: warning:`` / ``PREFIX: error:`` (``eels-id`` passes ``eels-id
    COMMAND``; without ``prefix``: ``warning:``).

    ``eels-id`` calls it for every command; call it in a notebook or a script to see training
    progress (one line per pseudo-epoch) and the book runner's notices. Calling it again only
    changes the level and the prefix.
    """
    logger = logging.getLogger("eels_helpers")
    logger.setLevel(level)
    handler = next((h for h in logger.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(_MessageFormatter("%(message)s"))
        logger.addHandler(handler)
    handler.formatter.prefix = prefix


def progress_bar(iterable=None, *, enabled: bool = True, **kwargs):
    """A tqdm progress bar (``tqdm.auto``: a widget in a notebook) under one rule for every stage
    and command: drawn on a terminal and in a notebook, left out where stderr is a file or a pipe
    (``eels-id train ... > run.log 2>&1``, a batch job), where each redraw would otherwise land in
    the log, and left out everywhere when ``enabled`` is False (``--quiet``, ``progress=False``).
    The rule is tqdm's own ``disable=None`` (off when the stream is not a terminal; a notebook's
    widget ignores it). ``kwargs``: tqdm's (``total``, ``desc``, ``unit``, ``leave``, ...)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=None if enabled else True, **kwargs)
