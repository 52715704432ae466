"""Spatial coherence of a map's kept elements (experiment S35)."""

import math

import numpy as np
import pytest
from support import FeMarker

from eels_helpers.inference.map_coherence import neighbour_share
from eels_helpers.inference.mapping import map_elements
from eels_helpers.spectrum import Spectrum

E = np.arange(400.0, 1001.0)


def test_neighbour_share_counts_pixels_with_a_neighbour_in_every_direction():
    m = np.zeros((10, 10), bool)
    m[2, 3] = m[7, 7] = m[0, 9] = True             # three isolated pixels
    assert neighbour_share(m) == 0.0
    m[3, 4] = True                                 # a diagonal neighbour of (2, 3)
    assert neighbour_share(m) == 0.5
    m[:] = False
    m[:, 3:5] = True                               # a layer
    assert neighbour_share(m) == 1.0
    assert neighbour_share(np.array([1, 0, 1, 1, 0], bool)) == pytest.approx(2 / 3)   # a line scan
    assert math.isnan(neighbour_share(np.zeros((4, 4), bool)))
    assert math.isnan(neighbour_share(np.ones((1, 1), bool)))


@pytest.mark.parametrize("pixels, kept", [([0, 22, 47, 75, 99], False), ([44, 45, 54, 55, 65], True)])
def test_scattered_pixels_are_not_kept_and_a_patch_is(pixels, kept):
    data = np.ones((10, 10, E.size), dtype=np.float32)
    data.reshape(-1, E.size)[pixels, 300] = 2.0      # Fe's marker (700 eV) in 5 pixels
    si = Spectrum(data, E, {"title": "marked"})
    plain = map_elements(si, FeMarker(), spatial_coherence=False)      # the paper's criterion alone
    res = map_elements(si, FeMarker())                                  # the default: coherence too
    assert plain.detected == ("Fe",)
    assert ("Fe" in res.detected) is kept
    assert (res.incoherent == {}) is kept and (kept or res.incoherent == {"Fe": 0.0})
    assert np.array_equal(res.probabilities, plain.probabilities)


def test_cli_map_leaves_out_scattered_pixels_unless_asked_and_writes_them(tmp_path, capsys, monkeypatch):
    """Carbon-film image 14 of the evaluation's set (seed 2828): `default` reports B in 2 isolated pixels."""
    import json

    import h5py

    from eels_helpers.cli import main
    from eels_helpers.evaluation.film_images import carbon_film_images
    from eels_helpers.inference import mapping

    image = carbon_film_images()[14]
    monkeypatch.setattr(mapping, "read_map_input", lambda path: (image, None, None))
    assert main(["map", "film.dm4", "--out", str(tmp_path / "plain"), "--model", "default", "--no-quantify"]) == 0
    out = capsys.readouterr().out
    assert "): C\n" in out and "not kept (scattered pixels; --keep-scattered keeps them): B (2.0 % of pixels, 0 %" in out
    with h5py.File(tmp_path / "plain" / "mapping.h5") as f:
        assert json.loads(f.attrs["kept"]) == ["C"] and json.loads(f.attrs["incoherent"]) == {"B": 0.0}
    assert main(["map", "film.dm4", "--out", str(tmp_path / "kept"), "--model", "default", "--no-quantify",
                 "--keep-scattered"]) == 0
    assert "): C, B\n" in capsys.readouterr().out


def test_chance_share_is_what_random_placements_reach_and_is_seeded():
    """Z37: random pixels at density ~0.15 on 10 x 10 have a neighbour with probability ~0.7
    (1 - 0.85^8, less at the edges), so S35's 0.5 passes them; a layer beats every random placement."""
    from eels_helpers.inference.map_coherence import CHANCE_PERCENTILE, chance_share

    assert CHANCE_PERCENTILE == 99.0
    m = np.zeros((10, 10), bool)
    m.reshape(-1)[np.random.default_rng(5).choice(100, 15, replace=False)] = True
    q = chance_share(m)
    assert 0.7 < q <= 1.0 and chance_share(m) == q                     # seeded: the same mask, the same value
    assert chance_share(m, percentile=50) < q
    median = chance_share(m, percentile=50, draws=2000)
    assert median == pytest.approx(1 - 0.85 ** 8, abs=0.15)
    layer = np.zeros((20, 20), bool)
    layer[5:8] = True
    assert neighbour_share(layer) == 1.0 > chance_share(layer)
    assert math.isnan(chance_share(np.eye(4, dtype=bool) & False)) and math.isnan(chance_share(np.eye(1, dtype=bool)))
    line = np.zeros(50, bool)
    line[[3, 4, 5, 30]] = True                                           # a line scan: 2 neighbours per pixel
    assert 0.0 <= chance_share(line) <= 1.0


