"""Shipping trained networks with the package: evaluate, choose thresholds, write a model card.

``ship_models`` turns training runs (directories written by ``eels-id train``: ``model.pt``
and ``log.json``) into the package's shipped models, stored with float16 weights in
``eels_helpers/data/models/<name>.pt``: one run gives a single network (``default``),
several runs an ensemble, the mean member probability (``ensemble``: the measured best
composition on a CPU; ``ensemble-paper``: the paper's 2 ViT + 3 U-Net). It writes
``MODELS.md`` beside them from what was measured, for every model file in the directory:

* every network's BatchNorm statistics are first re-estimated with dropout off on 4,096
  simulated spectra (``held_out.RECALIBRATION_SEED``; :func:`eels_helpers.models.recalibrate_batchnorm`): the
  statistics accumulated during training do not match inference (dropout before BatchNorm);
  a run shared by several models is recalibrated and evaluated once;
* simulated validation spectra (:func:`eels_helpers.datasets.streaming.simulated_arrays`,
  ``held_out.VALIDATION_SEED``) choose the
  simulated threshold by the paper's rule (precision closest to recall); simulated test
  spectra (``held_out.TEST_SEED``) are scored at it, with the float16 weights that ship;
* every network is stored once, as its own file in ``networks/`` (one per training run,
  shared by the models that use it); ``<name>.pt`` holds the card and refers to it;
* with a directory of real spectra (manifest format of :mod:`eels_helpers.evaluation.real_spectra`,
  read once), the experimental threshold is chosen on its grouped validation split and the
  test split is scored at it, carbon left out (the paper's procedure). The shipped model's
  ``threshold`` (what ``eels-id predict`` uses) is the experimental one when available,
  else the simulated one: real spectra need a higher threshold than simulated ones.

Maintainer use: ``python scripts/ship_models.py --default RUN --ensemble RUN RUN ...
--model ensemble-paper RUN RUN RUN RUN RUN``.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from eels_helpers import progress_bar
from eels_helpers.evaluation.held_out import RECALIBRATION_SEED, TEST_SEED, VALIDATION_SEED

#: simulated spectra (and their seed) on which each network's BatchNorm statistics are
#: re-estimated before scoring and shipping (``models.recalibrate_batchnorm``)
RECALIBRATION_SPECTRA = 4096


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
    threads: str = ""      # CPU threads per process over the run, e.g. "1 -> 2" ("?" where not logged)
    last_lr: float | None = None   # learning rate of the last pseudo-epoch
    lr_history: str = ""   # the learning rate and the pseudo-epoch from which it held, e.g. "0.001; 0.0005 from 9"
    stopped: str = ""      # why the run stopped (train.stop_reason), "not yet" if it can resume, "?" if unknown
    simulation: str = "paper"      # the simulator configuration it trained on (simulation.named_configs.NAMED_CONFIGS)
    init_from: str | None = None   # the model whose weights it started from (fine-tuning), None: random
    paper_fraction: float = 0.0    # share of its batches simulated in the paper's configuration instead
    query_weights: dict = field(default_factory=dict)   # relative query-element weights ({}: uniform)

    @classmethod
    def read(cls, run_dir: str | Path) -> "RunSummary":
        from eels_helpers.models.model_files import read_info

        run_dir = Path(run_dir)
        log_path = run_dir / "log.json"
        if not log_path.is_file():
            raise FileNotFoundError(f"{run_dir}: no log.json (not a directory written by `eels-id train`)")
        log = json.loads(log_path.read_text())
        if not log:
            raise ValueError(f"{log_path}: the training log is empty (no finished pseudo-epoch)")
        info = read_info(run_dir / "model.pt")
        data = _training_data(run_dir, info["metadata"])
        return cls(str(run_dir), info["architecture"], info["options"], int(log[-1]["spectra"]),
                   int(log[-1]["epoch"]), sum(float(r["seconds"]) for r in log) / 3600.0,
                   float(log[-1]["f1"]), info["metadata"].get("seed"), _thread_history(log),
                   float(log[-1]["lr"]) if "lr" in log[-1] else None, _lr_history(log), _stopped(run_dir),
                   data.get("simulation") or "paper", data.get("init_from"), float(data.get("paper_fraction") or 0.0),
                   dict(data.get("query_weights") or {}))

    @property
    def data(self) -> str:
        """The training data in words: the simulator configuration, and the model it started from."""
        mix = (f" with {100 * self.paper_fraction:.0f} % of its batches in `paper`"
               if self.paper_fraction and self.simulation != "paper" else "")
        if self.query_weights:
            w = self.query_weights.values()
            mix += f", query elements weighted {min(w):.2g}-{max(w):.2g} (hard examples)"
        return self.simulation + mix + (f", fine-tuned from `{Path(self.init_from).name}`" if self.init_from else "")


def _training_data(run_dir: Path, metadata: dict) -> dict:
    """``simulation``, ``paper_fraction`` and ``init_from`` of a run: from its model file's metadata, else from the
    configuration saved in its checkpoint (runs started before the model file recorded them)."""
    if "simulation" in metadata:
        return metadata
    from eels_helpers.training.runs import CHECKPOINT

    if not (run_dir / CHECKPOINT).is_file():
        return {}
    import torch

    return torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=False).get("config", {})


def _stopped(run_dir: Path) -> str:
    """Why the run stopped, from its checkpoint: "?" without one (a copied snapshot)."""
    from eels_helpers.training.runs import CHECKPOINT
    from eels_helpers.training.schedule import stop_reason

    if not (run_dir / CHECKPOINT).is_file():
        return "?"
    return stop_reason(run_dir) or "not yet (resumable)"


def _changes(log: list[dict], key: str) -> list[tuple[Any, Any]]:
    """(pseudo-epoch, value) of each log row where ``key`` takes a new value ("?" where not logged)."""
    values = [r.get(key, "?") for r in log]
    return [(r.get("epoch"), v) for i, (r, v) in enumerate(zip(log, values)) if i == 0 or v != values[i - 1]]


def _thread_history(log: list[dict]) -> str:
    """The CPU threads per process of each pseudo-epoch, consecutive repeats merged: "1 -> 2"; with
    the device where it was not the CPU: "16 (cuda)"."""
    rows = [{"epoch": r.get("epoch"), "threads": f"{r.get('threads', '?')}" + (
        f" ({r['device']})" if r.get("device", "cpu") != "cpu" else "")} for r in log]
    return " -> ".join(str(v) for _, v in _changes(rows, "threads"))


def _lr_history(log: list[dict]) -> str:
    """The learning rate over the run, each change with the pseudo-epoch it took effect:
    "0.001; 0.0005 from 9; 0.00025 from 13" (the plateau halvings); "" when not logged."""
    if not all("lr" in r for r in log):
        return ""
    return "; ".join(f"{lr:.3g}" if i == 0 else f"{lr:.3g} from {epoch}"
                     for i, (epoch, lr) in enumerate(_changes(log, "lr")))


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


#: what a shipped model may be called (a file name in data/models without the .pt)
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def _float16_rounded(loaded):
    """``loaded`` with its weights rounded through float16, as they ship (in place)."""
    import torch

    with torch.no_grad():
        for tensor in loaded.model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    return loaded


def _network_file(run: RunSummary) -> str:
    """Where a shipped network is stored, relative to the shipped models: one file per
    training run, shared by every model that uses it (``networks/unet-seed2-192000.pt``)."""
    return f"networks/{run.architecture}-seed{run.seed}-{run.spectra}.pt"


def _experimental_scores(model: Any, experimental: tuple) -> tuple[float, dict]:
    """(threshold chosen on the grouped validation split, test-split metrics) on real spectra
    already read: ``experimental`` = (manifest, network inputs, description)."""
    from eels_helpers.evaluation.real_spectra import evaluate_model

    manifest, inputs, _ = experimental
    result = evaluate_model(model, manifest=manifest, inputs=inputs, threshold="validation")
    return result.threshold, result.metrics


class Scorer:
    """Scores training runs alone or as ensembles, on the same data as shipping: each run's
    network is BatchNorm-recalibrated (on spectra of the simulator configuration it trained on),
    rounded through float16 and predicted once (cached), on simulated validation/test spectra of
    the paper's configuration (the paper's task) and, with ``experimental_dir``, on real spectra
    (read once). ``shipped``: run directory -> a shipped network file, used as it is (it was
    recalibrated and float16-rounded when it shipped), for runs whose directory is gone."""

    def __init__(self, n_validation: int = 1024, n_test: int = 2048, experimental_dir: str | Path | None = None,
                 shipped: Mapping[str, Path] | None = None):
        from eels_helpers.datasets.streaming import simulated_arrays
        from eels_helpers.evaluation.real_spectra import evaluation_set, manifest_inputs

        self.n_validation, self.n_test = n_validation, n_test
        self._calibration: dict[str, np.ndarray] = {}     # simulator configuration -> spectra
        self.x_val, self.y_val = simulated_arrays(n_validation, seed=VALIDATION_SEED)
        self.x_test, self.y_test = simulated_arrays(n_test, seed=TEST_SEED)
        self.experimental = None
        if experimental_dir is not None:
            manifest, description = evaluation_set(experimental_dir)
            self.experimental = (manifest, manifest_inputs(manifest), description)
        self._networks: dict[str, tuple] = {}     # run directory -> (network, p_val, p_test)
        self.shipped: dict[str, Path] = dict(shipped or {})

    def calibration_spectra(self, simulation: str, paper_fraction: float = 0.0) -> np.ndarray:
        """The BatchNorm recalibration spectra of a simulator configuration (cached); with
        ``paper_fraction`` (a run trained on a mixture) that share of them from the paper's."""
        from eels_helpers.datasets.streaming import simulated_arrays

        for name in {simulation, "paper"} if paper_fraction else {simulation}:
            if name not in self._calibration:
                self._calibration[name] = simulated_arrays(RECALIBRATION_SPECTRA, seed=RECALIBRATION_SEED,
                                                           simulation=name)[0]
        if not paper_fraction:
            return self._calibration[simulation]
        n_paper = int(round(RECALIBRATION_SPECTRA * paper_fraction))
        return np.concatenate([self._calibration["paper"][:n_paper],
                               self._calibration[simulation][:RECALIBRATION_SPECTRA - n_paper]])

    def network(self, run: RunSummary):
        """(float16-rounded recalibrated network, validation probabilities, test probabilities)."""
        from eels_helpers.models import predict_proba, recalibrate_batchnorm
        from eels_helpers.models.model_files import load_model

        key = str(Path(run.run_dir).resolve())
        if key not in self._networks:
            if run.run_dir in self.shipped:        # recalibrated and float16-rounded when it shipped
                loaded = load_model(self.shipped[run.run_dir])
            else:
                loaded = load_model(Path(run.run_dir) / "model.pt")
                recalibrate_batchnorm(loaded.model, self.calibration_spectra(run.simulation, run.paper_fraction))
                _float16_rounded(loaded)
            self._networks[key] = (loaded, predict_proba(loaded.model, self.x_val),
                                   predict_proba(loaded.model, self.x_test))
        return self._networks[key]

    def score(self, runs: Sequence[RunSummary]):
        """(the model: one network or the ensemble of the runs, its :class:`ModelScores`)."""
        from eels_helpers.evaluation.metrics import evaluate_at_validation_threshold
        from eels_helpers.models import Ensemble
        from eels_helpers.models.model_files import LoadedModel

        nets = [self.network(r) for r in runs]
        sim = evaluate_at_validation_threshold(self.y_val, np.mean([n[1] for n in nets], axis=0),
                                               self.y_test, np.mean([n[2] for n in nets], axis=0))
        scores = ModelScores(sim.threshold, sim.as_dict(), (self.n_validation, self.n_test))
        if len(nets) == 1:
            model = nets[0][0]
        else:
            model = LoadedModel(Ensemble([n[0].model for n in nets]).eval(), "ensemble",
                                {"members": [n[0].architecture for n in nets]})
        if self.experimental is not None:
            scores.experimental_threshold, scores.experimental_test = _experimental_scores(model, self.experimental)
            scores.experimental_description = self.experimental[2]
        return model, scores


