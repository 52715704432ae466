"""Open-world steps of the simulator: what real spectra hold and the paper's dataset does not.

The paper's training spectra always hold at least one element with a strong edge among its 107
families, the window is wide, nothing but a power law lies under the edges, there are no detector
artefacts, and every element with an edge in the window is labelled however small its jump
(Annys et al. 2023, Table 1). Real spectra break each of these (issue 15). Each step here is
switched on by a :class:`eels_helpers.simulation.config.SimulationConfig` option whose default
(0 or ``"window"``) leaves the paper's dataset unchanged, bit for bit: the steps draw from a
generator of their own (:func:`generator`), seeded from the simulator's generator only when an
option is on, so the default draw order is untouched.

In :func:`eels_helpers.simulation.pipeline.simulate_batch`, in this order:

1. :func:`add_carbon`: a carbon film on a fraction of specimens (C added at an atomic fraction
   in ``carbon_atomic_fraction``; simulated and labelled through C K like any element);
1b. :func:`add_implanted_gas` (``implanted_gas_fraction``, session 29): Ar, Kr or Xe implanted in
   a fraction of specimens (ion milling, plasma FIB, gas bubbles), simulated and labelled through
   their edges like any element's (Ar L2,3, Xe M4,5, Kr L2,3; Kr M4,5 and the others outside the
   families with ``other_edges_fraction``);
1c. :func:`eels_helpers.simulation.gas_phase.gas_phase_spectra` and ``gas_phase_edges``
   (``gas_phase_fraction``, session 31): spectra of a noble gas alone (Kr or Xe through its edges outside the
   families) in place of a fraction of the low-start spectra (:mod:`eels_helpers.simulation.gas_phase`);
2. :func:`redraw_windows` (inside the parameter draw, before the families in the window are
   chosen): windows starting at 75-85 eV, and narrow windows tight around the query edge;
3. :func:`edge_free`: spectra whose edges are removed (label: no element), all but a carbon
   film's (:func:`removed_pairs`: those are carbon-film-only spectra, labelled C);
4. :func:`eels_helpers.simulation.detectability.label_pairs`: with ``labels="detectable"``, an
   edge is labelled only when its counts over the first 50 eV above its onset (inside the window),
   S, exceed k sqrt(S + B), B the background counts there, k = ``detectability_sigma`` (Poisson:
   Currie, Anal. Chem. 40, 586 (1968), the detection limit as a multiple of the counting noise), and,
   with ``detectability_min_jump`` m > 0, S >= m x what lies under it
   (:mod:`eels_helpers.simulation.detectability`; with ``detectability_all_edges`` the family edges
   are tested after steps 5-5c, whose edges then count as lying under them; with
   ``detectability_soft_factor`` > 1 the family edges' labels are soft, from 0 to 1);
5. :func:`distractor_edges`: Al or Mg L2,3 (onsets 72.55 and 49.5 eV, outside the 107 families)
   in spectra that start below 110 eV, from Egerton's hydrogenic L-shell GOS at those onsets
   (:class:`eels_helpers.physics.hydrogenic.HydrogenicSource`; it lacks the real edges' delayed
   maximum), jump ratio 0.2-1.5 at 10 eV above max(onset, start). Labelled by the rule every
   edge follows: its onset inside the window (and, with ``labels="detectable"``, detectable).
   Both onsets lie below the 75-eV floor of every window, so they are almost never labelled
   (Al only where a positive instrumental shift moves the window's true start below 72.6 eV):
   they teach the networks that a tail or a hump at 75-150 eV names no element (labelling them Al /
   Mg, as a first version did, taught them to name Al or Mg on any steep low-energy tail);
5b. :func:`other_edges` (``other_edges_fraction``): the specimen's own edges outside the 107
   families (:data:`eels_helpers.physics.elements.OTHER_EDGES`: Al/Mg L2,3, the 3d metals' M2,3,
   As-Kr M4,5, the N2,3/N4,5/N6,7/O2,3 of the heavy elements; builtin GOS tables, xraylib onsets),
   weighted as the element's families are (atomic fraction x the spectrum's jump-ratio scale), in
   the window or less than 20 eV below it (the power law stands for everything further down);
   labelled by the rule every edge follows. Without them the networks never saw Pt N4,5 (314 eV)
   or Kr M4,5 (94 eV) and named the family whose onset is nearest (Ca, Be, Si);
5c. :func:`lone_edges` (``lone_edge_fraction``): under spectra that start below 110 eV, one edge
   outside the families (any element's, from the same tables as 5b: builtin GOS, xraylib onsets)
   whose onset lies from ``OTHER_EDGE_LOOKBACK_EV`` below the window's true start to
   ``LONE_EDGE_REACH_EV`` above it, of an element none of whose families reaches into the window
   (so that edge is the element's only one there: the 3d metals' M2,3 under a window that ends
   before their L2,3, Zn M2,3 at 87 eV inside it), jump ratio 0.2-1.5 at its maximum over the
   first 50 eV of the window above its onset; labelled by the rule every edge follows. Without
   them the only lone low edges the networks saw were the hydrogenic Al and Mg L2,3 of step 5;
6. :func:`lowloss_tail`: a steep extra component A_t (E/E_start)^-r_t (r_t 5-10, A_t/A 0.3-3)
   under spectra that start below 110 eV: the plasmons' tail, which a single power law misses;
7. :func:`dark_level` / :func:`add_dark`: a flat dark/read-out pedestal under a fraction of
   spectra (vacuum and thin-area pixels of a spectrum image), subtracted after the noise for
   half of them (a dark reference), leaving zero-mean noise;
4b. :func:`eels_helpers.simulation.bonding_lines.add_pi_star` and ``add_sigma_star`` (before 4, after
   the generic fine structure): the 1s -> pi* lines and 1s -> sigma* resonances of B, C, N and O K
   edges (:mod:`eels_helpers.simulation.bonding_lines`);
4c. :func:`fine_structure_depth` (with the generic fine structure): the paper scales each edge's
   random fine structure f so that its deepest dip reaches zero (modulation 1 + c f, peaks up to
   10x the edge; :mod:`eels_helpers.simulation.fine_structure`); measured near-edge structure
   modulates the atomic edge by far less beyond the first peaks (EXELFS: a few to ~20 %; Egerton
   2011, secs. 3.8, 4.6 and 5.6), and the paper's depth on every edge makes edges with one onset
   indistinguishable (N K at 401 and Sc L2,3 at 402 eV: the networks called both for either).
   With ``fs_depth`` (lo, hi) the modulation is 1 + d c f, d ~ U(lo, hi) per edge. Beside it,
   ``SimulationConfig.fs_on_white_lines=False`` (:func:`eels_helpers.simulation.steps.
   split_white_lines`) leaves the white lines out of the modulation: their positions, widths and
   ratios are physics;
8. after the noise, :func:`subtract_background` (the power law, mis-estimated as a pre-edge fit
   is: right at the edge, tilted away from it) and :func:`add_artefacts`
   (a gain-change step, spikes, dead channels); :func:`normalise` scales every spectrum into
   [-1, 1] (the paper's division by the maximum, for spectra without negative counts).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from eels_helpers.physics.elements import ELEMENTS
from eels_helpers.simulation import background as _background
from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.detectability import DETECTION_WIDTH_EV, DetectionRule, detectable
from eels_helpers.simulation.detectability import window_true_eV as _window_true_eV

__all__ = ["DISTRACTORS", "LOW_START_EV", "IMPLANTED_GASES", "generator", "add_carbon",
           "add_implanted_gas",
           "redraw_windows", "edge_free", "removed_pairs", "dark_level", "add_dark",
           "distractor_edges", "other_edges", "other_edge_context", "choose_eligible", "lone_edges",
           "fine_structure_depth", "lowloss_tail", "subtract_background", "add_artefacts", "normalise", "relabel"]

#: edges outside the 107 families: (element, L3 onset eV, L1 onset eV) (Al and Mg L2,3)
DISTRACTORS = (("Al", 72.55, 117.8), ("Mg", 49.5, 88.7))
#: distractor edges and the plasmon tail go under spectra whose window starts below this (eV)
LOW_START_EV = 110
#: edges outside the families are added from this far below the window start (eV) up: the
#: power-law background stands for the tails of everything below
OTHER_EDGE_LOOKBACK_EV = 20
#: lone out-of-family edges (step 5c) have their onset at most this far above the window start (eV)
LONE_EDGE_REACH_EV = 60


def generator(config: SimulationConfig, rng: np.random.Generator) -> np.random.Generator | None:
    """The open-world steps' own generator, seeded by one draw from ``rng``; None (and nothing
    drawn) when every open-world option is off."""
    if not config.open_world:
        return None
    return np.random.default_rng(int(rng.integers(0, 2**63 - 1)))


def add_carbon(specimens, config: SimulationConfig, ow: np.random.Generator) -> list:
    """Specimens with a carbon film: a fraction ``config.carbon_fraction`` of them get C at an
    atomic fraction x in ``config.carbon_atomic_fraction`` (the others scaled by 1 - x); those
    that hold C already are left as they are."""
    B = len(specimens)
    chosen = ow.random(B) < config.carbon_fraction
    x = ow.uniform(*config.carbon_atomic_fraction, size=B)
    return _with_added_element(specimens, chosen, ["C"] * B, x, ("C",))


def _with_added_element(specimens, chosen, symbols, x, unless) -> list:
    """A copy of ``specimens`` where each ``chosen`` one that holds none of ``unless`` gets
    ``symbols[b]`` at atomic fraction ``x[b]``, its other fractions scaled by 1 - x[b]."""
    from eels_helpers.simulation.specimens import Specimen

    out = list(specimens)
    for b in np.flatnonzero(chosen):
        s = out[b]
        if any(u in s.elements for u in unless):
            continue
        fr = [f * (1.0 - x[b]) for f in s.fractions] + [float(x[b])]
        out[b] = Specimen(s.elements + (symbols[b],), tuple(fr), s.query)
    return out


#: the implanted noble gases (:func:`add_implanted_gas`), drawn equally often
IMPLANTED_GASES = ("Ar", "Kr", "Xe")


def add_implanted_gas(specimens, config: SimulationConfig, ow: np.random.Generator) -> list:
    """Specimens with an implanted noble gas: a fraction ``config.implanted_gas_fraction`` of them get
    one of :data:`IMPLANTED_GASES` at an atomic fraction x in ``config.implanted_gas_atomic_fraction``
    (the others scaled by 1 - x), as ion milling (Ar), a plasma FIB (Xe) or irradiation (Kr, Xe
    bubbles) leave them; those that hold a noble gas already are left as they are. Nothing is drawn
    when the fraction is 0 (every other configuration's spectra stay bit-identical)."""
    if config.implanted_gas_fraction <= 0.0:
        return list(specimens)
    B = len(specimens)
    chosen = ow.random(B) < config.implanted_gas_fraction
    gas = ow.integers(0, len(IMPLANTED_GASES), size=B)
    x = ow.uniform(*config.implanted_gas_atomic_fraction, size=B)
    return _with_added_element(specimens, chosen, [IMPLANTED_GASES[g] for g in gas], x, IMPLANTED_GASES)


def redraw_windows(start, end, latest_start, earliest_end, config: SimulationConfig,
                   ow: np.random.Generator):
    """Windows (start, end) (B,) int, redrawn for a fraction of spectra: start in [75, 85] eV
    (``low_start_fraction``), or tight around the query edge (``narrow_window_fraction``: start
    up to 50 eV below ``latest_start``, end up to 100 eV above ``earliest_end``). The query
    edge set always stays inside: start <= latest_start, end >= earliest_end."""
    B = start.shape[0]
    low = ow.random(B) < config.low_start_fraction
    low_start = config.start_min_eV + np.floor(ow.random(B) * 11).astype(np.int64)
    narrow = ow.random(B) < config.narrow_window_fraction
    n_start = latest_start - np.floor(ow.random(B) * 51).astype(np.int64)
    n_end = earliest_end + np.floor(ow.random(B) * 101).astype(np.int64)
    start = np.where(low, np.minimum(low_start, latest_start), start)
    start = np.where(narrow, np.maximum(n_start, config.start_min_eV), start)
    end = np.where(narrow, np.minimum(n_end, config.end_max_eV), end)
    return start, end


def edge_free(n_spectra: int, config: SimulationConfig, ow: np.random.Generator) -> np.ndarray:
    """(B,) bool: the spectra whose edges are removed (``edge_free_fraction``)."""
    return ow.random(n_spectra) < config.edge_free_fraction


def removed_pairs(no_edges: np.ndarray, p) -> np.ndarray:
    """(M,) bool: the (spectrum, family) pairs removed from the edge-free spectra ``no_edges``
    (B,): every edge but carbon's, so that an edge-free spectrum of a specimen with a carbon
    film (:func:`add_carbon`) is a carbon-film-only spectrum, what a microscopist records over
    the holes of a holey-carbon grid (labelled C)."""
    from eels_helpers.simulation.shape_tables import family_arrays

    carbon = family_arrays().element[p.pair_family] == ELEMENTS.index("C")
    return no_edges[p.pair_spectrum] & ~carbon


def dark_level(p, config: SimulationConfig, ow: np.random.Generator):
    """(level (B,) counts per channel, subtracted (B,) bool): a flat dark/read-out pedestal
    D = A x 10^U(-3, 0) under a fraction ``dark_fraction`` of spectra (0 for the others), and
    which of them have it subtracted after the noise (half: a dark reference)."""
    B = len(p)
    chosen = ow.random(B) < config.dark_fraction
    level = p.bg_amplitude * 10.0 ** ow.uniform(-3.0, 0.0, size=B)
    subtracted = ow.random(B) < 0.5
    return np.where(chosen, level, 0.0), chosen & subtracted


def add_dark(counts, level, p, sign: float = 1.0) -> np.ndarray:
    """Counts (B, n) plus ``sign`` x the flat ``level`` (B,) inside each window."""
    ch = np.arange(counts.shape[1])
    window = (ch[None, :] >= p.start_eV[:, None]) & (ch[None, :] <= p.end_eV[:, None])
    return (counts + np.where(window, sign * level[:, None], 0.0)).astype(np.float32)


def fine_structure_depth(n_rows: int, config: SimulationConfig, ow: np.random.Generator) -> np.ndarray | None:
    """Depth d (n_rows,) of each edge's generic fine structure, uniform in ``config.fs_depth``
    (module docstring, step 4c); None, and nothing drawn, at the paper's depth (1, 1)."""
    if tuple(config.fs_depth) == (1.0, 1.0):
        return None
    return ow.uniform(*config.fs_depth, size=n_rows)


@lru_cache(maxsize=1)
def _distractor_calculator():
    from eels_helpers.physics.cross_section import CrossSectionCalculator
    from eels_helpers.physics.hydrogenic import HydrogenicSource
    from eels_helpers.simulation.lowloss import N_FFT

    source = HydrogenicSource(onsets={el: {"L3": l3, "L1": l1} for el, l3, l1 in DISTRACTORS})
    grid = np.arange(N_FFT, dtype=np.float64)
    grid[0] = 0.5
    return CrossSectionCalculator([(el, "L3", l3) for el, l3, _ in DISTRACTORS], grid, source)


def distractor_edges(p, config: SimulationConfig, ow: np.random.Generator, n_fft: int,
                     rule: DetectionRule | None, dark=None):
    """Al or Mg L2,3 edges (module docstring, step 5) on the true axis.

    Returns ``(edges (B, n_fft) float32 counts per channel, element (B,) int index in ELEMENTS
    of the added distractor or -1, labelled (B,) bool)``: labelled when the onset lies inside the
    window and, with a ``rule``, the edge passes it (``rule`` None: the window rule
    alone)."""
    B = len(p)
    eligible = p.start_eV < LOW_START_EV
    chosen = eligible & (ow.random(B) < config.distractor_fraction)
    which = ow.integers(0, len(DISTRACTORS), size=B)
    jump = ow.uniform(0.2, 1.5, size=B)
    out = np.zeros((B, n_fft), np.float32)
    element = np.full(B, -1, np.int64)
    labelled = np.zeros(B, bool)
    idx = np.flatnonzero(chosen)
    if not idx.size:
        return out, element, labelled
    sigma_all = _distractor_calculator()(p.E0_keV[idx], p.alpha_mrad[idx], p.beta_mrad[idx],
                                         dtype=np.float32)          # (n, 2, n_fft) barn/eV
    rows = sigma_all[np.arange(idx.size), which[idx]]
    onset = np.array([d[1] for d in DISTRACTORS])[which[idx]]
    start_true = p.start_eV[idx] - p.instrumental_shift_eV[idx]
    probe = np.rint(np.maximum(onset, start_true) + 10).astype(np.int64)
    bg_probe = _background.power_law(probe[:, None].astype(np.float64), p.bg_amplitude[idx],
                                     p.bg_exponent[idx], p.start_eV[idx])[:, 0]
    scale = jump[idx] * bg_probe / np.maximum(rows[np.arange(idx.size), probe], 1e-30)
    rows *= scale.astype(np.float32)[:, None]
    out[idx] = rows
    label = onset >= start_true
    if rule is not None and label.any():
        first = np.rint(onset).astype(np.int64)       # the rows' own axis; labelled: in the window
        label &= detectable(rows, first, first, p, idx, rule, dark)
    symbols = np.array([ELEMENTS.index(d[0]) for d in DISTRACTORS])
    element[idx] = symbols[which[idx]]
    labelled[idx] = label
    return out, element, labelled


def _slot_elements(p) -> np.ndarray:
    """(B, K) index in ELEMENTS of the element of each specimen slot, -1 for padding."""
    from eels_helpers.simulation.shape_tables import family_arrays

    return np.where(p.family >= 0, family_arrays().element[np.maximum(p.family, 0)], -1)


@lru_cache(maxsize=1)
def _other_edges_by_element():
    """(element index (n_edges,) of each row of the other-edge tables, (80, n_max) row indices of
    each element's edges, -1 padded)."""
    from eels_helpers.simulation.shape_tables import other_edge_list

    of_element = np.array([ELEMENTS.index(e.element) for e in other_edge_list()])
    per_element = np.full((len(ELEMENTS), max(np.bincount(of_element).max(), 1)), -1)
    for i, el in enumerate(of_element):
        per_element[el, np.argmax(per_element[el] < 0)] = i
    return of_element, per_element


@lru_cache(maxsize=1)
def _first_family_onset_eV() -> np.ndarray:
    """(80,) the lowest first onset (eV) of each element's families (inf: none)."""
    from eels_helpers.simulation.shape_tables import family_arrays

    fa = family_arrays()
    first = np.full(len(ELEMENTS), np.inf)
    np.minimum.at(first, fa.element, fa.first)
    return first


def _label_other_edges(labelled, rows, edge, spec, onset_eV, start_true, first_offset, p, rule, dark) -> None:
    """Set ``labelled[spectrum, element]`` for out-of-family edges ``rows`` (rows of
    :func:`_other_edges_by_element`'s tables, onset at column ``-first_offset``) by the rule every
    edge follows: the onset (true axis) inside the window and, with a ``rule``, detectable by it."""
    label = onset_eV >= start_true
    if rule is not None and label.any():
        label &= detectable(rows, np.full(spec.size, -first_offset), onset_eV, p, spec, rule, dark)
    labelled[spec[label], _other_edges_by_element()[0][edge[label]]] = True


def other_edges(p, edges, config: SimulationConfig, ow: np.random.Generator, n_fft: int,
                no_edges: np.ndarray, rule: DetectionRule | None, dark=None):
    """The specimen elements' edges outside the 107 families (module docstring, step 5b) on the
    true axis, for a fraction ``config.other_edges_fraction`` of the spectra that have edges.

    Each element of a chosen spectrum's specimen gets every edge of
    :data:`eels_helpers.physics.elements.OTHER_EDGES` the GOS source computes: dsigma/dE from the
    shape tables of :func:`eels_helpers.simulation.shape_tables.other_edge_tables` at the
    spectrum's beam energy and angles, times the element's atomic fraction and the spectrum's
    jump-ratio scale (the weight its families' edges get, ``edges.weight``), at the xraylib
    onset + the chemical shift of the element's first family, for the edges whose onset lies in
    the window or less than ``OTHER_EDGE_LOOKBACK_EV`` below it. No fine structure. Returns
    ``(counts (B, n_fft) float32, labelled (B, 80) bool)``: an element is labelled when such an
    edge's onset lies inside the window and, with a ``rule``, it is detectable by it."""
    from eels_helpers.simulation.shape_tables import other_edge_tables
    from eels_helpers.simulation.steps import core_loss_edges, place_edges

    B = len(p)
    out = np.zeros((B, n_fft), np.float32)
    labelled = np.zeros((B, len(ELEMENTS)), bool)
    chosen = (ow.random(B) < config.other_edges_fraction) & ~no_edges
    if not chosen.any():
        return out, labelled
    tables, available = other_edge_tables(tuple(config.E0_keV), config.gos)
    _, per_element = _other_edges_by_element()
    # scale per spectrum: weight = fraction x scale of every included pair
    scale = np.zeros(B)
    scale[p.pair_spectrum] = edges.weight / np.maximum(p.pair_fraction, 1e-300)
    # each (spectrum, element) once, at the element's first specimen slot (row-major order)
    slot_element = _slot_elements(p)
    b, k = np.nonzero((slot_element >= 0) & chosen[:, None])
    _, first = np.unique(b * len(ELEMENTS) + slot_element[b, k], return_index=True)
    b, k = b[first], k[first]
    cand = per_element[slot_element[b, k]]
    row, col = np.nonzero((cand >= 0) & available[np.maximum(cand, 0)])
    if not row.size:
        return out, labelled
    spec, edge = b[row], cand[row, col]
    frac, shift = p.fraction[b, k][row], p.chemical_shift_eV[b, k][row]
    any_tab = next(iter(tables.values()))
    # only edges in the window or just below it: the power law stands for everything further down
    onset = any_tab.onset_channel[edge] + shift
    start_true, end_true = _window_true_eV(p, spec)
    near = (onset >= start_true - OTHER_EDGE_LOOKBACK_EV) & (onset <= end_true)
    if not near.any():
        return out, labelled
    spec, edge, frac, onset, start_true = spec[near], edge[near], frac[near], onset[near], start_true[near]
    rows = core_loss_edges(tables, edge, p.E0_keV[spec], p.alpha_mrad[spec], p.beta_mrad[spec])
    rows *= (frac * scale[spec]).astype(np.float32)[:, None]
    out += place_edges(rows, spec, onset + any_tab.first_offset, B, n_fft)
    _label_other_edges(labelled, rows, edge, spec, onset, start_true, any_tab.first_offset, p, rule, dark)
    return out, labelled


def other_edge_context(p, spec, config: SimulationConfig):
    """What a step adding out-of-family edges to the spectra ``spec`` needs: ``(tables, available, any_tab,
    onset (n_edges,) int eV on the true axis, start_true, end_true (len(spec),) of their windows)`` from
    :func:`eels_helpers.simulation.shape_tables.other_edge_tables`."""
    from eels_helpers.simulation.shape_tables import other_edge_tables

    tables, available = other_edge_tables(tuple(config.E0_keV), config.gos)
    any_tab = next(iter(tables.values()))
    start_true, end_true = _window_true_eV(p, spec)
    return tables, available, any_tab, any_tab.onset_channel.astype(np.int64), start_true, end_true


def choose_eligible(eligible: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(M,) column of one True of each row of ``eligible`` (M, n) (each row holds at least one), chosen
    uniformly by ``u`` (M,) in [0, 1): the k-th True, k = floor(u x count)."""
    count = eligible.sum(axis=1)
    k = np.minimum((u * count).astype(np.int64), count - 1)
    return np.argmax(np.cumsum(eligible, axis=1) > k[:, None], axis=1)


def lone_edges(p, config: SimulationConfig, ow: np.random.Generator, n_fft: int, rule: DetectionRule | None,
               dark=None):
    """One lone edge outside the families under a fraction ``config.lone_edge_fraction`` of the
    spectra starting below 110 eV (module docstring, step 5c), on the true axis. Returns
    ``(counts (B, n_fft) float32, labelled (B, 80) bool)``."""
    from eels_helpers.simulation.steps import core_loss_edges, place_edges

    B = len(p)
    out = np.zeros((B, n_fft), np.float32)
    labelled = np.zeros((B, len(ELEMENTS)), bool)
    chosen = (p.start_eV < LOW_START_EV) & (ow.random(B) < config.lone_edge_fraction)
    pick, jump = ow.random(B), ow.uniform(0.2, 1.5, size=B)
    spec = np.flatnonzero(chosen)
    if not spec.size:
        return out, labelled
    tables, available, any_tab, onset, start_true, end_true = other_edge_context(p, spec, config)
    of_element, _ = _other_edges_by_element()
    eligible = (available[None, :] & (onset[None, :] >= start_true[:, None] - OTHER_EDGE_LOOKBACK_EV)
                & (onset[None, :] <= start_true[:, None] + LONE_EDGE_REACH_EV)
                & (_first_family_onset_eV()[of_element][None, :] > end_true[:, None]))
    has = eligible.any(axis=1)
    if not has.any():
        return out, labelled
    spec, eligible, start_true = spec[has], eligible[has], start_true[has]
    edge = choose_eligible(eligible, pick[spec])
    rows = core_loss_edges(tables, edge, p.E0_keV[spec], p.alpha_mrad[spec], p.beta_mrad[spec])
    first = onset[edge] + any_tab.first_offset                        # eV of each row's column 0
    # jump ratio at the edge's maximum over the first 50 eV of the window above its onset
    lo = np.maximum(onset[edge], np.ceil(start_true).astype(np.int64))
    cols = np.clip(lo[:, None] - first[:, None] + np.arange(DETECTION_WIDTH_EV), 0, rows.shape[1] - 1)
    seg = np.take_along_axis(rows, cols, axis=1)
    at = np.argmax(seg, axis=1)
    bg_at = _background.power_law((lo + at)[:, None].astype(np.float64), p.bg_amplitude[spec],
                                  p.bg_exponent[spec], p.start_eV[spec])[:, 0]
    rows *= (jump[spec] * bg_at / np.maximum(seg.max(axis=1), 1e-30)).astype(np.float32)[:, None]
    out += place_edges(rows, spec, first, B, n_fft)
    _label_other_edges(labelled, rows, edge, spec, onset[edge], start_true, any_tab.first_offset, p, rule, dark)
    return out, labelled


def lowloss_tail(p, config: SimulationConfig, ow: np.random.Generator, n_channels: int,
                 s_max: int) -> np.ndarray:
    """(B, n_channels + 2 s_max) float32 extra counts on the true axis -s_max.. (module docstring,
    step 6); zero for the spectra not chosen."""
    B = len(p)
    chosen = (p.start_eV < LOW_START_EV) & (ow.random(B) < config.lowloss_tail_fraction)
    ratio = ow.uniform(0.3, 3.0, size=B)
    r_t = ow.uniform(5.0, 10.0, size=B)
    tail = np.zeros((B, n_channels + 2 * s_max), np.float32)
    idx = np.flatnonzero(chosen)
    if idx.size:   # from 1 eV below the start on (the window starts at >= 75 eV): no overflow
        E = np.maximum(np.arange(-s_max, n_channels + s_max), p.start_eV[idx, None] - 1)
        tail[idx] = _background.power_law(E, p.bg_amplitude[idx] * ratio[idx], r_t[idx],
                                          p.start_eV[idx])
    return tail


def subtract_background(counts, background_recorded, anchor_eV, p, config: SimulationConfig,
                        ow: np.random.Generator) -> np.ndarray:
    """Counts (B, n) minus a fitted power law for a fraction ``background_subtracted_fraction``
    of spectra, inside the window only: the true background B(E) mis-estimated as a pre-edge fit
    is, B_fit(E) = (1 + e) B(E) (E / E_a)^-d with e ~ N(0, 0.01), d ~ N(0, 0.03) and E_a
    ``anchor_eV`` (B,) (recorded axis: the onset of the edge carrying the jump ratio), so the
    residual is small just before that edge and grows away from it."""
    B, n = counts.shape
    chosen = ow.random(B) < config.background_subtracted_fraction
    err = 1.0 + 0.01 * ow.standard_normal(B)
    tilt = 0.03 * ow.standard_normal(B)
    ch = np.arange(n)
    window = (ch[None, :] >= p.start_eV[:, None]) & (ch[None, :] <= p.end_eV[:, None])
    E = np.maximum(ch, 1)[None, :] / np.maximum(np.asarray(anchor_eV, np.float64), 1.0)[:, None]
    fit = background_recorded * (err[:, None] * E ** -tilt[:, None]).astype(np.float32)
    sub = np.where(window & chosen[:, None], fit, np.float32(0))
    return (counts - sub).astype(np.float32)


def add_artefacts(counts, p, config: SimulationConfig, ow: np.random.Generator) -> np.ndarray:
    """Detector artefacts in a fraction ``artefact_fraction`` of spectra, one kind each: a
    gain-change step (the counts from a random channel of the window on times 0.8-1.25), 1-5
    spikes (one channel times 5-50) or 1-10 dead channels (zero)."""
    B, n = counts.shape
    chosen = ow.random(B) < config.artefact_fraction
    kind = ow.integers(0, 3, size=B)
    lo = np.minimum(p.start_eV, n - 1)
    span = np.maximum(np.minimum(p.end_eV, n - 1) - lo + 1, 1)
    pos = lo[:, None] + np.floor(ow.random((B, 10)) * span[:, None]).astype(np.int64)
    factor = ow.uniform(0.8, 1.25, size=B)
    spike = ow.uniform(5.0, 50.0, size=(B, 10))
    number = ow.integers(1, 11, size=B)
    out = np.array(counts, dtype=np.float32, copy=True)
    ch = np.arange(n)
    step = chosen & (kind == 0)
    gain = np.where(step[:, None] & (ch[None, :] >= pos[:, :1]), factor[:, None], 1.0)
    out *= gain.astype(np.float32)
    slot = np.arange(10)[None, :]
    spikes = chosen[:, None] & (kind == 1)[:, None] & (slot < np.minimum(number, 5)[:, None])
    b, k = np.nonzero(spikes)
    out[b, pos[b, k]] *= spike[b, k].astype(np.float32)
    dead = chosen[:, None] & (kind == 2)[:, None] & (slot < number[:, None])
    b, k = np.nonzero(dead)
    out[b, pos[b, k]] = 0.0
    return out


def normalise(counts) -> np.ndarray:
    """Spectra divided by their largest absolute value, so that every channel lies in [-1, 1]
    (an all-zero spectrum stays zero). For spectra with positive counts this is the paper's
    division by the maximum; a background-subtracted spectrum whose edges are weaker than its
    over-subtracted, noisy parts would otherwise reach -1e4 (and such outliers wreck a network's
    BatchNorm statistics)."""
    scale = np.abs(counts).max(axis=1, keepdims=True)
    return counts / np.where(scale > 0, scale, np.float32(1))


def relabel(p, keep_pair: np.ndarray, distractor: np.ndarray, n_elements: int = len(ELEMENTS),
            other: np.ndarray | None = None, pair_label: np.ndarray | None = None):
    """(identification (B, 80) uint8, quantification (B, 80) float32) from the included pairs
    with ``keep_pair`` (M,) True, the distractor elements (B,) (-1: none) and the elements
    labelled by their edges outside the families, ``other`` (B, 80) bool (their specimen atomic
    fraction in the quantification); a spectrum with nothing labelled gets all-zero rows (no NaN).
    ``pair_label`` (M,) float32: soft labels of the pairs; the identification is then float32,
    each element's the largest of its kept pairs' (1 for the distractor and ``other`` elements)."""
    from eels_helpers.simulation.shape_tables import family_arrays

    B = len(p)
    bm = p.pair_spectrum[keep_pair]
    el = family_arrays().element[p.pair_family[keep_pair]]
    if pair_label is None:
        ident = np.zeros((B, n_elements), np.uint8)
        ident[bm, el] = 1
    else:
        ident = np.zeros((B, n_elements), np.float32)
        np.maximum.at(ident, (bm, el), pair_label[keep_pair])
    quant = np.zeros((B, n_elements), np.float32)
    quant[bm, el] = p.pair_fraction[keep_pair]
    has = distractor >= 0
    ident[np.flatnonzero(has), distractor[has]] = 1
    if other is not None and other.any():
        slot_element = _slot_elements(p)
        b, k = np.nonzero(slot_element >= 0)
        fraction = np.zeros((B, n_elements))
        fraction[b, slot_element[b, k]] = p.fraction[b, k]
        new = other & (ident == 0)
        ident[other] = 1
        quant[new] = fraction[new]
    total = quant.sum(axis=1, keepdims=True)
    quant = np.divide(quant, total, out=np.zeros_like(quant), where=total > 0)
    return ident, quant
