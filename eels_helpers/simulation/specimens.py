"""Specimens drawn from The Materials Project, as in the paper's "Specimen sampling".

The paper (Annys et al. 2023, Methods) draws, for each of its 80 elements, a list of samples
"containing at least this element" from The Materials Project. We ship an offline extract
(``data/mp_compositions.csv.gz``: 47,737 Materials Project entries from matminer's electronic
transport database, Ricci et al., Sci. Data 4, 170085, 2017; CC-BY 4.0), made by
``scripts/make_compositions.py``; its provenance is in the file header (:func:`provenance`).

Which compounds are used, and what the labels mean
--------------------------------------------------
* The network knows 80 elements, Be..Bi. H and Li have no edge in the core-loss window (Li K at
  55 eV lies below the earliest detector start of 75 eV), so a compound containing them (hydrides,
  hydroxides, lithium battery materials: common EELS specimens) is KEPT; H and Li are simply
  invisible: they are dropped from the specimen and the remaining atomic fractions renormalised.
  The relative-quantification label is defined over the elements visible in the window anyway.
* He and the elements heavier than Bi (Po..Pu...) do have edges in a real spectrum (e.g. U O4,5
  near 100 eV, N4,5 near 740 eV) that the simulator cannot draw and the labels cannot name, so a
  compound containing any of them is DROPPED (1,330 of 47,737 entries; 14 more, such as LiH or Li
  itself, have no visible element at all).
* Polymorphs share a reduced formula; sampling is uniform over distinct formulas (33,422), so an
  element's specimens are not weighted by how many structures were computed for a formula.
* An element contained in no kept compound falls back to the pure element; :func:`coverage_report`
  lists the number of formulas per element and which elements fell back.

A specimen is a :class:`Specimen`: its elements, their atomic fractions and the query element it
was drawn for.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from eels_helpers.physics.elements import ALL_SYMBOLS, ELEMENTS

#: Elements without a core-loss edge: allowed in a compound, invisible in the spectrum.
INVISIBLE = ("H", "Li")
_DATA_FILE = "mp_compositions.csv.gz"


@dataclass(frozen=True)
class Specimen:
    """A specimen: its elements (any of the 80 ``ELEMENTS``), their atomic fractions (sum 1)
    and the query element it was drawn for (which keeps a major edge set in the window)."""

    elements: tuple[str, ...]
    fractions: tuple[float, ...]
    query: str

    def __post_init__(self):
        els = tuple(self.elements)
        fr = tuple(float(x) for x in self.fractions)
        if not els or len(els) != len(fr):
            raise ValueError(f"Specimen: elements {els} and fractions {fr} must be non-empty and "
                             "of the same length")
        if len(set(els)) != len(els):
            raise ValueError(f"Specimen: elements {els} contain duplicates")
        for e in els:
            if e not in ELEMENTS:
                what = "has no edge in range" if e in ALL_SYMBOLS else "is not an element symbol"
                raise ValueError(f"Specimen: {e!r} {what}; elements must be among the 80 "
                                 "Be..Bi (eels_helpers.physics.elements.ELEMENTS)")
        if any(not (x > 0) or not math.isfinite(x) for x in fr):
            raise ValueError(f"Specimen: fractions {fr} must be positive and finite")
        if abs(sum(fr) - 1.0) > 1e-4:
            raise ValueError(f"Specimen: fractions {fr} must sum to 1 (atomic fractions); "
                             f"they sum to {sum(fr):.6g}")
        if self.query not in els:
            raise ValueError(f"Specimen: query {self.query!r} is not among elements {els}")
        object.__setattr__(self, "elements", els)
        object.__setattr__(self, "fractions", fr)

    @classmethod
    def pure(cls, element: str) -> "Specimen":
        """The pure element."""
        return cls((element,), (1.0,), element)


def _symbols() -> tuple[str, ...]:
    """Symbols of the 80 network elements in output order (Be..Bi)."""
    return ELEMENTS


@dataclass(frozen=True, eq=False)
class CompositionTable:
    """Distinct Materials Project formulas restricted to the 80 elements.

    fractions: (n_formulas, 80) float32 atomic fractions over the 80 network elements (rows sum
    to 1; H and Li removed and renormalised); mp_id/formula: first Materials Project entry of
    each distinct formula; n_entries: entries (polymorphs) per formula.
    """

    mp_id: tuple[str, ...]
    formula: tuple[str, ...]
    fractions: np.ndarray
    n_entries: np.ndarray
    n_dropped: int
    provenance: dict

    def __len__(self) -> int:
        return len(self.formula)

    def containing(self, element: str | int) -> np.ndarray:
        """Row indices of the formulas that contain ``element`` (symbol or index 0..79)."""
        return self._index()[_element_index(element)]

    def _index(self) -> tuple[np.ndarray, ...]:
        cached = self.__dict__.get("_rows_by_element")
        if cached is None:
            present = self.fractions > 0
            cached = tuple(np.flatnonzero(present[:, j]) for j in range(present.shape[1]))
            object.__setattr__(self, "_rows_by_element", cached)
        return cached


def _element_index(element: str | int) -> int:
    symbols = _symbols()
    if isinstance(element, (int, np.integer)):
        if not 0 <= int(element) < len(symbols):
            raise ValueError(f"element index must be in 0..{len(symbols) - 1}, got {element}")
        return int(element)
    try:
        return symbols.index(element)
    except ValueError:
        raise ValueError(
            f"unknown element {element!r}: the network knows the 80 elements "
            f"{symbols[0]}..{symbols[-1]} (H, He, Li and elements heavier than Bi have no label)"
        ) from None


def _read(path: Path | None) -> tuple[list[list[str]], dict]:
    if path is None:
        raw = resources.files("eels_helpers.data").joinpath(_DATA_FILE).read_bytes()
    else:
        raw = Path(path).read_bytes()
    text = gzip.decompress(raw).decode() if raw[:2] == b"\x1f\x8b" else raw.decode()
    lines = text.splitlines()
    prov = {}
    body = []
    for line in lines:
        if line.startswith("# provenance:"):
            prov = json.loads(line.split(":", 1)[1])
        elif not line.startswith("#"):
            body.append(line)
    rows = list(csv.reader(io.StringIO("\n".join(body))))
    if rows[0] != ["mp_id", "formula", "elements", "fractions"]:
        raise ValueError(f"unexpected composition file header {rows[0]}")
    return rows[1:], prov


@functools.cache
def load_compositions(path: str | Path | None = None) -> CompositionTable:
    """Load the shipped composition list (or ``path``, same format) as a CompositionTable."""
    rows, prov = _read(None if path is None else Path(path))
    symbols = _symbols()
    col = {s: j for j, s in enumerate(symbols)}
    allowed = set(symbols) | set(INVISIBLE)
    seen: dict[str, int] = {}
    mp_ids, formulas, counts, fr_rows = [], [], [], []
    dropped = 0
    for mp_id, formula, els, frs in rows:
        el = els.split()
        if not set(el) <= allowed:
            dropped += 1
            continue
        if formula in seen:
            counts[seen[formula]] += 1
            continue
        vec = np.zeros(len(symbols), np.float64)
        for e, f in zip(el, frs.split()):
            if e in col:
                vec[col[e]] += float(f)
        if vec.sum() == 0:  # e.g. LiH: nothing visible
            dropped += 1
            continue
        seen[formula] = len(formulas)
        mp_ids.append(mp_id)
        formulas.append(formula)
        counts.append(1)
        fr_rows.append(vec / vec.sum())
    fractions = np.asarray(fr_rows, np.float32).reshape(-1, len(symbols))
    return CompositionTable(tuple(mp_ids), tuple(formulas), fractions,
                            np.asarray(counts, np.int32), dropped, prov)


def provenance() -> dict:
    """Provenance of the shipped composition list (source, sha256, licence, citations)."""
    return dict(load_compositions().provenance)


def sample_indices(query: str | int, n: int, rng: np.random.Generator,
                   table: CompositionTable | None = None, exclude: tuple[str, ...] = ()) -> np.ndarray:
    """Row indices of ``n`` formulas containing ``query``, uniform with replacement; -1 = fallback.

    An element contained in no formula gets -1 (the pure element, see :func:`specimens_from_indices`).
    ``exclude``: elements no specimen holds (``SimulationConfig.exclude_elements``): formulas with
    any of them are not drawn, and ``query`` must not be one of them.
    """
    if n < 0:
        raise ValueError(f"n (number of specimens) must be >= 0, got {n}")
    table = load_compositions() if table is None else table
    rows = table.containing(query)
    if exclude:
        symbols = _symbols()
        if symbols[_element_index(query)] in exclude:
            raise ValueError(f"query element {symbols[_element_index(query)]} is among the excluded elements {exclude}")
        columns = [_element_index(e) for e in exclude]
        rows = rows[~(table.fractions[np.ix_(rows, columns)] > 0).any(axis=1)]
    if rows.size == 0:
        return np.full(n, -1, np.int64)
    return rows[rng.integers(0, rows.size, size=n)]


def specimens_from_indices(query: str | int, indices: np.ndarray,
                           table: CompositionTable | None = None) -> list[Specimen]:
    """Specimen objects (elements in Z order, fractions summing to 1) for sampled row indices."""
    table = load_compositions() if table is None else table
    symbols = _symbols()
    q = symbols[_element_index(query)]
    out = []
    for i in np.asarray(indices):
        if i < 0:
            out.append(Specimen(elements=(q,), fractions=(1.0,), query=q))
            continue
        vec = table.fractions[i]
        nz = np.flatnonzero(vec)
        fr = vec[nz].astype(np.float64)
        fr /= fr.sum()
        out.append(Specimen(elements=tuple(symbols[j] for j in nz),
                            fractions=tuple(float(f) for f in fr), query=q))
    return out


def pure_specimens(query: str | int, n: int) -> list[Specimen]:
    """``n`` single-element specimens of ``query`` (the paper's single-element set)."""
    return specimens_from_indices(query, np.full(n, -1), None)


def sample_specimens(query: str | int, n: int, rng: np.random.Generator,
                     table: CompositionTable | None = None) -> list[Specimen]:
    """Draw ``n`` specimens that contain ``query`` from The Materials Project list.

    Uniform over distinct formulas containing the element, with replacement; the pure element
    when none does (reported by :func:`coverage_report`).
    """
    return specimens_from_indices(query, sample_indices(query, n, rng, table), table)


def coverage_report(table: CompositionTable | None = None):
    """Per element: number of distinct formulas (and MP entries) containing it; fallbacks.

    Returns a pandas DataFrame with columns ``element, index, n_formulas, n_entries, fallback``
    (one row per network element, output order) and ``attrs`` holding ``n_formulas``,
    ``n_dropped`` and the list ``fallback_elements``.
    """
    import pandas as pd

    table = load_compositions() if table is None else table
    present = table.fractions > 0
    n_formulas = present.sum(axis=0)
    n_entries = (present * table.n_entries[:, None]).sum(axis=0)
    df = pd.DataFrame({
        "element": _symbols(),
        "index": np.arange(present.shape[1]),
        "n_formulas": n_formulas.astype(int),
        "n_entries": n_entries.astype(int),
        "fallback": n_formulas == 0,
    })
    df.attrs.update(n_formulas=len(table), n_dropped=table.n_dropped,
                    fallback_elements=[s for s, f in zip(df.element, df.fallback) if f])
    return df
