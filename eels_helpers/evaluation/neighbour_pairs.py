"""Reported neighbour pairs on labelled spectra: how often both, one or neither is labelled.

``predict`` and ``map`` give a caution when they report two elements the network commonly confuses
(:mod:`eels_helpers.inference.cautions`). This module measures on labelled spectra what such a
caution means: every pair of reported elements that are neighbours
(:func:`~eels_helpers.inference.verification_rules.neighbours_of`), carbon left out as in every
experimental metric, with whether each is labelled and whether the more probable one is. It is a
description of what a model does on a labelled set, never a rule fitted to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["NeighbourPairs", "reported_neighbour_pairs"]


@dataclass(frozen=True)
class NeighbourPairs:
    """``pairs``: a DataFrame, one row per reported neighbour pair of a spectrum (columns ``file``,
    ``first``, ``second`` (by decreasing probability), ``p_first``, ``p_second``,
    ``first_labelled``, ``second_labelled``)."""

    pairs: Any

    @property
    def both(self) -> int:
        """Pairs whose two elements are both labelled."""
        return int((self.pairs["first_labelled"] & self.pairs["second_labelled"]).sum())

    @property
    def one(self) -> int:
        """Pairs with exactly one labelled element."""
        return int((self.pairs["first_labelled"] ^ self.pairs["second_labelled"]).sum())

    @property
    def neither(self) -> int:
        """Pairs with no labelled element."""
        return int((~self.pairs["first_labelled"] & ~self.pairs["second_labelled"]).sum())

    @property
    def more_probable_labelled(self) -> int:
        """Of the pairs with exactly one labelled element, those where it is the more probable."""
        p = self.pairs
        return int((p["first_labelled"] & ~p["second_labelled"]).sum())

    def to_dict(self) -> dict:
        return {"pairs": int(len(self.pairs)), "both_labelled": self.both, "one_labelled": self.one,
                "neither_labelled": self.neither, "more_probable_is_the_labelled_one": self.more_probable_labelled,
                "rows": [{k: (bool(v) if isinstance(v, (bool, np.bool_)) else v) for k, v in r.items()}
                         for r in self.pairs.to_dict("records")]}

    def summary(self) -> str:
        """One sentence with the counts."""
        n = len(self.pairs)
        if not n:
            return "no pair of commonly confused elements reported"
        return (f"{n} reported pairs of commonly confused elements (the pairs predict cautions about): "
                f"both labelled {self.both}, one {self.one}, neither {self.neither}; where one is, it is "
                f"the more probable of the two in {self.more_probable_labelled} of {self.one}")


def reported_neighbour_pairs(files: Sequence[str], labels: Sequence[Sequence[str]], probabilities: np.ndarray,
                             threshold: float) -> NeighbourPairs:
    """Every pair of neighbours reported (p >= ``threshold``) in each spectrum, carbon left out.

    files, labels: per spectrum, its name and labelled symbols; probabilities: (n, 80), order
    :data:`~eels_helpers.physics.elements.ELEMENTS`.
    """
    import pandas as pd

    from eels_helpers.inference.verification_rules import neighbours_of
    from eels_helpers.physics.elements import ELEMENTS

    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != (len(files), len(ELEMENTS)) or len(labels) != len(files):
        raise ValueError(f"probabilities must have shape ({len(files)}, {len(ELEMENTS)}) and labels one entry per "
                         f"file; got {probs.shape} and {len(labels)} labels")
    rows = []
    for name, truth, p in zip(files, labels, probs):
        order = [i for i in np.argsort(-p, kind="stable") if p[i] >= threshold and ELEMENTS[i] != "C"]
        for k, i in enumerate(order):
            for j in order[k + 1:]:
                if ELEMENTS[j] in neighbours_of(ELEMENTS[i]):
                    rows.append({"file": str(name), "first": ELEMENTS[i], "second": ELEMENTS[j],
                                 "p_first": round(float(p[i]), 4), "p_second": round(float(p[j]), 4),
                                 "first_labelled": ELEMENTS[i] in truth, "second_labelled": ELEMENTS[j] in truth})
    columns = ["file", "first", "second", "p_first", "p_second", "first_labelled", "second_labelled"]
    return NeighbourPairs(pd.DataFrame(rows, columns=columns).astype(
        {"first_labelled": bool, "second_labelled": bool}))
