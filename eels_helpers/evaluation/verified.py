"""Verified identification measured: the candidates' evidence on simulated spectra (to fit the
decision rule, :mod:`eels_helpers.inference.verification_model`) and on real spectra (to compare
the network alone with the network + verification by compound-grouped cross-validation).

* :func:`simulated_candidates`: simulated spectra (any :class:`SimulationConfig`, e.g. the
  paper's and ``open-world``) through a network and :func:`~eels_helpers.inference.verification.verify`;
  one row per candidate with its features and whether the simulation put it there;
* :func:`real_candidates`: the same for the spectra of a manifest (labels from the manifest;
  these are evaluation data: never fit a rule on them);
* :func:`verified_probabilities`: the (n, 80) matrix of the combined probability (0 for
  elements that were not candidates), which
  :func:`eels_helpers.evaluation.cross_validation.grouped_cross_validation` scores like a network's;
* :func:`before_after`: network alone vs verified, grouped cross-validation means and the paper's
  two typical mistakes on the test halves.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Sequence

import numpy as np

__all__ = ["simulated_candidates", "real_candidates", "verified_probabilities", "before_after",
           "typical_mistakes", "decision_changes", "verify_row"]

log = logging.getLogger(__name__)

_KEY = 8111  # spawn-key prefix of the simulated verification spectra (not the training stream's)


def _rows(result, probabilities_known: bool, labels_row: np.ndarray | None, spectrum: int,
          extra: dict) -> list[dict]:
    from eels_helpers.inference.verification_model import FEATURES, candidate_features
    from eels_helpers.physics.elements import ELEMENTS

    elements, X = candidate_features(result)
    out = []
    for el, x in zip(elements, X):
        ev = result.evidence[el]
        row = {"spectrum": spectrum, "element": el, "p": ev.probability,
               "hand_rule": bool(ev.verified), "status": ev.status, **extra}
        row.update(dict(zip(FEATURES, x)))
        if labels_row is not None:
            row["label"] = int(labels_row[ELEMENTS.index(el)] > 0)
        out.append(row)
    return out


def _verify_rows(spectra, probabilities, configs, labels, threshold, candidate_threshold, extra):
    """verify() every spectrum's candidates; rows of features (+ labels), per-spectrum seconds.
    ``hand_rule`` is the hand-set decision (never a stored fitted rule: the rows fit new ones)."""
    from eels_helpers.inference.verification import verify
    from eels_helpers.inference.verification_rules import DecisionRule, candidates_from_probabilities

    hand = DecisionRule()

    rows, seconds, failed = [], [], 0
    for i, (sp, p, cfg) in enumerate(zip(spectra, probabilities, configs)):
        cand = candidates_from_probabilities(p, candidate_threshold)
        if not cand:
            seconds.append(0.0)
            continue
        t = time.perf_counter()
        try:
            res = verify(sp, cand, cfg, rule=hand, threshold=threshold)
        except ValueError as err:
            failed += 1
            log.info("spectrum %d: verification failed (%s); its candidates keep the network's answer", i, err)
            res = None
        seconds.append(time.perf_counter() - t)
        if res is None:
            for el, pe in cand.items():
                rows.append(_failed_row(el, pe, i, labels[i] if labels is not None else None, extra[i]))
            continue
        rows += _rows(res, True, labels[i] if labels is not None else None, i, extra[i])
    return rows, np.asarray(seconds), failed


def _failed_row(el, p, i, labels_row, extra) -> dict:
    """A candidate whose spectrum could not be fitted: untested (the network's answer stands)."""
    import math

    from eels_helpers.inference.verification_model import FEATURES
    from eels_helpers.physics.elements import ELEMENTS

    q = min(max(p, 1e-4), 1 - 1e-4)
    row = {"spectrum": i, "element": el, "p": p, "hand_rule": None, "status": "not computable", **extra}
    row.update(dict.fromkeys(FEATURES, 0.0))
    row["logit_p"], row["untested"] = math.log(q / (1 - q)), 1.0
    if labels_row is not None:
        row["label"] = int(labels_row[ELEMENTS.index(el)] > 0)
    return row


def simulated_candidates(model: Any, n: int, seed: int, configs: Sequence = ("paper", "open-world"), *,
                         batch_size: int = 32, candidate_threshold: float = 0.05, device: str = "cpu",
                         fit: Any = None):
    """Candidates' evidence on freshly simulated spectra (labels known).

    Parameters
    ----------
    model : str, path or LoadedModel
        The network (:func:`eels_helpers.inference.predict.run_model` runs it).
    n : int
        Spectra per configuration (>= 1).
    seed : int
        Seed of the draw (each configuration and batch its own ``SeedSequence(seed, spawn_key=...)``).
    configs : sequence of str or SimulationConfig
        Simulator configurations (names of :func:`eels_helpers.simulation.named_configs.named_config`).
    batch_size : int
        Spectra per simulated batch; each batch draws random query elements and one Materials
        Project specimen for each, as :class:`eels_helpers.datasets.streaming.StreamingSpectra`.
    candidate_threshold : float
        Lowest network probability of a candidate (its neighbours join it).
    fit : VerifyConfig, optional
        Settings of the verification fit (white lines, plural scattering); default ``VerifyConfig()``.

    Returns
    -------
    rows : pandas.DataFrame
        One row per candidate: ``config``, ``spectrum`` (running index), ``element``, ``p``,
        ``label`` (1 when the simulation labels it present), ``hand_rule`` (the hand-set
        decision), ``status`` and the :data:`~eels_helpers.inference.verification_model.FEATURES`.
    seconds : numpy.ndarray
        Verification wall time per spectrum (s).

    Notes
    -----
    The fit uses each spectrum's beam energy and the default angles (10 / 30 mrad): real files
    often give no angles, and four beam energies keep the cross-section cache warm.
    """
    import pandas as pd

    from eels_helpers.inference.predict import _as_loaded, run_model
    from eels_helpers.inference.verification import VerifyConfig
    from eels_helpers.physics.elements import ELEMENTS
    from eels_helpers.simulation import specimens as sp
    from eels_helpers.simulation.config import SimulationConfig
    from eels_helpers.simulation.named_configs import named_config
    from eels_helpers.simulation.pipeline import simulate_batch
    from eels_helpers.spectrum import Spectrum

    if int(n) != n or n < 1:
        raise ValueError(f"n (spectra per configuration) must be an integer >= 1; got {n!r}")
    loaded = _as_loaded(model, device)
    threshold = float(getattr(loaded, "threshold", 0.5) or 0.5)
    all_rows, all_seconds, offset = [], [], 0
    E = np.arange(3072, dtype=np.float64)
    for k, cfg in enumerate(configs):
        name = cfg if isinstance(cfg, str) else "custom"
        config = (SimulationConfig() if cfg == "paper" else named_config(cfg)) if isinstance(cfg, str) else cfg
        spectra, labels, e0 = [], [], []
        exclude = config.exclude_elements                    # no specimen holds them: never queried
        allowed = np.array([i for i, e in enumerate(ELEMENTS) if e not in exclude])
        for b in range(-(-int(n) // batch_size)):
            m = min(batch_size, int(n) - b * batch_size)
            rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(_KEY, k, b)))
            queries = rng.integers(0, len(ELEMENTS), m) if not exclude else allowed[rng.integers(0, allowed.size, m)]
            specs = [None] * m
            for q in np.unique(queries):
                where = np.flatnonzero(queries == q)
                rows = sp.sample_indices(int(q), where.size, rng, exclude=exclude)
                for j, s in zip(where, sp.specimens_from_indices(int(q), rows)):
                    specs[j] = s
            batch = simulate_batch(specs, config, rng)
            spectra.append(batch.spectra)
            labels.append(batch.labels_identification)
            e0.append(batch.params["E0_keV"])
        X, Y, e0 = np.concatenate(spectra), np.concatenate(labels), np.concatenate(e0)
        P = run_model(loaded, X, device=device)
        order = np.argsort(e0, kind="stable")            # one cross-section table per beam energy
        items = []
        for i in order:
            nz = np.flatnonzero(X[i] > 0)
            a, z = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 3072)
            items.append(Spectrum(X[i, a:z].astype(np.float64), E[a:z], {"beam_energy_keV": float(e0[i])}))
        extra = [{"config": name, "index": int(i)} for i in order]
        settings = VerifyConfig() if fit is None else fit
        rows, seconds, failed = _verify_rows(items, P[order], [settings] * len(items), Y[order], threshold,
                                             candidate_threshold, extra)
        log.info("%s: %d spectra, %d candidates, %d fits failed, %.1f ms per spectrum", name, len(items),
                 len(rows), failed, 1000 * float(np.mean(seconds)))
        for r in rows:
            r["spectrum"] += offset
        offset += len(items)
        all_rows += rows
        all_seconds.append(seconds)
    return pd.DataFrame(all_rows), np.concatenate(all_seconds)


