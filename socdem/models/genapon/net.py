"""The GENAPON network: three encoders joined by the target heads into one
logit for sex and four for age_class.

    ItemSetEncoder      (video, author) embeddings [+ author evidence] -> DeepSets (phi, masked
                        sum + mean over all events and over distinct authors, rho); the author
                        evidence summed over distinct authors also goes linearly to the logits
    EventTimeEncoder    per-event time features -> Time2Vec -> event FFN -> masked attention +
                        mean + sum pooling (or an LSTM over packed sequences, last hidden state)
    UserFeatureEncoder  standardised label-free user features -> FFN
    TargetHeads         concatenation -> FFN -> logits, plus an offset given per user (the linear model's
                        cross-fitted logits), weighed from the identity
"""

from __future__ import annotations

import torch
from torch import nn

from socdem.models.genapon.batches import PaddedBatch
from socdem.models.genapon.heads import TargetHeads, logit_width
from socdem.models.genapon.set_encoder import ItemSetEncoder, masked_sum_mean, mlp
from socdem.models.genapon.time_encoder import EventTimeEncoder

EMBEDDING_INIT_STD = 0.1  # small: AdamW's steps move the embeddings from the start


class UserFeatureEncoder(nn.Sequential):
    """An FFN over the standardised label-free user features."""

    def __init__(self, n_features: int, hidden_dim: int, dropout: float):
        super().__init__(*mlp([n_features, hidden_dim, hidden_dim], dropout=dropout))


class GenaponNet(nn.Module):
    def __init__(
        self,
        n_videos: int,
        n_authors: int,
        n_user_features: int,
        n_time_features: int,
        targets: tuple[str, ...] = ("sex", "age_class"),
        embedding_dim: int = 32,
        hidden_dim: int = 64,
        time_dim: int = 16,
        max_events: int = 256,
        time_encoder: str = "attention",
        attention_heads: int = 4,
        dropout: float = 0.1,
        evidence: torch.Tensor | None = None,
        n_words: int = 0,
        n_offset: int = 0,
        n_title_dims: int = 0,
    ):
        super().__init__()
        # The submodules are built in this order on purpose: it fixes their random initialisation.
        self.targets = tuple(targets)
        self.video = nn.Embedding(n_videos, embedding_dim)
        self.author = nn.Embedding(n_authors, embedding_dim)
        n_out = logit_width(self.targets)
        # A linear path of the set branch: one logit vector per author, pooled
        # over the distinct authors straight into the output (a DeepSets whose
        # phi is a lookup), so per-author evidence needs no deep path to get out.
        self.author_logits = nn.Embedding(n_authors, n_out)
        for table in (self.video, self.author):
            nn.init.normal_(table.weight, std=EMBEDDING_INIT_STD)
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
        self.sum_scale = max_events**-0.5  # sums over up to max_events events, brought near a mean's scale
        # video and author embeddings [+ evidence] [+ the mean embedding of the title's words] [+ its title vector]
        item_dim = 2 * embedding_dim + n_evidence + (embedding_dim if n_words else 0)
        item_dim += embedding_dim if n_title_dims else 0
        self.set_encoder = ItemSetEncoder(item_dim, hidden_dim, sum_scale=self.sum_scale, dropout=dropout)
        self.time_encoder = EventTimeEncoder(
            n_time_features, time_dim, hidden_dim, time_encoder, attention_heads, dropout, sum_scale=self.sum_scale
        )
        self.user_encoder = UserFeatureEncoder(n_user_features, hidden_dim, dropout) if n_user_features else None
        n_encoders = 2 if self.user_encoder is None else 3
        self.heads = TargetHeads(n_encoders * hidden_dim, hidden_dim, self.targets, dropout)
        # last, so that a network without title words is initialised exactly as before they existed
        self.words = nn.Embedding(n_words, embedding_dim, padding_idx=0) if n_words else None
        if self.words is not None:
            nn.init.normal_(self.words.weight, std=EMBEDDING_INIT_STD)
            with torch.no_grad():
                self.words.weight[0].zero_()
        # logits given from outside (the linear model's), weighed from the identity: the network starts
        # from the linear model's scores and learns what its own branches add
        self.offset_logits = nn.Linear(n_offset, n_out, bias=False) if n_offset else None
        if self.offset_logits is not None:
            if n_offset != n_out:
                raise ValueError(f"genapon: the offset has {n_offset} columns for {n_out} logits")
            nn.init.eye_(self.offset_logits.weight)
        # last again: a network without title vectors is initialised exactly as before they existed
        self.title_proj = nn.Linear(n_title_dims, embedding_dim) if n_title_dims else None

    def forward(self, batch: PaddedBatch) -> torch.Tensor:
        mask = batch.mask
        items = [self.video(batch.video), self.author(batch.author)]
        if self.evidence is not None:
            table = batch.table
            if table is None:
                table = torch.full_like(batch.lengths, self.evidence.shape[0] - 1)
            evidence = self.evidence[table.unsqueeze(1), batch.author]
            items.append(evidence)
        if self.words is not None:
            present = (batch.words > 0).unsqueeze(-1).to(self.words.weight.dtype)
            words = (self.words(batch.words) * present).sum(dim=2) / present.sum(dim=2).clamp(min=1)
            items.append(words)  # a rare video is recognisable through its words
        if getattr(self, "title_proj", None) is not None:  # absent from a network pickled before it existed
            items.append(self.title_proj(batch.title_vec))  # and through their meaning, words never seen included
        encoded = [
            self.set_encoder(torch.cat(items, dim=-1), mask, batch.distinct),
            self.time_encoder(batch.time, batch.lengths, mask),
        ]
        if self.user_encoder is not None:
            encoded.append(self.user_encoder(batch.user))
        distinct = mask if batch.distinct is None else mask & batch.distinct
        total, mean = masked_sum_mean(self.author_logits(batch.author), distinct)
        logits = self.heads(torch.cat(encoded, dim=-1)) + total * self.sum_scale + mean
        if self.evidence is not None:
            logits = logits + self.evidence_logits(masked_sum_mean(evidence, distinct)[0])
        if self.offset_logits is not None:
            logits = logits + self.offset_logits(batch.offset)
        return logits

    def split_logits(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"sex": (B,), "age_class": (B, 4)} for the targets of this network."""
        return self.heads.split_logits(logits)
