from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import ONE_BLOCK_LINEAR

from socdem.config import load_experiment
from socdem.features.workspace import Workspace
from socdem.models.catboost.runner import CatBoostRunner
from socdem.models.catboost.tuned import best_params, study_name
from socdem.pipeline.tune import fold_score, open_storage, split_trials, storage_spec, tune, tune_dir

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("tune_home")


def _workspace(contest, home, name, **tune_overrides):
    exp = load_experiment("fast", EXPERIMENTS)
    exp.name = name
    exp.linear = dataclasses.replace(exp.linear, **ONE_BLOCK_LINEAR)  # the logits CatBoost reads, cheaper
    for key, value in tune_overrides.items():
        setattr(exp.tune, key, value)
    return Workspace(data_dir=contest, exp=exp, root=home, log=lambda message: None)


def _trials(ws, target, storage=""):
    study = optuna.load_study(study_name=study_name(ws, target), storage=open_storage(storage_spec(ws, storage)))
    return study.trials


def test_split_trials_shares_exactly_the_total():
    assert split_trials(5, 2) == [3, 2]
    assert split_trials(1, 3) == [1, 0, 0]
    assert sum(split_trials(20, 3)) == 20


def test_fold_score_is_higher_for_better_predictions():
    y = np.array([0, 1, 1, 0])
    good, bad = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]]), np.full((4, 2), 0.5)
    assert fold_score("sex", y, good, [0, 1], "f1_weighted") > fold_score("sex", y, bad, [0, 1], "f1_weighted")
    age = np.array([0, 1, 2, 3])
    sharp, flat = np.eye(4) * 0.7 + 0.075, np.full((4, 4), 0.25)
    assert fold_score("age_class", age, sharp, [0, 1, 2, 3], "logloss") > fold_score(
        "age_class", age, flat, [0, 1, 2, 3], "logloss"
    )
    assert fold_score("age_class", age, sharp, [0, 1, 2, 3], "f1_weighted") == 1.0


def test_tune_resumes_the_stored_study_and_train_picks_up_the_best(tiny_contest, home):
    ws = _workspace(tiny_contest, home, "tune1")
    default_params = CatBoostRunner().params(ws)
    results = tune(ws, trials=2, workers=1)
    assert set(results) == {"sex", "age_class"}
    assert (tune_dir(ws) / "optuna.journal").exists()  # the default storage: a file under artifacts/<EXP>/
    first = _trials(ws, "sex")
    assert len(first) == 2
    finished = [t for t in first if t.state == optuna.trial.TrialState.COMPLETE]
    assert finished and len(finished[0].intermediate_values) == 2  # one report per tuned fold
    assert 0.5 < results["sex"]["value"] <= 1.0

    tune(ws, trials=1, workers=1)  # a second run continues the same study
    assert len(_trials(ws, "sex")) == 3 and len(_trials(ws, "age_class")) == 3
    record = json.loads((tune_dir(ws) / "best_sex.json").read_text())
    assert best_params(ws, "sex") == record["params"]
    used = CatBoostRunner().params(ws)["catboost"]["sex"]
    assert {k: used[k] for k in record["params"]} == record["params"]
    assert used != default_params["catboost"]["sex"]


def test_two_workers_share_one_study_in_a_url_storage(tiny_contest, home, tmp_path):
    ws = _workspace(tiny_contest, home, "tune2")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tune(ws, trials=2, workers=2, storage=url)
    for target in ws.exp.targets:
        trials = _trials(ws, target, url)
        assert len(trials) == 2
        assert all(t.state.is_finished() for t in trials)
    assert not (tune_dir(ws) / "optuna.journal").exists()  # the URL was used, not the default file


def test_median_pruner_stops_a_trial_worse_than_the_median(tiny_contest, home):
    from socdem.models.catboost.runner import default_params
    from socdem.pipeline.tune import fold_data, objective

    ws = _workspace(tiny_contest, home, "tune3")
    folds = fold_data(ws)
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    for good in (0.99, 0.98):  # two trials with excellent running means at every step
        study.add_trial(
            optuna.trial.create_trial(params={}, distributions={}, value=good, intermediate_values={0: good, 1: good})
        )
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned):
        objective(
            trial, folds, "sex", default_params(ws.exp), {**dataclasses.asdict(ws.exp.tune), "max_iterations": 40}
        )
    assert len(trial.user_attrs["fold_scores"]) == 1  # stopped after its first fold
