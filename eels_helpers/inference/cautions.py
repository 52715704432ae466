"""Cautions for reported elements that the network commonly confuses with each other.

When two reported elements are neighbours in the sense of
:func:`~eels_helpers.inference.verification_rules.neighbours_of` (an onset twin such as N K
401 eV / Sc L3 402 eV, lanthanides up to two atomic numbers apart, or a group such as W/Re/Ta), the
spectrum may hold both, but one of them is often a confusion: their major edges lie close
together and a chemical or calibration shift moves one onto the other. A :class:`Caution` says so
with the closest pair of their major edges, the two scores and how often the two elements share a
compound in the Materials Project compositions the simulator draws its specimens from
(:func:`co_occurrence`, an independent prior). It never removes an element: the decision stays the
network's (or the verification's); the caution tells the user which names to check by eye.

Each caution also names the edges that would tell the two apart (:func:`telling_edges`): the edges
only one of them has, in the measured window, or else the nearest outside it. Where the window
holds none, only the shapes at the shared onsets can decide, and that is where the networks fail
most: on simulated BaTiO3 spectra (300 kV, 20 / 50 mrad) the `default` network reports a false Co in
15 % of the spectra whose windows cover Ba M4,5, but in 53 % of those whose window is 400-1000 eV
like chapter 06's superlattice, which ends before Ba M3 at 1062 eV (docs/research-log.md, session 35, D35).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np

__all__ = ["Caution", "co_occurrence", "neighbour_cautions", "prediction_cautions", "measured_range",
           "format_cautions", "telling_edges"]

#: at most this many telling edges are named per element (:func:`telling_edges`)
TELLING_PER_ELEMENT = 2


@dataclass(frozen=True)
class Caution:
    """Two reported neighbours (the higher-scoring first).

    scores: the network's probabilities (a single spectrum) or pixel fractions (a spectrum image),
        named by ``score_name``. edges: the closest pair of their major edges, e.g.
        ``("N K 401 eV", "Sc L3 402 eV")``, and ``gap_eV`` the distance of their onsets.
    co_occurrence: of the Materials Project compositions that hold the rarer of the two, the
        fraction that also hold the other (:func:`co_occurrence`).
    telling: :func:`telling_edges` ((name, onset eV, inside the window), ...) for ``window_eV``
        (the measured range; None: not known).
    outside_window: those of ``edges`` that lie outside ``window_eV``, where the close pair that makes
        the two neighbours is not all in the window (and no close pair, nor one of the same subshell, is).
    """

    elements: tuple[str, str]
    scores: tuple[float, float]
    score_name: str
    edges: tuple[str, str]
    gap_eV: float
    co_occurrence: float
    telling: tuple[tuple[str, float, bool], ...] = ()
    window_eV: tuple[float, float] | None = None
    outside_window: tuple[str, ...] = ()

    def message(self) -> str:
        """One sentence. Onset twins (closest edges within ``ONSET_NEIGHBOUR_EV``): which edge the
        spectrum shows, and the edges that would tell them apart; a group pair whose edges lie further
        apart (Cr/Mn/Fe, W/Re/Ta...): edges of the same kind at different onsets, each to be checked."""
        from eels_helpers.inference.verification_rules import ONSET_NEIGHBOUR_EV

        a, b = self.elements
        share = 100 * self.co_occurrence
        rarer = _rarer(a, b)
        prior = (f"{share:.1f} % of the Materials Project compositions with {rarer} also hold "
                 f"{b if rarer == a else a}")
        scores = f"({self.score_name} {a} {self.scores[0]:.2f}, {b} {self.scores[1]:.2f})"
        pair = f"{self.edges[0]} and {self.edges[1]}, {self.gap_eV:.0f} eV apart"
        if self.gap_eV > ONSET_NEIGHBOUR_EV:
            kind = "edges of the same kind" if _subshell(self.edges[0]) == _subshell(self.edges[1]) else \
                "their closest edges"
            return (f"{a} and {b} are commonly confused ({kind}, {pair}); {prior}: check that the spectrum shows "
                    f"an edge at each of these onsets {scores}")
        if self.outside_window:
            lo, hi = self.window_eV
            where = " and ".join(e.rsplit(" ", 2)[0] for e in self.outside_window)
            return (f"{a} and {b} are commonly confused ({pair}; {where} outside the measured {lo:.0f}-{hi:.0f} "
                    f"eV); {prior}: check each one's edges in the window {scores}; {self.telling_text()}")
        return (f"{a} and {b} are commonly confused ({pair}); {prior}: check which edge the spectrum shows "
                f"{scores}; {self.telling_text()}")

    def telling_text(self) -> str:
        """Which edges would tell the two apart, in words."""
        named = lambda edges: ", ".join(f"{name} {on:.0f} eV" for name, on, _ in edges)  # noqa: E731
        inside = [e for e in self.telling if e[2]]
        if not self.telling:
            return "no other edge of either tells them apart: only the shapes at these onsets can"
        if self.window_eV is None:
            return f"edges only one of them has: {named(self.telling)}"
        if inside:
            return f"edges only one of them has, in the measured window: {named(inside)}"
        lo, hi = self.window_eV
        return (f"no edge that only one of them has lies in the measured {lo:.0f}-{hi:.0f} eV: only the shapes "
                f"at these onsets tell them apart here (edges only one of them has, outside this window: "
                f"{named(self.telling)})")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["elements"], d["scores"], d["edges"] = list(self.elements), list(self.scores), list(self.edges)
        d["outside_window"] = list(self.outside_window)
        d["telling"] = [{"edge": name, "onset_eV": round(on, 1), "in_window": inside}
                        for name, on, inside in self.telling]
        d["window_eV"] = None if self.window_eV is None else [round(v, 1) for v in self.window_eV]
        d["gap_eV"], d["co_occurrence"] = round(self.gap_eV, 2), round(self.co_occurrence, 4)
        d["message"] = self.message()
        return d


@lru_cache(maxsize=1)
def _presence() -> np.ndarray:
    """(n_formulas, 80) bool: which of the 80 elements each composition holds."""
    from eels_helpers.simulation.specimens import load_compositions

    return load_compositions().fractions > 0


@lru_cache(maxsize=1)
def _counts() -> np.ndarray:
    """(80,) int: the number of compositions that hold each element."""
    return _presence().sum(axis=0)


def _rarer(a: str, b: str) -> str:
    from eels_helpers.physics.elements import element_index

    return a if _counts()[element_index(a)] <= _counts()[element_index(b)] else b


def co_occurrence(a: str, b: str) -> float:
    """P(both | the rarer): of the Materials Project compositions (the simulator's specimens,
    :func:`eels_helpers.simulation.specimens.load_compositions`) that hold the rarer of ``a`` and
    ``b``, the fraction that hold the other too (0 where neither occurs)."""
    from eels_helpers.physics.elements import element_index

    ia, ib = element_index(a), element_index(b)
    n = int(min(_counts()[ia], _counts()[ib]))
    return float((_presence()[:, ia] & _presence()[:, ib]).sum() / n) if n else 0.0


def measured_range(spectrum, offset_eV: float = 0.0) -> tuple[float, float]:
    """(first, last) energy in eV of a spectrum's axis after the calibration offset (E - offset)."""
    energy = np.asarray(spectrum.energy_eV, dtype=np.float64) - offset_eV
    return float(energy[0]), float(energy[-1])


