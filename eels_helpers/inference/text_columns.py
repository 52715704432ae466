"""Reading a spectrum from text columns (``.txt``, ``.csv``, ``.dat``, ``.tsv``, EMSA files that
rosettasciio cannot parse): which column holds the energy, which the counts, in which units.

The energy column is the one whose header names an energy ("energy", "loss", "eV"), else the first;
the counts are the first column named like counts ("counts", "intensity", "signal"), else the first
other column that is not a channel index, or the one ``column=`` names (a 0-based number or a header
name). :func:`eels_helpers.inference.spectrum_files.read_spectrum` calls :func:`read_columns` and
checks what it returns (finite values, the networks' window).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from eels_helpers.inference.spectrum_files import _ENERGY_NAME, SpectrumFileError, _as_float32, _unit_factor
from eels_helpers.spectrum import Spectrum

__all__ = ["read_columns"]

log = logging.getLogger(__name__)

_NUMBER_LINE = re.compile(r"^\s*[-+]?(\d|\.\d)")
_SPLIT = re.compile(r"[,;\t ]+")


def _split_fields(text: str) -> list[str]:
    """Fields of a data line. ';' or tab separated lines whose fields use ',' and no '.'
    are read with a decimal comma (``"400,5;1234,5"``); otherwise ',', ';', tab and spaces
    all separate fields."""
    for sep in (";", "\t"):
        if sep in text:
            parts = [p.strip() for p in text.split(sep) if p.strip()]
            if any("," in p for p in parts) and not any("." in p for p in parts):
                return [p.replace(",", ".") for p in parts]
    return [f for f in _SPLIT.split(text) if f]


def _unit_from_label(label: str, bracketed: bool = True) -> str | None:
    """Units named in a column label: "Energy (keV)", "E [eV]", "# eV, counts". With
    ``bracketed=False`` (free header text) only the words eV / keV count."""
    m = re.search(r"[(\[]\s*([^)\]]+?)\s*[)\]]", label) if bracketed else None
    if m and re.fullmatch(r"[^\s,;]{1,6}", m.group(1)):  # unit-like: "eV", "keV", "nm", "a.u."
        return m.group(1)
    m = re.search(r"(?:^|[\s/#,;(\[])(k?eV)\b", label.strip(), re.IGNORECASE)
    return m.group(1) if m else None


def _text_encoding(path: Path) -> str:
    """The encoding its byte-order mark gives a text file (UTF-16 as some Windows programs write,
    UTF-8 with a BOM), else UTF-8."""
    with open(path, "rb") as fh:
        head = fh.read(3)
    return "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig" if head == b"\xef\xbb\xbf" else "utf-8"


def _bare_name(name: str) -> str:
    """A column name without its bracketed units, case-folded: "Counts (a.u.)" -> "counts"."""
    return re.sub(r"\s*[(\[][^)\]]*[)\]]\s*", " ", name).strip().casefold()


def _column_number(column: int | str, names: list[str], n_col: int, path: Path) -> int:
    """The 0-based number of the intensity column ``column``: a number (also as text: "2"), or a header
    name, matched without case and surrounding spaces, also without bracketed units ("counts" finds
    "Counts (a.u.)"). SpectrumFileError naming the file where none or several columns match."""
    if isinstance(column, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", column):
        column = int(column)
    if isinstance(column, str):
        wanted = column.strip().casefold()
        found = [i for i, n in enumerate(names) if n.strip().casefold() == wanted]
        found = found or [i for i, n in enumerate(names) if _bare_name(n) == _bare_name(column)]
        if not found:
            have = (f"its columns are {', '.join(repr(n) for n in names)}" if names
                    else f"its header names no {n_col} columns (separated by commas, tabs, semicolons or two "
                         f"spaces): give a number from 0 to {n_col - 1}")
            raise SpectrumFileError(f"{path}: no column named {column!r}; {have}")
        if len(found) > 1:
            raise SpectrumFileError(f"{path}: columns {' and '.join(map(str, found))} are both named {column!r}: "
                                    "give the number (counted from 0)")
        return found[0]
    if isinstance(column, bool) or not isinstance(column, (int, np.integer)):
        raise SpectrumFileError(f"{path}: column={column!r} must be a column number or a header name")
    return int(column)


#: names of a counts column, most telling first
_COUNTS_NAMES = (re.compile(r"count|\bcts\b", re.IGNORECASE), re.compile(r"intens", re.IGNORECASE),
                 re.compile(r"signal", re.IGNORECASE))
_INDEX_NAME = re.compile(r"^\W*(channel|chan|index|idx|pixel|bin|no\.?|n|#)\W*$", re.IGNORECASE)


def _default_column(names: list[str], n_col: int, energy_col: int) -> int:
    """The counts column when none is given: the first column named like counts (counts, intensity,
    signal, cts), else the first column that is neither the energy nor a channel index."""
    others = [i for i in range(n_col) if i != energy_col]
    if not names:
        return others[0]
    for pattern in _COUNTS_NAMES:
        named = [i for i in others if pattern.search(names[i])]
        if named:
            return named[0]
    return next((i for i in others if not _INDEX_NAME.match(names[i])), others[0])


def read_columns(path: Path, column: int | str | None = None) -> Spectrum:
    """The spectrum in the text columns of ``path`` (see the module docstring); SpectrumFileError naming
    the file and the problem where none can be read."""
    header: list[str] = []
    rows: list[list[float]] = []
    with open(path, encoding=_text_encoding(path), errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.strip()
            if not text:
                continue
            if text.startswith(("#", "%", "//")) or not _NUMBER_LINE.match(text):
                if rows:  # trailing text after the data
                    if text.startswith(("#", "%", "//")):
                        continue
                    raise SpectrumFileError(f"{path}: line {lineno} is not numeric: {text[:60]!r}")
                header.append(text)
                continue
            fields = _split_fields(text)
            try:
                rows.append([float(f) for f in fields])
            except ValueError:
                raise SpectrumFileError(f"{path}: line {lineno} is not numeric: {text[:60]!r}") from None
    if not rows:
        raise SpectrumFileError(f"{path}: no numeric data found")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise SpectrumFileError(f"{path}: rows have different numbers of columns {sorted(widths)}")
    table = np.asarray(rows, dtype=np.float64)
    n_col = table.shape[1]
    emsa = {m.group(1).upper(): m.group(2).strip()
            for h in header if (m := re.match(r"#\s*([A-Za-z-]+)\s*:\s*(.*)", h))}
    if n_col == 1 and "XPERCHAN" in emsa and "OFFSET" in emsa:  # EMSA DATATYPE Y
        try:
            axis = float(emsa["OFFSET"]) + float(emsa["XPERCHAN"]) * np.arange(table.shape[0])
        except ValueError:
            raise SpectrumFileError(f"{path}: unreadable EMSA OFFSET/XPERCHAN") from None
        table = np.column_stack([axis, table[:, 0]])
        n_col = 2
    if n_col < 2:
        raise SpectrumFileError(f"{path}: no energy axis (a single column of numbers; expected energy and intensity "
                                "columns, or an EMSA header with OFFSET and XPERCHAN)")
    # column names from the last header line with n_col fields, units from EMSA #XUNITS
    names: list[str] = []
    for line in reversed(header):
        parts = [p.strip() for p in re.split(r"[,;\t]+|\s{2,}", line.lstrip("#%/ ").strip()) if p.strip()]
        if len(parts) == n_col:
            names = parts
            break
    xunits = emsa.get("XUNITS") or None
    energy_col = 0
    if names:
        named = [i for i, n in enumerate(names) if _ENERGY_NAME.search(n)]
        energy_col = named[0] if named else 0
    if column is None:
        column = _default_column(names, n_col, energy_col)
        if n_col > 2:
            log.info("%s: %d columns%s; energy from column %d, counts from column %d (counted from 0; "
                     "--column / read_spectrum(column=) takes another, by number or name)", path, n_col,
                     f" ({', '.join(names)})" if names else "", energy_col, column)
    given = column
    column = _column_number(column, names, n_col, path)
    if column == energy_col:
        raise SpectrumFileError(f"{path}: column={given!r} is the energy column ({energy_col}, counted from 0); "
                                "give the column that holds the counts")
    if not 0 <= column < n_col:
        raise SpectrumFileError(f"{path}: column={given!r} is not a valid intensity column (file has {n_col} "
                                f"columns, counted from 0, energy in column {energy_col})")
    units = xunits or (_unit_from_label(names[energy_col]) if names else None)
    if units is None and header:
        units = _unit_from_label(" ".join(header), bracketed=False)
    assumed = units is None
    factor = 1.0 if assumed else _unit_factor(units)
    if factor is None:
        raise SpectrumFileError(f"{path}: the energy column is in {units!r}; only eV and keV are supported")
    energy = table[:, energy_col] * factor
    data = table[:, column]
    if not np.all(np.isfinite(energy)):
        raise SpectrumFileError(f"{path}: the energy column holds NaN/inf values")
    step = np.diff(energy)
    if np.all(step < 0):
        energy, data = energy[::-1], data[::-1]
    elif not np.all(step > 0):
        raise SpectrumFileError(f"{path}: the energy column (column {energy_col}) is not strictly monotonic")
    metadata = {
        "reader": "columns",
        "title": path.stem,
        "columns": names or None,
        "energy_column": energy_col,
        "intensity_column": column,
        "energy_axis": {"name": names[energy_col] if names else "", "units": units or "eV"},
        "energy_units_assumed": assumed,
        "navigation_axes": [],
    }
    return Spectrum(_as_float32(data, path), energy, metadata, str(path))
