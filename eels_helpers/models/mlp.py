"""Multilayer perceptron (paper Table 2: 56M parameters).

3072 -> 6144 -> 3072 -> 3072 -> 1536 -> 1536 -> 768 -> 384 -> 80; every hidden layer is
Linear-BatchNorm-ReLU with dropout 0.3 between hidden layers (authors' Keras code, see
the authors' public code, arnoannys/EELS_ID on GitHub). Outputs logits.
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import N_CHANNELS, N_ELEMENTS, check_positive, check_probability, dense_bn_relu, init_he_normal, scaled

HIDDEN = (6144, 3072, 3072, 1536, 1536, 768, 384)


class MLP(nn.Module):
    def __init__(self, *, hidden: tuple[int, ...] = HIDDEN, width: float = 1.0, dropout: float = 0.3,
                 num_channels: int = N_CHANNELS, num_classes: int = N_ELEMENTS):
        super().__init__()
        check_positive("width", width, "(multiplier of the hidden sizes)")
        check_probability("dropout", dropout)
        sizes = [num_channels] + [scaled(h, width) for h in hidden]
        last = len(sizes) - 2
        self.hidden = nn.Sequential(*[
            dense_bn_relu(n_in, n_out, dropout=dropout if i < last else 0.0)
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
        ])
        self.head = nn.Linear(sizes[-1], num_classes)
        init_he_normal(self)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(spectra))
