"""Resolving reported twins: where a spectrum's reported elements hold both twins of a pair with a
shipped resolver, the resolver (:mod:`eels_helpers.models.twin_resolver`, trained on simulated
spectra only) reads the 95 eV window around their onsets and the twin it disfavours is dropped.

Shipped pairs (``data/twin_resolvers.pt``, its provenance inside):

* N K 401 eV / Sc L3 402 eV (session 23, experiment R23c; compound-grouped CV of the `default`
  network: exact match 0.545 -> 0.622 at F1 0.883 -> 0.884; the 11 real N/Sc pairs the network
  reported (BN, AlN, N2, Sc2O3) all resolved correctly);
* the neighbouring lanthanides Tb/Dy, Ho/Er and Tm/Yb (session 25, experiment N25: trained on
  ``open-world-autoionisation``, whose N4,5 lines below the 4d threshold are narrow; the only
  lanthanide pairs that passed the simulated gate; with them the `default`'s grouped CV as predict
  decides went 0.886 / 0.623 -> 0.888 / 0.627; of the two real pairs they decided, Er2O3 lost its
  false Ho and Ho2O3 (0-390 eV) its true Ho);
* C K 284 eV / K L2,3 294 eV as a *presence* resolver (trained in session 26, experiment K26; shipped
  in session 27, K27): carbon (a film, contamination) is common beside K, so it only says whether K is
  there too and drops K where it is not (C is never dropped). The open-world suite's carbon films
  (seed 27, 50 spectra) lost every invented K (`default` 0.54 -> 0, `ensemble` 0.64 -> 0); the real
  grouped CV as predict decides: `default` 0.888 / 0.627 -> 0.889 / 0.627, `ensemble` 0.903 / 0.635
  -> 0.908 / 0.635; KBr kept its K;
* B K 188 eV / Cl L2,3 200 eV as a presence resolver (session 28, experiment P28): Cl is dropped
  where it is not there beside B (gate: Cl absent 0.882 of 237, present 0.916 of 463 simulated
  spectra); real grouped CV as predict decides: `default` unchanged, `ensemble` 0.911 / 0.644 ->
  0.912 / 0.656 (EELSDB BN 192 loses its false Cl).

A pair of one element, ``(el, el)``, is a **lone presence resolver** (session 46, experiment B46;
:mod:`eels_helpers.training.twin_resolver`): it reads its element's window wherever that element is
reported, beside anything else, and drops it where it says it is absent.

Real twins in one specimen (ScN, a Ho-Er alloy) would lose one of them: the output says which was
dropped and why.

**Below the threshold** (session 28, experiment T28): for the pairs whose file entry says ``swap``
(N/Sc and Tb/Dy), the resolver also decides where only one twin reaches the threshold and the other
has a probability of at least :data:`SWAP_CANDIDATE`: if it favours the unreported twin, that one is
reported instead (``TwinDecision.swapped``; in probability maps the two twins' probabilities are
exchanged in that pixel). Gate on fresh simulated spectra (16,384 per pair, seed 2828,
``open-world-autoionisation``; one twin labelled, one reported, the other >= 0.05): N/Sc `default`
network right 0.846, resolver 0.943 (2,974 spectra), `ensemble` 0.883 / 0.957 (3,981); Tb/Dy 0.728 /
0.851 (805), 0.778 / 0.870 (890). Ho/Er (0.834 / 0.785) and Tm/Yb (0.818 / 0.769) failed it and do
not swap.

**Windows that start late** (session 28, experiment W28): N/Sc, Tb/Dy and Ho/Er (file entry
``late_start``) read a window whose first channels are unmeasured (a spectrum starting just before
the edges; at most :data:`~eels_helpers.models.twin_resolver.LATE_START_MAX`) with them set to the
first measured value; gate on fresh simulated spectra cut at 1-21 channels: N/Sc 0.952 (uncut 0.966),
Tb/Dy 0.920 (0.913), Ho/Er 0.863 (0.892); Tm/Yb, C/K and B/Cl failed it. A pair may carry a second
network for late windows only (file entry ``late_state``, ``net.late_net``; session 36, experiment
L36b): whole windows are read by the pair's network, windows that start late by ``late_net``, a
resolver trained on such windows (``TwinResolverConfig.late_start_share``, experiment L36).

**Windows that end early** (session 37, experiment E37; file entry ``early_end``): N/Sc, Tb/Dy, Ho/Er,
Tm/Yb and C/K read a window whose last channels are unmeasured (a spectrum that ends soon after the
edges, a C K acquisition up to ~340 eV; at most :data:`~eels_helpers.models.twin_resolver.EARLY_END_MAX`,
the last measured channel >= 30 eV above the lower onset) with them set to the last measured value,
by the pair's own network; gate on fresh simulated spectra cut at 1-39 trailing channels (W28's bar,
``scripts/early_end_gate.py``): N/Sc 0.952 / 0.963 (whole 0.970 / 0.957), Tb/Dy 0.912 / 0.950, Ho/Er
0.874 / 0.947, Tm/Yb 0.914 / 0.923, C/K (K absent / present) 0.930 / 0.898; B/Cl failed (Cl absent
0.800 of 35).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["RESOLVERS_PATH", "SWAP_CANDIDATE", "TwinDecision", "check_neighbourhood", "load_twin_resolvers",
           "resolver_summary", "resolve_probability_maps", "neighbourhood_mean", "resolve_reported", "resolve_twins"]


def _default_path() -> Path:
    from eels_helpers import DATA_DIR

    return DATA_DIR / "twin_resolvers.pt"


#: the shipped resolvers (scripts/twin_resolver_experiment.py --save)
RESOLVERS_PATH = _default_path()
#: a swap pair's unreported twin is weighed by the resolver from this probability on
SWAP_CANDIDATE = 0.05


@dataclass(frozen=True)
class TwinDecision:
    """Both twins ``pair`` were reported; ``kept`` stays, ``dropped`` goes; ``probability`` is the
    resolver's for ``kept`` (0.5..1); ``presence``: a presence resolver decided, and ``probability``
    is that ``dropped`` is absent; ``swapped``: only ``dropped`` had reached the threshold, and
    ``kept`` (below it, >= :data:`SWAP_CANDIDATE`) is reported instead. A lone presence resolver's
    decision has ``pair`` (el, el) and ``kept`` = ``dropped`` = el: el was reported and is dropped."""

    pair: tuple[str, str]
    kept: str
    dropped: str
    probability: float
    presence: bool = False
    swapped: bool = False

    def to_dict(self) -> dict:
        lone = self.pair[0] == self.pair[1]                # a lone presence resolver keeps nothing
        return {"pair": list(self.pair), "kept": None if lone else self.kept, "dropped": self.dropped,
                "probability": round(self.probability, 4), "presence": self.presence, "swapped": self.swapped,
                "lone": lone}

    def describe(self) -> str:
        if self.pair[0] == self.pair[1]:                  # a lone presence resolver (B46)
            return (f"{self.dropped} dropped: its edge check found no {self.dropped} edge (absent "
                    f"{self.probability:.2f}; eels_helpers.inference.twin_resolution)")
        said = (f"{self.dropped} absent {self.probability:.2f}" if self.presence
                else f"{self.kept} {self.probability:.2f}")
        what = (f"only {self.dropped} reached the threshold: {self.kept} reported instead" if self.swapped
                else f"both reported: {self.dropped} dropped, {self.kept} kept")
        return (f"twins {self.pair[0]}/{self.pair[1]} {what} "
                f"(twin resolver: {said}; eels_helpers.inference.twin_resolution)")


def _read_file(path: str | Path | None) -> dict | None:
    """The resolvers' file (``RESOLVERS_PATH`` or ``path``) as saved, or None when there is none."""
    import torch

    path = RESOLVERS_PATH if path is None else Path(path)
    return torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None


