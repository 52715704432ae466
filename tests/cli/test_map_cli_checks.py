"""``eels-id map``: what it checks before the network runs (navigation axes, option values, --out),
the microscope values of its quantification, and what it leaves in --out (an earlier run's files,
a failed or interrupted run). Tiny 2 x 3 images; a fake network (``support.FeMarker``) or none."""

from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pytest
from support import FeMarker
from support import cli_status as _status

from eels_helpers.cli import main
from eels_helpers.inference import mapping, mapping_output
from eels_helpers.spectrum import Spectrum

ENERGY = np.arange(600.0, 800.0, 1.0)


def _image(nav=(2, 3), metadata=None) -> Spectrum:
    data = np.full(nav + (ENERGY.size,), 1e3, np.float32)
    data[..., 100] += 1e3                      # a spike at 700 eV: FeMarker reports Fe in every pixel
    return Spectrum(data, ENERGY, dict(metadata or {}), "img.hspy")


def _error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert lines and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def no_work(monkeypatch):
    """Reading FILE or running the network fails the test: the checks come first."""
    def read(path):
        raise AssertionError(f"{path} was read")

    def run(*a, **k):
        raise AssertionError("the network ran")

    monkeypatch.setattr(mapping, "read_map_input", read)
    monkeypatch.setattr(mapping, "map_elements", run)


@pytest.fixture
def fe_network(monkeypatch):
    """``map`` runs FeMarker whatever --model says; FILE is the image ``fe_network.image``."""
    real = mapping.map_elements

    class Holder:
        image = _image()

    monkeypatch.setattr(mapping, "read_map_input", lambda path: (Holder.image, None, None))
    monkeypatch.setattr(mapping, "map_elements", lambda spectrum, model, *a, **k: real(spectrum, FeMarker(), *a, **k))
    return Holder


def test_three_navigation_axes_are_refused_before_the_network(tmp_path, monkeypatch, capsys):
    """Item: a (2, 2, 2) scan ran the network, then failed in plot_fig7 and left an empty --out."""
    def run(*a, **k):
        raise AssertionError("the network ran")

    monkeypatch.setattr(mapping, "read_map_input", lambda path: (_image((2, 2, 2)), None, None))
    monkeypatch.setattr(mapping, "map_elements", run)
    out = tmp_path / "maps"
    assert _status(["map", "img3d.hspy", "--out", str(out)]) == 2
    line = _error_line(capsys.readouterr().err)
    assert line == ("eels-id map: error: img3d.hspy has 3 navigation axes (2, 2, 2); map takes a line scan or an "
                    "image (1 or 2 axes); use `eels-id predict` for single spectra")
    assert not out.exists()
    result = mapping.MappingResult(np.zeros((2, 2, 2, 80), np.float32), 0.5, 0.01, ("Fe",), np.zeros(80))
    with pytest.raises(ValueError, match="1 or 2 navigation axes"):      # the library refuses too
        mapping_output.plot_fig7(_image((2, 2, 2)), result)
    with pytest.raises(ValueError, match="1 or 2 navigation axes"):
        mapping_output.write_results(out, _image((2, 2, 2)), result)
    assert not out.exists()


@pytest.mark.parametrize("options, message", [
    (["--E0", "5"], "--E0 5: E0_keV = 5.0 keV is outside the allowed range [10.0, 1000.0] keV"),
    (["--E0", "nan"], "argument --E0: must be a finite number, got 'nan'"),
    (["--alpha", "-10"], "--alpha -10: alpha_mrad = -10.0 mrad is outside the allowed range [0.0, 200.0] mrad"),
    (["--beta", "0"], "--beta 0: beta_mrad = 0.0 mrad is outside the allowed range [0.01, 500.0] mrad"),
    (["--verify-blocks", "0"], "--verify-blocks must be 1..32 blocks per image axis, got 0"),
    (["--gos", "bogus"], "--gos bogus: GOS file bogus does not exist"),
    (["--gos", "EMPTY"], "cannot be read as HDF5"),
    (["--threshold", "1.5"], "argument --threshold: must be a probability in (0, 1), got '1.5'"),
    (["--presence", "1"], "--presence must be a pixel fraction in [0, 1), got 1"),
    (["--batch-size", "0"], "argument --batch-size: must be an integer >= 1, got '0'"),
    (["--out", "FILE"], "is a file; give a folder"),
])
def test_options_are_checked_before_the_file_is_read(tmp_path, no_work, capsys, options, message):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    options = [str(empty) if o in ("EMPTY", "FILE") else o for o in options]
    out = tmp_path / "maps"
    argv = ["map", "img.hspy", "--out", str(out), *options]
    assert _status(argv) == 2
    line = _error_line(capsys.readouterr().err)
    assert line.startswith("eels-id map: error: ") and message in line, line
    assert not out.exists() and empty.read_text() == ""


def test_the_microscope_ranges_are_predicts(tmp_path, no_work, capsys):
    """--E0/--alpha/--beta: the function predict's VerifyConfig checks them with, not a copy of its numbers."""
    from eels_helpers.inference.verification import VerifyConfig

    for flag, name, value in (("--E0", "E0_keV", 1500.0), ("--alpha", "alpha_mrad", 250.0),
                              ("--beta", "beta_mrad", 600.0)):
        with pytest.raises(ValueError) as predicts:
            VerifyConfig(**{name: value})
        assert _status(["map", "img.hspy", "--out", str(tmp_path / "m"), flag, f"{value:g}"]) == 2
        assert str(predicts.value) in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "x"])