def score_runs(run_dirs: Sequence[str | Path], *, n_validation: int = 1024, n_test: int = 2048,
               experimental_dir: str | Path | None = None) -> list[dict]:
    """One row per run (e.g. snapshots of one training run at several pseudo-epochs): spectra,
    pseudo-epochs, hours, last training F1, and the simulated and real test scores measured as
    :func:`ship_models` measures them (a learning curve on held-out and real spectra)."""
    scorer = Scorer(n_validation, n_test, experimental_dir)
    rows = []
    for run_dir in run_dirs:
        run = RunSummary.read(run_dir)
        _, sc = scorer.score([run])
        row = {"run": str(run_dir), "architecture": run.architecture, "seed": run.seed, "spectra": run.spectra,
               "epochs": run.epochs, "train_hours": run.train_hours, "lr": run.last_lr, "train_f1": run.last_train_f1,
               "simulated_threshold": sc.simulated_threshold,
               **{f"simulated_{k}": sc.simulated_test[k] for k in ("f1", "emr")}}
        if sc.experimental_threshold is not None:
            row |= {"real_threshold": sc.experimental_threshold,
                    **{f"real_{k}": sc.experimental_test[k] for k in ("f1", "emr")}}
        rows.append(row)
    return rows


def runs_table(rows: list[dict]) -> str:
    """Markdown table of :func:`score_runs` rows (real-spectra columns when measured)."""
    real = all("real_f1" in r for r in rows)
    head = ["run", "spectra", "pseudo-epochs", "hours", "learning rate", "training F1", "simulated F1 / EMR"]
    head += ["real F1 / EMR (threshold), test split"] if real else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"`{Path(r['run']).name}`", f"{r['spectra']:,}", str(r["epochs"]), f"{r['train_hours']:.2f}",
                 "-" if r["lr"] is None else f"{r['lr']:.3g}", f"{r['train_f1']:.3f}",
                 f"{r['simulated_f1']:.3f} / {r['simulated_emr']:.3f}"]
        cells += [f"{r['real_f1']:.3f} / {r['real_emr']:.3f} ({r['real_threshold']:.2f})"] if real else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ship_models(models: Mapping[str, Sequence[str | Path]], out_dir: str | Path, *, n_validation: int = 1024,
                n_test: int = 2048, experimental_dir: str | Path | None = None, command: str = "",
                progress: bool = False) -> dict[str, Path]:
    """Write ``<name>.pt`` (float16 weights) for each ``{name: [run directories]}`` into
    ``out_dir`` and rewrite ``MODELS.md`` there from the metadata of every model file in it.

    One run makes a single network, several an ensemble (mean member probability). Nothing is
    written unless every run reads and evaluates: files go to temporary names first. Each
    network is stored once, in ``out_dir/networks/`` (one file per training run), and the model
    files refer to it; network files that no model refers to afterwards are deleted.
    ``progress``: a progress bar (stderr) over the models being scored and written.
    """
    from eels_helpers.models.model_files import save_ensemble, save_model

    if not models:
        raise ValueError("nothing to ship: give at least one {name: [run directories]}")
    for name, run_dirs in models.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"model name {name!r}: use lower-case letters, digits, '-' and '_' (it becomes {name}.pt)")
        if isinstance(run_dirs, (str, Path)) or not run_dirs:
            raise ValueError(f"model {name!r} needs a list of one or more training run directories")
    out_dir = Path(out_dir)
    shipped: dict[str, Path] = {}
    runs = {name: [_member(r, out_dir, shipped) for r in run_dirs] for name, run_dirs in models.items()}
    scorer = Scorer(n_validation, n_test, experimental_dir, shipped)

    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    items = list(runs.items())
    if progress:
        items = progress_bar(items, desc="shipping models", unit="model")
    try:
        for name, members in items:
            model, scores = scorer.score(members)
            tmp = out_dir / f"{name}.pt.tmp"
            metadata = _metadata(members, scores, command)
            if len(members) == 1:
                save_model(tmp, model.model, architecture=model.architecture, options=model.options,
                           threshold=scores.threshold, weights="float16", metadata=metadata,
                           weights_file=_network_file(members[0]))
            else:
                save_ensemble(tmp, [scorer.network(r)[0] for r in members], threshold=scores.threshold,
                              weights="float16", metadata=metadata,
                              member_files=[_network_file(r) for r in members])
            written[name] = tmp
    except BaseException:
        for tmp in written.values():
            tmp.unlink(missing_ok=True)
        prune_networks(out_dir)          # member files this call wrote for ensembles it never finished
        raise
    final = {name: tmp.replace(out_dir / f"{name}.pt") for name, tmp in written.items()}
    prune_networks(out_dir)              # networks of replaced models that nothing uses any more
    final["card"] = out_dir / "MODELS.md"
    final["card"].write_text(model_card(shipped_cards(out_dir)))
    return final


