"""Shipping trained networks with the package: evaluate, choose thresholds, write a model card.

``ship_models`` turns training runs (directories written by ``eels-id train``: ``model.pt``
and ``log.json``) into the package's shipped models ``default`` (one network) and
``ensemble`` (the mean member probability, paper: 2 ViT + 3 U-Net), stored with float16
weights in ``eels_helpers/data/models/``, and writes ``MODELS.md`` beside them from what was
measured:

* every network's BatchNorm statistics are first re-estimated with dropout off on 4,096
  simulated spectra (seed 30_003; :func:`eels_helpers.models.recalibrate_batchnorm`): the
  statistics accumulated during training do not match inference (dropout before BatchNorm);
* simulated validation spectra (``train.simulated_arrays``, seed 10_001) choose the
  simulated threshold by the paper's rule (precision closest to recall); simulated test
  spectra (seed 20_002) are scored at it;
* with a directory of real spectra (manifest format of :mod:`eels_helpers.experimental`),
  the experimental threshold is chosen on its grouped validation split and the test split
  is scored at it, carbon left out (the paper's procedure). The shipped model's
  ``threshold`` (what ``eels-id predict`` uses) is the experimental one when available,
  else the simulated one: real spectra need a higher threshold than simulated ones.

Maintainer use: ``python scripts/ship_models.py --default RUN --ensemble RUN RUN ...``.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

#: seeds of the simulated validation and test spectra (as in the training chapter)
VALIDATION_SEED, TEST_SEED = 10_001, 20_002
#: simulated spectra (and their seed) on which each network's BatchNorm statistics are
#: re-estimated before scoring and shipping (``models.recalibrate_batchnorm``)
RECALIBRATION_SPECTRA, RECALIBRATION_SEED = 4096, 30_003


@dataclass
class RunSummary:
    """What a training directory says about its run (``log.json`` and ``model.pt``)."""

    run_dir: str
    architecture: str
    options: dict
    spectra: int
    epochs: int
    train_hours: float
    last_train_f1: float
    seed: int | None

    @classmethod
    def read(cls, run_dir: str | Path) -> "RunSummary":
        from .checkpoints import load_model

        run_dir = Path(run_dir)
        log_path = run_dir / "log.json"
        if not log_path.is_file():
            raise FileNotFoundError(f"{run_dir}: no log.json (not a directory written by `eels-id train`)")
        log = json.loads(log_path.read_text())
        if not log:
            raise ValueError(f"{log_path}: the training log is empty (no finished pseudo-epoch)")
        loaded = load_model(run_dir / "model.pt")
        return cls(str(run_dir), loaded.architecture, dict(loaded.options), int(log[-1]["spectra"]),
                   int(log[-1]["epoch"]), sum(float(r["seconds"]) for r in log) / 3600.0,
                   float(log[-1]["f1"]), loaded.metadata.get("seed"))


@dataclass
class ModelScores:
    """Thresholds and scores of one shipped model (metric dicts of ``metrics.Scores.as_dict``)."""

    simulated_threshold: float
    simulated_test: dict
    n_simulated: tuple[int, int]
    experimental_threshold: float | None = None
    experimental_test: dict = field(default_factory=dict)
    experimental_description: str = ""

    @property
    def threshold(self) -> float:
        """The threshold to ship: experimental when measured, else simulated."""
        return self.experimental_threshold if self.experimental_threshold is not None else self.simulated_threshold


def simulated_scores(probabilities_val: np.ndarray, y_val: np.ndarray, probabilities_test: np.ndarray,
                     y_test: np.ndarray) -> tuple[float, dict]:
    """(threshold chosen on validation, test metrics at it), the paper's rule."""
    from .metrics import evaluate, select_threshold

    threshold = float(select_threshold(y_val, probabilities_val))
    return threshold, evaluate(y_test, probabilities_test, threshold).as_dict()


def experimental_scores(model: Any, directory: str | Path, seed: int = 0) -> tuple[float, dict, str]:
    """(threshold chosen on the grouped validation split, test-split metrics, description)."""
    from .experimental import evaluate

    result = evaluate(model, directory, threshold="validation", seed=seed)
    return result.threshold, result.metrics, result.description


def score_model(model: Any, simulated: tuple, experimental_dir: str | Path | None = None) -> ModelScores:
    """Scores of ``model`` (a LoadedModel) on simulated (x_val, y_val, x_test, y_test) arrays
    and, when given, a directory of real spectra."""
    from .models import predict_proba

    x_val, y_val, x_test, y_test = simulated
    t_sim, sim = simulated_scores(predict_proba(model.model, x_val), y_val, predict_proba(model.model, x_test), y_test)
    scores = ModelScores(t_sim, sim, (len(x_val), len(x_test)))
    if experimental_dir is not None:
        scores.experimental_threshold, scores.experimental_test, scores.experimental_description = (
            experimental_scores(model, experimental_dir))
    return scores


