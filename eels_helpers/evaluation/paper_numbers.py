"""The paper's published numbers, and tables that put ours beside them.

``TABLE2``: Annys, Jannis & Verbeeck, Sci. Rep. 13:13724 (2023), Table 2 "Comparison of the
identification model architectures": parameter count (millions), F1 (support-weighted), exact
match ratio (EMR) and RMSE on the simulated and on the experimental test set, each at the
threshold chosen on the matching validation set, and the inference time in seconds (the paper
does not say for how many spectra or on which device).

``TABLE3``: the paper's Table 3 "Evaluation of ViT, U-Net and ensemble model on the experimental
test set": F1, precision, recall (support-weighted), EMR and the threshold chosen on the
experimental validation set, for the ViT, the U-Net and the 2 ViT + 3 U-Net ensemble.

:func:`table2_columns`, :func:`table3_models` and :func:`table3_columns` fill those tables
from models evaluated on real spectra (:mod:`eels_helpers.evaluation.real_spectra`), flagging
small samples with their size and 95 % intervals (:func:`small_sample_note` explains the flags);
:func:`composition` writes an ensemble's make-up as the paper does (``2×ViT+3×U-Net``).

This module is light (pandas is imported only by the table functions).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from eels_helpers.evaluation.real_spectra import Evaluation

__all__ = ["PaperRow", "TABLE2", "DISPLAY_NAMES", "table2_simulated", "MISSING", "Table3Row", "TABLE3",
           "TABLE3_NAMES", "NOT_REPORTED", "table2_experimental", "table3", "table2_columns", "table3_models",
           "table3_columns", "composition", "small_sample_note"]


@dataclass(frozen=True)
class PaperRow:
    """One row of the paper's Table 2 (fractions in [0, 1]; parameters in millions)."""

    parameters_m: float
    sim_f1: float
    sim_emr: float
    sim_rmse: float
    exp_f1: float
    exp_emr: float
    exp_rmse: float
    inference_s: float


#: Table 2 of the paper, in its row order (keys are ``eels_helpers.models`` names).
TABLE2: Mapping[str, PaperRow] = MappingProxyType({
    "mlp": PaperRow(56, 0.50, 0.05, 0.16, 0.42, 0.12, 0.15, 0.1),
    "cnn": PaperRow(45, 0.90, 0.68, 0.07, 0.76, 0.42, 0.12, 0.2),
    "resnet": PaperRow(41, 0.89, 0.68, 0.07, 0.77, 0.53, 0.10, 0.3),
    "unet": PaperRow(20, 0.86, 0.63, 0.07, 0.84, 0.62, 0.09, 0.2),
    "vit": PaperRow(2, 0.84, 0.55, 0.09, 0.84, 0.60, 0.08, 0.6),
    "cct": PaperRow(5, 0.87, 0.60, 0.08, 0.79, 0.58, 0.08, 0.6),
})

DISPLAY_NAMES: Mapping[str, str] = MappingProxyType(
    {"mlp": "MLP", "cnn": "CNN", "resnet": "ResNet", "unet": "U-Net", "vit": "ViT", "cct": "CCT"})

#: What a cell shows when an architecture has no results.
MISSING = "not run"
#: What a paper cell shows when the paper does not report that value.
NOT_REPORTED = "-"


@dataclass(frozen=True)
class Table3Row:
    """One row of the paper's Table 3 (experimental test set; fractions in [0, 1])."""

    f1: float
    precision: float
    recall: float
    emr: float
    threshold: float


#: Table 3 of the paper, in its row order (keys: model names; "ensemble" = 2 ViT + 3 U-Net).
TABLE3: Mapping[str, Table3Row] = MappingProxyType({
    "vit": Table3Row(0.84, 0.86, 0.86, 0.60, 0.80),
    "unet": Table3Row(0.84, 0.86, 0.86, 0.62, 0.95),
    "ensemble": Table3Row(0.86, 0.88, 0.88, 0.70, 0.75),
})

#: Table 3's row labels as printed.
TABLE3_NAMES: Mapping[str, str] = MappingProxyType(
    {"vit": "ViT", "unet": "U-Net", "ensemble": "2\u00d7ViT+3\u00d7U-Net"})


