"""Where the networks fail on real spectra: every mistake, grouped by cause (issue 15).

:func:`analyse_failures` runs a model over a manifest of labelled real spectra (the package's
evaluation set, :func:`eels_helpers.evaluation.real_spectra.evaluation_set`), at the model's own
threshold, and :func:`classify_mistakes` gives each mistake -- a false positive (an element
reported but not labelled) or a false negative (a labelled element not reported), carbon left out
as in every experimental metric -- one cause by the rules of
:mod:`eels_helpers.evaluation.failure_causes` (:data:`CAUSES`, applied in order, first match wins;
the tolerances are the fields of :class:`FailureRules`). :func:`failure_table` counts each group;
the figures (the network input over simulated spectra of the same composition and window) are in
:mod:`eels_helpers.evaluation.failure_figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from eels_helpers.evaluation.failure_causes import (
    CAUSES,
    NON_FAMILY_EDGES,
    FailureCause,
    FailureRules,
    SpectrumFacts,
    cause_of,
    spectrum_facts,
)

__all__ = ["CAUSES", "FailureCause", "FailureRules", "NON_FAMILY_EDGES", "SpectrumFacts", "Mistake",
           "FailureAnalysis", "spectrum_facts", "manifest_facts", "classify_mistakes", "failure_table",
           "analyse_failures"]


@dataclass(frozen=True)
class Mistake:
    """One mistake: ``kind`` "FP" (reported, not labelled) or "FN" (labelled, missed), the
    element, its probability, the ``cause`` (a name of :data:`CAUSES`) and the ``reason`` (what
    matched, with energies)."""

    row: int
    file: str
    kind: str
    element: str
    probability: float
    cause: str
    reason: str


@dataclass(eq=False)
class FailureAnalysis:
    """The result of :func:`analyse_failures`: ``mistakes`` (list of :class:`Mistake`),
    ``table`` (:func:`failure_table`), the manifest, ``probabilities`` (n, 80; the network's, each
    twin the resolver dropped set to 0), network ``inputs`` (n, 3072), the ``threshold`` used,
    per-file ``facts``, the model's name, a description of the spectra, and ``twins``: (file,
    :class:`~eels_helpers.inference.twin_resolution.TwinDecision`) for every resolved twin pair."""

    mistakes: list
    table: Any
    manifest: Any
    probabilities: np.ndarray
    inputs: np.ndarray
    threshold: float
    facts: list
    model: str
    description: str
    spectra: list = field(default_factory=list, repr=False)
    #: the training runs of the model file (its ``runs`` metadata; empty for a bare network)
    runs: list = field(default_factory=list, repr=False)
    twins: list = field(default_factory=list)

    @property
    def exact_matches(self) -> int:
        """Spectra without a mistake (carbon left out) at this threshold, over all the spectra
        (not a cross-validated score: ``eels-id evaluate`` gives that)."""
        return int(len(self.manifest)) - len({m.file for m in self.mistakes})

    @property
    def neighbour_pairs(self):
        """The reported pairs of commonly confused elements and how many are labelled
        (:func:`eels_helpers.evaluation.neighbour_pairs.reported_neighbour_pairs`)."""
        from eels_helpers.evaluation.neighbour_pairs import reported_neighbour_pairs

        return reported_neighbour_pairs(list(self.manifest["file"]), list(self.manifest["labels"]),
                                        self.probabilities, self.threshold)

    def to_dict(self) -> dict:
        """Plain JSON types: model, threshold, spectra, exact matches, the groups with counts
        (``alone``: spectra whose every mistake has that cause) and files, every mistake, and the
        reported neighbour pairs (:attr:`neighbour_pairs`)."""
        return {
            "model": self.model, "threshold": self.threshold, "spectra": int(len(self.manifest)),
            "exact_matches": self.exact_matches, "description": self.description,
            "neighbour_pairs": self.neighbour_pairs.to_dict(),
            "groups": [{"cause": r["cause"], "title": r["title"], "false_positives": int(r["false positives"]),
                        "false_negatives": int(r["false negatives"]), "alone": int(r["alone"]),
                        "files": r["files"].split("; ") if r["files"] else []} for r in self.table.to_dict("records")],
            "mistakes": [{"file": m.file, "kind": m.kind, "element": m.element,
                          "probability": round(m.probability, 4), "cause": m.cause, "reason": m.reason}
                         for m in self.mistakes],
            "twins": [{"file": f, **d.to_dict()} for f, d in self.twins],
        }



def classify_mistakes(manifest: Any, probabilities: np.ndarray, threshold: float, *,
                      rules: FailureRules = FailureRules(), spectra: Sequence[Any] | None = None,
                      facts: Sequence[SpectrumFacts] | None = None) -> list[Mistake]:
    """Every mistake of the predictions, with its cause.

    Parameters
    ----------
    manifest : pandas.DataFrame
        rows of :func:`eels_helpers.evaluation.real_spectra.load_manifest` (``file``, ``path``,
        ``labels``, ``energy_offset_eV``, optional ``notes``).
    probabilities : numpy.ndarray, shape (n, 80)
        the model's probabilities per row, in the order of ``ELEMENTS``.
    threshold : float
        in (0, 1): an element is reported when its probability is at least this.
    rules : FailureRules
        the tolerances of the rules.
    spectra : sequence of Spectrum, optional
        the rows' (summed) spectra; read from ``manifest["path"]`` when None.
    facts : sequence of SpectrumFacts, optional
        precomputed :func:`spectrum_facts` (then ``spectra`` is not needed).

    Returns
    -------
    list of Mistake
        in row order, false positives then false negatives per row, each in element order;
        carbon is left out (as in every experimental metric).

    Raises
    ------
    ValueError
        shapes that do not match, or a threshold outside (0, 1).
    """
    from eels_helpers.evaluation.real_spectra import metric_mask
    from eels_helpers.physics.elements import ELEMENTS

    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape != (len(manifest), len(ELEMENTS)):
        raise ValueError(f"probabilities must have shape ({len(manifest)}, {len(ELEMENTS)}) (one row per manifest "
                         f"file), got {p.shape}")
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be a probability in (0, 1), got {threshold}")
    if facts is None:
        facts = manifest_facts(manifest, p, threshold, rules=rules, spectra=spectra)
    scored = metric_mask()
    mistakes = []
    for row, (rec, f) in enumerate(zip(manifest.to_dict("records"), facts)):
        truth = np.isin(np.array(ELEMENTS), list(rec["labels"])) & scored
        reported = (p[row] >= threshold) & scored
        fps = [ELEMENTS[j] for j in np.flatnonzero(reported & ~truth)]
        fns = [ELEMENTS[j] for j in np.flatnonzero(truth & ~reported)]
        for kind, elements in (("FP", fps), ("FN", fns)):
            for el in elements:
                cause, reason = cause_of(kind, el, f, fps, rules)
                mistakes.append(Mistake(row, str(rec["file"]), kind, el, float(p[row, ELEMENTS.index(el)]),
                                        cause, reason))
    return mistakes


def manifest_facts(manifest: Any, probabilities: np.ndarray, threshold: float, *,
                   rules: FailureRules = FailureRules(), spectra: Sequence[Any] | None = None) -> list[SpectrumFacts]:
    """:func:`spectrum_facts` of every manifest row (spectra read and summed when not given)."""
    from eels_helpers.inference.spectrum_files import read_spectrum
    from eels_helpers.physics.elements import ELEMENTS

    if spectra is None:
        spectra = [read_spectrum(path).summed() for path in manifest["path"]]
    if len(spectra) != len(manifest):
        raise ValueError(f"got {len(spectra)} spectra for {len(manifest)} manifest rows")
    carbon = np.asarray(probabilities)[:, ELEMENTS.index("C")] >= threshold
    return [spectrum_facts(rec, s, rules, bool(c)) for rec, s, c in zip(manifest.to_dict("records"), spectra, carbon)]


def failure_table(mistakes: Sequence[Mistake]):
    """The groups: one row per cause of :data:`CAUSES` (all of them, in order), with columns
    ``cause``, ``title``, ``false positives``, ``false negatives``, ``spectra`` (files with a
    mistake of that cause), ``alone`` (files whose every mistake has that cause: the exact
    matches gained if that cause alone were removed) and ``files`` ("; "-joined, in row order).
    A pandas DataFrame."""
    import pandas as pd

    causes_of: dict[str, set] = {}
    for m in mistakes:
        causes_of.setdefault(m.file, set()).add(m.cause)
    rows = []
    for cause in CAUSES:
        own = [m for m in mistakes if m.cause == cause.name]
        files = list(dict.fromkeys(m.file for m in own))
        rows.append({"cause": cause.name, "title": cause.title,
                     "false positives": sum(m.kind == "FP" for m in own),
                     "false negatives": sum(m.kind == "FN" for m in own),
                     "spectra": len(files), "alone": sum(causes_of[f] == {cause.name} for f in files),
                     "files": "; ".join(files)})
    return pd.DataFrame(rows, columns=["cause", "title", "false positives", "false negatives", "spectra", "alone",
                                       "files"])


def analyse_failures(model: Any = "default", directory: str | Path | None = None, *,
                     threshold: float | None = None, manifest: Any = None, rules: FailureRules = FailureRules(),
                     device: str = "cpu", keep_twins: bool = False,
                     allow_radioactive: bool = False) -> FailureAnalysis:
    """Run ``model`` on labelled real spectra and group every mistake by cause, as ``eels-id predict``
    decides: where both twins of a pair with a shipped resolver reach the threshold, the twin
    resolver's dropped twin
    gets probability 0 (``FailureAnalysis.twins``; ``keep_twins``: no twin resolver), and so do the
    elements without a stable isotope (Tc, Pm: :mod:`eels_helpers.inference.unstable_elements`;
    ``allow_radioactive``: reported as the network says).

    Parameters
    ----------
    model : str, Path, LoadedModel or torch.nn.Module
        a shipped model name, a model file, or a network returning logits (batch, 80).
    directory : str or Path, optional
        a folder with ``manifest.csv``; None: the package's evaluation set
        (:func:`eels_helpers.evaluation.real_spectra.evaluation_set`: ``$EELS_ID_EXPERIMENTAL_DIR``,
        else the spectra shipped with installed packages).
    threshold : float, optional
        in (0, 1); None: the model file's own threshold (0.5 for a bare network).
    manifest : pandas.DataFrame, optional
        an already loaded manifest (overrides ``directory``).
    rules : FailureRules
        the tolerances of the cause rules.
    device : str
        "cpu", "cuda" or "auto".
    allow_radioactive : bool
        score Tc and Pm as the network gives them (not withheld).
    keep_twins : bool
        score the network's probabilities as they are (no twin resolver).

    Returns
    -------
    FailureAnalysis

    Raises
    ------
    ManifestError
        no spectra to analyse, or a manifest that cannot be used.
    ValueError
        a threshold outside (0, 1).
    """
    from eels_helpers.evaluation.real_spectra import ManifestError, evaluation_set, manifest_inputs, predict_manifest
    from eels_helpers.inference.spectrum_files import read_spectrum
    from eels_helpers.inference.twin_resolution import resolve_probability_maps
    from eels_helpers.inference.unstable_elements import withhold_unstable
    from eels_helpers.models.model_files import LoadedModel, decision_threshold, load_model

    if manifest is None:
        manifest, description = evaluation_set(directory)
    else:
        description = f"{len(manifest)} spectra from a given manifest"
    if len(manifest) == 0:
        raise ManifestError("no real spectra to analyse: pass a folder with a manifest.csv (--experimental-dir) "
                            "or set $EELS_ID_EXPERIMENTAL_DIR")
    if threshold is not None and not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be a probability in (0, 1), got {threshold}")
    loaded = load_model(model, device=device) if isinstance(model, (str, Path)) else model
    threshold = decision_threshold(loaded, threshold)
    spectra = [read_spectrum(path).summed() for path in manifest["path"]]
    inputs = manifest_inputs(manifest)
    probs = predict_manifest(loaded, manifest, inputs=inputs, device=device)
    twins = []
    if not keep_twins:
        probs, found = resolve_probability_maps(inputs, probs, float(threshold))
        twins = [(manifest["file"].iloc[i], d) for i, d in found]
    if not allow_radioactive:
        probs = withhold_unstable(probs)
    facts = manifest_facts(manifest, probs, float(threshold), rules=rules, spectra=spectra)
    mistakes = classify_mistakes(manifest, probs, float(threshold), rules=rules, facts=facts)
    name = (Path(loaded.source).stem if isinstance(loaded, LoadedModel) and loaded.source
            else str(model) if isinstance(model, (str, Path)) else type(model).__name__)
    runs = list(loaded.metadata.get("runs", [])) if isinstance(loaded, LoadedModel) else []
    return FailureAnalysis(mistakes, failure_table(mistakes), manifest, probs, inputs, float(threshold), facts,
                           name, description, spectra, runs, twins)
