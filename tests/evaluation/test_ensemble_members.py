"""An ensemble and its members evaluated side by side (eels_helpers.evaluation.ensemble_members)."""

import numpy as np
import pytest
import torch

from eels_helpers.evaluation.ensemble_members import (
    ENSEMBLE,
    member_labels,
    member_probabilities,
    members_table,
    scores_table,
)
from eels_helpers.evaluation.metrics import evaluate, select_threshold
from eels_helpers.models import create_model, model_options, predict_proba
from eels_helpers.models.model_files import load_model, save_ensemble, save_model

SMALL = {"vit": dict(depth=1, heads=2, dim_head=8, patch_stride=64, head_dims=(16,)),
         "unet": dict(width=0.125, head=(32,))}


def test_member_labels_number_repeated_architectures():
    assert member_labels(["vit", "vit", "unet", "unet", "unet"]) == ["ViT 1", "ViT 2", "U-Net 1", "U-Net 2", "U-Net 3"]
    assert member_labels(["vit", "unet"]) == ["ViT", "U-Net"]


def test_member_probabilities_average_to_the_ensemble_output(tmp_path):
    torch.manual_seed(0)
    paths = []
    for i, arch in enumerate(["vit", "unet", "unet"]):
        options = model_options(arch, "cpu", **SMALL[arch])
        paths.append(save_model(tmp_path / f"{i}.pt", create_model(arch, **options), architecture=arch,
                                options=options))
    loaded = load_model(save_ensemble(tmp_path / "ens.pt", paths))
    x = np.random.default_rng(0).random((5, 3072), dtype=np.float32)
    probs = member_probabilities(loaded, x)
    assert list(probs) == ["ViT", "U-Net 1", "U-Net 2", ENSEMBLE]
    np.testing.assert_allclose(probs[ENSEMBLE], predict_proba(loaded.model, x), atol=1e-5)
    np.testing.assert_allclose(probs["U-Net 2"], predict_proba(loaded.model.members[2], x), atol=1e-6)
    assert list(member_probabilities(load_model(paths[0]), x)) == ["ViT"]


def test_scores_table_chooses_each_threshold_on_validation():
    rng = np.random.default_rng(2)
    y_val, y_test = ((rng.random((2, 200, 80)) < 0.05)).astype(np.float32)
    val = {"a": np.clip(0.5 * y_val + 0.6 * rng.random(y_val.shape), 0, 1), "b": rng.random(y_val.shape)}
    test = {"a": np.clip(0.5 * y_test + 0.6 * rng.random(y_test.shape), 0, 1), "b": rng.random(y_test.shape)}
    table = scores_table(y_val, val, y_test, test)
    assert list(table.index) == ["a", "b"] and list(table.columns) == ["threshold", "f1", "precision", "recall",
                                                                      "emr", "rmse"]
    th = select_threshold(y_val, val["a"])
    assert table.loc["a", "threshold"] == th
    assert table.loc["a", "f1"] == pytest.approx(evaluate(y_test, test["a"], th).f1)
    assert table.loc["a", "f1"] > table.loc["b", "f1"]
    with pytest.raises(ValueError, match="differ"):
        scores_table(y_val, val, y_test, {"a": test["a"]})


def test_members_table_reads_runs_from_metadata(tmp_path):
    options = model_options("vit", "cpu", **SMALL["vit"])
    path = save_model(tmp_path / "v.pt", create_model("vit", **options), architecture="vit", options=options)
    loaded = load_model(save_ensemble(tmp_path / "e.pt", [path, path],
                                      metadata={"runs": [{"options": {"depth": 1}, "spectra": 64}] * 2}))
    table = members_table(loaded)
    assert list(table.index) == ["ViT 1", "ViT 2"] and list(table["training spectra"]) == [64, 64]
    assert table.options.iloc[0] == "depth=1" and table.parameters.iloc[0] > 0
    assert members_table(load_model(path)).options.iloc[0] == "-"