def table2_simulated(results: Mapping[str, Any]):
    """Table 2's simulated columns, the paper's values beside ours, as a pandas DataFrame.

    ``results`` maps architecture names to :class:`eels_helpers.training.runs.TrainResults` (or None
    when that architecture was not trained: its cells read ``"not run"``). Rows follow the
    paper's order; architectures absent from ``results`` are listed as not run too. Columns
    come in pairs ``(quantity, "paper")`` / ``(quantity, "ours")``: parameters (millions), F1,
    EMR, RMSE, and inference time (the paper's in seconds as printed; ours in milliseconds per
    spectrum), then our threshold, training spectra and training minutes.
    """
    import pandas as pd

    unknown = sorted(set(results) - set(TABLE2))
    if unknown:
        raise ValueError(f"unknown architecture(s) {unknown}; Table 2 has {', '.join(TABLE2)}")
    columns = pd.MultiIndex.from_tuples([
        ("parameters (M)", "paper"), ("parameters (M)", "ours"),
        ("F1", "paper"), ("F1", "ours"),
        ("EMR", "paper"), ("EMR", "ours"),
        ("RMSE", "paper"), ("RMSE", "ours"),
        ("inference", "paper [s]"), ("inference", "ours [ms/spectrum]"),
        ("this run", "threshold"), ("this run", "training spectra"), ("this run", "training (min)"),
    ])
    rows = []
    for name, paper in TABLE2.items():
        ours = results.get(name)
        if ours is None:
            mine = [MISSING] * 8
        else:
            mine = [round(ours.parameters / 1e6, 2), round(ours.scores.f1, 2), round(ours.scores.emr, 2),
                    round(ours.scores.rmse, 2), round(ours.inference_ms_per_spectrum, 2),
                    round(ours.scores.threshold, 2), int(ours.spectra), round(ours.train_minutes, 1)]
        rows.append([paper.parameters_m, mine[0], paper.sim_f1, mine[1], paper.sim_emr, mine[2],
                     paper.sim_rmse, mine[3], paper.inference_s, mine[4], *mine[5:]])
    return pd.DataFrame(rows, index=pd.Index([DISPLAY_NAMES[n] for n in TABLE2], name="model"),
                        columns=columns, dtype=object)


def _ours(scores: Mapping[str, Any] | None, key: str):
    """Our cell: the score rounded to 2 digits; on a small sample (``scores["n"]`` below
    :data:`~eels_helpers.evaluation.intervals.SMALL_SAMPLE`, with ``scores["intervals"]``) a text
    ``0.71 (n=7, 95 % CI 0.45-0.90)``; a threshold chosen on a small validation split reads
    ``0.30 (chosen on n=6, 95 % range 0.10-0.55)``."""
    from eels_helpers.evaluation.intervals import SMALL_SAMPLE

    if scores is None:
        return MISSING
    value = round(float(scores[key]), 2)
    if key == "threshold":
        n_val, spread = scores.get("n_validation") or 0, scores.get("threshold_range")
        if 0 < n_val < SMALL_SAMPLE:
            extra = f", 95 % range {spread[0]:.2f}-{spread[1]:.2f}" if spread is not None else ""
            return f"{value:.2f} (chosen on n={n_val}{extra})"
        return value
    n, interval = scores.get("n"), (scores.get("intervals") or {}).get(key)
    if n is not None and 0 < n < SMALL_SAMPLE and interval is not None:
        return f"{value:.2f} (n={n}, 95 % CI {interval[0]:.2f}-{interval[1]:.2f})"
    return value


def small_sample_note(scores: Mapping[str, Mapping[str, Any]]) -> str:
    """A sentence under a table that explains its small-sample flags (empty if none):
    ``scores`` maps row labels to what :func:`_ours` reads (e.g. ``Evaluation.reported()``)."""
    from eels_helpers.evaluation.intervals import N_BOOT, SMALL_SAMPLE

    small = {label: s for label, s in scores.items() if s is not None and (
        0 < (s.get("n") or 0) < SMALL_SAMPLE or 0 < (s.get("n_validation") or 0) < SMALL_SAMPLE)}
    if not small:
        return ""
    sizes = sorted({(s.get("n_validation") or 0, s.get("n") or 0) for s in small.values()})
    said = "; ".join(f"{v} validation / {t} test spectra" for v, t in sizes)
    return (f"**Small sample** ({said}; fewer than {SMALL_SAMPLE} per split): each flagged score is shown "
            f"with its test size n and a 95 % interval, exact match by the Wilson score interval, F1, "
            f"precision, recall and RMSE by a percentile bootstrap over spectra ({N_BOOT} resamples, seeded). "
            "A flagged threshold was chosen on few validation spectra; its range is the 2.5-97.5 % spread "
            "of the threshold the paper's rule picks on bootstrap resamples of them. Differences smaller "
            "than these intervals say nothing about which model is better.")


