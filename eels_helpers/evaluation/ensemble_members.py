"""An ensemble and its members, evaluated side by side (the simulated analogue of the paper's Table 3).

The network itself is :class:`eels_helpers.models.Ensemble` (the mean of the members' sigmoid
probabilities; paper: 2 ViT + 3 U-Net); a shipped one loads with
``eels_helpers.models.model_files.load_model("ensemble")``. Here each member runs once and the ensemble's
probabilities are the mean of theirs, which equals the Ensemble's output (up to float rounding)
without running the members twice.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

import numpy as np

#: the key of the ensemble's own probabilities in :func:`member_probabilities`
ENSEMBLE = "ensemble"


def member_labels(architectures: Sequence[str]) -> list[str]:
    """Row labels for members: 'ViT 1', 'ViT 2', 'U-Net 1', ... (the number only when repeated)."""
    from eels_helpers.evaluation.paper_numbers import DISPLAY_NAMES

    totals, seen, labels = Counter(architectures), Counter(), []
    for arch in architectures:
        seen[arch] += 1
        name = DISPLAY_NAMES.get(arch, arch)
        labels.append(f"{name} {seen[arch]}" if totals[arch] > 1 else name)
    return labels


def members_table(loaded: Any):
    """pandas DataFrame, one row per member of a LoadedModel: architecture, trainable parameters and,
    when the checkpoint's metadata records the training runs (shipped models), options and spectra."""
    import pandas as pd

    from eels_helpers.models import Ensemble, count_parameters

    is_ensemble = isinstance(loaded.model, Ensemble)
    nets = list(loaded.model.members) if is_ensemble else [loaded.model]
    architectures = loaded.options.get("members") if is_ensemble else [loaded.architecture]
    runs = loaded.metadata.get("runs") or []
    runs = runs if len(runs) == len(nets) else [{}] * len(nets)
    return pd.DataFrame({
        "architecture": architectures,
        "parameters": [count_parameters(n) for n in nets],
        "options": [", ".join(f"{k}={v}" for k, v in r.get("options", {}).items()) or "-" for r in runs],
        "training spectra": [r.get("spectra") for r in runs],
    }, index=pd.Index(member_labels(architectures), name="member"))


def member_probabilities(loaded: Any, spectra, batch_size: int = 256) -> dict[str, np.ndarray]:
    """{label: probabilities (N, 80)} of every member of ``loaded`` and, under ``"ensemble"``, their mean.

    ``loaded``: a :class:`eels_helpers.models.model_files.LoadedModel` (architecture "ensemble" with
    ``options["members"]``, or a single network: then one entry, its label) or an
    :class:`eels_helpers.models.Ensemble`.
    """
    from eels_helpers.models import Ensemble, predict_proba

    model = getattr(loaded, "model", loaded)
    if not isinstance(model, Ensemble):
        label = member_labels([getattr(loaded, "architecture", type(model).__name__.lower())])[0]
        return {label: predict_proba(model, spectra, batch_size=batch_size)}
    architectures = (getattr(loaded, "options", {}) or {}).get("members") or [
        type(m).__name__.lower() for m in model.members]
    if len(architectures) != len(model.members):
        raise ValueError(f"options['members'] names {len(architectures)} architectures for "
                         f"{len(model.members)} members")
    probs = {label: predict_proba(m, spectra, batch_size=batch_size)
             for label, m in zip(member_labels(architectures), model.members)}
    probs[ENSEMBLE] = np.mean(list(probs.values()), axis=0)
    return probs


def scores_table(y_val, val_probabilities: Mapping[str, np.ndarray], y_test,
                 test_probabilities: Mapping[str, np.ndarray]):
    """pandas DataFrame, one row per model: the threshold chosen on validation (the paper's rule,
    precision closest to recall) and F1, precision, recall, EMR and RMSE on test at it."""
    import pandas as pd

    from eels_helpers.evaluation.metrics import evaluate_at_validation_threshold

    if set(val_probabilities) != set(test_probabilities):
        raise ValueError(f"validation models {sorted(val_probabilities)} and test models "
                         f"{sorted(test_probabilities)} differ")
    rows = {}
    for label, p_val in val_probabilities.items():
        scores = evaluate_at_validation_threshold(y_val, p_val, y_test, test_probabilities[label]).as_dict()
        rows[label] = {k: scores[k] for k in ("threshold", "f1", "precision", "recall", "emr", "rmse")}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


__all__ = ["ENSEMBLE", "member_labels", "member_probabilities", "members_table", "scores_table"]
