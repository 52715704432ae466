"""Start-up of ``eels-id``: help imports neither torch nor matplotlib; ``--quiet`` silences
progress. (The timings themselves are in benchmarks/bench_startup.py, not in tests.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eels_helpers import shipped_model_names
from eels_helpers.cli import COMMANDS, main

HEAVY = ("torch", "matplotlib", "scipy", "pandas", "h5py", "hyperspy", "exspy")


def test_help_of_every_command_imports_no_heavy_package():
    """One fresh process prints `eels-id --help` and every `eels-id COMMAND --help` (as the
    parser does when asked), then lists which heavy packages were imported."""
    code = ("import contextlib, io, sys\n"
            "from eels_helpers.cli import COMMANDS, main\n"
            "for argv in [['--help']] + [[c, '--help'] for c in COMMANDS]:\n"
            "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "        try:\n"
            "            main(argv)\n"
            "        except SystemExit as err:\n"
            "            assert err.code == 0, (argv, err.code)\n"
            "    assert 'usage: eels-id' in out.getvalue(), argv\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_help_lists_the_shipped_models_without_importing_torch():
    from eels_helpers.models.model_files import shipped_models

    assert shipped_model_names() == shipped_models()


def test_every_command_has_quiet(capsys):
    for name in COMMANDS:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert "--quiet" in capsys.readouterr().out, name
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--quiet" in out and "--traceback" in out and "exit status" in out


@pytest.fixture(scope="module")
def spectrum_file(tmp_path_factory) -> Path:
    """A small .msa (600 channels of a power law with an O K-like edge)."""
    import numpy as np
    from rsciio.msa import file_writer

    energy = 400.0 + 0.5 * np.arange(600)
    counts = 1e6 * (energy / 400.0) ** -3 + np.where(energy > 532, 3e4 * np.exp(-(energy - 532) / 60), 0)
    path = tmp_path_factory.mktemp("startup") / "small.msa"
    axes = [{"name": "Energy loss", "size": energy.size, "scale": 0.5, "offset": 400.0, "units": "eV",
             "navigate": False}]
    file_writer(str(path), {"data": counts.astype(np.float32), "axes": axes,
                            "metadata": {"General": {"title": "small"}, "Signal": {"signal_type": "EELS"}},
                            "original_metadata": {}})
    return path


def test_quiet_predict_prints_results_and_nothing_on_stderr(spectrum_file, capsys, monkeypatch):
    # two files: without --quiet a progress bar over the files goes to stderr, where it is a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["predict", str(spectrum_file), str(spectrum_file)]) == 0
    loud = capsys.readouterr()
    assert loud.out.count("small.msa:") == 2 and "file" in loud.err
    assert loud.out.startswith("model ") and loud.out.count("threshold") == 1     # one header line
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)     # a log file: the results, no bar text
    assert main(["predict", str(spectrum_file), str(spectrum_file)]) == 0
    logged = capsys.readouterr()
    assert logged.out.count("small.msa:") == 2 and logged.err == ""
    for argv in (["--quiet", "predict"], ["predict", "--quiet"], ["-q", "predict"]):
        assert main([*argv, str(spectrum_file), str(spectrum_file)]) == 0
        quiet = capsys.readouterr()
        assert quiet.out.count("small.msa:") == 2, argv
        assert quiet.err == "", argv


def test_quiet_simulate_preview_is_silent_on_stderr(capsys):
    assert main(["--quiet", "simulate", "preview", "--elements", "Fe,O", "--n", "2"]) == 0
    captured = capsys.readouterr()
    assert "query Fe" in captured.out and captured.err == ""


def test_no_progress_stays_an_alias_of_quiet():
    import argparse

    from eels_helpers.cli import add_quiet_option, show_progress

    parser = argparse.ArgumentParser()
    add_quiet_option(parser, no_progress=True)
    assert show_progress(parser.parse_args([]))
    assert not show_progress(parser.parse_args(["--no-progress"]))
    assert not show_progress(parser.parse_args(["--quiet"]))
