"""CatBoost in a fold: label-free features + out-of-fold encodings, one model per target.

The parameters are the config's defaults overridden by the best ones a
tuning study found for the same data and features (tuned.py), so
`make train` picks up `make tune` and the cache key changes with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from socdem.config import section_params
from socdem.features.build import FEATURE_CODE_VERSION
from socdem.features.communities import community_columns
from socdem.features.encoding_cache import ENCODING_CODE_VERSION, cached_encodings, encoding_config
from socdem.models.catboost.estimator import CatBoostModel
from socdem.models.catboost.tuned import best_params
from socdem.models.linear.logits import AGE_LOGIT_COLUMNS, SEX_COLUMN
from socdem.models.linear.runner import cached_linear_logits, linear_logits_params
from socdem.models.runner import PerTargetRunner

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace


def default_params(exp) -> dict:
    """CatBoostModel parameters from the experiment's [catboost] section."""
    params = section_params(exp.catboost, CatBoostModel)
    params["bootstrap_type"] = params["bootstrap_type"] or None
    return params


def baseline_params(ws: Workspace, target: str) -> dict:
    """With the linear logits among the columns, the boosting of `target` may start from the linear model's
    scores (CatBoostModel.baseline, on folds of fewer than `[catboost] baseline_rows` training users)."""
    if not ws.exp.features.linear_logits:
        return {}
    return {"baseline": (SEX_COLUMN,) if target == "sex" else tuple(AGE_LOGIT_COLUMNS)}


def catboost_params(ws: Workspace, target: str) -> dict:
    """The parameters `make train` uses for `target`: defaults, then tuned values, then its baseline."""
    return {**default_params(ws.exp), **best_params(ws, target), **baseline_params(ws, target)}


def fold_matrices(
    ws: Workspace, train: pd.DataFrame, predict_uids: list, seed: int
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Feature matrices of the training users and of each predict set.

    Rows follow `train` and each of `predict_uids`; the label-dependent
    columns are fitted on `train` only (cross-fitted for the training rows) and
    cached per fold, so a change of CatBoost's parameters does not encode again.
    """
    base = ws.features
    if ws.exp.features.target_encoding and ws.exp.features.naive_bayes:
        base = base.drop(columns=community_columns(base))  # their class mixture is among the encodings
    train_uids = train["viewer_uid"].to_numpy()
    X_train, X_preds = base.loc[train_uids], [base.loc[np.asarray(uids)] for uids in predict_uids]
    if ws.exp.features.target_encoding:
        te_train, te_preds = cached_encodings(ws, train, list(predict_uids), seed)
        X_train = pd.concat([X_train, te_train.loc[train_uids]], axis=1)
        X_preds = [pd.concat([X, te.loc[X.index]], axis=1) for X, te in zip(X_preds, te_preds)]
    if ws.exp.features.linear_logits:  # the item-level evidence of the linear model, cross-fitted
        logits_train, logits_preds = cached_linear_logits(ws, train, list(predict_uids), seed)
        X_train = pd.concat([X_train, logits_train.loc[train_uids]], axis=1)
        X_preds = [pd.concat([X, logits.loc[X.index]], axis=1) for X, logits in zip(X_preds, logits_preds)]
    return X_train, X_preds


class CatBoostRunner(PerTargetRunner):
    def estimator(self, ws: Workspace, seed=None) -> CatBoostModel:
        return CatBoostModel(**default_params(ws.exp), random_state=seed or 0, thread_count=ws.exp.threads)

    def target_params(self, ws: Workspace) -> dict:
        return {target: {**best_params(ws, target), **baseline_params(ws, target)} for target in ws.exp.targets}

    def params(self, ws: Workspace) -> dict:
        return {
            "catboost": {target: catboost_params(ws, target) for target in ws.exp.targets},
            **encoding_config(ws.exp),
            "feature_code": FEATURE_CODE_VERSION,
            "encoding_code": ENCODING_CODE_VERSION,
            **linear_logits_params(ws),
        }

    def matrices(self, ws: Workspace, train, predict_uids, seed):
        return fold_matrices(ws, train, predict_uids, seed)

    def describe(self, target, estimator):
        if hasattr(estimator, "best_iteration_"):
            return f"catboost {target}: {estimator.best_iteration_ + 1} trees (early stopping on an inner split)"
        return None
