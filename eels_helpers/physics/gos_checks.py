"""Validation aids of the GOS tables and cross sections: the GOS surface of a subshell, the
Bethe sum rule, Kissel's optical df/dE (xraylib) and the optical-limit comparison of every edge
family. Used by the cross-section chapter and the tests, not by the simulator.
"""

from __future__ import annotations

import numpy as np

from eels_helpers.physics import elements
from eels_helpers.physics.cross_section import A0_M, resolve_edge
from eels_helpers.physics.gos_tables import canonical_subshell, get_source

__all__ = ["gos_surface", "bethe_sum", "kissel_dfde", "optical_limit_comparison",
           "pauli_blocked_strength", "subshell_strength"]

def gos_surface(element: str, subshell: str, gos="builtin"):
    """(q in 1/Angstrom, free energies in eV, df/dE (n_q, n_E) per eV with the occupancy ratio
    applied) of the continuum table of a subshell: for surface plots."""
    src = get_source(gos)
    table, ratio = src.table(element, canonical_subshell(subshell))
    cont = table.continuum()
    return cont.q_inv_m * 1e-10, cont.free_energies_eV, ratio * cont.dfde_per_eV


def bethe_sum(element: str, subshell: str, q_au: float, gos="builtin") -> float:
    """Bethe sum  S(q) = integral_0^inf df/dE(q, E) dE  of a subshell at momentum transfer q
    (atomic units, 1/a0), occupancy ratio applied. Bethe (1930): S -> N, the number of
    electrons, once q is large enough that the Bethe ridge lies inside the table (sum over ALL
    final states; a one-subshell continuum table misses transitions into occupied or bound
    states, so S stays slightly below N). The table is integrated by the trapezoid rule on a
    fine log grid; beyond its last energy, the power law through the last two energies is
    integrated analytically."""
    src = get_source(gos)
    table, ratio = src.table(element, canonical_subshell(subshell))
    cont = table.continuum()
    q = np.array([q_au / A0_M])
    fe = cont.free_energies_eV
    grid = np.unique(np.concatenate([fe, np.geomspace(max(fe[1], 1e-3), fe[-1], 4000)]))
    g = cont.interpolate(grid, q)[0]
    s = float(np.sum(0.5 * (g[1:] + g[:-1]) * np.diff(grid)))
    e0 = cont.ionization_energy_eV if np.isfinite(cont.ionization_energy_eV) else 0.0
    e1, e2 = grid[-2] + e0, grid[-1] + e0
    if g[-1] > 0 and g[-2] > g[-1]:
        r = np.log(g[-2] / g[-1]) / np.log(e2 / e1)
        if r > 1:
            s += g[-1] * e2 / (r - 1)
    return ratio * s


def kissel_dfde(element: str, subshells, E_eV) -> np.ndarray:
    """Optical df/dE (1/eV per atom) from xraylib's Kissel subshell photo-ionisation cross
    sections (``CS_Photo_Partial``, cm^2/g): sigma_atom = CS A / N_A, df/dE = sigma_atom /
    (1.0976e-16 cm^2 eV)  (Egerton 2011 eq. 3.12 with the Thomas-Reiche-Kuhn constant 2 pi^2
    e^2 hbar/(m c) = 1.0976e-16 cm^2 eV). Summed over ``subshells``; NaN where xraylib has no
    value (below the X-ray edge)."""
    import xraylib

    Z = int(xraylib.SymbolToAtomicNumber(element))
    A = xraylib.AtomicWeight(Z)
    shells = [getattr(xraylib, f"{canonical_subshell(s)}_SHELL" if s not in ("K", "K1")
                      else "K_SHELL") for s in subshells]
    E = np.atleast_1d(np.asarray(E_eV, dtype=np.float64))
    out = np.zeros(E.size)
    for sh in shells:
        for i, e in enumerate(E):
            try:
                out[i] += xraylib.CS_Photo_Partial(Z, sh, e / 1000.0)
            except ValueError:
                out[i] = np.nan
    return out * A / 6.02214076e23 / 1.0976e-16


#: tolerance of the project's optical-limit validation per nl group (others: reported only)
_GROUP_TOL = {"K1": 0.10, "L23": 0.10, "M45": 0.10, "N1": 0.25, "N23": 0.25, "N45": 0.25,
              "N67": 0.25}


