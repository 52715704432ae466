"""``eels-id predict``: what it checks before any network runs (--offset's range and the window it
leaves, --plot's folder), what it warns about (verification options without --verify), and the
line that names the model and threshold. A tiny MLP checkpoint; small .msa files."""

from __future__ import annotations

import numpy as np
import pytest
from support import cli_status as _status
from support import tiny_mlp_file, write_msa

from eels_helpers.cli import main


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return tiny_mlp_file(tmp_path_factory.mktemp("models") / "tiny.pt", threshold=0.3)


@pytest.fixture
def spectrum_300_800(tmp_path):
    energy = 300.0 + 0.5 * np.arange(1000)
    path = tmp_path / "s.msa"
    write_msa(path, energy, 1e5 * (energy / 300.0) ** -3)
    return path


@pytest.mark.parametrize("offset", ["1000", "-5000", "500.5"])
def test_an_offset_beyond_500_eV_is_a_usage_error_naming_the_option(spectrum_300_800, tiny_model, capsys, offset):
    assert _status(["predict", str(spectrum_300_800), "--model", str(tiny_model), f"--offset={offset}"]) == 2
    err = capsys.readouterr().err
    assert "argument --offset: must be a calibration error within +-500 eV" in err and "no signal" not in err


def test_an_offset_that_moves_the_axis_out_of_the_window_says_so(tmp_path, tiny_model, capsys):
    """Before: "no signal: the spectrum is all zero, negative or constant", for counts that are fine."""
    energy = 80.0 + 0.5 * np.arange(400)            # 80-280 eV; minus 400 eV: below the window
    write_msa(tmp_path / "low.msa", energy, 1e5 * (energy / 80.0) ** -3)
    assert _status(["predict", str(tmp_path / "low.msa"), "--model", str(tiny_model), "--offset", "400"]) == 1
    err = capsys.readouterr().err
    assert "after the +400 eV offset correction has no overlap with the 75-3071 eV window" in err
    assert "no signal" not in err


@pytest.mark.parametrize("where", ["a_file/x.png", "a_file"])
def test_a_plot_that_cannot_be_written_fails_before_the_network(tmp_path, spectrum_300_800, tiny_model, capsys,
                                                               monkeypatch, where):
    (tmp_path / "a_file").write_text("keep")
    from eels_helpers.inference import predict as predict_module

    monkeypatch.setattr(predict_module, "predict", lambda *a, **k: pytest.fail("the network ran"))
    plot = tmp_path / where if where != "a_file" else tmp_path / "a_file" / "sub" / "x.png"
    assert _status(["predict", str(spectrum_300_800), "--model", str(tiny_model), "--plot", str(plot)]) == 2
    captured = capsys.readouterr()
    assert f"--plot {plot}" in captured.err and "is a file, not a folder" in captured.err
    assert captured.out == "" and (tmp_path / "a_file").read_text() == "keep"


def test_verification_options_without_verify_are_named_in_a_warning(spectrum_300_800, tiny_model, capsys):
    assert main(["predict", str(spectrum_300_800), "--model", str(tiny_model), "--no-verify", "--E0", "200",
                 "--candidate-threshold", "0.2"]) == 0
    err = capsys.readouterr().err
    assert "warning: --E0, --candidate-threshold only set the verification, which is off" in err
    assert main(["predict", str(spectrum_300_800), "--model", str(tiny_model), "--no-verify"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_the_text_output_names_the_model_and_its_threshold_once(spectrum_300_800, tiny_model, capsys):
    assert main(["predict", str(spectrum_300_800), str(spectrum_300_800), "--model", str(tiny_model)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "model tiny, threshold 0.30" and sum("threshold 0.30" in ln for ln in lines) == 1
    assert main(["-q", "predict", str(spectrum_300_800), "--model", str(tiny_model)]) == 0
    assert capsys.readouterr().out.startswith("s.msa:")
    run = tiny_model.parent / "run"                  # a training run's model.pt is named by its path
    run.mkdir()
    (run / "model.pt").write_bytes(tiny_model.read_bytes())
    assert main(["predict", str(spectrum_300_800), "--model", str(run / "model.pt"), "--no-verify"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"model {run / 'model.pt'}, threshold 0.30"
