"""1-D ResNet-35 (paper Table 2: 41M parameters).

Stem: conv 16 - BN - ReLU. Sixteen basic blocks (conv-BN-ReLU-conv-BN, add, ReLU) with widths
16 x2, 32 x3, 64 x4, 128 x3, 256 x2, 512 x2; the first block of each new width has stride 2 and a
parameter-free shortcut (subsample by 2, zero-pad the channels: He et al. 2016, option A), so the
3072 channels become 96 positions. Head: 1x1 conv to one channel (ReLU) -> 96-vector -> Linear 80.
Kernel 32 throughout (authors' Keras code, arnoannys/EELS_ID on GitHub).
Outputs logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._common import (
    BN_EPS,
    BN_MOMENTUM,
    N_CHANNELS,
    N_ELEMENTS,
    SameConv1d,
    check_positive,
    conv_bn_relu,
    init_he_normal,
    scaled,
)

STAGES = ((16, 2), (32, 3), (64, 4), (128, 3), (256, 2), (512, 2))  # (width, blocks): 16 blocks


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv_bn_relu(in_channels, out_channels, kernel_size, stride=stride)
        self.conv2 = SameConv1d(out_channels, out_channels, kernel_size)
        self.bn2 = nn.BatchNorm1d(out_channels, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.stride, self.extra_channels = stride, out_channels - in_channels

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """Parameter-free shortcut: subsample by the stride, zero-pad the new channels."""
        return F.pad(x[..., :: self.stride], (0, 0, 0, self.extra_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn2(self.conv2(self.conv1(x))) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, *, stages: tuple = STAGES, kernel_size: int = 32, width: float = 1.0,
                 num_channels: int = N_CHANNELS, num_classes: int = N_ELEMENTS):
        super().__init__()
        check_positive("width", width, "(multiplier of the stage widths)")
        widths = [scaled(w, width) for w, _ in stages]
        self.stem = conv_bn_relu(1, widths[0], kernel_size)
        blocks, channels = [], widths[0]
        for i, ((_, n_blocks), w) in enumerate(zip(stages, widths)):
            for b in range(n_blocks):
                blocks.append(BasicBlock(channels, w, kernel_size, stride=2 if (i > 0 and b == 0) else 1))
                channels = w
        self.blocks = nn.Sequential(*blocks)
        self.reduce = nn.Sequential(nn.Conv1d(channels, 1, 1), nn.ReLU(inplace=True))
        self.head = nn.Linear(num_channels // 2 ** (len(stages) - 1), num_classes)
        init_he_normal(self)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(spectra.unsqueeze(1)))   # (B, 512, 96)
        return self.head(self.reduce(x).squeeze(1))        # (B, 96) -> (B, 80)
