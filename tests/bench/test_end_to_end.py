"""The pipeline bench (`make bench BENCH=pipeline`): the whole experiment cold, a CatBoost change re-scored
(only CatBoost retrains) and a re-blend (nothing retrains), at a tiny size."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import ONE_BLOCK_LINEAR_SET, make

from socdem.bench.end_to_end import (
    PARTS,
    PipelineBenchError,
    Stage,
    _expect,
    bench_parts,
    parse_fold_lines,
    pipeline_users,
    run_child,
    run_pipeline_bench,
)
from socdem.config import ConfigError

MODELS = ["top_class", "author_share", "catboost"]  # the fast experiment's budget, with CatBoost to re-score
USERS = 2500
SET = f"models={MODELS} {ONE_BLOCK_LINEAR_SET}"  # the bench's stages on test, not the linear logits CatBoost reads
KEYS = {
    "pipeline_users",
    "pipeline_events",
    "pipeline_seconds",
    "pipeline_stage_seconds",
    "pipeline_peak_rss_mb",
    "pipeline_scores",
    "pipeline_rescore_catboost_seconds",
    "pipeline_reblend_seconds",
    "pipeline_load_average",
}


@pytest.fixture(scope="module")
def benched(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    (home / "bench").mkdir()
    (home / "bench" / "results.json").write_text(json.dumps({"features_seconds": 1.5}))  # another part's figure
    run = make("bench", home, BENCH="pipeline", PIPELINE_USERS=USERS, EXP="fast", SET=SET)
    assert run.returncode == 0, run.stderr[-3000:]
    return home, run


def test_writes_every_key_beside_the_other_parts(benched):
    home, run = benched
    results = json.loads((home / "bench" / "results.json").read_text())
    assert KEYS <= set(results)
    assert results["features_seconds"] == 1.5  # merged, not overwritten
    assert json.loads(run.stdout) == results
    assert results["pipeline_users"] == USERS and results["pipeline_events"] > USERS
    assert results["pipeline_models"] == MODELS
    assert "| stage | seconds | peak RSS MB |" in run.stderr  # the Markdown table


def test_stage_seconds_and_memory_are_measured(benched):
    home, _ = benched
    results = json.loads((home / "bench" / "results.json").read_text())
    stages = results["pipeline_stage_seconds"]
    assert all(stages[name] > 0 for name in ("features", "train", "submit"))
    assert results["pipeline_seconds"] == pytest.approx(stages["features"] + stages["train"] + stages["submit"])
    assert {f"train.{model}" for model in MODELS} | {"submit.blend", "features.build"} <= set(stages)
    assert results["pipeline_rescore_catboost_seconds"] > 0 and results["pipeline_reblend_seconds"] > 0
    rss = results["pipeline_stage_peak_rss_mb"]
    assert set(rss) == {"features", "train", "submit", "rescore_train", "rescore_submit", "reblend"}
    assert 50 < results["pipeline_peak_rss_mb"] == max(rss[s] for s in ("features", "train", "submit"))


def test_scores_sit_below_the_oracle(benched):
    home, _ = benched
    scores = json.loads((home / "bench" / "results.json").read_text())["pipeline_scores"]
    assert 0.6 < scores["test"]["roc_auc"] < scores["oracle"]["roc_auc"] < 1.0  # learnt something, no leak
    assert 0.3 < scores["test"]["age_f1_weighted"] < scores["oracle"]["age_f1_weighted"] < 1.0
    assert 0.6 < scores["cv_blend"]["roc_auc"] and set(scores["cv_models"]) == set(MODELS)
    assert scores["rescored"]["change"] == "catboost.l2_leaf_reg=5" and scores["rescored"]["test"]["roc_auc"] > 0.5


def test_rescore_retrains_only_catboost_and_the_reblend_nothing(benched):
    home, _ = benched
    results = json.loads((home / "bench" / "results.json").read_text())
    assert results["pipeline_rescore_retrained"] == ["catboost"]
    logs = home / "artifacts" / "bench" / f"pipeline_{USERS}" / "logs"
    fitted, cached = parse_fold_lines((logs / "train.log").read_text())
    assert fitted == Counter({m: 3 for m in MODELS}) and not cached  # cold: every fold of every model fitted
    fitted, cached = parse_fold_lines((logs / "rescore_train.log").read_text())
    assert fitted == Counter(catboost=3) and cached == Counter(top_class=3, author_share=3)
    for stage in ("submit", "rescore_submit", "reblend"):
        assert parse_fold_lines((logs / f"{stage}.log").read_text())[0] == Counter(), stage
    assert "submit: " in (logs / "reblend.log").read_text()  # it did blend and write the submission


def test_a_model_that_retrains_where_it_should_be_cached_stops_the_bench(tmp_path):
    text = "train top_class: fold 1/2 cached (from run fast)\ntrain top_class: fold 2/2 roc_auc=0.5 (0.1 s)\n"
    fitted, cached = parse_fold_lines(text)
    assert fitted == Counter(top_class=1) and cached == Counter(top_class=1)
    stage = Stage("rescore_train", 1.0, 10.0, tmp_path / "x.log", fitted, cached)
    with pytest.raises(PipelineBenchError, match="top_class fitted 1 of 2 folds"):
        _expect(stage, ["top_class", "catboost"], {"catboost"}, 2, cached=True)
    fine = Stage("rescore_train", 1.0, 10.0, tmp_path / "x.log", Counter(catboost=2), Counter(top_class=2))
    _expect(fine, ["top_class", "catboost"], {"catboost"}, 2, cached=True)
    with pytest.raises(PipelineBenchError, match="top_class: 0 of 2 folds from the cache"):
        _expect(
            Stage("t", 1.0, 1.0, tmp_path / "x.log", Counter(catboost=2)),
            ["top_class", "catboost"],
            {"catboost"},
            2,
            True,
        )


def test_a_failing_stage_says_which_and_why(tmp_path):
    with pytest.raises(PipelineBenchError, match=r"features failed \(exit 2\).*no such experiment"):
        run_child(
            ["features", "--exp", "no_such_exp", "--data", str(tmp_path)], tmp_path, tmp_path / "f.log", "features"
        )


def test_an_experiment_without_catboost_is_refused_before_any_work(socdem_home):
    with pytest.raises(ConfigError, match="no catboost model"):
        run_pipeline_bench("fast", users=1000)
    assert not (socdem_home / "artifacts").exists()  # no contest generated, no stage run


def test_parts_and_users_are_checked():
    assert bench_parts("") == set(PARTS) and bench_parts("pipeline") == {"pipeline"}
    assert bench_parts("features, genapon") == {"features", "genapon"}
    with pytest.raises(ConfigError, match="unknown part pipelin"):
        bench_parts("pipelin")
    assert pipeline_users("20_000") == 20000 and pipeline_users(None) > 0
    with pytest.raises(ConfigError, match="PIPELINE_USERS=lots"):
        pipeline_users("lots")


def test_make_bench_refuses_an_unknown_part(tmp_path):
    run = make("bench", tmp_path, BENCH="nope")
    assert run.returncode == 2 and "error: BENCH=nope: unknown part nope" in run.stderr
    assert not Path(tmp_path / "bench" / "results.json").exists()
