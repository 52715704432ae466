"""The networks: the paper's six architectures built by name (timm-style registry), the
ensemble, and the model files that store a trained network with its threshold.

This stage may import the stages below it and the foundations; in practice it imports only
physics (the element list): a network knows nothing of how its spectra were simulated or read.

>>> from eels_helpers.models import create_model
>>> model = create_model("vit")                    # paper size (Table 2: 2M parameters)
>>> model = create_model("vit", config="cpu")      # the reduced CPU configuration below
>>> model = create_model("unet", width=0.5)        # any constructor keyword, e.g. a width scale

Every model maps spectra (B, 3072) float32 to LOGITS (B, 80) for Be..Bi; use
:func:`predict_proba` (sigmoid, batched, eval mode) for probabilities. Defaults are the paper's
sizes (the authors' public code, arnoannys/EELS_ID on GitHub). Scaling options:

* ``width`` (mlp, cnn, resnet, unet): multiplies hidden sizes / convolution channels;
* ``heads``, ``dim_head``, ``patch_stride``, ``attn_dropout`` (vit, cct): token and head layout.

``CPU_CONFIGS`` holds the reduced configurations of the ``cpu`` profile (``Profile.model_config``),
chosen so that each architecture trains in about ten minutes on a 2-core CPU (fp32, the fast path
where the CPU has no native bfloat16); ``benchmarks/bench_models.py`` prints the training and
inference rates of both configurations side by side.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ._common import recalibrate_batchnorm
from .cct import CCT
from .cnn import CNN
from .ensemble import Ensemble
from .mlp import MLP
from .resnet import ResNet
from .unet import UNet
from .vit import ViT

#: name -> constructor
MODELS: dict[str, Callable[..., nn.Module]] = {"mlp": MLP, "cnn": CNN, "unet": UNet, "resnet": ResNet, "vit": ViT,
                                               "cct": CCT}
MODEL_NAMES = tuple(MODELS)

#: paper Table 2 parameter counts (millions)
PAPER_PARAMETERS_M = {"mlp": 56, "cnn": 45, "unet": 20, "resnet": 41, "vit": 2, "cct": 5}

#: Reduced configurations of the ``cpu`` profile (same code, smaller numbers): narrower
#: convolutional and dense networks (``width``); the ViT with patch stride 16 (192 tokens);
#: both transformers with depth 4, fewer or smaller heads and no attention dropout (attention
#: dropout forces PyTorch's slow, non-fused attention path on the CPU).
CPU_CONFIGS: dict[str, dict[str, Any]] = {
    "mlp": dict(width=0.5),
    "cnn": dict(width=0.125),
    "unet": dict(width=0.25),
    "resnet": dict(width=0.125),
    "vit": dict(heads=4, dim_head=64, patch_stride=16, depth=4, attn_dropout=0.0),
    "cct": dict(conv_filters=(16, 32, 64), heads=4, dim_head=16, mlp_dims=(128, 64), depth=4, attn_dropout=0.0),
}

CONFIGS = {"paper": {name: {} for name in MODELS}, "cpu": CPU_CONFIGS}


def list_models() -> list[str]:
    """The registered architecture names, in the paper's Table 2 order."""
    return list(MODEL_NAMES)


def model_options(name: str, config: str = "paper", **options: Any) -> dict[str, Any]:
    """The constructor keywords of ``name`` at ``config`` ('paper' or 'cpu'), updated by ``options``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if config not in CONFIGS:
        raise ValueError(f"unknown model config {config!r}; choose one of {', '.join(CONFIGS)}")
    return {**CONFIGS[config][name], **options}


def create_model(name: str, config: str = "paper", **options: Any) -> nn.Module:
    """Build one of the paper's six architectures, untrained.

    Parameters
    ----------
    name : {"mlp", "cnn", "unet", "resnet", "vit", "cct"}
        The architecture (:data:`MODELS`; paper Table 2).
    config : {"paper", "cpu"}, default "paper"
        The paper's sizes, or the reduced configuration of the ``cpu`` profile
        (:data:`CPU_CONFIGS`); a :class:`eels_helpers.profiles.Profile` names it in
        ``model_config``.
    **options
        Constructor keywords that override the configuration's, e.g. ``width`` (mlp, cnn,
        resnet, unet: hidden sizes and channels are multiplied by it) or ``heads``,
        ``dim_head``, ``patch_stride``, ``depth``, ``attn_dropout`` (vit, cct).

    Returns
    -------
    torch.nn.Module
        A network in training mode mapping float32 spectra of shape ``(batch, 3072)``
        (channel i = i eV energy loss, each spectrum scaled to maximum 1) to LOGITS of
        shape ``(batch, 80)``, one per element Be..Bi in the order of
        :data:`eels_helpers.physics.elements.ELEMENTS`; :func:`predict_proba` turns them into
        probabilities.

    Raises
    ------
    ValueError
        If ``name`` or ``config`` is unknown, an option is not a keyword of the architecture's
        constructor (the message lists them) or its value is out of range.

    Examples
    --------
    >>> from eels_helpers.models import create_model, count_parameters
    >>> model = create_model("vit", config="cpu")
    >>> count_parameters(model) < 2_000_000
    True
    """
    keywords = model_keywords(name)
    unknown = sorted(set(options) - set(keywords))
    if unknown:
        raise ValueError(f"{name} has no option {', '.join(map(repr, unknown))}; its options: {', '.join(keywords)}")
    options = model_options(name, config, **options)
    return MODELS[name](**options)


def model_keywords(name: str) -> tuple[str, ...]:
    """The constructor keywords of architecture ``name`` (what ``create_model``'s options may set)."""
    import inspect

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    return tuple(k for k, p in inspect.signature(MODELS[name]).parameters.items()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def predict_proba(model: nn.Module, spectra, batch_size: int = 256,
                  device: str | torch.device | None = None) -> np.ndarray:
    """Element probabilities ``sigmoid(model(x))`` of pre-processed spectra, in batches.

    The model is put in evaluation mode for the call and restored to its previous mode after.

    Parameters
    ----------
    model : torch.nn.Module
        A network returning logits ``(batch, 80)`` (:func:`create_model`).
    spectra : array_like
        Pre-processed spectra, shape ``(N, 3072)`` or ``(3072,)`` (channel i = i eV, scaled
        to maximum 1); converted to float32.
    batch_size : int, default 256
        Spectra per forward pass.
    device : str or torch.device, optional
        Where to run; default: the device of the model's parameters.

    Returns
    -------
    numpy.ndarray
        float32 probabilities in [0, 1], shape ``(N, 80)`` (``(1, 80)`` for one spectrum), in
        the order of :data:`eels_helpers.physics.elements.ELEMENTS`.
    """
    x = torch.as_tensor(np.asarray(spectra, dtype=np.float32))
    if x.ndim == 1:
        x = x[None]
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = [torch.sigmoid(model(chunk.to(device)).float()).cpu() for chunk in x.split(batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out).numpy()


__all__ = ["CPU_CONFIGS", "MODEL_NAMES", "MODELS", "PAPER_PARAMETERS_M", "CCT", "CNN", "Ensemble", "MLP", "ResNet",
           "UNet", "ViT", "count_parameters", "create_model", "list_models", "model_options",
           "model_keywords", "predict_proba", "recalibrate_batchnorm"]