@lru_cache(maxsize=4)
def load_twin_resolvers(path: str | Path | None = None) -> dict:
    """{(a, b): (TwinResolver, start channel)} from the shipped file (or ``path``); {} when absent."""
    from eels_helpers.models.twin_resolver import TwinResolver

    blob = _read_file(path)
    if blob is None:
        log.warning("no twin resolvers at %s: reported twins are not resolved", path or RESOLVERS_PATH)
        return {}
    out = {}
    for key, entry in blob["pairs"].items():
        net = TwinResolver(presence=bool(entry.get("presence", False)))
        net.load_state_dict({k: v.float() for k, v in entry["state"].items()})
        net.swap = bool(entry.get("swap", False))            # also decides below the threshold (T28)
        net.late_start = bool(entry.get("late_start", False))  # reads windows that start late (W28)
        net.early_end = bool(entry.get("early_end", False))    # reads windows that end early (E37)
        if "late_state" in entry:                              # a second network for late windows only (L36b)
            late = TwinResolver(presence=net.presence)
            late.load_state_dict({k: v.float() for k, v in entry["late_state"].items()})
            net.late_net = late.eval()
        out[tuple(key.split(","))] = (net.eval(), int(entry["start_channel"]))
    return out


def resolver_summary(path: str | Path | None = None) -> list[dict]:
    """One row per resolver in the shipped file (or ``path``), from its provenance: ``pair``,
    ``config`` (the simulator configuration it was trained on), ``training_spectra``, its simulated
    gate (``gate_right`` among ``gate_spectra``), ``fitted``, ``presence`` (a presence resolver: it
    drops only the second twin, where absent), ``swap`` (it also decides where only one twin
    reaches the threshold), ``late_start`` (it reads windows whose first channels are unmeasured),
    ``late_net`` (such windows are read by a second network trained on them) and ``early_end`` (it
    reads windows whose last channels are unmeasured, E37); [] when there is no file."""
    blob = _read_file(path)
    if blob is None:
        return []
    sources = [blob.get("provenance", {})]
    while "kept" in sources[-1]:                      # resolvers kept from an earlier file, with their provenance
        sources.append(sources[-1]["kept"].get("provenance", {}))
    rows = []
    for key in blob["pairs"]:
        prov = next((p for p in sources if key in p.get("gates", {})), {})
        gate = prov.get("gates", {}).get(key, {})
        rows.append({"pair": tuple(key.split(",")), "config": prov.get("config"), "fitted": prov.get("fitted"),
                     "training_spectra": gate.get("training_spectra"), "gate_spectra": gate.get("gate_spectra"),
                     "gate_right": gate.get("gate_right"), "presence": bool(blob["pairs"][key].get("presence", False)),
                     "swap": bool(blob["pairs"][key].get("swap", False)),
                     "late_start": bool(blob["pairs"][key].get("late_start", False)),
                     "late_net": "late_state" in blob["pairs"][key],
                     "early_end": bool(blob["pairs"][key].get("early_end", False))})
    return rows