def table2_experimental(results: Mapping[str, tuple[str, Mapping[str, float] | None]]):
    """Table 2's experimental columns: the paper's F1, EMR and RMSE beside ours, a pandas DataFrame.

    ``results`` maps our model's label (the row name) to ``(architecture, scores)``: the
    architecture (a ``TABLE2`` key, or ``"ensemble"``, which Table 2 does not list: its paper
    cells read ``"-"``) and the scores on the experimental test split (a mapping with ``f1``,
    ``emr``, ``rmse``, ``threshold``, e.g. ``Evaluation.metrics``), or None (cells ``"not run"``).
    Scores that also carry ``n``, ``n_validation``, ``intervals`` and ``threshold_range``
    (``Evaluation.reported()``) are flagged when a split is small (see :func:`_ours`).
    Rows keep the order of ``results``.
    """
    import pandas as pd

    columns = pd.MultiIndex.from_tuples([
        ("architecture", ""), ("F1", "paper"), ("F1", "ours"), ("EMR", "paper"), ("EMR", "ours"),
        ("RMSE", "paper"), ("RMSE", "ours"), ("threshold", "ours"),
    ])
    rows = []
    for label, entry in results.items():
        if not (isinstance(entry, tuple) and len(entry) == 2):
            raise ValueError(f"results[{label!r}] must be (architecture, scores or None), got {entry!r}")
        architecture, scores = entry
        if architecture not in TABLE2 and architecture != "ensemble":
            raise ValueError(f"results[{label!r}]: unknown architecture {architecture!r}; "
                             f"expected one of {', '.join(TABLE2)} or 'ensemble'")
        paper = TABLE2.get(architecture)
        p = (paper.exp_f1, paper.exp_emr, paper.exp_rmse) if paper else (NOT_REPORTED,) * 3
        rows.append([DISPLAY_NAMES.get(architecture, architecture), p[0], _ours(scores, "f1"), p[1],
                     _ours(scores, "emr"), p[2], _ours(scores, "rmse"), _ours(scores, "threshold")])
    return pd.DataFrame(rows, index=pd.Index(list(results), name="model"), columns=columns, dtype=object)


def table3(results: Mapping[str, Mapping[str, float] | None], sources: Mapping[str, str] | None = None):
    """Table 3, the paper's precision, recall, F1, EMR and threshold beside ours, a pandas DataFrame.

    ``results`` maps ``TABLE3`` keys (``vit``, ``unet``, ``ensemble``) to our scores on the
    experimental test split (``f1``, ``precision``, ``recall``, ``emr``, ``threshold``) or None;
    keys not given read ``"not run"``; small samples are flagged as in :func:`table2_experimental`.
    ``sources`` (optional) names the model behind each row (column "our model"). Rows follow the
    paper's order.
    """
    import pandas as pd

    unknown = sorted(set(results) - set(TABLE3))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; Table 3 has {', '.join(TABLE3)}")
    sources = dict(sources or {})
    quantities = [("F1", "f1"), ("precision", "precision"), ("recall", "recall"), ("EMR", "emr"),
                  ("threshold", "threshold")]
    columns = pd.MultiIndex.from_tuples(
        [(q, who) for q, _ in quantities for who in ("paper", "ours")] + [("our model", "")])
    rows = []
    for name, paper in TABLE3.items():
        scores = results.get(name)
        row = []
        for _, key in quantities:
            row += [getattr(paper, key), _ours(scores, key)]
        rows.append(row + [sources.get(name, "") if scores is not None else MISSING])
    return pd.DataFrame(rows, index=pd.Index([TABLE3_NAMES[n] for n in TABLE3], name="model"),
                        columns=columns, dtype=object)


# ----------------------------------------------------------------------------- our models' rows
# ``entries`` are the models of the experimental chapter in table order, each with ``label``,
# ``architecture`` and ``members`` (an ensemble's member architectures), e.g. the entries of
# ``collect_models``; ``evaluations`` maps labels to
# :class:`eels_helpers.evaluation.real_spectra.Evaluation` (entries without one are left out).


def table2_columns(entries, evaluations: dict[str, Evaluation]):
    """Table 2's experimental columns (paper beside ours) for the evaluated entries, in order
    (:func:`table2_experimental`)."""
    return table2_experimental({e.label: (e.architecture, evaluations[e.label].reported())
                                for e in entries if e.label in evaluations})


def table3_models(entries, evaluations: dict[str, Evaluation]) -> dict[str, str]:
    """``{"vit" | "unet" | "ensemble": label}``: for each row of Table 3 the first evaluated
    entry of that architecture (in the order of ``entries``)."""
    chosen: dict[str, str] = {}
    for e in entries:
        if e.label in evaluations and e.architecture in ("vit", "unet", "ensemble"):
            chosen.setdefault(e.architecture, e.label)
    return chosen


def table3_columns(entries, evaluations: dict[str, Evaluation]):
    """Table 3 (precision, recall, F1, EMR, threshold on the test split), paper beside ours, for
    the models chosen by :func:`table3_models` (:func:`table3`)."""
    chosen = table3_models(entries, evaluations)
    members = {e.label: e.members for e in entries}
    sources = {key: label + (f" ({composition(members[label])})" if members[label] else "")
               for key, label in chosen.items()}
    return table3({key: evaluations[label].reported() for key, label in chosen.items()}, sources=sources)


def composition(members) -> str:
    """An ensemble's make-up as the paper writes it, e.g. ``2×ViT+3×U-Net`` (first-seen order)."""
    counts: dict[str, int] = {}
    for arch in members:
        counts[arch] = counts.get(arch, 0) + 1
    return "+".join(f"{n}\u00d7{DISPLAY_NAMES.get(a, a)}" for a, n in counts.items())
