"""The event-time encoder: per-event time features -> Time2Vec -> an FFN per
event -> pooled over the user's events (masked attention + mean + sum, or an
LSTM over the packed sequence, its last hidden state)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from socdem.models.genapon.set_encoder import masked_attention_pool, masked_sum_mean, mlp
from socdem.models.genapon.time2vec import Time2Vec

TIME_ENCODERS = ("attention", "lstm")
MOMENT_POOLINGS = 2  # mean and sum, next to the attention heads


class EventTimeEncoder(nn.Module):
    def __init__(
        self,
        n_features: int,
        time_dim: int,
        hidden_dim: int,
        encoder: str,
        heads: int,
        dropout: float,
        sum_scale: float = 1.0,
    ):
        super().__init__()
        self.sum_scale = sum_scale
        if encoder not in TIME_ENCODERS:
            raise ValueError(f"time_encoder: expected one of {TIME_ENCODERS}, got {encoder!r}")
        self.encoder = encoder
        self.t2v = Time2Vec(n_features, time_dim)
        self.event = mlp([n_features * time_dim, hidden_dim, hidden_dim])
        if encoder == "attention":
            self.scores = nn.Linear(hidden_dim, heads)
            self.out = mlp([(heads + MOMENT_POOLINGS) * hidden_dim, hidden_dim], dropout=dropout)
        else:
            self.lstm = nn.LSTM(hidden_dim, hidden_dim, batch_first=True)

    def forward(self, time: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        events = self.event(self.t2v(time))
        if self.encoder == "attention":
            pooled = masked_attention_pool(events, self.scores(events), mask).flatten(1)
            # the sum too: per-event evidence (hour, weekday, watch fraction) adds up over events
            total, mean = masked_sum_mean(events, mask)
            return self.out(torch.cat([pooled, mean, total * self.sum_scale], dim=-1))
        # Packed: the LSTM never reads the padding; its last hidden state is at each user's own end.
        packed = pack_padded_sequence(events, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        _, (hidden, _) = self.lstm(packed)
        return hidden[-1] * (lengths > 0).unsqueeze(-1).to(events.dtype)
