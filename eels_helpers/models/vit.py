"""1-D Vision Transformer (paper Table 2: 2M parameters; paper Fig. 5b).

Patches of 16 channels with stride 8 (383 tokens) -> Linear 16 -> 128 + learned position
embedding -> 8 pre-LayerNorm blocks (multi-head attention, 16 heads of size 16, attention
dropout 0.1; MLP 256 -> 128 with GELU and dropout 0.1) -> LayerNorm -> learned weighted sum over
the 128 features of each token (1x1 conv) -> 383-vector -> dropout 0.1 -> MLP head 512 -> 256 ->
128 (GELU, dropout 0.1) -> 80. Authors' Keras code (arnoannys/EELS_ID on GitHub),
after Dosovitskiy et al. 2021. Outputs logits.

On CPU the attention dropout forces PyTorch's slow attention path and 16 heads of 16 over 383
tokens are softmax-bound: the ``cpu`` configuration (``CPU_CONFIGS`` in ``eels_helpers.models``)
uses ``heads=4, dim_head=64, patch_stride=16, attn_dropout=0`` (same parameter count per block).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._common import LN_EPS, N_CHANNELS, N_ELEMENTS, check_positive, check_probability, init_glorot_uniform


class FeedForward(nn.Sequential):
    """Keras-example transformer MLP: Dense-GELU-Dropout for each hidden size."""

    def __init__(self, dim: int, hidden: tuple[int, ...], dropout: float):
        layers, n_in = [], dim
        for n_out in hidden:
            layers += [nn.Linear(n_in, n_out), nn.GELU(), nn.Dropout(dropout)]
            n_in = n_out
        super().__init__(*layers)


class Attention(nn.Module):
    """Multi-head self-attention (softmax(QK^T / sqrt(d)) V), fused kernel when possible."""

    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head)
        self.to_out = nn.Linear(heads * dim_head, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.to_qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)   # 3 x (B, H, N, D)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class Transformer(nn.Module):
    """``depth`` pre-LayerNorm blocks: x + MHA(LN(x)), x + MLP(LN(x)); final LayerNorm."""

    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dims: tuple[int, ...],
                 dropout: float, attn_dropout: float):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.ModuleList([nn.LayerNorm(dim, eps=LN_EPS), Attention(dim, heads, dim_head, attn_dropout),
                           nn.LayerNorm(dim, eps=LN_EPS), FeedForward(dim, mlp_dims, dropout)])
            for _ in range(depth)
        ])
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for norm1, attn, norm2, ff in self.layers:
            x = x + attn(norm1(x))
            x = x + ff(norm2(x))
        return self.norm(x)


def check_transformer(dim: int, depth: int, heads: int, dim_head: int, mlp_dims: tuple[int, ...]) -> None:
    for name, value in dict(dim=dim, depth=depth, heads=heads, dim_head=dim_head).items():
        check_positive(name, value)
    if mlp_dims[-1] != dim:
        raise ValueError(f"mlp_dims must end with dim={dim} (residual connection), got {mlp_dims!r}")


class ViT(nn.Module):
    def __init__(self, *, patch_size: int = 16, patch_stride: int = 8, dim: int = 128, depth: int = 8,
                 heads: int = 16, dim_head: int = 16, mlp_dims: tuple[int, ...] = (256, 128),
                 dropout: float = 0.1, attn_dropout: float = 0.1, head_dims: tuple[int, ...] = (512, 256, 128),
                 head_dropout: float = 0.1, num_channels: int = N_CHANNELS, num_classes: int = N_ELEMENTS):
        super().__init__()
        check_transformer(dim, depth, heads, dim_head, mlp_dims)
        check_positive("patch_size", patch_size, "channels")
        check_positive("patch_stride", patch_stride, "channels")
        for name, p in dict(dropout=dropout, attn_dropout=attn_dropout, head_dropout=head_dropout).items():
            check_probability(name, p)
        self.patch_size, self.patch_stride = patch_size, patch_stride
        num_patches = (num_channels - patch_size) // patch_stride + 1
        self.to_patch_embedding = nn.Linear(patch_size, dim)
        self.pos_embedding = nn.Parameter(torch.empty(1, num_patches, dim).uniform_(-0.05, 0.05))  # Keras default
        self.transformer = Transformer(dim, depth, heads, dim_head, tuple(mlp_dims), dropout, attn_dropout)
        self.reduce = nn.Linear(dim, 1)                      # learned weighted sum over features (1x1 conv)
        self.head = nn.Sequential(nn.Dropout(head_dropout), FeedForward(num_patches, tuple(head_dims), head_dropout),
                                  nn.Linear(head_dims[-1], num_classes))

        init_glorot_uniform(self)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        patches = spectra.unfold(1, self.patch_size, self.patch_stride)          # (B, N, patch)
        x = self.to_patch_embedding(patches) + self.pos_embedding                # (B, N, dim)
        x = self.reduce(self.transformer(x)).squeeze(-1)                         # (B, N)
        return self.head(x)
