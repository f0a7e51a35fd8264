"""GenaponClassifier: the scikit-learn-style estimator around GenaponNet.

X is a `UserEvents` selection (batches.py), y an integer array with one column
per target (targets=("sex", "age_class"): female 0/1, age_class 0..3).
predict_proba returns one array per target (a list when there are several, as
scikit-learn's multi-output classifiers do), columns following `classes_`.

fit: vocabularies, user scaler and author evidence from the training users; an
inner validation split; then epochs of `train_one_epoch` + `inner_validation`
under a warm-up + cosine learning rate, stopped early on the validation loss.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm import tqdm

from socdem.config import GenaponConfig
from socdem.models.genapon.batches import TIME_FEATURES, UserEvents, inference_order, pad_batch, training_order
from socdem.models.genapon.evidence import evidence_tables
from socdem.models.genapon.heads import TARGET_WIDTH, logit_width, target_columns
from socdem.models.genapon.net import GenaponNet
from socdem.selection import one_standard_error

DEFAULTS = GenaponConfig()  # the one source of GENAPON's defaults
FIT_CODE_VERSION = 3  # bump it when what a fit learns changes: its folds are then trained again
EVIDENCE_FOLDS = 5  # cross-fitting of the author evidence inside the training users
EVIDENCE_SEED_STREAM = 1  # the evidence folds draw from their own stream of random_state
MIN_USERS_FOR_INNER_VALIDATION = 20  # fewer: every user trains and nothing stops early
MIN_LR_FACTOR = 0.05  # the cosine schedule ends at this share of the learning rate, not at 0
MIN_IMPROVEMENT = 1e-5  # an epoch's loss must beat the best by more than this to count
INFERENCE_BATCH_FACTOR = 4  # no gradients to hold: inference batches are this many training batches
PROGRESS_EVERY_STEPS = 20  # steps between refreshes of the progress bar's running loss
PROGRESS_MIN_INTERVAL_S = 1.0
COUNT_LIKE_MAX = 10  # a non-negative column whose max exceeds this is count-like (log1p'd)
MIN_STD = 1e-12  # a (near-)constant column is centred but not scaled
MAX_ABS_Z = 10  # standardised features are clipped to [-MAX_ABS_Z, MAX_ABS_Z]
TRANSFORM_ROWS = 65_536  # users standardised at a time
NETWORK_WEIGHTS = np.linspace(0.0, 1.0, 21)  # the trained network's weight against the offset, per target


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


def n_rows(vocabulary: np.ndarray) -> int:
    """The embedding rows a vocabulary of item_vocabulary needs (UNK included)."""
    return int(vocabulary.max(initial=0)) + 1


def make_vocabularies(
    X: UserEvents, video_min_count: int, author_min_count: int, video_backoff: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(video_map, author_map) counted over the events of X's users. With `video_backoff`, a video
    too rarely watched for a row of its own shares one row per author (after the kept videos' rows)
    instead of the UNK row: what the network learns of an author's rare videos stays the author's."""
    events = X.event_index()
    video_map = item_vocabulary(X.video[events], int(X.video.max(initial=0)) + 1, video_min_count)
    author_map = item_vocabulary(X.author[events], int(X.author.max(initial=0)) + 1, author_min_count)
    if video_backoff:
        video_author = np.zeros(len(video_map), dtype=np.int64)
        video_author[X.video] = X.author  # label-free: every user's events, so a video only test users watched counts
        rare = (video_map == 0) & (video_author > 0)
        video_map[rare] = n_rows(video_map) + video_author[rare] - 1
    return video_map, author_map


def word_vocabulary(X: UserEvents, min_count: int) -> np.ndarray | None:
    """Title-word code -> embedding row, counted over the words of X's users' events (None without titles)."""
    if X.title_words is None or not X.title_words.any():
        return None
    words = X.title_words[X.video[X.event_index()]]
    return item_vocabulary(words[words > 0], int(X.title_words.max()) + 1, min_count)


