"""A sparse linear model: TF-IDF of a user's authors, videos and categories
→ logistic regression (binary for sex, multinomial for age), C chosen by an
inner CV on the training rows only.

The TF-IDF is label-free (idf over every labelled and test user), so it may
be fitted once on all users without leaking a target.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import normalize


def tfidf_blocks(count_matrices, sublinear_tf: bool = True, min_users: int = 1) -> sp.csr_matrix:
    """Each users x items count block → TF-IDF rows of unit L2 norm, side by
    side, so every block (authors, videos, categories) weighs the same. Items
    seen by fewer than `min_users` users (rows) are dropped first."""
    blocks = []
    for counts in count_matrices:
        counts = sp.csr_matrix(counts)
        counts = counts[:, np.flatnonzero(np.bincount(counts.indices, minlength=counts.shape[1]) >= min_users)]
        if counts.shape[1] == 0:  # no item kept (e.g. every video missing from the catalogue)
            continue
        tfidf = TfidfTransformer(sublinear_tf=sublinear_tf, norm=None).fit_transform(counts)
        blocks.append(normalize(tfidf, norm="l2"))
    if not blocks:  # one zero column: the model learns the prior
        return sp.csr_matrix((sp.csr_matrix(count_matrices[0]).shape[0], 1), dtype=np.float64)
    return sp.hstack(blocks, format="csr", dtype=np.float64)


def _proba_over(classes: np.ndarray, model, X) -> np.ndarray:
    """predict_proba over all `classes`: one absent from an inner training part gets 0."""
    proba = np.zeros((X.shape[0], len(classes)))
    proba[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(X)
    return proba


class InnerCVLogistic(ClassifierMixin, BaseEstimator):
    """L2 logistic regression whose C is the inner-CV log-loss best of `cs`,
    refitted on all rows it is given. Binary or multinomial by the labels."""

    def __init__(
        self,
        cs=(0.03, 0.1, 0.3, 1.0),
        inner_folds: int = 3,
        max_iter: int = 300,
        solver: str = "sag",
        random_state=None,
    ):
        self.cs = cs
        self.inner_folds = inner_folds
        self.max_iter = max_iter
        self.solver = solver
        self.random_state = random_state

    def _model(self, c: float, warm_start: bool = False) -> LogisticRegression:
        return LogisticRegression(
            C=c, max_iter=self.max_iter, solver=self.solver, random_state=self.random_state, warm_start=warm_start
        )

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        cs = sorted(float(c) for c in self.cs)
        splitter = StratifiedKFold(n_splits=self.inner_folds, shuffle=True, random_state=self.random_state)
        losses = np.zeros(len(cs))
        for train, valid in splitter.split(np.zeros(len(y)), y):
            model = self._model(cs[0], warm_start=True)  # along the C path, each fit starts from the last
            for i, c in enumerate(cs):
                proba = _proba_over(self.classes_, model.set_params(C=c).fit(X[train], y[train]), X[valid])
                losses[i] += log_loss(y[valid], proba, labels=self.classes_) * len(valid)
        self.cv_log_loss_ = dict(zip(cs, (losses / len(y)).tolist()))
        self.C_ = cs[int(np.argmin(losses))]
        self.model_ = self._model(self.C_).fit(X, y)
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
