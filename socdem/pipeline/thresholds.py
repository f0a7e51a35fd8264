"""Decisions taken on the blend's out-of-fold predictions: the `female`
threshold with each fold's choice made on the other folds, and per-class
biases on the age log-probabilities tuned for weighted F1."""

from __future__ import annotations

import numpy as np

from socdem.metrics import best_f1_threshold, weighted_f1

BIAS_GRID = np.round(np.arange(-1.5, 1.5001, 0.05), 4)


def tune_age_bias(logp: np.ndarray, y: np.ndarray, passes: int = 3) -> np.ndarray:
    """Per-class additive biases on log-probabilities maximising weighted F1
    (coordinate ascent over a grid; class 0 stays at 0 as the reference)."""
    bias = np.zeros(logp.shape[1])
    best = weighted_f1(y, np.argmax(logp, axis=1))
    for _ in range(passes):
        improved = False
        for c in range(1, logp.shape[1]):
            others = logp + bias
            others[:, c] = -np.inf
            runner_up, runner_up_score = np.argmax(others, axis=1), others.max(axis=1)
            margin = logp[:, c] - runner_up_score  # class c wins where margin + its bias > 0
            for b in BIAS_GRID:
                f1 = weighted_f1(y, np.where(margin + b > 0, c, runner_up))
                if f1 > best + 1e-12:
                    best, bias, improved = f1, np.r_[bias[:c], b, bias[c + 1 :]], True
        if not improved:
            break
    return bias


def nested_threshold_f1(y: np.ndarray, p: np.ndarray, fold: np.ndarray) -> float:
    """F1 of `female` with each fold's threshold chosen on the other folds."""
    pred = np.zeros(len(y), dtype=np.int64)
    for k in np.unique(fold):
        held = fold == k
        threshold, _ = best_f1_threshold(y[~held], p[~held])
        pred[held] = p[held] >= threshold
    tp = int((pred & y).sum())
    return 2 * tp / max(int(pred.sum() + y.sum()), 1)
