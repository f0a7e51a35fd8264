"""Adversarial validation: chance on a synthetic contest, far above it when the test users
are the heaviest viewers; cached beside the features."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import REPO

from socdem.config import load_experiment
from socdem.features import adversarial
from socdem.features.adversarial import RESULT_FILE, adversarial_validation, shift_warning
from socdem.features.build import features_dir
from socdem.features.workspace import Workspace


def workspace(data, root, logs=None):
    exp = load_experiment("fast", REPO / "experiments")
    exp.features = dataclasses.replace(exp.features, svd_author_dims=4, svd_video_dims=4)
    return Workspace(data, exp, root=root, log=(logs.append if logs is not None else lambda m: None))


def test_chance_on_a_synthetic_contest(synthetic_contest, tmp_path):
    data = synthetic_contest(6000, seed=11)  # the contest of the target-encoding tests
    logs = []
    ws = workspace(data, tmp_path / "home", logs)
    result = adversarial_validation(ws)
    assert result["adversarial_roc_auc"] == pytest.approx(0.5, abs=0.03)
    assert shift_warning(result["adversarial_roc_auc"]) is None
    # nothing separates the groups, so no column is ranked by its noise
    assert result["top_features"] == [] and "no feature ranked" in result["note"]
    assert (features_dir(ws) / RESULT_FILE).exists()
    again = adversarial_validation(workspace(data, tmp_path / "home", logs))
    assert again == result and "adversarial: used the cache" in logs[-1]


def test_heaviest_viewers_are_told_apart(heavy_contest, tmp_path):
    result = adversarial_validation(workspace(heavy_contest, tmp_path))
    assert result["adversarial_roc_auc"] > 0.8
    assert "local CV may not track the public score" in shift_warning(result["adversarial_roc_auc"])
    top = result["top_features"][0]
    assert len(result["top_features"]) == 10 and top["importance"] > 0 and top["test_mean"] is not None


def test_a_fold_fitted_on_a_sample_still_tells_them_apart(heavy_contest, tmp_path, monkeypatch):
    monkeypatch.setattr(adversarial, "MAX_FIT_ROWS", 600)  # each fold's classifier on 600 of its users
    result = adversarial_validation(workspace(heavy_contest, tmp_path))
    assert result["key"]["max_fit_rows"] == 600 and result["adversarial_roc_auc"] > 0.8
