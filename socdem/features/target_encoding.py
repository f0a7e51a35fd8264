"""Label-dependent encoders, fitted out of fold.

Per author and per video: the female share and the age-class shares among
the training users who watched it (each user counts once per item), smoothed
toward the prior with a pseudo-count. Per user: the event-weighted mean and
standard deviation and the max and min over the items watched. With
`te_naive_bayes`, the naive-Bayes blocks of mixture_encoding.py too.

Training users get cross-fitted values (inner K folds: a user's own label
never enters the shares it is described by); predict sets get values fitted
on all of `train`. Everything is sparse-matrix algebra, no per-user loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.model_selection import KFold, StratifiedKFold

from socdem.features.mixture_encoding import mixture_encodings
from socdem.features.shares import smoothed_shares

ITEMS = {"author_id": "author", "rutube_video_id": "video"}
NAMES = ITEMS | {"title_word": "title"}  # title words: each stem's shares among the users whose titles had it
STATS = ("mean", "std", "max", "min", "evidence")


def label_matrix(train: pd.DataFrame, targets) -> tuple[np.ndarray, list[str]]:
    """One column per encoded share: female, then age0..3 when age is a target and present."""
    columns, names = [train["female"].to_numpy(dtype=np.float64)[:, None]], ["female"]
    if "age_class" in train.columns and "age_class" in targets:
        age = train["age_class"].to_numpy(dtype=np.int64)
        columns.append(np.eye(4)[age])
        names += [f"age{k}" for k in range(4)]
    return np.hstack(columns), names


def inner_folds(train: pd.DataFrame, n_folds: int, seed: int) -> np.ndarray:
    strata = train["female"].to_numpy() * 10 + train.get("age_class", pd.Series(0, index=train.index)).to_numpy()
    fold = np.empty(len(train), dtype=np.int64)
    if np.bincount(pd.factorize(strata)[0]).min() >= n_folds:
        splits = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(strata, strata)
    else:  # a class too rare to stratify (tiny data)
        splits = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(strata)
    for k, (_, part) in enumerate(splits):
        fold[part] = k
    return fold


def held_out_shares(
    watched: sp.csr_matrix,
    labels: np.ndarray,
    held: np.ndarray,
    total_counts: np.ndarray,
    total_viewers: np.ndarray,
    pseudo: float,
    toward=None,
) -> tuple[np.ndarray, np.ndarray]:
    """(shares, prior) of the users not `held`, from the totals over all users
    (watched: users x items, 0/1; total_counts = watched.T @ labels), each item shrunk toward
    `toward` (items x classes) where given, else toward the prior."""
    held_watched = watched[held]
    prior = labels[~held].mean(axis=0)
    shares = smoothed_shares(
        total_counts - np.asarray(held_watched.T @ labels[held]),
        total_viewers - np.asarray(held_watched.sum(axis=0)).ravel(),
        prior if toward is None else toward,
        pseudo,
    )
    return shares, prior


def parent_rows(parent_shares: np.ndarray, parents: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Each item's parent's shares (the prior for an item without a parent)."""
    return np.vstack([parent_shares, prior])[np.where(parents >= 0, parents, len(parent_shares))]


def item_evidence(shares: np.ndarray, prior: np.ndarray, binary_first: bool = True) -> np.ndarray:
    """Per item and class: log(share / prior); for the binary `female` column
    (the first, when binary_first) the log-odds ratio, so a male-leaning item counts against."""
    shares, prior = np.clip(shares, 1e-6, 1 - 1e-6), np.clip(prior, 1e-6, 1 - 1e-6)  # a class absent in tiny data
    evidence = np.log(shares) - np.log(prior)
    if binary_first:
        evidence[:, 0] -= np.log1p(-shares[:, 0]) - np.log1p(-prior[0])
    return evidence


