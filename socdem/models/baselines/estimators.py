"""Baselines in the scikit-learn estimator contract.

TopClass predicts the training prior. AuthorShare (the organisers' baseline)
takes X = users x authors event counts: each author's class shares among the
training users who watched it, smoothed toward the prior, averaged over the
user's events.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin

from socdem.config import BaselineConfig

DEFAULTS = BaselineConfig()


class TopClass(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_, counts = np.unique(np.asarray(y), return_counts=True)
        self.prior_ = counts / counts.sum()
        return self

    def predict_proba(self, X):
        return np.tile(self.prior_, (X.shape[0], 1))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class AuthorShare(ClassifierMixin, BaseEstimator):
    def __init__(self, pseudo_count: float = DEFAULTS.pseudo_count):
        self.pseudo_count = pseudo_count

    def fit(self, X, y):
        X = sp.csr_matrix(X)
        y = np.asarray(y)
        self.classes_, y_codes = np.unique(y, return_inverse=True)
        onehot = np.eye(len(self.classes_))[y_codes]
        self.prior_ = onehot.mean(axis=0)
        watched = (X > 0).astype(np.float64)  # each user counts once per author
        class_counts = np.asarray(watched.T @ onehot)
        n_users = class_counts.sum(axis=1, keepdims=True)
        self.shares_ = (class_counts + self.pseudo_count * self.prior_) / (n_users + self.pseudo_count)
        return self

    def predict_proba(self, X):
        X = sp.csr_matrix(X, dtype=np.float64)
        events = np.asarray(X.sum(axis=1)).ravel()
        proba = np.asarray(X @ self.shares_)
        has_events = events > 0
        proba[has_events] /= events[has_events, None]
        proba[~has_events] = self.prior_
        return proba

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
