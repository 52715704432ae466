"""The twin resolver on labelled real spectra: the network alone against the network whose reported
onset twins are resolved (:mod:`eels_helpers.inference.twin_resolution`), by compound-grouped
cross-validation (the threshold of each split chosen on its validation half from the network's
probabilities, as :func:`~eels_helpers.evaluation.cross_validation.grouped_cross_validation` does;
on the test half, the twin the resolver disfavours is dropped wherever both are reported).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["resolved_cross_validation"]


def resolved_cross_validation(model: Any, manifest, *, seeds: Sequence[int] = (0, 1, 2, 3, 4),
                              resolvers: dict | None = None, probabilities: np.ndarray | None = None):
    """Per split and mean: threshold, F1 and exact match of the network alone and with resolved twins
    (``probabilities``: the network's (n, 80) on the manifest, when already predicted).

    Returns
    -------
    table : pandas.DataFrame
        One row per split seed plus ``mean``; columns ``threshold``, ``network_f1``,
        ``network_exact_match``, ``resolved_f1``, ``resolved_exact_match``.
    decisions : list of (file, TwinDecision)
        Every pair resolved at the first split's threshold.
    """
    import pandas as pd

    from eels_helpers.evaluation.metrics import evaluate, select_threshold
    from eels_helpers.evaluation.real_spectra import (
        evaluation_split,
        label_matrix,
        manifest_inputs,
        predict_manifest,
    )
    from eels_helpers.inference.twin_resolution import resolve_twins
    from eels_helpers.physics.elements import ELEMENTS

    inputs = manifest_inputs(manifest)
    P = predict_manifest(model, manifest, inputs=inputs) if probabilities is None else np.asarray(probabilities)
    labels = label_matrix(manifest["labels"])
    rows, decisions = [], []
    for k, seed in enumerate(seeds):
        val, _ = evaluation_split(manifest, int(seed))
        is_val = manifest["file"].isin(val["file"]).to_numpy()
        t = select_threshold(labels[is_val], P[is_val], exclude_carbon=True)
        decided = P >= t
        resolved = decided.copy()
        for i in range(len(manifest)):
            for d in resolve_twins(inputs[i], [ELEMENTS[j] for j in np.flatnonzero(decided[i])], resolvers):
                resolved[i, ELEMENTS.index(d.dropped)] = False
                if k == 0:
                    decisions.append((manifest["file"].iloc[i], d))
        s0, s1 = (evaluate(labels[~is_val], d[~is_val].astype(float), 0.5, exclude_carbon=True).as_dict()
                  for d in (decided, resolved))
        rows.append({"seed": str(seed), "threshold": float(t), "network_f1": s0["f1"],
                     "network_exact_match": s0["emr"], "resolved_f1": s1["f1"], "resolved_exact_match": s1["emr"]})
    table = pd.DataFrame(rows).set_index("seed")
    table.loc["mean"] = table.mean(numeric_only=True)
    return table, decisions
