"""The paper's training loss: binary cross-entropy + macro soft-F1 cost (Annys et al. 2023, Methods).

For a batch of B spectra and C = 80 classes, with probabilities p = sigmoid(z) of the logits z
and labels y in {0, 1} (soft labels in [0, 1] work the same way):

* BCE = -mean_{b,c} [ y log p' + (1 - y) log(1 - p') ],  p' = clip(p, eps, 1 - eps), eps = 1e-7
  (Keras ``binary_crossentropy``);
* per class c, over the batch: tp_c = sum_b p y, fp_c = sum_b p (1 - y), fn_c = sum_b (1 - p) y,
  softF1_c = 2 tp_c / (2 tp_c + fn_c + fp_c + 1e-16);  cost = mean_c (1 - softF1_c);
* loss = BCE + cost. Both terms are dimensionless; the loss lies in [0, -log(eps) + 1].
"""

from __future__ import annotations

import math

__all__ = ["bce_soft_f1_loss", "soft_f1_cost", "bce_soft_f1_loss_from_probabilities"]


def bce_soft_f1_loss(logits, targets, eps: float = 1e-7):
    """The paper's loss from logits z: BCE(clip(sigmoid z, eps, 1 - eps)) + macro soft-F1 cost.

    log clip(p, eps, 1-eps) = clamp(logsigmoid(z), log eps, log(1-eps)) and likewise for 1 - p with
    logsigmoid(-z), so this equals :func:`bce_soft_f1_loss_from_probabilities` (the Keras form)
    while never forming log(0). Dimensionless; mean over batch and classes.

    Parameters
    ----------
    logits : torch.Tensor, shape (B, C)
        network outputs before the sigmoid (any float dtype; computed in float32).
    targets : torch.Tensor, shape (B, C)
        labels in [0, 1].
    eps : float
        probability clip of the cross-entropy (Keras' epsilon).

    Returns
    -------
    torch.Tensor, shape ()
        the loss (dimensionless), differentiable with respect to ``logits``.
    """
    import torch
    import torch.nn.functional as F

    z, y = logits.float(), targets.float()
    lo, hi = math.log(eps), math.log1p(-eps)
    log_p, log_q = F.logsigmoid(z).clamp(lo, hi), F.logsigmoid(-z).clamp(lo, hi)
    bce = -(y * log_p + (1 - y) * log_q).mean()
    return bce + soft_f1_cost(torch.sigmoid(z), y)


def soft_f1_cost(probs, targets):
    """Macro soft-F1 cost: mean over classes of 1 - 2tp / (2tp + fn + fp + 1e-16), sums over the batch.

    ``probs``, ``targets``: tensors (B, C) in [0, 1]; returns a scalar tensor in [0, 1].
    """
    tp = (probs * targets).sum(0)
    fp = (probs * (1 - targets)).sum(0)
    fn = ((1 - probs) * targets).sum(0)
    return (1 - 2 * tp / (2 * tp + fn + fp + 1e-16)).mean()


def bce_soft_f1_loss_from_probabilities(probs, targets, eps: float = 1e-7):
    """Reference (Keras) form on probabilities: BCE + soft-F1 cost.

    BCE = -mean(y log p' + (1-y) log(1-p')), p' = clip(p, eps, 1-eps); ``probs``, ``targets``:
    tensors (B, C) in [0, 1]; returns a scalar tensor.

    Computed in the input's precision (at least float32); in float32, 1 - 1e-7 rounds to
    1 - 1.19e-7, so Keras' float32 bound on -log(1 - p) is 15.94 instead of -log(1e-7) = 16.12.
    """
    import torch

    dtype = torch.promote_types(probs.dtype, torch.float32)
    p, y = probs.to(dtype), targets.to(dtype)
    pc = p.clamp(eps, 1 - eps)
    bce = -(y * pc.log() + (1 - y) * (1 - pc).log()).mean()
    return bce + soft_f1_cost(p, y)

