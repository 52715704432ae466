"""1-D VGG-11 convolutional network (paper Table 2: 45M parameters).

Kernel 32, 'same' padding, ReLU, no BatchNorm; channels 64, P, 128, P, 256, 256, P, 512, 512,
P, 512, 512, P (P = max-pool 2), so 3072 channels become 96 positions x 512 features; flatten
-> dropout 0.5 -> 256 -> dropout 0.5 -> 256 -> 80 (authors' Keras code, see
the authors' public code, arnoannys/EELS_ID on GitHub; Simonyan & Zisserman 2015, configuration A).
Outputs logits.

The first dense layer (49,152 inputs at full size) always runs in float32: in bfloat16
autocast it crashed torch 2.13 on CPU with a floating-point exception.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ._common import N_CHANNELS, N_ELEMENTS, SameConv1d, check_positive, check_probability, init_he_normal, scaled


def no_autocast(device_type: str):
    """Autocast disabled on this device (a no-op context for devices without autocast, e.g. meta)."""
    return torch.autocast(device_type, enabled=False) if device_type in ("cpu", "cuda") else contextlib.nullcontext()


VGG11 = (64, "P", 128, "P", 256, 256, "P", 512, 512, "P", 512, 512, "P")


class CNN(nn.Module):
    def __init__(self, *, layers: tuple = VGG11, kernel_size: int = 32, width: float = 1.0, dense: int = 256,
                 dropout: float = 0.5, num_channels: int = N_CHANNELS, num_classes: int = N_ELEMENTS):
        super().__init__()
        check_positive("width", width, "(multiplier of the convolution channels)")
        check_positive("kernel_size", kernel_size, "channels")
        check_probability("dropout", dropout)
        features, channels, length = [], 1, num_channels
        for layer in layers:
            if layer == "P":
                features.append(nn.MaxPool1d(2))
                length //= 2
            else:
                features += [SameConv1d(channels, scaled(layer, width), kernel_size), nn.ReLU(inplace=True)]
                channels = scaled(layer, width)
        self.features = nn.Sequential(*features)
        self.drop1 = nn.Dropout(dropout)
        self.fc1 = nn.Linear(channels * length, dense)
        self.head = nn.Sequential(nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(dense, dense),
                                  nn.ReLU(inplace=True), nn.Linear(dense, num_classes))
        init_he_normal(self)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        x = self.features(spectra.unsqueeze(1))                  # (B, C, 96)
        x = self.drop1(x.transpose(1, 2).flatten(1))               # Keras flattens channels-last
        with no_autocast(x.device.type):                           # bf16 crash, see module docstring
            x = self.fc1(x.float())
        return self.head(x)
