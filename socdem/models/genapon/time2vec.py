"""Time2Vec (Kazemi et al., 2019) in the paper's form, one per scalar feature:

t2v(tau)[0] = w0 * tau + p0          (the linear, non-periodic part)
t2v(tau)[i] = sin(wi * tau + pi)     (i = 1 .. dim-1; the phase is inside the sine)
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Time2Vec(nn.Module):
    """(..., n_features) -> (..., n_features * dim): each feature gets its own
    frequencies and phases."""

    def __init__(self, n_features: int, dim: int):
        super().__init__()
        if dim < 2:
            raise ValueError(f"Time2Vec needs dim >= 2 (one linear + periodic terms), got {dim}")
        self.n_features, self.dim = n_features, dim
        # Inputs are scaled to about [0, 1]: frequencies of a few whole periods
        # over that range let a daily or weekly cycle be found from the start.
        self.omega = nn.Parameter(torch.randn(n_features, dim) * 2 * math.pi)
        self.phi = nn.Parameter(torch.rand(n_features, dim) * 2 * math.pi - math.pi)

    def forward(self, tau: torch.Tensor) -> torch.Tensor:
        z = tau.unsqueeze(-1) * self.omega + self.phi  # (..., F, dim)
        out = torch.cat([z[..., :1], torch.sin(z[..., 1:])], dim=-1)
        return out.flatten(-2)
