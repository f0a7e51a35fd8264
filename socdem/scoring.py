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
    has_sex, has_age = "female_proba" in pred, AGE_COLUMNS[0] in pred
    y, p = (truth["female"].to_numpy(), pred["female_proba"].to_numpy()) if has_sex else (None, None)
    age = (truth["age_class"].to_numpy(), np.argmax(pred[AGE_COLUMNS].to_numpy(), axis=1)) if has_age else (None, None)
    scores = contest_scores(y, p, *age)
    if has_sex:
        threshold, f1 = best_f1_threshold(y, p)
        scores.update(f1=f1, f1_threshold=threshold)
    return scores


def primary_metric(exp) -> str:
    """What ranks models and submissions for this contest."""
    return "roc_auc" if exp.contest == "jmlc" else "rutube2024"