def optical_limit_comparison(gos="builtin", edges=None, *, start_above_eV: float = 30.0,
                             stop_eV: float = 3000.0, n_points: int = 25):
    """Optical limit (q -> 0) of the GOS against Kissel photo-ionisation (xraylib) for every
    nl group of every edge family: ratio ours/Kissel on a log grid from ``start_above_eV``
    above the group's highest onset (ours or xraylib's) to ``stop_eV``.

    Returns a pandas DataFrame with one row per (family, group): ratio min / median / max, the
    tolerance of the project's validation (10 % for K, L2,3 and M4,5; 25 % for N groups; NaN
    for the other groups, which are reported only), ``ok`` (None when not validated), and
    ``note`` giving the reason when a group is not checked.
    """
    import pandas as pd
    import xraylib

    from eels_helpers.physics.gos_tables import nl_table_name

    src = get_source(gos)
    rows = []
    for spec in (list(elements.EDGE_FAMILIES) if edges is None else edges):
        spec = resolve_edge(spec)
        groups: dict[str, list] = {}
        for sub, on in zip(spec.subshells, spec.onsets_eV):
            groups.setdefault(nl_table_name(sub), []).append((sub, on))
        avail = set(src.available(spec.element))
        Z = int(xraylib.SymbolToAtomicNumber(spec.element))
        for grp, members in groups.items():
            subs = [m[0] for m in members]
            row = {"edge": spec.name, "group": grp, "subshells": ",".join(subs),
                   "tolerance": _GROUP_TOL.get(grp, np.nan)}
            missing = [s for s in subs if s not in avail]
            if missing:
                rows.append({**row, "ok": None,
                             "note": f"GOS source has no {','.join(missing)}"})
                continue
            xedge = []
            for s in subs:
                try:
                    xedge.append(1000 * xraylib.EdgeEnergy(
                        Z, getattr(xraylib, "K_SHELL" if s == "K1" else f"{s}_SHELL")))
                except ValueError:
                    xedge.append(np.nan)
            e_lo = max(max(m[1] for m in members), np.nanmax(xedge)) + start_above_eV
            if not np.isfinite(e_lo) or e_lo >= stop_eV:
                rows.append({**row, "ok": None,
                             "note": f"onset + {start_above_eV:g} eV is above {stop_eV:g} eV"})
                continue
            E = np.geomspace(e_lo, stop_eV, n_points)
            ours = np.zeros(E.size)
            for s, on in members:
                table, _ = src.table(spec.element, s)
                q0 = np.array([table.continuum().q_inv_m[0] * 0.5])  # held at the dipole limit
                ours += src.dfde(spec.element, s, E - on, q0)[0]
            ref = kissel_dfde(spec.element, subs, E)
            good = np.isfinite(ref) & (ref > 0)
            if not good.any():
                rows.append({**row, "ok": None, "note": "no Kissel data (xraylib)"})
                continue
            ratio = ours[good] / ref[good]
            validated = np.isfinite(row["tolerance"])
            ok = bool(np.all(np.abs(ratio - 1) <= row["tolerance"])) if validated else None
            rows.append({**row, "E_from_eV": float(E[good][0]), "E_to_eV": float(E[good][-1]),
                         "n_points": int(good.sum()), "ratio_min": float(ratio.min()),
                         "ratio_median": float(np.median(ratio)),
                         "ratio_max": float(ratio.max()), "ok": ok,
                         "note": "" if validated else "outside the validated groups: reported"})
    cols = ["edge", "group", "subshells", "E_from_eV", "E_to_eV", "n_points", "ratio_min",
            "ratio_median", "ratio_max", "tolerance", "ok", "note"]
    return pd.DataFrame(rows).reindex(columns=cols)


def pauli_blocked_strength(atom, n: int, l: int, r_max_bohr: float = 40.0, n_r: int = 400_001) -> float:
    """Oscillator strength (dimensionless, < 0) of the downward dipole transitions of the full
    subshell nl into the atom's occupied lower subshells n'l' (l' = l +- 1, e_n'l' < e_nl), which
    the Pauli principle forbids.

    Thomas-Reiche-Kuhn sum for one subshell of a central-field atom (Bethe & Salpeter, Quantum
    Mechanics of One- and Two-Electron Atoms (1957) sec. 61; Fano & Cooper, Rev. Mod. Phys. 40,
    441 (1968) sec. 2.3): the sum over ALL final states is the subshell's electron count N = 2(2l+1),
    so the allowed (upward: lines + continuum) strength is N - (this value). Per transition
    (atomic units, Delta E = e_n'l' - e_nl < 0)::

        f = (2/3) Delta E max(l, l')/(2l + 1) |int P_nl r P_n'l' dr|^2 x N x (occupation of n'l')/(2(2l'+1))

    ``atom``: an :class:`~eels_helpers.physics.atomic_gos.AtomModel` with its bound orbitals
    (e.g. :func:`~eels_helpers.physics.atomic_gos.lda_atom`)."""
    r = np.linspace(1e-5, r_max_bohr, n_r)
    core = atom.orbital(n, l)
    P = core.u(r)
    total = 0.0
    for (n2, l2), low in atom.orbitals.items():
        if abs(l2 - l) != 1 or low.energy_Ha >= core.energy_Ha:
            continue
        radial = float(np.trapezoid(P * low.u(r) * r, r))
        total += ((2.0 / 3.0) * (low.energy_Ha - core.energy_Ha) * max(l, l2) / (2 * l + 1)
                  * radial ** 2 * 2 * (2 * l + 1) * low.occupation / (2 * (2 * l2 + 1)))
    return total


def subshell_strength(family, q_au: float = 0.011, gos="builtin") -> tuple[float, float]:
    """(white lines, continuum): the optical (q -> 0) oscillator strength of an edge family's
    spin-orbit pair of subshells (L2,3, M4,5 or N4,5): the lines' f(q -> 0) summed
    (:func:`eels_helpers.physics.white_lines.white_lines`; 0 without lines) and the continuum's
    Bethe sum at ``q_au`` (:func:`bethe_sum`). Their sum is the allowed strength that the
    sum rule of :func:`pauli_blocked_strength` fixes (for a final shell with no electrons in it:
    a filled part of the final shell blocks its share of the lines as well)."""
    from eels_helpers.physics.white_lines import white_lines

    fam = elements.family(resolve_edge(family).name)
    if len(fam.major) != 2:
        raise ValueError(f"{fam.name}: subshell_strength covers L2,3, M4,5 and N4,5 families")
    lines = sum(ln.f_q[0] for ln in white_lines() if ln.family == fam.name)
    return float(lines), float(sum(bethe_sum(fam.element, s, q_au, gos) for s in fam.major))
