"""The GENAPON network: a set branch, a time branch and a user branch, joined
by an FFN into one logit for sex and four for age_class.

    set   (video, author) embeddings [+ author evidence] -> DeepSets (phi, masked sum + mean
          over all events and over distinct authors, rho); the author evidence summed over
          distinct authors also goes linearly to the logits
    time  per-event time features -> Time2Vec -> event encoder ->
          masked attention + mean + sum pooling (or an LSTM over packed sequences, last hidden state)
    user  standardised label-free user features -> FFN
    head  concatenation -> FFN -> logits
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from socdem.models.genapon.deepsets import DeepSets, length_mask, masked_attention_pool, masked_sum_mean, mlp
from socdem.models.genapon.time2vec import Time2Vec

TARGET_WIDTH = {"sex": 1, "age_class": 4}


@dataclass
class Batch:
    """A padded batch of users: events are (B, L[, F]) with lengths (B,)."""

    video: torch.Tensor  # int64 embedding rows (0 = UNK)
    author: torch.Tensor  # int64 embedding rows (0 = UNK)
    time: torch.Tensor  # float32 (B, L, n_time_features), oldest event first
    lengths: torch.Tensor  # int64 (B,), 0 for a user without events
    user: torch.Tensor  # float32 (B, n_user_features), possibly zero columns
    distinct: torch.Tensor | None = None  # bool (B, L): the user's last event of each distinct author
    table: torch.Tensor | None = None  # int64 (B,): the author-evidence table each user reads (None = the last)

    def to(self, device) -> "Batch":
        fields = (self.video, self.author, self.time, self.lengths, self.user, self.distinct, self.table)
        return Batch(*(None if t is None else t.to(device, non_blocking=True) for t in fields))


class TimeBranch(nn.Module):
    def __init__(self, n_features: int, time_dim: int, hidden_dim: int, encoder: str, heads: int, dropout: float,
                 sum_scale: float = 1.0):
        super().__init__()
        self.sum_scale = sum_scale
        if encoder not in ("attention", "lstm"):
            raise ValueError(f"time_encoder: expected 'attention' or 'lstm', got {encoder!r}")
        self.encoder = encoder
        self.t2v = Time2Vec(n_features, time_dim)
        self.event = mlp([n_features * time_dim, hidden_dim, hidden_dim])
        if encoder == "attention":
            self.scores = nn.Linear(hidden_dim, heads)
            self.out = mlp([(heads + 2) * hidden_dim, hidden_dim], dropout=dropout)
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


class GenaponNet(nn.Module):
    def __init__(self, n_videos: int, n_authors: int, n_user_features: int, n_time_features: int,
                 targets: tuple[str, ...] = ("sex", "age_class"), embedding_dim: int = 32, hidden_dim: int = 64,
                 time_dim: int = 16, max_events: int = 256, time_encoder: str = "attention",
                 attention_heads: int = 4, dropout: float = 0.1, evidence: torch.Tensor | None = None):
        super().__init__()
        self.targets = tuple(targets)
        self.video = nn.Embedding(n_videos, embedding_dim)
        self.author = nn.Embedding(n_authors, embedding_dim)
        n_out = sum(TARGET_WIDTH[t] for t in self.targets)
        # A linear path of the set branch: one logit vector per author, pooled
        # over the distinct authors straight into the output (a DeepSets whose
        # phi is a lookup), so per-author evidence needs no deep path to get out.
        self.author_logits = nn.Embedding(n_authors, n_out)
        for table in (self.video, self.author):
            nn.init.normal_(table.weight, std=0.1)  # small: AdamW's steps move them from the start
        nn.init.zeros_(self.author_logits.weight)
        # Author evidence (evidence.py): (tables, authors, n_out) log share ratios
        # in the order of the logits, so the linear path starts as naive Bayes.
        self.register_buffer("evidence", evidence)
        n_evidence = 0 if evidence is None else evidence.shape[-1]
        if n_evidence:
            if n_evidence != n_out:
                raise ValueError(f"genapon: evidence has {n_evidence} columns for {n_out} logits")
            self.evidence_logits = nn.Linear(n_evidence, n_out, bias=False)
            nn.init.eye_(self.evidence_logits.weight)
        self.sum_scale = max_events ** -0.5
        self.sets = DeepSets(2 * embedding_dim + n_evidence, hidden_dim, sum_scale=self.sum_scale, dropout=dropout)
        self.time = TimeBranch(n_time_features, time_dim, hidden_dim, time_encoder, attention_heads, dropout,
                               sum_scale=self.sum_scale)
        self.user = mlp([n_user_features, hidden_dim, hidden_dim], dropout=dropout) if n_user_features else None
        n_branches = 3 if self.user is not None else 2
        self.head = mlp([n_branches * hidden_dim, hidden_dim, n_out], dropout=dropout, last_activation=False)

    def forward(self, batch: Batch) -> torch.Tensor:
        mask = length_mask(batch.lengths, batch.video.shape[1])
        items = [self.video(batch.video), self.author(batch.author)]
        if self.evidence is not None:
            table = batch.table
            if table is None:
                table = torch.full_like(batch.lengths, self.evidence.shape[0] - 1)
            evidence = self.evidence[table.unsqueeze(1), batch.author]
            items.append(evidence)
        parts = [self.sets(torch.cat(items, dim=-1), mask, batch.distinct),
                 self.time(batch.time, batch.lengths, mask)]
        if self.user is not None:
            parts.append(self.user(batch.user))
        distinct = mask if batch.distinct is None else mask & batch.distinct
        total, mean = masked_sum_mean(self.author_logits(batch.author), distinct)
        logits = self.head(torch.cat(parts, dim=-1)) + total * self.sum_scale + mean
        if self.evidence is not None:
            logits = logits + self.evidence_logits(masked_sum_mean(evidence, distinct)[0])
        return logits

    def split_logits(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"sex": (B,), "age_class": (B, 4)} for the targets of this network."""
        out, start = {}, 0
        for target in self.targets:
            width = TARGET_WIDTH[target]
            out[target] = logits[:, start] if width == 1 else logits[:, start:start + width]
            start += width
        return out
