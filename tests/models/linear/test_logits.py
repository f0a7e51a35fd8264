"""The linear model's cross-fitted logits: written by its fold once, read back by CatBoost and GENAPON."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from sklearn.metrics import roc_auc_score

from socdem.config import load_experiment
from socdem.features.workspace import Workspace
from socdem.models.catboost.runner import catboost_params, fold_matrices
from socdem.models.linear.logits import AGE_LOGIT_COLUMNS, SEX_COLUMN, logit_frame
from socdem.models.linear.runner import LinearRunner, cached_linear_logits, linear_logits_params
from socdem.schema import prediction_frame


@pytest.fixture
def workspace(tiny_contest, socdem_home):
    return Workspace(tiny_contest, load_experiment("fast", REPO / "experiments"), root=socdem_home, log=lambda m: None)


def _split(ws):
    targets = ws.contest.targets
    return targets.iloc[:1200], [targets["viewer_uid"].iloc[1200:].to_numpy(), ws.contest.test_users]


def test_logit_frame_is_the_log_odds_and_normalised_log_probabilities():
    frame = prediction_frame(np.array([1, 2]), np.array([0.5, 0.9]), np.array([[0.25] * 4, [0.7, 0.1, 0.1, 0.1]]))
    logits = logit_frame(frame)
    assert logits[SEX_COLUMN].tolist() == pytest.approx([0.0, np.log(9)], rel=1e-5)
    np.testing.assert_allclose(np.exp(logits[AGE_LOGIT_COLUMNS]).sum(axis=1), 1, rtol=1e-5)


def test_the_fold_is_trained_once_and_its_logits_read_back(workspace, monkeypatch):
    train, predict = _split(workspace)
    fitted, predicted = cached_linear_logits(workspace, train, predict, seed=0)
    assert list(fitted.index) == list(train["viewer_uid"]) and [len(p) for p in predicted] == [len(u) for u in predict]
    # the training users' logits are out of fold: no better on them than on users the model never saw
    on_train = roc_auc_score(train["female"], fitted[SEX_COLUMN])
    valid = workspace.contest.targets.iloc[1200:]
    on_valid = roc_auc_score(valid["female"], predicted[0][SEX_COLUMN])
    assert 0.6 < on_train < on_valid + 0.05

    def no_refit(*args, **kwargs):
        raise AssertionError("the linear fold was trained again")

    monkeypatch.setattr(LinearRunner, "fit_predict", no_refit)
    again, _ = cached_linear_logits(workspace, train, predict, seed=0)
    pd.testing.assert_frame_equal(again, fitted)
    X_train, X_preds = fold_matrices(workspace, train, predict, seed=0)  # CatBoost reads the same logits
    pd.testing.assert_frame_equal(X_train[fitted.columns], fitted.loc[X_train.index])


def test_catboost_starts_from_the_logits_only_where_they_are_among_its_columns(workspace):
    assert catboost_params(workspace, "sex")["baseline"] == (SEX_COLUMN,)
    assert catboost_params(workspace, "age_class")["baseline"] == tuple(AGE_LOGIT_COLUMNS)
    off = dataclasses.replace(workspace.exp.features, linear_logits=False)
    ws_off = Workspace(workspace.data_dir, dataclasses.replace(workspace.exp, features=off), root=workspace.root)
    assert "baseline" not in catboost_params(ws_off, "sex") and linear_logits_params(ws_off) == {}
