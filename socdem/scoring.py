"""Scores of prediction frames against the known labels (out of fold)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from socdem.metrics import best_f1_threshold, contest_scores
from socdem.models.predictions import AGE_COLUMNS


def frame_scores(pred: pd.DataFrame, targets: pd.DataFrame) -> dict:
    """CV scores of a prediction frame: `f1` at the F1-best threshold (as the
    submission picks it), `accuracy` at 0.5, ROC-AUC, age weighted F1 (argmax)."""
    truth = targets.set_index("viewer_uid").loc[pred.index]
    scores: dict = {}
    if "female_proba" in pred:
        y, p = truth["female"].to_numpy(), pred["female_proba"].to_numpy()
        scores.update(contest_scores(y, p))
        threshold, f1 = best_f1_threshold(y, p)
        scores.update(f1=f1, f1_threshold=threshold)
    if AGE_COLUMNS[0] in pred:
        age_pred = np.argmax(pred[AGE_COLUMNS].to_numpy(), axis=1)
        scores.update(contest_scores(None, None, truth["age_class"].to_numpy(), age_pred))
        if "accuracy" in scores:
            scores["rutube2024"] = 0.7 * scores["age_f1_weighted"] + 0.3 * scores["accuracy"]
    return scores


def primary_metric(exp) -> str:
    """What ranks models and submissions for this contest."""
    return "roc_auc" if exp.contest == "jmlc" else "rutube2024"
