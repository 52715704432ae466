"""cli.arguments: the argparse types every command shares refuse what they must, naming the value."""

from __future__ import annotations

import argparse

import pytest

from eels_helpers.cli.arguments import finite_float, non_negative_int, positive_int, probability


@pytest.mark.parametrize("convert, text, message", [
    (probability, "1.5", "must be a probability in (0, 1), got '1.5'"),
    (probability, "0", "must be a probability in (0, 1), got '0'"),
    (probability, "nan", "must be a finite number, got 'nan'"),
    (probability, "high", "must be a number, got 'high'"),
    (positive_int, "0", "must be an integer >= 1, got '0'"),
    (positive_int, "2.5", "must be an integer >= 1, got '2.5'"),
    (non_negative_int, "-1", "must be an integer >= 0, got '-1'"),
    (finite_float, "inf", "must be a finite number, got 'inf'"),
])
def test_refused_values_name_themselves(convert, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as err:
        convert(text)
    assert str(err.value) == message


def test_accepted_values():
    assert probability("0.65") == 0.65 and positive_int("256") == 256 and non_negative_int("0") == 0


@pytest.mark.parametrize("argv, option", [
    (["predict", "x.msa", "--threshold", "1"], "--threshold"),
    (["predict", "x.msa", "--batch-size", "0"], "--batch-size"),
    (["map", "x.dm4", "--out", "maps", "--threshold", "0"], "--threshold"),
    (["failures", "--threshold", "2"], "--threshold"),
])
def test_commands_share_the_types(argv, option, capsys):
    """predict, map and failures check --threshold (and --batch-size) with the same types: one
    usage error (2) that names the option, before any file or model is touched."""
    from eels_helpers.cli import main

    with pytest.raises(SystemExit) as usage:
        main(argv)
    assert usage.value.code == 2
    assert f"argument {option}: must be " in capsys.readouterr().err


def test_device_names_are_checked_when_parsed(capsys):
    """A user's walk-through (session 52): `evaluate --device gpu` failed after loading (status 1);
    every command's --device is now checked as it is parsed (status 2), availability at the start."""
    from support import cli_status

    from eels_helpers.cli.arguments import device_name

    assert [device_name(d) for d in ("auto", "cpu", "cuda", "cuda:1")] == ["auto", "cpu", "cuda", "cuda:1"]
    for argv in (["evaluate", "default"], ["failures"], ["predict", "x.msa"], ["map", "x.dm4"]):
        assert cli_status([*argv, "--device", "gpu"]) == 2, argv
        assert "argument --device: must be auto, cpu, cuda or cuda:N, got 'gpu'" in capsys.readouterr().err
