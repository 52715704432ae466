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
                              resolvers: dict | None = None, probabilities: np.ndarray | None = None,
                              inputs: np.ndarray | None = None, network: Any = None,
                              allow_radioactive: bool = False):
    """Per split and mean: threshold, F1 and exact match of the network alone and with resolved twins
    (``probabilities``: the network's (n, 80) on the manifest and ``inputs`` its (n, 3072) network
    inputs, when already computed; ``network``: the network alone's
    :class:`~eels_helpers.evaluation.cross_validation.CrossValidation` on the same ``seeds``, when
    already computed, e.g. by ``eels-id evaluate``: its probabilities and rows are reused). As
    ``predict`` decides, the resolved decision also withholds the elements without a stable isotope
    (:mod:`eels_helpers.inference.unstable_elements`) unless ``allow_radioactive``.

    Returns
    -------
    table : pandas.DataFrame
        One row per split seed plus ``mean``; columns ``threshold``, ``network_f1``,
        ``network_exact_match``, ``resolved_f1``, ``resolved_exact_match``.
    decisions : list of (file, TwinDecision)
        Every pair resolved at the first split's threshold.
    """
    from eels_helpers.evaluation.cross_validation import grouped_cross_validation
    from eels_helpers.evaluation.real_spectra import manifest_inputs, predict_manifest
    from eels_helpers.inference.twin_resolution import resolve_reported
    from eels_helpers.inference.unstable_elements import withhold_unstable

    inputs = manifest_inputs(manifest) if inputs is None else inputs
    if network is not None:
        if (len(network.probabilities) != len(manifest)
                or [int(seed) for seed in network.splits["seed"]] != [int(seed) for seed in seeds]):
            raise ValueError("network: a cross-validation of other spectra or on other split seeds")
        probabilities = network.probabilities if probabilities is None else probabilities
    P = predict_manifest(model, manifest, inputs=inputs) if probabilities is None else np.asarray(probabilities)
    per_split = []                                 # the pairs each split's decision resolved

    def resolve(reported: np.ndarray) -> np.ndarray:
        out, found = resolve_reported(inputs, reported, resolvers, P)
        per_split.append([(manifest["file"].iloc[i], d) for i, d in found])
        return out if allow_radioactive else withhold_unstable(out)

    cv = {"network": network if network is not None
          else grouped_cross_validation("network", manifest, probabilities=P, seeds=seeds),
          "resolved": grouped_cross_validation("resolved", manifest, probabilities=P, seeds=seeds, decide=resolve)}
    table = cv["network"].splits[["seed", "threshold"]].assign(seed=lambda d: d["seed"].astype(str))
    for name, c in cv.items():
        table[f"{name}_f1"] = c.splits["f1"].to_numpy()
        table[f"{name}_exact_match"] = c.splits["exact_match"].to_numpy()
    table = table.set_index("seed")
    table.loc["mean"] = table.mean(numeric_only=True)
    return table, per_split[0]
