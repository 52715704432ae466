"""1-D U-Net with a dense classification head (paper Table 2: 20M parameters; paper Fig. 5a).

Every convolution is conv-BN-ReLU with kernel 32 (authors' Keras code,
the authors' public code, arnoannys/EELS_ID on GitHub; Ronneberger et al. 2015):

* encoder: 16 channels at 3072 -> pool -> 32 at 1536 -> pool -> 64 at 768 -> pool -> 128 at 384
  -> pool -> bottleneck 256 at 192;
* decoder, per level: upsample x2 (nearest) -> conv -> concatenate the skip -> conv (128, 64, 32);
  the last level concatenates the 3072-long skip after one conv (16 + 16 channels, no conv after);
* 1x1 conv to one channel (ReLU) -> 3072-vector -> dense head 3072 -> 3072 -> 1536 -> 768 -> 384
  (Linear-BN-ReLU, dropout 0.3 after the first three) -> 80. Outputs logits.

``width`` scales the convolution channels only; the dense head is tied to the 3072 channels.
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import (
    N_CHANNELS,
    N_ELEMENTS,
    check_positive,
    check_probability,
    conv_bn_relu,
    dense_bn_relu,
    init_he_normal,
    scaled,
)

FILTERS = (16, 32, 64, 128, 256)
HEAD = (3072, 1536, 768, 384)


class Up(nn.Module):
    """Upsample x2 -> conv -> concatenate the skip -> (conv unless ``last``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, last: bool = False):
        super().__init__()
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                conv_bn_relu(in_channels, out_channels, kernel_size))
        self.conv = nn.Identity() if last else conv_bn_relu(2 * out_channels, out_channels, kernel_size)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(x), skip], dim=1))


class UNet(nn.Module):
    def __init__(self, *, filters: tuple[int, ...] = FILTERS, kernel_size: int = 32, width: float = 1.0,
                 head: tuple[int, ...] = HEAD, dropout: float = 0.3, num_channels: int = N_CHANNELS,
                 num_classes: int = N_ELEMENTS):
        super().__init__()
        check_positive("width", width, "(multiplier of the convolution channels)")
        check_probability("dropout", dropout)
        f = [scaled(n, width) for n in filters]
        self.down = nn.ModuleList([conv_bn_relu(c_in, c_out, kernel_size) for c_in, c_out in zip([1] + f[:-1], f)])
        self.pool = nn.MaxPool1d(2)
        self.up = nn.ModuleList([Up(f[i + 1], f[i], kernel_size, last=(i == 0)) for i in reversed(range(len(f) - 1))])
        self.reduce = nn.Sequential(nn.Conv1d(2 * f[0], 1, 1), nn.ReLU(inplace=True))
        sizes = [num_channels] + list(head)
        self.dense = nn.Sequential(*[dense_bn_relu(a, b, dropout=dropout if i < len(head) - 1 else 0.0)
                                     for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))])
        self.head = nn.Linear(sizes[-1], num_classes)
        init_he_normal(self)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        x, skips = spectra.unsqueeze(1), []
        for i, down in enumerate(self.down):
            x = down(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, skip in zip(self.up, reversed(skips[:-1])):
            x = up(x, skip)
        return self.head(self.dense(self.reduce(x).squeeze(1)))   # (B, 32, 3072) -> (B, 3072) -> (B, 80)
