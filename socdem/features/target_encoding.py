"""The target encoder: per author and per video, each class's share among a fold's training users
who watched it (each user counts once per item), smoothed toward its parent's shares or the prior with a
pseudo-count; per user, the event-weighted mean and standard deviation, the max and min over the items
watched, and their summed naive-Bayes evidence.

An estimator over explicit inputs (out_of_fold.py): fit_transform gives the training users cross-fitted
values (a user's own label never enters the shares it is described by), transform any other users values
fitted on all of them. Sparse-matrix algebra, no per-user loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from socdem.config import TargetEncodingConfig
from socdem.features.out_of_fold import OutOfFoldEncoder, encoded_frame, label_columns
from socdem.features.shares import smoothed_shares

DEFAULTS = TargetEncodingConfig()
ITEMS = {"author_id": "author", "rutube_video_id": "video"}
PARENT = {"author_id": "category", "rutube_video_id": "author_id"}  # an item's shares shrink toward its parent's
NAMES = ITEMS | {"title_word": "title"}  # title words: each stem's shares among the users whose titles had it
STATS = ("mean", "std", "max", "min", "evidence")


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


@dataclass
class UserItems:
    """Some users' rows of the user x item count matrices (label-free), and each item's parent column
    (a video's author, an author's category): the input of TargetEncoder, sliced by row positions."""

    users: np.ndarray  # viewer_uid of each row
    counts: dict  # item -> (users x items) counts, CSR
    parents: dict  # item -> (items,) column of its parent item, -1 for none

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, rows) -> UserItems:
        return UserItems(self.users[rows], {item: m[rows] for item, m in self.counts.items()}, self.parents)


def user_items(interactions, uids, levels, parents: dict) -> UserItems:
    """UserItems of `uids` at `levels` from the run's interactions; `parents`: {item: parent item}."""
    rows = interactions.rows(uids)
    return UserItems(
        np.asarray(uids),
        {level: interactions.matrix(level)[0][rows] for level in levels},
        {item: interactions.parents(item, parent) for item, parent in parents.items()},
    )


def _watched(counts: sp.csr_matrix) -> sp.csr_matrix:
    watched = counts.copy()
    watched.data[:] = 1.0  # a user counts once per item
    return watched


class TargetEncoder(OutOfFoldEncoder):
    """Per author and video (and title word with `title_words`): each class's share among the training users
    who watched it, smoothed toward its parent's (`hierarchical`: a video toward its author, an author toward
    its category, so a rarely watched video starts from what its author says) or the prior; per user the
    share statistics of STATS over the items watched."""

    def __init__(
        self,
        pseudo_count=DEFAULTS.pseudo_count,
        inner_folds=DEFAULTS.inner_folds,
        hierarchical=DEFAULTS.hierarchical,
        title_words=DEFAULTS.title_words,
        random_state=None,
    ):
        self.pseudo_count = pseudo_count
        self.inner_folds = inner_folds
        self.hierarchical = hierarchical
        self.title_words = title_words
        self.random_state = random_state

    def items(self) -> list[str]:
        """The items encoded: authors and videos, and the title words (stems) where switched on."""
        return [*ITEMS, *(["title_word"] if self.title_words else [])]

    def levels(self) -> list[str]:
        """Every item whose shares are fitted, coarse to fine: the categories too when hierarchical."""
        return [*(["category"] if self.hierarchical else []), *self.items()]

    def parents(self) -> dict:
        return dict(PARENT) if self.hierarchical else {}

    def fit(self, X: UserItems, y) -> TargetEncoder:
        labels, self.classes_ = label_columns(y)
        self.prior_ = labels.mean(axis=0)
        self.shares_ = {}
        parents = self.parents()
        for level in self.levels():
            watched = _watched(X.counts[level])
            toward = self.prior_
            if level in parents:
                toward = parent_rows(self.shares_[parents[level]], X.parents[level], self.prior_)
            viewers = np.asarray(watched.sum(axis=0)).ravel()
            self.shares_[level] = smoothed_shares(np.asarray(watched.T @ labels), viewers, toward, self.pseudo_count)
        return self

    def transform(self, X: UserItems) -> pd.DataFrame:
        items = self.items()
        blocks = [user_stats(X.counts[item], self.shares_[item], self.prior_) for item in items]
        columns = [name for item in items for name in _column_names(item, self.classes_)]
        return encoded_frame(np.hstack(blocks), X.users, columns)