def test_offset_must_be_a_finite_number(tmp_path, no_work, capsys, value):
    assert _status(["map", "img.hspy", "--out", str(tmp_path / "m"), f"--offset={value}"]) == 2
    assert "argument --offset: must be a" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_an_out_where_nothing_can_be_created_fails_before_any_work(tmp_path, no_work, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep")
    assert _status(["map", "img.hspy", "--out", str(blocker / "maps")]) == 1       # the work cannot be written
    assert "eels-id map: error: cannot write to --out" in _error_line(capsys.readouterr().err)
    assert blocker.read_text() == "keep"


def test_missing_microscope_values_take_predicts_defaults_named_in_one_note(tmp_path, fe_network, capsys):
    out = tmp_path / "maps"
    assert main(["map", "img.hspy", "--out", str(out), "--gos", "hydrogenic"]) == 0
    captured = capsys.readouterr()
    notes = [ln for ln in captured.err.splitlines() if "note:" in ln]
    assert notes == ["eels-id map: note: img.hspy has no beam_energy_keV, convergence_angle_mrad, "
                     "collection_angle_mrad; the quantification takes E0 200 keV, alpha 10 mrad, beta 30 mrad, the "
                     "defaults of predict (pass --E0, --alpha, --beta with the microscope's values, or --no-quantify)"]
    assert "quantified Fe" in captured.out
    with h5py.File(out / "mapping.h5") as f:
        config = json.loads(f["quantification"].attrs["config"])
        assert (config["E0_keV"], config["alpha_mrad"], config["beta_mrad"]) == (200.0, 10.0, 30.0)
        assert set(json.loads(f["quantification"].attrs["microscope_source"]).values()) == {"default"}
    # the file's value, then the option's; only the rest is defaulted
    fe_network.image = _image(metadata={"beam_energy_keV": 300.0})
    assert main(["map", "img.hspy", "--out", str(out), "--gos", "hydrogenic", "--beta", "50"]) == 0
    notes = [ln for ln in capsys.readouterr().err.splitlines() if "note:" in ln]
    assert len(notes) == 1 and "has no convergence_angle_mrad; the quantification takes alpha 10 mrad, the " \
                               "default of predict (pass --alpha" in notes[0]
    with h5py.File(out / "mapping.h5") as f:
        assert json.loads(f["quantification"].attrs["microscope_source"]) == {
            "E0_keV": "metadata", "alpha_mrad": "default", "beta_mrad": "given"}
    # --no-quantify: nothing to say
    fe_network.image = _image()
    assert main(["map", "img.hspy", "--out", str(out), "--no-quantify"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_a_files_microscope_value_out_of_range_is_refused_before_the_network(tmp_path, monkeypatch, capsys):
    def run(*a, **k):
        raise AssertionError("the network ran")

    monkeypatch.setattr(mapping, "read_map_input",
                        lambda path: (_image(metadata={"beam_energy_keV": 5.0}), None, None))
    monkeypatch.setattr(mapping, "map_elements", run)
    assert _status(["map", "img.hspy", "--out", str(tmp_path / "m")]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "img.hspy: the file's beam_energy_keV 5 keV cannot be used" in line and "pass --E0" in line
    assert not (tmp_path / "m").exists()


def test_a_rerun_removes_the_earlier_runs_outputs_it_does_not_rewrite_and_nothing_else(tmp_path, fe_network, capsys):
    out = tmp_path / "maps"
    assert main(["map", "img.hspy", "--out", str(out), "--gos", "hydrogenic", "--E0", "200", "--alpha", "10",
                 "--beta", "30", "--verify", "--verify-blocks", "1", "--model", "default"]) == 0
    assert {"quantification.png", "verification.json", "verification.png"} <= {p.name for p in out.iterdir()}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]          # no temporary folder left
    text = capsys.readouterr().out      # as predict: rejected neighbours below the candidate threshold not listed
    assert "verified (summed spectrum" in text and not re.search(r"rejected \S+ +p=0\.0[0-4]", text)
    (out / "mine.png").write_text("the user's")
    assert main(["map", "img.hspy", "--out", str(out), "--no-quantify"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fig7.png", "mapping.h5", "mine.png", "probabilities.png",
                                                     "thresholded.png"]
    with h5py.File(out / "mapping.h5") as f:
        assert sorted(json.loads(f.attrs["files"])) == ["fig7.png", "mapping.h5", "probabilities.png",
                                                        "thresholded.png"]
    # a folder without an earlier map's mapping.h5: a file named like an output is not ours, and stays
    other = tmp_path / "other"
    other.mkdir()
    (other / "quantification.png").write_text("the user's")
    assert main(["map", "img.hspy", "--out", str(other), "--no-quantify"]) == 0
    assert (other / "quantification.png").read_text() == "the user's"


@pytest.mark.parametrize("failure, status", [(KeyboardInterrupt, 130), (OSError("disk full"), 1)])
def test_a_failed_or_interrupted_write_leaves_no_new_folder_and_the_earlier_run_whole(
        tmp_path, fe_network, monkeypatch, capsys, failure, status):
    earlier = tmp_path / "earlier"
    assert main(["map", "img.hspy", "--out", str(earlier), "--no-quantify"]) == 0
    before = {p.name: p.read_bytes() for p in earlier.iterdir()}

    def fail(*a, **k):
        raise failure

    monkeypatch.setattr(mapping_output, "plot_fig7", fail)
    new = tmp_path / "a" / "b"
    assert main(["map", "img.hspy", "--out", str(new), "--no-quantify"]) == status
    assert not (tmp_path / "a").exists()
    assert main(["map", "img.hspy", "--out", str(earlier), "--no-quantify"]) == status
    assert {p.name: p.read_bytes() for p in earlier.iterdir()} == before