def _major_edges(element: str, window_eV: tuple[float, float] | None) -> list[tuple[str, float]]:
    """(name, onset eV) of the element's major edges, those in ``window_eV`` when it holds any."""
    from eels_helpers.physics.elements import families_of

    edges = [(f"{element} {s if s != 'K1' else 'K'}", float(on)) for fam in families_of(element)
             for s, on in zip(fam.subshells, fam.onsets_eV) if s in fam.major]
    if window_eV is not None:
        inside = [e for e in edges if window_eV[0] <= e[1] <= window_eV[1]]
        edges = inside or edges
    return edges


def _subshell(edge: str) -> str:
    """The subshell of an edge as :func:`_closest_edges` names it: "L3" of "Cr L3 575 eV" (or "Cr L3")."""
    return edge.split()[1]


def _closest_edges(a: str, b: str, window_eV) -> tuple[tuple[str, str], float, tuple[str, ...]]:
    """The pair of the two elements' major edges that makes them neighbours, its onsets' distance (eV)
    and those of the pair that lie outside ``window_eV``. In order: the closest pair of their edges in the window
    (those of each where it holds any) if within ``ONSET_NEIGHBOUR_EV``; else the closest pair there of
    the same subshell (Cr L3 / Fe L3); else the closest pair of all their edges if within
    ``ONSET_NEIGHBOUR_EV`` (onset twins outside the window: Be K / La N5 in a window from 341 eV);
    else the closest pair in the window."""
    from eels_helpers.inference.verification_rules import ONSET_NEIGHBOUR_EV

    def closest(ea, eb, same_kind=False):      # ((name, onset), (name, onset)), their distance
        gaps = np.abs(np.array([x[1] for x in ea])[:, None] - np.array([y[1] for y in eb])[None, :])
        if same_kind:
            gaps = np.where([[_subshell(x[0]) == _subshell(y[0]) for y in eb] for x in ea], gaps, np.inf)
        i, j = np.unravel_index(np.argmin(gaps), gaps.shape)
        return (ea[i], eb[j]), float(gaps[i, j])

    def named(pair):
        return tuple(f"{name} {onset:.0f} eV" for name, onset in pair)

    ea, eb = _major_edges(a, window_eV), _major_edges(b, window_eV)
    pair, gap = closest(ea, eb)
    if gap <= ONSET_NEIGHBOUR_EV:
        return named(pair), gap, ()
    same, same_gap = closest(ea, eb, same_kind=True)
    if np.isfinite(same_gap):
        return named(same), same_gap, ()
    if window_eV is not None:
        twins, twin_gap = closest(_major_edges(a, None), _major_edges(b, None))
        if twin_gap <= ONSET_NEIGHBOUR_EV:
            lo, hi = window_eV
            return named(twins), twin_gap, named(e for e in twins if not lo <= e[1] <= hi)
    return named(pair), gap, ()


