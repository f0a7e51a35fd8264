"""The local scorer agrees with scikit-learn to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.metrics import log_loss as sklearn_log_loss

from socdem.metrics import best_accuracy_threshold, best_f1_threshold, contest_scores, log_loss


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    p = np.clip(0.35 * y + rng.normal(0.35, 0.2, 3000), 0, 1).round(3)  # ties on purpose
    age = rng.integers(0, 4, 3000)
    age_pred = np.where(rng.random(3000) < 0.5, age, rng.integers(0, 4, 3000))
    return y, p, age, age_pred


def test_scores_match_sklearn(predictions):
    y, p, age, age_pred = predictions
    s = contest_scores(y, p, age, age_pred, threshold=0.4)
    pred = (p >= 0.4).astype(int)
    assert abs(s["f1"] - f1_score(y, pred)) < 1e-9
    assert abs(s["roc_auc"] - roc_auc_score(y, p)) < 1e-9
    assert abs(s["accuracy"] - accuracy_score(y, pred)) < 1e-9
    assert abs(s["age_f1_weighted"] - f1_score(age, age_pred, average="weighted")) < 1e-9
    assert abs(s["rutube2024"] - (0.7 * s["age_f1_weighted"] + 0.3 * s["accuracy"])) < 1e-12


def test_best_thresholds_match_a_brute_force_sweep(predictions):
    y, p, _, _ = predictions
    threshold, f1 = best_f1_threshold(y, p)
    brute = max(f1_score(y, (p >= t).astype(int)) for t in np.unique(p))
    assert abs(f1 - brute) < 1e-9
    assert abs(f1_score(y, (p >= threshold).astype(int)) - f1) < 1e-9
    acc_t = best_accuracy_threshold(y, p)
    brute_acc = max(accuracy_score(y, (p >= t).astype(int)) for t in np.r_[np.unique(p), 2.0])
    assert abs(accuracy_score(y, (p >= acc_t).astype(int)) - brute_acc) < 1e-9


def test_log_loss_is_sklearns_to_the_last_bit():
    # the linear model's choices compare these numbers: a last-bit difference could flip a near tie
    rng = np.random.default_rng(1)
    for concentration in (0.05, 1.0, 5.0):
        classes = np.array([1, 3, 4, 8])
        y = classes[rng.integers(0, 4, 500)]
        proba = rng.dirichlet(np.full(4, concentration), 500)
        proba[:3] = np.eye(4)[[0, 1, 3]]  # certain rows, right and wrong: clipped as sklearn clips them
        assert log_loss(y, proba, classes) == sklearn_log_loss(y, proba, labels=classes)
    binary = np.array([0, 1])
    y = rng.integers(0, 2, 200)
    proba = rng.dirichlet([1.0, 1.0], 200)
    assert log_loss(y, proba, binary) == sklearn_log_loss(y, proba, labels=binary)
