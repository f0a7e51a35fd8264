"""The target heads: one FFN over the encoders' joined outputs to every
target's logits at once (one logit for sex, four for age_class)."""

from __future__ import annotations

import torch
from torch import nn

from socdem.models.genapon.set_encoder import mlp
from socdem.schema import AGE_CLASSES

TARGET_WIDTH = {"sex": 1, "age_class": len(AGE_CLASSES)}  # sex: one logit, that of female


def logit_width(targets: tuple[str, ...]) -> int:
    return sum(TARGET_WIDTH[t] for t in targets)


def target_columns(targets: tuple[str, ...], target: str) -> slice:
    """Where `target`'s logits sit among those of `targets`."""
    start = logit_width(targets[: targets.index(target)])
    return slice(start, start + TARGET_WIDTH[target])


class TargetHeads(nn.Module):
    def __init__(self, in_dim: int, hidden_dim: int, targets: tuple[str, ...], dropout: float):
        super().__init__()
        self.targets = tuple(targets)
        self.ffn = mlp([in_dim, hidden_dim, logit_width(self.targets)], dropout=dropout, last_activation=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(x)

    def split_logits(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"sex": (B,), "age_class": (B, 4)} for the targets of these heads."""
        out = {}
        for target in self.targets:
            columns = target_columns(self.targets, target)
            out[target] = logits[:, columns.start] if TARGET_WIDTH[target] == 1 else logits[:, columns]
        return out
