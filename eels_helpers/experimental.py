"""Evaluation on real (experimental) spectra: the manifest, a grouped split, metrics.

Manifest format (``manifest.csv`` in the spectra directory, comma-separated, one row per
file; the format of the project's validation set of real spectra):

====================  ========  ====================================================
column                required  meaning
====================  ========  ====================================================
``file``              yes       file name relative to the directory (any format
                                :func:`eels_helpers.io.read_spectrum` reads)
``elements``          yes       symbols whose edges are visible in the file's window,
                                separated by ``;`` (e.g. ``Fe;O``); symbols outside
                                Be..Bi are dropped with a warning
``energy_offset_eV``  no        calibration error of the energy axis, file minus true
                                (eV); corrected before prediction; empty -> 0
``compound_group``    no        files of one compound share a group; a split keeps
                                each group on one side (default: the file name)
``spectrum_image``    no        yes/no; informative (the shape comes from the file)
``label_trust``,      no        kept as they are
``source``, ...
====================  ========  ====================================================

Spectrum images are reduced to their summed spectrum (sum over all pixels) before
prediction, so each file counts once in the metrics: this is the spectrum a user would
look at to ask "which elements are in this area", and it has the best signal to noise.
Carbon is left out of every metric (it is often contamination), as in the paper.

When no directory is available, :func:`evaluation_set` falls back to the real core-loss
spectra that ship with installed packages (exspy's test spectra) and says so.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REQUIRED_COLUMNS = ("file", "elements")
OPTIONAL_COLUMNS = ("energy_offset_eV", "compound_group", "spectrum_image")
#: environment variable naming the directory of real spectra
ENV_DIRECTORY = "EELS_ID_EXPERIMENTAL_DIR"
#: carbon is left out of every experimental metric
EXCLUDED_FROM_METRICS = ("C",)

#: real spectra shipped inside installed packages: (package, relative path, elements,
#: energy offset eV, note). Elements and offset as measured for the project's manifest
#: (the exspy core-loss spectrum is the file exspy_coreloss_MnO.msa there).
PACKAGE_SPECTRA = (
    ("exspy", "tests/components/coreloss_spectrum.msa", "Mn;O", 5.0,
     "exspy test core-loss spectrum (Mn L2,3 and O K; axis ~5 eV high)"),
    ("exspy", "tests/drawing/data/Cr_L_cl.hspy", "Cr", 0.0,
     "exspy plotting-test spectrum, Cr L2,3 (metadata Sample.elements = ['Cr'])"),
)


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file, row and column."""


