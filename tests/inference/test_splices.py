"""Spliced spectra: the join of two acquisitions is cut away, edges and simulated spectra are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eels_helpers.inference.preprocess import preprocess
from eels_helpers.inference.splices import SPLICE_RATIO, cut_splices, splice_ratio
from eels_helpers.spectrum import Spectrum

EXPERIMENTAL = Path(__file__).resolve().parents[3] / "shared" / "experimental"


def _spectrum(energy, onset=532.0, jump=1.0, rise_eV=3.0):
    """A power law A (E/E0)^-3 with a smooth edge of the given jump ratio at ``onset`` (eV)."""
    bg = 1e5 * (energy / energy[0]) ** -3.0
    edge = jump * 1e5 * (onset / energy[0]) ** -3.0 * (onset / np.maximum(energy, onset)) ** 2
    return bg + edge / (1 + np.exp(-(energy - onset) / rise_eV))


def _spliced(factor=0.01, join_eV=220.0, width_eV=6.0):
    """The spectrum of :func:`_spectrum` from 0 eV with the counts below ``join_eV`` scaled by
    ``factor`` and a join ``width_eV`` wide, as in Gatan EELS Atlas spectra."""
    energy = np.arange(0.0, 1000.0, 0.5) + 0.25
    counts = _spectrum(np.maximum(energy, 60.0))
    scale = factor + (1 - factor) * np.clip((energy - join_eV) / width_eV, 0, 1)
    return Spectrum(counts * scale, energy), Spectrum(counts, energy)


def test_a_splice_is_cut_and_the_rest_is_the_upper_segment():
    spliced, whole = _spliced()
    x, cut = preprocess(spliced, return_cuts=True)
    assert 220 <= float(cut) <= 240
    assert not x[: int(cut)].any()
    # above the cut the input is the unspliced spectrum's, scaled to its own maximum there
    ref = preprocess(whole)[int(cut):]
    np.testing.assert_allclose(x[int(cut):], ref / ref.max(), rtol=5e-3, atol=1e-5)  # spline ringing
    # the paper's recipe keeps the join
    kept, none = preprocess(spliced, cut_splices=False, return_cuts=True)
    assert np.isnan(none) and kept[100] > 0


@pytest.mark.parametrize("factor", [0.3, 0.5, 1.0])
def test_small_steps_and_sharp_edges_are_not_splices(factor):
    spliced, _ = _spliced(factor=factor)
    _, cut = preprocess(spliced, return_cuts=True)
    assert np.isnan(cut)
    # the sharpest edges: a jump ratio of 8 rising over 1 eV
    energy = np.arange(300.0, 900.0, 0.25)
    _, cut = preprocess(Spectrum(_spectrum(energy, jump=8.0, rise_eV=0.3), energy), return_cuts=True)
    assert np.isnan(cut)


def test_a_background_subtracted_pre_edge_is_not_a_splice():
    energy = np.arange(300.0, 900.0, 0.5)
    counts = _spectrum(energy) - 1e5 * (energy / 300.0) ** -3.0       # the edge alone
    counts += np.random.default_rng(0).normal(0, 20.0, energy.size)  # noise about zero before it
    _, cut = preprocess(Spectrum(counts, energy), return_cuts=True)
    assert np.isnan(cut)


def test_simulated_spectra_are_almost_never_cut():
    from eels_helpers.datasets.streaming import simulated_arrays

    x, _ = simulated_arrays(256, seed=4321, simulation="paper")
    ratio, _ = splice_ratio(x)
    assert (ratio > SPLICE_RATIO).mean() <= 0.01
    assert np.percentile(ratio, 99) < SPLICE_RATIO / 2


def test_cut_splices_keeps_shapes_and_refuses_bad_ratios():
    spliced, _ = _spliced()
    batch = np.stack([preprocess(spliced, cut_splices=False)] * 6).reshape(2, 3, -1)
    out, cut = cut_splices(batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype and cut.shape == (2, 3)
    assert np.isfinite(cut).all() and not out[..., :200].any()
    untouched, none = cut_splices(np.zeros_like(batch))
    assert np.isnan(none).all() and not untouched.any()
    with pytest.raises(ValueError, match="step factor above 1"):
        cut_splices(batch, ratio=0.5)


def test_predict_reports_the_splice():
    from eels_helpers.inference.predict import format_prediction, predict

    spliced, _ = _spliced()
    [pred] = predict(spliced, "default")
    assert pred.spliced_below_eV and 220 <= pred.spliced_below_eV[0] <= 240
    assert f"at {pred.spliced_below_eV[0]:.0f} eV): the counts below it were left out" in format_prediction(pred)
    assert pred.to_dict()["splice_cut_eV"] == pred.spliced_below_eV[0]


@pytest.mark.skipif(not (EXPERIMENTAL / "atlas_Cr_0_0920eV.dm3").exists(),
                    reason="the project's experimental spectra (../shared/experimental) are absent")
def test_a_measured_atlas_splice_is_found():
    from eels_helpers.inference.spectrum_files import read_spectrum

    _, cut = preprocess(read_spectrum(EXPERIMENTAL / "atlas_Cr_0_0920eV.dm3"), return_cuts=True)
    assert 198 <= float(cut) <= 215     # the join at 197-205 eV, below Cr L2,3 (575 eV)


def test_verification_fits_above_the_splice():
    from eels_helpers.inference.verification import verify

    spliced, _ = _spliced()
    res = verify(spliced, ["O"])
    assert res.window_eV[0] >= 220          # the fit starts above the join, not at 75 eV


def test_verification_takes_the_cut_predict_found():
    """`eels-id predict --verify` hands the prediction's cut to verify (no second pre-processing):
    the same fit window as verify finds by itself; the value given is the one used."""
    from eels_helpers.inference.predict import predict
    from eels_helpers.inference.verification import verify

    spliced, _ = _spliced()
    [pred] = predict(spliced, "default")
    assert pred.left_out_below_eV == pytest.approx(float(pred.splice_cut_eV)) and pred.left_out_below_eV >= 220
    given = verify(spliced, ["O"], left_out_below_eV=pred.left_out_below_eV)
    assert given.window_eV == verify(spliced, ["O"]).window_eV
    assert verify(spliced, ["O"], left_out_below_eV=0.0).window_eV[0] < 220     # nothing left out: from 75 eV
    for bad in (-1.0, float("nan"), "220"):
        with pytest.raises(ValueError, match="left_out_below_eV"):
            verify(spliced, ["O"], left_out_below_eV=bad)


def test_map_logs_the_spliced_pixels_once(caplog):
    import logging

    from eels_helpers.inference.mapping import map_elements

    spliced, _ = _spliced()
    image = Spectrum(np.broadcast_to(spliced.data, (2, 2, spliced.data.size)).copy(), spliced.energy_eV)
    with caplog.at_level(logging.INFO):
        map_elements(image, "default")
    lines = [r.getMessage() for r in caplog.records if "spliced" in r.getMessage()]
    assert len(lines) == 1 and "4 of 4 spectra are spliced" in lines[0]
