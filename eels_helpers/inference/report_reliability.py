"""How often a reported element was right on simulated spectra like the user's: a note where rarely.

A network reports some elements far more often than they are there, in some kinds of spectra: on
8,192 simulated ``open-world-henke`` spectra (2,141 starting below 110 eV) the `ensemble` network at
0.65 reported Be 150 times and was right 33 times, all 117 false Be in the spectra starting below
110 eV (docs/research-log.md, session 46, D46), because Be K (111 eV)
lies among edges outside the 107 families (Si L2,3 99 eV, Al L2,3 73 eV and L1 118 eV, Kr M4,5 94 eV)
and on the low-loss tail. A user sees "Be (0.85)" with no hint of that.

The table (``data/report_reliability.json``, made by ``scripts/measure_report_reliability.py`` with
:func:`eels_helpers.evaluation.report_precision.simulated_report_counts`) holds, per shipped model
and window class (:data:`WINDOW_CLASSES`: the network input's first measured channel below
:data:`~eels_helpers.simulation.open_world.LOW_START_EV` or not), how often each element was
reported as ``predict`` decides (threshold, twins resolved, Tc and Pm withheld) and how often it was
labelled in those spectra. :func:`reliability_notes` turns a prediction's reported elements into a
note where that class has at least :data:`MIN_REPORTS` reports of the element and it was right in
fewer than :data:`NOTE_BELOW` of them. The note changes no decision; it says which names to check by
eye. Both constants were fixed before the table was measured (plan46) and are not tuned on real
spectra. A table measured for other networks than the model holds now (a network file replaced:
:func:`~eels_helpers.inference.verification_model.network_fingerprint`) gives no note, with a warning.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from eels_helpers.files import read_json_table
from eels_helpers.simulation.open_world import LOW_START_EV

log = logging.getLogger(__name__)

__all__ = ["RELIABILITY_FILE", "MIN_REPORTS", "NOTE_BELOW", "WINDOW_CLASSES", "ReliabilityNote", "window_class",
           "load_reliability", "save_reliability", "reliability_notes"]


def _default_file() -> Path:
    from eels_helpers import DATA_DIR

    return DATA_DIR / "report_reliability.json"


#: the shipped table (scripts/measure_report_reliability.py)
RELIABILITY_FILE = _default_file()
#: a note needs at least this many simulated reports of the element in the spectrum's window class ...
MIN_REPORTS = 20
#: ... right in fewer than this share of them
NOTE_BELOW = 0.5
#: (key, words) of the window classes, by the network input's first measured channel (eV)
WINDOW_CLASSES = (("low_start", f"whose window starts below {LOW_START_EV:g} eV"),
                  ("other", f"whose window starts at {LOW_START_EV:g} eV or above"))


def window_class(inputs) -> np.ndarray:
    """(n,) the :data:`WINDOW_CLASSES` key of each network input (n, 3072) (1 eV channels from 0 eV):
    ``low_start`` where its first measured (non-zero) channel lies below
    :data:`~eels_helpers.simulation.open_world.LOW_START_EV`, ``other`` elsewhere (and for an
    all-zero input)."""
    x = np.asarray(inputs)
    x = x.reshape(-1, x.shape[-1])
    measured = x != 0
    first = np.where(measured.any(axis=1), np.argmax(measured, axis=1), x.shape[1])
    return np.where(first < LOW_START_EV, WINDOW_CLASSES[0][0], WINDOW_CLASSES[1][0])


@dataclass(frozen=True)
class ReliabilityNote:
    """A reported ``element`` of ``model``: in ``simulated`` spectra (simulator configuration
    ``config``) of the spectrum's window class (``window``, in words), ``reported`` times reported,
    ``right`` of them labelled."""

    element: str
    model: str
    window: str
    reported: int
    right: int
    simulated: int
    config: str

    @property
    def precision(self) -> float:
        return self.right / self.reported

    def message(self) -> str:
        return (f"{self.element} is often reported where it is absent in spectra like this one: on "
                f"{self.simulated:,} simulated spectra {self.window}, `{self.model}` reported {self.element} "
                f"{self.reported} times and was right {self.right} times ({100 * self.precision:.0f} %); "
                "check its edges by eye")

    def to_dict(self) -> dict:
        return {**asdict(self), "precision": round(self.precision, 4), "message": self.message()}


def _read(path: Path) -> dict:
    return read_json_table(path, "report-reliability table")


def _resolvers_digest() -> str | None:
    """The first 12 hex digits of the shipped twin resolvers' file (what the table's decisions
    resolved reported twins with), None without one."""
    from eels_helpers.files import file_digest
    from eels_helpers.inference.twin_resolution import RESOLVERS_PATH

    return file_digest(RESOLVERS_PATH)[:12] if Path(RESOLVERS_PATH).is_file() else None


@lru_cache(maxsize=8)
def _checked_entry(model: str, path: str, stamp: tuple, resolvers: str | None) -> dict | None:
    """``model``'s entry of the table at ``path`` (``stamp``: its inode, size and mtime, so a
    rewritten table is read again), or None where it has none or is stale (warned once)."""
    from eels_helpers.inference.verification_model import networks_changed, rule_key

    entry = _read(Path(path)).get("models", {}).get(rule_key(model))
    if entry is None:
        return None
    why = ""
    if not entry.get("networks"):
        why = "records no networks"
    else:
        now = networks_changed(model, entry["networks"])
        if now is not None:
            why = (f"was measured for the networks {', '.join(entry['networks'])}, and the model now holds "
                   f"{', '.join(now)}")
        elif entry.get("resolvers") and resolvers and entry["resolvers"] != resolvers:
            why = (f"was measured with the twin resolvers {entry['resolvers']}, and data/twin_resolvers.pt is now "
                   f"{resolvers}")
    if why:
        log.warning("the report-reliability table of %r %s: no reliability notes (remeasure: python "
                    "scripts/measure_report_reliability.py --model %s)", rule_key(model), why, model)
        return None
    return entry


def load_reliability(model, path: str | Path | None = None) -> dict | None:
    """The table's entry for ``model`` (a shipped name or a model file; keyed as the verification
    rules are, :func:`~eels_helpers.inference.verification_model.rule_key`), or None where the table
    holds none, or it is stale (logged once): measured for other networks than ``model`` holds now,
    with other twin resolvers than the shipped ones, or recording no networks. A copy: the caller
    may change it."""
    import copy

    path = RELIABILITY_FILE if path is None else Path(path)
    if not path.is_file():
        return None
    st = path.stat()
    entry = _checked_entry(str(model), str(path.resolve()), (st.st_ino, st.st_size, st.st_mtime_ns),
                           _resolvers_digest())
    return copy.deepcopy(entry)


def save_reliability(model, entry: dict, path: str | Path | None = None) -> Path:
    """Write (or replace) ``model``'s ``entry`` in the table, atomically."""
    from eels_helpers.files import atomic_write_text
    from eels_helpers.inference.verification_model import rule_key

    path = RELIABILITY_FILE if path is None else Path(path)
    data = _read(path)
    data.setdefault("about", "How often each element was right where predict reported it, per model and window "
                             "class, on simulated spectra (scripts/measure_report_reliability.py; "
                             "eels_helpers.inference.report_reliability)")
    data.setdefault("models", {})[rule_key(model)] = entry
    text = re.sub(r"\[\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2]", json.dumps(data, indent=1))   # [reported, right]
    return atomic_write_text(path, text + "\n")


