"""Elements with no stable isotope (Tc, Pm) are not reported unless asked for.

Of the paper's 80 output elements (Be..Bi), technetium (Z = 43) and promethium (Z = 61) have no
stable isotope: the longest-lived are Tc-97 (half-life 4.2 million years) and Pm-145 (17.7 years)
(NUBASE2020, Kondev et al., Chin. Phys. C 45, 030001 (2021)). Neither occurs in a specimen outside
a radiochemistry laboratory. The simulator draws them as often as the Materials Project lists their
compounds, so the networks learn a prior under which they are as common as their neighbours. Under
the prior of a microscopist's specimens, P(Tc) = P(Pm) = 0 whatever the spectrum shows (Bayes' rule
with a zero prior), so the decision drops them (session 29, experiment R29). This is a prior about
specimens, not a measurement of the network: a Pm above the threshold is evidence that a
neighbouring lanthanide is there (its N4,5 edge sits between Nd's and Sm's), which is why
:func:`withheld_line` names the neighbours' probabilities instead of hiding it.

``allow_radioactive=True`` (``--allow-radioactive``) reports them as the network says, e.g. for a
technetium radiopharmaceutical.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NO_STABLE_ISOTOPE", "unstable_columns", "withhold_unstable", "split_withheld", "withheld_line"]

#: symbol -> its longest-lived isotope (NUBASE2020)
NO_STABLE_ISOTOPE = {"Tc": "Tc-97, half-life 4.2 million years", "Pm": "Pm-145, half-life 17.7 years"}
#: neighbours named beside a withheld element: up to this many atomic numbers away
NEIGHBOUR_Z = 2


def unstable_columns() -> np.ndarray:
    """Indices of :data:`NO_STABLE_ISOTOPE` in ``elements.ELEMENTS`` (int64, ascending)."""
    from eels_helpers.physics.elements import ELEMENTS

    return np.array(sorted(ELEMENTS.index(s) for s in NO_STABLE_ISOTOPE), dtype=np.int64)


def withhold_unstable(values: np.ndarray) -> np.ndarray:
    """A copy of ``values`` (..., 80) (probabilities, or reported bool) with the columns of the
    elements without a stable isotope set to 0 (False): what the decision reports them at."""
    from eels_helpers.physics.elements import ELEMENTS

    out = np.array(values, copy=True)
    if out.shape[-1:] != (len(ELEMENTS),):
        raise ValueError(f"values must have {len(ELEMENTS)} element columns in the last axis, got shape {out.shape}")
    out[..., unstable_columns()] = 0
    return out


def split_withheld(detected, scores) -> tuple[tuple[str, ...], dict[str, float]]:
    """``(detected without the elements that have no stable isotope, {withheld symbol: its score})``:
    ``detected`` the symbols a threshold reports, ``scores`` (80,) their probabilities (a spectrum)
    or pixel fractions (a spectrum image) in the order of ``elements.ELEMENTS``."""
    from eels_helpers.physics.elements import ELEMENTS

    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    kept = tuple(el for el in detected if el not in NO_STABLE_ISOTOPE)
    return kept, {el: float(s[ELEMENTS.index(el)]) for el in detected if el in NO_STABLE_ISOTOPE}


def withheld_line(symbol: str, score: float, probabilities: np.ndarray, *, what: str = "p") -> str:
    """The line that says why ``symbol`` (with ``score``, ``what``: "p" or "pixels") is not
    reported, with its stable neighbours' probabilities (``probabilities`` (80,); for a spectrum
    image the mean over its pixels) within :data:`NEIGHBOUR_Z` in atomic number."""
    from eels_helpers.physics.elements import ELEMENTS

    if symbol not in NO_STABLE_ISOTOPE:
        raise ValueError(f"{symbol!r} has a stable isotope; only {', '.join(NO_STABLE_ISOTOPE)} are withheld")
    P = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    i = ELEMENTS.index(symbol)
    near = [j for j in range(max(0, i - NEIGHBOUR_Z), min(len(ELEMENTS), i + NEIGHBOUR_Z + 1))
            if j != i and ELEMENTS[j] not in NO_STABLE_ISOTOPE]
    near.sort(key=lambda j: -P[j])
    neighbours = ", ".join(f"{ELEMENTS[j]} {P[j]:.2f}" for j in near)
    shown = f"{score:.0%} of the pixels" if what == "pixels" else f"p {score:.2f}"
    return (f"{symbol} ({shown}) not reported: it has no stable isotope ({NO_STABLE_ISOTOPE[symbol]}); "
            f"its neighbours: {neighbours} (--allow-radioactive reports it; "
            "eels_helpers.inference.unstable_elements)")
