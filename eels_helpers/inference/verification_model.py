"""Verified identification, the fitted decision: a small logistic model that combines the network's
probability with the fit's evidence (:class:`~eels_helpers.inference.verification_result.Evidence`) into
one probability per candidate element.

The model is fitted on simulated spectra only (``scripts/fit_verification_rule.py``: the
simulator's labels say which candidates are true) and stored per network in
:data:`RULES_FILE`; the threshold on its output is chosen on the validation halves of the real
spectra (compound-grouped cross-validation), never on their test halves.

Features of one candidate (:data:`FEATURES`), from the network's probability p and the evidence:

* ``logit_p``: logit(p), p clipped to [1e-4, 1 - 1e-4];
* ``untested``: 1 when the candidate has no edge in the window (then every evidence feature is
  0 and the model falls back on the network's probability);
* ``log_significance``: log(1 + max(signal / uncertainty, 0)), the significance capped at 100;
* ``log_fit_improvement``: log(1 + chi2 decrease when the candidate is included);
* ``edge_fraction``: share of its fitted signal carried by the atomic edge (not the near-onset terms);
* ``abs_shift``: |best onset shift| / 8 eV;
* ``edges_inside``: share of its major edges inside the window;
* ``neighbour_better``: 1 when a commonly confused neighbour (fitted too) has the larger fit
  improvement (the neighbours are resolved by which onset and shape fit better).

The reduced chi2 is not a feature: it depends on the data's units (simulated spectra are
normalised to a maximum of 1), while significance and fit improvement are divided by it.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eels_helpers.files import atomic_write_text, file_digest, read_json_table

__all__ = ["FEATURES", "RULES_FILE", "LogisticRule", "candidate_features", "fit_logistic",
           "load_rule", "save_rule", "calibration", "verification_helps", "rule_key", "network_fingerprint",
           "networks_changed", "stale_rule"]

log = logging.getLogger(__name__)

FEATURES = ("logit_p", "untested", "log_significance", "log_fit_improvement", "edge_fraction",
            "abs_shift", "edges_inside", "neighbour_better")


def _rules_file() -> Path:
    from eels_helpers import DATA_DIR

    return DATA_DIR / "verification_rules.json"


#: the fitted rules, one entry per model name (written by scripts/fit_verification_rule.py)
RULES_FILE = _rules_file()


def _finite(v: Any, default: float = 0.0) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def candidate_features(result) -> tuple[list[str], np.ndarray]:
    """The features (:data:`FEATURES`) of every candidate of one verification.

    Parameters
    ----------
    result : VerificationResult
        From :func:`eels_helpers.inference.verification.verify` (candidates with probabilities).

    Returns
    -------
    elements : list of str
        The candidates, in ``result.evidence`` order.
    X : numpy.ndarray, shape (len(elements), len(FEATURES))
        One row per candidate (a candidate without probability counts as p = 0.5).
    """
    evidence = result.evidence
    elements = list(evidence)
    X = np.zeros((len(elements), len(FEATURES)))
    for i, el in enumerate(elements):
        ev = evidence[el]
        p = min(max(0.5 if ev.probability is None else float(ev.probability), 1e-4), 1 - 1e-4)
        X[i, 0] = math.log(p / (1 - p))
        if ev.status != "fitted":
            X[i, 1] = 1.0
            continue
        n_in, n_out = len(ev.edges_in_window), len(ev.edges_outside)
        rivals = [evidence[nb] for nb in ev.neighbours if nb in evidence and evidence[nb].status == "fitted"]
        fi = max(_finite(ev.fit_improvement), 0.0)
        X[i, 2:] = (math.log1p(min(max(_finite(ev.significance), 0.0), 100.0)), math.log1p(fi),
                    min(max(_finite(ev.edge_fraction), 0.0), 1.0), abs(_finite(ev.shift_eV)) / 8.0,
                    n_in / max(n_in + n_out, 1),
                    float(any(max(_finite(r.fit_improvement), 0.0) > fi for r in rivals)))
    return elements, X


@dataclass(frozen=True)
class LogisticRule:
    """q = sigmoid(intercept + coefficients . (x - mean) / scale) per candidate.

    model: the network the rule was fitted for; threshold: the decision threshold on q (chosen
    on the real validation halves; 0.5 until then); provenance: how it was fitted (spectra,
    seed, held-out scores).
    """

    model: str
    coefficients: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float = 0.5
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        k = len(FEATURES)
        for name in ("coefficients", "mean", "scale"):
            v = tuple(float(x) for x in getattr(self, name))
            if len(v) != k or not all(map(math.isfinite, v)):
                raise ValueError(f"LogisticRule.{name} must hold {k} finite numbers ({', '.join(FEATURES)}); "
                                 f"got {getattr(self, name)!r}")
            object.__setattr__(self, name, v)
        if any(s <= 0 for s in self.scale):
            raise ValueError(f"LogisticRule.scale must be positive; got {self.scale!r}")
        if not math.isfinite(float(self.intercept)):
            raise ValueError(f"LogisticRule.intercept must be finite; got {self.intercept!r}")
        if not 0.0 < float(self.threshold) < 1.0:
            raise ValueError(f"LogisticRule.threshold must be a probability in (0, 1); got {self.threshold!r}")

    def probability(self, X) -> np.ndarray:
        """q (n,) for features X (n, len(FEATURES))."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != len(FEATURES):
            raise ValueError(f"features must have {len(FEATURES)} columns ({', '.join(FEATURES)}); got {X.shape}")
        z = self.intercept + ((X - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coefficients)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def to_dict(self) -> dict:
        return {"model": self.model, "features": list(FEATURES),
                "coefficients": [round(c, 6) for c in self.coefficients], "intercept": round(self.intercept, 6),
                "mean": [round(c, 6) for c in self.mean], "scale": [round(c, 6) for c in self.scale],
                "threshold": round(float(self.threshold), 4), "provenance": self.provenance}

    @classmethod
    def from_dict(cls, d: dict) -> "LogisticRule":
        if list(d.get("features", [])) != list(FEATURES):
            raise ValueError(f"the stored rule's features {d.get('features')} are not this version's "
                             f"{list(FEATURES)}: refit it (scripts/fit_verification_rule.py)")
        return cls(d["model"], tuple(d["coefficients"]), float(d["intercept"]), tuple(d["mean"]),
                   tuple(d["scale"]), float(d.get("threshold", 0.5)), dict(d.get("provenance", {})))


def fit_logistic(X, y, *, l2: float = 1.0, model: str = "", max_iter: int = 50) -> LogisticRule:
    """Fit a logistic model by Newton's method (L2 penalty ``l2`` on the standardised coefficients).

    Parameters
    ----------
    X : array_like, shape (n, len(FEATURES))
    y : array_like, shape (n,)
        1 for a true candidate, 0 for a false one; both must occur.
    l2 : float, default 1.0
        Ridge penalty (>= 0), in units of the summed log-likelihood.

    Returns
    -------
    LogisticRule
        With threshold 0.5.

    Raises
    ------
    ValueError
        If the shapes do not match, values are not finite, or y holds only one class.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.ndim != 2 or X.shape[1] != len(FEATURES) or X.shape[0] != y.size:
        raise ValueError(f"X must be (n, {len(FEATURES)}) and y (n,); got {X.shape} and {y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("X and y must be finite")
    if not set(np.unique(y)) <= {0.0, 1.0} or np.unique(y).size < 2:
        raise ValueError("y must hold 0 and 1 (true and false candidates both)")
    if not l2 >= 0:
        raise ValueError(f"l2 must be >= 0; got {l2!r}")
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    Z = np.concatenate([np.ones((X.shape[0], 1)), (X - mean) / scale], axis=1)
    w = np.zeros(Z.shape[1])
    pen = np.full(Z.shape[1], float(l2))
    pen[0] = 0.0
    for _ in range(max_iter):
        q = 1.0 / (1.0 + np.exp(-np.clip(Z @ w, -40, 40)))
        g = Z.T @ (q - y) + pen * w
        H = (Z * (q * (1 - q))[:, None]).T @ Z + np.diag(pen + 1e-9)
        step = np.linalg.solve(H, g)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return LogisticRule(model, tuple(w[1:]), float(w[0]), tuple(mean), tuple(scale))


def calibration(q, y, bins: int = 10):
    """Reliability table of predicted probabilities ``q`` against outcomes ``y``: a pandas
    DataFrame with one row per non-empty bin of q (``q_low``, ``q_high``, ``n``, ``mean_q``,
    ``fraction_true``), and the Brier score as ``attrs["brier"]``."""
    import pandas as pd

    q = np.asarray(q, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if q.shape != y.shape:
        raise ValueError(f"q and y must have the same length; got {q.shape} and {y.shape}")
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    idx = np.clip(np.digitize(q, edges[1:-1]), 0, bins - 1)
    n = np.bincount(idx, minlength=bins)
    sq = np.bincount(idx, weights=q, minlength=bins)
    sy = np.bincount(idx, weights=y, minlength=bins)
    keep = n > 0
    df = pd.DataFrame({"q_low": edges[:-1][keep], "q_high": edges[1:][keep], "n": n[keep],
                       "mean_q": sq[keep] / n[keep], "fraction_true": sy[keep] / n[keep]})
    df.attrs["brier"] = float(np.mean((q - y) ** 2)) if q.size else float("nan")
    return df


def _read(path: Path) -> dict:
    return read_json_table(path, "rules file")


def rule_key(model) -> str:
    """A rule's key in the rules file: the model name, or a model file's stem."""
    return Path(str(model)).stem if str(model).endswith(".pt") else str(model)


def _stored_rule(model, path: str | Path | None) -> tuple[str, Path, dict | None]:
    """(key, rules file, the stored entry of ``model`` or None)."""
    path = RULES_FILE if path is None else Path(path)
    key = rule_key(model)
    return key, path, _read(path).get("rules", {}).get(key)


def network_fingerprint(model) -> list[str] | None:
    """The networks that ``model`` (a shipped name or a model file) holds, one ``NAME:DIGEST`` per
    member in the members' order: its network file's name and the first 12 hex digits of that file's
    SHA-256 (a member stored inside the model file: that file's). A rule records it when fitted, so a
    rule left over from networks that were replaced is recognised. None where ``model`` is no file."""
    from eels_helpers.models.model_files import ModelNotFoundError, member_files, resolve_model_path

    try:
        path = resolve_model_path(model)
        members = member_files(path)
    except (ModelNotFoundError, OSError, ValueError):
        return None
    out = []
    for f in members:
        f = path if f is None else f
        try:
            out.append(f"{f.name}:{file_digest(f)[:12]}")
        except OSError:
            return None
    return out


def networks_changed(model, recorded) -> list[str] | None:
    """``model``'s :func:`network_fingerprint` now where it differs from the ``recorded`` one (what
    a rule or table was made for), else None (the same, or ``model`` is no file to fingerprint)."""
    now = network_fingerprint(model)
    return None if now is None or now == list(recorded) else now


def stale_rule(model, entry: dict) -> str:
    """Why the stored rule ``entry`` does not belong to the networks ``model`` holds now ('' when
    it does, or when the rule records no networks: rules fitted before session 43)."""
    fitted = entry.get("provenance", {}).get("networks")
    if not fitted:
        return ""
    now = networks_changed(model, fitted)
    if now is None:
        return ""
    return (f"the verification rule of {rule_key(model)!r} was fitted for the networks {', '.join(fitted)}, "
            f"and the model now holds {', '.join(now)}: refit it (python scripts/fit_verification_rule.py "
            f"--model {model}, the command in its provenance)")


def load_rule(model: str, path: str | Path | None = None) -> LogisticRule | None:
    """The fitted rule of network ``model`` (its name, or a model file's stem), or None (logged)
    when :data:`RULES_FILE` (or ``path``) holds none for it. A rule fitted for other networks than
    ``model`` holds now (:func:`stale_rule`) is used with a warning."""
    key, path, entry = _stored_rule(model, path)
    if entry is None:
        log.warning("no verification rule fitted for model %r in %s: the hand-set DecisionRule "
                    "coefficients are used (fit one: python scripts/fit_verification_rule.py --model %s)",
                    key, path, model)
        return None
    stale = stale_rule(model, entry)
    if stale:
        log.warning("%s", stale)
    return LogisticRule.from_dict(entry)


#: the VerifyConfig fields a rule's features depend on, as scripts/fit_verification_rule.py records them
FIT_SETTINGS = ("white_lines", "line_fwhm_eV", "plural_eV", "other_edges", "conditional_uncertainty")


def fit_settings(model, path: str | Path | None = None) -> dict:
    """The :class:`~eels_helpers.inference.verification.VerifyConfig` settings that a rule was
    fitted with (``provenance``: white lines, their resolution, plural scattering, edges outside the
    families, the conditional uncertainty), so a verification uses the features its rule knows.
    ``model``: a network name (its stored rule), a :class:`LogisticRule` or a DecisionRule holding
    one; {} without a rule."""
    rule = getattr(model, "logistic", model)
    if isinstance(rule, LogisticRule):
        prov = rule.provenance
    elif isinstance(rule, (str, Path)):
        prov = (_stored_rule(str(rule), path)[2] or {}).get("provenance", {})
    else:                                   # None, or a DecisionRule with the hand-set coefficients
        prov = {}
    out = {k: prov[k] for k in FIT_SETTINGS if k in prov}
    if "plural_eV" in out:
        out["plural_eV"] = tuple(out["plural_eV"])
    return out


def save_rule(rule: LogisticRule, path: str | Path | None = None) -> Path:
    """Write (or replace) ``rule``'s entry, keyed by its model, in the rules file, atomically."""
    path = RULES_FILE if path is None else Path(path)
    data = _read(path)
    data.setdefault("about", "Verified identification: logistic rules per network, fitted on simulated "
                             "spectra by scripts/fit_verification_rule.py; threshold chosen on the real "
                             "validation halves (eels_helpers.inference.verification_model)")
    data.setdefault("rules", {})[rule.model] = rule.to_dict()
    return atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False) + "\n")


