"""1-D Compact Convolutional Transformer (paper Table 2: 5M parameters).

Tokenizer: three Conv1d (32, 64, 128 filters, kernel 32, stride 1, no padding, no bias, ReLU),
each followed by max-pool 2 -> 356 tokens of width 128; learned position embedding; 8 pre-LN
blocks with 8 heads of size 128 (inner width 1024), MLP 256 -> 128 (GELU), dropout 0.1; final
LayerNorm; sequence pooling (Linear(1) -> softmax over tokens -> weighted sum) -> Linear 80.
Authors' Keras code (arnoannys/EELS_ID on GitHub), after Hassani et al. 2021.
Outputs logits.
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import N_CHANNELS, N_ELEMENTS, check_positive, check_probability, init_glorot_uniform
from .vit import Transformer, check_transformer


class Tokenizer(nn.Sequential):
    """Conv (no bias, 'valid') -> ReLU -> max-pool 2, for each filter count."""

    def __init__(self, filters: tuple[int, ...], kernel_size: int):
        layers, channels = [], 1
        for n in filters:
            layers += [nn.Conv1d(channels, n, kernel_size, bias=False), nn.ReLU(inplace=True), nn.MaxPool1d(2)]
            channels = n
        super().__init__(*layers)


class CCT(nn.Module):
    def __init__(self, *, conv_filters: tuple[int, ...] = (32, 64, 128), kernel_size: int = 32, depth: int = 8,
                 heads: int = 8, dim_head: int = 128, mlp_dims: tuple[int, ...] = (256, 128), dropout: float = 0.1,
                 attn_dropout: float = 0.1, num_channels: int = N_CHANNELS, num_classes: int = N_ELEMENTS):
        super().__init__()
        dim = conv_filters[-1]
        check_transformer(dim, depth, heads, dim_head, mlp_dims)
        check_positive("kernel_size", kernel_size, "channels")
        check_probability("dropout", dropout)
        check_probability("attn_dropout", attn_dropout)
        self.tokenizer = Tokenizer(tuple(conv_filters), kernel_size)
        num_tokens = num_channels
        for _ in conv_filters:
            num_tokens = (num_tokens - kernel_size + 1) // 2
        self.pos_embedding = nn.Parameter(torch.empty(1, num_tokens, dim).uniform_(-0.05, 0.05))
        self.transformer = Transformer(dim, depth, heads, dim_head, tuple(mlp_dims), dropout, attn_dropout)
        self.attention_pool = nn.Linear(dim, 1)
        self.head = nn.Linear(dim, num_classes)

        init_glorot_uniform(self)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        x = self.tokenizer(spectra.unsqueeze(1)).transpose(1, 2) + self.pos_embedding   # (B, 356, 128)
        x = self.transformer(x)
        weights = self.attention_pool(x).softmax(dim=1)                                  # (B, 356, 1)
        return self.head((weights * x).sum(dim=1))                                      # sequence pooling
