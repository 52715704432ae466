"""Every command's failure paths: one line ``eels-id CMD: error: ...`` on stderr, no traceback,
status 2 for a wrong command line and 1 for work that failed; a closed pipe ends quietly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eels_helpers.cli import EXIT_BROKEN_PIPE, main


def _status(argv) -> int:
    """main's return value, or argparse's exit code for a usage error."""
    try:
        return main(argv)
    except SystemExit as err:
        return err.code


def _one_error_line(err: str, command: str) -> None:
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert lines and lines[0].startswith(f"eels-id {command}: error: "), err
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    for argv in (["nonsense"], ["predict"], ["map", "x.dm4"], ["train", "--out", "x"],
                 ["book", "--bogus"], ["models", "--bogus"], ["simulate", "dataset", "--out", "x.h5"],
                 ["predict", "x.msa", "--threshold", "high"]):
        assert _status(argv) == 2, argv
        assert "usage: eels-id" in capsys.readouterr().err


def test_predict(tmp_path, capsys):
    assert _status(["predict", str(tmp_path / "absent.msa")]) == 1
    _one_error_line(capsys.readouterr().err, "predict")
    garbage = tmp_path / "garbage.msa"
    garbage.write_text("not a spectrum\n")
    assert _status(["predict", str(garbage)]) == 1
    _one_error_line(capsys.readouterr().err, "predict")
    assert _status(["predict", str(garbage), "--model", "no-such-model"]) == 2
    _one_error_line(capsys.readouterr().err, "predict")
    assert _status(["predict", str(garbage), "--threshold", "1.5"]) == 2
    _one_error_line(capsys.readouterr().err, "predict")
    bad_model = tmp_path / "model.pt"
    bad_model.write_bytes(b"not a model")
    assert _status(["predict", str(garbage), "--model", str(bad_model)]) == 2
    _one_error_line(capsys.readouterr().err, "predict")


def test_map(tmp_path, capsys):
    assert _status(["map", str(tmp_path / "missing.dm4"), "--out", str(tmp_path / "out")]) == 1
    _one_error_line(capsys.readouterr().err, "map")
    assert not (tmp_path / "out").exists()
    assert _status(["map", "superlattice", "--out", str(tmp_path / "out"), "--twin-neighbourhood", "2"]) == 2
    err = capsys.readouterr().err
    _one_error_line(err, "map")
    assert "--twin-neighbourhood must be an odd number" in err
    assert not (tmp_path / "out").exists()


def test_models(tmp_path, capsys):
    assert _status(["models", "--dir", str(tmp_path / "missing")]) == 2
    _one_error_line(capsys.readouterr().err, "models")


def test_simulate(tmp_path, capsys):
    assert _status(["simulate", "preview", "--elements", "Xx,O"]) == 2
    _one_error_line(capsys.readouterr().err, "simulate preview")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    # the output's folder is a file: the work fails (1), nothing is left behind
    assert _status(["simulate", "dataset", "--profile", "smoke", "--out", str(blocker / "d.h5"),
                    "--quiet"]) == 1
    _one_error_line(capsys.readouterr().err, "simulate dataset")
    assert blocker.read_text() == ""


def test_train(tmp_path, capsys):
    assert _status(["train", "--model", "mlp", "--data", str(tmp_path / "absent.h5"),
                    "--out", str(tmp_path / "run"), "--quiet"]) == 1
    _one_error_line(capsys.readouterr().err, "train")
    assert _status(["train", "--model", "mlp", "--synthetic", "8", "--out", str(tmp_path / "run"),
                    "--option", "width"]) == 2
    _one_error_line(capsys.readouterr().err, "train")
    assert _status(["train", "--model", "mlp", "--synthetic", "8", "--out", str(tmp_path / "run"),
                    "--batch-size", "0"]) == 2
    _one_error_line(capsys.readouterr().err, "train")


def test_book(tmp_path, capsys):
    assert _status(["book", "--profile", "gpu", "--list"]) == 1
    _one_error_line(capsys.readouterr().err, "book")
    assert _status(["book", "--profile", "smoke", "--root", str(tmp_path), "--no-build"]) == 1
    _one_error_line(capsys.readouterr().err, "book")


def test_an_unexpected_failure_of_a_command_is_one_line_unless_traceback(monkeypatch, capsys):
    import eels_helpers.cli.models as models_cli

    def broken(args):
        raise OSError("disk on fire\nsecond line")

    monkeypatch.setattr(models_cli, "main", broken)
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    assert err == "eels-id models: error: disk on fire\n"
    with pytest.raises(OSError, match="disk on fire"):
        main(["--traceback", "models"])

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(models_cli, "main", interrupted)
    assert main(["models"]) == 130
    assert "eels-id models: interrupted" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly():
    """`eels-id models | head -0`: the reader is gone before the table is written."""
    proc = subprocess.Popen([sys.executable, "-m", "eels_helpers.cli", "models"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == EXIT_BROKEN_PIPE
    assert "Traceback" not in err and "BrokenPipe" not in err, err
