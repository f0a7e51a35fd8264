"""One estimator per target, in the spirit of scikit-learn's MultiOutputClassifier.

Every runner fits its targets through this one loop. Probabilities always
cover each target's full class set (schema.TARGET_CLASSES): a class absent
from the training rows of a fold gets probability 0, and a target with a
single class present is predicted as that class (a constant).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone

from socdem.models.baselines.estimators import TopClass
from socdem.schema import TARGET_CLASSES


class PerTargetClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Y has one column per target; `target_params` sets parameters of one target's clone
    (e.g. tuned CatBoost parameters per target)."""

    def __init__(self, estimator, targets=("sex", "age_class"), target_params=None):
        self.estimator = estimator
        self.targets = targets
        self.target_params = target_params

    def fit(self, X, Y):
        Y = np.asarray(Y).reshape(X.shape[0], -1)
        if Y.shape[1] != len(self.targets):
            raise ValueError(f"PerTargetClassifier: Y has {Y.shape[1]} column(s) for targets {tuple(self.targets)}")
        self.estimators_ = {}
        for j, target in enumerate(self.targets):
            y = Y[:, j]
            if len(np.unique(y)) < 2:  # a single class in this fold: nothing to learn but the constant
                estimator = TopClass()
            else:
                estimator = clone(self.estimator).set_params(**(self.target_params or {}).get(target, {}))
            self.estimators_[target] = estimator.fit(X, y)
        self.classes_ = [np.asarray(TARGET_CLASSES[t]) for t in self.targets]
        return self

    def predict_proba(self, X) -> list[np.ndarray]:
        """One (n, len(TARGET_CLASSES[target])) array per target, in `targets` order."""
        out = []
        for target, classes in zip(self.targets, self.classes_):
            estimator = self.estimators_[target]
            proba = np.asarray(estimator.predict_proba(X), dtype=np.float64).reshape(X.shape[0], -1)
            full = np.zeros((X.shape[0], len(classes)))
            full[:, np.searchsorted(classes, np.asarray(estimator.classes_))] = proba
            out.append(full)
        return out

    def predict(self, X) -> np.ndarray:
        return np.column_stack([c[np.argmax(p, axis=1)] for c, p in zip(self.classes_, self.predict_proba(X))])
