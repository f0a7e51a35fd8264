"""Label-dependent encoders, fitted out of fold.

Per author and per video: the female share and the age-class shares among
the training users who watched it (each user counts once per item), smoothed
toward the prior with a pseudo-count. Per user: the event-weighted mean and
standard deviation and the max and min over the items watched.

Training users get cross-fitted values (inner K folds: a user's own label
never enters the shares it is described by); predict sets get values fitted
on all of `train`. Everything is sparse-matrix algebra, no per-user loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.model_selection import KFold, StratifiedKFold

ITEMS = {"author_id": "author", "rutube_video_id": "video"}
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


def smoothed_shares(class_counts: np.ndarray, viewers: np.ndarray, prior: np.ndarray, pseudo: float) -> np.ndarray:
    """(items x classes) shares; an item nobody (else) watched gets exactly the prior."""
    return (class_counts + pseudo * prior) / (viewers[:, None] + pseudo)


def held_out_shares(
    watched: sp.csr_matrix,
    labels: np.ndarray,
    held: np.ndarray,
    total_counts: np.ndarray,
    total_viewers: np.ndarray,
    pseudo: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(shares, prior) of the users not `held`, from the totals over all users
    (watched: users x items, 0/1; total_counts = watched.T @ labels)."""
    held_watched = watched[held]
    prior = labels[~held].mean(axis=0)
    shares = smoothed_shares(
        total_counts - np.asarray(held_watched.T @ labels[held]),
        total_viewers - np.asarray(held_watched.sum(axis=0)).ravel(),
        prior,
        pseudo,
    )
    return shares, prior


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
    return [f"te_{ITEMS[item]}_{c}_{stat}" for stat in STATS for c in classes]


def encode_out_of_fold(
    ws, train: pd.DataFrame, predict_uids: list[np.ndarray], seed: int
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """(cross-fitted features of the training users, features of each predict set fitted on all of train)."""
    cfg, inter = ws.exp.features, ws.interactions
    labels, classes = label_matrix(train, ws.exp.targets)
    train_uids = train["viewer_uid"].to_numpy()
    fold = inner_folds(train, cfg.te_inner_folds, seed)
    pseudo = float(cfg.te_pseudo_count)
    train_parts, predict_parts = [], [[] for _ in predict_uids]
    for item in ITEMS:
        matrix, _ = inter.matrix(item)
        counts = matrix[inter.rows(train_uids)]
        watched = counts.copy()
        watched.data[:] = 1.0  # a user counts once per item
        total_counts = np.asarray(watched.T @ labels)
        total_viewers = np.asarray(watched.sum(axis=0)).ravel()
        features = np.empty((len(train_uids), len(STATS) * len(classes)))
        for k in range(cfg.te_inner_folds):
            held = fold == k
            shares, prior = held_out_shares(watched, labels, held, total_counts, total_viewers, pseudo)
            features[held] = user_stats(counts[held], shares, prior)
        train_parts.append(features)
        prior = labels.mean(axis=0)
        shares = smoothed_shares(total_counts, total_viewers, prior, pseudo)
        for part, uids in zip(predict_parts, predict_uids):
            part.append(user_stats(matrix[inter.rows(uids)], shares, prior))
    columns = [name for item in ITEMS for name in _column_names(item, classes)]

    def frame(blocks, uids):
        values = np.hstack(blocks).astype(np.float32) if blocks else np.empty((len(uids), 0), np.float32)
        return pd.DataFrame(values, index=pd.Index(np.asarray(uids), name="viewer_uid"), columns=columns)

    return frame(train_parts, train_uids), [frame(part, uids) for part, uids in zip(predict_parts, predict_uids)]
