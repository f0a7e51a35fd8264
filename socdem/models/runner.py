"""A runner adapts a model to the workspace: it builds a fold's matrices, fits
the model on the fold's training users and returns one prediction frame per
set of users to predict. `PerTargetRunner` is the shared per-target loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from socdem.models.per_target import PerTargetClassifier
from socdem.schema import frame_from_probas, target_column

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace


class PerTargetRunner:
    """Subclasses say which estimator (`estimator`) on which matrices (`matrices`)."""

    def estimator(self, ws: Workspace, seed=None):
        raise NotImplementedError

    def matrices(self, ws: Workspace, train, predict_uids: list, seed: int) -> tuple:
        """(X of the training users in `train` order, [X of each set of `predict_uids`])."""
        raise NotImplementedError

    def target_params(self, ws: Workspace) -> dict:
        """Parameters of one target's estimator that differ from `estimator`'s (none by default)."""
        return {}

    def params(self, ws: Workspace) -> dict:
        """What, besides the data and folds, decides the output: part of the cache key."""
        return self.estimator(ws).get_params()

    def describe(self, target: str, estimator) -> str | None:
        """A log line about a fitted target, or None."""
        return None

    def fit_predict(self, ws: Workspace, train, predict_uids: list, seed: int):
        X_train, X_preds = self.matrices(ws, train, predict_uids, seed)
        targets = tuple(ws.exp.targets)
        Y = np.column_stack([train[target_column(t)].to_numpy() for t in targets])
        model = PerTargetClassifier(self.estimator(ws, seed), targets, self.target_params(ws)).fit(X_train, Y)
        for target, estimator in model.estimators_.items():
            if line := self.describe(target, estimator):
                ws.log(line)
        frames = [
            frame_from_probas(uids, dict(zip(targets, model.predict_proba(X))))
            for uids, X in zip(predict_uids, X_preds)
        ]
        return frames, model
