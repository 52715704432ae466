"""The synthetic LaMnO3/BaTiO3/SrTiO3 superlattice spectrum image and its ground truth."""

import os

import numpy as np
import pytest

from eels_helpers.physics.elements import element_index
from eels_helpers.simulation.superlattice import SuperlatticeConfig, layer_occupancy, load_si, save_si, superlattice_si

SMALL = dict(shape=(4, 43))   # one period: SrTiO3 14 | BaTiO3 14 | LaMnO3 15 px


@pytest.fixture(scope="module")
def gos_m():
    """A GOS source with M edges (Ba M4,5, La M4,5): the builtin table, or a GOSH file named by
    EELS_HELPERS_TEST_GOS."""
    path = os.environ.get("EELS_HELPERS_TEST_GOS")
    if path:
        return path
    from eels_helpers.physics.gos_tables import builtin_available
    if not builtin_available():
        pytest.skip("the builtin GOS table (M edges) is not installed")
    return "builtin"


@pytest.fixture(scope="module")
def small(gos_m):
    return superlattice_si(SuperlatticeConfig(**SMALL, gos=gos_m))


def test_layer_occupancy_sums_to_one_and_interdiffuses():
    cfg = SuperlatticeConfig(shape=(2, 43), interdiffusion_px=1.5)
    c, bounds = layer_occupancy(cfg)
    assert [b[0] for b in bounds] == ["SrTiO3", "BaTiO3", "LaMnO3"]
    np.testing.assert_allclose(c.sum(axis=1), 1.0)
    assert c[7, 0] == pytest.approx(1.0, abs=1e-4)         # centre of SrTiO3
    # the interface at x = 14 lies between pixel centres 13.5 and 14.5: symmetric mixing
    assert c[13, 0] == pytest.approx(c[14, 1], abs=1e-12)
    assert 0.5 < c[13, 0] < 0.8
    sharp, _ = layer_occupancy(SuperlatticeConfig(shape=(2, 43), interdiffusion_px=0.0))
    assert set(np.unique(sharp)) <= {0.0, 1.0}


def test_hydrogenic_gos_cannot_build_it():
    with pytest.raises(ValueError, match="M edges"):
        superlattice_si(SuperlatticeConfig(**SMALL, gos="hydrogenic"))


@pytest.mark.parametrize("kw, match", [
    (dict(shape=(0, 10)), "shape"),
    (dict(layers=(("NaCl", 3),)), "layers"),
    (dict(energy_range_eV=(50, 1000)), "energy_range_eV"),
    (dict(beta_mrad=-1.0), "beta_mrad.*mrad"),
    (dict(counts_at_start=0.0), "counts_at_start"),
    (dict(plasmon_energy_eV=(15,), plasmon_width_eV=(8, 9)), "plasmon"),
    (dict(white_lines="statistical"), "white_lines.*table"),
    (dict(white_lines=1), "white_lines"),
    (dict(white_lines=["crystal-field"]), "white_lines"),
])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        SuperlatticeConfig(**kw)


