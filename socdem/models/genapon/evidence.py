"""Author evidence, fitted inside GENAPON's training users: per author row,
log(share / prior) of each target class among the users who watched it
(smoothed toward its category's shares, and a category's toward the prior, as
the target encoders do), so the set branch starts from naive-Bayes evidence
instead of learning every author from scratch.

Cross-fitted: a training user reads the table of the inner fold that left it
out (its own label never describes it); prediction reads the table of all
training users (the last one).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from socdem.features.target_encoding import held_out_shares, item_evidence, parent_rows
from socdem.schema import AGE_CLASSES


def label_columns(y: np.ndarray, targets: tuple[str, ...]) -> np.ndarray:
    """female (0/1) first when sex is a target, then the age-class one-hots."""
    columns = []
    for j, target in enumerate(targets):
        columns.append(y[:, j : j + 1].astype(np.float64) if target == "sex" else np.eye(len(AGE_CLASSES))[y[:, j]])
    return np.hstack(columns)


def evidence_tables(
    owner: np.ndarray,
    rows: np.ndarray,
    n_rows: int,
    y: np.ndarray,
    targets: tuple[str, ...],
    n_folds: int,
    pseudo: float,
    rng: np.random.Generator,
    categories: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(tables (n_folds + 1, n_rows, n_columns) float32, fold of each user).

    `owner` (n_events,) is each event's user position in 0..len(y)-1 and `rows`
    its author row (0 = UNK, which keeps zero evidence). `categories` (n_events,),
    each event's category code + 1 (0 = none), shrinks an author toward the
    category most of its events have, not toward the prior."""
    n_users = len(y)
    labels = label_columns(y, targets)
    watched = _watched(owner, rows, (n_users, n_rows))
    fold = rng.permutation(n_users) % n_folds
    total_counts, total_viewers = np.asarray(watched.T @ labels), np.asarray(watched.sum(axis=0)).ravel()
    parent = None
    if categories is not None and categories.any():
        n_categories = int(categories.max()) + 1
        in_category = _watched(owner, categories, (n_users, n_categories))
        category_totals = np.asarray(in_category.T @ labels), np.asarray(in_category.sum(axis=0)).ravel()
        known = categories > 0  # an event without a category: the author's other events decide
        pairs = sp.csr_matrix(
            (np.ones(int(known.sum())), (rows[known], categories[known] - 1)), shape=(n_rows, n_categories - 1)
        )
        parent = np.where(pairs.getnnz(axis=1) > 0, np.asarray(pairs.argmax(axis=1)).ravel(), -1)
    binary_first = "sex" in targets
    tables = np.zeros((n_folds + 1, n_rows, labels.shape[1]), dtype=np.float32)
    for k in range(n_folds + 1):  # k = n_folds: nobody held out
        held = fold == k
        toward = None
        if parent is not None:
            category_shares, prior = held_out_shares(in_category, labels, held, *category_totals, pseudo)
            toward = parent_rows(category_shares[1:], parent, prior)
        shares, prior = held_out_shares(watched, labels, held, total_counts, total_viewers, pseudo, toward)
        tables[k] = item_evidence(shares, prior, binary_first)
    tables[:, 0] = 0.0
    return tables, fold


def _watched(owner: np.ndarray, items: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """users x items, 1 where the user has an event of the item (a user counts once per item)."""
    watched = sp.csr_matrix((np.ones(len(owner)), (owner, items)), shape=shape)
    watched.data[:] = 1.0
    return watched
