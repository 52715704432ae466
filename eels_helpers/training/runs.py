"""Training runs on disk: the files of a run directory, Table 2's results, finding runs and models.

A run directory (``eels-id train --out DIR``, or :func:`run_directory` for the book) holds

* ``checkpoint.pt``: the training state (model, optimiser, schedule, RNG, position), rewritten
  after every pseudo-epoch; ``--resume`` continues from it;
* ``model.pt``: the network in the model-file format (:mod:`eels_helpers.models.model_files`);
* ``log.csv`` / ``log.json``: one row per pseudo-epoch;
* ``results.json``: the simulated-test results of the run (:class:`TrainResults`), written by
  the training chapter.

:func:`collect_models` gathers shipped models and the newest run of each architecture for the
evaluation chapters.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eels_helpers.evaluation.metrics import Scores
from eels_helpers.files import atomic_write_text

__all__ = ["CHECKPOINT", "MODEL_FILE", "LOG_CSV", "LOG_JSON", "RESULTS_JSON", "TrainResults", "run_directory",
           "save_results", "load_results", "find_run", "find_results", "ModelEntry", "collect_models"]

CHECKPOINT = "checkpoint.pt"
MODEL_FILE = "model.pt"
LOG_CSV, LOG_JSON = "log.csv", "log.json"
RESULTS_JSON = "results.json"


@dataclass(frozen=True)
class TrainResults:
    """Simulated-test results of one trained architecture (one row of Table 2).

    ``scores``: :class:`eels_helpers.evaluation.metrics.Scores` on the simulated test spectra at the
    threshold chosen on validation spectra (precision and recall closest);
    ``inference_ms_per_spectrum`` is the wall time of a forward pass per spectrum (batch 32,
    milliseconds), ``train_minutes`` the wall time of all training pseudo-epochs (minutes,
    summed over resumed runs).
    """

    architecture: str
    profile: str
    parameters: int
    scores: Scores
    inference_ms_per_spectrum: float
    train_minutes: float
    spectra: int = 0                        # training spectra seen
    epochs: int = 0                         # pseudo-epochs trained
    n_test: int = 0                         # simulated test spectra
    model_config: str = ""                  # 'cpu' (reduced) or 'paper' sizes
    options: dict = field(default_factory=dict)   # the model's constructor keywords

    def __post_init__(self):
        from eels_helpers.models import MODEL_NAMES

        if self.architecture not in MODEL_NAMES:
            raise ValueError(f"architecture must be one of {', '.join(MODEL_NAMES)}, got {self.architecture!r}")
        if not isinstance(self.scores, Scores):
            raise TypeError(f"scores must be an eels_helpers.evaluation.metrics.Scores, "
                            f"got {type(self.scores).__name__}")
        import numbers

        for name in ("parameters", "spectra", "epochs", "n_test"):   # numpy ints -> int
            value = getattr(self, name)
            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                object.__setattr__(self, name, int(value))
        for name in ("inference_ms_per_spectrum", "train_minutes"):   # numpy floats -> float
            value = getattr(self, name)
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        object.__setattr__(self, "options", dict(self.options))
        if not isinstance(self.parameters, int) or self.parameters < 1:
            raise ValueError(f"parameters must be a positive int (trainable weights), got {self.parameters!r}")
        for name in ("inference_ms_per_spectrum", "train_minutes"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite time >= 0, got {value!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainResults":
        """From :meth:`as_dict` (``scores`` nested); also reads the older flat layout of results
        files (f1, precision, ... beside the other fields)."""
        data = dict(data)
        score_fields = tuple(Scores.__dataclass_fields__)
        scores = data.pop("scores", None) or {k: data[k] for k in score_fields if k in data}
        known = set(cls.__dataclass_fields__) - {"scores"}
        return cls(scores=Scores(**scores), **{k: v for k, v in data.items() if k in known})


def run_directory(out_dir: str | Path, architecture: str, profile: str, seed: int, steps_per_epoch: int) -> Path:
    """``<out_dir>/<architecture>-<profile>-seed<seed>-steps<steps_per_epoch>``: the folder of one
    training run (checkpoint, log, results). The step count is in the name because a checkpoint
    resumes only with the same pseudo-epoch length."""
    return Path(out_dir) / f"{architecture}-{profile}-seed{seed}-steps{steps_per_epoch}"


def save_results(results: TrainResults, run_dir: str | Path) -> Path:
    """Write ``results`` to ``<run_dir>/results.json`` (atomically) and return the path."""
    return atomic_write_text(Path(run_dir) / RESULTS_JSON, json.dumps(results.as_dict(), indent=1))


def load_results(path: str | Path) -> TrainResults:
    """Read a ``results.json`` written by :func:`save_results` (a run folder or the file)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_JSON
    return TrainResults.from_dict(json.loads(path.read_text()))


