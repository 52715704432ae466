"""Python warnings raised while a command runs: one line ``eels-id COMMAND: warning: ...`` on
stderr (no file, line or source), also under --quiet; Python's own display is restored after."""

from __future__ import annotations

import warnings

import pytest
from support import tiny_mlp_file

from eels_helpers.cli import main


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return tiny_mlp_file(tmp_path_factory.mktemp("model") / "tiny.pt", threshold=0.5)


def _delta_csv(path):
    """Counts all zero but one channel: pre-processing warns that no intensity is positive."""
    path.write_text("energy,counts\n" + "".join(f"{400 + 0.5 * i},{1000 if i == 300 else 0}\n"
                                                for i in range(600)))
    return path


def test_a_warning_is_one_line_without_source_and_the_display_is_restored(tmp_path, tiny_model, capsys):
    before = warnings.showwarning
    # one file name per call: Python shows a warning once per text and place in a process
    for name, argv in (("a", ["predict"]), ("b", ["-q", "predict"]), ("c", ["predict", "--quiet"])):
        csv = _delta_csv(tmp_path / f"delta_{name}.csv")
        assert main([*argv, str(csv), "--model", str(tiny_model), "--no-verify"]) == 0, argv
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if "warning" in ln.lower()]
        assert len(lines) == 1 and lines[0].startswith(f"eels-id predict: warning: delta_{name}.csv: 1 of 1 spectra "
                                                       "have no positive intensity in "), err
        assert lines[0].endswith("were set to zero"), err
        assert "UserWarning" not in err and "predict.py:" not in err and "preprocess(" not in err, err
        assert warnings.showwarning is before, argv


def test_with_traceback_warnings_keep_pythons_form(tmp_path, tiny_model, capsys):
    csv = _delta_csv(tmp_path / "delta.csv")
    with pytest.warns(UserWarning, match="delta.csv: 1 of 1 spectra have no positive intensity"):
        assert main(["--traceback", "predict", str(csv), "--model", str(tiny_model), "--no-verify"]) == 0
    assert "eels-id predict: warning:" not in capsys.readouterr().err


def test_the_display_is_restored_when_the_command_fails(monkeypatch, capsys):
    import eels_helpers.cli.models as models_cli

    def broken(args):
        warnings.warn("disk warm", UserWarning)
        raise OSError("disk on fire")

    monkeypatch.setattr(models_cli, "main", broken)
    before = warnings.showwarning
    assert main(["models"]) == 1
    assert capsys.readouterr().err == "eels-id models: warning: disk warm\neels-id models: error: disk on fire\n"
    assert warnings.showwarning is before