def ship_models(default: str | Path, ensemble: Sequence[str | Path], out_dir: str | Path, *,
                n_validation: int = 1024, n_test: int = 2048, experimental_dir: str | Path | None = None,
                command: str = "") -> dict[str, Path]:
    """Write ``default.pt``, ``ensemble.pt`` (float16 weights) and ``MODELS.md`` into ``out_dir``.

    default: a training run directory; ensemble: run directories of the members. Nothing is
    written unless every run reads and evaluates: files go to temporary names first.
    """
    from .checkpoints import load_model, save_ensemble, save_model
    from .train import simulated_arrays

    if not ensemble:
        raise ValueError("ensemble needs at least one member run directory")
    runs = {"default": [RunSummary.read(default)], "ensemble": [RunSummary.read(r) for r in ensemble]}
    x_val, y_val = simulated_arrays(n_validation, seed=VALIDATION_SEED)
    x_test, y_test = simulated_arrays(n_test, seed=TEST_SEED)
    simulated = (x_val, y_val, x_test, y_test)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    cards: dict[str, tuple[list[RunSummary], ModelScores]] = {}
    from .models import recalibrate_batchnorm

    x_cal, _ = simulated_arrays(RECALIBRATION_SPECTRA, seed=RECALIBRATION_SEED)

    def recalibrated(run: RunSummary):
        loaded = load_model(Path(run.run_dir) / "model.pt")
        recalibrate_batchnorm(loaded.model, x_cal)
        return loaded

    try:
        default_net = recalibrated(runs["default"][0])
        scores = score_model(default_net, simulated, experimental_dir)
        tmp = save_model(out_dir / "default.pt.tmp", default_net.model, architecture=default_net.architecture,
                         options=default_net.options,
                         threshold=scores.threshold, weights="float16",
                         metadata=_metadata(runs["default"], scores, command))
        written["default"] = tmp
        cards["default"] = (runs["default"], scores)

        members = [recalibrated(r) for r in runs["ensemble"]]
        tmp = save_ensemble(out_dir / "ensemble.pt.tmp", members, weights="float16")
        ens = load_model(tmp)  # score the float16 weights that ship
        scores = score_model(ens, simulated, experimental_dir)
        tmp.unlink()
        tmp = save_ensemble(out_dir / "ensemble.pt.tmp", members,
                            weights="float16", threshold=scores.threshold,
                            metadata=_metadata(runs["ensemble"], scores, command))
        written["ensemble"] = tmp
        cards["ensemble"] = (runs["ensemble"], scores)
    except BaseException:
        for tmp in written.values():
            tmp.unlink(missing_ok=True)
        raise
    final = {}
    for name, tmp in written.items():
        final[name] = tmp.replace(out_dir / f"{name}.pt")
    final["card"] = out_dir / "MODELS.md"
    final["card"].write_text(model_card(cards))
    return final


def _metadata(runs: list[RunSummary], scores: ModelScores, command: str) -> dict:
    return json.loads(json.dumps({"runs": [asdict(r) for r in runs], "scores": asdict(scores),
                                  "batchnorm_recalibration": {"spectra": RECALIBRATION_SPECTRA,
                                                              "seed": RECALIBRATION_SEED},
                                  "ship_command": command,
                                  "shipped": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}))


def _fmt(scores: dict) -> str:
    return " / ".join(f"{scores[k]:.2f}" for k in ("f1", "precision", "recall", "emr", "rmse"))


def model_card(cards: dict[str, tuple[list[RunSummary], ModelScores]]) -> str:
    """Markdown description of the shipped models from their runs and measured scores."""
    lines = ["# Shipped models", "",
             "Written by `eels_helpers.shipping.ship_models` (do not edit by hand). Scores: F1 / precision /",
             "recall / exact match / RMSE (weighted, the paper's definitions), each at the threshold chosen",
             "on the matching validation data (paper's rule). Before scoring, every network's BatchNorm",
             f"statistics were re-estimated with dropout off on {RECALIBRATION_SPECTRA:,} simulated spectra",
             "(`eels_helpers.models.recalibrate_batchnorm`).", ""]
    for name, (runs, s) in cards.items():
        lines += [f"## `{name}`", "", "| member | architecture | options | training spectra | pseudo-epochs | "
                  "training hours (1 thread) | last training F1 |", "|---|---|---|---|---|---|---|"]
        for i, r in enumerate(runs, 1):
            opts = ", ".join(f"{k}={v}" for k, v in r.options.items())
            lines.append(f"| {i} | {r.architecture} | {opts} | {r.spectra:,} | {r.epochs} | {r.train_hours:.2f} | "
                         f"{r.last_train_f1:.2f} |")
        lines += ["", f"- simulated test ({s.n_simulated[1]} spectra; threshold {s.simulated_threshold:.2f} "
                      f"from {s.n_simulated[0]} validation spectra): {_fmt(s.simulated_test)}"]
        if s.experimental_threshold is not None:
            lines.append(f"- real spectra ({s.experimental_description}; threshold {s.experimental_threshold:.2f} "
                         f"from the validation split, scored on the test split, carbon left out): "
                         f"{_fmt(s.experimental_test)}")
        lines += [f"- shipped threshold (used by `eels-id predict`): {s.threshold:.2f}", ""]
    return "\n".join(lines)


__all__ = ["ModelScores", "RunSummary", "experimental_scores", "model_card", "score_model", "ship_models",
           "simulated_scores"]
