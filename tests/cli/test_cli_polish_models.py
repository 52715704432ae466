"""`eels-id models --dir` lists the good model files and skips the bad ones (status 1);
`eels-id predict --model` names what is wrong with a model path that is not a model file (2)."""

from __future__ import annotations

import pytest

from eels_helpers.cli import main


@pytest.fixture(scope="module")
def tiny_net():
    import torch

    from eels_helpers.models import create_model

    torch.manual_seed(0)
    return create_model("mlp", hidden=[16]).eval()


def _save(path, net, **kw):
    from eels_helpers.models.model_files import save_model

    return save_model(path, net, architecture="mlp", options={"hidden": [16]}, threshold=0.4, **kw)


def test_models_dir_lists_the_good_files_and_skips_the_bad_ones(tmp_path, tiny_net, capsys):
    _save(tmp_path / "good.pt", tiny_net)
    _save(tmp_path / "shared.pt", tiny_net, weights_file="networks/n.pt")   # refers to a network file
    _save(tmp_path / "orphan.pt", tiny_net, weights_file="networks/gone.pt")
    (tmp_path / "networks" / "gone.pt").unlink()
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "text.pt").write_text("energy,counts\n1,2\n")
    assert main(["models", "--dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    table = out.split("\n\n")[0].splitlines()          # the rows end at the first blank line (notes follow)
    names = [line.split()[0] for line in table[1:]]
    assert names == ["good", "shared"], out
    assert "EMR: exact-match ratio" in out
    assert f"in {tmp_path};" in out and "eels-id-models-" not in out
    assert err.splitlines() == [
        f"eels-id models: skipped {tmp_path / 'empty.pt'}: it is empty (0 bytes), not a model file",
        f"eels-id models: skipped {tmp_path / 'orphan.pt'}: the network file it refers to, "
        f"{tmp_path / 'networks' / 'gone.pt'}, does not exist",
        f"eels-id models: skipped {tmp_path / 'text.pt'}: it is not a PyTorch checkpoint (not a zip/pickle file)",
    ]
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["empty.pt", "good.pt", "orphan.pt", "shared.pt",
                                                             "text.pt"]   # nothing moved or removed
    assert main(["models", "--dir", str(tmp_path), "--card"]) == 1
    assert "skipped" in capsys.readouterr().err
    for bad in ("empty.pt", "orphan.pt", "text.pt"):
        (tmp_path / bad).unlink()
    assert main(["models", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""


def test_predict_names_what_is_wrong_with_the_model_path(tmp_path, tiny_net, capsys):
    spectrum = tmp_path / "s.csv"
    spectrum.write_text("energy,counts\n400,1\n401,2\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "csv.pt").write_text(spectrum.read_text())
    (tmp_path / "run").mkdir()
    _save(tmp_path / "run" / "model.pt", tiny_net)
    for model, why in (("adir", "is a directory, not a model file"),
                       ("run", f"is a directory, not a model file; a training run's model is "
                               f"{tmp_path / 'run' / 'model.pt'}"),
                       ("empty.pt", "is empty (0 bytes), not a model file"),
                       ("csv.pt", "is not a PyTorch checkpoint (not a zip/pickle file)")):
        assert main(["predict", str(spectrum), "--model", str(tmp_path / model), "--no-verify"]) == 2, model
        err = capsys.readouterr().err
        assert err == f"eels-id predict: error: {tmp_path / model} {why}\n", err


def test_a_folder_without_model_files_is_an_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no models here")
    assert main(["models", "--dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == f"eels-id models: error: no model files (*.pt) in {tmp_path}" and captured.out == ""


def test_a_training_run_folder_lists_its_model_and_leaves_the_checkpoint_out(tmp_path, tiny_net, capsys):
    """A user's walk-through (session 52): `models --dir RUN` named the run's checkpoint.pt as a bad
    file (status 1), called the model '(not written by ship_models)' and pointed at a MODELS.md
    that is not there."""
    from eels_helpers.models.model_files import save_model

    save_model(tmp_path / "model.pt", tiny_net, architecture="mlp", options={"hidden": [16]})   # no threshold
    (tmp_path / "checkpoint.pt").write_bytes(b"a training state, not a model")
    assert main(["models", "--dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.splitlines()[1].split()[:4] == ["model", "mlp", "(not", "shipped)"]
    assert "MODELS.md" not in out and "`eels-id evaluate FILE` measures a model that was not shipped" in out
    (tmp_path / "model.pt").unlink()
    assert main(["models", "--dir", str(tmp_path)]) == 1
    assert "checkpoint.pt is a training run's state, for eels-id train --resume" in capsys.readouterr().err
