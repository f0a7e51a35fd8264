from __future__ import annotations

import pytest

from socdem.config import LARGE_CONTEST_USERS, ConfigError, Experiment, load_experiment


def test_experiment_files_hold_only_differences():
    fast = load_experiment("fast")
    assert fast.name == "fast" and fast.n_folds == 3 and Experiment().n_folds == 0
    assert load_experiment("default").n_folds == Experiment().n_folds


def test_automatic_folds_follow_the_labelled_users():
    auto = Experiment()
    assert auto.folds_for(800) == 5 and auto.folds_for(LARGE_CONTEST_USERS - 1) == 5
    assert auto.folds_for(LARGE_CONTEST_USERS) == 3 and auto.folds_for(10 * LARGE_CONTEST_USERS) == 3
    assert Experiment(n_folds=7).folds_for(10 * LARGE_CONTEST_USERS) == 7  # an explicit value is kept


@pytest.mark.parametrize(
    "text, message",
    [
        ("n_fold = 3\n", "unknown key 'n_fold'"),
        ("n_folds = '3'\n", r"n_folds: expected int, got str"),
        ("[features]\nsvd_dims = 4\n", r"features: unknown key 'svd_dims'"),
        ("[features]\nactivity = 1\n", r"features.activity: expected bool"),
        ("contest = 'kaggle'\n", "expected 'auto', 'rutube2024' or 'jmlc'"),
        ("n_folds = \n", "not valid TOML"),
        ("n_folds = 1\n", "expected 0 \\(automatic\\) or at least 2"),
        ("[features]\nte_pseudo_count = 4.0\n", "'te_pseudo_count' has moved: set target_encoding.pseudo_count"),
        ("[features]\nvideo_topics = 4\n", "'video_topics' has moved: set naive_bayes.video_topics"),
        ("[linear]\nfactors = ['svd_videos']\n", r"linear.factors: expected names among \['svd_author'"),
        ("[catboost]\nmulticlass_rsm = 0.0\n", r"catboost.multiclass_rsm: expected a share in \(0, 1\], got 0.0"),
        ("[watched_linear]\ntol = 0\n", r"watched_linear.tol: expected a positive number, got 0.0"),
    ],
)
def test_bad_experiment_fails_loudly(tmp_path, text, message):
    (tmp_path / "broken.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_experiment("broken", tmp_path)


def test_unknown_experiment_lists_known_ones(tmp_path):
    (tmp_path / "a.toml").write_text("")
    with pytest.raises(ConfigError, match=r"no such experiment \(known: a\)"):
        load_experiment("b", tmp_path)
