"""Every command's failure paths: one line ``eels-id CMD: error: ...`` on stderr, no traceback,
status 2 for a wrong command line and 1 for work that failed; a closed pipe ends quietly."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import cli_status as _status

from eels_helpers.cli import EXIT_BROKEN_PIPE, main


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
    """A wrong profile, chapter or option is a usage error (2); a project that cannot run, a failure (1);
    --list lists the chapters --only names (a page, or every page of a notebook)."""
    assert _status(["book", "--profile", "gpu", "--list"]) == 2
    _one_error_line(capsys.readouterr().err, "book")
    assert _status(["book", "--list", "--only", "99_nope"]) == 2
    _one_error_line(capsys.readouterr().err, "book")
    assert _status(["book", "--list", "--param", "n_spectra=3"]) == 2
    assert "--param is for a run" in capsys.readouterr().err
    assert _status(["book", "--list", "--only", "01_introduction", "04_train_architecture"]) == 0
    listed = [ln.split()[0] for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ")]
    assert listed[0] == "01_introduction" and len(listed) > 2
    assert all(n == "01_introduction" or n.startswith("04_train_architecture") for n in listed)
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


def test_errors_a_command_handles_itself_show_their_traceback_with_traceback(tmp_path, capsys):
    """predict (a missing file among others), map (a missing file) and simulate (a bad element) report
    their errors themselves; --traceback (before or after the command) puts Python's traceback above
    the same one line, and the exit status stays the command's."""
    cases = [(["predict", str(tmp_path / "absent.msa")], "predict", 1),
             (["map", str(tmp_path / "missing.dm4"), "--out", str(tmp_path / "out")], "map", 1),
             (["simulate", "preview", "--elements", "Xx"], "simulate preview", 2)]
    for argv, command, status in cases:
        assert _status(argv) == status, argv
        _one_error_line(capsys.readouterr().err, command)
        for traced in (["--traceback", *argv], [*argv, "--traceback"]):
            assert _status(traced) == status, traced
            err = capsys.readouterr().err
            assert err.startswith("Traceback (most recent call last):"), err
            assert err.splitlines()[-1].startswith(f"eels-id {command}: error: "), err


def test_bfloat16_where_it_computes_wrong_numbers_is_a_usage_error(tmp_path, monkeypatch, capsys):
    """predict --precision bf16 and map --bf16 on a device whose bfloat16 convolutions are wrong: one
    line and 2 before any file is read (predict used to fail each file with 1)."""
    import eels_helpers.device as device

    monkeypatch.setattr(device, "bfloat16_fault", lambda kind: f"bfloat16 convolutions give wrong numbers on this {kind}")
    files = [str(tmp_path / "a.msa"), str(tmp_path / "b.msa")]         # never read
    assert _status(["predict", *files, "--precision", "bf16", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    _one_error_line(err, "predict")
    assert len(err.splitlines()) == 1 and "wrong numbers on this cpu" in err
    for precision in (["--precision", "bf16"], ["--bf16"]):     # map takes predict's option; --bf16 its alias
        assert _status(["map", files[0], *precision, "--device", "cpu", "--out", str(tmp_path / "out")]) == 2
        _one_error_line(capsys.readouterr().err, "map")


def test_map_and_predict_share_the_precision_option():
    import argparse

    from eels_helpers.cli import map as map_cli
    from eels_helpers.cli import predict as predict_cli

    for module in (map_cli, predict_cli):
        parser = argparse.ArgumentParser()
        module.configure_parser(parser)
        needed = ["x.dm4", "--out", "d"] if module is map_cli else ["x.dm4"]
        assert parser.parse_args(needed).precision == "auto"
        assert parser.parse_args(needed + ["--precision", "int8"]).precision == "int8"
    parser = argparse.ArgumentParser()
    map_cli.configure_parser(parser)
    assert parser.parse_args(["x", "--out", "d", "--int8"]).precision == "int8"
    assert parser.parse_args(["x", "--out", "d", "--bf16"]).precision == "bf16"
    for both in (["--bf16", "--int8"], ["--precision", "fp32", "--bf16"]):     # one choice, not the last one
        with pytest.raises(SystemExit):
            parser.parse_args(["x", "--out", "d", *both])


def test_predict_checks_the_verification_options_without_verify(tmp_path, capsys):
    """--E0 / --alpha / --beta and --candidate-threshold out of range are usage errors (2) whether or not
    --verify is given, before any file is read (they were accepted silently without --verify)."""
    absent = str(tmp_path / "absent.msa")
    for option in (["--E0", "-5"], ["--beta", "0"], ["--candidate-threshold", "2"]):
        for verify in ("--verify", "--no-verify"):
            assert _status(["predict", absent, verify, *option]) == 2, (option, verify)
            err = capsys.readouterr().err
            _one_error_line(err, "predict")
            assert option[0] in err and "absent.msa" not in err