def find_run(out_dir: str | Path, architecture: str, profile: str, seed: int = 0) -> Path | None:
    """The folder of the newest finished run (one with ``results.json``) of ``architecture`` at
    ``profile`` and ``seed`` under ``out_dir`` (any pseudo-epoch length), or None."""
    paths = sorted(Path(out_dir).glob(f"{architecture}-{profile}-seed{seed}-steps*/{RESULTS_JSON}"),
                   key=lambda p: p.stat().st_mtime)
    return paths[-1].parent if paths else None


def find_results(out_dir: str | Path, architecture: str, profile: str, seed: int = 0) -> TrainResults | None:
    """The newest results of ``architecture`` at ``profile`` and ``seed`` under ``out_dir``
    (any pseudo-epoch length), or None when that architecture has not been trained there."""
    run = find_run(out_dir, architecture, profile, seed)
    return load_results(run) if run is not None else None


@dataclass(eq=False)
class ModelEntry:
    """One model to evaluate: row label, architecture (an ``eels_helpers.models`` name or
    ``"ensemble"``), the loaded network (a :class:`~eels_helpers.models.model_files.LoadedModel`, or None when it is
    missing) and ``source``: where it came from, or why it is missing."""

    label: str
    architecture: str
    model: Any
    source: str
    members: tuple = ()     # an ensemble's member architectures


def _label_of(name: str | Path) -> str:
    path = Path(name)
    return f"{path.parent.name}/{path.name}" if path.suffix == ".pt" or len(path.parts) > 1 else str(name)


def collect_models(names, train_out_dir: str | Path | None = None, profile: str = "cpu", seed: int = 0,
                   *, device: str = "cpu") -> list[ModelEntry]:
    """The models of Tables 2 and 3, in this order: each of ``names`` (shipped model names or
    checkpoint paths; an ensemble is followed by its members, labelled "<name> member i
    (<architecture>)"), then the newest chapter-04 run of every Table 2 architecture at
    ``profile`` and ``seed`` under ``train_out_dir`` (labelled "chapter 04 <architecture>").
    A model that cannot be found is an entry with ``model=None`` whose ``source`` says why.
    """
    from eels_helpers.evaluation.paper_numbers import DISPLAY_NAMES, TABLE2
    from eels_helpers.models.model_files import LoadedModel, ModelNotFoundError, load_model

    entries: list[ModelEntry] = []
    for name in names:
        label = _label_of(name)
        try:
            loaded = load_model(name, device=device)
        except ModelNotFoundError as err:
            entries.append(ModelEntry(label, "unknown", None, str(err)))
            continue
        archs = list(loaded.options.get("members", [])) if loaded.architecture == "ensemble" else []
        entries.append(ModelEntry(label, loaded.architecture, loaded, loaded.source or str(name), tuple(archs)))
        if loaded.architecture == "ensemble":
            for i, member in enumerate(loaded.model.members):
                arch = archs[i] if i < len(archs) else "unknown"
                entries.append(ModelEntry(
                    f"{label} member {i + 1} ({DISPLAY_NAMES.get(arch, arch)})", arch,
                    LoadedModel(model=member.eval(), architecture=arch, source=loaded.source),
                    f"member {i + 1} of {loaded.source}"))
    if train_out_dir is not None:
        for arch in TABLE2:
            label = f"chapter 04 {DISPLAY_NAMES[arch]}"
            run = find_run(train_out_dir, arch, profile, seed)
            if run is None or not (run / MODEL_FILE).is_file():
                entries.append(ModelEntry(label, arch, None, f"no finished {arch} run at profile {profile!r}, "
                                          f"seed {seed} under {train_out_dir}"))
                continue
            loaded = load_model(run / MODEL_FILE, device=device)
            entries.append(ModelEntry(label, arch, loaded, str(run / MODEL_FILE)))
    labels = [e.label for e in entries]
    duplicated = sorted({x for x in labels if labels.count(x) > 1})
    if duplicated:
        raise ValueError(f"models given twice: {duplicated}")
    return entries
