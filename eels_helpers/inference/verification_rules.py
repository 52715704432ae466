"""Verified identification, the rules: which elements the network confuses (the candidates'
neighbours), the candidates of one spectrum, and the final decision that combines the network's
probability with the fit's evidence (:mod:`eels_helpers.inference.verification`), with the text
that explains it; :func:`verify_regions` verifies a spectrum image on its sum and on blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["NEIGHBOUR_GROUPS", "ONSET_NEIGHBOUR_EV", "neighbours_of", "candidates_from_probabilities", "DecisionRule",
           "default_rule", "decide", "evidence_numbers", "format_verification", "verify_regions", "MAX_BLOCKS"]

#: Elements the network commonly confuses (the paper's two typical mistakes: a neighbouring
#: lanthanide, or a plausible alternative such as Re beside W). A candidate brings the other
#: members of its groups into the fit; lanthanides La..Lu also bring their neighbours up to
#: two atomic numbers away (see :func:`neighbours_of`).
NEIGHBOUR_GROUPS: tuple[tuple[str, ...], ...] = (
    ("Ta", "W", "Re", "Os", "Ir", "Pt"),
    ("Cr", "Mn", "Fe"),
    ("Ba", "La", "Ce"),
)
_LANTHANIDES = ("La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm",
                "Yb", "Lu")

#: two elements whose major edges' onsets (eV) lie closer than this are onset neighbours: a
#: spectrum's chemical (+-5 eV, Table 1) and instrumental (+-10 eV, the open-world range) shifts
#: can put either edge where the other one is expected (N K 401 / Sc L3 402, C K 284 / K L3 294,
#: O K 532 / Sb M5 528, F K 685 / Xe M5 672 eV)
ONSET_NEIGHBOUR_EV = 15.0


@lru_cache(maxsize=1)
def _onset_neighbours() -> dict[str, tuple[str, ...]]:
    """{element: elements with a major-edge onset within ONSET_NEIGHBOUR_EV of one of its own}."""
    from eels_helpers.physics.elements import EDGE_FAMILIES

    el = np.array([f.element for f in EDGE_FAMILIES])
    on = np.array([f.onset_eV for f in EDGE_FAMILIES])
    close = (np.abs(on[:, None] - on[None, :]) < ONSET_NEIGHBOUR_EV) & (el[:, None] != el[None, :])
    out: dict[str, list[str]] = {}
    for i, j in zip(*np.nonzero(close)):
        out.setdefault(str(el[i]), []).append(str(el[j]))
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


def neighbours_of(element: str) -> tuple[str, ...]:
    """The elements the network commonly confuses with ``element`` (not itself).

    Members of its :data:`NEIGHBOUR_GROUPS`, for a lanthanide La..Lu the lanthanides up to two
    atomic numbers away, and the elements with a major edge within :data:`ONSET_NEIGHBOUR_EV` of
    one of its own (onset neighbours, e.g. Sc for N). ValueError for a symbol that is not one of
    the 80 ``ELEMENTS``.
    """
    from eels_helpers.physics.elements import element_index

    element_index(element)
    out: list[str] = []
    for group in NEIGHBOUR_GROUPS:
        if element in group:
            out += [e for e in group if e != element]
    if element in _LANTHANIDES:
        i = _LANTHANIDES.index(element)
        out += [e for e in _LANTHANIDES[max(i - 2, 0): i + 3] if e != element]
    out += _onset_neighbours().get(element, ())
    return tuple(dict.fromkeys(out))


def candidates_from_probabilities(probabilities, candidate_threshold: float = 0.05,
                                  neighbours: bool = True) -> dict[str, float]:
    """Candidate elements of one spectrum: those with network probability >=
    ``candidate_threshold``, plus (``neighbours=True``) their :func:`neighbours_of`.

    Parameters
    ----------
    probabilities : array_like, shape (80,)
        Sigmoid probabilities in the order of :data:`eels_helpers.physics.elements.ELEMENTS`.
    candidate_threshold : float, default 0.05
        Lowest probability that makes an element a candidate, in [0, 1].
    neighbours : bool, default True
        Add the commonly confused neighbours of each candidate.

    Returns
    -------
    dict
        ``{symbol: probability}``, by decreasing probability (neighbours after).

    Raises
    ------
    ValueError
        If ``probabilities`` does not have 80 values or ``candidate_threshold`` is not in [0, 1].
    """
    from eels_helpers.physics.elements import ELEMENTS

    p = np.asarray(probabilities, dtype=np.float64).ravel()
    if p.size != len(ELEMENTS):
        raise ValueError(f"probabilities must hold 80 values (Be..Bi), got {p.size}")
    if not 0.0 <= candidate_threshold <= 1.0:
        raise ValueError(f"candidate_threshold must be a probability in [0, 1], got {candidate_threshold}")
    order = np.argsort(-p, kind="stable")
    out = {ELEMENTS[i]: float(p[i]) for i in order if p[i] >= candidate_threshold}
    if neighbours:
        for el in list(out):
            for nb in neighbours_of(el):
                out.setdefault(nb, float(p[ELEMENTS.index(nb)]))
    return out


# ----------------------------------------------------------------------------- decision
@dataclass(frozen=True)
class DecisionRule:
    """The final decision from the network probability p and the fit's evidence.

    An element with an edge in the window is kept when
    ``z = a_p * logit(p) + a_s * min(significance, 30) + a_f * sqrt(fit_improvement) + a_0 >= 0``,
    its signal is at least ``min_significance`` times its uncertainty, and its atomic edge carries
    at least ``min_edge_fraction`` of its signal. A neighbour the
    network did not propose (p < candidate_threshold) is kept only when its significance is at
    least ``min_neighbour_significance`` and its fit improvement beats that of every proposed
    neighbour it competes with (the neighbours are resolved by which onset and shape fit
    better). An element without an edge in the window cannot be tested: the network's answer
    (p >= threshold) stands, with that reason.

    These hand-set coefficients apply when ``model`` is None. With ``model`` (a network's name,
    e.g. ``"default"``) the rule fitted for that network on simulated spectra is loaded from
    :data:`eels_helpers.inference.verification_model.RULES_FILE` (``logistic``): every
    candidate is kept when its combined probability q (network probability + evidence,
    :class:`~eels_helpers.inference.verification_model.LogisticRule`) reaches the rule's
    threshold (chosen on real validation spectra). A model without a fitted rule falls back on
    the hand-set coefficients with a logged warning that says how to fit one.
    """

    a_p: float = 0.5
    a_s: float = 0.0
    a_f: float = 1.0
    a_0: float = -5.0
    min_edge_fraction: float = 0.2
    candidate_threshold: float = 0.05
    min_neighbour_significance: float = 10.0
    min_significance: float = 3.0
    model: str | None = None
    logistic: Any = None

    def __post_init__(self):
        if self.logistic is None and self.model is not None:
            from eels_helpers.inference.verification_model import load_rule

            object.__setattr__(self, "logistic", load_rule(self.model))
        for name in ("a_p", "a_s", "a_f", "a_0"):
            if not math.isfinite(float(getattr(self, name))):
                raise ValueError(f"DecisionRule.{name} must be finite; got {getattr(self, name)!r}")
        if not 0.0 <= self.min_edge_fraction <= 1.0:
            raise ValueError(f"DecisionRule.min_edge_fraction must be in [0, 1]; got {self.min_edge_fraction!r}")
        if not 0.0 <= self.candidate_threshold <= 1.0:
            raise ValueError("DecisionRule.candidate_threshold must be a probability in [0, 1]; got "
                             f"{self.candidate_threshold!r}")

    def score(self, p: float, significance: float, fit_improvement: float) -> float:
        p = min(max(0.5 if p is None else float(p), 1e-6), 1 - 1e-6)
        s = significance if math.isfinite(significance) else 0.0
        fi = fit_improvement if math.isfinite(fit_improvement) else 0.0
        return (self.a_p * math.log(p / (1 - p)) + self.a_s * min(s, 30.0)
                + self.a_f * math.sqrt(max(fi, 0.0)) + self.a_0)


def decide(result, rule: DecisionRule | None = None, threshold: float = 0.5):
    """Set ``verified`` and ``reason`` of every candidate of ``result`` with ``rule``.

    Parameters
    ----------
    result : VerificationResult
        The evidence from :func:`verify` (changed in place and returned).
    rule : DecisionRule, optional
        Default ``DecisionRule()``.
    threshold : float, default 0.5
        The network's own detection threshold, probability in (0, 1): used for candidates that
        cannot be tested (no edge in the window).

    Returns
    -------
    VerificationResult
        ``result``, with ``Evidence.verified`` and ``Evidence.reason`` set.

    Raises
    ------
    ValueError
        If ``threshold`` is not in (0, 1).
    """
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be a probability in (0, 1), got {threshold}")
    rule = default_rule() if rule is None else rule
    result.rule = rule
    if rule.logistic is not None:
        return _decide_logistic(result, rule.logistic, threshold, rule.min_significance)
    for ev in result.evidence.values():
        p = ev.probability
        if ev.status != "fitted":
            net = p is not None and p >= threshold
            ev.verified = net
            ev.reason = (f"{_status_text(ev, result)}: cannot be "
                         f"tested; the network's call ({'kept' if net else 'not detected'}) stands")
            continue
        z = rule.score(p, ev.significance, ev.fit_improvement)
        numbers = evidence_numbers(ev, result)
        weak = not (math.isfinite(ev.significance) and ev.significance >= rule.min_significance)
        if z < 0 or weak:
            ev.verified = False
            ev.reason = ("no significant edge" if weak else "evidence too weak for its probability") \
                + f"; {numbers}"
        else:
            _decide_fitted(ev, result, rule, numbers)
    return result


def evidence_numbers(ev, result) -> str:
    """The fit's numbers for one fitted candidate, as the reasons quote them: signal +- uncertainty
    (counts), significance, fit improvement, best shift. An uncertainty above all the counts in the
    fit window means the window cannot determine the signal (the candidate's terms are degenerate
    with others of the fit, e.g. an edge whose near-onset freedom overlaps a neighbour's): said so
    in words rather than as a number no measurement could have."""
    tail = f"fit improvement {ev.fit_improvement:.1f}, shift {ev.shift_eV:+g} eV"
    total = float(np.sum(np.abs(result.data))) if result is not None and np.size(result.data) else math.inf
    if not (math.isfinite(ev.uncertainty_counts) and ev.uncertainty_counts <= total):
        return (f"signal not determined by this window (uncertainty {ev.uncertainty_counts:.2g} counts, more than "
                f"the {total:.3g} counts of the fit window: its terms are degenerate with others of the fit), {tail}")
    return (f"signal {ev.signal_counts:.3g} +- {ev.uncertainty_counts:.2g} counts, {ev.significance:.1f} sigma, "
            + tail)


_DEFAULT_RULE: list = []


def default_rule() -> DecisionRule:
    """The rule used when none is given: the one fitted for the shipped ``default`` network
    (loaded once), else the hand-set coefficients."""
    if not _DEFAULT_RULE:
        _DEFAULT_RULE.append(DecisionRule(model="default"))
    return _DEFAULT_RULE[0]


def _decide_logistic(result, logistic, threshold: float, min_significance: float):
    """Keep each candidate whose combined probability q reaches ``logistic.threshold``: exactly the
    decision that the grouped cross-validation on real spectra measures
    (:func:`eels_helpers.evaluation.verified.verified_probabilities`). Neighbours that fit better are
    named in the reason (as the ``neighbour_better`` feature, they enter q); a kept candidate whose own
    edge stays below ``min_significance`` sigma is flagged as weak in its reason, not rejected (that
    hand-set veto, sessions 11-15, was never part of what the cross-validation measured, and it
    rejected true elements in favour of neighbours that were themselves rejected, e.g. B K in BN
    for Cl/Zr/Lu)."""
    from eels_helpers.inference.verification_model import candidate_features

    elements, X = candidate_features(result)
    q = logistic.probability(X) if elements else np.zeros(0)
    t = float(logistic.threshold)
    for el, qi in zip(elements, q):
        ev = result.evidence[el]
        ev.combined_probability = float(qi)
        ev.verified = bool(qi >= t)
        p = ev.probability
        net = p is not None and p >= threshold
        head = f"combined probability {qi:.2f} {'>=' if ev.verified else '<'} {t:.2f}"
        if ev.status != "fitted":
            ev.reason = (f"{head}; {_status_text(ev, result)}: "
                         "cannot be tested, from the network's probability alone")
            continue
        numbers = evidence_numbers(ev, result)
        rivals = [nb for nb in ev.neighbours if nb in result.evidence and result.evidence[nb].status == "fitted"
                  and result.evidence[nb].fit_improvement > ev.fit_improvement]
        weak = not (math.isfinite(ev.significance) and ev.significance >= min_significance)
        if ev.verified and weak:
            head += f" (its own edge only {ev.significance:.1f} sigma, < {min_significance:g}: weak evidence)"
        what = ("rescued (the network missed it)" if ev.verified and not net else
                ("kept" if weak else "confirmed by the fit") if ev.verified else
                "rejected (the network reported it)" if net else "not supported")
        why = f"; {', '.join(rivals)} fit(s) better" if rivals else ""
        ev.reason = f"{what}: {head}{why}; {numbers}"
    return result


def _decide_fitted(ev, result, rule, numbers: str) -> None:
    """The decision for a candidate whose evidence passed the score: a neighbour the network did
    not propose must beat its proposed rivals; every kept element needs an edge step."""
    rescued = ""
    if ev.probability is None or ev.probability < rule.candidate_threshold:
        rivals = {nb: result.evidence[nb] for nb in ev.neighbours if nb in result.evidence
                  and (result.evidence[nb].probability or 0.0) >= rule.candidate_threshold
                  and result.evidence[nb].status == "fitted"}
        better = [nb for nb, r in rivals.items() if r.fit_improvement >= ev.fit_improvement]
        if not (math.isfinite(ev.significance) and ev.significance >= rule.min_neighbour_significance):
            ev.verified, ev.reason = False, (f"neighbour not proposed by the network, evidence below "
                                             f"{rule.min_neighbour_significance:g} sigma; {numbers}")
            return
        if better:
            ev.verified, ev.reason = False, (f"neighbour not proposed by the network; "
                                             f"{', '.join(better)} fit(s) better; {numbers}")
            return
        rescued = f"rescued: its onset and shape fit better than {', '.join(rivals) or 'the others'}; "
    if ev.edge_fraction < rule.min_edge_fraction:
        ev.verified, ev.reason = False, (f"only near-onset structure, no edge step (edge "
                                         f"{100 * ev.edge_fraction:.0f} % of its signal); {numbers}")
    else:
        ev.verified, ev.reason = True, (rescued + numbers if rescued else f"confirmed by the fit; {numbers}")


def _status_text(ev, result) -> str:
    """Why a candidate was not fitted, in words: its status, for "no edge in window" the range where
    a fitted edge's onset must lie (the fitted window, which starts above a file's low-loss, less a
    margin at its end), and the edges it has outside."""
    status, onsets = ev.status, result.onset_window_eV
    if status == "no edge in window" and onsets is not None:
        status = f"no edge onset in {onsets[0]:.0f}-{onsets[1]:.0f} eV, where the fit tests them"
    return f"{status} ({', '.join(ev.edges_outside) or 'no edge family'})"


def format_verification(result, indent: str = "  ", min_probability: float | None = None) -> str:
    """Lines for the text output: one per candidate, kept first, with the evidence and reason.
    ``min_probability``: rejected candidates below this network probability (the neighbours tested
    beside the network's candidates) are counted in one line instead of listed."""
    lines = []
    order = sorted(result.evidence.values(), key=lambda e: (not e.verified, e.element not in
                                                            result.verified, -(e.probability or 0)))
    if result.message:
        lines.append(f"{indent}verification: {result.message}")
    shown, hidden = order, []
    if min_probability is not None:
        low = [not ev.verified and (ev.probability or 0.0) < min_probability for ev in order]
        shown = [ev for ev, h in zip(order, low) if not h]
        hidden = [ev for ev, h in zip(order, low) if h]
    for ev in shown:
        tag = "kept    " if ev.verified else "rejected"
        p = "  -  " if ev.probability is None else f"{ev.probability:.2f}"
        lines.append(f"{indent}{tag} {ev.element:<2} p={p}  {ev.reason}")
    if hidden:
        lines.append(f"{indent}rejected {len(hidden)} more (neighbours tested, p < {min_probability:g}): "
                     f"{', '.join(ev.element for ev in hidden)}")
    m = result.microscope
    lines.append(f"{indent}fit {result.window_eV[0]:.0f}-{result.window_eV[1]:.0f} eV, chi2/dof "
                 f"{result.chi2_reduced:.2f}, E0 {m['E0_keV']:g} keV, alpha {m['alpha_mrad']:g} mrad, "
                 f"beta {m['beta_mrad']:g} mrad ({', '.join(f'{k} {v}' for k, v in m['source'].items())}), "
                 f"{1000 * result.seconds:.0f} ms")
    return "\n".join(lines)


#: network probability from which a candidate is verified (beside its commonly confused neighbours)
CANDIDATE_THRESHOLD = 0.05

#: :func:`verify_regions`: at most this many blocks per navigation axis
MAX_BLOCKS = 32


def verify_regions(spectrum, probabilities, threshold: float, config: Any = None, *, blocks: int = 4,
                   candidate_threshold: float = CANDIDATE_THRESHOLD, rule: DecisionRule | None = None) -> dict:
    """Verify a spectrum image on its summed spectrum and on a coarse grid of summed blocks (not
    every pixel): each block's candidates come from its mean network probabilities.

    Parameters
    ----------
    spectrum : eels_helpers.spectrum.Spectrum
        A spectrum image, data ``(*nav, C)`` in counts (1 or 2 navigation axes).
    probabilities : array_like, shape (*nav, 80)
        The network's per-pixel probabilities (order of ``elements.ELEMENTS``).
    threshold : float
        The network's detection threshold, probability in (0, 1).
    config : VerifyConfig, optional
        Settings of :func:`eels_helpers.inference.verification.verify`.
    blocks : int, default 4
        Blocks per navigation axis (1..:data:`MAX_BLOCKS`); a block holds at least one pixel.
    candidate_threshold : float, default 0.05
        Lowest mean probability of a candidate, in [0, 1].
    rule : DecisionRule, optional
        The decision rule; default ``DecisionRule()``.

    Returns
    -------
    dict
        ``summed``: the VerificationResult of the whole image; ``regions``: a list of
        ``(slices, VerificationResult or error text)`` per block; ``verified``: the elements
        verified in the sum or in at least one block, by decreasing significance in the sum.

    Raises
    ------
    ValueError
        If the spectrum is not a spectrum image, the probabilities do not match its
        navigation shape, ``blocks`` is out of range, or no element reaches the candidate
        threshold in the summed image.
    """
    from itertools import product

    from eels_helpers.inference.verification import verify
    from eels_helpers.spectrum import Spectrum

    nav = spectrum.navigation_shape
    if not nav or len(nav) > 2:
        raise ValueError(f"verify_regions needs a spectrum image with 1 or 2 navigation axes; got {nav}")
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.shape != nav + (80,):
        raise ValueError(f"probabilities shape {probs.shape} does not match the image's {nav + (80,)}")
    if int(blocks) != blocks or not 1 <= blocks <= MAX_BLOCKS:
        raise ValueError(f"blocks must be an integer 1..{MAX_BLOCKS} per navigation axis; got {blocks!r}")
    mean = probs.reshape(-1, 80).mean(axis=0)
    cand = candidates_from_probabilities(mean, candidate_threshold)
    if not cand:
        raise ValueError(f"no element reaches the candidate threshold {candidate_threshold:g} in the image")
    summed = verify(spectrum.summed(), cand, config, rule=rule, threshold=threshold)
    edges = [np.linspace(0, n, min(blocks, n) + 1).astype(int) for n in nav]
    regions = []
    for idx in product(*[range(len(e) - 1) for e in edges]):
        sl = tuple(slice(int(e[i]), int(e[i + 1])) for e, i in zip(edges, idx))
        data = spectrum.data[sl]
        sub = Spectrum(data.reshape(-1, data.shape[-1]).sum(axis=0, dtype=np.float64), spectrum.energy_eV,
                       dict(spectrum.metadata), spectrum.source)
        c = candidates_from_probabilities(probs[sl].reshape(-1, 80).mean(axis=0), candidate_threshold)
        try:
            regions.append((sl, verify(sub, c, config, rule=rule, threshold=threshold) if c else
                            "no candidate above the threshold"))
        except ValueError as err:
            regions.append((sl, str(err)))
    verified = list(summed.verified)
    for _, r in regions:
        if not isinstance(r, str):
            verified += [e for e in r.verified if e not in verified]
    return {"summed": summed, "regions": regions, "verified": tuple(verified)}
