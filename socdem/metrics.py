"""The local scorer: the contest metrics, computed the way the organisers do.

`female` is the positive class for F1 and ROC-AUC; the Rutube-2024 score is
0.7 * weighted F1 of `age_class` + 0.3 * accuracy of `sex`. Pure functions of
arrays and prediction frames: the pipeline (fold scores, blend choices,
thresholds), the synthetic oracle and the scorer all use them, so they sit at
the bottom of the package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from socdem.schema import AGE_CLASSES, AGE_COLUMNS


def rutube2024_score(age_f1_weighted, accuracy):
    """The Rutube-2024 contest score: 0.7 * weighted F1 of `age_class` + 0.3 * accuracy of `sex`
    (numbers, or arrays of them: one per fold or bootstrap draw)."""
    return 0.7 * age_f1_weighted + 0.3 * accuracy


def best_f1_threshold(y_female: np.ndarray, female_proba: np.ndarray) -> tuple[float, float]:
    """The threshold maximising F1 of `female`, and that F1 (vectorised sweep)."""
    y = np.asarray(y_female, dtype=np.int64)
    p = np.asarray(female_proba, dtype=np.float64)
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    tp = np.cumsum(y_sorted)
    predicted = np.arange(1, len(y) + 1)
    # only the last position of each run of equal scores is a reachable cut
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    f1 = np.where(last, 2 * tp / (predicted + y.sum()), -1.0)
    i = int(np.argmax(f1))
    below = p_sorted[i + 1] if i + 1 < len(p_sorted) else p_sorted[i] - 1e-6
    return float((p_sorted[i] + below) / 2), float(f1[i])


def sex_scores(y_female: np.ndarray, female_proba: np.ndarray, threshold: float = 0.5) -> dict:
    y = np.asarray(y_female, dtype=np.int64)
    p = np.asarray(female_proba, dtype=np.float64)
    pred = (p >= threshold).astype(np.int64)
    return {
        "f1": float(f1_score(y, pred, pos_label=1, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan"),
        "accuracy": float(accuracy_score(y, pred)),
    }


def age_scores(y_age: np.ndarray, age_pred: np.ndarray) -> dict:
    return {"age_f1_weighted": float(f1_score(np.asarray(y_age), np.asarray(age_pred), average="weighted"))}


def contest_scores(
    y_female: np.ndarray | None,
    female_proba: np.ndarray | None,
    y_age: np.ndarray | None = None,
    age_pred: np.ndarray | None = None,
    threshold: float = 0.5,
) -> dict:
    """All local scores; keys absent for a target the contest does not have."""
    scores: dict = {}
    if y_female is not None:
        scores.update(sex_scores(y_female, female_proba, threshold))
    if y_age is not None:
        scores.update(age_scores(y_age, age_pred))
    if "accuracy" in scores and "age_f1_weighted" in scores:
        scores["rutube2024"] = rutube2024_score(scores["age_f1_weighted"], scores["accuracy"])
    return scores


def best_accuracy_threshold(y_female: np.ndarray, female_proba: np.ndarray) -> float:
    """The threshold maximising accuracy of sex (vectorised sweep)."""
    y = np.asarray(y_female, dtype=np.int64)
    p = np.asarray(female_proba, dtype=np.float64)
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    # predicting the top i+1 as female: correct = tp + (negatives not predicted)
    tp = np.cumsum(y_sorted)
    fp = np.arange(1, len(y) + 1) - tp
    correct = tp + ((1 - y).sum() - fp)
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    correct = np.where(last, correct, -1)
    i = int(np.argmax(correct))
    if correct[i] <= (1 - y).sum():  # predicting nobody female is at least as good
        return float(p_sorted[0] + 1e-9)
    below = p_sorted[i + 1] if i + 1 < len(p_sorted) else p_sorted[i] - 1e-6
    return float((p_sorted[i] + below) / 2)


def weighted_f1(y: np.ndarray, pred: np.ndarray, n_classes: int = len(AGE_CLASSES)) -> float:
    """sklearn's f1_score(average="weighted"), vectorised through one bincount
    (the blend's bias search calls it thousands of times)."""
    cm = np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    tp, support, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    denom = support + predicted
    f1 = np.divide(2.0 * tp, denom, out=np.zeros(n_classes), where=denom > 0)
    return float((f1 * support).sum() / support.sum())


def log_loss(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """sklearn's log_loss(y, proba, labels=classes), the same number without its input checks (the linear
    model's inner choices call it thousands of times a fold); `proba`'s columns follow `classes`, which hold
    every label of `y` (not checked: scikit-learn's check is the cost saved)."""
    proba = np.asarray(proba, dtype=np.float64)
    eps = np.finfo(proba.dtype).eps
    true = proba[np.arange(len(proba)), np.searchsorted(classes, y)]
    return float(np.mean(-np.log(np.clip(true, eps, 1 - eps))))


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


# ---- the same scores under row weights, vectorised: bootstrap draws or fold indicators ----


def _weighted_auc(weights: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ROC-AUC under each row of weights (Mann-Whitney, ties count one half): sklearn's value for unit weights."""
    order = np.argsort(p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order].astype(np.float64)
    starts = np.r_[0, np.flatnonzero(p_sorted[1:] != p_sorted[:-1]) + 1]  # one group per distinct score
    w = weights[:, order]
    pos = np.add.reduceat(w * y_sorted, starts, axis=1)
    neg = np.add.reduceat(w * (1.0 - y_sorted), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    denom = pos.sum(axis=1) * neg.sum(axis=1)
    return np.divide((pos * (below + 0.5 * neg)).sum(axis=1), denom, out=np.full(len(w), np.nan), where=denom > 0)


def _weighted_f1_from_cells(counts: np.ndarray, n_classes: int) -> np.ndarray:
    cm = counts.reshape(len(counts), n_classes, n_classes)
    tp, support, predicted = np.diagonal(cm, axis1=1, axis2=2), cm.sum(axis=2), cm.sum(axis=1)
    denom = support + predicted
    f1 = np.divide(2.0 * tp, denom, out=np.zeros_like(tp, dtype=np.float64), where=denom > 0)
    total = support.sum(axis=1)
    return np.divide((f1 * support).sum(axis=1), total, out=np.full(len(cm), np.nan), where=total > 0)


def weighted_scores(
    weights: np.ndarray,
    y_female: np.ndarray | None = None,
    female_proba: np.ndarray | None = None,
    y_age: np.ndarray | None = None,
    age_pred: np.ndarray | None = None,
    f1_threshold: float = 0.5,
    accuracy_threshold: float = 0.5,
) -> dict:
    """The contest scores of one prediction under each row of `weights` (rows x users): metric ->
    array of one value per row. Bootstrap counts give a bootstrap distribution, fold indicators
    per-fold scores, a row of ones the plain score. The thresholds are fixed, not re-chosen per row."""
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    total = w.sum(axis=1)
    out = {}
    if y_female is not None:
        y = np.asarray(y_female, dtype=np.int64)
        p = np.asarray(female_proba, dtype=np.float64)
        out["roc_auc"] = _weighted_auc(w, y, p)
        hit = (p >= f1_threshold).astype(np.float64)
        tp, fp, fn = w @ (hit * y), w @ (hit * (1 - y)), w @ ((1 - hit) * y)
        denom = 2 * tp + fp + fn
        out["f1"] = np.divide(2 * tp, denom, out=np.zeros(len(w)), where=denom > 0)
        correct = ((p >= accuracy_threshold).astype(np.int64) == y).astype(np.float64)
        out["accuracy"] = np.divide(w @ correct, total, out=np.full(len(w), np.nan), where=total > 0)
    if y_age is not None:
        n_classes = len(AGE_CLASSES)
        cell = np.asarray(y_age, dtype=np.int64) * n_classes + np.asarray(age_pred, dtype=np.int64)
        one_hot = np.zeros((len(cell), n_classes * n_classes))
        one_hot[np.arange(len(cell)), cell] = 1.0
        out["age_f1_weighted"] = _weighted_f1_from_cells(w @ one_hot, n_classes)
    if "accuracy" in out and "age_f1_weighted" in out:
        out["rutube2024"] = rutube2024_score(out["age_f1_weighted"], out["accuracy"])
    return out


def fold_scores(
    pred: pd.DataFrame, targets: pd.DataFrame, fold: np.ndarray, f1_threshold: float, accuracy_threshold: float = 0.5
) -> dict:
    """Per-fold scores of an out-of-fold prediction frame (rows aligned with `fold`): metric -> list,
    one value per fold, at the given fixed thresholds."""
    fold = np.asarray(fold)
    weights = (np.unique(fold)[:, None] == fold[None, :]).astype(np.float64)
    scores = weighted_scores(weights, *frame_arrays(pred, targets), f1_threshold, accuracy_threshold)
    return {k: v.tolist() for k, v in scores.items()}


def frame_arrays(pred: pd.DataFrame, targets: pd.DataFrame) -> tuple:
    """(y_female, female_proba, y_age, age_pred) of a prediction frame; None for a target it lacks."""
    truth = targets.set_index("viewer_uid").loc[pred.index]
    has_sex, has_age = "female_proba" in pred, AGE_COLUMNS[0] in pred
    y, p = (truth["female"].to_numpy(), pred["female_proba"].to_numpy()) if has_sex else (None, None)
    age = (truth["age_class"].to_numpy(), np.argmax(pred[AGE_COLUMNS].to_numpy(), axis=1)) if has_age else (None, None)
    return y, p, *age
