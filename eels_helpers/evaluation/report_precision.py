"""How often each element is right where a model reports it, on simulated spectra, per window class:
the table behind ``predict``'s reliability notes (:mod:`eels_helpers.inference.report_reliability`).

:func:`report_counts` counts, for reported elements (n, 80) against labels (n, 80), per window
class (:func:`~eels_helpers.inference.report_reliability.window_class`) and element, how often it was
reported and how often it was labelled there. :func:`simulated_report_counts` runs a model on fresh
simulated spectra and decides as ``predict`` does for single spectra (its threshold; reported twins
resolved, :func:`~eels_helpers.inference.twin_resolution.resolve_reported`; Tc and Pm withheld), as
:mod:`eels_helpers.evaluation.twin_resolved` does for real spectra. What ``predict`` does besides on a
file is left out: reading and repairing it (spikes, dead channels, gain steps, splices), the
structure test ("no identifiable edge" where the counts are a smooth background within their noise)
and the note for a window without a family onset; on simulated spectra with their labelled edges
these rarely act.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["report_counts", "simulated_report_counts"]


def report_counts(reported, labels, inputs) -> tuple[dict, dict]:
    """(``{class: {element: [reported, right]}}`` for the elements reported at least once in that
    class, ``{class: spectra}``) from ``reported`` and ``labels`` (n, 80; bool or 0/1, order
    ``ELEMENTS``) and the network ``inputs`` (n, 3072) that give each spectrum's window class."""
    from eels_helpers.inference.report_reliability import WINDOW_CLASSES, window_class
    from eels_helpers.physics.elements import ELEMENTS

    R, T = np.asarray(reported) > 0, np.asarray(labels) > 0.5
    if R.shape != T.shape or R.ndim != 2 or R.shape[1] != len(ELEMENTS):
        raise ValueError(f"reported and labels must both be (n, {len(ELEMENTS)}), got {R.shape} and {T.shape}")
    cls = window_class(inputs)
    if len(cls) != len(R):
        raise ValueError(f"{len(cls)} inputs for {len(R)} spectra")
    counts, spectra = {}, {}
    for key, _ in WINDOW_CLASSES:
        rows = cls == key
        n_rep, n_right = R[rows].sum(axis=0), (R[rows] & T[rows]).sum(axis=0)
        counts[key] = {ELEMENTS[j]: [int(n_rep[j]), int(n_right[j])] for j in np.flatnonzero(n_rep)}
        spectra[key] = int(rows.sum())
    return counts, spectra


def simulated_report_counts(model, n_spectra: int, seed: int, config: str, device: str = "cpu") -> dict:
    """:func:`report_counts` of ``model`` (a shipped name, a model file or a loaded model) on
    ``n_spectra`` fresh simulated spectra of the named configuration ``config`` and ``seed``, as
    ``predict`` decides for single spectra. Returns ``{"classes", "simulated_per_class",
    "threshold", "config", "seed", "n_spectra"}``."""
    from eels_helpers.datasets.streaming import simulated_arrays
    from eels_helpers.inference.predict import _as_loaded, run_model
    from eels_helpers.inference.twin_resolution import resolve_reported
    from eels_helpers.inference.unstable_elements import withhold_unstable
    from eels_helpers.models.model_files import decision_threshold

    loaded = _as_loaded(model, device)
    threshold = decision_threshold(loaded)
    X, Y = simulated_arrays(n_spectra, seed, simulation=config)
    P = run_model(loaded, X, device=device)
    reported, _ = resolve_reported(X, P >= threshold, probabilities=P)
    classes, spectra = report_counts(withhold_unstable(reported), Y, X)
    log.info("%s: %d simulated %s spectra (seed %d), classes %s", model, len(X), config, seed, spectra)
    return {"classes": classes, "simulated_per_class": spectra, "threshold": threshold, "config": config,
            "seed": int(seed), "n_spectra": int(len(X))}