def real_candidates(model: Any, manifest, *, probabilities: np.ndarray | None = None,
                    candidate_threshold: float = 0.05, device: str = "cpu", fit: Any = None):
    """Candidates' evidence on the real spectra of ``manifest`` (spectrum images summed, the
    manifest's energy offsets corrected), with the manifest's labels; ``fit``: settings of the
    verification fit (a ``VerifyConfig``; its ``offset_eV`` replaced by the manifest's).

    Returns
    -------
    rows : pandas.DataFrame
        As :func:`simulated_candidates` (``spectrum`` = manifest row, ``file``).
    probabilities : numpy.ndarray, shape (n, 80)
        The network's (:func:`eels_helpers.evaluation.real_spectra.predict_manifest`).
    seconds : numpy.ndarray
        Verification wall time per file (s).
    """
    import pandas as pd

    from eels_helpers.evaluation.real_spectra import label_matrix, predict_manifest
    from eels_helpers.inference.predict import _as_loaded
    from eels_helpers.inference.spectrum_files import read_spectrum
    from eels_helpers.inference.verification import VerifyConfig

    loaded = _as_loaded(model, device)
    if probabilities is None:
        probabilities = predict_manifest(loaded, manifest, device=device)
    probabilities = np.asarray(probabilities)
    if probabilities.shape != (len(manifest), 80):
        raise ValueError(f"probabilities must have shape ({len(manifest)}, 80); got {probabilities.shape}")
    spectra = [read_spectrum(p).summed() for p in manifest["path"]]
    fit = VerifyConfig() if fit is None else fit
    configs = [dataclasses.replace(fit, offset_eV=float(o)) for o in manifest["energy_offset_eV"]]
    extra = [{"file": f} for f in manifest["file"]]
    rows, seconds, failed = _verify_rows(spectra, probabilities, configs, label_matrix(manifest["labels"]),
                                         float(getattr(loaded, "threshold", 0.5) or 0.5), candidate_threshold,
                                         extra)
    if failed:
        log.info("%d of %d real spectra could not be fitted: the network's answer stands", failed, len(spectra))
    return pd.DataFrame(rows), probabilities, seconds


