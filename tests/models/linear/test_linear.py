"""The sparse linear model: estimator contract, TF-IDF blocks, C by inner CV, the runner."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from conftest import REPO
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from socdem.config import load_experiment
from socdem.features.workspace import Workspace
from socdem.models.linear.estimator import InnerCVLogistic, tfidf_blocks
from socdem.models.linear.runner import LinearRunner


def sparse_problem(n=1200, items=300, seed=0):
    rng = np.random.default_rng(seed)
    effect = rng.normal(0, 1.5, items)
    X = sp.random(n, items, density=0.05, random_state=seed, format="csr") * 5
    X.data = np.ceil(X.data)
    score = np.asarray(X @ effect).ravel() / np.sqrt(np.maximum(X.getnnz(axis=1), 1))
    y = (rng.random(n) < 1 / (1 + np.exp(-score))).astype(int)
    return tfidf_blocks([X]), y  # sag wants rows on a common scale, as the runner gives it


def test_estimator_contract_and_inner_cv_choice():
    X, y = sparse_problem()
    est = InnerCVLogistic(cs=[0.01, 1.0, 10.0], inner_folds=3, random_state=0)
    assert clone(est).get_params() == est.get_params()
    assert est.fit(X[:900], y[:900]) is est
    assert est.C_ in (0.01, 1.0, 10.0) and set(est.cv_log_loss_) == {0.01, 1.0, 10.0}
    assert est.C_ == min(est.cv_log_loss_, key=est.cv_log_loss_.get)
    proba = est.predict_proba(X[900:])
    assert proba.shape == (300, 2) and np.allclose(proba.sum(axis=1), 1)
    assert list(est.classes_) == [0, 1]
    assert roc_auc_score(y[900:], proba[:, 1]) > 0.7


def test_multinomial_for_four_classes_and_deterministic():
    X, y = sparse_problem(seed=1)
    y4 = y * 2 + (np.arange(len(y)) % 2)  # four classes
    a = InnerCVLogistic(cs=[0.3, 1.0], random_state=3).fit(X, y4)
    b = InnerCVLogistic(cs=[0.3, 1.0], random_state=3).fit(X, y4)
    assert a.predict_proba(X).shape == (len(y), 4)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_tfidf_blocks_weigh_each_block_equally_and_drop_rare_items():
    counts = sp.csr_matrix(np.array([[3, 0, 1], [1, 1, 0], [0, 0, 0], [2, 0, 0]], dtype=np.float32))
    cats = sp.csr_matrix(np.array([[1, 0], [0, 2], [0, 0], [1, 1]], dtype=np.float32))
    X = tfidf_blocks([counts, cats], min_users=2)
    assert X.shape == (4, 1 + 2)  # items 1 and 2 are seen by one user each
    block_norms = np.sqrt(np.asarray(X[:, :1].multiply(X[:, :1]).sum(axis=1)).ravel())
    np.testing.assert_allclose(block_norms, [1, 1, 0, 1], atol=1e-12)
    assert np.isfinite(X.toarray()).all()


def test_runner_predicts_every_requested_user(tiny_contest, socdem_home):
    ws = Workspace(tiny_contest, load_experiment("fast", REPO / "experiments"), root=socdem_home, log=lambda m: None)
    targets = ws.contest.targets
    train, valid = targets.iloc[:1200], targets.iloc[1200:]
    (pred, test), fitted = LinearRunner().fit_predict(ws, train, [valid["viewer_uid"], ws.contest.test_users], seed=0)
    assert set(fitted.estimators_) == {"sex", "age_class"}
    assert list(pred.index) == list(valid["viewer_uid"]) and len(test) == len(ws.contest.test_users)
    assert np.allclose(pred[[f"age_p{k}" for k in range(4)]].sum(axis=1), 1)
    assert roc_auc_score(valid["female"], pred["female_proba"]) > 0.7
