"""``eels-id train``: a run from a plain HDF5 file, the summary line, the same flags as before."""

import json

import numpy as np

from eels_helpers.training.data import SyntheticPeaks


def test_cli_trains_from_a_plain_hdf5_file(tmp_path, capsys):
    import h5py

    from eels_helpers.cli import main

    data = SyntheticPeaks(24)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["spectra"] = np.stack([data[i][0] for i in range(24)])
        f["labels_identification"] = np.stack([data[i][1] for i in range(24)])
    command = ["train", "--model", "mlp", "--profile", "smoke", "--data", str(tmp_path / "d.h5"),
               "--out", str(tmp_path / "run"), "--option", "width=0.02", "--batch-size", "4", "--no-progress",
               "--threads", "1", "--steps-per-epoch", "5", "--max-epochs", "2"]
    assert main(command) == 0 and len(json.loads((tmp_path / "run/log.json").read_text())) == 2
    assert "stopped: max_epochs 2 reached" in capsys.readouterr().out
    # the same --out again without --resume: refused (exit 2), the earlier run left as it was
    written = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    assert main(command + ["--max-epochs", "3"]) == 2
    error = capsys.readouterr().err
    assert "checkpoint.pt holds an earlier training run" in error and "--resume" in error
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == written
    assert main(command + ["--max-epochs", "3", "--resume"]) == 0      # --resume continues it
    assert len(json.loads((tmp_path / "run/log.json").read_text())) == 3


def test_config_from_args_reads_the_profile_and_the_overrides():
    import argparse

    from eels_helpers.cli.train import config_from_args, configure_parser

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(["--model", "vit", "--profile", "paper", "--synthetic", "8", "--out", "x",
                              "--option", "depth=2", "--option", "attn_dropout=0.25", "--lr", "3e-4", "--no-progress"])
    config = config_from_args(args)
    assert (config.model, config.model_config, config.steps_per_epoch, config.learning_rate) == (
        "vit", "paper", 1000, 3e-4)
    assert config.model_options == {"depth": 2, "attn_dropout": 0.25} and config.progress is False
    args = parser.parse_args(["--model", "unet", "--stream", "--out", "x", "--simulation", "open-world-multiplet",
                              "--paper-fraction", "0.25"])
    assert (config_from_args(args).simulation, config_from_args(args).paper_fraction) == ("open-world-multiplet", 0.25)


def test_fine_tuning_flags_read_the_network_from_the_model_file(tmp_path):
    import argparse

    from eels_helpers.cli.train import config_from_args, configure_parser

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(["--model", "unet", "--stream", "--out", "x", "--simulation", "open-world",
                              "--init", "default"])
    config = config_from_args(args)
    assert (config.simulation, config.init_from) == ("open-world", "default")
    from eels_helpers.models.model_files import load_model

    assert config.model_options == load_model("default").options     # the shipped network's options
    args = parser.parse_args(["--model", "unet", "--stream", "--out", "x", "--init", "default",
                              "--option", "width=0.5"])
    assert config_from_args(args).model_options == {"width": 0.5}      # given options win


def test_query_weights_file_reaches_the_config_and_a_bad_file_is_named(tmp_path, capsys):
    import argparse

    from eels_helpers.cli import main
    from eels_helpers.cli.train import config_from_args, configure_parser

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    (tmp_path / "w.json").write_text(json.dumps({"Sc": 2.5, "N": 0.5}))
    args = parser.parse_args(["--model", "unet", "--stream", "--out", "x", "--query-weights", str(tmp_path / "w.json")])
    assert config_from_args(args).query_weights == {"Sc": 2.5, "N": 0.5}
    (tmp_path / "bad.json").write_text("[1, 2]")
    code = main(["train", "--model", "mlp", "--stream", "--out", str(tmp_path / "run"),
                 "--query-weights", str(tmp_path / "bad.json")])
    assert code == 2 and "bad.json" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_bad_options_init_and_seed_are_usage_errors_and_write_nothing(tmp_path, capsys):
    """A user's walk-through (session 52): these printed a Python traceback (exit 1) and left an
    empty --out folder; now each is one line naming the option (exit 2) and nothing is written."""
    from support import cli_status

    base = ["train", "--model", "mlp", "--profile", "smoke", "--synthetic", "8", "--no-progress",
            "--out", str(tmp_path / "run")]
    cases = {("--option", "foo=1"): "--option: mlp has no option 'foo'; its options: hidden, width, dropout",
             ("--option", "width=abc"): "--option: width must be > 0",
             ("--init", "default"): "--init default holds a unet, not a mlp",
             ("--init", "no-such-model"): "no-such-model",
             ("--seed", "-1"): "--seed"}
    for extra, message in cases.items():
        assert cli_status([*base, *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (extra, err)
        assert not (tmp_path / "run").exists(), extra


def test_a_folder_with_a_trained_model_but_no_checkpoint_is_not_overwritten(tmp_path, capsys):
    from support import cli_status, tiny_mlp_file

    run = tmp_path / "run"
    run.mkdir()
    tiny_mlp_file(run / "model.pt")
    kept = (run / "model.pt").read_bytes()
    argv = ["train", "--model", "mlp", "--profile", "smoke", "--synthetic", "8", "--no-progress",
            "--steps-per-epoch", "1", "--max-epochs", "1", "--batch-size", "4", "--threads", "1", "--out"]
    for extra in ([], ["--resume"]):
        assert cli_status([*argv, str(run), *extra]) == 2
        assert "holds a trained network" in capsys.readouterr().err
        assert (run / "model.pt").read_bytes() == kept and sorted(p.name for p in run.iterdir()) == ["model.pt"]
    (tmp_path / "file").write_text("x")
    assert cli_status([*argv, str(tmp_path / "file")]) == 2
    assert "is a file: give a folder" in capsys.readouterr().err


def test_a_resume_with_other_settings_names_them(tmp_path, capsys):
    from support import cli_status

    argv = ["train", "--model", "mlp", "--profile", "smoke", "--synthetic", "8", "--no-progress",
            "--out", str(tmp_path / "run"), "--steps-per-epoch", "1", "--max-epochs", "1", "--batch-size", "4",
            "--threads", "1", "--option", "width=0.02"]
    assert cli_status(argv) == 0
    capsys.readouterr()
    assert cli_status(argv + ["--resume", "--lr", "0.01", "--max-epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "learning_rate 0.001 then, 0.01 now" in err and "TrainConfig(" not in err