def verification_helps(model: str, path: str | Path | None = None) -> tuple[bool, str]:
    """Whether validation shows that verification helps network ``model``: True when its fitted rule
    records a compound-grouped cross-validation on real spectra (``provenance["real_grouped_cv"]``,
    written by ``scripts/fit_verification_rule.py --experimental-dir``) in which the verified decision's
    mean F1 and exact match are both at least the network's alone. Returns ``(helps, why)``, ``why`` a
    sentence for the user; False (with the reason) when no rule or no such record exists, or when the
    rule was fitted for other networks than ``model`` holds now (:func:`stale_rule`).
    """
    key, _, entry = _stored_rule(model, path)
    if entry is None:
        return False, f"no verification rule fitted for {key!r}"
    stale = stale_rule(model, entry)
    if stale:
        return False, stale
    cv = entry.get("provenance", {}).get("real_grouped_cv")
    if not cv:
        return False, f"the rule of {key!r} records no cross-validation on real spectra"
    net, ver = cv["network"], cv["verified"]
    helps = ver["f1"] >= net["f1"] and ver["exact_match"] >= net["exact_match"]
    why = (f"{key!r} on {cv['spectra']} real spectra, compound-grouped CV: F1 {net['f1']:.3f} -> {ver['f1']:.3f}, "
           f"exact match {net['exact_match']:.3f} -> {ver['exact_match']:.3f} with verification")
    return helps, why
