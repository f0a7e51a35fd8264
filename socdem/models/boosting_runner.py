"""Run CatBoost in a fold: label-free features + out-of-fold encodings, one model per target.

The parameters are the config's defaults overridden by the best ones a
tuning study found for the same data and features (socdem/tuning.py), so
`make train` picks up `make tune` and the cache key changes with them.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from socdem.models.boosting import CatBoostModel
from socdem.models.predictions import prediction_frame, target_column
from socdem.workspace import FEATURE_CODE_VERSION


def default_params(exp) -> dict:
    """CatBoostModel parameters from the experiment's [catboost] section."""
    params = dataclasses.asdict(exp.catboost)
    params["bootstrap_type"] = params["bootstrap_type"] or None
    return params


def catboost_params(ws, target: str) -> dict:
    """The parameters `make train` uses for `target`: defaults, then tuned values."""
    from socdem.tuning import best_params

    return {**default_params(ws.exp), **best_params(ws, target)}


def fold_matrices(ws, train: pd.DataFrame, predict_uids: list, seed: int) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Feature matrices of the training users and of each predict set.

    Rows follow `train` and each of `predict_uids`; the label-dependent
    columns are fitted on `train` only (cross-fitted for the training rows).
    """
    base = ws.features
    train_uids = train["viewer_uid"].to_numpy()
    X_train, X_preds = base.loc[train_uids], [base.loc[np.asarray(uids)] for uids in predict_uids]
    if ws.exp.features.target_encoding:
        from socdem.features.target_encoding import encode_out_of_fold

        te_train, te_preds = encode_out_of_fold(ws, train, list(predict_uids), seed)
        X_train = pd.concat([X_train, te_train.loc[train_uids]], axis=1)
        X_preds = [pd.concat([X, te.loc[X.index]], axis=1) for X, te in zip(X_preds, te_preds)]
    return X_train, X_preds


class CatBoostRunner:
    def params(self, ws) -> dict:
        return {
            "catboost": {target: catboost_params(ws, target) for target in ws.exp.targets},
            "features": dataclasses.asdict(ws.exp.features), "feature_code": FEATURE_CODE_VERSION,
        }

    def fit_predict(self, ws, train, predict_uids, seed):
        X_train, X_preds = fold_matrices(ws, train, predict_uids, seed)
        fitted, outputs = {}, [dict() for _ in predict_uids]
        for target in ws.exp.targets:
            params = {**catboost_params(ws, target), "random_state": seed, "thread_count": ws.exp.threads}
            model = CatBoostModel(**params).fit(X_train, train[target_column(target)].to_numpy())
            fitted[target] = model
            ws.log(f"catboost {target}: {model.best_iteration_ + 1} trees (early stopping on an inner split)")
            for out, X in zip(outputs, X_preds):
                proba = model.predict_proba(X)
                if target == "sex":
                    out["female_proba"] = proba[:, list(model.classes_).index(1)]
                else:
                    out["age_proba"] = _age_columns(proba, model.classes_)
        frames = [prediction_frame(uids, out.get("female_proba"), out.get("age_proba")) for out, uids in zip(outputs, predict_uids)]
        return frames, fitted


def _age_columns(proba: np.ndarray, classes) -> np.ndarray:
    """Probabilities of age classes 0..3 (a class absent from a training fold gets 0)."""
    full = np.zeros((len(proba), 4))
    full[:, np.asarray(classes, dtype=np.int64)] = proba
    return full
