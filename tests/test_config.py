from __future__ import annotations

import pytest

from socdem.config import ConfigError, Experiment, load_experiment


def test_experiment_files_hold_only_differences():
    fast = load_experiment("fast")
    assert fast.name == "fast" and fast.n_folds < Experiment().n_folds
    assert load_experiment("default").n_folds == Experiment().n_folds


@pytest.mark.parametrize(
    "text, message",
    [
        ("n_fold = 3\n", "unknown key 'n_fold'"),
        ("n_folds = '3'\n", r"n_folds: expected int, got str"),
        ("[features]\nsvd_dims = 4\n", r"features: unknown key 'svd_dims'"),
        ("[features]\nactivity = 1\n", r"features.activity: expected bool"),
        ("contest = 'kaggle'\n", "expected 'auto', 'rutube2024' or 'jmlc'"),
        ("n_folds = \n", "not valid TOML"),
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
