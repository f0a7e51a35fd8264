"""Decisions taken on the blend's out-of-fold predictions: the `female`
threshold with each fold's choice made on the other folds, and the shift of
the age log-probabilities toward the rarer classes tuned for weighted F1."""

from __future__ import annotations

import numpy as np

from socdem.metrics import best_f1_threshold, weighted_f1

PRIOR_EXPONENTS = np.round(np.arange(0.0, 2.0001, 0.1), 4)


def prior_shift(y: np.ndarray, n_classes: int, exponent: float) -> np.ndarray:
    """The biases -exponent * log(class share) on the age log-probabilities, shares of `y` with one pseudo-count
    per class (a class absent from `y` gets a finite bias)."""
    shares = (np.bincount(y, minlength=n_classes) + 1.0) / (len(y) + n_classes)
    return -float(exponent) * np.log(shares)


def tune_prior_exponent(logp: np.ndarray, y: np.ndarray) -> float:
    """The exponent of PRIOR_EXPONENTS whose decision argmax(logp + prior_shift) has the best weighted F1 on
    (logp, y), the smallest among equals. One number, from the most probable class (0) to the class whose
    evidence most exceeds its share (1): the most probable class under-predicts the rarer and the middle classes,
    which weighted F1 counts, and one number fitted on a few hundred users does not chase their noise the way a
    free bias per class does."""
    scores = [weighted_f1(y, np.argmax(logp + prior_shift(y, logp.shape[1], e), axis=1)) for e in PRIOR_EXPONENTS]
    return float(PRIOR_EXPONENTS[int(np.argmax(scores))])


def nested_threshold_f1(y: np.ndarray, p: np.ndarray, fold: np.ndarray) -> float:
    """F1 of `female` with each fold's threshold chosen on the other folds."""
    pred = np.zeros(len(y), dtype=np.int64)
    for k in np.unique(fold):
        held = fold == k
        threshold, _ = best_f1_threshold(y[~held], p[~held])
        pred[held] = p[held] >= threshold
    tp = int((pred & y).sum())
    return 2 * tp / max(int(pred.sum() + y.sum()), 1)
