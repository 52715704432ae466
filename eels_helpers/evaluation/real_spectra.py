"""Evaluation on real (experimental) spectra: the manifest, a grouped split, a model's scores.

:func:`load_manifest` / :func:`evaluation_set` read the labelled spectra, :func:`evaluation_split`
splits them by compound, :func:`label_matrix` turns labels into the (n, 80) matrix and
:func:`evaluate_model` predicts every file and scores it with the paper's metrics
(:func:`eels_helpers.evaluation.metrics.evaluate`, carbon left out) into an :class:`Evaluation`;
:func:`evaluate_models` does so for the models of Tables 2 and 3. The tables themselves are in
:mod:`eels_helpers.evaluation.paper_numbers`, the common mistakes and Fig. 6's examples in
:mod:`eels_helpers.evaluation.mistakes`.

Manifest format (``manifest.csv`` in the spectra directory, comma-separated, one row per
file; the format of the project's validation set of real spectra):

====================  ========  ====================================================
column                required  meaning
====================  ========  ====================================================
``file``              yes       file name relative to the directory (any format
                                :func:`eels_helpers.inference.spectrum_files.read_spectrum` reads)
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

Which spectra: :func:`evaluation_set` uses the real spectra that **ship with the package**
(:data:`SHIPPED_DIRECTORY`, ``eels_helpers/data/real_spectra``: openly licensed EELSDB, exspy,
Nion eels-analysis and EELSMODEL spectra, described in its ``DATA_CARD.md``) when no directory
is given. A directory (the argument, else ``$EELS_ID_EXPERIMENTAL_DIR``) **replaces** them;
with ``extend=True`` the shipped spectra are **added** to it, except those already there (same
file name or same file content, :func:`combine_manifests`). The shipped spectra are evaluation
data only: nothing in simulation, datasets or training reads them.

Small samples: every :class:`Evaluation` carries the split sizes and 95 % intervals of its
scores (:mod:`eels_helpers.evaluation.intervals`), which the tables of
:mod:`eels_helpers.evaluation.paper_numbers` show for splits of fewer than 20 spectra.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eels_helpers import DATA_DIR, progress_bar
from eels_helpers.files import file_digest

REQUIRED_COLUMNS = ("file", "elements")
OPTIONAL_COLUMNS = ("energy_offset_eV", "compound_group", "spectrum_image")
#: environment variable naming the directory of real spectra
ENV_DIRECTORY = "EELS_ID_EXPERIMENTAL_DIR"
#: carbon is left out of every experimental metric
EXCLUDED_FROM_METRICS = ("C",)

#: the real spectra that ship with the package (evaluation only; sources in DATA_CARD.md)
SHIPPED_DIRECTORY = DATA_DIR / "real_spectra"
#: licences under which a shipped spectrum may be redistributed: the first word of its
#: manifest ``licence`` (SPDX identifiers)
SHIPPED_LICENCES = ("ODbL-1.0", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later")


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

    from eels_helpers.physics.elements import ELEMENTS

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
            raise ManifestError(f"{manifest_path}: line {row}: energy_offset_eV={text!r} is not a number "
                                "(eV)") from None
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


def shipped_spectra():
    """The manifest DataFrame (:func:`load_manifest`) of the real spectra that ship with the
    package (:data:`SHIPPED_DIRECTORY`; sources, licences and labelling in its DATA_CARD.md)."""
    return load_manifest(SHIPPED_DIRECTORY)


def package_spectra():
    """The shipped spectra that come from exspy's test data (a real Mn/O core-loss spectrum and
    a Cr L2,3 spectrum), a manifest DataFrame; exspy itself is not needed."""
    df = shipped_spectra()
    return df[df["source"].str.startswith("exspy")].reset_index(drop=True)


def experimental_directory(directory: str | Path | None = None) -> Path | None:
    """The directory of real spectra to use: the argument, else $EELS_ID_EXPERIMENTAL_DIR;
    None if neither is given (then :func:`evaluation_set` uses the shipped spectra)."""
    if directory is not None:
        if (Path(directory) / "manifest.csv").is_file():
            return Path(directory)
        raise ManifestError(f"{directory}: no manifest.csv there")
    candidate = os.environ.get(ENV_DIRECTORY)
    if candidate:
        if (Path(candidate) / "manifest.csv").is_file():
            return Path(candidate)
        raise ManifestError(f"${ENV_DIRECTORY}={candidate}: no manifest.csv there")
    return None


def combine_manifests(first, second):
    """(``first`` followed by the rows of ``second`` that ``first`` does not already hold,
    number of rows of ``second`` left out). A row is already there when a row of ``first``
    has the same ``file`` name or the same file content (SHA-256); columns missing on one side
    are filled with "". Compound groups of the same name merge (one compound, one side of a split)."""
    import pandas as pd

    names = set(first["file"])
    digests = {file_digest(p) for p in first["path"]}
    keep = [not (name in names or file_digest(path) in digests) for name, path in zip(second["file"], second["path"])]
    extra = second[keep]
    combined = pd.concat([first, extra], ignore_index=True)
    text_columns = [c for c in combined.columns if c not in ("labels", "ignored_elements", "energy_offset_eV",
                                                              "spectrum_image")]
    combined[text_columns] = combined[text_columns].fillna("")
    return combined, int(len(second) - len(extra))


def evaluation_set(directory: str | Path | None = None, *, extend: bool = False):
    """The real spectra to evaluate on.

    Parameters
    ----------
    directory : str or Path, optional
        A folder with a ``manifest.csv`` (else ``$EELS_ID_EXPERIMENTAL_DIR``); it replaces the
        shipped spectra. None and no environment variable: the shipped spectra
        (:func:`shipped_spectra`).
    extend : bool
        Add the shipped spectra to the directory's, leaving out those it already holds
        (:func:`combine_manifests`).

    Returns
    -------
    manifest : pandas.DataFrame
        :func:`load_manifest` rows plus a column ``collection`` (``"shipped"`` or the directory).
    description : str
        Which spectra, how many, from where (for the reader of a report).

    Raises
    ------
    ManifestError
        The directory (or the environment variable's) has no usable ``manifest.csv``.
    ValueError
        ``extend`` is not a bool.
    """
    if not isinstance(extend, bool):
        raise ValueError(f"extend must be True or False (add the shipped spectra to the directory's), got {extend!r}")
    found = experimental_directory(directory)
    shipped = shipped_spectra().assign(collection="shipped")
    where = f"{len(shipped)} real spectra that ship with eels_helpers (eels_helpers/data/real_spectra, DATA_CARD.md)"
    if found is None:
        return shipped, where
    df = load_manifest(found).assign(collection=str(found))
    if not extend:
        return df, f"{len(df)} real spectra from {found} (manifest.csv)"
    combined, dropped = combine_manifests(df, shipped)
    return combined, (f"{len(combined)} real spectra: {len(df)} from {found} (manifest.csv) and "
                      f"{len(shipped) - dropped} of the {where} ({dropped} already in {found} were left out)")


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
    from eels_helpers.physics.elements import ELEMENTS

    index = {s: i for i, s in enumerate(ELEMENTS)}
    y = np.zeros((len(labels), len(ELEMENTS)), dtype=np.float32)
    for row, symbols in enumerate(labels):
        for s in symbols:
            y[row, index[s]] = 1.0
    return y


def metric_mask() -> np.ndarray:
    """Boolean (80,) mask of the elements that count in experimental metrics (not carbon)."""
    from eels_helpers.physics.elements import ELEMENTS

    return np.array([s not in EXCLUDED_FROM_METRICS for s in ELEMENTS])


@dataclass(eq=False)
class Evaluation:
    """Per-file predictions and metrics on real spectra.

    table: one row per file (file, labels, detected, correct, offset, probabilities of the
        true elements); probabilities: (n, 80); labels: (n, 80); threshold used;
    metrics: on ``test`` rows (all rows without a split), carbon left out;
    validation_metrics: when the threshold was chosen on a validation split;
    inputs: (n, 3072) what the network saw (None if not kept);
    n_test, n_validation: the spectra behind ``metrics`` and behind the threshold (0: the
        threshold was given, not chosen);
    intervals: 95 % intervals of ``metrics`` (``{"f1": (low, high), ...}``,
        :func:`eels_helpers.evaluation.intervals.bootstrap_intervals`);
    threshold_range: 95 % range of the chosen threshold over bootstrap resamples of the
        validation spectra (None when the threshold was given).
    """

    table: Any
    probabilities: np.ndarray
    labels: np.ndarray
    threshold: float
    metrics: dict
    validation_metrics: dict = field(default_factory=dict)
    description: str = ""
    inputs: np.ndarray | None = None
    n_test: int = 0
    n_validation: int = 0
    intervals: dict = field(default_factory=dict)
    threshold_range: tuple[float, float] | None = None

    def reported(self) -> dict:
        """``metrics`` with what the tables need to flag a small sample: ``n`` (test spectra),
        ``n_validation``, ``intervals`` and ``threshold_range``."""
        return {**self.metrics, "n": self.n_test, "n_validation": self.n_validation,
                "intervals": dict(self.intervals), "threshold_range": self.threshold_range}

    def select(self, split: str) -> "Evaluation":
        """The rows of one split (``"test"`` or ``"validation"``), same threshold and metrics."""
        if split not in ("test", "validation"):
            raise ValueError(f"split must be 'test' or 'validation', got {split!r}")
        rows = (self.table["split"] == split).to_numpy()
        return Evaluation(self.table[rows].reset_index(drop=True), self.probabilities[rows], self.labels[rows],
                          self.threshold, self.metrics, self.validation_metrics, self.description,
                          None if self.inputs is None else self.inputs[rows], self.n_test, self.n_validation,
                          self.intervals, self.threshold_range)


def manifest_inputs(manifest, *, use_offsets: bool = True, clip_negative: bool = False) -> np.ndarray:
    """(n, 3072) float32 network inputs of the manifest rows (spectrum images: summed spectrum;
    ``energy_offset_eV`` corrected when ``use_offsets``), pre-processed as in the paper."""
    from eels_helpers.inference.preprocess import preprocess
    from eels_helpers.inference.spectrum_files import read_spectrum

    offsets = manifest["energy_offset_eV"] if use_offsets else [0.0] * len(manifest)
    return np.stack([preprocess(read_spectrum(p).summed(), offset_eV=float(o), clip_negative=clip_negative)
                     for p, o in zip(manifest["path"], offsets)]).astype(np.float32)


def predict_manifest(model: Any, manifest, *, use_offsets: bool = True, inputs: np.ndarray | None = None,
                     progress: bool = False, **predict_options) -> np.ndarray:
    """(n, 80) probabilities for each manifest row (spectrum images: summed spectrum).

    inputs: the rows' network inputs from :func:`manifest_inputs` (saves reading the files
    again when several models are evaluated); ``use_offsets`` is then already applied.
    progress: a progress bar (stderr) over the files read.
    """
    from eels_helpers.device import resolve_device, use_bfloat16
    from eels_helpers.inference.predict import _as_loaded, predict, run_model
    from eels_helpers.inference.spectrum_files import read_spectrum

    if inputs is not None:
        if inputs.shape != (len(manifest), 3072):
            raise ValueError(f"inputs must have shape ({len(manifest)}, 3072) (one row per manifest file), "
                             f"got {inputs.shape}")
        unknown = sorted(set(predict_options) - {"device", "batch_size", "bfloat16"})
        if unknown:
            raise ValueError(f"with inputs, only device, batch_size and bfloat16 apply; got {unknown}")
        device = resolve_device(predict_options.get("device", "auto"))
        bf16 = predict_options.get("bfloat16", False)
        return run_model(_as_loaded(model, device), inputs, device=device,
                         batch_size=predict_options.get("batch_size", 256),
                         bfloat16=use_bfloat16(bf16, device))
    paths = list(manifest["path"])
    if progress:
        paths = progress_bar(paths, desc="reading real spectra", unit="file", leave=False)
    spectra = [read_spectrum(p).summed() for p in paths]
    offsets = [float(o) for o in manifest["energy_offset_eV"]] if use_offsets else [0.0] * len(spectra)
    preds = predict(spectra, model, 0.5, offsets, **predict_options)
    return np.stack([p.probabilities for p in preds])


def evaluate_model(
    model: Any,
    directory: str | Path | None = None,
    *,
    threshold: float | str | None = None,
    seed: int = 0,
    validation_fraction: float = 0.5,
    use_offsets: bool = True,
    manifest=None,
    inputs: np.ndarray | None = None,
    **predict_options,
) -> Evaluation:
    """Predict every file of a directory of real spectra and score the predictions.

    threshold: a number; None -> the model file's threshold (else 0.5), scored on all
        files; "validation" -> chosen on a grouped validation split (``seed``,
        ``validation_fraction``) by the paper's rule, metrics reported on the test side.
    use_offsets: correct each file's energy_offset_eV from the manifest.
    manifest: an already loaded manifest (overrides ``directory``).
    inputs: the manifest's network inputs (:func:`manifest_inputs`), to read the files once.
    """
    import pandas as pd

    from eels_helpers.evaluation.intervals import bootstrap_intervals, threshold_range
    from eels_helpers.evaluation.metrics import evaluate as score
    from eels_helpers.evaluation.metrics import select_threshold
    from eels_helpers.models.model_files import LoadedModel, decision_threshold, load_model
    from eels_helpers.physics.elements import ELEMENTS

    if manifest is None:
        manifest, description = evaluation_set(directory)
    else:
        description = f"{len(manifest)} spectra from a given manifest"
    if len(manifest) == 0:
        raise ManifestError("no real spectra to evaluate on")
    loaded = model if isinstance(model, LoadedModel) or not isinstance(model, (str, Path)) else load_model(model)
    if inputs is None:
        inputs = manifest_inputs(manifest, use_offsets=use_offsets,
                                 clip_negative=predict_options.pop("clip_negative", False))
    probs = predict_manifest(loaded, manifest, use_offsets=use_offsets, inputs=inputs, **predict_options)
    labels = label_matrix(manifest["labels"])

    is_test = np.ones(len(manifest), dtype=bool)
    validation_metrics: dict = {}
    chosen_range = None
    if threshold == "validation":
        val, _ = evaluation_split(manifest, seed, validation_fraction)
        is_val = manifest["file"].isin(val["file"]).to_numpy()
        threshold = select_threshold(labels[is_val], probs[is_val], exclude_carbon=True)
        validation_metrics = score(labels[is_val], probs[is_val], threshold, exclude_carbon=True).as_dict()
        chosen_range = threshold_range(labels[is_val], probs[is_val], seed=seed)
        is_test = ~is_val
    threshold = decision_threshold(loaded, threshold)
    metrics = score(labels[is_test], probs[is_test], threshold, exclude_carbon=True).as_dict()
    intervals = bootstrap_intervals(labels[is_test], probs[is_test], threshold, seed=seed)

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
    return Evaluation(pd.DataFrame(rows), probs, labels, threshold, metrics, validation_metrics, description,
                      inputs, n_test=int(is_test.sum()), n_validation=int((~is_test).sum()), intervals=intervals,
                      threshold_range=chosen_range)


# ----------------------------------------------------------------------------- the book's chapter
# Fig. 4b and the models of Tables 2 and 3 (the tables themselves: :mod:`.paper_numbers`; the common
# mistakes and the examples of Fig. 6: :mod:`.mistakes`).


def plot_occurrence(experimental: np.ndarray, n_experimental: int, simulated: np.ndarray | None = None,
                    n_simulated: int = 0, ax=None):
    """Fig. 4: the fraction of spectra labelled with each element, experimental (counts
    ``experimental`` (80,) over ``n_experimental`` files) beside simulated (optional, over
    ``n_simulated`` spectra); carbon's experimental bar is hatched (ambiguous). Returns the axes."""
    import matplotlib.pyplot as plt

    from eels_helpers.physics.elements import ELEMENTS

    experimental = np.asarray(experimental)
    if experimental.shape != (len(ELEMENTS),) or n_experimental < 1:
        raise ValueError(f"experimental must be (80,) counts over n_experimental >= 1 files, got shape "
                         f"{experimental.shape} and n_experimental={n_experimental}")
    if simulated is not None and (np.shape(simulated) != (len(ELEMENTS),) or n_simulated < 1):
        raise ValueError(f"simulated must be (80,) counts over n_simulated >= 1 spectra, got shape "
                         f"{np.shape(simulated)} and n_simulated={n_simulated}")
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 3.2))
    x = np.arange(len(ELEMENTS))
    series = [("experimental", experimental / n_experimental, "tab:orange")]
    if simulated is not None:
        series.insert(0, ("simulated", np.asarray(simulated) / n_simulated, "tab:blue"))
    width = 0.8 / len(series)
    carbon = None
    for k, (name, frac, colour) in enumerate(series):
        n = n_experimental if name == "experimental" else n_simulated
        bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, frac, width, color=colour,
                      label=f"{name} ({n} spectra)")
        if name == "experimental":
            carbon = bars[ELEMENTS.index("C")]
            carbon.set(hatch="///", facecolor="white", edgecolor=colour)
    ax.set_xticks(x, ELEMENTS, fontsize=6, rotation=90)
    ax.set_ylabel("fraction of spectra")
    ax.set_xlim(-1, len(ELEMENTS))
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles + [carbon], names + ["C, experimental: ambiguous (often contamination)"], fontsize=8)
    return ax


def example_row(manifest, preferred: str | None = None):
    """The manifest row (a pandas Series) of file ``preferred``, else the first single spectrum
    (not a spectrum image), else the first row."""
    if preferred is not None and (manifest["file"] == preferred).any():
        return manifest[manifest["file"] == preferred].iloc[0]
    single = manifest[~manifest["spectrum_image"].astype(bool)]
    return (single if len(single) else manifest).iloc[0]


def evaluate_models(entries, manifest, *, inputs: np.ndarray | None = None, seed: int = 0,
                    validation_fraction: float = 0.5, device: str = "cpu",
                    progress: bool = False) -> dict[str, Evaluation]:
    """``{label: Evaluation}`` of every entry that has a model, each with its own threshold
    chosen on the grouped validation split (the paper's rule) and scored on the test split;
    ``progress``: a progress bar (stderr) over the models."""
    if inputs is None:
        inputs = manifest_inputs(manifest)
    entries = [e for e in entries if e.model is not None]
    if progress:
        entries = progress_bar(entries, desc="evaluating models", unit="model", leave=False)
    return {e.label: evaluate_model(e.model, manifest=manifest, inputs=inputs, threshold="validation", seed=seed,
                                    validation_fraction=validation_fraction, device=device)
            for e in entries}
