"""Paired comparisons: a run against itself is exactly 0, an injected improvement is detected,
other data is refused; the vectorised weighted scores match scikit-learn. The fast run comes trained (trained_home)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from socdem.config import ConfigError, load_experiment
from socdem.evaluate.compare import CompareError, compare_runs, compare_specs, parse_spec, public_json, run_oof
from socdem.features.workspace import Workspace
from socdem.metrics import weighted_scores
from socdem.pipeline.blend import blend, blend_experiment
from socdem.pipeline.folds import load_or_make_folds
from socdem.schema import AGE_COLUMNS

METRICS = {"roc_auc", "f1", "age_f1_weighted", "rutube2024"}


def test_a_run_against_itself_is_zero_with_a_zero_width_interval(tiny_contest, trained_home):
    result, table = compare_specs("fast", "fast", tiny_contest, log=lambda m: None, draws=200)
    assert set(result) == METRICS
    for m, r in public_json(result).items():
        assert r == {"delta": 0.0, "low": 0.0, "high": 0.0, "p_b_better": 0.0}, m
    assert all(d == 0.0 for r in result.values() for d in r["fold_deltas"]) and "95% interval" in table


def mix_in_truth(frame: pd.DataFrame, targets: pd.DataFrame, share: float) -> pd.DataFrame:
    truth = targets.set_index("viewer_uid").loc[frame.index]
    out = frame.copy()
    out["female_proba"] = (1 - share) * out["female_proba"] + share * truth["female"].to_numpy()
    out[AGE_COLUMNS] = (1 - share) * out[AGE_COLUMNS].to_numpy() + share * np.eye(4)[truth["age_class"].to_numpy()]
    return out


def test_an_injected_improvement_is_detected(tiny_contest, trained_home):
    ws = Workspace(tiny_contest, load_experiment("fast"), log=lambda m: None)
    a = run_oof(ws, "fast")
    results, _ = blend_experiment(ws)
    oofs = {name: oof.drop(columns="fold") for name, (oof, _, _) in results.items()}
    tests = {name: test for name, (_, test, _) in results.items()}
    oofs["linear"] = mix_in_truth(oofs["linear"], ws.contest.targets, 0.3)  # linear made better on purpose
    better = blend(oofs, tests, ws.contest.targets, load_or_make_folds(ws), ws.exp.targets)
    b = dataclasses.replace(a, label="fast, linear + truth", oof=better.oof.sort_index())
    result = compare_runs(a, b, ws.contest.targets, draws=300)
    for m in METRICS:
        assert result[m]["delta"] > 0 and result[m]["low"] > 0, (m, result[m])
        assert result[m]["p_b_better"] > 0.97 and all(d > 0 for d in result[m]["fold_deltas"])
    worse = compare_runs(b, a, ws.contest.targets, draws=300)  # and the other way round
    assert all(worse[m]["high"] < 0 and worse[m]["p_b_better"] < 0.03 for m in METRICS)


def test_other_data_is_refused(tiny_contest, trained_home):
    ws = Workspace(tiny_contest, load_experiment("fast"), log=lambda m: None)
    a = run_oof(ws, "fast")
    b = dataclasses.replace(a, label="elsewhere", data_fp="0" * 16, data_dir="data/other")
    with pytest.raises(CompareError, match="only runs on the same data"):
        compare_runs(a, b, ws.contest.targets)


def test_spec_parsing():
    assert parse_spec("default genapon.epochs=1 catboost.depth=8") == (
        "default",
        "genapon.epochs=1 catboost.depth=8",
        None,
    )
    assert parse_spec(" fast data=data/jmlc ") == ("fast", "", "data/jmlc")
    with pytest.raises(ConfigError, match="expected '<experiment>"):
        parse_spec("genapon.epochs=1")


def test_weighted_scores_match_scikit_learn():
    rng = np.random.default_rng(3)
    n = 500
    y = rng.integers(0, 2, n)
    p = np.round(np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1), 2)  # rounded: many ties
    y_age, age_pred = rng.integers(0, 4, n), rng.integers(0, 4, n)
    picks = rng.integers(0, n, n)
    weights = np.vstack([np.ones(n), np.bincount(picks, minlength=n)])
    scores = weighted_scores(weights, y, p, y_age, age_pred, f1_threshold=0.5, accuracy_threshold=0.5)
    assert scores["roc_auc"][0] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert scores["roc_auc"][1] == pytest.approx(roc_auc_score(y[picks], p[picks]), abs=1e-12)
    assert scores["f1"][1] == pytest.approx(f1_score(y[picks], p[picks] >= 0.5), abs=1e-12)
    expected = f1_score(y_age[picks], age_pred[picks], average="weighted")
    assert scores["age_f1_weighted"][1] == pytest.approx(expected, abs=1e-12)