#: a member given as ``shipped:MODEL:INDEX``: the INDEX-th member (from 0) of the model MODEL already in
#: the output folder, its network file and the training run its metadata records (a run whose directory is
#: gone, e.g. one trained on a GPU node)
SHIPPED_MEMBER = "shipped:"


def _member(spec: str | Path, out_dir: Path, shipped: dict[str, Path]) -> RunSummary:
    """The :class:`RunSummary` of a member: a training run directory, or ``shipped:MODEL:INDEX``
    (:data:`SHIPPED_MEMBER`; its network file is put into ``shipped``, keyed by the recorded run directory)."""
    from eels_helpers.models.model_files import member_files, read_info

    if not str(spec).startswith(SHIPPED_MEMBER):
        return RunSummary.read(spec)
    try:
        name, index = str(spec)[len(SHIPPED_MEMBER):].rsplit(":", 1)
        index = int(index)
    except ValueError:
        raise ValueError(f"{spec!r}: a shipped member is {SHIPPED_MEMBER}MODEL:INDEX, e.g. "
                         "shipped:ensemble:1") from None
    path = out_dir / f"{name}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{spec!r}: no model {name!r} in {out_dir}")
    recorded = read_info(path)["metadata"].get("runs") or []
    networks = member_files(path)
    if not 0 <= index < min(len(recorded), len(networks)):
        raise ValueError(f"{spec!r}: {path} records {len(recorded)} run(s) and has {len(networks)} member(s)")
    if networks[index] is None:
        raise ValueError(f"{spec!r}: member {index} of {path} is stored inside it, not as a network file "
                         "that can be shipped again; ship it from its training run directory")
    run = RunSummary(**recorded[index])
    shipped[run.run_dir] = networks[index]
    return run


