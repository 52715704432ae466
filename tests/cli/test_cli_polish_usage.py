"""`eels-id` without a command is a usage error (2); --traceback is accepted after the command too."""

from __future__ import annotations

import pytest

from eels_helpers.cli import COMMANDS, main


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: eels-id")
    assert err.rstrip().endswith("eels-id: error: a command is required (e.g. eels-id predict FILE)")


def test_traceback_after_the_command(monkeypatch, capsys):
    import eels_helpers.cli.models as models_cli

    def broken(args):
        raise OSError("disk on fire")

    monkeypatch.setattr(models_cli, "main", broken)
    for argv in (["--traceback", "models"], ["models", "--traceback"]):
        with pytest.raises(OSError, match="disk on fire"):
            main(argv)
    assert main(["models"]) == 1             # the default stays one line
    assert capsys.readouterr().err == "eels-id models: error: disk on fire\n"


@pytest.mark.parametrize("argv", [[c] for c in COMMANDS] + [["simulate", "dataset"], ["simulate", "preview"]])
def test_every_command_has_traceback(argv, capsys):
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    out = capsys.readouterr().out
    assert "--traceback" in out and "--quiet" in out, argv