def reliability_notes(pred, model, elements=None, path: str | Path | None = None) -> list[ReliabilityNote]:
    """The notes for a single spectrum's reported elements (``elements``; default ``pred.detected``)
    under ``model``'s table: one per element whose window class holds at least :data:`MIN_REPORTS`
    simulated reports, right in fewer than :data:`NOTE_BELOW`. None for a spectrum image (its pixels
    are decided together, :mod:`eels_helpers.inference.image_decision`), a prediction without network
    input, a model without a (current) table, or a prediction at another threshold than the table's
    (``--threshold``: the counts would not be its)."""
    if pred.is_spectrum_image or pred.mean_input is None:
        return []
    entry = load_reliability(model, path)
    if entry is None:
        return []
    if entry.get("threshold") is not None and abs(float(entry["threshold"]) - float(pred.threshold)) > 1e-9:
        log.info("no reliability notes: the table of %r was measured at threshold %s, this prediction used %s",
                 entry.get("model", model), entry["threshold"], pred.threshold)
        return []
    key = str(window_class(pred.mean_input)[0])
    counts = entry.get("classes", {}).get(key, {})
    words = dict(WINDOW_CLASSES)[key]
    notes = []
    for el in (pred.detected if elements is None else elements):
        reported, right = counts.get(el, (0, 0))
        if reported >= MIN_REPORTS and right < NOTE_BELOW * reported:
            notes.append(ReliabilityNote(el, entry.get("model", str(model)), words, int(reported), int(right),
                                         int(entry.get("simulated_per_class", {}).get(key, 0)),
                                         str(entry.get("config", "?"))))
    return notes