def verified_probabilities(rows, n: int, rule) -> np.ndarray:
    """(n, 80) combined probabilities: ``rule``'s q for every candidate row, 0 elsewhere.

    rule: a :class:`~eels_helpers.inference.verification_model.LogisticRule`.
    """
    from eels_helpers.inference.verification_model import FEATURES
    from eels_helpers.physics.elements import ELEMENTS

    out = np.zeros((int(n), len(ELEMENTS)))
    if len(rows):
        q = rule.probability(rows[list(FEATURES)].to_numpy(dtype=np.float64))
        col = np.array([ELEMENTS.index(e) for e in rows["element"]])
        out[rows["spectrum"].to_numpy(dtype=int), col] = q
    return out


def typical_mistakes(labels: np.ndarray, predicted: np.ndarray) -> dict:
    """The paper's two typical mistakes among 0/1 predictions (carbon left out): false positives
    that are a lanthanide within two atomic numbers of a present lanthanide
    (``lanthanide_neighbour``), and false positives of a neighbour group (Ta/W/Re/Os/Ir/Pt,
    Cr/Mn/Fe, Ba/La/Ce) beside a present member (``plausible_alternative``, e.g. Re beside W)."""
    from eels_helpers.evaluation.real_spectra import metric_mask
    from eels_helpers.inference.verification_rules import _LANTHANIDES, NEIGHBOUR_GROUPS
    from eels_helpers.physics.elements import ELEMENTS

    y = np.asarray(labels) > 0
    fp = (np.asarray(predicted) > 0) & ~y & metric_mask()[None, :]
    idx = {e: i for i, e in enumerate(ELEMENTS)}
    lan = np.array([idx[e] for e in _LANTHANIDES])
    near = np.abs(lan[:, None] - lan[None, :]) <= 2
    np.fill_diagonal(near, False)
    lan_fp = int((fp[:, lan] & (y[:, lan].astype(int) @ near.astype(int) > 0)).sum())
    group = np.zeros((len(ELEMENTS), len(ELEMENTS)), dtype=int)
    for g in NEIGHBOUR_GROUPS:
        ii = [idx[e] for e in g]
        group[np.ix_(ii, ii)] = 1
    np.fill_diagonal(group, 0)
    alt_fp = int((fp & (y.astype(int) @ group > 0)).sum())
    return {"lanthanide_neighbour": lan_fp, "plausible_alternative": alt_fp}


