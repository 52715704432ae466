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
                              "--option", "depth=2", "--option", "name=abc", "--lr", "3e-4", "--no-progress"])
    config = config_from_args(args)
    assert (config.model, config.model_config, config.steps_per_epoch, config.learning_rate) == (
        "vit", "paper", 1000, 3e-4)
    assert config.model_options == {"depth": 2, "name": "abc"} and config.progress is False
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
