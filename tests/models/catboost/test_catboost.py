from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from conftest import ONE_BLOCK_LINEAR, REPO
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from socdem.config import LARGE_FIT_ROWS, load_experiment
from socdem.features.workspace import Workspace
from socdem.models.catboost.estimator import (
    LARGE_FIT_LEARNING_RATE,
    SMALL_FIT_LEARNING_RATE,
    CatBoostModel,
    categorical_columns,
)
from socdem.models.catboost.runner import CatBoostRunner, fold_matrices
from socdem.models.catboost.tuned import best_path, study_name
from socdem.models.registry import get_runner
from socdem.pipeline.train import cache_key, model_dir, run_model_cv

FAST = dict(iterations=60, learning_rate=0.2, depth=4, early_stopping_rounds=10, thread_count=1)


def _frame(n=800, seed=0):
    """Two numeric columns plus a categorical one that alone decides the class."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], size=n)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "top_region": pd.Categorical(region),
        }
    )
    y_sex = np.isin(region, ["north", "east"]).astype(int)
    y_age = pd.Series(region).map({"north": 0, "south": 1, "east": 2, "west": 3}).to_numpy()
    return X, y_sex, y_age


def test_clone_and_get_params_round_trip():
    model = CatBoostModel(depth=3, random_state=5, thread_count=2, bootstrap_type="Bernoulli", subsample=0.7)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert twin.depth == 3 and twin.thread_count == 2 and twin.random_state == 5


def test_a_large_training_set_grows_each_tree_on_an_mvs_sample_of_sample_rows():
    """Above sample_rows rows (800 x 0.9 = 720 fit rows here) each tree sees an MVS sample of about
    sample_rows of them; below it, or with a bootstrap chosen by hand (a tuned one), CatBoost's own."""
    X, _, y = _frame()
    sampled = CatBoostModel(**FAST, sample_rows=360).fit(X, y).model_.get_all_params()
    assert sampled["bootstrap_type"] == "MVS" and sampled["subsample"] == pytest.approx(0.5)
    whole = CatBoostModel(**FAST, sample_rows=720).fit(X, y).model_.get_all_params()
    assert whole["bootstrap_type"] == "Bayesian"  # CatBoost's default for MultiClass
    chosen = CatBoostModel(**FAST, sample_rows=360, bootstrap_type="Bernoulli", subsample=0.7).fit(X, y)
    assert chosen.model_.get_all_params()["subsample"] == pytest.approx(0.7)


def test_a_multiclass_trees_splits_are_chosen_among_a_share_of_the_features_a_binary_trees_among_all():
    X, y_sex, y_age = _frame()
    age = CatBoostModel(**FAST, multiclass_rsm=0.5).fit(X, y_age).model_.get_all_params()
    assert age["rsm"] == pytest.approx(0.5)
    sex = CatBoostModel(**FAST, multiclass_rsm=0.5).fit(X, y_sex).model_.get_all_params()
    assert sex["rsm"] == 1
    every = CatBoostModel(**FAST, multiclass_rsm=1.0).fit(X, y_age).model_.get_all_params()
    assert every["rsm"] == 1


def test_learning_rate_zero_is_chosen_by_the_rows_fitted():
    small, large = LARGE_FIT_ROWS, LARGE_FIT_ROWS + 1
    assert CatBoostModel(learning_rate=0)._catboost_params(2, small)["learning_rate"] == SMALL_FIT_LEARNING_RATE
    assert CatBoostModel(learning_rate=0)._catboost_params(4, large)["learning_rate"] == LARGE_FIT_LEARNING_RATE
    assert SMALL_FIT_LEARNING_RATE < LARGE_FIT_LEARNING_RATE
    assert CatBoostModel(learning_rate=0.2)._catboost_params(2, small)["learning_rate"] == 0.2  # set by hand or tuned
    X, _, y = _frame()
    fitted = CatBoostModel(**{**FAST, "learning_rate": 0}).fit(X, y).model_.get_all_params()
    assert fitted["learning_rate"] == pytest.approx(SMALL_FIT_LEARNING_RATE)


