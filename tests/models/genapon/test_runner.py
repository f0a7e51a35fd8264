"""GENAPON as a model of the experiment: the CV loop on a tiny synthetic contest."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import ONE_BLOCK_LINEAR
from sklearn.metrics import roc_auc_score

from socdem.config import Experiment
from socdem.features.workspace import Workspace
from socdem.models.genapon.runner import feature_matrix
from socdem.models.registry import get_runner
from socdem.pipeline.folds import load_or_make_folds
from socdem.pipeline.train import run_model_cv
from socdem.schema import AGE_COLUMNS


@pytest.fixture(scope="module")
def workspace(synthetic_contest, tmp_path_factory):
    data, root = synthetic_contest(3000, seed=7), tmp_path_factory.mktemp("genapon")  # test_author_tastes's contest
    exp = Experiment(name="genapon_test", n_folds=2, threads=1, models=["genapon"])
    exp.linear = dataclasses.replace(exp.linear, **ONE_BLOCK_LINEAR)  # the logits GENAPON's offset reads, cheaper
    exp.genapon = dataclasses.replace(
        exp.genapon, epochs=5, batch_size=64, learning_rate=1e-2, hidden_dim=16, embedding_dim=8, time_dim=4
    )
    return Workspace(data_dir=data, exp=exp, root=root, log=lambda message: None)


def test_cv_writes_out_of_fold_and_test_predictions_for_both_targets(workspace):
    scores = run_model_cv(workspace, "genapon")
    out = workspace.paths.model(workspace.exp.name, "genapon")
    oof, test = pd.read_parquet(out / "oof.parquet"), pd.read_parquet(out / "test.parquet")
    assert sorted(oof.index) == sorted(workspace.contest.targets["viewer_uid"])
    assert sorted(test.index) == sorted(workspace.contest.test_users)
    for frame in (oof, test):
        assert frame["female_proba"].between(0, 1).all()
        assert np.allclose(frame[AGE_COLUMNS].sum(axis=1), 1)
    assert scores["roc_auc"] > 0.6  # 2,400 labelled users, 4 epochs: well above chance


def test_same_seed_same_out_of_fold_predictions(workspace):
    runner = get_runner("genapon")
    folds, targets = load_or_make_folds(workspace), workspace.contest.targets
    train = targets[targets["viewer_uid"].isin(folds["viewer_uid"][folds["fold"] == 1])]
    valid = folds["viewer_uid"].to_numpy()[folds["fold"].to_numpy() == 0]
    first = runner.fit_predict(workspace, train, [valid], seed=11)[0][0]
    again = get_runner("genapon").fit_predict(workspace, train, [valid], seed=11)[0][0]
    pd.testing.assert_frame_equal(first, again)


def test_cache_key_names_the_device_that_runs(workspace, monkeypatch):
    runner = get_runner("genapon")
    for available, device in ((False, "cpu"), (True, "cuda")):
        monkeypatch.setattr("torch.cuda.is_available", lambda available=available: available)
        assert runner.params(workspace)["device"] == device


def test_shuffled_labels_score_chance_out_of_fold(workspace):
    folds, targets = load_or_make_folds(workspace), workspace.contest.targets
    rng = np.random.default_rng(0)
    shuffled = targets.assign(
        female=rng.permutation(targets["female"].to_numpy()), age_class=rng.permutation(targets["age_class"].to_numpy())
    )
    train = shuffled[shuffled["viewer_uid"].isin(folds["viewer_uid"][folds["fold"] == 1])]
    valid = folds["viewer_uid"].to_numpy()[folds["fold"].to_numpy() == 0]
    predicted = get_runner("genapon").fit_predict(workspace, train, [valid], seed=0)[0][0]
    truth = shuffled.set_index("viewer_uid").loc[predicted.index, "female"]
    assert abs(roc_auc_score(truth, predicted["female_proba"]) - 0.5) < 0.06  # ~1,200 users: sd ~0.017


def test_feature_matrix_codes_categoricals_and_aligns_users():
    frame = pd.DataFrame(
        {"n": [1.0, 2.0, 3.0], "os": pd.Categorical(["a", "b", "a"])}, index=pd.Index([10, 20, 30], name="viewer_uid")
    )
    matrix = feature_matrix(frame, np.array([30, 10, 40]))
    assert matrix.shape == (3, 3)  # n + one column per level
    assert matrix[0].tolist() == [3.0, 1.0, 0.0] and matrix[1].tolist() == [1.0, 1.0, 0.0]
    assert np.isnan(matrix[2, 0])  # a user the features do not know


def test_the_communities_stay_out_of_the_user_branch_and_the_cache_key(workspace):
    """GENAPON does not read the co-watching communities (CatBoost's class mixture does), so turning
    them on neither widens its user matrix nor retrains it."""
    exp = dataclasses.replace(workspace.exp, features=dataclasses.replace(workspace.exp.features, communities=3))
    with_communities = Workspace(workspace.data_dir, exp, root=workspace.root, log=lambda m: None)
    assert with_communities.features.filter(like="community_").shape[1] == 3
    runner = get_runner("genapon")
    assert runner.params(with_communities) == runner.params(workspace)
    widths = [runner.events(ws).user_features.shape[1] for ws in (workspace, with_communities)]
    assert widths[0] == widths[1] > 0


def test_title_vectors_reach_the_events_and_the_cache_key_only_when_on(workspace, navec_model, monkeypatch):
    monkeypatch.setattr("socdem.features.title_vectors.navec_path", lambda *args, **kwargs: navec_model)
    exp = dataclasses.replace(workspace.exp, genapon=dataclasses.replace(workspace.exp.genapon, title_vec_dims=4))
    on = Workspace(workspace.data_dir, exp, root=workspace.root, log=lambda m: None)
    runner = get_runner("genapon")
    assert "title_vec_dims" not in runner.params(workspace) and "navec" not in runner.params(workspace)
    assert runner.params(on)["title_vec_dims"] == 4 and len(runner.params(on)["navec"]) >= 16
    assert runner.events(workspace).title_vectors is None
    vectors = runner.events(on).title_vectors
    assert vectors.shape == (len(on.contest.videos) + 1, 4) and not vectors[0].any()
    assert vectors[1:].any(axis=1).mean() > 0.1  # made-up words but some navec knows
    again = Workspace(workspace.data_dir, exp, root=workspace.root, log=lambda m: None)
    monkeypatch.setattr("socdem.models.genapon.runner.video_title_vectors", lambda *args: 1 / 0)
    np.testing.assert_array_equal(runner.events(again).title_vectors, vectors)  # read back, not computed again