def test_truth_and_window(small):
    si = small
    assert si.spectrum.data.shape == (4, 43, 601)
    assert si.spectrum.energy_eV[0] == 400 and si.spectrum.energy_eV[-1] == 1000
    assert si.elements_in_window == ("O", "Ti", "Mn", "Ba", "La")   # no Sr edge in 400-1000 eV
    f = si.fractions
    np.testing.assert_allclose(f.sum(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(f[..., element_index("O")], 0.6, atol=1e-6)
    a_site = f[..., [element_index(e) for e in ("Sr", "Ba", "La")]].sum(axis=-1)
    np.testing.assert_allclose(a_site, 0.2, atol=1e-6)
    assert f[0, 7, element_index("Sr")] == pytest.approx(0.2, abs=1e-5)
    assert f[0, 21, element_index("Ba")] == pytest.approx(0.2, abs=1e-5)
    assert f[0, 35, element_index("Mn")] == pytest.approx(0.2, abs=1e-5)
    # Sr is in the specimen but not in the identification truth (edges outside the window)
    assert not si.labels[..., element_index("Sr")].any()
    assert si.labels[0, 7, element_index("Ti")] and not si.labels[0, 7, element_index("Mn")]
    np.testing.assert_allclose(si.window_fractions.sum(axis=-1), 1.0, atol=1e-6)
    assert si.window_fractions[0, 7, element_index("O")] == pytest.approx(0.75, abs=1e-4)
    assert set(si.probe_positions) == {"1 SrTiO3", "2 BaTiO3", "3 BaTiO3/LaMnO3", "4 LaMnO3"}
    assert si.probe_positions["3 BaTiO3/LaMnO3"][1] == 28
    assert si.spectrum.metadata["beam_energy_keV"] == 300.0


def test_reproducible_and_seeded(small, gos_m):
    again = superlattice_si(SuperlatticeConfig(**SMALL, gos=gos_m))
    np.testing.assert_array_equal(again.spectrum.data, small.spectrum.data)
    other = superlattice_si(SuperlatticeConfig(**SMALL, gos=gos_m, seed=7))
    assert not np.array_equal(other.spectrum.data, small.spectrum.data)


def test_white_line_table_by_name(gos_m):
    """white_lines=True is the shipped single-particle table; another table changes the lines (the
    crystal-field Ti L2,3: t2g and e_g peaks; multiplet La M5:M4), not the edges without lines (O K;
    below Ti L2,3 only the zero-loss peak's Lorentzian tail carries the lines), the ground truth or
    the cache key's other parameters."""
    noise_free = dict(SMALL, gos=gos_m, noise=False, fine_structure=False)
    shipped = superlattice_si(SuperlatticeConfig(**noise_free, white_lines=True))
    by_name = superlattice_si(SuperlatticeConfig(**noise_free, white_lines="single-particle"))
    crystal = superlattice_si(SuperlatticeConfig(**noise_free, white_lines="crystal-field"))
    np.testing.assert_array_equal(by_name.spectrum.data, shipped.spectrum.data)
    E = shipped.spectrum.energy_eV
    ti = (E >= 450) & (E < 475)
    assert not np.allclose(crystal.spectrum.data[..., ti], shipped.spectrum.data[..., ti], rtol=1e-3)
    np.testing.assert_allclose(crystal.spectrum.data[..., E < 430], shipped.spectrum.data[..., E < 430], rtol=0.01)
    o_k = (E >= 532) & (E < 640)
    np.testing.assert_allclose(crystal.spectrum.data[..., o_k], shipped.spectrum.data[..., o_k], rtol=1e-3)
    np.testing.assert_array_equal(crystal.fractions, shipped.fractions)
    assert crystal.config.key() != shipped.config.key()


def test_counts_follow_the_model(gos_m):
    """Noise-free, no fine structure: the first channel is background only (no edge below
    400 eV is modelled), equal to counts_at_start x dose x the layer's relative amplitude;
    the Poisson SI scatters around it with variance = mean."""
    cfg = SuperlatticeConfig(**SMALL, gos=gos_m, noise=False, fine_structure=False,
                             dose_gradient=0.0)
    si = superlattice_si(cfg)
    # (+ < 0.1 %: the Lorentzian ZLP's negative-energy tail carries edge intensity below onset)
    assert si.spectrum.data[0, 7, 0] == pytest.approx(1.0e4, rel=1e-3)       # SrTiO3
    assert si.spectrum.data[0, 35, 0] == pytest.approx(1.3e4, rel=1e-3)      # LaMnO3
    noisy = superlattice_si(SuperlatticeConfig(**{**SMALL, "shape": (400, 43)}, gos=gos_m,
                                               fine_structure=False, dose_gradient=0.0))
    col = noisy.spectrum.data[:, 7, 0].astype(float)
    assert col.mean() == pytest.approx(1.0e4, rel=0.01)
    assert col.var() == pytest.approx(1.0e4, rel=0.2)


def test_quantification_recovers_window_fractions(gos_m):
    """Noise-free, no fine structure: the model-based fit (same cross sections, low-loss given)
    recovers the relative fractions; the only model error is the background (per-layer power
    laws with r = 2.8-3.3 mixed at interfaces vs. the fixed exponents 1..6)."""
    from eels_helpers.inference.quantify import QuantificationConfig, quantify

    cfg = SuperlatticeConfig(**SMALL, gos=gos_m, noise=False, fine_structure=False)
    si = superlattice_si(cfg)
    q = quantify(si.spectrum.data, si.spectrum.energy_eV, list(si.elements_in_window),
                 QuantificationConfig(300.0, 20.0, 50.0, gos=gos_m),
                 lowloss=si.lowloss.data, lowloss_energy_eV=si.lowloss.energy_eV)
    truth = si.window_fractions[..., [element_index(e) for e in q.elements]]
    assert np.max(np.abs(q.fractions - truth)) < 0.01


def test_cache_round_trip(tmp_path, gos_m, small):
    path = tmp_path / "si.h5"
    cfg = SuperlatticeConfig(**SMALL, gos=gos_m)
    si = superlattice_si(cfg, cache=path)
    assert path.is_file() and not list(tmp_path.glob("*.tmp"))
    back = load_si(path)
    np.testing.assert_array_equal(back.spectrum.data, si.spectrum.data)
    np.testing.assert_array_equal(back.labels, si.labels)
    np.testing.assert_allclose(back.window_fractions, si.window_fractions)
    assert back.config == cfg and back.probe_positions == si.probe_positions
    # a cached file is reused only for the same configuration
    assert superlattice_si(cfg, cache=path).spectrum.source == str(path)
    changed = superlattice_si(SuperlatticeConfig(**SMALL, gos=gos_m, seed=3), cache=path)
    assert changed.config.seed == 3 and load_si(path).config.seed == 3
    save_si(si, tmp_path / "sub" / "x.h5")
    assert (tmp_path / "sub" / "x.h5").is_file()


def test_fine_structure_conserves_each_edge_strength(gos_m):
    """Default: the generic fine structure moves the edges' strength (noise-free, the edge counts
    over the window, background subtracted, equal with and without it); the paper-style
    modulation (False) changes them. The cache key tells the two apart."""
    base = dict(**SMALL, gos=gos_m, noise=False, dose_gradient=0.0)
    bg = superlattice_si(SuperlatticeConfig(**base, jump_ratio_O=1e-4, fine_structure=False)).spectrum.data

    def edges(**kw):
        return float((superlattice_si(SuperlatticeConfig(**base, **kw)).spectrum.data - bg).sum())

    plain = edges(fine_structure=False)
    assert abs(edges() / plain - 1) < 1e-4
    assert abs(edges(fine_structure_conserves_strength=False) / plain - 1) > 1e-3
    assert SuperlatticeConfig(**base).key() != SuperlatticeConfig(
        **base, fine_structure_conserves_strength=False).key()
    with pytest.raises(ValueError, match="fine_structure_conserves_strength"):
        SuperlatticeConfig(**SMALL, fine_structure_conserves_strength=1)
