"""Bonding lines of the light elements' K edges: 1s -> pi* lines and 1s -> sigma* resonances.

Open-world steps of the simulator (:mod:`eels_helpers.simulation.open_world`, step 4b, after the
generic fine structure and before the detectability test), each on a fraction of the B, C, N and O
K edge rows, drawing from the open-world generator only when its option is on.

:func:`add_pi_star` (``pi_star_fraction``): a 1s -> pi* line, the core electron's transition into
the empty, bound pi* orbital of a pi-bonded solid or molecule (h-BN, graphitic and amorphous carbon, N2, O2, CO,
carbonates, nitrates) or the O 2p - metal d pre-peak of transition-metal oxides: a
bound-bound transition at or just below the ionisation threshold, as the white lines are
(Stohr, NEXAFS Spectroscopy (Springer 1992), ch. 4; Egerton 2011, sec. 3.8.1 and 5.6; the EELS
Atlas, Ahn & Krivanek 1983). A Lorentzian of FWHM ``PI_STAR_FWHM_EV`` (natural width
0.1-0.2 eV, vibrational and solid-state broadening; the energy resolution comes later with the
low-loss convolution) at ``PI_STAR_OFFSET_EV`` from the tabulated K onset (N2 and h-BN N K
401 eV at the tabulated 401; graphite C K 285 vs 284; O2 530.8 vs 532; h-BN B K 192 vs 188),
with an area of ``PI_STAR_AREA`` times the edge's own counts over its first 20 eV (graphite's
pi* is ~0.2-0.3 of that window, h-BN's B K and N2's N K ~0.5-1: Berger, McKenzie & Martin,
Phil. Mag. Lett. 57, 285 (1988); Hitchcock & Mancini, J. Electron Spectrosc. 67, 1 (1994)).
The line is the element's own signal: it counts towards the detectability of its edge. Without
it, a sharp peak at 401-402 eV was only ever Sc L3 in training (real BN and N2 N K spectra
were called Sc.

:func:`add_sigma_star` (``sigma_star_fraction``, session 29, experiment S29): the 1s -> sigma* shape
resonance, the core electron's transition into the antibonding sigma* orbital of the bonds, a
quasi-bound state above the ionisation threshold that every bonded light element shows as a broad
peak 5-15 eV above its K onset (Stohr, NEXAFS Spectroscopy (Springer 1992), ch. 4-5: graphite C K
~292 eV, h-BN B K ~198 eV and N K ~408 eV; Egerton 2011, sec. 3.8).
"""

from __future__ import annotations

import numpy as np

from eels_helpers.simulation.config import SimulationConfig

__all__ = ["PI_STAR_FAMILIES", "add_pi_star", "add_sigma_star"]

#: K families that get a 1s -> pi* line (module docstring); position (eV from the
#: tabulated K onset), FWHM (eV) and area (x the edge's counts over its first 20 eV) drawn uniformly
PI_STAR_FAMILIES = ("B K", "C K", "N K", "O K")
PI_STAR_OFFSET_EV = (-1.5, 4.5)
PI_STAR_FWHM_EV = (0.4, 1.5)
PI_STAR_AREA = (0.1, 1.0)
PI_STAR_REFERENCE_EV = 20
#: the same families' 1s -> sigma* shape resonances (:func:`add_sigma_star`): broad, 5-15 eV above
#: the onset (Stohr, NEXAFS Spectroscopy (Springer 1992), ch. 4-5: graphite C K ~292 eV, h-BN B K
#: ~198 eV and N K ~408 eV), area x the edge's counts over its first PI_STAR_REFERENCE_EV
SIGMA_STAR_OFFSET_EV = (5.0, 15.0)
SIGMA_STAR_FWHM_EV = (4.0, 10.0)
SIGMA_STAR_AREA = (0.5, 3.0)