def _parse_bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("yes", "y", "true", "1"):
        return True
    if text in ("no", "n", "false", "0", "", "nan", "none"):
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def load_manifest(directory: str | Path, filename: str = "manifest.csv"):
    """Read and validate ``directory/filename``; returns a pandas DataFrame.

    Adds columns: ``path`` (absolute), ``labels`` (tuple of symbols in Be..Bi),
    ``ignored_elements``; fills ``energy_offset_eV`` (float, empty -> 0),
    ``compound_group`` (default: file) and ``spectrum_image`` (bool).
    Raises ManifestError for missing columns, rows or files.
    """
    import pandas as pd

    from .elements import ELEMENTS

    directory = Path(directory)
    manifest_path = directory / filename
    if not manifest_path.is_file():
        raise ManifestError(f"{manifest_path}: no manifest (required columns: {', '.join(REQUIRED_COLUMNS)})")
    df = pd.read_csv(manifest_path, dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ManifestError(f"{manifest_path}: missing required column(s) {missing}; found {list(df.columns)}")
    if df.empty:
        raise ManifestError(f"{manifest_path}: no rows")
    known = set(ELEMENTS)
    labels, ignored, offsets, groups, images, paths = [], [], [], [], [], []
    for row, rec in enumerate(df.to_dict("records"), start=2):  # line 1 is the header
        name = rec["file"].strip()
        if not name:
            raise ManifestError(f"{manifest_path}: line {row}: empty 'file'")
        symbols = [s.strip() for s in rec["elements"].replace(",", ";").split(";") if s.strip()]
        bad = [s for s in symbols if s not in known]
        if bad:
            warnings.warn(f"{manifest_path}: line {row} ({name}): elements {bad} are outside Be..Bi and are ignored")
        labels.append(tuple(s for s in ELEMENTS if s in symbols))
        ignored.append(tuple(bad))
        text = rec.get("energy_offset_eV", "").strip()
        try:
            offsets.append(float(text) if text else 0.0)
        except ValueError:
            raise ManifestError(f"{manifest_path}: line {row}: energy_offset_eV={text!r} is not a number (eV)") from None
        groups.append(rec.get("compound_group", "").strip() or name)
        try:
            images.append(_parse_bool(rec.get("spectrum_image", "")))
        except ValueError as err:
            raise ManifestError(f"{manifest_path}: line {row}: spectrum_image: {err}") from None
        paths.append(str((directory / name).resolve()))
    df = df.assign(path=paths, labels=labels, ignored_elements=ignored, energy_offset_eV=offsets,
                   compound_group=groups, spectrum_image=images)
    absent = [p for p in paths if not Path(p).is_file()]
    if absent:
        raise ManifestError(f"{manifest_path}: {len(absent)} listed file(s) are missing, e.g. {absent[:3]}")
    if df["file"].duplicated().any():
        raise ManifestError(f"{manifest_path}: duplicated files {df['file'][df['file'].duplicated()].tolist()}")
    return df.reset_index(drop=True)


def package_spectra():
    """A manifest DataFrame for the real spectra shipped in installed packages (may be empty)."""
    import importlib.util

    import pandas as pd

    rows = []
    for package, rel, elements, offset, note in PACKAGE_SPECTRA:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        path = Path(list(spec.submodule_search_locations)[0]) / rel
        if path.is_file():
            rows.append({"file": path.name, "elements": elements, "energy_offset_eV": offset,
                         "compound_group": f"{package}:{path.name}", "spectrum_image": False,
                         "source": f"{package} {rel}", "notes": note, "path": str(path),
                         "labels": tuple(s for s in elements.split(";")), "ignored_elements": ()})
    columns = ["file", "elements", "energy_offset_eV", "compound_group", "spectrum_image", "source",
               "notes", "path", "labels", "ignored_elements"]
    return pd.DataFrame(rows, columns=columns)


def experimental_directory(directory: str | Path | None = None) -> Path | None:
    """The directory of real spectra to use: the argument, else $EELS_ID_EXPERIMENTAL_DIR;
    None if neither is given (the package itself knows no data location)."""
    if directory is not None:
        if (Path(directory) / "manifest.csv").is_file():
            return Path(directory)
        raise ManifestError(f"{directory}: no manifest.csv there")
    candidate = os.environ.get(ENV_DIRECTORY)
    if candidate and (Path(candidate) / "manifest.csv").is_file():
        return Path(candidate)
    return None


def evaluation_set(directory: str | Path | None = None):
    """(manifest DataFrame, description). Falls back to package spectra, saying so."""
    found = experimental_directory(directory)
    if found is not None:
        df = load_manifest(found)
        return df, f"{len(df)} real spectra from {found} (manifest.csv)"
    df = package_spectra()
    message = (
        "no directory of real spectra is configured (pass one or set $EELS_ID_EXPERIMENTAL_DIR "
        "to a folder with a manifest.csv); using the {len(df)} real spectra that ship with installed "
        "packages instead: " + ", ".join(f"{r.file} ({r.elements})" for r in df.itertuples())
    )
    warnings.warn(message)
    return df, message


def evaluation_split(manifest, seed: int = 0, validation_fraction: float = 0.5):
    """Split a manifest into (validation, test) DataFrames keeping each compound_group on
    one side. Groups are shuffled with ``seed`` and taken into validation until it holds at
    least ``validation_fraction`` of the files."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    groups = manifest["compound_group"].to_numpy()
    unique = np.array(sorted(set(groups)))
    if unique.size < 2:
        raise ValueError("a split needs at least two compound groups")
    rng = np.random.default_rng(seed)
    rng.shuffle(unique)
    sizes = {g: int((groups == g).sum()) for g in unique}
    chosen, count, target = set(), 0, validation_fraction * len(groups)
    for g in unique[:-1]:  # leave at least one group for the test side
        if count >= target:
            break
        chosen.add(g)
        count += sizes[g]
    mask = np.isin(groups, list(chosen))
    return manifest[mask].reset_index(drop=True), manifest[~mask].reset_index(drop=True)


def label_matrix(labels) -> np.ndarray:
    """(n, 80) 0/1 float32 labels from tuples of symbols."""
    from .elements import ELEMENTS

    index = {s: i for i, s in enumerate(ELEMENTS)}
    y = np.zeros((len(labels), len(ELEMENTS)), dtype=np.float32)
    for row, symbols in enumerate(labels):
        for s in symbols:
            y[row, index[s]] = 1.0
    return y


def metric_mask() -> np.ndarray:
    """Boolean (80,) mask of the elements that count in experimental metrics (not carbon)."""
    from .elements import ELEMENTS

    return np.array([s not in EXCLUDED_FROM_METRICS for s in ELEMENTS])


@dataclass(eq=False)
class Evaluation:
    """Per-file predictions and metrics on real spectra.

    table: one row per file (file, labels, detected, correct, offset, probabilities of the
        true elements); probabilities: (n, 80); labels: (n, 80); threshold used;
    metrics: on ``test`` rows (all rows without a split), carbon left out;
    validation_metrics: when the threshold was chosen on a validation split.
    """

    table: Any
    probabilities: np.ndarray
    labels: np.ndarray
    threshold: float
    metrics: dict
    validation_metrics: dict = field(default_factory=dict)
    description: str = ""


def compute_metrics(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """Weighted P/R/F1, EMR and RMSE (:func:`eels_helpers.metrics.evaluate`), carbon left out."""
    from . import metrics

    return metrics.evaluate(labels, probabilities, threshold, exclude_carbon=True).as_dict()


def choose_threshold(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The paper's rule (0.05..0.95 where precision and recall are closest), carbon left out."""
    from . import metrics

    return float(metrics.select_threshold(labels, probabilities, exclude_carbon=True))


def predict_manifest(model: Any, manifest, *, use_offsets: bool = True, **predict_options) -> np.ndarray:
    """(n, 80) probabilities for each manifest row (spectrum images: summed spectrum)."""
    from .io import read_spectrum
    from .predict import predict

    spectra = [read_spectrum(p).summed() for p in manifest["path"]]
    offsets = [float(o) for o in manifest["energy_offset_eV"]] if use_offsets else [0.0] * len(spectra)
    preds = predict(spectra, model, 0.5, offsets, **predict_options)
    return np.stack([p.probabilities for p in preds])


def evaluate(
    model: Any,
    directory: str | Path | None = None,
    *,
    threshold: float | str | None = None,
    seed: int = 0,
    validation_fraction: float = 0.5,
    use_offsets: bool = True,
    manifest=None,
    **predict_options,
) -> Evaluation:
    """Predict every file of a directory of real spectra and score the predictions.

    threshold: a number; None -> the model file's threshold (else 0.5), scored on all
        files; "validation" -> chosen on a grouped validation split (``seed``,
        ``validation_fraction``) by the paper's rule, metrics reported on the test side.
    use_offsets: correct each file's energy_offset_eV from the manifest.
    manifest: an already loaded manifest (overrides ``directory``).
    """
    import pandas as pd

    from .checkpoints import LoadedModel, load_model
    from .elements import ELEMENTS

    if manifest is None:
        manifest, description = evaluation_set(directory)
    else:
        description = f"{len(manifest)} spectra from a given manifest"
    if len(manifest) == 0:
        raise ManifestError("no real spectra to evaluate on")
    loaded = model if isinstance(model, LoadedModel) or not isinstance(model, (str, Path)) else load_model(model)
    probs = predict_manifest(loaded, manifest, use_offsets=use_offsets, **predict_options)
    labels = label_matrix(manifest["labels"])

    is_test = np.ones(len(manifest), dtype=bool)
    validation_metrics: dict = {}
    if threshold == "validation":
        val, _ = evaluation_split(manifest, seed, validation_fraction)
        is_val = manifest["file"].isin(val["file"]).to_numpy()
        threshold = choose_threshold(probs[is_val], labels[is_val])
        validation_metrics = compute_metrics(probs[is_val], labels[is_val], threshold)
        is_test = ~is_val
    elif threshold is None:
        stored = getattr(loaded, "threshold", None)
        threshold = stored if stored is not None else 0.5
    threshold = float(threshold)
    metrics = compute_metrics(probs[is_test], labels[is_test], threshold)

    mask = metric_mask()
    rows = []
    for i, rec in enumerate(manifest.itertuples()):
        detected = tuple(s for j, s in enumerate(ELEMENTS) if probs[i, j] >= threshold)
        scored = lambda t: tuple(s for s in t if s not in EXCLUDED_FROM_METRICS)  # noqa: E731
        rows.append({
            "file": rec.file,
            "split": "test" if is_test[i] else "validation",
            "labels": ";".join(rec.labels),
            "detected": ";".join(detected),
            "exact_match": set(scored(detected)) == set(scored(rec.labels)),
            "offset_eV": float(rec.energy_offset_eV) if use_offsets else 0.0,
            "p_true": ";".join(f"{s}:{probs[i, ELEMENTS.index(s)]:.2f}" for s in rec.labels),
            "top3": ";".join(f"{ELEMENTS[j]}:{probs[i, j]:.2f}"
                             for j in np.argsort(-np.where(mask, probs[i], -1))[:3]),
        })
    return Evaluation(pd.DataFrame(rows), probs, labels, threshold, metrics, validation_metrics, description)
