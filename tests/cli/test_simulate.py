"""``eels-id simulate``: the sub-commands ``dataset`` and ``preview``, their flags and errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eels_helpers.cli import main


def _exit_code(argv) -> int:
    with pytest.raises(SystemExit) as err:
        main(argv)
    return err.value.code


def test_without_a_mode_prints_the_help_listing_both_modes(capsys):
    assert main(["simulate"]) == 2
    err = capsys.readouterr().err
    assert "usage: eels-id simulate" in err
    assert "    dataset   the paper's splits" in err and "    preview   a quick look" in err
    assert _exit_code(["simulate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "    dataset   " in out and "    preview   " in out and "an interrupted run resumes" in out


def test_argparse_enforces_each_modes_flags(capsys):
    assert _exit_code(["simulate", "dataset", "--profile", "smoke"]) == 2
    assert "the following arguments are required: --out" in capsys.readouterr().err
    assert _exit_code(["simulate", "preview", "--n", "2"]) == 2
    assert "the following arguments are required: --elements" in capsys.readouterr().err
    assert _exit_code(["simulate", "preview", "--elements", "Ce,O", "--profile", "smoke"]) == 2
    assert "unrecognized arguments: --profile" in capsys.readouterr().err
    assert _exit_code(["simulate", "dataset", "--profile", "smoke", "--out", "x.h5", "--plot", "x.png"]) == 2
    assert "unrecognized arguments: --plot" in capsys.readouterr().err
    assert _exit_code(["simulate", "dataset", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--profile", "--out", "--workers", "--shard", "--seed", "--splits", "--dtype", "--scale",
                 "--query-elements", "--no-progress"):
        assert flag in out
    assert _exit_code(["simulate", "preview", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--elements", "--fractions", "--n", "--plot", "--seed"):
        assert flag in out


def test_errors_of_the_library_are_reported(capsys):
    assert main(["simulate", "preview", "--elements", "Ce,Xy", "--n", "2"]) == 2
    assert "eels-id simulate preview: error: unknown element(s) Xy" in capsys.readouterr().err
    assert main(["simulate", "preview", "--elements", "ce,o", "--n", "2"]) == 2      # session 52's walk-through
    assert "unknown element(s) ce, o (did you mean Ce, O? symbols are case-sensitive)" in capsys.readouterr().err
    assert main(["simulate", "preview", "--elements", "", "--n", "2"]) == 2
    assert "--elements is empty" in capsys.readouterr().err
    assert main(["simulate", "dataset", "--profile", "huge", "--out", "x.h5"]) == 2
    assert "unknown profile 'huge'" in capsys.readouterr().err
    assert main(["simulate", "dataset", "--profile", "smoke", "--out", "x.h5", "--shard", "4/4"]) == 2
    assert "0 <= I < N" in capsys.readouterr().err


def test_simulate_help_imports_neither_torch_nor_h5py():
    code = ("import argparse, sys\n"
            "from eels_helpers.cli import simulate\n"
            "p = argparse.ArgumentParser(prog='eels-id simulate'); simulate.configure_parser(p)\n"
            "p.format_help(); simulate.main(p.parse_args([]))\n"
            "print([m for m in ('torch', 'h5py', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_preview_prints_and_plots(tmp_path, capsys):
    png = tmp_path / "look.png"
    assert main(["simulate", "preview", "--elements", "Fe,O", "--n", "3", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "query Fe" in out and out.count("spectrum ") == 3
    assert png.stat().st_size > 10_000


def test_dataset_writes_and_resumes_nothing_twice(tmp_path, capsys):
    from eels_helpers.datasets.config import DatasetConfig
    from eels_helpers.datasets.hdf5_reader import open_dataset

    out = tmp_path / "cli.h5"
    args = ["simulate", "dataset", "--profile", "smoke", "--out", str(out), "--query-elements", "C,Fe",
            "--splits", "test,single", "--seed", "2"]
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().err
    d = open_dataset(out)
    assert d.splits == ("test", "single")
    assert len(d["test"]) == 2 * DatasetConfig.from_profile("smoke").samples_per_element("test") * 5
    assert main(args) == 0
    assert "already complete" in capsys.readouterr().err
    assert main(args + ["-q"]) == 0 and capsys.readouterr().err == ""     # --quiet: no message
    assert main(args[:-2] + ["--seed", "3"]) == 2   # same file, other seed
    assert "different settings (seed 2 != 3)" in capsys.readouterr().err
    assert main(args + ["--scale", "0.0002"]) == 2     # other settings are named one by one
    assert "different settings (scale " in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("not a dataset")
    assert main([*args[:5], str(tmp_path / "notes.txt"), *args[6:]]) == 2
    err = capsys.readouterr().err
    assert "notes.txt is not an HDF5 file" in err and (tmp_path / "notes.txt").read_text() == "not a dataset"


def test_preview_and_dataset_take_the_open_world_configuration(tmp_path, capsys):
    import h5py

    from eels_helpers.cli import main

    assert main(["simulate", "preview", "--elements", "Fe,O", "--n", "3", "--simulation", "open-world"]) == 0
    assert "spectrum 2: labelled" in capsys.readouterr().out
    out = tmp_path / "ow.h5"
    assert main(["simulate", "dataset", "--profile", "smoke", "--out", str(out), "--splits", "test",
                 "--query-elements", "Fe,O", "--simulation", "open-world", "--no-progress"]) == 0
    with h5py.File(out) as f:
        assert "edge_free" in f["test/params"] and "distractor_element" in f["test/params"]
        assert json.loads(f.attrs["simulation_config"])["edge_free_fraction"] == 0.1


def test_bad_values_name_their_option_and_the_plot_folder_is_made(tmp_path, capsys):
    adir = tmp_path / "adir"
    adir.mkdir()
    assert main(["simulate", "dataset", "--profile", "smoke", "--out", str(adir), "--quiet"]) == 2
    assert capsys.readouterr().err == (f"eels-id simulate dataset: error: --out {adir} is a directory; "
                                       "give a .h5 file path\n")
    assert list(adir.iterdir()) == []
    for argv, flag in ((["preview", "--elements", "Ce,O", "--seed", "-1"], "--seed"),
                       (["dataset", "--profile", "smoke", "--out", str(tmp_path / "x.h5"), "--seed", "-1"], "--seed"),
                       (["preview", "--elements", "Ce,O", "--fractions", "a,b"], "--fractions"),
                       (["dataset", "--profile", "smoke", "--out", str(tmp_path / "x.h5"), "--scale", "nan"], "--scale")):
        assert _exit_code(["simulate", *argv]) == 2
        assert f"argument {flag}: must be" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()
    png = tmp_path / "nod3" / "p.png"                     # its folder is made, as predict --plot does
    assert main(["simulate", "preview", "--elements", "Fe,O", "--n", "1", "--fractions", "0.4,0.6",
                 "--plot", str(png)]) == 0
    assert png.stat().st_size > 10_000