def test_binary_uses_logloss_and_learns_from_the_categorical_column():
    X, y, _ = _frame()
    model = CatBoostModel(**FAST).fit(X, y)
    assert model.model_.get_all_params()["loss_function"] == "Logloss"
    assert list(model.classes_) == [0, 1]
    assert model.cat_features_ == ["top_region"]
    X_new, y_new, _ = _frame(seed=1)
    proba = model.predict_proba(X_new)
    assert proba.shape == (len(X_new), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(y_new, proba[:, 1]) > 0.99


def test_multiclass_follows_classes_and_predicts_argmax():
    X, _, y = _frame()
    model = CatBoostModel(**FAST).fit(X, y + 10)  # labels need not be 0..k-1
    assert model.model_.get_all_params()["loss_function"] == "MultiClass"
    assert list(model.classes_) == [10, 11, 12, 13]
    X_new, _, y_new = _frame(seed=2)
    assert model.predict_proba(X_new).shape == (len(X_new), 4)
    assert (model.predict(X_new) == y_new + 10).mean() > 0.95


def test_early_stopping_on_inner_split_stops_before_the_budget():
    X, y, _ = _frame()
    y = np.where(np.random.default_rng(4).random(len(y)) < 0.3, 1 - y, y)  # noise to overfit
    model = CatBoostModel(iterations=2000, learning_rate=0.3, depth=4, early_stopping_rounds=20, thread_count=1).fit(
        X, y
    )
    assert model.best_iteration_ < 1000
    assert model.model_.tree_count_ == model.best_iteration_ + 1


def test_same_seed_same_predictions_to_the_last_bit_and_seed_matters():
    X, y, _ = _frame()
    X["noise"] = np.random.default_rng(3).normal(size=len(X))
    y = np.where(np.random.default_rng(4).random(len(y)) < 0.3, 1 - y, y)  # noisy labels: the seed can matter
    first = CatBoostModel(**FAST, random_state=1).fit(X, y).predict_proba(X)
    second = CatBoostModel(**FAST, random_state=1).fit(X, y).predict_proba(X)
    other = CatBoostModel(**FAST, random_state=2).fit(X, y).predict_proba(X)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_missing_categories_and_column_order_are_handled():
    X, y, _ = _frame()
    X.loc[X.index[:50], "top_region"] = np.nan
    model = CatBoostModel(**FAST).fit(X, y)
    reordered = X[["top_region", "b", "a"]]
    np.testing.assert_array_equal(model.predict_proba(reordered), model.predict_proba(X))


def test_categorical_columns_detects_category_and_string_columns():
    X = pd.DataFrame({"n": [1.0, 2.0], "c": pd.Categorical(["x", "y"]), "s": ["p", "q"]})
    assert categorical_columns(X) == ["c", "s"]


def test_single_class_fails_with_a_clear_message():
    X, _, _ = _frame(n=50)
    with pytest.raises(ValueError, match="two classes"):
        CatBoostModel(**FAST).fit(X, np.zeros(len(X), dtype=int))


# ---- the runner inside the CV loop (tiny contest, fast experiment) ----------------------------


REPO_EXPERIMENTS = REPO / "experiments"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One SOCDEM_HOME per module: features and folds are built once and shared by the runs."""
    return tmp_path_factory.mktemp("home")


def _workspace(contest, home, name):
    exp = load_experiment("fast", REPO_EXPERIMENTS)
    exp.name, exp.models = name, ["catboost"]  # exp.name only separates the artifacts of the runs
    exp.linear = dataclasses.replace(exp.linear, **ONE_BLOCK_LINEAR)  # the logits CatBoost reads, cheaper
    return Workspace(data_dir=contest, exp=exp, root=home, log=lambda message: None)


def test_catboost_is_registered_and_learns_on_the_tiny_contest(tiny_contest, home):
    ws = _workspace(tiny_contest, home, "plain")
    assert isinstance(get_runner("catboost"), CatBoostRunner)
    scores = run_model_cv(ws, "catboost")
    assert scores["roc_auc"] > 0.65 and scores["age_f1_weighted"] > 0.3
    out = model_dir(ws, "catboost")
    oof = pd.read_parquet(out / "oof.parquet")
    assert len(oof) == len(ws.contest.targets) and oof["fold"].nunique() == ws.exp.n_folds
    test = pd.read_parquet(out / "test.parquet")
    assert set(test.index) == set(ws.contest.test_users)
    np.testing.assert_allclose(test.filter(like="age_p").sum(axis=1), 1.0)
    fitted = pd.read_pickle(out / "fold0.pkl")
    categorical = [c for c in ws.features.columns if isinstance(ws.features[c].dtype, pd.CategoricalDtype)]
    assert categorical, "the features should carry categorical columns (top region, client, ...)"
    assert set(categorical) <= set(fitted.estimators_["sex"].cat_features_)  # handed to CatBoost as categorical
    assert json.loads((out / "fold0.json").read_text())["key"] == cache_key(ws, "catboost", CatBoostRunner())


def test_interrupted_cv_resumes_with_bit_identical_out_of_fold(tiny_contest, home, monkeypatch):
    reference = _workspace(tiny_contest, home, "plain")
    run_model_cv(reference, "catboost")  # cached by the test above when run together
    expected = pd.read_parquet(model_dir(reference, "catboost") / "oof.parquet")

    ws = _workspace(tiny_contest, home / "alone", "resumed")  # its own home: no other run's folds to take
    original, calls = CatBoostRunner.fit_predict, []

    def killed_after_one_fold(self, *args, **kwargs):
        if calls:
            raise KeyboardInterrupt("killed")
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CatBoostRunner, "fit_predict", killed_after_one_fold)
    with pytest.raises(KeyboardInterrupt):
        run_model_cv(ws, "catboost")
    out = model_dir(ws, "catboost")
    assert (out / "fold0.json").exists() and not (out / "fold1.json").exists()

    recomputed = []

    def counting(self, ws_, train, predict_uids, seed):
        recomputed.append(seed - ws_.exp.seed)
        return original(self, ws_, train, predict_uids, seed)

    monkeypatch.setattr(CatBoostRunner, "fit_predict", counting)
    run_model_cv(ws, "catboost")
    assert recomputed == list(range(1, ws.exp.n_folds))  # fold 0 came from its files
    resumed = pd.read_parquet(out / "oof.parquet")
    pd.testing.assert_frame_equal(resumed, expected, check_exact=True)  # same seed: same bits


def test_tuned_parameters_change_the_params_and_the_cache_key(tiny_contest, home):
    ws = _workspace(tiny_contest, home, "tuned")
    runner = CatBoostRunner()
    before = runner.params(ws)
    assert before["catboost"]["sex"]["depth"] == ws.exp.catboost.depth
    assert "features" in before and before["features"]["target_encoding"] is True
    key_before = cache_key(ws, "catboost", runner)
    path = best_path(ws, "sex")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"study": "another-study", "params": {"depth": 3}}))
    assert runner.params(ws) == before  # a study of other data/config is ignored
    path.write_text(json.dumps({"study": study_name(ws, "sex"), "params": {"depth": 3, "learning_rate": 0.1}}))
    after = runner.params(ws)
    assert after["catboost"]["sex"]["depth"] == 3 and after["catboost"]["sex"]["learning_rate"] == 0.1
    assert after["catboost"]["age_class"] == before["catboost"]["age_class"]
    assert cache_key(ws, "catboost", runner) != key_before


def test_the_fold_matrices_carry_the_class_mixture_not_the_raw_communities(tiny_contest, home):
    ws = _workspace(tiny_contest, home, "communities")
    ws.exp.features = dataclasses.replace(ws.exp.features, communities=3)
    targets = ws.contest.targets
    X_train, (X_valid,) = fold_matrices(ws, targets.iloc[::2], [targets["viewer_uid"].to_numpy()[1::2]], seed=0)
    assert ws.features.filter(regex="^community_").shape[1] == 3
    for X in (X_train, X_valid):
        assert X.filter(regex="^community_").shape[1] == 0
        assert X.filter(regex="^te_community_").shape[1] == 8 and "te_nbayes_female" in X.columns


def test_boosting_starts_from_the_baseline_columns_in_fit_and_predict():
    """A baseline column that already holds the true log-odds: the trees, seeing only noise besides it,
    keep its ranking; its values are read again at prediction; X without them is refused."""
    rng = np.random.default_rng(3)
    n = 2000
    z = rng.normal(0, 2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    X = pd.DataFrame({"noise": rng.normal(size=n), "score": z})
    model = CatBoostModel(**FAST, baseline=("score",)).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    assert np.corrcoef(np.log(p / (1 - p)), z)[0, 1] > 0.99
    flipped = model.predict_proba(X.assign(score=-z))[:, 1]
    assert roc_auc_score(y, flipped) < 0.2  # the prediction follows the baseline it is given
    without = CatBoostModel(**FAST).fit(X[["noise"]], y)
    assert roc_auc_score(y, p) > roc_auc_score(y, without.predict_proba(X[["noise"]])[:, 1]) + 0.2
    with pytest.raises(ValueError, match="baseline needs X as a DataFrame"):
        model.predict_proba(X.to_numpy())
    # on more rows than baseline_rows the column is a feature like any other: the boosting starts from the prior
    large = CatBoostModel(**FAST, baseline=("score",), baseline_rows=len(y)).fit(X, y)
    assert model.baseline_used_ and not large.baseline_used_
    assert roc_auc_score(y, large.predict_proba(X.to_numpy())[:, 1]) > 0.8  # reads no baseline, learns the column


def test_a_multiclass_baseline_takes_the_columns_of_the_classes_the_fit_saw():
    X, _, y = _frame()
    logp = np.log(np.full((len(y), 4), 0.01))
    logp[np.arange(len(y)), y] = np.log(0.97)
    columns = [f"logp{k}" for k in range(4)]
    X = X.drop(columns="top_region").assign(**dict(zip(columns, logp.T)))
    seen = y != 2  # class 2 absent from the fit: its column is not read
    model = CatBoostModel(**FAST, baseline=tuple(columns)).fit(X[seen], y[seen])
    assert list(model.classes_) == [0, 1, 3]
    assert (model.predict(X[seen]) == y[seen]).mean() > 0.99