def user_stats(counts: sp.csr_matrix, shares: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """(users x 5*classes): event-weighted mean and std, max and min over the
    watched items, and the naive-Bayes evidence summed over distinct items
    (it grows with the number of informative items, which a mean cannot show)."""
    counts = sp.csr_matrix(counts, dtype=np.float64)
    n_users, n_classes = counts.shape[0], shares.shape[1]
    events = np.asarray(counts.sum(axis=1)).ravel()
    has = events > 0
    mean = np.tile(prior, (n_users, 1))
    std = np.zeros((n_users, n_classes))
    high, low = mean.copy(), mean.copy()
    if has.any():
        mean[has] = np.asarray(counts[has] @ shares) / events[has, None]
        square = np.asarray(counts[has] @ shares**2) / events[has, None]
        std[has] = np.sqrt(np.clip(square - mean[has] ** 2, 0.0, None))
        values = shares[counts.indices]  # (nnz x classes), row-major by user
        starts = counts.indptr[:-1][has]  # empty rows skipped: each segment then ends at the next start
        high[has] = np.maximum.reduceat(values, starts, axis=0)
        low[has] = np.minimum.reduceat(values, starts, axis=0)
    watched = counts.copy()
    watched.data[:] = 1.0
    evidence = np.asarray(watched @ item_evidence(shares, prior))
    return np.hstack([mean, std, high, low, evidence])


def _column_names(item: str, classes: list[str]) -> list[str]:
    return [f"te_{NAMES[item]}_{c}_{stat}" for stat in STATS for c in classes]


def encoded_items(cfg) -> list[str]:
    """The items encoded: authors and videos, and the title words (stems) where switched on."""
    return [*ITEMS, *(["title_word"] if cfg.te_title_words else [])]


class ItemLevels:
    """The watched matrices of the training users at each level, coarse to fine (category, author,
    video), with each level's parent: with hierarchical smoothing a video's shares shrink toward its
    author's and an author's toward its category's, so a rarely watched video starts from what its
    author says, not from the global prior."""

    def __init__(self, inter, train_uids: np.ndarray, labels: np.ndarray, hierarchical: bool, items=tuple(ITEMS)):
        self.levels = [*(["category"] if hierarchical else []), *items]
        self.parent = {"author_id": "category", "rutube_video_id": "author_id"} if hierarchical else {}
        rows = inter.rows(train_uids)
        self.counts, self.watched, self.totals, self.parents = {}, {}, {}, {}
        for level in self.levels:
            counts = inter.matrix(level)[0][rows]
            watched = counts.copy()
            watched.data[:] = 1.0  # a user counts once per item
            self.counts[level], self.watched[level] = counts, watched
            self.totals[level] = (np.asarray(watched.T @ labels), np.asarray(watched.sum(axis=0)).ravel())
            if level in self.parent:
                self.parents[level] = inter.parents(level, self.parent[level])

    def shares(self, labels: np.ndarray, held: np.ndarray, pseudo: float) -> tuple[dict, np.ndarray]:
        """({level: shares} of the users not `held`, their prior), each level shrunk toward its parent's."""
        out, prior = {}, labels[~held].mean(axis=0)
        for level in self.levels:
            toward = None
            if level in self.parent:
                toward = parent_rows(out[self.parent[level]], self.parents[level], prior)
            out[level], prior = held_out_shares(self.watched[level], labels, held, *self.totals[level], pseudo, toward)
        return out, prior


def encode_out_of_fold(
    ws, train: pd.DataFrame, predict_uids: list[np.ndarray], seed: int
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """(cross-fitted features of the training users, features of each predict set fitted on all of train)."""
    cfg, inter = ws.exp.features, ws.interactions
    labels, classes = label_matrix(train, ws.exp.targets)
    train_uids = train["viewer_uid"].to_numpy()
    fold = inner_folds(train, cfg.te_inner_folds, seed)
    pseudo = float(cfg.te_pseudo_count)
    items = encoded_items(cfg)
    levels = ItemLevels(inter, train_uids, labels, cfg.te_hierarchical, items)
    train_parts = {item: np.empty((len(train_uids), len(STATS) * len(classes))) for item in items}
    for k in range(cfg.te_inner_folds):
        held = fold == k
        shares, prior = levels.shares(labels, held, pseudo)
        for item in items:
            train_parts[item][held] = user_stats(levels.counts[item][held], shares[item], prior)
    shares, prior = levels.shares(labels, np.zeros(len(train_uids), dtype=bool), pseudo)
    predict_parts = [
        [user_stats(inter.matrix(item)[0][inter.rows(uids)], shares[item], prior) for item in items]
        for uids in predict_uids
    ]
    columns = [name for item in items for name in _column_names(item, classes)]
    if cfg.te_naive_bayes:
        train_parts["naive_bayes"], predicted, names = mixture_encodings(
            ws, train_uids, labels, classes, fold, cfg.te_inner_folds, predict_uids, pseudo
        )
        for part, block in zip(predict_parts, predicted):
            part.append(block)
        columns += names
        items = [*items, "naive_bayes"]

    def frame(blocks, uids):
        values = np.hstack(blocks).astype(np.float32) if blocks else np.empty((len(uids), 0), np.float32)
        return pd.DataFrame(values, index=pd.Index(np.asarray(uids), name="viewer_uid"), columns=columns)

    train_frame = frame([train_parts[item] for item in items], train_uids)
    return train_frame, [frame(part, uids) for part, uids in zip(predict_parts, predict_uids)]
