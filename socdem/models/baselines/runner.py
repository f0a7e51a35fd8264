"""The baselines in a fold: one estimator per target on the users x authors counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from socdem.config import section_params
from socdem.models.baselines.estimators import AuthorShare, TopClass
from socdem.models.runner import PerTargetRunner

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace


class AuthorCountsRunner(PerTargetRunner):
    def matrices(self, ws: Workspace, train, predict_uids, seed):
        counts, _ = ws.interactions.matrix("author_id")
        rows = ws.interactions.rows
        return counts[rows(train["viewer_uid"].to_numpy())], [counts[rows(uids)] for uids in predict_uids]


class TopClassRunner(AuthorCountsRunner):
    def estimator(self, ws: Workspace, seed=None):
        return TopClass()


class AuthorShareRunner(AuthorCountsRunner):
    def estimator(self, ws: Workspace, seed=None):
        return AuthorShare(**section_params(ws.exp.baselines, AuthorShare))
