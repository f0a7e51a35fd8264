"""What every out-of-fold encoder shares: the label columns it encodes, the inner folds of the
training users, and the cross-fitting that keeps a user's own label out of the values it is given.

An encoder is a scikit-learn estimator over explicit inputs: `fit(X, y)` learns from the training users
(X: their label-free inputs, y: one column per target, female first, then age_class),
`transform(X)` encodes any users, and `fit_transform(X, y)` returns the training users' rows cross-fitted
on the encoder's inner folds (as scikit-learn's TargetEncoder does), then leaves the encoder fitted on
every training user for the predict sets.
"""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold, StratifiedKFold

from socdem.schema import AGE_CLASSES


def target_labels(train: pd.DataFrame, targets) -> np.ndarray:
    """(users x targets) int64: `female`, then `age_class` when it is a target (the encoders' `y`)."""
    columns = ["female", *(["age_class"] if "age_class" in targets and "age_class" in train.columns else [])]
    return train[columns].to_numpy(dtype=np.int64)


def label_columns(y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(users x encoded shares) float64 and their names: female, then age0..3 when y holds the age class."""
    y = np.asarray(y).reshape(len(y), -1)
    columns, names = [y[:, :1].astype(np.float64)], ["female"]
    if y.shape[1] > 1:
        columns.append(np.eye(len(AGE_CLASSES))[y[:, 1]])
        names += [f"age{k}" for k in AGE_CLASSES]
    return np.hstack(columns), names


def inner_folds(y: np.ndarray, n_folds: int, seed) -> np.ndarray:
    """Each training user's inner fold, stratified by sex x age class (plain K-fold where a class is too rare)."""
    y = np.asarray(y).reshape(len(y), -1)
    strata = y[:, 0] * 10 + (y[:, 1] if y.shape[1] > 1 else 0)
    fold = np.empty(len(y), dtype=np.int64)
    if np.bincount(pd.factorize(strata)[0]).min() >= n_folds:
        splits = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(strata, strata)
    else:  # a class too rare to stratify (tiny data)
        splits = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(strata)
    for k, (_, part) in enumerate(splits):
        fold[part] = k
    return fold


def cross_fit(estimator, X, y: np.ndarray, fold: np.ndarray, pool: Executor | None = None):
    """transform's rows for every user of X, each from a clone of `estimator` fitted on the other folds' users
    (the folds' fits in `pool`'s threads where one is given: each is independent of the others).

    X and y are indexed by row positions; the rows come back in X's order (a frame, or an array whose first
    axis is the users)."""
    folds = np.unique(fold)
    held_parts = [np.flatnonzero(fold == k) for k in folds]

    def part(k, held: np.ndarray):
        rest = np.flatnonzero(fold != k)
        return clone(estimator).fit(X[rest], y[rest]).transform(X[held])

    parts = list((pool.map if pool is not None else map)(part, folds, held_parts))
    order = np.argsort(np.concatenate(held_parts), kind="stable")
    if isinstance(parts[0], pd.DataFrame):
        return pd.concat(parts).iloc[order]
    return np.concatenate(parts)[order]


class OutOfFoldEncoder(BaseEstimator):
    """fit_transform cross-fits the training rows on `inner_folds` folds seeded by `random_state`."""

    def fit_transform(self, X, y):
        y = np.asarray(y).reshape(len(y), -1)
        rows = cross_fit(self, X, y, inner_folds(y, self.inner_folds, self.random_state))
        self.fit(X, y)
        return rows


def encoded_frame(values: np.ndarray, users: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """The encodings of some users as the float32 frame CatBoost reads, indexed by viewer_uid."""
    values = values.astype(np.float32) if values.size else np.empty((len(users), 0), np.float32)
    return pd.DataFrame(values, index=pd.Index(np.asarray(users), name="viewer_uid"), columns=columns)
