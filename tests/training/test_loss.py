"""The paper's loss: BCE on clipped probabilities + macro soft-F1 cost."""

import numpy as np
import pytest
import torch

from eels_helpers.training.loss import bce_soft_f1_loss, bce_soft_f1_loss_from_probabilities


def test_loss_from_logits_equals_keras_probability_form():
    torch.manual_seed(0)
    z = torch.randn(32, 80) * 6
    z[0, :10] = torch.tensor([40.0, -40.0, 17.0, -17.0, 16.0, -16.0, 100.0, -100.0, 0.0, 1e-3])
    y = (torch.rand(32, 80) < 0.1).float()
    y[0, :10] = torch.tensor([1, 1, 0, 0, 1, 0, 0, 1, 1, 0.0])
    a = bce_soft_f1_loss(z, y)
    b = bce_soft_f1_loss_from_probabilities(torch.sigmoid(z.double()), y.double())
    assert a.item() == pytest.approx(b.item(), rel=1e-5)
    z.requires_grad_(True)
    bce_soft_f1_loss(z, y).backward()
    assert torch.isfinite(z.grad).all()


def test_soft_f1_cost_by_hand():
    """Two classes, batch of two: p = [[.9, .2], [.4, .0]], y = [[1, 0], [0, 0]].
    Class 0: tp = .9, fp = .4, fn = .1 -> F1 = 1.8 / 2.3; class 1: tp = 0 -> F1 = 0."""
    p = torch.tensor([[0.9, 0.2], [0.4, 0.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    bce = -(np.log(0.9) + np.log(0.8) + np.log(0.6) + np.log(1 - 1e-7)) / 4
    expected = bce + ((1 - 1.8 / 2.3) + 1.0) / 2
    assert bce_soft_f1_loss_from_probabilities(p, y).item() == pytest.approx(expected, rel=1e-9)