def before_after(manifest, network: np.ndarray, verified: np.ndarray, *, seeds: Sequence[int] = (0, 1, 2, 3, 4)):
    """Network alone vs network + verification on real spectra, by compound-grouped
    cross-validation (threshold per split chosen on its validation half, scored on its test
    half, carbon out).

    Returns
    -------
    table : pandas.DataFrame
        Rows ``network`` and ``verified``: mean F1, precision, recall, exact match and threshold
        over the splits, and the typical mistakes summed over the test halves.
    cv : dict
        ``{"network": CrossValidation, "verified": CrossValidation}``.
    """
    import pandas as pd

    from eels_helpers.evaluation.cross_validation import grouped_cross_validation
    from eels_helpers.evaluation.real_spectra import evaluation_split, label_matrix

    y = label_matrix(manifest["labels"])
    cv, rows = {}, []
    for name, P in (("network", network), ("verified", verified)):
        c = cv[name] = grouped_cross_validation(name, manifest, probabilities=np.asarray(P), seeds=seeds, name=name)
        counts = {"lanthanide_neighbour": 0, "plausible_alternative": 0}
        for seed, t in zip(c.splits["seed"], c.splits["threshold"]):
            val, _ = evaluation_split(manifest, int(seed))
            test = ~manifest["file"].isin(val["file"]).to_numpy()
            for k, v in typical_mistakes(y[test], np.asarray(P)[test] >= t).items():
                counts[k] += v
        rows.append({"": name, **c.mean, **counts})
    return pd.DataFrame(rows).set_index(""), cv


def decision_changes(rows, rule, network_threshold: float):
    """The candidates whose decision the verification changes, at ``network_threshold`` for the
    network alone and ``rule.threshold`` for the combined probability q.

    Returns
    -------
    pandas.DataFrame
        One row per changed candidate: the ``rows`` columns (``spectrum``, ``element``, ``p``,
        ``label``, ...) plus ``q``, ``change`` (``"rejected"``: the network reported it, the
        verification did not; ``"rescued"``: the reverse) and ``right`` (the change agrees with the
        label), rejected first, then by decreasing |q - p|.
    """
    from eels_helpers.inference.verification_model import FEATURES

    if not 0.0 < float(network_threshold) < 1.0:
        raise ValueError(f"network_threshold must be a probability in (0, 1); got {network_threshold!r}")
    if not len(rows):
        return rows.assign(q=[], change=[], right=[])
    q = rule.probability(rows[list(FEATURES)].to_numpy(dtype=np.float64))
    net = rows["p"].to_numpy(dtype=np.float64) >= float(network_threshold)
    ver = q >= rule.threshold
    out = rows.assign(q=q, change=np.where(net, "rejected", "rescued"))[net != ver]
    if "label" in out:
        out = out.assign(right=(out["change"] == "rescued") == (out["label"] > 0))
    order = np.lexsort((-np.abs(out["q"] - out["p"]).to_numpy(), (out["change"] != "rejected").to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def verify_row(manifest, row: int, probabilities: np.ndarray, rule=None, candidate_threshold: float = 0.05):
    """The :class:`~eels_helpers.inference.verification_result.VerificationResult` of one manifest row
    (its summed spectrum, the manifest's energy offset), for figures."""
    from eels_helpers.inference.spectrum_files import read_spectrum
    from eels_helpers.inference.verification import VerifyConfig, verify
    from eels_helpers.inference.verification_model import fit_settings
    from eels_helpers.inference.verification_rules import candidates_from_probabilities

    rec = manifest.iloc[int(row)]
    cand = candidates_from_probabilities(np.asarray(probabilities)[int(row)], candidate_threshold)
    return verify(read_spectrum(rec["path"]).summed(), cand,      # fitted as its rule was fitted
                  VerifyConfig(**fit_settings(rule), offset_eV=float(rec["energy_offset_eV"])), rule=rule)