def add_pi_star(edges, p, config: SimulationConfig, ow: np.random.Generator) -> np.ndarray:
    """Add 1s -> pi* lines IN PLACE to a fraction ``config.pi_star_fraction`` of the B, C, N and O
    K edge rows of ``edges`` (:class:`eels_helpers.simulation.steps.EdgeRows`; module docstring).
    Per line: area a = U(PI_STAR_AREA) x the row's counts over the PI_STAR_REFERENCE_EV channels
    from its onset column, spread over the columns as a Lorentzian's share of each 1 eV bin
    (:func:`eels_helpers.physics.white_lines.lorentzian_bin_share`), centred at the onset column +
    offset. Returns (M,) bool: the rows that got a line (nothing drawn when the option is off)."""
    return _add_k_lines(edges, p, ow, config.pi_star_fraction, PI_STAR_OFFSET_EV, PI_STAR_FWHM_EV, PI_STAR_AREA,
                        np.arange(-8, 16))


def add_sigma_star(edges, p, config: SimulationConfig, ow: np.random.Generator) -> np.ndarray:
    """Add 1s -> sigma* shape resonances IN PLACE to a fraction ``config.sigma_star_fraction`` of the
    B, C, N and O K edge rows (session 29, experiment S29): the core electron's transition into the
    antibonding sigma* orbital of the bonds, a quasi-bound state above the ionisation threshold that
    every bonded light element shows as a broad peak 5-15 eV above its K onset (Stohr 1992, ch. 4-5;
    Egerton 2011, sec. 3.8): a Lorentzian of FWHM ``SIGMA_STAR_FWHM_EV`` at ``SIGMA_STAR_OFFSET_EV``
    from the onset column, area ``SIGMA_STAR_AREA`` x the row's counts over its first 20 eV (as
    :func:`add_pi_star`). Without it the networks had seen graphitic and amorphous carbon's hump at
    ~292-300 eV only as the generic fine structure, and read it as K L2,3 (294 / 297 eV). Returns (M,)
    bool: the rows that got one (nothing drawn when the option is off)."""
    return _add_k_lines(edges, p, ow, config.sigma_star_fraction, SIGMA_STAR_OFFSET_EV, SIGMA_STAR_FWHM_EV,
                        SIGMA_STAR_AREA, np.arange(-8, 48))


def _add_k_lines(edges, p, ow, fraction, offset_eV, fwhm_eV, area_range, span) -> np.ndarray:
    """The line of :func:`add_pi_star` / :func:`add_sigma_star` on a ``fraction`` of the
    PI_STAR_FAMILIES rows: position, FWHM and area drawn uniformly in the ranges given, spread over
    the columns ``span`` around the onset column as a Lorentzian's share of each 1 eV bin."""
    from eels_helpers.physics.elements import EDGE_FAMILIES
    from eels_helpers.physics.white_lines import lorentzian_bin_share

    M = edges.rows.shape[0]
    if fraction <= 0 or M == 0:
        return np.zeros(M, bool)
    fam = [i for i, f in enumerate(EDGE_FAMILIES) if f.name in PI_STAR_FAMILIES]
    chosen = np.isin(p.pair_family, fam) & (ow.random(M) < fraction)
    offset = ow.uniform(*offset_eV, size=M)
    fwhm = ow.uniform(*fwhm_eV, size=M)
    area = ow.uniform(*area_range, size=M)
    idx = np.flatnonzero(chosen)
    if not idx.size:
        return chosen
    start = edges.fs_start[idx]
    ref = np.arange(PI_STAR_REFERENCE_EV)
    area_counts = area[idx] * edges.rows[idx[:, None], start[:, None] + ref].sum(axis=1)
    cols = np.clip(start[:, None] + span, 0, edges.rows.shape[1] - 1)
    share = lorentzian_bin_share(np.broadcast_to(span, (idx.size, span.size)), offset[idx], fwhm[idx], 1.0)
    np.add.at(edges.rows, (idx[:, None], cols), (area_counts[:, None] * share).astype(np.float32))
    return chosen