def resolve_reported(inputs: np.ndarray, reported: np.ndarray, resolvers: dict | None = None,
                     probabilities: np.ndarray | None = None):
    """The twin decisions for a batch: ``inputs`` the network inputs (n, 3072), ``reported`` (n, 80)
    bool over ``ELEMENTS``. Where both twins of a pair with a resolver are reported and the window
    is measured (no zero channel), the disfavoured twin is dropped (one resolver pass per pair); a
    presence resolver (``net.presence``) drops only the second twin, where it says it is absent. A
    pair with ``net.late_net`` also decides where the window starts late (:func:`twin_windows` with
    ``late_start``), there with ``late_net``; a pair with ``net.early_end`` also where it ends early.
    With ``probabilities`` (n, 80), a swap pair (``net.swap``) is also resolved where only one twin
    is reported and the other's probability is >= :data:`SWAP_CANDIDATE`: the favoured one is reported.

    Returns ``(reported (n, 80) bool, a copy without the dropped twins (and with the swapped-in ones);
    [(row, TwinDecision)]`` in row order)."""
    import torch

    from eels_helpers.models.twin_resolver import twin_windows, window_coverage
    from eels_helpers.physics.elements import ELEMENTS

    resolvers = load_twin_resolvers() if resolvers is None else resolvers
    x = np.asarray(inputs).reshape(-1, np.shape(inputs)[-1])
    reported = np.asarray(reported, dtype=bool)
    if reported.shape != (len(x), len(ELEMENTS)):
        raise ValueError(f"reported must be (n, {len(ELEMENTS)}) for {len(x)} spectra, got {reported.shape}")
    P = None if probabilities is None else np.asarray(probabilities)
    if P is not None and P.shape != reported.shape:
        raise ValueError(f"probabilities must be (n, {len(ELEMENTS)}) like reported, got {P.shape}")
    out, found = reported.copy(), []
    for (a, b), (net, start) in resolvers.items():
        ia, ib = ELEMENTS.index(a), ELEMENTS.index(b)
        both, one = _pair_rows(reported, P, net, ia, ib)
        rows = np.flatnonzero(both | one)
        if rows.size == 0:
            continue
        late_net = getattr(net, "late_net", None)
        coverage = window_coverage(x[rows], start)
        w, ok = twin_windows(x[rows], start, late_start=getattr(net, "late_start", False) or late_net is not None,
                             early_end=getattr(net, "early_end", False), coverage=coverage)
        late = coverage[1][ok] if late_net is not None else np.zeros(int(ok.sum()), bool)
        rows, w = rows[ok], w[torch.from_numpy(ok)]
        if rows.size == 0:
            continue
        q = np.empty(len(rows))                                          # P(b) against a
        with torch.no_grad():
            for reader, mine in ((net, ~late), (late_net, late)):        # late windows: the late network
                if mine.any():
                    q[mine] = torch.sigmoid(reader(w[torch.from_numpy(mine)])).reshape(-1).double().numpy()
        for row, qb in zip(rows.tolist(), q.tolist()):
            if net.presence and qb > 0.5:                 # the second twin is there too: both stay
                continue
            kept, dropped = (b, a) if qb > 0.5 else (a, b)
            swapped = bool(one[row])
            if swapped and reported[row, ELEMENTS.index(kept)]:   # the resolver agrees with the threshold
                continue
            out[row, ELEMENTS.index(dropped)] = False
            if swapped:                                   # else kept is reported already (and may have been
                out[row, ELEMENTS.index(kept)] = True     # dropped by another pair's resolver: it stays so)
            found.append((row, TwinDecision((a, b), kept, dropped, max(qb, 1.0 - qb), bool(net.presence), swapped)))
    found.sort(key=lambda rd: rd[0])
    return out, found