def _all_edges(element: str, strong: bool) -> list[tuple[str, float]]:
    """(name, onset eV) of every edge of ``element`` in the edge tables: its families' subshells
    (``strong``: without the weak s-shells L1, M1, N1, O1) and its non-family edges."""
    from eels_helpers.physics.elements import OTHER_EDGES, families_of

    edges = [(f"{element} {'K' if s == 'K1' else s}", float(on)) for fam in families_of(element)
             for s, on in zip(fam.subshells, fam.onsets_eV) if not (strong and s[-1] == "1" and s != "K1")]
    return edges + [(f"{element} {e.name.split()[-1]}", float(e.onset_eV)) for e in OTHER_EDGES.get(element, ())]


def telling_edges(a: str, b: str, window_eV: tuple[float, float] | None = None
                  ) -> tuple[tuple[str, float, bool], ...]:
    """The edges that would tell ``a`` from ``b``: those only one of them has (a family subshell
    other than a weak s-shell, or a non-family edge, with no edge of the other, s-shells
    included, within :data:`~eels_helpers.inference.verification_rules.ONSET_NEIGHBOUR_EV`).
    Where ``window_eV`` holds any of them, those inside it (lowest onsets first); else the nearest
    outside it (without a window: the lowest); at most :data:`TELLING_PER_ELEMENT` per element.
    Returns ((name, onset eV, inside the window), ...), ``a``'s first."""
    from eels_helpers.inference.verification_rules import ONSET_NEIGHBOUR_EV

    lo, hi = window_eV if window_eV is not None else (np.inf, np.inf)
    inside, outside = [], []
    for el, other in ((a, b), (b, a)):
        theirs = np.array([on for _, on in _all_edges(other, strong=False)] or [np.inf])
        own = sorted((on, name) for name, on in _all_edges(el, strong=True)
                     if np.min(np.abs(theirs - on)) > ONSET_NEIGHBOUR_EV)
        inside += [(name, on, True) for on, name in own if lo <= on <= hi][:TELLING_PER_ELEMENT]
        nearest = sorted(own, key=lambda e: 0.0 if window_eV is None else max(lo - e[0], e[0] - hi))
        outside += [(name, on, False) for on, name in nearest if not lo <= on <= hi][:TELLING_PER_ELEMENT]
    return tuple(inside or outside)


def neighbour_cautions(elements: Sequence[str], scores: Mapping[str, float], score_name: str = "p",
                       window_eV: tuple[float, float] | None = None) -> list[Caution]:
    """A :class:`Caution` for every pair of ``elements`` that are neighbours
    (:func:`~eels_helpers.inference.verification_rules.neighbours_of`), ordered by the higher
    score; ``scores`` maps each element to its probability or pixel fraction; ``window_eV`` (the
    measured energy range) picks the edges named, the in-window ones where there are any."""
    from eels_helpers.inference.verification_rules import neighbours_of

    missing = [e for e in elements if e not in scores]
    if missing:
        raise ValueError(f"neighbour_cautions: no score for {missing}")
    els = sorted(dict.fromkeys(elements), key=lambda e: -float(scores[e]))
    window = None if window_eV is None else (float(window_eV[0]), float(window_eV[1]))
    out = []
    for i, a in enumerate(els):
        for b in els[i + 1:]:
            if b in neighbours_of(a):
                edges, gap, outside = _closest_edges(a, b, window_eV)
                out.append(Caution((a, b), (float(scores[a]), float(scores[b])), score_name, edges, gap,
                                   co_occurrence(a, b), telling_edges(a, b, window), window, outside))
    return out


def prediction_cautions(pred, elements: Sequence[str] | None = None) -> list[Caution]:
    """:func:`neighbour_cautions` for a :class:`~eels_helpers.inference.predict.Prediction`: its
    detected elements (or ``elements``, e.g. the verified ones) scored by their probability, or by
    their pixel fraction for a spectrum image, with the edges inside the measured window."""
    from eels_helpers.physics.elements import ELEMENTS

    els = pred.detected if elements is None else tuple(elements)
    if pred.is_spectrum_image:
        scores, name = dict(pred.pixel_fraction), "pixel fraction"
    else:
        probs = np.asarray(pred.probabilities, dtype=np.float64).reshape(-1)
        scores, name = {s: float(probs[i]) for i, s in enumerate(ELEMENTS)}, "p"
    window = measured_range(pred.spectrum, pred.offset_eV) if pred.spectrum is not None else None
    return neighbour_cautions(els, scores, name, window)


def format_cautions(cautions: Sequence[Caution], indent: str = "  ") -> str:
    """One ``caution:`` line per caution, joined by newlines (empty string for none)."""
    return "\n".join(f"{indent}caution: {c.message()}" for c in cautions)
