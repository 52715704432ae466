"""Verified identification: the network proposes candidate elements, a physical model fit of the
measured spectrum confirms or rejects each of them, and says why.

Model, over the spectrum's measured window (not the network's 3072-channel input), in counts per
channel of width d (eV)::

    y(E) ~ sum_k b_k (E / E_lo)^(-r_k)                                  background
         + sum_e [ x_e d sigma_e(E - s_e)                                atomic edges of candidate e
                   + sum_{f, g} c_efg G(E - onset_f - s_e - g delta) ]   near-onset freedom

* background: the linearised power law of :mod:`eels_helpers.inference.quantify` (fixed
  exponents r_k = 1..6, non-negative amplitudes; Cueva et al., Microsc. Microanal. 18, 667 (2012));
* sigma_e: dsigma/dE (barn/eV per atom) summed over the edge families of e whose first onset
  lies in the window, at the spectrum's E0, alpha, beta (file metadata, else 200 keV, 10 mrad,
  30 mrad), tabulated once per (family, E0, alpha, beta) on a 0.25 eV grid and cached: the
  atomic continuum (:mod:`eels_helpers.physics.cross_section`), plus, with
  ``VerifyConfig.white_lines``, the families' white lines scaled with it by x_e
  (:func:`eels_helpers.physics.white_lines.edge_cross_sections`);
* s_e: the candidate's onset shift (calibration error + chemical shift), searched over
  ``shifts_eV`` (default -8..+8 eV in 2 eV steps) for every candidate in one batched solve;
* plural scattering (``VerifyConfig.plural_eV``, default none): per plasmon energy E_p one more
  free column, the edge term convolved with a Drude plasmon (first order of the Poisson series);
* near-onset freedom: ``n_near`` non-negative Gaussians (sigma = ``near_onset_eV / (2 n_near)``)
  over the first ``near_onset_eV`` (20 eV) above each family's major onset: fine structure (and
  white lines, without the option) make the first ~10-30 eV deviate from the atomic shape;
* every amplitude is >= 0 (an element cannot absorb negative counts).

Fit: Poisson-weighted non-negative least squares, with weights 1/sqrt(variance) and the variance
taken from the (lightly smoothed) spectrum itself. The channels are summed to >= 1 eV bins and to
at most ``MAX_BINS`` bins (Poisson statistics are kept by summing). All fits share one Gram
matrix: a candidate's shifted columns replace its block of it, and each NNLS is solved on the
K x K Cholesky factor, so a spectrum with ten candidates costs a few tens of fits of ~50 unknowns.

Evidence per candidate (:class:`~eels_helpers.inference.verification_result.Evidence`): the fitted
signal in counts (edge + near-onset terms, summed over the window) with its uncertainty from the
weighted least-squares covariance (the active set of the NNLS, scaled by the reduced chi2 -- the
Birge ratio -- so that it does not depend on the data's units); ``significance`` = signal /
uncertainty; ``fit_improvement`` = the chi2 decrease when the candidate is included rather than
left out (also divided by the reduced chi2, so it reads as a likelihood-ratio statistic); the best
onset shift; the fraction of the signal carried by the atomic edge (not by the near-onset terms);
which of its edges lie inside the window. Neighbours that the network confuses
(:data:`NEIGHBOUR_GROUPS`) are fitted together, so the leave-one-out improvement of the wrong one
is small: its onset and shape fit worse.

:func:`eels_helpers.inference.verification_rules.decide` turns the evidence and the network's
probability into the final answer with the small rule
:class:`~eels_helpers.inference.verification_rules.DecisionRule`; the neighbour sets and the
candidates of a spectrum are defined there too.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from eels_helpers.inference.gain_steps import BY_DEFAULT as REPAIR_GAIN_STEPS
from eels_helpers.inference.verification_result import Evidence, VerificationResult

__all__ = ["DEFAULT_MICROSCOPE", "MICROSCOPE_METADATA_KEYS", "microscope_values", "VerifyConfig", "Evidence",
           "VerificationResult", "verify"]

#: beam energy (keV), convergence and collection semi-angles (mrad) when the file has none
DEFAULT_MICROSCOPE = {"E0_keV": 200.0, "alpha_mrad": 10.0, "beta_mrad": 30.0}
#: the Spectrum metadata keys that hold them
MICROSCOPE_METADATA_KEYS = {"E0_keV": "beam_energy_keV", "alpha_mrad": "convergence_angle_mrad",
                            "beta_mrad": "collection_angle_mrad"}
#: the fit sums channels until at most this many bins remain
MAX_BINS = 1024
_GRID_STEP_EV = 0.25
_GRID = (30.0, 3400.0)


@dataclass(frozen=True)
class VerifyConfig:
    """Settings of the verification fit.

    E0_keV, alpha_mrad, beta_mrad: beam energy (keV, 10..1000), convergence and collection
    semi-angles (mrad, 0..200 and 0.01..500); None = the spectrum's metadata, else
    :data:`DEFAULT_MICROSCOPE`. fit_range_eV: (lo, hi) eV; None = the measured window from 75 eV
    (the network's lower limit) up. shifts_eV: onset shifts searched (eV, each within -30..30).
    near_onset_eV: width (eV, 0..60) of the freely shaped region above each onset (0 = none);
    n_near: Gaussians in it (0..10). background_exponents: power-law exponents, each in (0, 10].
    margin_after_eV: a family is fitted when its first onset lies >= this (eV) below the end of
    the window. gos: GOS source as in :class:`~eels_helpers.inference.quantify.QuantificationConfig`.
    offset_eV: calibration error (file axis minus true axis, eV) subtracted from the axis.
    white_lines: add each candidate's computed white lines to its atomic edge term: True (the
    shipped single-particle table) or a table name of
    :data:`eels_helpers.physics.white_lines.TABLE_PATHS` (e.g. "crystal-field", the lines of the
    ``open-world-sharp`` simulator configuration); False: none.
    line_fwhm_eV: with white_lines, the lines are convolved with a Gaussian of this FWHM (eV, 0..10;
    0 = natural widths only): the instrument's energy resolution, which broadens every measured
    line (the simulator's zero-loss peaks: 0.5-3 eV FWHM; 1.5 eV is their middle).
    plural_eV: plasmon energies (eV, 3..60) of first-order plural-scattering replicas of each
    candidate's edge term (one free column each; :func:`~eels_helpers.inference.quantify.plasmon_replicas`).
    other_edges: also fit each candidate's edges outside the 107 families
    (:data:`eels_helpers.physics.elements.OTHER_EDGES`, e.g. Pt N4,5 beside Pt M4,5) in the window,
    as part of its edge term (off: the rules of ``verification_rules.json`` were fitted without).
    conditional_uncertainty: a candidate's signal uncertainty (and so its significance) is taken
    with its commonly confused neighbours' amplitudes held at their fitted values (their columns
    left out of the covariance): twins such as O K / Sb M4,5 are nearly collinear, and the joint
    covariance gives each an uncertainty of ~1e12 counts whatever the data; the twins are still
    fitted together and compared by fit improvement. False: the joint covariance.
    remove_spikes, fill_dead_channels, repair_gain_steps: single-channel spikes (cosmic rays, X-ray
    hits) are replaced by their neighbours' mean, runs of dead channels filled and gain steps evened
    out before the fit, as before the network (:func:`eels_helpers.inference.preprocess.repair_counts`).
    """

    E0_keV: float | None = None
    alpha_mrad: float | None = None
    beta_mrad: float | None = None
    fit_range_eV: tuple[float, float] | None = None
    shifts_eV: tuple[float, ...] = (-8.0, -6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0)
    near_onset_eV: float = 20.0
    n_near: int = 4
    background_exponents: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    margin_after_eV: float = 15.0
    gos: str = "auto"
    offset_eV: float = 0.0
    white_lines: bool | str = False
    line_fwhm_eV: float = 1.5
    plural_eV: tuple[float, ...] = ()
    other_edges: bool = False
    conditional_uncertainty: bool = False
    remove_spikes: bool = True
    fill_dead_channels: bool = True
    repair_gain_steps: bool = REPAIR_GAIN_STEPS

    def __post_init__(self):
        from eels_helpers.physics.cross_section import validate_microscope

        for name in ("other_edges", "conditional_uncertainty", "remove_spikes", "fill_dead_channels",
                     "repair_gain_steps"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"VerifyConfig.{name} must be a bool; got {getattr(self, name)!r}")
        if not isinstance(self.white_lines, bool):
            from eels_helpers.physics.white_lines import TABLE_PATHS

            if self.white_lines not in TABLE_PATHS:
                raise ValueError(f"VerifyConfig.white_lines must be a bool or a white-line table of "
                                 f"{sorted(TABLE_PATHS)}; got {self.white_lines!r}")
        object.__setattr__(self, "plural_eV", tuple(float(v) for v in self.plural_eV))
        if not (isinstance(self.line_fwhm_eV, (int, float)) and 0.0 <= self.line_fwhm_eV <= 10.0):
            raise ValueError(f"VerifyConfig.line_fwhm_eV must be a width in [0, 10] eV; got {self.line_fwhm_eV!r}")
        if any(not 3.0 <= v <= 60.0 for v in self.plural_eV):
            raise ValueError(f"VerifyConfig.plural_eV must be plasmon energies in [3, 60] eV; got {self.plural_eV!r}")
        for name in ("E0_keV", "alpha_mrad", "beta_mrad"):
            v = getattr(self, name)
            if v is not None:
                if not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
                    raise ValueError(f"VerifyConfig.{name} must be a finite number; got {v!r}")
                object.__setattr__(self, name, float(v))
        validate_microscope(*(DEFAULT_MICROSCOPE[n] if getattr(self, n) is None else getattr(self, n)
                              for n in ("E0_keV", "alpha_mrad", "beta_mrad")))
        if self.fit_range_eV is not None:
            fr = tuple(float(v) for v in self.fit_range_eV)
            if len(fr) != 2 or not all(map(math.isfinite, fr)) or not 0 < fr[0] < fr[1]:
                raise ValueError(f"VerifyConfig.fit_range_eV must be (lo, hi) eV with 0 < lo < hi; "
                                 f"got {self.fit_range_eV!r}")
            object.__setattr__(self, "fit_range_eV", fr)
        sh = tuple(float(s) for s in self.shifts_eV)
        if not sh or any(not math.isfinite(s) or abs(s) > 30 for s in sh):
            raise ValueError(f"VerifyConfig.shifts_eV must be onset shifts within -30..30 eV; got "
                             f"{self.shifts_eV!r}")
        object.__setattr__(self, "shifts_eV", tuple(sorted(set(sh))))
        if not 0.0 <= float(self.near_onset_eV) <= 60.0:
            raise ValueError(f"VerifyConfig.near_onset_eV must be in [0, 60] eV; got {self.near_onset_eV!r}")
        if int(self.n_near) != self.n_near or not 0 <= self.n_near <= 10:
            raise ValueError(f"VerifyConfig.n_near must be an integer 0..10; got {self.n_near!r}")
        ex = tuple(float(r) for r in self.background_exponents)
        if not ex or any(not 0 < r <= 10 for r in ex) or len(set(ex)) != len(ex):
            raise ValueError("VerifyConfig.background_exponents must be distinct exponents in (0, 10]; "
                             f"got {self.background_exponents!r}")
        object.__setattr__(self, "background_exponents", ex)
        if not 0.0 <= float(self.margin_after_eV) <= 500.0:
            raise ValueError(f"VerifyConfig.margin_after_eV must be in [0, 500] eV; got {self.margin_after_eV!r}")
        if not math.isfinite(float(self.offset_eV)):
            raise ValueError(f"VerifyConfig.offset_eV must be finite (eV); got {self.offset_eV!r}")


# ----------------------------------------------------------------------------- cross sections
_SIGMA_CACHE: dict[tuple, dict[str, np.ndarray]] = {}
#: microscopes (E0, alpha, beta, GOS, white lines) whose tables are kept, oldest dropped first: one
#: family's table is 108 KB, the 94 real spectra's 16 microscopes hold 256 families (28 MB)
_SIGMA_CACHE_SETTINGS = 16


def _family_sigma(families, E0_keV, alpha_mrad, beta_mrad, gos, white_lines=False,
                  line_fwhm_eV=0.0) -> tuple[np.ndarray, np.ndarray]:
    """dsigma/dE (barn/eV) of each family on the shared 0.25 eV grid (+ its white lines with
    ``white_lines``, convolved with a Gaussian of ``line_fwhm_eV`` FWHM, the area kept), cached per
    microscope."""
    from eels_helpers.physics.gos_tables import resolve_gos
    from eels_helpers.physics.white_lines import edge_cross_sections

    src = resolve_gos(gos)
    fwhm = float(line_fwhm_eV) if white_lines else 0.0
    key = (float(E0_keV), float(alpha_mrad), float(beta_mrad), str(src), white_lines, fwhm)
    store = _SIGMA_CACHE.get(key)
    if store is None:
        if len(_SIGMA_CACHE) >= _SIGMA_CACHE_SETTINGS:
            _SIGMA_CACHE.pop(next(iter(_SIGMA_CACHE)))
        store = _SIGMA_CACHE[key] = {}
    grid = np.arange(_GRID[0], _GRID[1], _GRID_STEP_EV)
    todo = [f for f in families if f.name not in store]
    if todo:
        cont, lines, _ = edge_cross_sections(todo, grid, E0_keV, alpha_mrad, beta_mrad, src,
                                             white_lines=white_lines)
        if fwhm > 0:
            from scipy.ndimage import gaussian_filter1d

            lines = gaussian_filter1d(lines, fwhm / (2 * np.sqrt(2 * np.log(2))) / _GRID_STEP_EV, axis=1,
                                      mode="constant")
        store.update(zip([f.name for f in todo], cont + lines))
    return grid, np.stack([store[f.name] for f in families]) if families else np.zeros((0, grid.size))


# ----------------------------------------------------------------------------- the fit
def microscope_values(spectrum, given: Mapping[str, Any]) -> dict[str, Any]:
    """E0_keV, alpha_mrad, beta_mrad: ``given``'s (keys as :data:`DEFAULT_MICROSCOPE`'s; None: not
    given), else the spectrum's metadata where a positive finite number, else
    :data:`DEFAULT_MICROSCOPE`; ``"source"``: {name: "given" | "metadata" | "default"} (the one rule of
    ``predict --verify`` and ``map``'s quantification)."""
    meta = getattr(spectrum, "metadata", None) or {}
    out, source = {}, {}
    for name, key in MICROSCOPE_METADATA_KEYS.items():
        try:
            found = float(meta[key]) if meta.get(key) is not None else math.nan
        except (TypeError, ValueError):
            found = math.nan
        if given.get(name) is not None:
            out[name], source[name] = float(given[name]), "given"
        elif math.isfinite(found) and found > 0:
            out[name], source[name] = found, "metadata"
        else:
            out[name], source[name] = DEFAULT_MICROSCOPE[name], "default"
    out["source"] = source
    return out


def _bins(E: np.ndarray, y: np.ndarray, lo: float, hi: float):
    """Channels of [lo, hi] summed into bins >= 1 eV wide and at most MAX_BINS of them."""
    sel = np.flatnonzero((E >= lo - 1e-9) & (E <= hi + 1e-9))
    if sel.size == 0:
        return sel, 1, np.zeros(0), np.zeros(0)
    d = float(np.median(np.diff(E))) if E.size > 1 else 1.0
    f = max(1, int(math.floor(1.0 / d + 1e-6)), int(math.ceil(sel.size / MAX_BINS)))
    n = sel.size // f
    sel = sel[: n * f]
    return sel, f, E[sel].reshape(n, f).mean(axis=1), y[sel].reshape(n, f).sum(axis=1)


def _trim(yb: np.ndarray) -> tuple[int, int]:
    """Bins [a, b) of the measured window without its junk ends: a rising start (a detector's
    ramp, a cut-off) begins the fit at the maximum of the first tenth; near-empty bins at the
    end (< 10 % of the last tenth's median) are dropped."""
    n = yb.size
    k = max(n // 10, 3)
    sm = np.convolve(yb, np.ones(3) / 3, mode="same")
    a = int(np.argmax(sm[1:k])) + 1 if sm[0] < 0.9 * sm[1:k].max() else 0
    ref = float(np.median(yb[-k:]))
    b = n
    while b > a + 1 and yb[b - 1] < 0.1 * ref:
        b -= 1
    return a, b


def _unfitted(candidates, status_reason, microscope, window, onset_window, message, t0) -> VerificationResult:
    ev = {el: Evidence(el, status_reason.get(el, "not fitted"), p, nb) for el, (p, nb) in candidates.items()}
    z = np.zeros(0)
    return VerificationResult(ev, z, z, z, z, {}, float("nan"), microscope, window, float("nan"),
                              time.perf_counter() - t0, message, onset_window_eV=onset_window)


def verify(spectrum, candidates, config: VerifyConfig | None = None, *,
           rule: Any = None, threshold: float = 0.5, left_out_below_eV: float | None = None) -> VerificationResult:
    """Fit background + every candidate's edges over a spectrum's measured window and report the
    evidence for each candidate (model and fit: module docstring).

    Parameters
    ----------
    spectrum : eels_helpers.spectrum.Spectrum
        One spectrum (counts on its energy axis, eV). A spectrum image is summed first.
        ``metadata`` may give ``beam_energy_keV``, ``convergence_angle_mrad`` and
        ``collection_angle_mrad``.
    candidates : sequence of str or mapping of str to float
        Element symbols to test, or ``{symbol: network probability}`` (e.g. from
        :func:`candidates_from_probabilities`, which adds the commonly confused neighbours).
    config : VerifyConfig, optional
        Microscope (keV, mrad), fit range and shift search (eV), near-onset freedom, background;
        default: the settings ``rule`` was fitted with
        (:func:`~eels_helpers.inference.verification_model.fit_settings`).
    rule : DecisionRule, optional
        Decision rule (:mod:`eels_helpers.inference.verification_rules`); default
        ``DecisionRule()``.
    threshold : float, default 0.5
        The network's detection threshold (probability in (0, 1)), used by the rule.
    left_out_below_eV : float, optional
        Where the pre-processing left the counts out (eV, after ``config.offset_eV``: a splice or a
        saturated top; 0 for none), when the caller already knows it, e.g.
        :attr:`~eels_helpers.inference.predict.Prediction.left_out_below_eV` of the prediction whose
        candidates these are; by default it is found here
        (:func:`eels_helpers.inference.preprocess.left_out_below_eV`, a second pre-processing). Used
        only without ``config.fit_range_eV``.

    Returns
    -------
    VerificationResult
        ``evidence`` per candidate (:class:`Evidence`: signal and uncertainty in counts,
        significance, fit improvement, best shift in eV, edges in the window, decision and
        reason), the fitted model, background and contributions on the fit bins, ``verified``
        and ``rejected``. When nothing can be fitted (no candidate has an edge in the window)
        every candidate says why and ``message`` explains.

    Raises
    ------
    ValueError
        If there is no candidate, a symbol is not one of the 80 elements Be..Bi, the spectrum
        holds NaN/inf, its energy axis is not increasing, or the window holds too few channels to
        fit the background and one edge.
    """
    t0 = time.perf_counter()
    with _one_blas_thread():
        res = _verify(spectrum, candidates, config, rule, threshold, t0, left_out_below_eV)
    res.seconds = time.perf_counter() - t0
    return res


_CONTROLLER: list = []


def _one_blas_thread():
    """The fit's matrices are small: BLAS threads would only cost wake-up time (tens of ms on a
    busy machine). One threadpoolctl controller is made per process (it scans the libraries)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:      # pragma: no cover - a core dependency
        return contextlib.nullcontext()
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def _verify(spectrum, candidates, config, rule, threshold, t0, cut_eV=None) -> VerificationResult:
    from eels_helpers.inference.quantify import nnls_gram, plasmon_replicas
    from eels_helpers.inference.verification_rules import decide, default_rule, neighbours_of
    from eels_helpers.physics.elements import ELEMENTS, edges_of, families_of

    if config is None:         # the settings the rule was fitted with (verification_model.fit_settings)
        from eels_helpers.inference.verification_model import fit_settings

        config = VerifyConfig(**fit_settings(default_rule() if rule is None else rule))
    if isinstance(candidates, str):
        candidates = [candidates]
    if isinstance(candidates, Mapping):
        cand = {str(k): (None if v is None else float(v), ()) for k, v in candidates.items()}
    else:
        cand = {str(k): (None, ()) for k in candidates}
    if not cand:
        raise ValueError("verify needs at least one candidate element (the network proposed none "
                         "above the candidate threshold)")
    bad = [el for el in cand if el not in ELEMENTS]
    if bad:
        raise ValueError(f"candidate(s) {bad} are not among the 80 element symbols Be..Bi")
    for el in cand:
        cand[el] = (cand[el][0], tuple(c for c in cand if c != el and el in neighbours_of(c)))
    if getattr(spectrum, "is_spectrum_image", False):
        spectrum = spectrum.summed()
    E = np.asarray(spectrum.energy_eV, dtype=np.float64) - float(config.offset_eV)
    y_all = np.asarray(spectrum.data, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(y_all)):
        raise ValueError(f"{spectrum.name}: the spectrum holds NaN/inf counts")
    from eels_helpers.inference.preprocess import left_out_below_eV, repair_counts

    if cut_eV is not None and not (isinstance(cut_eV, (int, float, np.integer, np.floating))
                                   and math.isfinite(cut_eV) and cut_eV >= 0):
        raise ValueError(f"left_out_below_eV must be an energy >= 0 eV (0: nothing left out), got {cut_eV!r}")

    if E.size > 1 and np.any(np.diff(E) <= 0):
        raise ValueError(f"{spectrum.name}: the energy axis must be strictly increasing (eV)")
    y_all = repair_counts(y_all, remove_spikes=config.remove_spikes, fill_dead_channels=config.fill_dead_channels,
                          repair_gain_steps=config.repair_gain_steps, energy_eV=E)[0]
    micro = microscope_values(spectrum, {name: getattr(config, name) for name in MICROSCOPE_METADATA_KEYS})
    lo, hi = config.fit_range_eV or (max(float(E[0]), 75.0), float(E[-1]))
    lo, hi = max(lo, float(E[0])), min(hi, float(E[-1]))
    if config.fit_range_eV is None:        # spliced or saturated: the part above the join / flat top
        lo = max(lo, float(cut_eV) if cut_eV is not None else left_out_below_eV(spectrum, config.offset_eV))
    K_bg = len(config.background_exponents)
    sel, f, Eb, yb = _bins(E, y_all, lo, hi)
    if config.fit_range_eV is None and Eb.size >= 4 * (K_bg + 8):
        a, b = _trim(yb)                      # detector ramps and dead channels at the ends
        sel, Eb, yb = sel[a * f: b * f], Eb[a:b], yb[a:b]
    if Eb.size < K_bg + 8:
        raise ValueError(f"{spectrum.name}: the fit window {lo:g}-{hi:g} eV holds {Eb.size} bins of "
                         f">= 1 eV (spectrum {E[0]:g}-{E[-1]:g} eV); at least {K_bg + 8} are needed "
                         "to fit the background and an edge")
    lo, hi = float(E[sel[0]]), float(E[sel[-1]])
    window = (lo, hi)
    onset_window = (lo, hi - config.margin_after_eV)       # where a fitted family's first onset lies

    # families per candidate: inside the window (fitted), outside (reported)
    fams, owner, status_reason = [], [], {}
    inside_txt, outside_txt = {}, {}
    for el in cand:
        ins, outs = [], []
        for fam in edges_of(el) if config.other_edges else families_of(el):
            major = [f"{el} {s} {fam.onset_of(s):.0f} eV" for s in fam.major]
            if onset_window[0] <= fam.first_onset_eV <= onset_window[1]:
                fams.append(fam), owner.append(el), ins.extend(major)
            else:
                outs.extend(major)
        inside_txt[el], outside_txt[el] = tuple(ins), tuple(outs)
        if not ins:
            status_reason[el] = "no edge in window"
    if not fams:
        res = _unfitted(cand, status_reason, micro, window, onset_window,
                        f"no candidate has an edge in the window {onset_window[0]:g}-{onset_window[1]:g} eV", t0)
        for el, ev in res.evidence.items():
            ev.edges_outside = outside_txt[el]
        return decide(res, rule, threshold)
    grid, sig = _family_sigma(fams, micro["E0_keV"], micro["alpha_mrad"], micro["beta_mrad"], config.gos,
                              config.white_lines, config.line_fwhm_eV)
    fitted = [el for el in cand if el not in status_reason]
    shifts = np.asarray(config.shifts_eV)
    S, n = shifts.size, Eb.size
    d = float(np.median(np.diff(E))) if E.size > 1 else 1.0
    edges_eV = np.concatenate([E[sel[::f]] - d / 2, [E[sel[-1]] + d / 2]])   # (n + 1,) bin edges
    nf = max(int(config.n_near), 0) if config.near_onset_eV > 0 else 0
    gs = config.near_onset_eV / (2 * nf) if nf else 1.0
    centres = (np.arange(nf) + 0.5) * config.near_onset_eV / nf if nf else np.zeros(0)
    cumulative, n_edge = {}, 1 + len(config.plural_eV)
    for el in fitted:   # integral of dsigma/dE (and its plasmon replicas) over the grid (barn)
        s_tot = sig[[i for i, o in enumerate(owner) if o == el]].sum(axis=0)
        s_tot = np.vstack([s_tot, plasmon_replicas(s_tot, _GRID_STEP_EV, config.plural_eV)])
        cumulative[el] = np.hstack([np.zeros((n_edge, 1)), np.cumsum(0.5 * (s_tot[:, 1:] + s_tot[:, :-1]), axis=1)
                                    ]) * _GRID_STEP_EV

    full: dict[tuple[str, float], np.ndarray] = {}     # (element, shift) -> (n, m) columns on all bins

    def columns(el: str, shift: np.ndarray, a: int = 0, b: int = n) -> np.ndarray:
        """(len(shift), b - a, m) columns of candidate ``el`` at each onset shift on bins [a, b):
        its edges' cross section integrated over each bin (barn), then near-onset Gaussians
        (unit area, counts). Computed once per (element, shift) on all bins, then sliced."""
        missing = np.array([s for s in dict.fromkeys(shift.tolist()) if (el, s) not in full])
        if missing.size:
            Es = edges_eV[None, :] - missing[:, None]                    # (S', n + 1)
            out = [np.diff(np.interp(Es, grid, c), axis=1)[..., None] for c in cumulative[el]]
            if nf:
                from scipy.special import ndtr

                on = np.array([fams[i].onset_eV for i, o in enumerate(owner) if o == el])
                ctr = (on[:, None] + centres[None, :]).ravel()             # (n_fam nf,)
                g = ndtr((Es[:, :, None] - ctr[None, None, :]) / gs)
                out.append(np.diff(g, axis=1))
            for s, c in zip(missing.tolist(), np.concatenate(out, axis=2)):
                full[(el, s)] = c
        cols = np.stack([full[(el, s)][a:b] for s in shift.tolist()])
        cols[cols < 1e-12 * cols.max(axis=1, keepdims=True)] = 0.0     # no denormals (slow BLAS)
        return cols

    # weights: Poisson variance from the lightly smoothed spectrum, floored
    k = 5 if n > 20 else 1
    sm = np.convolve(yb, np.ones(k) / k, mode="same")
    floor = max(1e-3 * float(np.max(np.abs(sm))), 1e-12)
    w_all = 1.0 / np.sqrt(np.maximum(sm, floor))
    first = {el: min(fams[i].first_onset_eV for i, o in enumerate(owner) if o == el) for el in fitted}
    last = {el: max(fams[i].onset_eV for i, o in enumerate(owner) if o == el) for el in fitted}

    def solve(a: int, b: int, members: list[str], report: list[str], fixed: dict | None = None):
        """Fit bins [a, b) with ``members``' blocks + background: the onset shifts of the
        ``report`` elements searched (the others at 0), or all ``fixed``; then the evidence of
        each ``report`` element by leaving it out."""
        w, y = w_all[a:b], yb[a:b]
        yw = y * w
        yy = float(yw @ yw)
        Ea = Eb[a:b]
        bg = np.stack([(Ea / Ea[0]) ** (-r) for r in config.background_exponents], axis=1)
        bgw = bg * w[:, None]
        bgw /= np.linalg.norm(bgw, axis=0)

        def block(el, sh):
            return columns(el, np.atleast_1d(np.asarray(sh, dtype=float)), a, b)

        def assemble(blocks):
            idx, start = {}, 0
            for el, blk in blocks.items():
                idx[el] = np.arange(start, start + blk.shape[1])
                start += blk.shape[1]
            A = np.concatenate(list(blocks.values()) + [bg], axis=1)
            Aw = A * w[:, None]
            scale = np.linalg.norm(Aw, axis=0)
            scale[scale == 0] = 1.0
            Aw /= scale
            return A, Aw, scale, Aw.T @ Aw, Aw.T @ yw, idx

        shift = {el: (fixed or {}).get(el, 0.0) for el in members}
        blocks = {el: block(el, shift[el])[0] for el in members}
        A, Aw, scale, G, h, idx = assemble(blocks)
        if fixed is None:
            # a reported element's shift: the others held at their first fit, its block and the
            # background refitted at every shift (small NNLS problems)
            x0, _ = nnls_gram(G, h, yy)
            part = Aw * x0[None, :]
            for el in report:
                ii = idx[el]
                rest = yw - part.sum(axis=1) + part[:, ii].sum(axis=1)
                Bs = block(el, shifts) * w[None, :, None]
                Bs /= np.maximum(np.linalg.norm(Bs, axis=1, keepdims=True), 1e-300)
                M = np.concatenate([Bs, np.broadcast_to(bgw, (S,) + bgw.shape)], axis=2)
                Mt = M.transpose(0, 2, 1)
                Gs, hs = Mt @ M, Mt @ rest
                chi = np.array([nnls_gram(Gs[s], hs[s], float(rest @ rest))[1] for s in range(S)])
                shift[el] = float(shifts[int(np.argmin(chi + 1e-9 * np.abs(shifts)))])  # ties: smallest
                if shift[el] != 0.0:
                    blocks[el] = block(el, shift[el])[0]
            if any(shift.values()):
                A, Aw, scale, G, h, idx = assemble(blocks)
        K = A.shape[1]
        x, chi2 = nnls_gram(G, h, yy)
        dof = max(b - a - K, 1)
        chi2_red = max(chi2 / dof, 1e-300)
        colsum = A.sum(axis=0)
        out = {}
        for el in report:
            ii = idx[el]
            keep = np.setdiff1d(np.arange(K), ii)
            _, chi2_without = nnls_gram(G[np.ix_(keep, keep)], h[keep], yy)
            act = np.union1d(np.flatnonzero(x > 0), ii)
            if config.conditional_uncertainty:          # neighbours held at their fitted amplitudes
                held = [idx[nb] for nb in cand[el][1] if nb in idx]
                if held:
                    act = np.setdiff1d(act, np.concatenate(held))
            g = np.zeros(K)
            g[ii] = colsum[ii] / scale[ii]                         # counts per unit of x
            Ga = G[np.ix_(act, act)]
            with np.errstate(invalid="ignore", over="ignore"):   # a near-singular Ga: the pseudo-inverse
                try:
                    var = float(g[act] @ np.linalg.solve(Ga, g[act])) * chi2_red
                except np.linalg.LinAlgError:
                    var = float("nan")
                if not (math.isfinite(var) and var > 0):             # rounding made it <= 0 or NaN
                    var = float(g[act] @ np.linalg.pinv(Ga, hermitian=True) @ g[act]) * chi2_red
            signal = float(g @ x)
            unc = math.sqrt(var) if var > 0 else float("nan")
            edge = float(g[ii[:n_edge]] @ x[ii[:n_edge]])
            out[el] = dict(signal_counts=signal, uncertainty_counts=unc,
                           significance=signal / unc if unc > 0 else float("nan"),
                           fit_improvement=max(chi2_without - chi2, 0.0) / chi2_red,
                           edge_fraction=edge / signal if signal > 0 else 0.0, shift_eV=shift[el])
        coef = x / scale
        return out, A, coef, idx, float(chi2 / dof), bg

    # the evidence of each candidate from a local fit: from below its first onset (by a quarter
    # of the onset energy, >= 60 eV) to above its last major onset (by half, >= 150 eV); the
    # candidates with an edge there are fitted with it, so neighbours compete
    evidence, shift_of = {}, {}
    for el in fitted:
        lo_e = first[el] - max(60.0, 0.25 * first[el])
        hi_e = last[el] + max(150.0, 0.5 * last[el])
        a = int(np.searchsorted(Eb, lo_e))
        b = int(np.searchsorted(Eb, hi_e, side="right"))
        need = K_bg + 8 + 4 * (1 + nf)
        if b - a < need:                                     # widen to the minimum size
            a, b = max(0, min(a, b - need)), min(n, max(b, a + need))
            if b - a < need:
                a, b = 0, n
        members = [o for o in fitted if o == el or any(
            Eb[a] <= fams[i].first_onset_eV <= Eb[b - 1] - config.margin_after_eV
            for i, ow in enumerate(owner) if ow == o)]
        found = solve(a, b, members, [el])[0][el]
        shift_of[el] = found["shift_eV"]
        p, nb = cand[el]
        evidence[el] = Evidence(el, "fitted", p, nb, **found, edges_in_window=inside_txt[el],
                                edges_outside=outside_txt[el])
    for el, (p, nb) in cand.items():
        if el not in evidence:
            evidence[el] = Evidence(el, status_reason[el], p, nb, edges_outside=outside_txt[el])
    evidence = {el: evidence[el] for el in cand}
    # the model shown: one fit of the whole window at the shifts found
    _, A, coef, idx, chi2_red, bg = solve(0, n, fitted, [], fixed=shift_of)
    contributions = {el: A[:, idx[el]] @ coef[idx[el]] for el in fitted}
    res = VerificationResult(evidence, Eb, yb, A @ coef, bg @ coef[A.shape[1] - K_bg:], contributions,
                             chi2_red, micro, window, float(f * d), 0.0, onset_window_eV=onset_window)
    return decide(res, rule, threshold)
