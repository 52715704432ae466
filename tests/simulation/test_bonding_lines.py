"""Bonding lines of B, C, N, O K edges (eels_helpers.simulation.bonding_lines): 1s -> pi* lines and
1s -> sigma* resonances, each on the drawn share of the edge rows, nothing drawn when off."""

import dataclasses

import numpy as np

from eels_helpers.simulation import bonding_lines
from eels_helpers.simulation.config import SimulationConfig
from eels_helpers.simulation.named_configs import named_config


def _only(**options):
    return SimulationConfig(**options)


def _sawtooth_rows(families):
    """(rows, EdgeRows copy, parameters): one sawtooth edge from column 16 per family named."""
    from types import SimpleNamespace

    from eels_helpers.physics.elements import EDGE_FAMILIES
    from eels_helpers.simulation.steps import EdgeRows

    names = [f.name for f in EDGE_FAMILIES]
    rows = np.zeros((len(families), 200), np.float32)
    rows[:, 16:] = 100.0 * np.exp(-np.arange(184) / 60.0)
    n = len(families)
    edges = EdgeRows(rows.copy(), np.zeros(n, np.int64), np.full(n, 16), np.zeros(n), np.ones(n))
    return rows, edges, SimpleNamespace(pair_family=np.array([names.index(f) for f in families]))


def _run_on_sawtooths(add, families, seed, **option):
    """(rows before, EdgeRows, parameters, what ``add`` added, row 0's counts over its first 20 eV):
    ``add`` with ``option`` on over sawtooth rows of ``families``, whose second family is not a light
    K edge and must be left untouched while the other three get a line."""
    rows, edges, p = _sawtooth_rows(families)
    got = add(edges, p, _only(**option), np.random.default_rng(seed))
    assert got.tolist() == [True, False, True, True]
    added = edges.rows - rows
    assert (added[1] == 0).all()
    return rows, edges, p, added, rows[0, 16:36].sum()


def _assert_off_draws_nothing(add, edges, p, config):
    """With its option off, ``add`` adds no line and draws nothing (other configurations stay bit-identical)."""
    gen = np.random.default_rng(0)
    before = gen.bit_generator.state
    assert not add(edges, p, config, gen).any()
    assert gen.bit_generator.state == before


def test_pi_star_lines_only_on_b_c_n_o_k_edges_with_the_drawn_area():
    """1s -> pi* (bonding_lines.add_pi_star): a Lorentzian near the K onset of B/C/N/O whose area is
    the drawn share (0.1-1) of the edge's first 20 eV; other families untouched."""
    rows, edges, p, added, ref = _run_on_sawtooths(bonding_lines.add_pi_star, ("N K", "Sc L", "C K", "O K"), 0,
                                                   pi_star_fraction=1.0)
    for m in (0, 2, 3):
        assert 0.1 * ref * 0.9 < added[m].sum() < 1.0 * ref     # Lorentzian tails past the span
        peak = int(np.argmax(added[m]))
        assert 16 - 2 <= peak <= 16 + 5                          # near the onset
        assert added[m, peak] > 2 * rows[m, 16 + 10]              # a sharp line, above the edge
    _assert_off_draws_nothing(bonding_lines.add_pi_star, edges, p, _only())


def test_sigma_star_resonances_are_broad_peaks_above_the_b_c_n_o_k_onsets():
    """1s -> sigma* (bonding_lines.add_sigma_star, S29): a broad Lorentzian 5-15 eV above the K onset of
    B/C/N/O whose area is the drawn multiple (0.5-3) of the edge's first 20 eV; others untouched."""
    rows, edges, p, added, ref = _run_on_sawtooths(bonding_lines.add_sigma_star, ("C K", "Sc L", "B K", "O K"), 1,
                                                   sigma_star_fraction=1.0)
    for m in (0, 2, 3):
        assert 0.5 * ref * 0.8 < added[m].sum() < 3.0 * ref
        peak = int(np.argmax(added[m]))
        assert 16 + 4 <= peak <= 16 + 16                         # 5-15 eV above the onset
        half = added[m] >= added[m, peak] / 2
        assert half.sum() >= 3                                   # broad (FWHM >= 4 eV), not a line
    _assert_off_draws_nothing(bonding_lines.add_sigma_star, edges, p, _only(pi_star_fraction=1.0))
    sigma, auto = named_config("open-world-sigma"), named_config("open-world-autoionisation")
    assert dataclasses.replace(sigma, sigma_star_fraction=0.0) == auto and sigma.sigma_star_fraction == 0.5
    both = named_config("open-world-gas-sigma")
    assert dataclasses.replace(both, implanted_gas_fraction=0.0) == sigma
    assert dataclasses.replace(both, sigma_star_fraction=0.0) == named_config("open-world-gas")