RANDOM_15 = [1, 3, 6, 16, 24, 27, 44, 49, 55, 60, 62, 73, 77, 88, 97]   # rng(0).choice(100, 15): share 2/3


@pytest.mark.parametrize("everywhere, kept", [(1.0, False), (1.3, True)])
def test_pixels_placed_as_chance_places_them_are_decided_on_the_sum_of_all_pixels(everywhere, kept):
    """Z37: 15 random pixels pass S35's rule (2/3 with a neighbour) but not chance's 99th percentile.
    Noise over one material (nothing elsewhere): the sum of all pixels does not report Fe, so it goes;
    a material everywhere, above the threshold in only those pixels: the sum reports it, so it stays."""
    from eels_helpers.inference.map_coherence import chance_share

    data = np.ones((10, 10, E.size), dtype=np.float32)
    data[..., 300] = everywhere                       # Fe's marker (700 eV) in every pixel, below threshold
    data.reshape(-1, E.size)[RANDOM_15, 300] = 2.0    # and above it in 15 random pixels
    si = Spectrum(data, E, {"title": "marked"})
    mask = np.zeros(100, bool)
    mask[RANDOM_15] = True
    assert 0.5 <= neighbour_share(mask.reshape(10, 10)) <= chance_share(mask.reshape(10, 10))
    s35 = map_elements(si, FeMarker(), against_chance=False)
    res = map_elements(si, FeMarker(), against_chance=True)
    assert s35.detected == ("Fe",) and s35.incoherent == {} and s35.by_chance == {}
    assert ("Fe" in res.detected) is kept and res.incoherent == {}
    assert (res.by_chance == {}) is kept and (kept or res.by_chance["Fe"] < 0.75)
    assert np.array_equal(res.probabilities, s35.probabilities)
    patch = np.ones((10, 10, E.size), dtype=np.float32)
    patch[2:5, 2:7, 300] = 2.0                         # 15 pixels of a particle: clustered, kept
    assert map_elements(Spectrum(patch, E, {"title": "patch"}), FeMarker(), against_chance=True).detected == ("Fe",)


def test_cli_map_leaves_out_pixels_placed_as_by_chance_and_writes_them(tmp_path, capsys, monkeypatch):
    """Carbon-film image 63 of the evaluation's set (seed 2828; 0.17 eV per channel, ~160 counts):
    `default` reports Ar in 8 % of the pixels, enough of them with a neighbour for S35's rule; no more
    clustered than random pixels, and the sum of all 100 pixels reports C alone (experiment Z37)."""
    import json

    import h5py

    from eels_helpers.cli import main
    from eels_helpers.evaluation.film_images import carbon_film_images
    from eels_helpers.inference import mapping

    image = carbon_film_images()[63]
    monkeypatch.setattr(mapping, "read_map_input", lambda path: (image, None, None))
    assert main(["map", "film.dm4", "--out", str(tmp_path / "maps"), "--model", "default", "--no-quantify"]) == 0
    out = capsys.readouterr().out
    assert "): C\n" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("not kept (pixels no more clustered than chance"))
    assert "Ar (8.0 % of pixels, p 0.00 on the sum)" in line
    with h5py.File(tmp_path / "maps" / "mapping.h5") as f:
        assert json.loads(f.attrs["kept"]) == ["C"] and "Ar" in json.loads(f.attrs["by_chance"])


def test_chance_share_draws_a_large_image_in_blocks_with_the_same_result(monkeypatch):
    """A 512 x 512 image's 200 draws would hold 52 M pixels at once; they are drawn in blocks from the
    same random stream, so the value does not depend on the block size."""
    from eels_helpers.inference import map_coherence

    m = np.random.default_rng(3).random((60, 130)) < 0.02
    whole = map_coherence.chance_share(m)
    monkeypatch.setattr(map_coherence, "_BLOCK_PIXELS", 1000)          # 1 draw per block
    assert map_coherence.chance_share(m) == whole
