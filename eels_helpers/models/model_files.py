"""Trained-model files: one ``.pt`` holding everything needed to rebuild a network.

A checkpoint is a dictionary saved with ``torch.save`` and read back with
``torch.load(weights_only=True)`` (no pickled code is executed):

==================  ============================================================
``format``          ``"eels_helpers.checkpoint"``; ``format_version``: 1
``architecture``    name for ``eels_helpers.models.create_model`` (e.g. ``"unet"``),
                    or ``"ensemble"``
``options``         keyword options passed to ``create_model`` (plain JSON types)
``state_dict``      the network's weights (a single model), or ``file``: the name of a
                    single-network checkpoint beside this one that holds them
``members``         for ``"ensemble"``: a list of ``{architecture, options,
                    state_dict}`` (or ``file`` instead of ``state_dict``: a
                    single-network checkpoint beside the ensemble's file); rebuilt as
                    ``models.Ensemble``, the mean of the members' sigmoid
                    probabilities (paper: 2 ViT + 3 U-Net)
``threshold``       decision threshold on the probabilities (or None)
``weights``         storage type of the floating-point weights: ``"float32"`` or
                    ``"float16"`` (half the size; shipped models use it; rebuilt in
                    float32 on load, the rounding changes probabilities by < 1e-3)
``elements``        the 80 output symbols in order (checked on load)
``metadata``        training metadata: data, steps, metrics, profile, ... (JSON types)
``created``         UTC time stamp; ``eels_helpers_version``
==================  ============================================================

``load_model(name_or_path)`` accepts a path to such a file or the name of a model shipped
in ``eels_helpers/data/models/<name>.pt`` (``"default"``, ``"ensemble"``, ...). Files of the older
plain layout (keys model, options, state_dict, metadata) are read too. A training run's
``checkpoint.pt`` is not a model file (it holds the training state): load its ``model.pt``.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eels_helpers import DATA_DIR, FALLBACK_THRESHOLD, shipped_model_names

FORMAT = "eels_helpers.checkpoint"
FORMAT_VERSION = 1
#: where shipped models live
MODELS_DIR = DATA_DIR / "models"


class ModelNotFoundError(FileNotFoundError):
    """A model name or path that does not resolve to a checkpoint file."""


@dataclass(eq=False)
class LoadedModel:
    """A network ready for inference plus what its checkpoint says about it.

    model: a torch.nn.Module in eval mode mapping (batch, 3072) float32 spectra to
        (batch, 80) logits (an ensemble's logits are those of its mean member probability,
        :class:`eels_helpers.models.Ensemble`); ``outputs`` is ``"logits"``, or
        ``"probabilities"`` for a wrapped module that already applies the sigmoid.
    """

    model: Any
    architecture: str
    options: dict = field(default_factory=dict)
    threshold: float | None = None
    metadata: dict = field(default_factory=dict)
    outputs: str = "logits"
    source: str | None = None

    @property
    def name(self) -> str:
        return Path(self.source).stem if self.source else self.architecture


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value)
    except TypeError as err:
        raise TypeError(f"{what} must hold plain JSON types (str, int, float, bool, None, list, dict): {err}") from err


def _check_threshold(threshold: float | None) -> float | None:
    if threshold is None:
        return None
    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be a probability in (0, 1), got {threshold}")
    return threshold


def decision_threshold(model: Any, threshold: float | None = None) -> float:
    """The threshold every command decides with: ``threshold`` when given, else the one stored
    with ``model`` (a :class:`LoadedModel`; anything without one counts as storing none), else
    :data:`FALLBACK_THRESHOLD`. Raises ValueError outside (0, 1)."""
    if threshold is None:
        threshold = getattr(model, "threshold", None)
    return _check_threshold(FALLBACK_THRESHOLD if threshold is None else threshold)


#: storage types of the floating-point weights
WEIGHT_DTYPES = ("float32", "float16")


def _stored_state(model: Any, weights: str) -> dict:
    """The model's state dict on the CPU, floating tensors cast to ``weights``."""
    import torch

    if weights not in WEIGHT_DTYPES:
        raise ValueError(f"weights must be one of {WEIGHT_DTYPES}, got {weights!r}")
    dtype = getattr(torch, weights)
    return {k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().to("cpu")).clone()
            for k, v in model.state_dict().items()}


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj, path)`` through a temporary file renamed into place: a reader never
    sees a half-written file, and a failed write leaves none behind. Returns the path."""
    import os

    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _base(threshold, metadata) -> dict:
    from eels_helpers import __version__
    from eels_helpers.physics.elements import ELEMENTS

    metadata = dict(metadata or {})
    _check_json(metadata, "metadata")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "threshold": _check_threshold(threshold),
        "elements": list(ELEMENTS),
        "metadata": metadata,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "eels_helpers_version": __version__,
    }


def save_model(
    path: str | Path,
    model: Any,
    *,
    architecture: str,
    options: dict | None = None,
    threshold: float | None = None,
    metadata: dict | None = None,
    weights: str = "float32",
    weights_file: str | None = None,
) -> Path:
    """Save a single network built by ``create_model(architecture, **options)``.

    The weights are stored on the CPU as ``weights`` ("float32" or "float16"), in this file or,
    with ``weights_file`` (a name relative to this file's folder), in their own single-network
    file that this one refers to, so a shipped model and the ensembles using the same network
    store it once. Returns the path written.
    """
    options = dict(options or {})
    _check_json(options, "options")
    path = Path(path)
    entry = _network_weights(path, model, str(architecture), options, weights, weights_file)
    return atomic_save(_single_payload(str(architecture), options, weights, entry, threshold, metadata), path)


def _single_payload(architecture: str, options: dict, weights: str, entry: dict, threshold=None,
                    metadata=None) -> dict:
    """The dictionary of a single-network file; ``entry`` is ``{"state_dict": ...}`` or ``{"file": ...}``."""
    return _base(threshold, metadata) | {"weights": weights, "architecture": architecture, "options": options} | entry


def _network_weights(path: Path, model, architecture: str, options: dict, weights: str,
                     weights_file: str | None) -> dict:
    """The weights entry of a network saved in ``path``: ``{"state_dict": ...}`` inline, or
    ``{"file": weights_file}`` after writing them (atomically) to that file beside ``path``; a
    file there that already holds exactly these weights is kept as it is (re-shipping the same
    network rewrites nothing)."""
    state = _stored_state(model, weights)
    if weights_file is None:
        return {"state_dict": state}
    target = path.parent / weights_file
    if not _holds(target, architecture, options, weights, state):
        atomic_save(_single_payload(architecture, options, weights, {"state_dict": state}), target)
    return {"file": str(weights_file)}


def _holds(path: Path, architecture: str, options: dict, weights: str, state: dict) -> bool:
    """True if ``path`` is a single-network file with exactly this architecture, options and weights."""
    import torch

    if not path.is_file():
        return False
    try:
        payload = _read_payload(path)
    except ValueError:
        return False
    stored = payload.get("state_dict")
    return (payload.get("architecture") == architecture and payload.get("options") == options
            and payload.get("weights") == weights and isinstance(stored, dict) and stored.keys() == state.keys()
            and all(torch.equal(stored[k], state[k]) for k in state))


def save_ensemble(
    path: str | Path,
    members: list,
    *,
    threshold: float | None = None,
    metadata: dict | None = None,
    weights: str = "float32",
    member_files: list[str] | None = None,
) -> Path:
    """Save an ensemble whose members are checkpoint paths or :class:`LoadedModel` objects.

    Members must be single networks, stored as ``weights`` ("float32" or "float16"): copied
    into the one file, or with ``member_files`` (one name per member, relative to the
    ensemble's folder) each saved as its own single-network file that the ensemble refers
    to, so ensembles sharing a network store it once and no file holds every member.
    """
    if not members:
        raise ValueError("an ensemble needs at least one member")
    if member_files is not None and len(member_files) != len(members):
        raise ValueError(f"member_files names {len(member_files)} files for {len(members)} members")
    path = Path(path)
    entries = []
    for i, member in enumerate(members):
        loaded = member if isinstance(member, LoadedModel) else load_model(member)
        if loaded.architecture == "ensemble":
            raise ValueError("ensemble members must be single networks, not ensembles")
        entries.append({"architecture": loaded.architecture, "options": dict(loaded.options)}
                       | _network_weights(path, loaded.model, loaded.architecture, dict(loaded.options), weights,
                                          None if member_files is None else member_files[i]))
    payload = _base(threshold, metadata) | {
        "weights": weights,
        "architecture": "ensemble",
        "options": {"members": [e["architecture"] for e in entries]},
        "members": entries,
    }
    return atomic_save(payload, path)


def read_info(name_or_path: str | Path) -> dict:
    """A checkpoint's description without building its network: ``architecture``, ``options``,
    ``threshold``, ``metadata`` and ``weights`` (their storage type; the weights are
    memory-mapped, not read)."""
    payload = _read_payload(resolve_model_path(name_or_path), mmap=True)
    return {"architecture": payload["architecture"], "options": dict(payload.get("options", {})),
            "threshold": payload.get("threshold"), "metadata": dict(payload.get("metadata", {})),
            "weights": payload.get("weights", "float32")}


def member_files(name_or_path: str | Path) -> list[Path | None]:
    """The network file of each of a model's members, in the members' order (one entry for a
    single network): the file it refers to, or None where the weights are inside the model's
    own file. Members that share a network list the same file each."""
    path = resolve_model_path(name_or_path)
    payload = _read_payload(path, mmap=True)
    return [path.parent / entry["file"] if "file" in entry else None
            for entry in payload.get("members") or [payload]]


def model_files(name_or_path: str | Path) -> list[Path]:
    """The files a model needs: its own file, then the network files it refers to, each once
    (copy them all, keeping their relative places, to move a model elsewhere)."""
    path = resolve_model_path(name_or_path)
    files = [path]
    for member in member_files(path):
        if member is not None and member not in files:
            files.append(member)
    return files


def shipped_models() -> list[str]:
    """Names of the models that ship with the package (files in ``MODELS_DIR``)."""
    return shipped_model_names(MODELS_DIR)


def resolve_model_path(name_or_path: str | Path) -> Path:
    """A checkpoint path for a path or a shipped model name; ModelNotFoundError otherwise."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".pt" or candidate.exists() or len(candidate.parts) > 1:
        if candidate.is_file():
            return candidate
        if candidate.is_dir():
            inside = candidate / "model.pt"
            hint = f"; a training run's model is {inside}" if inside.is_file() else ""
            raise ModelNotFoundError(f"{candidate} is a directory, not a model file{hint}")
        raise ModelNotFoundError(f"model file {candidate} does not exist")
    shipped = MODELS_DIR / f"{name_or_path}.pt"
    if shipped.is_file():
        return shipped
    available = shipped_models()
    listing = ", ".join(available) if available else "none ships with this version yet"
    raise ModelNotFoundError(
        f"no trained model named {str(name_or_path)!r} (shipped models: {listing}). Train one with "
        "`eels-id train` (see `eels-id train --help`) and pass the .pt file it writes, e.g. "
        "`eels-id predict FILE --model path/to/model.pt`"
    )


def _build(architecture: str, options: dict, state_dict: dict):
    """The network with the file's weights. It is built on the meta device (no memory, no random
    initialisation: the weights replace it anyway, and initialising a U-Net took most of a
    cold ``eels-id predict``), then takes the stored tensors, cast to the dtypes of its own
    parameters (float16 files are rebuilt in float32). A network whose constructor leaves a
    tensor the file does not hold (a non-persistent buffer) is built normally instead."""
    import torch

    from eels_helpers.models import create_model

    with torch.device("meta"):
        model = create_model(architecture, **options)
    own = model.state_dict(keep_vars=True)
    state = {k: v.to(own[k].dtype) if k in own and v.is_floating_point() else v
             for k, v in state_dict.items()}
    model.load_state_dict(state, assign=True)
    if any(t.is_meta for t in [*model.parameters(), *model.buffers()]):
        model = create_model(architecture, **options)
        model.load_state_dict(state_dict)
    return model.eval()


def _network(path: Path, entry: dict):
    """A single network (the file's payload or an ensemble member): its weights in the entry,
    or in the single-network file it names (beside ``path``)."""
    if "file" not in entry:
        return _build(entry["architecture"], entry["options"], entry["state_dict"])
    member_path = path.parent / entry["file"]
    if not member_path.is_file():
        raise ModelNotFoundError(f"{path}: the network file it refers to, {member_path}, does not exist")
    loaded = load_model(member_path)
    if loaded.architecture != entry["architecture"]:
        raise ValueError(f"{path}: network file {member_path} holds a {loaded.architecture}, "
                         f"{path.name} expects a {entry['architecture']}")
    return loaded.model


def _from_models_save(blob: dict) -> dict:
    """Translate a plain-layout file ({model, options, state_dict or model_state, metadata})
    into this format; a threshold in their metadata is used."""
    metadata = dict(blob.get("metadata") or {})
    state = blob.get("state_dict", blob.get("model_state"))
    if state is None:
        return blob
    return {"format": FORMAT, "format_version": 1, "architecture": blob["model"],
            "options": dict(blob.get("options") or {}), "state_dict": state,
            "threshold": _check_threshold(metadata.get("threshold")), "metadata": metadata}


#: how the files ``torch.load`` reads begin: a zip archive (``torch.save``'s format since PyTorch 1.6) or a
#: pickle of protocol 2 or later (the older format)
_CHECKPOINT_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x80")


def _unreadable(path: Path, err: BaseException) -> str:
    """Why ``torch.load`` could not read ``path`` (one line naming it): empty, not a checkpoint
    at all (neither zip nor pickle), Python objects besides tensors, or torch's own reason."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        head = None
    if head == b"":
        return f"{path} is empty (0 bytes), not a model file"
    if head is not None and not head.startswith(_CHECKPOINT_MAGIC):
        return f"{path} is not a PyTorch checkpoint (not a zip/pickle file)"
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "Weights only load failed" in reason:
        reason = "it holds Python objects besides tensors, which are not loaded (they could run code)"
    sibling = path.with_name("model.pt")
    hint = (f"; a training run's {path.name} holds its training state, use {sibling} instead"
            if path.name != sibling.name and sibling.is_file() else "")
    return f"{path}: not a readable eels_helpers model file: {reason}{hint}"


def _read_payload(path: Path, *, mmap: bool = False) -> dict:
    """A checkpoint file's dictionary, checked (format, version, output elements)."""
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as err:
        raise ValueError(_unreadable(path, err)) from err
    if isinstance(payload, dict) and "format" not in payload and isinstance(payload.get("model"), str):
        payload = _from_models_save(payload)  # a plain-layout file
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not an eels_helpers checkpoint (missing format={FORMAT!r})")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path}: checkpoint format {payload['format_version']} is newer than this "
            f"eels_helpers understands ({FORMAT_VERSION}); upgrade eels_helpers"
        )
    from eels_helpers.physics.elements import ELEMENTS

    if list(payload.get("elements", ELEMENTS)) != list(ELEMENTS):
        raise ValueError(f"{path}: the checkpoint's 80 output elements differ from "
                         "eels_helpers.physics.elements.ELEMENTS")
    return payload


def load_model(name_or_path: str | Path, *, device: str = "cpu") -> LoadedModel:
    """Load a checkpoint by path or shipped name and rebuild its network (eval mode)."""
    path = resolve_model_path(name_or_path)
    payload = _read_payload(path)
    architecture = payload["architecture"]
    if architecture == "ensemble":
        from eels_helpers.models import Ensemble

        nets = [_network(path, m) for m in payload["members"]]
        model = Ensemble(nets).eval()  # logits of the mean member probability
    else:
        model = _network(path, payload)
    return LoadedModel(
        model=model.to(device),
        architecture=architecture,
        options=dict(payload.get("options", {})),
        threshold=payload.get("threshold"),
        metadata=dict(payload.get("metadata", {})),
        source=str(path),
    )


def recalibrate_model_file(path: str | Path, spectra, *, batch_size: int = 64) -> LoadedModel:
    """Re-estimate the BatchNorm statistics of the single network in ``path`` on ``spectra``
    (N, 3072) with dropout off (:func:`eels_helpers.models.recalibrate_batchnorm`) and write the
    file back in place (atomically), recording ``batchnorm_recalibration`` = {"spectra": N} in
    its metadata; the weights keep their storage type (a file referring to a network file in
    ``networks/`` gets them inline: that file, which other models may share, is left as it is).
    Returns the recalibrated model. Use it on a training run's ``model.pt`` before evaluating
    it: the statistics accumulated during training do not match inference."""
    import numpy as np

    from eels_helpers.models import recalibrate_batchnorm

    path = Path(path)
    loaded = load_model(path)
    if loaded.architecture == "ensemble":
        raise ValueError(f"{path}: an ensemble; recalibrate its members' files before save_ensemble")
    spectra = np.asarray(spectra, dtype=np.float32)
    recalibrate_batchnorm(loaded.model, spectra, batch_size=batch_size)
    loaded.metadata["batchnorm_recalibration"] = {"spectra": int(spectra.shape[0])}
    save_model(path, loaded.model, architecture=loaded.architecture, options=loaded.options,
               threshold=loaded.threshold, metadata=loaded.metadata, weights=read_info(path)["weights"])
    return loaded


__all__ = [
    "FALLBACK_THRESHOLD",
    "decision_threshold",
    "FORMAT",
    "LoadedModel",
    "ModelNotFoundError",
    "atomic_save",
    "member_files",
    "model_files",
    "read_info",
    "MODELS_DIR",
    "load_model",
    "recalibrate_model_file",
    "resolve_model_path",
    "save_ensemble",
    "save_model",
    "shipped_models",
]
