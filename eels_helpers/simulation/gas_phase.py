"""Gas-phase spectra: a noble gas alone, seen through its edges outside the 107 families.

A spectrum of a gas (an environmental cell, the EELS Atlas's Kr and Xe, a large gas bubble in the beam) holds
the gas's edges and nothing else; below 600 eV those of Kr and Xe are all outside the paper's families (Kr
M4,5 at 94 eV and M2,3 at 215 eV, its L2,3 family at 1675 eV; Xe N4,5 at 68 eV and N2,3 at 146 eV, its M4,5
family at 672 eV). Every other simulated spectrum is drawn around an edge family of its specimen (the query
element), so without this step a Kr spectrum always holds a matrix edge too (the implanted gases of
:func:`eels_helpers.simulation.open_world.add_implanted_gas`).

With ``SimulationConfig.gas_phase_fraction`` > 0, in :func:`eels_helpers.simulation.pipeline.simulate_batch`:

1. :func:`gas_phase_spectra` (beside :func:`~eels_helpers.simulation.open_world.edge_free`): that fraction of the
   spectra whose window starts below ``LOW_START_EV`` (110 eV) are chosen; their specimen's edges are removed
   as an edge-free spectrum's are (a carbon film's C K stays);
2. :func:`gas_phase_edges` (after the lone edges, which these spectra do not get): one gas of
   :data:`GAS_PHASE_GASES`, uniformly among those with an out-of-family edge from ``OTHER_EDGE_LOOKBACK_EV``
   below the window's true start to ``LONE_EDGE_REACH_EV`` above it and no family in the window, gets every
   out-of-family edge from the lookback to the window's end (builtin GOS tables, the configuration's GOS
   source: with ``+rydberg`` the Kr 3d -> np lines come along), scaled so that the first edge's jump ratio
   is ``GAS_PHASE_JUMP_RATIO`` (0.2-1.5) by the paper's definition for the chosen edge of a spectrum (Table 1:
   its peak amplitude, here inside the window, over the background at its onset, or at the window's start
   if that is later): the gas is the specimen, its first edge the spectrum's chosen edge; the others in
   their cross-section ratio; labelled by the rule every edge follows (onset inside the
   window and, with detectability labels, detectable). A chosen spectrum without such a gas stays edge-free.

Nothing is drawn when the fraction is 0, so every other configuration's spectra stay bit-identical.
"""

from __future__ import annotations

import numpy as np

from eels_helpers.physics.elements import ELEMENTS
from eels_helpers.simulation import background as _background
from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.detectability import DetectionRule
from eels_helpers.simulation.open_world import (
    LONE_EDGE_REACH_EV,
    LOW_START_EV,
    OTHER_EDGE_LOOKBACK_EV,
    _first_family_onset_eV,
    _label_other_edges,
    _other_edges_by_element,
    choose_eligible,
    other_edge_context,
)

__all__ = ["GAS_PHASE_GASES", "GAS_PHASE_JUMP_RATIO", "gas_phase_spectra", "gas_phase_edges"]

#: the gases of gas-phase spectra: those whose low edges are all outside the families (Ar's L2,3 is a family)
GAS_PHASE_GASES = ("Kr", "Xe")
#: jump ratio of a gas-phase spectrum's first edge (the paper's definition and range, Table 1)
GAS_PHASE_JUMP_RATIO = (0.2, 1.5)


def gas_phase_spectra(p, config: SimulationConfig, ow: np.random.Generator) -> np.ndarray:
    """(B,) bool: the spectra made gas-phase spectra (``config.gas_phase_fraction`` of those whose window starts
    below ``LOW_START_EV``); all False, and nothing drawn, when the fraction is 0."""
    if config.gas_phase_fraction <= 0.0:
        return np.zeros(len(p), dtype=bool)
    drawn = ow.random(len(p))
    return (np.asarray(p.start_eV) < LOW_START_EV) & (drawn < config.gas_phase_fraction)


def gas_phase_edges(p, config: SimulationConfig, ow: np.random.Generator, chosen: np.ndarray, n_fft: int,
                    rule: DetectionRule | None, dark=None):
    """The gas's edges of the ``chosen`` (B,) spectra on the true axis (module docstring, step 2). Returns
    ``(counts (B, n_fft) float32, labelled (B, 80) bool)``: labelled by the rule every edge follows (the
    onset inside the window and, with a ``rule``, detectable by it)."""
    from eels_helpers.simulation.steps import core_loss_edges, place_edges

    B = len(p)
    out = np.zeros((B, n_fft), np.float32)
    labelled = np.zeros((B, len(ELEMENTS)), bool)
    pick, jump = ow.random(B), ow.uniform(*GAS_PHASE_JUMP_RATIO, size=B)
    spec = np.flatnonzero(chosen)
    if not spec.size:
        return out, labelled
    tables, available, any_tab, onset, start_true, end_true = other_edge_context(p, spec, config)
    of_element, _ = _other_edges_by_element()
    gases = np.array([ELEMENTS.index(g) for g in GAS_PHASE_GASES])
    of_gas = of_element[None, :] == gases[:, None]                           # (n_gases, n_edges)
    near = available[None, :] & (onset[None, :] >= start_true[:, None] - OTHER_EDGE_LOOKBACK_EV)
    opens = near & (onset[None, :] <= start_true[:, None] + LONE_EDGE_REACH_EV)          # (n_spec, n_edges)
    no_family = _first_family_onset_eV()[gases][None, :] > end_true[:, None]              # (n_spec, n_gases)
    eligible = (opens.astype(np.int64) @ of_gas.T.astype(np.int64) > 0) & no_family
    has = eligible.any(axis=1)
    if not has.any():
        return out, labelled
    spec, eligible, start_true, end_true, near = spec[has], eligible[has], start_true[has], end_true[has], near[has]
    gas = choose_eligible(eligible, pick[spec])                            # index into GAS_PHASE_GASES
    # every edge of the gas from the lookback to the window's end
    use = near & of_gas[gas] & (onset[None, :] <= end_true[:, None])
    row, edge = np.nonzero(use)
    rows = core_loss_edges(tables, edge, p.E0_keV[spec[row]], p.alpha_mrad[spec[row]], p.beta_mrad[spec[row]])
    first = onset[edge] + any_tab.first_offset                              # eV of each row's column 0
    # the scale: the paper's jump ratio of the first edge (Table 1's definition, as for a query edge): its peak
    # amplitude inside the window over the background at its onset (the window's start if that is later)
    lowest = np.full(len(spec), np.iinfo(np.int64).max)
    np.minimum.at(lowest, row, onset[edge])
    is_lead = onset[edge] == lowest[row]
    lo = np.maximum(onset[edge], np.ceil(start_true[row]).astype(np.int64))
    col = np.arange(rows.shape[1])[None, :] + first[:, None]                 # eV of every column
    inside = (col >= lo[:, None]) & (col <= end_true[row][:, None])
    peak = np.where(inside, rows, 0.0).max(axis=1)
    s = spec[row]
    bg_at = _background.power_law(lo[:, None].astype(np.float64), p.bg_amplitude[s], p.bg_exponent[s],
                                  p.start_eV[s])[:, 0]
    factor = np.zeros(len(spec))
    np.maximum.at(factor, row, np.where(is_lead, jump[s] * bg_at / np.maximum(peak, 1e-30), 0.0))
    rows *= factor[row].astype(np.float32)[:, None]
    out += place_edges(rows, s, first, B, n_fft)
    _label_other_edges(labelled, rows, edge, s, onset[edge], start_true[row], any_tab.first_offset, p, rule, dark)
    return out, labelled
