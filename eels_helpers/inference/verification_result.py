"""What a verification returns: the evidence per candidate element (:class:`Evidence`) and the
fit of one spectrum with its decision (:class:`VerificationResult`), both JSON-ready
(:func:`eels_helpers.inference.verification.verify` computes them)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["Evidence", "VerificationResult"]


@dataclass
class Evidence:
    """What the fit says about one candidate element.

    status: "fitted", or "no edge in window" / "not computable" (then the numbers are NaN).
    probability: the network's (None when not given); neighbours: the other candidates it is
    commonly confused with (:func:`~eels_helpers.inference.verification_rules.neighbours_of`).
    signal_counts, uncertainty_counts: fitted counts of its edges (+ near-onset terms) in the
    window and their 1-sigma uncertainty; significance = signal / uncertainty;
    fit_improvement: chi2 without it minus chi2 with it (in units of the reduced chi2);
    edge_fraction: share of the signal carried by the atomic cross section; shift_eV: best onset
    shift; edges_in_window / edges_outside: major edges ("Fe L3 708 eV") inside / outside.
    verified, reason: the final decision (:func:`~eels_helpers.inference.verification_rules.decide`);
    combined_probability: the fitted rule's q (NaN under the hand-set rule).
    """

    element: str
    status: str
    probability: float | None = None
    neighbours: tuple[str, ...] = ()
    signal_counts: float = float("nan")
    uncertainty_counts: float = float("nan")
    significance: float = float("nan")
    fit_improvement: float = float("nan")
    edge_fraction: float = float("nan")
    shift_eV: float = float("nan")
    edges_in_window: tuple[str, ...] = ()
    edges_outside: tuple[str, ...] = ()
    verified: bool | None = None
    reason: str = ""
    combined_probability: float = float("nan")

    def to_dict(self) -> dict:
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, float):
                out[k] = None if not math.isfinite(v) else round(v, 4)
            elif isinstance(v, tuple):
                out[k] = list(v)
        return out


@dataclass(eq=False)
class VerificationResult:
    """The fit of one spectrum and the evidence per candidate.

    evidence: {element: Evidence} in candidate order; energy_eV (n,), data (n,), model (n,),
    background (n,): fit bins (eV, counts); contributions: {element: (n,) counts} of the fitted
    candidates; chi2_reduced; microscope: E0_keV/alpha_mrad/beta_mrad used and ``source``
    ("metadata", "given" or "default" per value); window_eV: (lo, hi); bin_eV: bin width;
    seconds: wall time of the fit; message: why nothing was fitted, if so; onset_window_eV: (lo, hi),
    where a family's first onset must lie for it to be fitted (the window less a margin at its end).
    """

    evidence: dict[str, Evidence]
    energy_eV: np.ndarray
    data: np.ndarray
    model: np.ndarray
    background: np.ndarray
    contributions: dict[str, np.ndarray]
    chi2_reduced: float
    microscope: dict[str, Any]
    window_eV: tuple[float, float]
    bin_eV: float
    seconds: float = 0.0
    message: str = ""
    rule: Any = None
    onset_window_eV: tuple[float, float] | None = None

    @property
    def verified(self) -> tuple[str, ...]:
        """Elements the decision kept (by decreasing significance)."""
        kept = [e for e in self.evidence.values() if e.verified]
        kept.sort(key=lambda e: -(e.significance if math.isfinite(e.significance) else 0.0))
        return tuple(e.element for e in kept)

    @property
    def rejected(self) -> dict[str, str]:
        """{element: reason} of the candidates the decision did not keep."""
        return {e.element: e.reason for e in self.evidence.values() if e.verified is False}

    def to_dict(self) -> dict:
        """JSON-ready summary (no arrays)."""
        return {"verified": list(self.verified),
                "rejected": self.rejected,
                "evidence": {k: v.to_dict() for k, v in self.evidence.items()},
                "chi2_reduced": None if not math.isfinite(self.chi2_reduced) else round(self.chi2_reduced, 4),
                "microscope": self.microscope,
                "window_eV": [round(float(v), 3) for v in self.window_eV],
                "bin_eV": round(float(self.bin_eV), 4),
                "seconds": round(self.seconds, 4),
                "message": self.message,
                "rule": None if self.rule is None else asdict(self.rule)}