def _pair_rows(reported: np.ndarray, P: np.ndarray | None, net, ia: int, ib: int):
    """(both, one): (n,) bool, the rows where both twins (columns ``ia``, ``ib``) are ``reported``,
    and, for a swap pair (``net.swap``, not a presence pair) with probabilities ``P``, the rows where
    only one is and the other's probability is >= :data:`SWAP_CANDIDATE`: the rows a resolver decides."""
    both = reported[:, ia] & reported[:, ib]
    one = np.zeros(len(reported), dtype=bool)
    if P is not None and getattr(net, "swap", False) and not net.presence:
        candidate = P >= SWAP_CANDIDATE
        one = ((reported[:, ia] & candidate[:, ib]) | (reported[:, ib] & candidate[:, ia])) & ~both
    return both, one


def resolve_twins(inputs: np.ndarray, reported, resolvers: dict | None = None,
                  probabilities: np.ndarray | None = None) -> tuple[TwinDecision, ...]:
    """The decisions for one spectrum: ``inputs`` its network input (3072,), ``reported`` its
    reported symbols, ``probabilities`` its (80,) (for the swap pairs); one :class:`TwinDecision` per
    pair with a resolver that dropped or swapped a twin (window measured: no zero channel)."""
    from eels_helpers.physics.elements import ELEMENTS

    mask = np.isin(np.array(ELEMENTS), list(reported))[None]
    P = None if probabilities is None else np.asarray(probabilities).reshape(1, -1)
    return tuple(d for _, d in resolve_reported(np.asarray(inputs).reshape(1, -1), mask, resolvers, P)[1])


def check_neighbourhood(size, name: str = "the neighbourhood") -> None:
    """ValueError unless ``size`` (pixels across a neighbourhood) is an odd integer >= 1."""
    if not (isinstance(size, (int, np.integer)) and size >= 1 and size % 2 == 1):
        raise ValueError(f"{name} must be an odd number of pixels >= 1; got {size!r}")


#: decided pixels per pass of :func:`resolve_probability_maps` (their neighbourhood means are float64)
ROWS_PER_PASS = 4096


def _inputs_at(inputs, rows: np.ndarray) -> np.ndarray:
    """The network inputs (m, 3072) of the flat pixel indices ``rows``: ``inputs`` holds every pixel's
    (n, 3072), or is a function that makes them for the given indices (a spectrum image mapped in
    blocks keeps none)."""
    if callable(inputs):
        return np.asarray(inputs(rows))
    return np.asarray(inputs).reshape(-1, np.shape(inputs)[-1])[rows]


