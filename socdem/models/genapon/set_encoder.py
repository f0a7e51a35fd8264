"""The item-set encoder, a DeepSets f(X) = rho(pool(phi(x) for x in X)) over a
user's (video, author) items, and the masked set poolings the encoders share.

Sets come padded: (batch, length, dim) with a boolean mask (batch, length);
padded positions are excluded exactly, so padding changes nothing.
"""

from __future__ import annotations

import torch
from torch import nn

SET_POOLINGS = 4  # sum and mean over all events, sum and mean over distinct authors


def mlp(sizes: list[int], dropout: float = 0.0, last_activation: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def masked_sum_mean(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum and mean over the set axis of (B, L, D) where mask (B, L); an empty set gives zeros."""
    total = (x * mask.unsqueeze(-1).to(x.dtype)).sum(dim=1)
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(x.dtype)
    return total, total / count


def masked_attention_pool(x: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Attention pooling: x (B, L, D), scores (B, L, H) -> (B, H, D); an empty set gives zeros."""
    scores = scores.masked_fill(~mask.unsqueeze(-1), float("-inf"))
    weights = torch.softmax(scores, dim=1)
    weights = torch.nan_to_num(weights, nan=0.0)  # all -inf (no events): softmax is NaN -> 0
    return torch.einsum("blh,bld->bhd", weights, x)


class ItemSetEncoder(nn.Module):
    """DeepSets (Zaheer et al., 2017): phi per element; masked sum and mean
    pooling over the whole set and over its `distinct` elements (one per
    distinct author); rho on the pooled vector.

    Why both: a user re-watches the same authors, so their events are far from
    independent draws; evidence that grows with the number of *distinct*
    authors (not with re-watches) is what a Dirichlet-multinomial taste gives.
    """

    def __init__(self, in_dim: int, hidden_dim: int, sum_scale: float = 1.0, dropout: float = 0.0):
        super().__init__()
        self.phi = mlp([in_dim, hidden_dim, hidden_dim])
        self.rho = mlp([SET_POOLINGS * hidden_dim, hidden_dim, hidden_dim], dropout=dropout)
        # The sums grow with the history length (up to max_events); scaling them
        # keeps their magnitude near the means' so neither dominates rho's input.
        self.sum_scale = sum_scale

    def pool(self, h: torch.Tensor, mask: torch.Tensor, distinct: torch.Tensor | None = None) -> torch.Tensor:
        total, mean = masked_sum_mean(h, mask)
        d_total, d_mean = masked_sum_mean(h, mask if distinct is None else mask & distinct)
        return torch.cat([total * self.sum_scale, mean, d_total * self.sum_scale, d_mean], dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, distinct: torch.Tensor | None = None) -> torch.Tensor:
        return self.rho(self.pool(self.phi(x), mask, distinct))
