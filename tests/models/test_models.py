"""The six architectures: sizes against the paper's Table 2, shapes, Keras-matching settings."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from eels_helpers.models import (
    CPU_CONFIGS,
    MODEL_NAMES,
    PAPER_PARAMETERS_M,
    Ensemble,
    count_parameters,
    create_model,
    list_models,
    predict_proba,
)
from eels_helpers.models._common import SameConv1d, he_normal_


@pytest.fixture(scope="module")
def paper_models():
    """Paper-size models on the meta device: exact shapes and parameter counts, no memory or init cost."""
    with torch.device("meta"):
        return {name: create_model(name) for name in MODEL_NAMES}


def test_registry():
    assert list_models() == ["mlp", "cnn", "unet", "resnet", "vit", "cct"]
    assert set(CPU_CONFIGS) == set(MODEL_NAMES)
    with pytest.raises(ValueError, match="unknown model 'transformer'"):
        create_model("transformer")
    with pytest.raises(ValueError, match="unknown model config"):
        create_model("mlp", config="gpu")
    with pytest.raises(ValueError, match="width must be > 0"):
        create_model("unet", width=0)
    with pytest.raises(ValueError, match="dropout"):
        create_model("mlp", dropout=1.5)
    with pytest.raises(ValueError, match="mlp_dims must end with dim=128"):
        create_model("vit", mlp_dims=(256, 64))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_parameter_count_within_5_percent_of_table_2(paper_models, name):
    n = count_parameters(paper_models[name]) / 1e6
    assert abs(n - PAPER_PARAMETERS_M[name]) <= 0.05 * PAPER_PARAMETERS_M[name], f"{name}: {n:.2f}M"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_shapes_paper_and_cpu(paper_models, name):
    model = paper_models[name].eval()
    with torch.device("meta"):
        assert model(torch.rand(2, 3072)).shape == (2, 80)
    torch.manual_seed(0)
    small = create_model(name, config="cpu").eval()            # real weights and numbers
    with torch.no_grad():
        out = small(torch.rand(2, 3072))
    assert out.shape == (2, 80) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert count_parameters(small) < count_parameters(model) * 1.01


def test_one_paper_size_model_runs_on_real_weights():
    torch.manual_seed(0)
    model = create_model("resnet").eval()          # 41M parameters, real init and arithmetic
    with torch.no_grad():
        out = model(torch.rand(1, 3072))
    assert out.shape == (1, 80) and torch.isfinite(out).all()


def test_cpu_configs_are_cheaper_layouts_of_the_same_code():
    vit = create_model("vit", config="cpu")
    assert vit.patch_stride == CPU_CONFIGS["vit"]["patch_stride"]
    assert all(m.dropout == 0.0 for m in vit.modules() if m.__class__.__name__ == "Attention")


def test_batch_independence_in_eval():
    """Eval-mode outputs of a spectrum do not depend on the rest of the batch (BN uses running stats)."""
    torch.manual_seed(1)
    x = torch.rand(3, 3072)
    for name, options in (("mlp", {"width": 0.1}), ("unet", {"width": 0.125}), ("vit", {"depth": 1})):
        model = create_model(name, config="cpu", **options).eval()
        with torch.no_grad():
            torch.testing.assert_close(model(x)[:1], model(x[:1]), rtol=1e-4, atol=1e-4)


def test_keras_normalisation_and_activation_settings(paper_models):
    bns = [m for m in paper_models["unet"].modules() if isinstance(m, nn.BatchNorm1d)]
    assert bns and all(m.momentum == 0.01 and m.eps == 1e-3 for m in bns)
    for name in ("mlp", "resnet"):
        assert all(m.momentum == 0.01 and m.eps == 1e-3 for m in paper_models[name].modules()
                   if isinstance(m, nn.BatchNorm1d))
    for name in ("vit", "cct"):
        lns = [m for m in paper_models[name].modules() if isinstance(m, nn.LayerNorm)]
        assert len(lns) == 17 and all(m.eps == 1e-6 for m in lns)
        gelus = [m for m in paper_models[name].modules() if isinstance(m, nn.GELU)]
        assert gelus and all(m.approximate == "none" for m in gelus)


def test_he_normal_truncated_matches_keras_statistics():
    """Keras he_normal: truncated at 2 sigma of N(0, s), s = sqrt(2/fan_in)/0.8796, variance 2/fan_in."""
    torch.manual_seed(0)
    w = he_normal_(torch.empty(512, 64, 32))
    fan_in = 64 * 32
    s = math.sqrt(2 / fan_in) / 0.87962566103423978
    assert w.abs().max() <= 2 * s + 1e-7
    assert w.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.01)
    # applied to the conv and dense layers of the MLP/CNN/ResNet/U-Net, with zero biases
    layer = create_model("mlp", width=0.25).hidden[0][0]
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / 3072), rel=0.02)
    assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize("stride", [1, 2])
def test_same_conv_matches_tensorflow_padding(stride):
    """Stride 1: PyTorch's own padding='same' (same before/after split as TF). Stride 2: TF pads
    (k-2) = 30 = 15 + 15 on an even length, i.e. the stride-1 output sampled at even positions."""
    torch.manual_seed(0)
    conv = SameConv1d(3, 4, 32, stride=stride)
    x = torch.randn(2, 3, 64)
    with warnings.catch_warnings():   # "even kernel lengths ... zero-padded copy"
        warnings.simplefilter("ignore")
        reference = F.conv1d(x, conv.weight, conv.bias, padding="same")
    torch.testing.assert_close(conv(x), reference[..., ::stride])


def test_ensemble_is_mean_of_sigmoids():
    torch.manual_seed(0)
    members = [create_model("mlp", width=0.05).eval(), create_model("vit", config="cpu", depth=1).eval()]
    ensemble = Ensemble(members).eval()
    x = torch.rand(4, 3072)
    with torch.no_grad():
        expected = torch.stack([torch.sigmoid(m(x)) for m in members]).mean(0)
        torch.testing.assert_close(torch.sigmoid(ensemble(x)), expected, rtol=1e-5, atol=1e-6)

    class Fixed(nn.Module):   # extreme logits stay finite and exact
        def __init__(self, z):
            super().__init__()
            self.z = z

        def forward(self, x):
            return self.z.expand(len(x), -1)

    z1, z2 = torch.full((1, 80), 60.0), torch.full((1, 80), -60.0)
    out = Ensemble([Fixed(z1), Fixed(z2)])(x)
    torch.testing.assert_close(torch.sigmoid(out), torch.full((4, 80), 0.5))
    with pytest.raises(ValueError):
        Ensemble([])


def test_predict_proba_and_save_load(tmp_path):
    torch.manual_seed(0)
    model = create_model("mlp", width=0.05).train()
    x = np.random.default_rng(0).random((5, 3072), dtype=np.float32)
    p = predict_proba(model, x, batch_size=2)
    assert p.shape == (5, 80) and ((0 <= p) & (p <= 1)).all() and model.training
    from eels_helpers.models.model_files import load_model, save_model

    save_model(tmp_path / "m.pt", model, architecture="mlp", options={"width": 0.05}, metadata={"note": "test"})
    again = load_model(tmp_path / "m.pt")
    assert again.metadata == {"note": "test"}
    np.testing.assert_allclose(predict_proba(again.model, x), p, rtol=1e-5, atol=1e-6)


def test_cnn_dense_layer_stays_fp32_under_bf16_autocast():
    """The first dense layer (49,152 inputs at full size) crashed torch 2.13 in bf16 on CPU."""
    model = create_model("cnn", width=1 / 64, dense=16).eval()
    seen = []
    model.fc1.register_forward_hook(lambda m, inp, out: seen.append((inp[0].dtype, out.dtype)))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.rand(2, 3072))
    assert seen == [(torch.float32, torch.float32)] and out.shape == (2, 80)


def test_recalibrate_batchnorm_uses_dropout_free_statistics():
    """After recalibration a BatchNorm behind dropout holds the mean and (unbiased) variance of
    the dropout-free activations; the layer's momentum is restored and the model is in eval mode."""
    from eels_helpers.models import recalibrate_batchnorm

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 8), nn.Dropout(0.5), nn.BatchNorm1d(8, momentum=0.01))
    x = torch.randn(256, 16) * 3 + 1
    net.train()
    for _ in range(20):
        net(x)                                          # running stats of dropped-out activations
    hidden = net[0](x).detach()
    assert not torch.allclose(net[2].running_var, hidden.var(0), rtol=0.1)
    recalibrate_batchnorm(net, x.numpy(), batch_size=256)
    torch.testing.assert_close(net[2].running_mean, hidden.mean(0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(net[2].running_var, hidden.var(0, unbiased=True), rtol=1e-5, atol=1e-5)
    assert net[2].momentum == 0.01 and not net.training
    with pytest.raises(ValueError, match="spectra must be"):
        recalibrate_batchnorm(net, np.zeros((1, 16), dtype=np.float32))
