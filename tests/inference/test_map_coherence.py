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
