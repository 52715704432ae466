"""Labels by detectability (issue 15): which edges of a simulated spectrum a microscopist would name.

The paper labels every element with an edge family in the window, however small its jump (Annys
et al. 2023, Table 1). With ``SimulationConfig.labels = "detectable"`` an edge is labelled only when
its counts S over the first :data:`DETECTION_WIDTH_EV` eV above its onset (inside the window, fine
structure included) pass a :class:`DetectionRule`:

- Currie's Poisson test (Anal. Chem. 40, 586 (1968)): S > k sqrt(S + B), B the power-law
  background counts there plus a flat dark level, k = ``detectability_sigma``;
- with ``detectability_min_jump`` m > 0, also a minimum relative jump S >= m U, U what lies under the
  edge there: B plus the other 107-family edges' counts (before the low-loss convolution; the
  low-energy plasmon tail of spectra starting below 110 eV is not counted) and, with
  ``detectability_all_edges``, the edges outside the families (Al/Mg L2,3, the specimen's other edges,
  lone and gas-phase edges; those edges' own labels count the family edges alone). U includes the
  dark level also where a dark reference subtracts it after the noise (its noise stays). The Poisson test alone
  labels steps of a few per cent in spectra of 1e6-1e7 counts per channel, which neither a
  microscopist nor the networks name: the structure of the background itself (the EXELFS of the
  edges below, a few to ~20 %: Egerton 2011, secs. 3.8, 4.6) is as large.

With ``detectability_soft_factor`` f > 1 the family edges get soft labels instead (issue 15's other
arm): an edge's visibility q = min(S / (k sqrt(S + B)), S / (m U)) (q = 1 at the test's threshold)
gives the label 0.5 + ln q / ln f clipped to [0, 1], and an element's label is the largest of its
edges'. The edges outside the families keep 0/1 labels by the test.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["DETECTION_WIDTH_EV", "DetectionRule", "detection_rule", "window_true_eV", "detectable",
           "detectable_pairs", "visibility", "soft_label", "label_pairs"]

#: the detectability of an edge is judged on its first this-many eV above the onset
DETECTION_WIDTH_EV = 50


@dataclass(frozen=True, eq=False)
class DetectionRule:
    """The label test of one batch: ``sigma`` (Currie's k), ``min_jump`` (m; 0: none) and
    ``edges_under`` (B, N) the summed edges that count as lying under an edge, on the true axis
    (counts per eV channel; needed only when ``min_jump`` > 0): the 107-family edges, and with
    ``detectability_all_edges`` also the edges outside the families (:meth:`with_edges_under`);
    ``soft_factor`` f: 1 labels the family edges 0/1, f > 1 softly (:func:`soft_label`)."""
    sigma: float
    min_jump: float = 0.0
    edges_under: np.ndarray | None = None
    soft_factor: float = 1.0

    def __post_init__(self):
        if self.min_jump > 0 and self.edges_under is None:
            raise ValueError("DetectionRule: min_jump > 0 needs the batch's edges_under")

    def with_edges_under(self, edges_under: np.ndarray) -> "DetectionRule":
        """The same test with other edges counted under an edge (a copy of ``edges_under`` is held)."""
        return replace(self, edges_under=edges_under.copy() if self.min_jump > 0 else None)


def detection_rule(config, edges_under: np.ndarray) -> DetectionRule | None:
    """The rule of ``config`` (a SimulationConfig) for a batch whose summed family edges are
    ``edges_under``; None with the paper's window labels."""
    if config.labels != "detectable":
        return None
    m = config.detectability_min_jump
    return DetectionRule(config.detectability_sigma, m, edges_under.copy() if m > 0 else None,
                         config.detectability_soft_factor)


def window_true_eV(p, spectrum):
    """(start, end) of the spectra's windows on the true energy axis (eV): the drawn window less
    the instrumental shift, the end capped at the last channel (3071 eV)."""
    shift = p.instrumental_shift_eV[spectrum]
    return p.start_eV[spectrum] - shift, np.minimum(p.end_eV[spectrum], 3071) - shift


def _visible_width(onset_true_eV, p, spectrum):
    """Channels from an onset (true axis) to the window's end, at most DETECTION_WIDTH_EV."""
    end_true = window_true_eV(p, spectrum)[1]
    return np.clip(end_true - np.rint(onset_true_eV).astype(np.int64), 1, DETECTION_WIDTH_EV)


def _background_counts(onset_eV, width, p, spectrum):
    """Background counts sum_{k < width} A ((E_onset + k)/E_start)^-r of (pairs of) spectra."""
    k = np.arange(DETECTION_WIDTH_EV)
    E = np.asarray(onset_eV, np.float64)[:, None] + k[None, :]
    r = p.bg_exponent[spectrum][:, None]
    bg = p.bg_amplitude[spectrum][:, None] * (np.maximum(E, 1.0) / p.start_eV[spectrum][:, None]) ** -r
    return np.where(k[None, :] < np.asarray(width)[:, None], bg, 0.0).sum(axis=1)


def _counts_under(edges_under, onset_eV, width, spectrum):
    """The counts of the edges under (summed, true axis) over channels round(onset) .. round(onset) + width - 1."""
    k = np.arange(DETECTION_WIDTH_EV)
    cols = np.clip(np.rint(onset_eV).astype(np.int64)[:, None] + k[None, :], 0, edges_under.shape[1] - 1)
    seg = edges_under[np.asarray(spectrum)[:, None], cols].astype(np.float64)
    return np.where(k[None, :] < np.asarray(width)[:, None], seg, 0.0).sum(axis=1)


def _counts(rows, first_col, onset_eV, p, spectrum, rule: DetectionRule, dark, dtype, own_in_edges_under):
    """(S, B, U) of the edges (``detectable``'s arguments): the edge's own counts over its first
    DETECTION_WIDTH_EV eV in the window, the background there (power law + dark level) and, with
    a minimum jump, everything under the edge (B + the other edges counted by the rule; else None)."""
    width = _visible_width(onset_eV, p, spectrum)
    k = np.arange(DETECTION_WIDTH_EV)
    cols = np.minimum(np.asarray(first_col)[:, None] + k[None, :], rows.shape[1] - 1)
    seg = np.take_along_axis(rows, cols, axis=1)
    seg = seg if dtype is None else seg.astype(dtype)
    signal = np.where(k[None, :] < width[:, None], seg, 0.0).sum(axis=1)
    bg = _background_counts(onset_eV, width, p, spectrum)
    if dark is not None:
        bg = bg + width * dark[spectrum]
    under = None
    if rule.min_jump > 0:
        others = _counts_under(rule.edges_under, onset_eV, width, spectrum)
        if own_in_edges_under:
            others = np.maximum(others - signal, 0.0)
        under = bg + others
    return signal, bg, under


def detectable(rows, first_col, onset_eV, p, spectrum, rule: DetectionRule, dark=None, dtype=None,
               own_in_edges_under: bool = False) -> np.ndarray:
    """The rule's test (module docstring) for edge ``rows`` (counts per channel) whose onset is column
    ``first_col`` of each row and energy ``onset_eV`` (true axis) of spectra ``spectrum``; ``dark``: a
    flat level (B,) under the window; ``dtype``: the precision of the sum of S;
    ``own_in_edges_under``: the rows are among ``rule.edges_under`` (their own counts are taken out
    of U)."""
    signal, bg, under = _counts(rows, first_col, onset_eV, p, spectrum, rule, dark, dtype, own_in_edges_under)
    ok = signal > rule.sigma * np.sqrt(np.maximum(signal + bg, 0.0))
    if under is not None:
        ok &= signal >= rule.min_jump * under
    return ok


def visibility(rows, first_col, onset_eV, p, spectrum, rule: DetectionRule, dark=None, dtype=None,
               own_in_edges_under: bool = False) -> np.ndarray:
    """q = min(S / (k sqrt(S + B)), S / (m U)) of the edges (``detectable``'s arguments): how far
    each edge lies above the rule's thresholds (q > 1: it passes both tests; the jump term only
    with m > 0)."""
    signal, bg, under = _counts(rows, first_col, onset_eV, p, spectrum, rule, dark, dtype, own_in_edges_under)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(signal > 0, signal / (rule.sigma * np.sqrt(np.maximum(signal + bg, 1e-300))), 0.0)
        if under is not None:
            q = np.minimum(q, np.where(signal > 0, signal / np.maximum(rule.min_jump * under, 1e-300), 0.0))
    return q


def soft_label(q: np.ndarray, factor: float) -> np.ndarray:
    """Labels in [0, 1] from visibilities q (:func:`visibility`): 0.5 + ln q / ln ``factor``,
    clipped; 0 below q = factor^-1/2, 1 above q = factor^1/2, 0.5 at the rule's threshold (q = 1).
    A microscopist's naming of an edge near the detection limit is uncertain; the ramp spreads the
    label over a factor ``factor`` (> 1) in the edge's visibility instead of a 0/1 step."""
    with np.errstate(divide="ignore"):
        return np.clip(0.5 + np.log(q) / np.log(factor), 0.0, 1.0).astype(np.float32)


def detectable_pairs(edges, p, rule: DetectionRule, dark=None) -> np.ndarray:
    """(M,) bool: the included 107-family edges (``edges``: the pipeline's EdgeRows) that pass
    ``rule`` (module docstring)."""
    return detectable(edges.rows, edges.fs_start, edges.onset_eV, p, p.pair_spectrum, rule, dark,
                      dtype=np.float64, own_in_edges_under=True)


def label_pairs(edges, p, rule: DetectionRule, dark=None) -> tuple[np.ndarray, np.ndarray | None]:
    """The included 107-family edges (``edges``: the pipeline's EdgeRows) that ``rule`` labels:
    ((M,) bool, None) with 0/1 labels (:func:`detectable_pairs`); with ``rule.soft_factor`` > 1,
    ((M,) bool: label > 0, (M,) float32: :func:`soft_label` of their :func:`visibility`)."""
    if rule.soft_factor <= 1:
        return detectable_pairs(edges, p, rule, dark), None
    q = visibility(edges.rows, edges.fs_start, edges.onset_eV, p, p.pair_spectrum, rule, dark,
                   dtype=np.float64, own_in_edges_under=True)
    soft = soft_label(q, rule.soft_factor)
    return soft > 0, soft
