"""Decisions taken on the blend's predictions: the `female` threshold with each fold's choice made on the
other folds, and biases on the age log-probabilities that maximise the weighted F1 those same probabilities
expect."""

from __future__ import annotations

import numpy as np

from socdem.metrics import best_f1_threshold

BIAS_GRID = np.round(np.arange(-1.5, 1.5001, 0.05), 4)


def expected_weighted_f1(proba: np.ndarray, pred: np.ndarray) -> float:
    """Weighted F1 of the classes `pred` if each user's class were drawn from its row of `proba` (plug-in: each
    class's count and true positives replaced by their expectations, F1 = 2 TP / (count + predicted))."""
    n_rows, n_classes = proba.shape
    predicted = np.bincount(pred, minlength=n_classes)
    hits = np.bincount(pred, weights=proba[np.arange(n_rows), pred], minlength=n_classes)
    return float(_weighted_f1_of(proba.sum(axis=0), predicted, hits, n_rows))


def _weighted_f1_of(support: np.ndarray, predicted: np.ndarray, hits: np.ndarray, n_rows: int) -> np.ndarray:
    """Weighted F1 from each class's (expected) count, predicted count and true positives (last axis)."""
    total = support + predicted
    f1 = np.divide(2.0 * hits, total, out=np.zeros(np.shape(total)), where=total > 0)
    return (f1 * support).sum(axis=-1) / max(n_rows, 1)


def tune_expected_f1_bias(logp: np.ndarray, passes: int = 3) -> np.ndarray:
    """Per-class biases on the age log-probabilities (class 0 the reference, coordinate ascent over BIAS_GRID)
    whose decisions argmax(logp + bias) maximise the weighted F1 that the same users' probabilities expect. No
    label is read, so the test users' own predictions set theirs: the most probable class under-predicts the
    classes that are rarely any user's most probable one, which weighted F1 counts, and expectations over
    all users do not chase the noise of a few hundred labels the way biases tuned on them do."""
    proba = np.exp(logp - logp.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    bias = np.zeros(logp.shape[1])
    best = expected_weighted_f1(proba, np.argmax(logp, axis=1))
    for _ in range(passes):
        improved = False
        for c in range(1, logp.shape[1]):
            scores = _class_bias_scores(proba, logp + bias, c, logp[:, c])
            i = int(np.argmax(scores))
            if scores[i] > best + 1e-12:
                best, bias, improved = float(scores[i]), np.r_[bias[:c], BIAS_GRID[i], bias[c + 1 :]], True
        if not improved:
            break
    return bias


def _class_bias_scores(proba: np.ndarray, shifted: np.ndarray, c: int, logp_c: np.ndarray) -> np.ndarray:
    """The expected weighted F1 of each bias of BIAS_GRID for class c, the other biases as in `shifted`: class c
    wins a user where its log-probability plus the bias beats the best other class, so the users it wins form
    a prefix of them sorted by that margin, and cumulative sums give every bias's counts at once."""
    n_rows, n_classes = proba.shape
    others = shifted.copy()
    others[:, c] = -np.inf
    runner_up = np.argmax(others, axis=1)
    margin = logp_c - others[np.arange(n_rows), runner_up]
    order = np.argsort(-margin, kind="stable")
    won = np.zeros((n_rows + 1, n_classes))  # won[s, k]: users of runner-up k among the first s, predicted k
    hits = np.zeros((n_rows + 1, n_classes))  # hits[s, k]: their expected true positives
    one_hot = np.eye(n_classes)[runner_up[order]]
    np.cumsum(one_hot, axis=0, out=won[1:])
    np.cumsum(one_hot * proba[order], axis=0, out=hits[1:])
    hits_c = np.r_[0.0, np.cumsum(proba[order, c])]
    switched = np.searchsorted(-margin[order], BIAS_GRID, side="left")  # users with margin + b > 0
    predicted = won[-1] - won[switched]
    true_positives = hits[-1] - hits[switched]
    predicted[:, c], true_positives[:, c] = switched, hits_c[switched]
    return _weighted_f1_of(proba.sum(axis=0), predicted, true_positives, n_rows)


def nested_threshold_f1(y: np.ndarray, p: np.ndarray, fold: np.ndarray) -> float:
    """F1 of `female` with each fold's threshold chosen on the other folds."""
    pred = np.zeros(len(y), dtype=np.int64)
    for k in np.unique(fold):
        held = fold == k
        threshold, _ = best_f1_threshold(y[~held], p[~held])
        pred[held] = p[held] >= threshold
    tp = int((pred & y).sum())
    return 2 * tp / max(int(pred.sum() + y.sum()), 1)
