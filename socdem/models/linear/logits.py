"""The linear model's cross-fitted logits, an input of CatBoost and GENAPON (`[features] linear_logits`).

Per fold: the training users' out-of-fold logits (InnerCVLogistic.oof_proba_: each from models that never
saw the user) and each predict set's from the model fitted on all of them. Computed once a fold: the linear
runner writes them beside the encodings as it trains, and the other models read them back (or train the
linear model's fold themselves where it has not run). Columns: the sex log-odds, the age log-probabilities.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from socdem.features.build import features_dir
from socdem.features.encoding_cache import fold_users
from socdem.io import hash_object, write_parquet_atomic
from socdem.schema import AGE_COLUMNS, TARGET_CLASSES, prediction_frame

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

LOGITS_CODE_VERSION = 1  # bump it when the logits' definition changes
MIN_PROBA = 1e-6
SEX_COLUMN = "linear_sex_logit"
AGE_LOGIT_COLUMNS = [f"linear_age{k}_logp" for k in TARGET_CLASSES["age_class"]]


def logit_frame(predictions: pd.DataFrame) -> pd.DataFrame:
    """A prediction frame (female_proba, age_p0..3) as the logits other models read, float32."""
    out = pd.DataFrame(index=predictions.index)
    if "female_proba" in predictions.columns:
        p = np.clip(predictions["female_proba"].to_numpy(np.float64), MIN_PROBA, 1 - MIN_PROBA)
        out[SEX_COLUMN] = np.log(p) - np.log1p(-p)
    if set(AGE_COLUMNS) <= set(predictions.columns):
        log_p = np.log(np.clip(predictions[AGE_COLUMNS].to_numpy(np.float64), MIN_PROBA, None))
        out[AGE_LOGIT_COLUMNS] = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return out.astype(np.float32)


def out_of_fold_predictions(model, train_uids: np.ndarray, targets) -> pd.DataFrame:
    """The training users' out-of-fold prediction frame of a fitted per-target linear model (a target with
    one class in the fold is the constant its estimator predicts)."""
    probas = {}
    for target in targets:
        estimator = model.estimators_[target]
        classes = np.asarray(TARGET_CLASSES[target])
        if hasattr(estimator, "oof_proba_"):
            fitted = estimator.oof_proba_
        else:
            fitted = estimator.predict_proba(np.zeros((len(train_uids), 1)))
        full = np.zeros((len(train_uids), len(classes)))
        full[:, np.searchsorted(classes, np.asarray(estimator.classes_))] = fitted
        probas[target] = full
    female = probas["sex"][:, 1] if "sex" in probas else None
    return prediction_frame(train_uids, female, probas.get("age_class"))


def logits_key(ws: Workspace, linear_params: dict, train: pd.DataFrame, predict_uids: list, seed: int) -> str:
    return hash_object(
        {
            "data": ws.data_fp,
            "linear": linear_params,
            "targets": ws.exp.targets,
            "threads": ws.exp.threads,
            **fold_users(train, predict_uids),
            "seed": seed,
            "code": LOGITS_CODE_VERSION,
        }
    )


def logits_path(ws: Workspace, key: str) -> Path:
    return features_dir(ws) / "encodings" / f"linear-{key}.parquet"


def write_logits(path: Path, train_frame: pd.DataFrame, predict_frames: list[pd.DataFrame]) -> None:
    write_parquet_atomic(path, pd.concat([logit_frame(train_frame), *(logit_frame(f) for f in predict_frames)]))
