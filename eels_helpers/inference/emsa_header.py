"""EMSA (.msa) headers: their keywords checked before rosettasciio reads the file (session 38's input
sweep: a keyword that is not a number printed rosettasciio's traceback on stdout and an error that
named neither file nor keyword; DATATYPE Y data without XPERCHAN or OFFSET were read as 1 eV per
channel from 0 eV), and rosettasciio's log records kept off stdout while it reads.

The keywords and their meaning: the EMSA/MAS standard (ISO 22029), DATATYPE Y needs XPERCHAN and
OFFSET. Used by :func:`eels_helpers.inference.spectrum_files.read_spectrum`.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from eels_helpers.inference.spectrum_files import SpectrumFileError

__all__ = ["EMSA_NUMBERS", "emsa_number", "check_emsa_header", "rsciio_logs", "has_emsa_header"]

log = logging.getLogger(__name__)

#: EMSA keywords read as numbers that an error stops (the axis, and what the metadata take)
EMSA_NUMBERS = ("XPERCHAN", "OFFSET", "BEAMKV", "CONVANGLE", "COLLANGLE")


def emsa_number(value: str) -> float | None:
    """An EMSA keyword's value as rosettasciio converts it ("2.0 E-06", "0.2 0.3": the first), or None."""
    for text in (value, value.replace(" ", "") if "e" in value.lower() else value.split(" ")[0]):
        try:
            return float(text)
        except ValueError:
            pass
    return None


def check_emsa_header(path: Path) -> tuple[float | None, tuple[float, float] | None]:
    """(NPOINTS (None: absent, or not a number: a warning), (OFFSET, XPERCHAN) (None for XY data
    without them: the X column is the axis)) of an EMSA file. Raises SpectrumFileError for a keyword
    of ``EMSA_NUMBERS`` that is not a number, DATATYPE Y without XPERCHAN or OFFSET, XPERCHAN <= 0."""
    keywords: dict[str, str] = {}
    with open(path, encoding="latin-1") as fh:
        for m in (re.match(r"\s*#\s*([A-Za-z0-9]+)[^:]*:(.*)", line) for line in fh):
            if m and m.group(1).upper() == "SPECTRUM":
                break
            if m:
                keywords.setdefault(m.group(1).upper(), m.group(2).strip())
    numbers = {k: emsa_number(keywords[k]) for k in EMSA_NUMBERS + ("NPOINTS",) if keywords.get(k)}
    for key, value in list(numbers.items()):
        if value is None or not np.isfinite(value):
            if key != "NPOINTS":
                raise SpectrumFileError(f"{path}: EMSA keyword {key} {keywords[key]!r} is not a number")
            log.warning("%s: EMSA keyword NPOINTS %r is not a number; ignored", path, keywords[key])
            del numbers[key]
    missing = [k for k in ("XPERCHAN", "OFFSET") if k not in numbers]
    if missing and keywords.get("DATATYPE", "").upper() == "Y":
        raise SpectrumFileError(
            f"{path}: the EMSA header has no {' or '.join(missing)}: the standard requires XPERCHAN and "
            "OFFSET for DATATYPE Y data, and without them the energy axis is unknown")
    if numbers.get("XPERCHAN", 1.0) <= 0:
        raise SpectrumFileError(f"{path}: EMSA keyword XPERCHAN {keywords['XPERCHAN']!r} must be positive "
                                f"({keywords.get('XUNITS') or 'eV'} per channel)")
    return numbers.get("NPOINTS"), (None if missing else (numbers["OFFSET"], numbers["XPERCHAN"]))


@contextmanager
def rsciio_logs(path: Path):
    """Keep rosettasciio's log records (its handler prints them on stdout, tracebacks included) from
    the terminal while it reads ``path``; pass them on as one-line records of this module's logger."""
    logger, handler = logging.getLogger("rsciio"), logging.Handler()
    records: list[logging.LogRecord] = []
    handler.emit = records.append   # type: ignore[method-assign]
    saved = logger.handlers[:], logger.propagate
    logger.handlers, logger.propagate = [handler], False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved
        for text, level in ((" ".join(r.getMessage().split()), r.levelno) for r in records):
            m = re.match(r"The (\S+) keyword value, (.*) could not be converted", text)
            if m is None:
                log.log(level, "%s: rosettasciio: %s", path, text)
            elif m.group(1).upper() != "NPOINTS":   # NPOINTS: check_emsa_header said so
                log.warning("%s: EMSA keyword %s %r is not a number; ignored", path, m.group(1), m.group(2))


def has_emsa_header(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(512).decode("latin-1", errors="replace")
    return bool(re.search(r"^\s*#FORMAT\s*:.*EMSA", head, re.IGNORECASE | re.MULTILINE))
