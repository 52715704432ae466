"""Training the twin resolvers (:mod:`eels_helpers.models.twin_resolver`) on simulated spectra only,
their simulated gate, and the file they ship in (``data/twin_resolvers.pt``).

Training spectra: ``simulated_arrays(n, seed, 64, config, [a, b])`` (the pair's elements as
queries) with exactly one twin labelled and the window measured; binary cross-entropy, Adam 1e-3,
batches of 128, ``epochs`` passes, ``torch.manual_seed(0)``. Gate: among fresh simulated spectra
(another seed) with exactly one twin labelled that the network reports both of, the share where the
resolver picks the labelled one (session 23: N/Sc 0.957, O/Sb 0.805, B/Cl 0.699; only N/Sc ships).

``balanced=True`` (session 25, experiment R25): where one twin is rare in the other's compounds
(Xe specimens are fluorides: simulated Xe alone is ~5 % of F/Xe spectra, and session 23's F/Xe
model dropped the true Xe), ``n`` spectra are drawn for each twin's specimens separately (queries
[a] and [b]) and the loss weighs both classes equally; :func:`gate_by_class` scores the gate per
class, so that a resolver which always names the common twin cannot pass.

``presence=True`` (session 26, experiment K26: C/K): the resolver learns whether the second twin is
there at all, from spectra with either or both twins labelled (carbon contamination puts C beside
K often; R25's exclusive C/K resolver dropped KBr's true K); its gate: among spectra with either
twin labelled that the network reports both of, the share where its presence call for the second
twin is right, per class (second twin labelled or not).

A **lone** presence resolver is the pair of one element with itself (``a == b``; session 46,
experiment B46: Be, whose K edge at 111 eV the networks report for Si L2,3 at 99 eV, Al L2,3 at 73 eV
and Kr M4,5 at 94 eV): it learns from every spectrum whose window is measured whether the element is
labelled, and decides wherever the element is reported, beside any other element; its gate's
classes are "no Be" and "Be" (:func:`class_names`). Its window is :func:`window_start` of the pair, so
it reads the element's LOWEST family (a lone Si resolver would read Si L2,3, never Si K).

:func:`swap_gate` is experiment T28's gate for deciding below the threshold (a pair saved with
``swap``): where the network reports one twin and gives the other p >= 0.05, is the resolver's
choice right more often than the network's? (Session 35: Ba/Co failed it, research log R35/R35b.)
:func:`cut_gate` is experiment W28's gate for windows that start late (a spectrum recorded, or
cut at a splice, just before the twins' edges) and, with ``end=True``, E37's for windows that end
early; ``TwinResolverConfig.late_start_share`` trains a resolver on late windows (:func:`cut_at_window`
cuts spectra either way; session 36, experiment L36).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["TwinResolverConfig", "window_start", "simulated_set", "balanced_set", "cut_at_window", "class_names",
           "train_twin_resolver", "cut_gate", "cut_gate_passed",
           "gate_accuracy", "gate_by_class", "swap_gate", "save_twin_resolvers"]


@dataclass(frozen=True)
class TwinResolverConfig:
    """How one resolver is trained: ``config`` (a named simulator configuration), ``n`` simulated
    spectra (>= 64) of ``seed``, ``epochs`` (>= 1); the gate on ``gate_n`` spectra of ``gate_seed``;
    ``balanced``: ``n`` (and ``gate_n``) spectra per twin and both classes weighted equally
    (:func:`balanced_set`; with a shared set, e.g. a lone presence resolver's, only the class weighting);
    ``presence``: a presence resolver (module docstring); ``late_start_share``
    (0..1): that share of the training spectra start late (:func:`cut_at_window`), and the resolver
    reads late windows as :func:`~eels_helpers.models.twin_resolver.twin_windows` does with
    ``late_start`` (experiment L36)."""

    config: str = "open-world-sharp"
    n: int = 16384
    seed: int = 11
    epochs: int = 15
    gate_n: int = 8192
    gate_seed: int = 13
    balanced: bool = False
    presence: bool = False
    late_start_share: float = 0.0

    def __post_init__(self):
        from eels_helpers.simulation.named_configs import NAMED_CONFIGS

        if self.config not in NAMED_CONFIGS:
            raise ValueError(f"TwinResolverConfig.config must be a named simulator configuration, got {self.config!r}")
        for name, low in (("n", 64), ("epochs", 1), ("gate_n", 64)):
            if int(getattr(self, name)) < low:
                raise ValueError(f"TwinResolverConfig.{name} must be >= {low}, got {getattr(self, name)!r}")
        if not 0.0 <= float(self.late_start_share) <= 1.0:
            raise ValueError(f"TwinResolverConfig.late_start_share must be a fraction in [0, 1], "
                             f"got {self.late_start_share!r}")


def window_start(a: str, b: str) -> int:
    """First channel (eV) of the pair's window: WINDOW_BELOW_EV below the lower of the two closest
    family onsets of ``a`` and ``b`` (data/edges.csv: N K 401 / Sc L3 402 -> 375), which must lie within
    ``verification_rules.ONSET_NEIGHBOUR_EV`` of each other (onset twins); never below the first
    channel the network input measures (75 eV: Si L2,3 99 / Be K 111 -> 75, not 73)."""
    from eels_helpers.inference.preprocess import MIN_ENERGY_EV
    from eels_helpers.inference.verification_rules import ONSET_NEIGHBOUR_EV
    from eels_helpers.models.twin_resolver import WINDOW_BELOW_EV
    from eels_helpers.physics.elements import families_of

    gap, lower = min((abs(fa.first_onset_eV - fb.first_onset_eV), min(fa.first_onset_eV, fb.first_onset_eV))
                     for fa in families_of(a) for fb in families_of(b))
    if gap > ONSET_NEIGHBOUR_EV:
        raise ValueError(f"no twin onsets: the closest edge families of {a} and {b} are {gap:.0f} eV apart "
                         f"(> {ONSET_NEIGHBOUR_EV:g} eV)")
    return max(int(round(lower)) - WINDOW_BELOW_EV, math.ceil(MIN_ENERGY_EV))


def simulated_set(elements, n: int, seed: int, config: str):
    """(X (n, 3072), Y (n, 80)): simulated spectra of specimens holding one of ``elements`` (the
    streaming simulator's query elements), to share between several pairs' training or gates."""
    from eels_helpers.datasets.streaming import simulated_arrays

    return simulated_arrays(n, seed, 64, config, list(elements))


def balanced_set(a: str, b: str, n: int, seed: int, config: str):
    """(X (2n, 3072), Y (2n, 80)): ``n`` simulated spectra of specimens drawn for ``a`` (seed) and
    ``n`` for ``b`` (seed + 100), so that each twin's compounds are represented whatever the other's
    (F/Xe: almost every Xe compound is a fluoride)."""
    Xa, Ya = simulated_set([a], n, seed, config)
    Xb, Yb = simulated_set([b], n, seed + 100, config)
    return np.concatenate([Xa, Xb]), np.concatenate([Ya, Yb])


def cut_at_window(X, start_channel: int, seed: int, share: float = 1.0,
                  end: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(copies of spectra X (n, 3072), (n,) bool: cut) where a ``share`` of them (drawn with ``seed``)
    are cut at the twin window ``start_channel`` (one random stream for both cuts). By default they
    start late: every channel before ``start_channel`` + k set to zero, k uniform in
    1..:data:`~eels_helpers.models.twin_resolver.LATE_START_MAX` per spectrum, as a spectrum recorded
    from there (or cut at a splice) just before a twin window (experiment L36). With ``end`` they end
    early instead: every channel from the window's end - k on set to zero, k uniform in
    1..:data:`~eels_helpers.models.twin_resolver.EARLY_END_MAX` (experiment E37)."""
    from eels_helpers.models.twin_resolver import EARLY_END_MAX, LATE_START_MAX, WINDOW_CHANNELS

    rng = np.random.default_rng(seed)
    X = np.array(X, dtype=np.float32, copy=True)
    cut = rng.random(len(X)) < share
    channel = np.arange(X.shape[1])[None, :]
    if end:
        k = rng.integers(1, EARLY_END_MAX + 1, size=len(X))
        X[(channel >= (start_channel + WINDOW_CHANNELS - k)[:, None]) & cut[:, None]] = 0.0
    else:
        k = rng.integers(1, LATE_START_MAX + 1, size=len(X))
        X[(channel < (start_channel + k)[:, None]) & cut[:, None]] = 0.0
    return X, cut


def _pair_set(a, b, n, seed, config, data=None, balanced=False, presence=False):
    """(X, Y, index of a, index of b, the rows a resolver learns from: exactly one twin labelled, or
    with ``presence`` either or both; a lone presence resolver (``a == b``): every row)."""
    from eels_helpers.physics.elements import ELEMENTS

    if a == b and not presence:
        raise ValueError(f"{a}/{b}: a pair of one element is a lone presence resolver; it needs presence=True")
    if data is None:
        X, Y = balanced_set(a, b, n, seed, config) if balanced else simulated_set([a, b], n, seed, config)
    else:
        X, Y = data
    ia, ib = ELEMENTS.index(a), ELEMENTS.index(b)
    has_a, has_b = Y[:, ia] > 0.5, Y[:, ib] > 0.5
    if a == b:
        return X, Y, ia, ib, np.ones(len(Y), dtype=bool)
    return X, Y, ia, ib, (has_a | has_b) if presence else has_a ^ has_b


def class_names(a: str, b: str) -> tuple[str, str]:
    """The two classes of a pair's gate: the twin that is labelled (``a``, ``b``); for a presence
    resolver ``a`` stands for "``b`` not labelled"; for a lone one (``a == b``) it reads "no ``b``"."""
    return (f"no {b}", b) if a == b else (a, b)


def train_twin_resolver(a: str, b: str, cfg: TwinResolverConfig = TwinResolverConfig(), data=None):
    """A trained :class:`~eels_helpers.models.twin_resolver.TwinResolver` for the pair (a, b) (its
    logit is b's) and the number of training spectra; ``data``: a shared (X, Y)
    (:func:`simulated_set`) instead of ``cfg.n`` spectra of specimens holding a or b."""
    import torch
    from torch import nn

    from eels_helpers.models.twin_resolver import TwinResolver, twin_windows

    start = window_start(a, b)
    X, Y, _, ib, one = _pair_set(a, b, cfg.n, cfg.seed, cfg.config, data, cfg.balanced, cfg.presence)
    late = cfg.late_start_share > 0
    if late:
        X = cut_at_window(X, start, cfg.seed, cfg.late_start_share)[0]
    w, ok = twin_windows(X[one], start, late_start=late)
    x, y = w[ok], torch.from_numpy((Y[one][ok][:, ib] > 0.5).astype(np.float32))
    if y.numel() < 2 or y.min() == y.max():
        raise ValueError(f"{a}/{b}: the simulated spectra hold only one of the twins; raise TwinResolverConfig.n")
    torch.manual_seed(0)
    net = TwinResolver(presence=cfg.presence)
    net.late_start = late
    # balanced: the positive class (b) weighs (negatives / positives), so both classes weigh the same
    pos_weight = (len(y) - y.sum()) / y.sum() if cfg.balanced else None
    opt, loss = torch.optim.Adam(net.parameters(), 1e-3), nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    for _ in range(int(cfg.epochs)):
        perm = torch.randperm(len(y))
        for i in range(0, len(y), 128):
            batch = perm[i:i + 128]
            opt.zero_grad()
            loss(net(x[batch]), y[batch]).backward()
            opt.step()
    log.info("%s/%s: trained on %d simulated spectra (%.2f %s)", a, b, len(y), float(y.mean()), b)
    return net.eval(), int(len(y))


def _gate_inputs(a, b, model, cfg, data, probabilities, presence):
    """(labels Y, a's and b's columns, the rows a resolver may decide: one twin labelled (``presence``:
    either or both) and the window measured, ``model``'s probabilities P, the windows) of the gate set."""
    from eels_helpers.inference.predict import _as_loaded, run_model
    from eels_helpers.models.twin_resolver import twin_windows

    X, Y, ia, ib, one = _pair_set(a, b, cfg.gate_n, cfg.gate_seed, cfg.config, data, cfg.balanced, presence)
    P = run_model(_as_loaded(model, "cpu"), X) if probabilities is None else probabilities
    w, ok = twin_windows(X, window_start(a, b))
    return Y, ia, ib, one & ok, P, w


def _says_second(net, w, sel: np.ndarray) -> np.ndarray:
    """(m,) bool: the resolver's logit favours the pair's second twin in the windows of rows ``sel``."""
    import torch

    with torch.no_grad():
        return torch.sigmoid(net(w[torch.from_numpy(sel)])).numpy() > 0.5


def _gate_decisions(net, a, b, model, threshold, cfg, data, probabilities):
    """(resolver right (m,) bool, b labelled (m,) bool) on the gate spectra with exactly one twin
    labelled (``cfg.presence``: either or both) that ``model`` reports both of at ``threshold``."""
    Y, ia, ib, rows, P, w = _gate_inputs(a, b, model, cfg, data, probabilities, cfg.presence)
    sel = rows & (P[:, ia] >= threshold) & (P[:, ib] >= threshold)
    truth = Y[sel][:, ib] > 0.5
    if not sel.any():
        return np.zeros(0, bool), truth
    return _says_second(net, w, sel) == truth, truth


def gate_accuracy(net, a: str, b: str, model, threshold: float, cfg: TwinResolverConfig = TwinResolverConfig(),
                  data=None, probabilities=None):
    """(share right, spectra): among fresh simulated spectra with exactly one twin labelled that
    ``model`` reports both of at ``threshold``, the share where ``net`` picks the labelled one;
    ``data``: a shared gate set (X, Y) and ``probabilities`` the model's on it (n, 80)."""
    right, _ = _gate_decisions(net, a, b, model, threshold, cfg, data, probabilities)
    return (float(right.mean()) if right.size else float("nan")), int(right.size)


def gate_by_class(net, a: str, b: str, model, threshold: float, cfg: TwinResolverConfig = TwinResolverConfig(),
                  data=None, probabilities=None) -> dict:
    """:func:`gate_accuracy` per class: ``{a: (share right, spectra), b: (share right, spectra)}``
    (the class is the twin that is labelled; for a presence resolver, ``a``: b not labelled, ``b``: b
    labelled; nan where no gate spectrum holds it)."""
    right, truth = _gate_decisions(net, a, b, model, threshold, cfg, data, probabilities)
    absent, present = class_names(a, b)
    return {el: ((float(right[mask].mean()) if mask.any() else float("nan")), int(mask.sum()))
            for el, mask in ((absent, ~truth), (present, truth))}


def swap_gate(net, a: str, b: str, model, threshold: float, cfg: TwinResolverConfig = TwinResolverConfig(),
              data=None, probabilities=None) -> dict:
    """Experiment T28's gate for deciding below the threshold: among fresh simulated spectra with
    exactly one twin labelled where ``model`` reports exactly one twin at ``threshold`` and gives the
    other a probability >= :data:`~eels_helpers.inference.twin_resolution.SWAP_CANDIDATE` (window
    measured), the share where the network's reported twin is the labelled one (``network``) and
    the share where the resolver's choice is (``resolver``), over ``spectra`` spectra."""
    from eels_helpers.inference.twin_resolution import SWAP_CANDIDATE

    Y, ia, ib, rows, P, w = _gate_inputs(a, b, model, cfg, data, probabilities, False)
    ra, rb = P[:, ia] >= threshold, P[:, ib] >= threshold
    sel = rows & (ra ^ rb) & (np.minimum(P[:, ia], P[:, ib]) >= SWAP_CANDIDATE)
    truth = Y[sel][:, ib] > 0.5
    if not sel.any():
        return {"network": float("nan"), "resolver": float("nan"), "spectra": 0}
    return {"network": float((rb[sel] == truth).mean()), "resolver": float((_says_second(net, w, sel) == truth).mean()),
            "spectra": int(sel.sum())}


def cut_gate(net, a: str, b: str, model, threshold: float, cfg: TwinResolverConfig = TwinResolverConfig(),
             seed: int = 2929, n: int = 16384, end: bool = False) -> dict:
    """The cut gate, experiment W28's for windows that start late: ``n`` fresh simulated spectra
    (``seed``), each cut at a uniform 1..LATE_START_MAX leading window channels (:func:`cut_at_window`),
    ``model`` run on the cut spectra; rows with exactly one twin labelled (``cfg.presence``: either or both), both
    reported at ``threshold`` in the cut spectrum, whole window measured before the cut. Per class (as
    :func:`gate_by_class`): ``{a: {"cut": share right, "uncut": share right on the same rows whole,
    "spectra": m}, b: ...}``; ``net`` reads the cut windows padded (``late_start``). With ``end`` the
    same for windows that end early (1..EARLY_END_MAX trailing channels cut, read with ``early_end``;
    experiment E37)."""
    from eels_helpers.inference.predict import _as_loaded, run_model
    from eels_helpers.models.twin_resolver import twin_windows

    start = window_start(a, b)
    X, Y, ia, ib, one = _pair_set(a, b, n, seed, cfg.config, None, False, cfg.presence)
    Xc, _ = cut_at_window(X, start, seed + 1, end=end)
    P = run_model(_as_loaded(model, "cpu"), Xc)
    w, whole = twin_windows(X, start)
    wc, ok = twin_windows(Xc, start, late_start=not end, early_end=end)
    sel = one & whole & ok & (P[:, ia] >= threshold) & (P[:, ib] >= threshold)
    truth = Y[sel][:, ib] > 0.5
    absent, present = class_names(a, b)
    if not sel.any():
        return {el: {"cut": float("nan"), "uncut": float("nan"), "spectra": 0} for el in (absent, present)}
    cut, uncut = _says_second(net, wc, sel) == truth, _says_second(net, w, sel) == truth
    return {el: {"cut": float(cut[m].mean()) if m.any() else float("nan"),
                 "uncut": float(uncut[m].mean()) if m.any() else float("nan"), "spectra": int(m.sum())}
            for el, m in ((absent, ~truth), (present, truth))}


#: W28's bar: a cut window may be read at most this much less often right than the same window whole
CUT_GATE_BELOW_WHOLE = 0.03


def cut_gate_passed(result: dict, gate: float, min_gate: int) -> bool:
    """Whether a :func:`cut_gate` result passes W28's bar: in every class right on the cut
    windows >= ``gate``, at most :data:`CUT_GATE_BELOW_WHOLE` below the same rows whole, on >=
    ``min_gate`` spectra."""
    return all(r["spectra"] >= min_gate and r["cut"] >= gate and r["cut"] >= r["uncut"] - CUT_GATE_BELOW_WHOLE
               for r in result.values())


def save_twin_resolvers(path, resolvers: dict, provenance: dict) -> Path:
    """Write ``{(a, b): net}`` with ``provenance`` (what made them, what they measured) atomically
    (:func:`eels_helpers.models.model_files.atomic_save`); a net's ``late_net`` (a second network for
    windows that start late, L36b) is stored beside it."""
    from eels_helpers.models.model_files import atomic_save

    def entry(a, b, net):
        out = {"start_channel": window_start(a, b), "presence": bool(net.presence),
               "swap": bool(getattr(net, "swap", False)), "late_start": bool(getattr(net, "late_start", False)),
               "early_end": bool(getattr(net, "early_end", False)),
               "state": {k: v.half() for k, v in net.state_dict().items() if not k.startswith("late_net.")}}
        late = getattr(net, "late_net", None)              # a second network for late windows only (L36b)
        if late is not None:
            out["late_state"] = {k: v.half() for k, v in late.state_dict().items()}
        return out

    blob = {"format": "eels_helpers twin resolvers 1", "provenance": provenance,
            "pairs": {f"{a},{b}": entry(a, b, net) for (a, b), net in resolvers.items()}}
    return atomic_save(blob, path)
