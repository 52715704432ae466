"""Multiplet branching of a threshold shape resonance: the M5 : M4 ratio of Ba M4,5.

The in-house continuum GOS (:mod:`eels_helpers.physics.atomic_gos`: the ground-state LDA atom)
holds Ba's 3d -> 4f strength as a shape resonance at the threshold: a line ~1 eV wide, 2 eV above
each of the M5 and M4 onsets, ~36 x the continuum 60 eV higher (the 4f, held by the l = 3
centrifugal barrier, is about to collapse; Fano & Cooper, Rev. Mod. Phys. 40, 441 (1968)). Both
j components come from one nl table (Ba/M45), so the resonance is shared statistically,
M5 : M4 = 3 : 2, as the simulator's white-line tables leave it (they hold no Ba lines:
:func:`eels_helpers.physics.white_line_calculation.line_specs`). Simulated Ba M4,5 is then a doublet
15 eV apart with the first line the stronger, as the tables' Co L2,3 (2 : 1, 15 eV apart, at 779 eV
beside Ba's 781 eV), and the networks confuse the two (single-element simulated spectra:
docs/research-log.md, "Simulating spectra: design history").

Ba2+ is isoelectronic with La3+: the transition is 3d^10 4f^0 -> 3d^9 4f^1, whose particle-hole
multiplet (the 3d-4f exchange G1 with the 4f collapsed by the core hole, the Z+1 atom's 4f) moves
strength from M5 to M4: computed with the same code as La's lines
(:func:`eels_helpers.physics.white_line_calculation.multiplet_branching`; Ba: G1 = 3.1 eV,
zeta_3d = 6.42 eV, M5 share 0.430, M5/M4 0.75; La: 0.421; M5/M4 of La and Ce compounds ~0.8:
Thole et al., Phys. Rev. B 32, 5107 (1985); Fortner & Buck, Appl. Phys. Lett. 68, 3817 (1996), CeO2).
Cs has no such shift: its Z+1 atom (Ba) has no collapsed 4f, G1 = 0, the statistical 0.600.

:class:`MultipletResonanceSource` wraps a GOS source and re-weights the j components within the
resonance: the occupancy ratio of component j becomes

    r_j(eps) = s_j + (b_j - s_j) w(eps),   w = 1 for eps <= 10 eV, cos^2 taper to 0 at 20 eV,

(s_j the statistical share 3/5 or 2/5, b_j the multiplet's; eps the energy above the component's
onset), i.e. the table of j is multiplied by r_j(eps) / s_j. Both components use the same nl
table, so the strength moved out of M5 is the strength added to M4 at every eps: the total is
conserved exactly. Beyond 20 eV the continuum is unchanged. Positions and widths stay the
atom's (the multiplet's mean push, +4.8 eV, is left out, as for La's lines at the tabulated onsets).
Name: ``"<base>+4f-multiplet"`` in :func:`eels_helpers.physics.gos_tables.get_source`, e.g.
``"builtin+4f-multiplet"`` (the simulator's ``SimulationConfig.gos``).
"""

from __future__ import annotations

import numpy as np

from eels_helpers.physics.gos_tables import MULTIPLET_4F_SUFFIX, GosTable, WrappedGosSource, canonical_subshell

__all__ = ["SUFFIX", "RESONANCE_BRANCHING", "RESONANCE_FULL_EV", "RESONANCE_END_EV", "resonance_weight",
           "MultipletResonanceSource"]

#: suffix of a GOS source name that applies the multiplet branching to its threshold resonances
SUFFIX = MULTIPLET_4F_SUFFIX
#: element -> (share of the major component M5 from the 3d^9 4f^1 particle-hole multiplet, how it
#: was computed): a constant, so that the simulator needs no GPAW; recomputed with GPAW in
#: tests/physics/test_threshold_resonance.py
RESONANCE_BRANCHING = {
    "Ba": (0.430, "multiplet_branching(lda_atom('Ba'), lda_atom('La'), 'M4f', 0): G1 = 3.1 eV, "
                  "zeta = 6.42 eV, push +4.8 eV"),
}
#: the weight w(eps) is 1 up to this energy above the component's onset (eV) ...
RESONANCE_FULL_EV = 10.0
#: ... and falls to 0 (cos^2) at this one (eV)
RESONANCE_END_EV = 20.0
#: the two components of an M4,5 family and their statistical shares (2j + 1) / 10
_STATISTICAL = {"M5": 0.6, "M4": 0.4}


def resonance_weight(eps_eV) -> np.ndarray:
    """w(eps): 1 for eps <= RESONANCE_FULL_EV, cos^2 down to 0 at RESONANCE_END_EV, 0 beyond and
    below 0 (eps in eV above the component's onset)."""
    eps = np.asarray(eps_eV, dtype=np.float64)
    t = np.clip((eps - RESONANCE_FULL_EV) / (RESONANCE_END_EV - RESONANCE_FULL_EV), 0.0, 1.0)
    return np.where(eps >= 0, np.cos(0.5 * np.pi * t) ** 2, 0.0)


class MultipletResonanceSource(WrappedGosSource):
    """A GOS source whose threshold resonances of :data:`RESONANCE_BRANCHING` are shared between
    M5 and M4 by the multiplet (module docstring); every other table is ``base``'s, unchanged."""

    suffix = SUFFIX

    def __init__(self, base, branching: dict | None = None):
        super().__init__(base)
        self.branching = dict(RESONANCE_BRANCHING if branching is None else branching)

    def table(self, element: str, subshell: str) -> tuple[GosTable, float]:
        """(table, occupancy ratio): ``base``'s, the table multiplied by r_j(eps) / s_j for the
        M5 and M4 of the elements in the branching (one object per subshell, cached)."""
        sub = canonical_subshell(subshell)
        if element not in self.branching or sub not in _STATISTICAL:
            return self.base.table(element, subshell)
        key = (element, sub)
        if key not in self._tables:
            t, ratio = self.base.table(element, subshell)
            share = self.branching[element][0] if sub == "M5" else 1.0 - self.branching[element][0]
            stat = _STATISTICAL[sub]
            factor = 1.0 + (share / stat - 1.0) * resonance_weight(t.free_energies_eV)
            self._tables[key] = (GosTable(t.element, f"{t.table}:{sub}", t.q_inv_m, t.free_energies_eV,
                                          t.dfde_per_eV * factor[None, :], t.ionization_energy_eV, t.n, t.l,
                                          {**t.attrs, "resonance_branching": share}), ratio)
        return self._tables[key]
