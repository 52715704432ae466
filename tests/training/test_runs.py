"""Run directories: the results of a run (Table 2), finding runs, and collecting the models to evaluate."""

import pytest

from eels_helpers.training.runs import TrainResults, collect_models, run_directory, save_results


def _tiny_models(tmp_path):
    import torch

    from eels_helpers.evaluation.metrics import Scores
    from eels_helpers.models import create_model
    from eels_helpers.models import model_files as checkpoints

    torch.manual_seed(0)
    vit = checkpoints.save_model(tmp_path / "v.pt", create_model("mlp", hidden=[8]), architecture="mlp",
                                 options={"hidden": [8]})
    ens = checkpoints.save_ensemble(tmp_path / "ensemble.pt", [vit, vit])
    run = run_directory(tmp_path / "train", "cnn", "smoke", 0, 2)
    run.mkdir(parents=True)
    checkpoints.save_model(run / "model.pt", create_model("mlp", hidden=[4]), architecture="mlp",
                           options={"hidden": [4]})
    save_results(TrainResults("cnn", "smoke", 10, Scores(0.5, 0.5, 0.5, 0.1, 0.1, 0.5), 1.0, 1.0), run)
    return vit, ens


def test_collect_models_lists_ensemble_members_runs_and_missing_ones(tmp_path):
    vit, ens = _tiny_models(tmp_path)
    entries = collect_models(["absent_model", str(ens)], tmp_path / "train", "smoke", 0)
    labels = [e.label for e in entries]
    assert labels[:4] == ["absent_model", f"{tmp_path.name}/ensemble.pt", f"{tmp_path.name}/ensemble.pt member 1 (MLP)",
                          f"{tmp_path.name}/ensemble.pt member 2 (MLP)"]
    assert labels[4:] == [f"chapter 04 {n}" for n in ("MLP", "CNN", "ResNet", "U-Net", "ViT", "CCT")]
    by = {e.label: e for e in entries}
    assert by["absent_model"].model is None and "no trained model named 'absent_model'" in by["absent_model"].source
    assert by[labels[1]].architecture == "ensemble" and by[labels[1]].members == ("mlp", "mlp")
    assert by[labels[2]].architecture == "mlp" and by[labels[2]].model is not None
    assert by["chapter 04 CNN"].model is not None and by["chapter 04 CNN"].source.endswith("model.pt")
    mlp = by["chapter 04 MLP"]
    assert mlp.model is None and "no finished mlp run at profile 'smoke'" in mlp.source
    with pytest.raises(ValueError, match="models given twice"):
        collect_models([str(vit), str(vit)])
