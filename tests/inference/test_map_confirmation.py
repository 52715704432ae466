"""Confirming a map's kept elements on the summed spectrum of their pixels (experiment M35)."""

import logging

import numpy as np
import pytest
from support import FeMarker

from eels_helpers.inference.map_confirmation import confirm_on_sums, pixel_sums
from eels_helpers.inference.mapping import map_elements
from eels_helpers.physics.elements import element_index
from eels_helpers.spectrum import Spectrum

E = np.arange(400.0, 1001.0)


def test_pixel_sums_add_the_counts_of_the_pixels_that_report_each_element():
    rng = np.random.default_rng(1)
    si = Spectrum(rng.uniform(0, 10, size=(2, 3, E.size)), E, {"title": "si"})
    above = np.zeros((6, 80), bool)
    above[[0, 4], element_index("Fe")] = True
    above[[1, 2, 3], element_index("O")] = True
    fe, o = pixel_sums(si, above, ["Fe", "O"])
    flat = si.data.reshape(6, -1)
    np.testing.assert_allclose(fe.data, flat[0] + flat[4])
    np.testing.assert_allclose(o.data, flat[1:4].sum(axis=0))
    assert np.array_equal(fe.energy_eV, E) and "2 pixels reporting Fe" in fe.metadata["title"]
    with pytest.raises(ValueError, match="pixels"):
        pixel_sums(si, above[:5], ["Fe"])


def test_a_marked_element_is_confirmed_and_an_empty_list_is_nothing_to_do():
    data = np.ones((10, 10, E.size), dtype=np.float32)
    data.reshape(-1, E.size)[:5, 300] = 2.0          # Fe's marker (700 eV) in 5 pixels
    si = Spectrum(data, E, {"title": "marked"})
    res = map_elements(si, FeMarker(), confirm_on_sums=True)
    assert res.detected == ("Fe",) and res.unconfirmed == {}
    assert confirm_on_sums(si, res.thresholded.reshape(-1, 80), (), FeMarker(), 0.75) == ((), {})


def test_noise_kept_on_a_carbon_film_is_not_confirmed_on_the_sum(caplog):
    """Carbon-film image 10 of the evaluation's set (seed 2828; ~5 counts per channel under C K):
    `default` reports K in 6 % of its pixels; on their summed spectrum the C/K resolver says K is
    absent, so the map keeps C only. The probability maps are the same either way."""
    from eels_helpers.evaluation.film_images import carbon_film_images

    image = carbon_film_images()[10]
    plain = map_elements(image, "default", confirm_on_sums=False, against_chance=False)   # S35's rule alone
    with caplog.at_level(logging.INFO, logger="eels_helpers.inference.map_confirmation"):
        confirmed = map_elements(image, "default", confirm_on_sums=True, against_chance=False)
    assert "K" in plain.detected and "C" in plain.detected
    assert confirmed.detected == tuple(e for e in plain.detected if e != "K")
    assert set(confirmed.unconfirmed) == {"K"} and 0.0 <= confirmed.unconfirmed["K"] <= 1.0
    assert np.array_equal(confirmed.probabilities, plain.probabilities)
    assert "K: above the threshold in" in caplog.text and "twin resolver" in caplog.text


def test_cli_map_confirms_on_sums_when_asked_and_writes_what_it_left_out(tmp_path, capsys, monkeypatch):
    import json

    import h5py

    from eels_helpers.cli import main
    from eels_helpers.evaluation.film_images import carbon_film_images
    from eels_helpers.inference import mapping

    image = carbon_film_images()[10]
    monkeypatch.setattr(mapping, "read_map_input", lambda path: (image, None, None))
    plain = ["map", "film.dm4", "--model", "default", "--no-quantify", "--keep-scattered"]   # no coherence test
    assert main(plain + ["--out", str(tmp_path / "plain")]) == 0
    assert "K" in capsys.readouterr().out.split("kept (")[1].split("\n")[0]        # off by default
    assert main(plain + ["--out", str(tmp_path / "sums"), "--confirm-on-sums"]) == 0
    out = capsys.readouterr().out
    assert "not kept (not reported on the summed spectrum of their pixels): K (6.0 % of pixels" in out
    with h5py.File(tmp_path / "sums" / "mapping.h5") as f:
        assert "K" not in json.loads(f.attrs["kept"]) and set(json.loads(f.attrs["unconfirmed"])) == {"K"}