def prune_networks(directory: str | Path) -> list[Path]:
    """Delete the network files in ``directory/networks/`` that no model file in ``directory``
    refers to (left by a failed ship, or by re-shipping a model with newer runs); returns them."""
    from eels_helpers.models.model_files import model_files

    directory = Path(directory)
    try:
        used = {f.resolve() for path in directory.glob("*.pt") for f in model_files(path)}
    except ValueError:          # an unreadable model file: its references are unknown, delete nothing
        return []
    unused = [p for p in sorted((directory / "networks").glob("*.pt")) if p.resolve() not in used]
    for path in unused:
        path.unlink()
    return unused


def model_paths(directory: str | Path, skip=()) -> list[Path]:
    """The model files in ``directory`` but those named in ``skip`` and a training run's checkpoint
    (:data:`~eels_helpers.training.runs.CHECKPOINT`): ``default``, ``ensemble``, then by name."""
    from eels_helpers.training.runs import CHECKPOINT

    left_out = {Path(p).name for p in skip} | {CHECKPOINT}
    return sorted((p for p in Path(directory).glob("*.pt") if p.name not in left_out),
                  key=lambda p: ({"default": 0, "ensemble": 1}.get(p.stem, 2), p.stem))


def shipped_cards(directory: str | Path, skip=()) -> dict[str, tuple[list[RunSummary], ModelScores]]:
    """{name: (runs, scores)} read from the metadata of every ``*.pt`` in ``directory`` that was
    written by :func:`ship_models` (order: ``default``, ``ensemble``, then by name); ``skip``: model
    files to leave out (e.g. unreadable ones, which `eels-id models` names)."""
    from eels_helpers.models.model_files import read_info

    cards = {}
    for path in model_paths(directory, skip):
        meta = read_info(path)["metadata"]
        if "runs" in meta and "scores" in meta:
            scores = dict(meta["scores"])
            scores["n_simulated"] = tuple(scores["n_simulated"])
            cards[path.stem] = ([RunSummary(**r) for r in meta["runs"]], ModelScores(**scores))
    return cards


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
             "Written by `eels_helpers.training.release.ship_models` (do not edit by hand). Scores: F1 / precision /",
             "recall / exact match / RMSE (weighted, the paper's definitions), each at the threshold chosen",
             "on the matching validation data (paper's rule). Before scoring, every network's BatchNorm",
             f"statistics were re-estimated with dropout off on {RECALIBRATION_SPECTRA:,} simulated spectra",
             "of the configuration it trained on (`eels_helpers.models.recalibrate_batchnorm`); simulated",
             "scores are on the paper's configuration. Training hours: wall time of the run's",
             "pseudo-epochs; threads: CPU threads per training process over the run (and the device where",
             "it was not the CPU: a GPU run's simulator workers run beside it); learning rate:",
             "its value over the run, halved on a training-F1 plateau (the paper's rule) from the",
             "pseudo-epoch given; stopped: why the run ended (the paper's rule stops it when the",
             "learning rate falls below min_lr), \"not yet\" for a snapshot of a run that can resume;",
             "training data: the simulator configuration (`paper`: the paper's Table 1; the others, e.g.",
             "`open-world-other`: `eels_helpers.simulation.named_configs.NAMED_CONFIGS`, README \"Open world\") and,",
             "for a fine-tuned network, the model whose weights it started from (its own training is listed",
             "where that model is shipped).", ""]
    for name, (runs, s) in cards.items():
        from eels_helpers.evaluation.paper_numbers import composition

        lines += [f"## `{name}`: {composition([r.architecture for r in runs])}", "",
                  "| member | architecture | options | training data | training spectra | pseudo-epochs | "
                  "training hours | threads | learning rate | last training F1 | stopped |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for i, r in enumerate(runs, 1):
            opts = ", ".join(f"{k}={v}" for k, v in r.options.items())
            lines.append(f"| {i} | {r.architecture} | {opts} | {r.data} | {r.spectra:,} | {r.epochs} | "
                         f"{r.train_hours:.2f} | {r.threads or '?'} | {r.lr_history or '?'} | {r.last_train_f1:.2f} | "
                         f"{r.stopped or '?'} |")
        lines += ["", f"- simulated test ({s.n_simulated[1]} spectra; threshold {s.simulated_threshold:.2f} "
                      f"from {s.n_simulated[0]} validation spectra): {_fmt(s.simulated_test)}"]
        if s.experimental_threshold is not None:
            lines.append(f"- real spectra ({s.experimental_description}; threshold {s.experimental_threshold:.2f} "
                         f"from the validation split, scored on the test split, carbon left out): "
                         f"{_fmt(s.experimental_test)}")
        lines += [f"- shipped threshold (used by `eels-id predict`): {s.threshold:.2f}", ""]
    return "\n".join(lines)


def models_table(directory: str | Path | None = None, skip=()) -> str:
    """A plain-text table of the models in ``directory`` (default: the shipped ones) but those in
    ``skip``: networks, size on disk with the network files they use, threshold, and the scores
    measured at shipping."""
    from eels_helpers import FALLBACK_THRESHOLD
    from eels_helpers.evaluation.paper_numbers import composition
    from eels_helpers.models.model_files import MODELS_DIR, model_files, read_info

    directory = Path(directory) if directory is not None else MODELS_DIR
    paths = model_paths(directory, skip)
    if not paths:
        return f"no model files (*.pt) in {directory}"
    cards = shipped_cards(directory, skip)
    pair = lambda d: f"{d['f1']:.2f} / {d['emr']:.2f}" if d else "-"  # noqa: E731
    rows = [("model", "networks", "size", "threshold", "simulated F1 / EMR*", "real F1 / EMR**")]
    for path in paths:
        size = f"{sum(f.stat().st_size for f in model_files(path)) / 1e6:.1f} MB"
        if path.stem in cards:
            runs, sc = cards[path.stem]
            rows.append((path.stem, composition([r.architecture for r in runs]), size, f"{sc.threshold:.2f}",
                         pair(sc.simulated_test), pair(sc.experimental_test)))
        else:      # e.g. a run of eels-id train: its architecture, no scores measured at shipping
            info = read_info(path)
            threshold = "-" if info["threshold"] is None else f"{info['threshold']:.2f}"
            rows.append((path.stem, f"{info['architecture']} (not shipped)", size, threshold, "-", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    notes = ["EMR: exact-match ratio, the fraction of spectra whose reported elements are exactly the true ones",
             "*  the paper configuration's simulated test set (2,048 spectra), at a threshold chosen on 1,024",
             "   simulated validation spectra (it may differ from the threshold shown, chosen on real spectra)",
             "** the test half of one compound-grouped split of the real spectra, carbon out, network alone (no twin",
             "   resolvers); `eels-id evaluate` gives the mean of five splits and the scores as `predict` decides"]
    where = ("details: MODELS.md there, or `eels-id models --card`" if (directory / "MODELS.md").is_file() else
             f"`eels-id evaluate FILE` measures a model that was not shipped; threshold -: it stores none "
             f"({FALLBACK_THRESHOLD} is used)")
    return "\n".join(lines + ["", *notes, "", f"in {directory}; {where}"])


__all__ = ["ModelScores", "RunSummary", "Scorer", "model_card", "model_paths", "models_table", "runs_table",
           "score_runs", "ship_models", "shipped_cards"]
