"""Architecture schematics: layer summaries against the models, and the six block diagrams."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from eels_helpers.models import MODEL_NAMES, count_parameters, create_model
from eels_helpers.models.diagram import layer_summary, plot_architecture


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_summary_ends_in_80_classes_and_counts_every_parameter(name):
    torch.manual_seed(0)
    model = create_model(name, config="cpu")
    summary = layer_summary(model)
    assert summary.output.iloc[-1] == "80" and summary.length.iloc[-1] == 80
    assert summary.parameters.sum() == count_parameters(model)
    assert model.training                                   # mode restored
    assert not any(m._forward_hooks for m in model.modules())  # hooks removed


def test_summary_shapes_and_order_on_meta_paper_sizes():
    with torch.device("meta"):
        unet, vit = create_model("unet"), create_model("vit")
    s = layer_summary(unet)
    assert list(s.block[:3]) == ["down.0", "pool", "down.1"]          # execution order, pool once per call
    assert (s.block == "pool").sum() == 4 and s.parameters[s.block == "pool"].sum() == 0
    assert s.set_index("block").loc["down.0", "output"] == "16 x 3072"   # channels x length
    assert s.parameters.sum() == count_parameters(unet)
    v = layer_summary(vit)
    assert v.block[0] == "to_patch_embedding + pos_embedding"           # the model's own parameters
    encoder = v.set_index("block").loc["transformer"]
    assert (encoder.output, encoder.layout, encoder.repeats) == ("383 x 128", "tokens x dim", 8)


def test_summary_rejects_bad_length():
    with pytest.raises(ValueError, match="n_channels"):
        layer_summary(create_model("mlp", width=0.05), n_channels=0)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_architecture_plots(name):
    ax = plot_architecture(name, config="cpu")
    model = create_model(name, config="cpu")
    assert len(ax.texts) == len(layer_summary(model)) + 1                    # one caption per box + the input
    assert f"{count_parameters(model):,} parameters" in ax.get_title()
    if name == "unet":
        assert sum(type(p).__name__ == "FancyArrowPatch" for p in ax.patches) == 4   # skip connections
    plt.close("all")


def test_plot_into_given_axes_with_options():
    fig, ax = plt.subplots()
    assert plot_architecture("vit", "cpu", ax=ax, depth=2) is ax
    assert any(t.get_text().startswith("2 x encoder") for t in ax.texts)
    plt.close(fig)
