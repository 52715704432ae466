"""Ensemble of trained networks: the mean of the members' sigmoid outputs.

p_ens = (1/M) sum_m sigmoid(z_m) (paper: 2 ViT + 3 U-Net). Like every model here the ensemble
returns LOGITS, z_ens = log(mean p) - log(mean (1 - p)), computed with log-sum-exp of
log-sigmoids so that sigmoid(z_ens) equals the mean probability without overflow or clipping.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Ensemble(nn.Module):
    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("members must hold at least one model, got an empty list")
        self.members = nn.ModuleList(members)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        z = torch.stack([m(spectra).float() for m in self.members])         # (M, B, 80) logits
        log_m = math.log(len(self.members))
        log_p = torch.logsumexp(F.logsigmoid(z), dim=0) - log_m               # log mean p
        log_q = torch.logsumexp(F.logsigmoid(-z), dim=0) - log_m              # log mean (1 - p)
        return log_p - log_q
