"""inference.image_decision: one decision for a spectrum image's pixels, whether ``map`` or ``predict`` reads
it (P41): onset twins resolved pixel by pixel, the presence criterion, the spatial tests."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eels_helpers.inference.mapping import map_elements
from eels_helpers.inference.predict import predict
from eels_helpers.inference.prediction_text import format_prediction
from eels_helpers.inference.spectrum_files import read_spectrum
from eels_helpers.spectrum import Spectrum

BN = "eels_helpers/data/real_spectra/eelsdb_BN_hex_B_K_Giovanni_Bertoni_100.msa"


@pytest.fixture(scope="module")
def bn_image(repo_root):
    """A 6 x 6 image of the shipped h-BN spectrum (B K, N K) with Poisson noise: the network reports the
    N/Sc onset twins together in its pixels."""
    bn = read_spectrum(repo_root / BN)
    mean = np.clip(bn.data.astype(np.float64), 0, None)
    counts = np.random.default_rng(41).poisson(mean / mean.max() * 3e3, size=(6, 6, mean.size))
    return Spectrum(counts.astype(np.float32), bn.energy_eV, {"title": "bn"}, None)


def test_predict_on_a_spectrum_image_decides_as_map_does(bn_image):
    """The shipped default on the BN image: predict keeps what map keeps (N, not its onset twin Sc), with
    the same probabilities (the dropped twin's set to 0) and pixel fractions; before P41 it reported
    both twins. --keep-twins keeps both in either."""
    mapped = map_elements(bn_image, "default")
    [pred] = predict(bn_image, "default")
    assert mapped.twin_pixels > 0 and "Sc" not in mapped.detected and {"B", "N"} <= set(mapped.detected)
    assert pred.detected == mapped.detected and pred.withheld == mapped.withheld
    np.testing.assert_array_equal(pred.probabilities, mapped.probabilities)
    assert list(pred.pixel_fraction.values()) == [float(f) for f in mapped.pixel_fraction]
    assert pred.image.twin_pixels == mapped.twin_pixels
    text = format_prediction(pred)
    assert f"twins with a resolver both above the threshold in {mapped.twin_pixels} pixels" in text
    assert json.loads(json.dumps(pred.to_dict()))["twin_pixels"] == mapped.twin_pixels
    [kept] = predict(bn_image, "default", keep_twins=True)
    both = map_elements(bn_image, "default", keep_twins=True)
    assert "Sc" in kept.detected and kept.detected == both.detected and kept.image.twin_pixels == 0


def test_a_single_spectrum_has_no_image_decision(repo_root):
    [pred] = predict(repo_root / BN, "default")
    assert pred.image is None and "twin_pixels" not in pred.to_dict() and pred.pixel_fraction == {}
