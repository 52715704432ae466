"""The causes of the failure analysis (:mod:`eels_helpers.evaluation.failure_analysis`, issue 15,
point 1): the rules that give each mistake on a real spectrum -- a false positive or a false
negative -- one cause, applied in the order of :data:`CAUSES`, first match wins; the tolerances
are the fields of :class:`FailureRules`, the facts of a file :func:`spectrum_facts`.

They use the manifest (labels, ``notes``), the file's energy window (after the manifest's
``energy_offset_eV``), its counts, and the edge table (the 107 families of
:mod:`eels_helpers.physics.elements` and :data:`NON_FAMILY_EDGES`). "In the window" means the
*network window*: the file's window cut to 75..3071 eV, what the pre-processing keeps.

1. ``outside_families``: a missed element whose only edges in the window are not among the 107
   families (Al L2,3 at 73 eV, the 3d metals' M2,3, the N4,5 of Hf..Bi; an edge counts when its
   onset lies in the window or up to ``delayed_maximum_eV`` below it), or a false positive with a
   family onset within ``non_family_tolerance_eV`` of such an edge of a true element;
2. ``no_edge_in_window``: a missed element with no edge at all in the window, or a false positive
   in a spectrum whose true elements have no family edge in the window;
3. ``neighbour_or_onset``: a false positive within ``lanthanide_dz`` in Z of a true lanthanide, or
   with a family onset within ``onset_tolerance_eV`` of a true element's family onset; a missed
   element with such a false positive beside it (a swap);
4. ``carbon_contamination``: a mistake whose element has a family onset within
   ``carbon_tolerance_eV`` of C K (284 eV) when carbon is labelled, named in the notes, reported
   by the model, or measured (a jump of more than ``carbon_jump`` over the power law fitted at
   250-280 eV);
5. ``low_start_region``: the file starts below 75 eV and the element has a family onset in
   75-150 eV, the region where the cut-off of the pre-processing meets the low-loss tail;
6. ``narrow_or_background_subtracted``: a network window narrower than ``narrow_window_eV``, or
   counts before the first labelled edge at or below zero, or below ``pre_edge_fraction`` of the
   counts just after it without a step or zero channels in between (a removed background);
7. ``artefacts``: the file has an artefact in the network window -- a gain-change step, dead
   channels, zero channels at the window start, spikes, saturation -- named in the notes
   (:func:`~eels_helpers.evaluation.failure_artefacts.note_artefacts`) or found in the counts
   (:func:`~eels_helpers.evaluation.failure_artefacts.detect_artefacts`); a false positive
   counts when one of its family onsets lies within ``artefact_tolerance_eV`` of the artefact (or
   the artefact has no position: saturation, spikes named without one), a missed element when the
   artefact lies before its edge or up to ``artefact_reach_eV`` above its onset;
8. ``several_transition_metals``: the spectrum holds two or more 3d metals (Sc..Zn), whose L2,3
   edges overlap and share the white-line shapes the simulator lacks;
9. ``true_element_subshell``: a false positive with a family onset within
   ``subshell_tolerance_eV`` of a subshell edge of a true element that is not the onset of one of
   its families or non-family edges (a weak s-shell such as Cr L1 695 eV, an M2,3 or N2,3 edge, or
   the upper j partner of a split pair such as Pt N4 331 eV): an edge the network read as another element's
   (session 35; it only takes mistakes that no rule above explains);
10. ``other``: none of the above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from eels_helpers.evaluation.failure_artefacts import detect_artefacts, note_artefacts
from eels_helpers.physics.elements import OTHER_EDGES

__all__ = ["CAUSES", "FailureCause", "FailureRules", "NON_FAMILY_EDGES", "SpectrumFacts", "spectrum_facts",
           "cause_of"]


@dataclass(frozen=True)
class FailureCause:
    """One group of mistakes: ``name`` (key), ``title`` (for tables) and what it means."""

    name: str
    title: str
    meaning: str


#: the causes, in the order their rules are applied (first match wins)
CAUSES: tuple[FailureCause, ...] = (
    FailureCause("outside_families", "edge outside the 107 families",
                 "the element's edge in the window is not one the networks were trained on"),
    FailureCause("no_edge_in_window", "no edge in the window",
                 "the edge table has no edge of the element (or of any true element) in the window"),
    FailureCause("neighbour_or_onset", "neighbouring lanthanide or onset mismatch",
                 "a neighbour in Z of a true lanthanide, or an element whose onset lies within a few eV"),
    FailureCause("carbon_contamination", "carbon contamination",
                 "an edge near C K (284 eV) in a spectrum with carbon"),
    FailureCause("low_start_region", "75-150 eV of a spectrum starting below 75 eV",
                 "the element's edge lies where the pre-processing's 75 eV cut meets the low-loss tail"),
    FailureCause("narrow_or_background_subtracted", "narrow window or background subtracted",
                 "the window is narrow or the counts before the first edge are (near) zero"),
    FailureCause("artefacts", "detector artefacts",
                 "a gain-change step, dead or zero channels, spikes or saturation in the window"),
    FailureCause("several_transition_metals", "several transition metals",
                 "two or more 3d metals whose L2,3 edges overlap"),
    FailureCause("true_element_subshell", "another subshell of a true element",
                 "an onset near a subshell edge of a true element that is not its families' onset (L1, M2,3, N4 ...)"),
    FailureCause("other", "other", "none of the rules above applies"),
)

#: ``{element: ((edge name, onset eV), ...)}``: the edges outside the 107 families, at the lower
#: onset of each j-split pair (:data:`eels_helpers.physics.elements.OTHER_EDGES`)
NON_FAMILY_EDGES: dict[str, tuple[tuple[str, float], ...]] = {
    el: tuple((e.name, e.onset_eV) for e in edges) for el, edges in OTHER_EDGES.items()}

#: 3d transition metals (Sc..Zn)
TRANSITION_METALS_3D = ("Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn")
#: C K onset (eV)
CARBON_K_EV = 284.0
#: the network's window (eV): the pre-processing keeps 75..3071 eV
NETWORK_WINDOW_EV = (75.0, 3071.0)


@dataclass(frozen=True)
class FailureRules:
    """The tolerances of the cause rules (module docstring); energies in eV.

    Validated at construction: energies positive (``pre_edge_fraction`` and ``carbon_jump`` in
    (0, 1), ``lanthanide_dz`` an integer 1..3, ``step_factor`` > 1).
    """

    non_family_tolerance_eV: float = 30.0
    delayed_maximum_eV: float = 30.0
    onset_tolerance_eV: float = 20.0
    lanthanide_dz: int = 2
    carbon_tolerance_eV: float = 30.0
    carbon_jump: float = 0.1
    low_region_eV: tuple[float, float] = (75.0, 150.0)
    narrow_window_eV: float = 150.0
    pre_edge_fraction: float = 0.05
    artefact_tolerance_eV: float = 30.0
    artefact_reach_eV: float = 100.0
    step_factor: float = 3.0
    subshell_tolerance_eV: float = 30.0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "lanthanide_dz":
                if not (isinstance(value, int) and 1 <= value <= 3):
                    raise ValueError(f"FailureRules.lanthanide_dz (atomic numbers): must be an integer in 1..3, "
                                     f"got {value!r}")
            elif f.name == "low_region_eV":
                lo, hi = (float(v) for v in value)
                if not 0 <= lo < hi <= 3071:
                    raise ValueError(f"FailureRules.low_region_eV (eV): must be (lo, hi) with 0 <= lo < hi <= 3071, "
                                     f"got {value!r}")
                object.__setattr__(self, f.name, (lo, hi))
            elif f.name in ("pre_edge_fraction", "carbon_jump"):
                if not 0.0 < float(value) < 1.0:
                    raise ValueError(f"FailureRules.{f.name} (fraction): must be in (0, 1), got {value!r}")
            elif f.name == "step_factor":
                if not float(value) > 1.0:
                    raise ValueError(f"FailureRules.step_factor (ratio of counts): must be > 1, got {value!r}")
            elif not (isinstance(value, (int, float)) and 0.0 < float(value) <= 1000.0):
                raise ValueError(f"FailureRules.{f.name} (eV): must be in (0, 1000] eV, got {value!r}")


@dataclass(frozen=True)
class SpectrumFacts:
    """What the rules know about one file.

    window_eV: the file's energy range after the offset correction; network_window_eV: that
    range cut to 75..3071 eV; family_onsets: ``{element: (onset eV, ...)}`` major onsets of the
    labelled elements' families in the network window; non_family: ``{element: ((edge, onset eV),
    ...)}`` their non-family edges in the window; carbon: why carbon counts as present ("" if not);
    background_subtracted, narrow: the window rule's two tests; artefacts: ``((kind, position eV or
    None, origin), ...)`` inside the network window.
    """

    file: str
    labels: tuple[str, ...]
    window_eV: tuple[float, float]
    network_window_eV: tuple[float, float]
    family_onsets: dict
    non_family: dict
    carbon: str
    narrow: bool
    background_subtracted: bool
    artefacts: tuple
    starts_below_75: bool



# ----------------------------------------------------------------------------- facts
def _family_onsets(element: str, lo: float, hi: float) -> tuple[float, ...]:
    from eels_helpers.physics.elements import ELEMENTS, families_of

    if element not in ELEMENTS:
        return ()
    return tuple(f.onset_eV for f in families_of(element) if lo <= f.onset_eV <= hi)


@lru_cache(maxsize=None)
def _all_family_onsets(element: str) -> tuple[float, ...]:
    return _family_onsets(element, 0.0, 1e9)


@lru_cache(maxsize=None)
def _other_subshells(element: str) -> tuple[tuple[str, float], ...]:
    """(name, onset eV) of the element's subshells that are not the onset of one of its families
    or non-family edges (Cr L1, Hg M3; Pt N4 of the non-family Pt N4,5)."""
    from eels_helpers.physics.elements import ELEMENTS, edges_of

    if element not in ELEMENTS:
        return ()
    return tuple((f"{element} {sub}", float(on)) for edge in edges_of(element)
                 for sub, on in zip(edge.subshells, edge.onsets_eV) if on != edge.onset_eV)


def _carbon_jump(grid: np.ndarray, values: np.ndarray) -> float:
    """Jump at C K: mean counts at 290-310 eV over the power law fitted (log-log) at 250-280 eV,
    minus 1; NaN when the window does not cover 250-310 eV or the counts are not positive."""
    pre = (grid >= 250) & (grid <= 280)
    post = (grid >= 290) & (grid <= 310)
    if pre.sum() < 10 or post.sum() < 10 or np.any(values[pre] <= 0):
        return float("nan")
    slope, icpt = np.polyfit(np.log(grid[pre]), np.log(values[pre]), 1)
    model = np.exp(icpt + slope * np.log(grid[post]))
    return float(values[post].mean() / model.mean() - 1.0)


def spectrum_facts(record: Any, spectrum: Any, rules: FailureRules = FailureRules(),
                   carbon_reported: bool = False) -> SpectrumFacts:
    """The facts the rules use for one manifest row ``record`` (a mapping with ``file``,
    ``labels``, ``energy_offset_eV``, optional ``notes``) and its (summed) ``spectrum``
    (:class:`eels_helpers.spectrum.Spectrum`); ``carbon_reported``: the model reports carbon."""
    from eels_helpers.inference.preprocess import resample_to_grid

    labels = tuple(record["labels"])
    offset = float(record.get("energy_offset_eV", 0.0) or 0.0)
    notes = str(record.get("notes", "") or "")
    energy = np.asarray(spectrum.energy_eV, dtype=np.float64) - offset
    lo_file, hi_file = float(energy.min()), float(energy.max())
    lo, hi = max(lo_file, NETWORK_WINDOW_EV[0]), min(hi_file, NETWORK_WINDOW_EV[1])
    family = {el: _family_onsets(el, lo, hi) for el in labels}
    non_family = {el: tuple((name, on) for name, on in NON_FAMILY_EDGES.get(el, ())
                            if lo - rules.delayed_maximum_eV <= on <= hi and on >= lo_file - 5.0) for el in labels}
    grid, values = resample_to_grid(spectrum, offset_eV=offset)
    values = np.asarray(values, dtype=np.float64)

    carbon = ""
    if "C" in labels:
        carbon = "labelled"
    elif re.search(r"\bC K\b|carbon", notes, flags=re.IGNORECASE):
        carbon = "named in the notes"
    elif carbon_reported:
        carbon = "reported by the model"
    else:
        jump = _carbon_jump(grid, values)
        if jump > rules.carbon_jump:
            carbon = f"measured: jump {jump:.2f} at C K"

    narrow = (hi - lo) < rules.narrow_window_eV
    inside = (grid >= lo) & (grid <= hi)
    g, v = grid[inside], values[inside]
    all_onsets = [on for el in labels for on in _all_family_onsets(el)] + [
        on for el in labels for _, on in NON_FAMILY_EDGES.get(el, ())]
    found = [(k, p, "notes") for k, p in note_artefacts(notes)]
    keep = (energy >= lo - 1) & (energy <= hi + 1)
    if keep.sum() > 20:
        found += [(k, p, "counts") for k, p in detect_artefacts(energy[keep], np.asarray(spectrum.data)[keep],
                                                                all_onsets, rules.step_factor)]
    artefacts = tuple((k, p, o) for k, p, o in found if p is None or lo - 5.0 <= p <= hi)

    edges = sorted(on for ons in family.values() for on in ons) + sorted(
        on for edges_ in non_family.values() for _, on in edges_ if on >= lo)
    subtracted = False
    if edges and g.size:
        first = min(edges)
        pre = v[(g >= lo) & (g <= first - 3)]
        post = v[(g >= first) & (g <= first + 30)]
        # a step or zero channels between the pre-edge and the edge is an artefact, not a removed background
        stepped = any(p is not None and k in ("gain_step", "dead_channels", "leading_zeros")
                      and lo - 5 <= p <= first + 30 for k, p, _ in artefacts)
        if pre.size >= 3 and post.size:
            level, below = float(np.median(post)), float(np.median(pre))
            subtracted = bool(below <= 0 or (not stepped and level > 0 and below < rules.pre_edge_fraction * level))
    return SpectrumFacts(str(record["file"]), labels, (lo_file, hi_file), (lo, hi), family, non_family, carbon,
                         bool(narrow), subtracted, artefacts, lo_file < NETWORK_WINDOW_EV[0])


# ----------------------------------------------------------------------------- the rules
def _near(onsets, targets, tolerance):
    """The first (onset, target) pair within ``tolerance`` (eV), else None."""
    for on in onsets:
        for t in targets:
            if abs(on - t) <= tolerance:
                return on, t
    return None


def cause_of(kind: str, element: str, facts: SpectrumFacts, others: Sequence[str],
           rules: FailureRules) -> tuple[str, str]:
    """(cause, reason) of one mistake; ``others``: the false positives (for an FN) of the spectrum."""
    from eels_helpers.physics.elements import atomic_number

    lo, hi = facts.network_window_eV
    truth = [e for e in facts.labels if e != element]
    edged = [e for e in truth if e != "C"]     # carbon near an onset is the carbon rule's
    own = _family_onsets(element, lo, hi)
    lanthanide = lambda el: 57 <= atomic_number(el) <= 71  # noqa: E731
    dz = lambda a, b: atomic_number(a) - atomic_number(b)  # noqa: E731
    # 1. outside the families
    if kind == "FN":
        if not own and facts.non_family.get(element):
            edges = ", ".join(f"{n} at {on:g} eV" for n, on in facts.non_family[element])
            return "outside_families", f"only non-family edges in the window: {edges}"
    else:
        for el in truth:
            hit = _near(own, [on for _, on in facts.non_family.get(el, ())], rules.non_family_tolerance_eV)
            if hit:
                name = next(n for n, on in facts.non_family[el] if on == hit[1])
                return "outside_families", f"{element} onset {hit[0]:g} eV near {name} at {hit[1]:g} eV (not a family)"
    # 2. no edge in the window
    if kind == "FN":
        if not own:
            return "no_edge_in_window", f"no edge of {element} in {lo:.0f}-{hi:.0f} eV"
    elif not any(facts.family_onsets.get(el) for el in truth):
        return "no_edge_in_window", f"no family edge of the true elements in {lo:.0f}-{hi:.0f} eV"
    # 3. neighbouring lanthanide or onset mismatch
    if kind == "FP":
        for el in edged:
            if lanthanide(el) and 0 < abs(dz(el, element)) <= rules.lanthanide_dz:
                return "neighbour_or_onset", f"{element} is {dz(element, el):+d} in Z of {el}"
            hit = _near(own, facts.family_onsets.get(el, ()), rules.onset_tolerance_eV)
            if hit:
                return "neighbour_or_onset", f"{element} onset {hit[0]:g} eV near {el} onset {hit[1]:g} eV"
    else:
        for fp in others:
            if lanthanide(element) and 0 < abs(dz(fp, element)) <= rules.lanthanide_dz:
                return "neighbour_or_onset", f"reported {fp} instead ({dz(fp, element):+d} in Z)"
            hit = _near(own, _family_onsets(fp, lo, hi), rules.onset_tolerance_eV) if fp != "C" else None
            if hit:
                return "neighbour_or_onset", f"reported {fp} instead (onset {hit[1]:g} eV near {hit[0]:g} eV)"
    # 4. carbon contamination
    if facts.carbon:
        hit = _near(own, [CARBON_K_EV], rules.carbon_tolerance_eV)
        if hit:
            return "carbon_contamination", f"{element} onset {hit[0]:g} eV near C K 284 eV (carbon {facts.carbon})"
    # 5. the 75-150 eV region of spectra that start below 75 eV
    if facts.starts_below_75:
        low = [on for on in own if rules.low_region_eV[0] <= on <= rules.low_region_eV[1]]
        if low:
            return "low_start_region", (f"file starts at {facts.window_eV[0]:.0f} eV; {element} onset {low[0]:g} eV "
                                        f"in {rules.low_region_eV[0]:.0f}-{rules.low_region_eV[1]:.0f} eV")
    # 6. narrow or background-subtracted windows
    if facts.narrow:
        return "narrow_or_background_subtracted", f"network window {lo:.0f}-{hi:.0f} eV ({hi - lo:.0f} eV wide)"
    if facts.background_subtracted:
        return "narrow_or_background_subtracted", "counts before the first edge (near) zero"
    # 7. artefacts
    for art, position, origin in facts.artefacts:
        where = "" if position is None else f" at {position:g} eV"
        if position is None:
            return "artefacts", f"{art.replace('_', ' ')} ({origin})"
        if kind == "FN" and own and position <= max(own) + rules.artefact_reach_eV:
            return "artefacts", f"{art.replace('_', ' ')}{where} ({origin}), before or on the {element} edge"
        hit = _near(own, [position], rules.artefact_tolerance_eV)
        if hit:
            return "artefacts", f"{element} onset {hit[0]:g} eV near {art.replace('_', ' ')}{where} ({origin})"
    # 8. several transition metals
    metals = [el for el in facts.labels if el in TRANSITION_METALS_3D]
    if len(metals) >= 2:
        return "several_transition_metals", f"3d metals {', '.join(metals)}"
    # 9. another subshell of a true element
    if kind == "FP":
        for el in edged:
            subs = [(n, on) for n, on in _other_subshells(el) if lo - rules.delayed_maximum_eV <= on <= hi]
            hit = _near(own, [on for _, on in subs], rules.subshell_tolerance_eV)
            if hit:
                name = next(n for n, on in subs if on == hit[1])
                return "true_element_subshell", f"{element} onset {hit[0]:g} eV near {name} at {hit[1]:g} eV"
    return "other", ""