def neighbourhood_mean(inputs, navigation_shape: tuple[int, ...], rows: np.ndarray,
                       size: int = 3) -> np.ndarray:
    """The mean network input over each pixel's ``size`` x ``size`` (a line scan: ``size``)
    neighbourhood in the navigation grid, clipped at the borders: ``inputs`` (n, 3072) the pixels
    in C order of ``navigation_shape`` (or a function making the inputs of given flat pixel
    indices, called once), ``rows`` (m,) flat pixel indices; returns (m, 3072).
    Averaging k pixels of one material divides the Poisson noise of the window by sqrt(k)."""
    nav = tuple(int(n) for n in navigation_shape)
    held = None if callable(inputs) else len(_inputs_at(inputs, slice(None)))
    if held is not None and int(np.prod(nav)) != held:
        raise ValueError(f"navigation_shape {nav} holds {int(np.prod(nav))} pixels, inputs {held}")
    check_neighbourhood(size)
    rows = np.asarray(rows, dtype=np.int64)
    coords = np.stack(np.unravel_index(rows, nav), axis=1)                  # (m, d)
    half = size // 2
    offsets = np.stack(np.meshgrid(*[np.arange(-half, half + 1)] * len(nav), indexing="ij"), -1).reshape(-1, len(nav))
    shifted = coords[None] + offsets[:, None]                               # (size^d, m, d)
    inside = np.all((shifted >= 0) & (shifted < np.array(nav)), axis=-1)    # (size^d, m)
    flat = np.ravel_multi_index(tuple(np.moveaxis(shifted, -1, 0)), nav, mode="clip")
    needed = np.unique(flat[inside])                                        # every pixel read, once
    x = _inputs_at(inputs, needed)
    total, count = np.zeros((rows.size, x.shape[1]), np.float64), inside.sum(axis=0)
    for at, ok in zip(flat, inside):                                         # size^d shifts, not channels
        total[ok] += x[np.searchsorted(needed, at[ok])]
    return (total / count[:, None]).astype(x.dtype, copy=False)


def resolve_probability_maps(inputs, probabilities: np.ndarray, threshold: float,
                             resolvers: dict | None = None, navigation_shape: tuple[int, ...] | None = None,
                             neighbourhood: int = 1):
    """Per spectrum (a spectrum image's pixels), the probabilities with the dropped twin's set to 0
    wherever both twins reach ``threshold``, and the two twins' probabilities exchanged where a swap
    pair's resolver reports the twin below the threshold (:func:`resolve_reported`): ``(probabilities
    (n, 80) copy, [(row, TwinDecision)])``. With ``navigation_shape`` and ``neighbourhood`` > 1 the
    resolvers read each such pixel's :func:`neighbourhood_mean` instead of the pixel alone.
    ``inputs``: the network inputs (n, 3072), or a function making those of given flat pixel
    indices (:func:`eels_helpers.inference.mapping.map_elements` keeps none): only the pixels a
    resolver decides (and their neighbourhoods) are read, :data:`ROWS_PER_PASS` at a time."""
    from eels_helpers.physics.elements import ELEMENTS

    P = np.asarray(probabilities)
    above = P >= threshold
    resolvers = load_twin_resolvers() if resolvers is None else resolvers
    decided = [np.logical_or(*_pair_rows(above, P, net, ELEMENTS.index(a), ELEMENTS.index(b)))
               for (a, b), (net, _) in resolvers.items()]
    rows = np.flatnonzero(np.any(decided, axis=0)) if decided else np.zeros(0, np.int64)
    in_neighbourhoods = navigation_shape is not None and neighbourhood > 1 and len(P) > 1
    reported, found = above.copy(), []
    for start in range(0, rows.size, ROWS_PER_PASS):
        part = rows[start : start + ROWS_PER_PASS]
        x = (neighbourhood_mean(inputs, navigation_shape, part, neighbourhood) if in_neighbourhoods
             else _inputs_at(inputs, part))
        reported[part], decisions = resolve_reported(x, above[part], resolvers, P[part])
        found += [(int(part[r]), d) for r, d in decisions]
    out = P.copy()
    out[above & ~reported] = 0.0
    for row, d in found:
        if d.swapped:
            k, j = ELEMENTS.index(d.kept), ELEMENTS.index(d.dropped)
            out[row, k], out[row, j] = P[row, j], P[row, k]
    return out, found
