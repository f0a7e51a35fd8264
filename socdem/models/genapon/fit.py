"""GenaponClassifier: the scikit-learn-style estimator around GenaponNet.

X is a `UserEvents` selection (batches.py), y an integer array with one column
per target (targets=("sex", "age_class"): female 0/1, age_class 0..3).
predict_proba returns one array per target (a list when there are several, as
scikit-learn's multi-output classifiers do), columns following `classes_`.
"""
from __future__ import annotations

import copy
import math
import sys
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm import tqdm

from socdem.models.genapon.batches import TIME_FEATURES, UserEvents, inference_order, pad_batch, training_order
from socdem.models.genapon.evidence import evidence_tables
from socdem.models.genapon.net import TARGET_WIDTH, GenaponNet


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def item_vocabulary(codes: np.ndarray, n_codes: int, min_count: int) -> np.ndarray:
    """code -> embedding row; codes seen fewer than min_count times (and code 0,
    'unknown') share row 0, the UNK row."""
    counts = np.bincount(codes, minlength=n_codes)
    keep = counts >= max(min_count, 1)
    keep[0] = False
    return np.where(keep, np.cumsum(keep), 0).astype(np.int64)


EVIDENCE_FOLDS = 5  # cross-fitting of the author evidence inside the training users


class UserScaler:
    """Standardisation fitted on the training users: count-like columns
    (non-negative, max > 10) are log1p'd first; missing values become 0."""

    def fit(self, x: np.ndarray) -> "UserScaler":
        x = np.where(np.isfinite(x), x, np.nan)
        with np.errstate(invalid="ignore"):
            self.log_ = (np.nanmin(x, axis=0, initial=np.inf) >= 0) & (np.nanmax(x, axis=0, initial=-np.inf) > 10)
        z = self._log(x)
        self.mean_ = np.nan_to_num(np.nanmean(z, axis=0) if len(z) else np.zeros(x.shape[1]))
        std = np.nan_to_num(np.nanstd(z, axis=0) if len(z) else np.ones(x.shape[1]))
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        return self

    def _log(self, x):
        return np.where(self.log_, np.log1p(np.maximum(x, 0)), x)

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.where(np.isfinite(x), x, np.nan)
        z = (self._log(x) - self.mean_) / self.scale_
        return np.clip(np.nan_to_num(z, nan=0.0), -10, 10).astype(np.float32)


class GenaponClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, targets=("sex", "age_class"), epochs=12, batch_size=256, learning_rate=5e-3,
                 weight_decay=1e-4, embedding_dim=32, hidden_dim=64, time_dim=16, min_count=3, video_min_count=100,
                 max_events=256,
                 time_encoder="attention", attention_heads=4, dropout=0.1, author_evidence=True,
                 evidence_pseudo_count=35.0, age_loss_weight=1.0, patience=3,
                 inner_valid_share=0.1, device="auto", threads=0, random_state=0, quiet=False):
        self.targets = targets
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.time_dim = time_dim
        self.min_count = min_count
        self.video_min_count = video_min_count
        self.max_events = max_events
        self.time_encoder = time_encoder
        self.attention_heads = attention_heads
        self.dropout = dropout
        self.author_evidence = author_evidence
        self.evidence_pseudo_count = evidence_pseudo_count
        self.age_loss_weight = age_loss_weight
        self.patience = patience
        self.inner_valid_share = inner_valid_share
        self.device = device
        self.threads = threads
        self.random_state = random_state
        self.quiet = quiet

    # -- fitting -------------------------------------------------------------
    def fit(self, X: UserEvents, y) -> "GenaponClassifier":
        targets = tuple(self.targets)
        y = np.asarray(y, dtype=np.int64).reshape(len(X), -1)
        if y.shape[1] != len(targets) or not set(targets) <= set(TARGET_WIDTH):
            raise ValueError(f"genapon: y has {y.shape[1]} column(s) for targets {targets}")
        if self.threads:
            torch.set_num_threads(int(self.threads))
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        self.device_ = resolve_device(self.device)
        self.classes_ = [np.arange(max(TARGET_WIDTH[t], 2)) for t in targets]  # sex: one logit, two classes

        events = X.event_index()
        self.video_map_ = item_vocabulary(X.video[events], int(X.video.max(initial=0)) + 1, self.video_min_count)
        self.author_map_ = item_vocabulary(X.author[events], int(X.author.max(initial=0)) + 1, self.min_count)
        self.scaler_ = UserScaler().fit(X.user_features[X.selected])
        users = self.scaler_.transform(X.user_features[X.selected])

        n_authors = int(self.author_map_.max(initial=0)) + 1
        tables, table = None, np.zeros(len(X), dtype=np.int64)
        if self.author_evidence:
            owner = np.repeat(np.arange(len(X)), X.lengths)
            tables, table = evidence_tables(owner, self.author_map_[X.author[events]], n_authors, y, targets,
                                            EVIDENCE_FOLDS, self.evidence_pseudo_count,
                                            np.random.default_rng([self.random_state, 1]))
            tables = torch.from_numpy(tables)

        n_valid = int(round(len(X) * self.inner_valid_share)) if len(X) >= 20 else 0
        perm = rng.permutation(len(X))
        valid, train = np.sort(perm[:n_valid]), np.sort(perm[n_valid:])

        self.net_ = GenaponNet(
            n_videos=int(self.video_map_.max(initial=0)) + 1, n_authors=n_authors,
            n_user_features=users.shape[1], n_time_features=len(TIME_FEATURES), targets=targets,
            embedding_dim=self.embedding_dim, hidden_dim=self.hidden_dim, time_dim=self.time_dim,
            max_events=self.max_events, time_encoder=self.time_encoder, attention_heads=self.attention_heads,
            dropout=self.dropout, evidence=tables,
        ).to(self.device_)
        optimizer = torch.optim.AdamW(self.net_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay,
                                      fused=True)
        steps_per_epoch = max(math.ceil(len(train) / self.batch_size), 1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(steps_per_epoch // 2 + 1,
                                                                               steps_per_epoch * self.epochs))
        X_train, X_valid = X.take(train), X.take(valid)
        users_train, users_valid = users[train], users[valid]
        table_train, table_valid = table[train], table[valid]
        lengths_train = X_train.lengths
        y_train = torch.from_numpy(y[train])

        self.history_, self.epoch_seconds_ = [], []
        best_loss, best_state, stale = math.inf, None, 0
        for epoch in range(self.epochs):
            started = time.perf_counter()
            self.net_.train()
            order = training_order(lengths_train, self.batch_size, rng)
            bar = tqdm(order, desc=f"genapon epoch {epoch + 1}/{self.epochs}", file=sys.stderr,
                       disable=self.quiet, leave=False, mininterval=1.0)
            running = 0.0
            for step, positions in enumerate(bar):
                batch = self._batch(X_train, positions, users_train, table_train)
                loss = self._loss(self.net_(batch), y_train[positions].to(self.device_))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                running += (loss.item() - running) / (step + 1)
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{running:.4f}")
            record = {"epoch": epoch + 1, "train_loss": running}
            if n_valid:
                logits = self._logits(X_valid, users_valid, table_valid)
                record["valid_loss"] = float(self._loss(logits, torch.from_numpy(y[valid])).item())
                if "sex" in targets:
                    record["valid_roc_auc"] = _auc(y[valid, targets.index("sex")],
                                                   self.net_.split_logits(logits)["sex"].numpy())
            self.epoch_seconds_.append(time.perf_counter() - started)
            self.history_.append(record)
            if not self.quiet:
                print(f"genapon epoch {epoch + 1}/{self.epochs}: " + " ".join(
                    f"{k}={v:.4f}" for k, v in record.items() if k != "epoch")
                    + f" ({self.epoch_seconds_[-1]:.1f} s)", file=sys.stderr, flush=True)
            score = record.get("valid_loss", running)
            if score < best_loss - 1e-5:
                best_loss, best_state, stale = score, copy.deepcopy(self.net_.state_dict()), 0
                self.best_epoch_ = epoch + 1
            else:
                stale += 1
                if n_valid and stale >= self.patience:
                    break
        if best_state is not None:  # None only if every loss was NaN: keep the last weights
            self.net_.load_state_dict(best_state)
        self.net_.eval()
        return self

    def _batch(self, X: UserEvents, positions: np.ndarray, users: np.ndarray, table: np.ndarray | None = None):
        batch = pad_batch(X, positions, self.max_events, self.video_map_, self.author_map_, users)
        if table is not None and self.net_.evidence is not None:
            batch.table = torch.from_numpy(table[positions])
        return batch.to(self.device_)

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        parts = self.net_.split_logits(logits)
        loss = logits.new_zeros(())
        for j, target in enumerate(self.net_.targets):
            if target == "sex":
                loss = loss + nn.functional.binary_cross_entropy_with_logits(parts[target], y[:, j].float())
            else:
                loss = loss + self.age_loss_weight * nn.functional.cross_entropy(parts[target], y[:, j])
        return loss

    @torch.no_grad()
    def _logits(self, X: UserEvents, users: np.ndarray, table: np.ndarray | None = None) -> torch.Tensor:
        """Logits of every selected user, in selection order (on the CPU); `table`:
        each user's author-evidence table (None = the one fitted on all training users)."""
        was_training = self.net_.training
        self.net_.eval()
        n_out = sum(TARGET_WIDTH[t] for t in self.net_.targets)
        out = torch.zeros((len(X), n_out))
        for positions in inference_order(X.lengths, 4 * self.batch_size):
            out[torch.from_numpy(positions)] = self.net_(self._batch(X, positions, users, table)).float().cpu()
        self.net_.train(was_training)
        return out

    # -- prediction ----------------------------------------------------------
    def predict_proba(self, X: UserEvents):
        users = self.scaler_.transform(X.user_features[X.selected])
        parts = self.net_.split_logits(self._logits(X, users))
        probas = []
        for target in self.net_.targets:
            if target == "sex":
                p = torch.sigmoid(parts[target]).numpy().astype(np.float64)
                probas.append(np.column_stack([1 - p, p]))
            else:
                probas.append(torch.softmax(parts[target], dim=1).numpy().astype(np.float64))
        return probas if len(probas) > 1 else probas[0]

    def predict(self, X: UserEvents):
        probas = self.predict_proba(X)
        probas = probas if isinstance(probas, list) else [probas]
        labels = [c[np.argmax(p, axis=1)] for c, p in zip(self.classes_, probas)]
        return np.column_stack(labels) if len(labels) > 1 else labels[0]

    def __getstate__(self):
        """Pickle the network on the CPU, so a fold model saved on a GPU loads anywhere."""
        state = super().__getstate__()
        if "net_" in state and state.get("device_", torch.device("cpu")).type != "cpu":
            state["net_"] = copy.deepcopy(state["net_"]).cpu()
            state["device_"] = torch.device("cpu")
        return state


def _warmup_cosine(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")