def fit_author_evidence(
    X: UserEvents,
    y: np.ndarray,
    targets: tuple[str, ...],
    author_map: np.ndarray,
    pseudo_count: float,
    seed: int,
    hierarchical: bool = True,
) -> tuple[torch.Tensor, np.ndarray]:
    """Cross-fitted author evidence tables (evidence.py) and the table each user of X reads;
    `hierarchical`: each author shrunk toward its category (where X knows the videos' categories)."""
    owner = np.repeat(np.arange(len(X)), X.lengths)
    events = X.event_index()
    categories = X.video_category[X.video[events]] if hierarchical and X.video_category is not None else None
    rng = np.random.default_rng([seed, EVIDENCE_SEED_STREAM])
    tables, table = evidence_tables(
        owner, author_map[X.author[events]], n_rows(author_map), y, targets, EVIDENCE_FOLDS, pseudo_count, rng,
        categories,
    )  # fmt: skip
    return torch.from_numpy(tables), table


def target_losses(target: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(users,) one target's loss of each user from its logits: (users, 1) for sex, (users, 4) for age."""
    if target == "sex":
        return nn.functional.binary_cross_entropy_with_logits(logits[:, 0], y.float(), reduction="none")
    return nn.functional.cross_entropy(logits, y, reduction="none")


def loss_best_weight(offset: torch.Tensor, network: torch.Tensor, y: torch.Tensor, targets: tuple) -> np.ndarray:
    """(logits,) per target the weight w of NETWORK_WEIGHTS whose offset + w * (network - offset) has the
    least mean loss of that target on these users (the smallest w among equals)."""
    weights = []
    for j, target in enumerate(targets):
        columns = target_columns(targets, target)
        lo, hi = offset[:, columns], network[:, columns]
        losses = [target_losses(target, lo + w * (hi - lo), y[:, j]).mean().item() for w in NETWORK_WEIGHTS]
        weights += [NETWORK_WEIGHTS[int(np.argmin(losses))]] * TARGET_WIDTH[target]
    return np.asarray(weights, dtype=np.float32)


def split_inner_validation(n_users: int, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid) sorted positions; valid is empty for very few users."""
    n_valid = int(round(n_users * share)) if n_users >= MIN_USERS_FOR_INNER_VALIDATION else 0
    perm = rng.permutation(n_users)
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])


def warmup_steps(steps_per_epoch: int) -> int:
    """A linear warm-up over the first half epoch (at least one step)."""
    return steps_per_epoch // 2 + 1


def warmup_cosine(warmup: int, total: int):
    """The learning-rate factor of each step: linear up to 1, then a cosine down to MIN_LR_FACTOR."""

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return MIN_LR_FACTOR + (1 - MIN_LR_FACTOR) * 0.5 * (1 + math.cos(math.pi * progress))

    return lr_factor


@dataclass
class InnerSplit:
    """One side of the inner split: events, standardised user features,
    author-evidence table and labels of its users."""

    events: UserEvents
    users: np.ndarray
    table: np.ndarray
    y: np.ndarray


class EarlyStopping:
    """Keeps the weights of the best epoch so far; says stop after `patience`
    epochs without an improvement (never when `enabled` is False)."""

    def __init__(self, patience: int, enabled: bool):
        self.patience, self.enabled = patience, enabled
        self.best_loss, self.best_state, self.best_epoch, self.stale = math.inf, None, None, 0

    def should_stop(self, loss: float, net: nn.Module, epoch: int) -> bool:
        if loss < self.best_loss - MIN_IMPROVEMENT:
            self.best_loss, self.best_state, self.best_epoch = loss, copy.deepcopy(net.state_dict()), epoch
            self.stale = 0
            return False
        self.stale += 1
        return self.enabled and self.stale >= self.patience


class UserScaler:
    """Standardisation fitted on the training users: count-like columns
    (non-negative, max > COUNT_LIKE_MAX) are log1p'd first; missing values become 0."""

    def fit(self, x: np.ndarray) -> UserScaler:
        x = np.where(np.isfinite(x), x, np.nan)
        with np.errstate(invalid="ignore"):
            self.log_ = (np.nanmin(x, axis=0, initial=np.inf) >= 0) & (
                np.nanmax(x, axis=0, initial=-np.inf) > COUNT_LIKE_MAX
            )
        z = self._log(x)
        self.mean_ = np.nan_to_num(np.nanmean(z, axis=0) if len(z) else np.zeros(x.shape[1]))
        std = np.nan_to_num(np.nanstd(z, axis=0) if len(z) else np.ones(x.shape[1]))
        self.scale_ = np.where(std > MIN_STD, std, 1.0)
        return self

    def _log(self, x):
        return np.where(self.log_, np.log1p(np.maximum(x, 0)), x)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Row blocks at a time: the float64 intermediates of millions of users x hundreds of columns
        would be several times the float32 result (the same values, row by row)."""
        out = np.empty(x.shape, dtype=np.float32)
        for start in range(0, len(x), TRANSFORM_ROWS):
            block = x[start : start + TRANSFORM_ROWS]
            block = np.where(np.isfinite(block), block, np.nan)
            z = (self._log(block) - self.mean_) / self.scale_
            out[start : start + TRANSFORM_ROWS] = np.clip(np.nan_to_num(z, nan=0.0), -MAX_ABS_Z, MAX_ABS_Z)
        return out


def label_matrix(y, n_users: int, targets: tuple[str, ...]) -> np.ndarray:
    y = np.asarray(y, dtype=np.int64).reshape(n_users, -1)
    if y.shape[1] != len(targets) or not set(targets) <= set(TARGET_WIDTH):
        raise ValueError(f"genapon: y has {y.shape[1]} column(s) for targets {targets}")
    return y


class GenaponClassifier(ClassifierMixin, BaseEstimator):
    # not a parameter (no model's cache key holds it): `make bench SCALE=1` cuts each epoch after this many
    # training steps to time a step on contests too large for whole CPU epochs (bench/scale.py)
    max_steps_per_epoch: int | None = None

    def __init__(
        self,
        targets=("sex", "age_class"),
        epochs=DEFAULTS.epochs,
        batch_size=DEFAULTS.batch_size,
        learning_rate=DEFAULTS.learning_rate,
        weight_decay=DEFAULTS.weight_decay,
        embedding_dim=DEFAULTS.embedding_dim,
        hidden_dim=DEFAULTS.hidden_dim,
        time_dim=DEFAULTS.time_dim,
        min_count=DEFAULTS.min_count,
        video_min_count=DEFAULTS.video_min_count,
        video_backoff=DEFAULTS.video_backoff,
        title_words=DEFAULTS.title_words,
        title_vec_dims=DEFAULTS.title_vec_dims,
        max_events=DEFAULTS.max_events,
        time_encoder=DEFAULTS.time_encoder,
        attention_heads=DEFAULTS.attention_heads,
        dropout=DEFAULTS.dropout,
        author_evidence=DEFAULTS.author_evidence,
        evidence_pseudo_count=DEFAULTS.evidence_pseudo_count,
        evidence_hierarchical=DEFAULTS.evidence_hierarchical,
        age_loss_weight=DEFAULTS.age_loss_weight,
        patience=DEFAULTS.patience,
        patience_users=DEFAULTS.patience_users,
        inner_valid_share=DEFAULTS.inner_valid_share,
        device=DEFAULTS.device,
        threads=0,
        random_state=0,
        quiet=False,
    ):
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
        self.video_backoff = video_backoff
        self.title_words = title_words
        self.title_vec_dims = title_vec_dims
        self.max_events = max_events
        self.time_encoder = time_encoder
        self.attention_heads = attention_heads
        self.dropout = dropout
        self.author_evidence = author_evidence
        self.evidence_pseudo_count = evidence_pseudo_count
        self.evidence_hierarchical = evidence_hierarchical
        self.age_loss_weight = age_loss_weight
        self.patience = patience
        self.patience_users = patience_users
        self.inner_valid_share = inner_valid_share
        self.device = device
        self.threads = threads
        self.random_state = random_state
        self.quiet = quiet

    # -- fitting -------------------------------------------------------------
    def fit(self, X: UserEvents, y) -> GenaponClassifier:
        targets = tuple(self.targets)
        y = label_matrix(y, len(X), targets)
        if self.threads:
            torch.set_num_threads(int(self.threads))
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        self.device_ = resolve_device(self.device)
        self.classes_ = [np.arange(max(TARGET_WIDTH[t], 2)) for t in targets]  # sex: one logit, two classes

        self.video_map_, self.author_map_ = make_vocabularies(
            X, self.video_min_count, self.min_count, self.video_backoff
        )
        self.word_map_ = word_vocabulary(X, self.min_count) if self.title_words else None
        self.n_title_dims_ = 0
        if self.title_vec_dims:
            if X.title_vectors is None or X.title_vectors.shape[1] != self.title_vec_dims:
                got = "none" if X.title_vectors is None else f"{X.title_vectors.shape[1]} dims"
                raise ValueError(f"genapon: title_vec_dims={self.title_vec_dims} but the events carry {got}")
            self.n_title_dims_ = int(self.title_vec_dims)
        self.n_offset_ = 0 if X.offset is None else int(X.offset.shape[1])
        self.scaler_ = UserScaler().fit(X.user_features[X.selected])
        users = self.scaler_.transform(X.user_features[X.selected])
        tables, table = None, np.zeros(len(X), dtype=np.int64)
        if self.author_evidence:
            tables, table = fit_author_evidence(
                X, y, targets, self.author_map_, self.evidence_pseudo_count, self.random_state,
                self.evidence_hierarchical,
            )  # fmt: skip
        train, valid = split_inner_validation(len(X), self.inner_valid_share, rng)
        self.net_ = self._build_network(users.shape[1], tables)
        optimizer, scheduler = self._make_optimizer(len(train))
        train_split, valid_split = (InnerSplit(X.take(p), users[p], table[p], y[p]) for p in (train, valid))

        self.history_, self.epoch_seconds_ = [], []
        stopping = EarlyStopping(self._patience(len(train)), enabled=len(valid) > 0)
        self.network_weight_ = np.ones(logit_width(targets), dtype=np.float32)
        for epoch in range(1, self.epochs + 1):
            started = time.perf_counter()
            train_loss = self._train_one_epoch(train_split, optimizer, scheduler, rng, epoch)
            record = {"epoch": epoch, "train_loss": train_loss}
            if len(valid):
                record.update(self._inner_validation(valid_split))
                record.pop("user_losses")
            self.epoch_seconds_.append(time.perf_counter() - started)
            self.history_.append(record)
            self._report(record)
            if stopping.should_stop(record.get("valid_loss", record["train_loss"]), self.net_, epoch):
                break
        if stopping.best_state is not None:  # None only if every loss was NaN: keep the last weights
            self.net_.load_state_dict(stopping.best_state)
            self.best_epoch_ = stopping.best_epoch
        if self.n_offset_ and len(valid):  # the offset alone is the simpler candidate
            trained = stopping.best_state is not None
            self.network_weight_ = self._network_weight(valid_split) if trained else 0 * self.network_weight_
        self.offset_only_ = not self.network_weight_.any()
        self.net_.eval()
        return self

    def _patience(self, n_train: int) -> int:
        """`patience` epochs, or fewer where fewer already cover `patience_users` training users' steps."""
        if self.patience_users <= 0 or n_train <= 0:
            return int(self.patience)
        return int(min(self.patience, max(1, math.ceil(self.patience_users / n_train))))

    def _network_weight(self, split: InnerSplit) -> np.ndarray:
        """Per logit, the trained network's weight against the offset alone (the linear model's logits; 0:
        the offset alone): per target the loss-best on the inner validation users, kept only where, chosen on
        each half of them, it beats the offset on the other half by more than the standard error of the
        paired per-user loss difference. A weight, not all or nothing: on a few thousand users a network
        that helps rarely wins alone beyond that noise."""
        y, targets = torch.from_numpy(split.y), self.net_.targets
        offset = torch.from_numpy(split.events.offset[split.events.selected]).float()
        network = self._network_logits(split.events, split.users, split.table)
        half = torch.from_numpy(np.arange(len(y)) % 2 == 0)
        mixed = torch.zeros(len(y))
        for fitted_on in (half, ~half):
            weight = torch.from_numpy(loss_best_weight(offset[fitted_on], network[fitted_on], y[fitted_on], targets))
            held = ~fitted_on
            mixed[held] = self._user_losses(offset[held] + weight * (network[held] - offset[held]), y[held])
        alone = self._user_losses(offset, y)
        if one_standard_error([-alone.numpy(), -mixed.numpy()], higher_is_better=True) == 0:
            return np.zeros(offset.shape[1], dtype=np.float32)
        return loss_best_weight(offset, network, y, targets)

    def _build_network(self, n_user_features: int, evidence: torch.Tensor | None) -> GenaponNet:
        return GenaponNet(
            n_videos=n_rows(self.video_map_),
            n_authors=n_rows(self.author_map_),
            n_user_features=n_user_features,
            n_time_features=len(TIME_FEATURES),
            targets=tuple(self.targets),
            embedding_dim=self.embedding_dim,
            hidden_dim=self.hidden_dim,
            time_dim=self.time_dim,
            max_events=self.max_events,
            time_encoder=self.time_encoder,
            attention_heads=self.attention_heads,
            dropout=self.dropout,
            evidence=evidence,
            n_words=0 if self.word_map_ is None else n_rows(self.word_map_),
            n_offset=self.n_offset_,
            n_title_dims=self.n_title_dims_,
        ).to(self.device_)

    def _make_optimizer(self, n_train: int):
        """AdamW under a per-step warm-up + cosine schedule over all epochs."""
        optimizer = torch.optim.AdamW(
            self.net_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay, fused=True
        )
        steps_per_epoch = max(math.ceil(n_train / self.batch_size), 1)
        schedule = warmup_cosine(warmup_steps(steps_per_epoch), steps_per_epoch * self.epochs)
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    def _train_one_epoch(self, split: InnerSplit, optimizer, scheduler, rng: np.random.Generator, epoch: int) -> float:
        """One pass over the training users in shuffled, length-pooled batches; the mean batch loss."""
        self.net_.train()
        y = torch.from_numpy(split.y)
        batches = training_order(split.events.lengths, self.batch_size, rng)
        if self.max_steps_per_epoch:
            batches = batches[: self.max_steps_per_epoch]
        bar = tqdm(
            batches,
            desc=f"genapon epoch {epoch}/{self.epochs}",
            file=sys.stderr,
            disable=self.quiet or not sys.stderr.isatty(),  # in a log file: the per-epoch line only
            leave=False,
            mininterval=PROGRESS_MIN_INTERVAL_S,
        )
        running = 0.0
        for step, positions in enumerate(bar):
            batch = self._batch(split.events, positions, split.users, split.table)
            loss = self._loss(self.net_(batch), y[positions].to(self.device_))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += (loss.item() - running) / (step + 1)
            if step % PROGRESS_EVERY_STEPS == 0:
                bar.set_postfix(loss=f"{running:.4f}")
        return running

    def _inner_validation(self, split: InnerSplit) -> dict:
        """Loss (and the sex ROC-AUC) on the held-out training users, each reading its own evidence table;
        `user_losses`: each user's."""
        logits = self._network_logits(split.events, split.users, split.table)
        user_losses = self._user_losses(logits, torch.from_numpy(split.y))
        record = {"valid_loss": float(user_losses.mean().item()), "user_losses": user_losses.numpy()}
        if "sex" in self.net_.targets:
            sex = split.y[:, self.net_.targets.index("sex")]
            record["valid_roc_auc"] = _auc(sex, self.net_.split_logits(logits)["sex"].numpy())
        return record

    def _report(self, record: dict) -> None:
        if not self.quiet:
            print(
                f"genapon epoch {record['epoch']}/{self.epochs}: "
                + " ".join(f"{k}={v:.4f}" for k, v in record.items() if k != "epoch")
                + f" ({self.epoch_seconds_[-1]:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    def _batch(self, X: UserEvents, positions: np.ndarray, users: np.ndarray, table: np.ndarray | None = None):
        batch = pad_batch(
            X, positions, self.max_events, self.video_map_, self.author_map_, users, self.word_map_,
            title_vectors=self.n_title_dims_ > 0,
        )  # fmt: skip
        if table is not None and self.net_.evidence is not None:
            batch.table = torch.from_numpy(table[positions])
        return batch.to(self.device_)

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._user_losses(logits, y).mean()

    def _user_losses(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(users,) BCE(sex) + age_loss_weight * CE(age_class) of each user."""
        loss = logits.new_zeros(len(logits))
        for j, target in enumerate(self.net_.targets):
            weight = 1.0 if target == "sex" else self.age_loss_weight
            loss = loss + weight * target_losses(target, logits[:, target_columns(self.net_.targets, target)], y[:, j])
        return loss

    @torch.no_grad()
    def _logits(self, X: UserEvents, users: np.ndarray, table: np.ndarray | None = None) -> torch.Tensor:
        """Logits of every selected user, in selection order (on the CPU); `table`:
        each user's author-evidence table (None = the one fitted on all training users); with an offset,
        the network and the offset blended by network_weight_."""
        if not self.n_offset_ or (self.network_weight_ == 1).all():
            return self._network_logits(X, users, table)
        offset = torch.from_numpy(X.offset[X.selected]).float()
        if not self.network_weight_.any():  # training did not beat the offset beyond the noise
            return offset
        weight = torch.from_numpy(self.network_weight_)
        return offset + weight * (self._network_logits(X, users, table) - offset)

    @torch.no_grad()
    def _network_logits(self, X: UserEvents, users: np.ndarray, table: np.ndarray | None = None) -> torch.Tensor:
        """The trained network's logits of every selected user, in selection order (on the CPU)."""
        was_training = self.net_.training
        self.net_.eval()
        n_out = logit_width(self.net_.targets)
        out = torch.zeros((len(X), n_out))
        for positions in inference_order(X.lengths, INFERENCE_BATCH_FACTOR * self.batch_size):
            out[torch.from_numpy(positions)] = self.net_(self._batch(X, positions, users, table)).float().cpu()
        self.net_.train(was_training)
        return out

    # -- prediction ----------------------------------------------------------
    def predict_proba(self, X: UserEvents):
        if self.n_offset_ and (X.offset is None or X.offset.shape[1] != self.n_offset_):
            raise ValueError(f"genapon: fitted with a {self.n_offset_}-column logit offset; X has none of that width")
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

    def __setstate__(self, state):
        """Unpickle onto the device the model asks for where this machine has it (a GPU model loaded on
        the GPU predicts as it did before saving), else onto the CPU."""
        super().__setstate__(state)
        if "net_" in self.__dict__:
            self.__dict__.setdefault("n_title_dims_", 0)  # a fold model saved before title vectors existed
            if "network_weight_" not in self.__dict__:  # saved before the weight: the network or the offset
                width = logit_width(tuple(self.targets))
                offset_only = self.__dict__.get("offset_only_", False)
                self.network_weight_ = np.full(width, 0.0 if offset_only else 1.0, dtype=np.float32)
            device = resolve_device(self.device)
            if device.type == "cuda" and not torch.cuda.is_available():
                device = torch.device("cpu")
            self.net_, self.device_ = self.net_.to(device), device


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")
