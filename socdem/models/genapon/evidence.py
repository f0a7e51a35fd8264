"""Author evidence, fitted inside GENAPON's training users: per author row,
log(share / prior) of each target class among the users who watched it
(smoothed toward the prior, as the target encoders do), so the set branch
starts from naive-Bayes evidence instead of learning every author from scratch.

Cross-fitted: a training user reads the table of the inner fold that left it
out (its own label never describes it); prediction reads the table of all
training users (the last one).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from socdem.features.target_encoding import held_out_shares, item_evidence
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
) -> tuple[np.ndarray, np.ndarray]:
    """(tables (n_folds + 1, n_rows, n_columns) float32, fold of each user).

    `owner` (n_events,) is each event's user position in 0..len(y)-1 and `rows`
    its author row (0 = UNK, which keeps zero evidence)."""
    n_users = len(y)
    labels = label_columns(y, targets)
    watched = sp.csr_matrix((np.ones(len(owner)), (owner, rows)), shape=(n_users, n_rows))
    watched.data[:] = 1.0  # a user counts once per author
    fold = rng.permutation(n_users) % n_folds
    total_counts, total_viewers = np.asarray(watched.T @ labels), np.asarray(watched.sum(axis=0)).ravel()
    binary_first = "sex" in targets
    tables = np.zeros((n_folds + 1, n_rows, labels.shape[1]), dtype=np.float32)
    for k in range(n_folds + 1):  # k = n_folds: nobody held out
        shares, prior = held_out_shares(watched, labels, fold == k, total_counts, total_viewers, pseudo)
        tables[k] = item_evidence(shares, prior, binary_first)
    tables[:, 0] = 0.0
    return tables, fold
