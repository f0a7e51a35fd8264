"""SET= overrides on the make targets: checked like the experiment file, part of the run's
identity (separate artifacts and submissions), caches reused on a rerun; compare and ablate
through make."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from conftest import make

from socdem.config import ConfigError, load_experiment, parse_overrides
from socdem.evaluate.leaderboard import read_log, submissions
from socdem.synthetic.author_tastes import generate

# two runs beside the plain fast run already trained in their home: author_share retrains, the rest is taken from it
SET_A = "baselines.pseudo_count=7"
SET_B = "baselines.pseudo_count=5 catboost.depth=3"


def test_overrides_are_toml_literals_checked_like_the_file():
    assert parse_overrides("catboost.depth=8 models=['linear', 'catboost'] catboost.grow_policy=Depthwise") == {
        "catboost": {"depth": 8, "grow_policy": "Depthwise"},
        "models": ["linear", "catboost"],
    }
    exp = load_experiment("fast", overrides="catboost.learning_rate=1 genapon.epochs=6 n_folds=3")
    assert exp.overrides == {"catboost.learning_rate": 1.0, "genapon.epochs": 6}  # n_folds=3 is fast's own value
    assert (
        exp.run.startswith("fast-")
        and exp.run == load_experiment("fast", overrides="genapon.epochs=6 catboost.learning_rate=1.0").run
    )
    assert load_experiment("fast", overrides="catboost.depth=4").run == "fast"  # nothing differs: the plain run
    for bad, message in [
        ("catbost.depth=8", "SET: unknown key 'catbost'"),
        ("catboost.depht=8", r"SET.catboost: unknown key 'depht'"),
        ("catboost.depth=8.5", r"SET.catboost.depth: expected int, got float"),
        ("features.time=yes", r"SET.features.time: expected bool, got str"),
        ("n_folds=1", "at least 2"),
        ("depth", "expected key=value"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_experiment("fast", overrides=bad)


def test_a_typo_fails_with_exit_2_and_one_line(tmp_path, tiny_contest):
    run = make("train", tmp_path, EXP="fast", DATA=tiny_contest, SET="catbost.depth=8")
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if not line.startswith("make")]
    assert errors == [errors[0]] and errors[0].startswith("error: SET: unknown key 'catbost'")


@pytest.fixture(scope="module")
def home(tiny_contest, fast_trained, tmp_path_factory):
    home = tmp_path_factory.mktemp("home") / "home"
    shutil.copytree(fast_trained, home)
    for overrides in (SET_A, SET_B):
        run = make("submit", home, EXP="fast", DATA=tiny_contest, SET=overrides)
        assert run.returncode == 0, run.stderr[-3000:]
    return home


def test_two_sets_keep_separate_artifacts_and_submissions(home):
    runs = {load_experiment("fast", overrides=s).run for s in (SET_A, SET_B)}
    assert len(runs) == 2 and "fast" not in runs
    for run in runs:
        assert (home / "submissions" / f"{run}.csv").exists() and (home / "artifacts" / run / "models").is_dir()
        record = json.loads((home / "submissions" / f"{run}.json").read_text())
        assert record["run"] == run and record["overrides"]
    assert not (home / "submissions" / "fast.csv").exists()
    assert len(list((home / "artifacts" / "folds").glob("*.parquet"))) == 1  # the folds stay shared
    log = read_log(home / "experiments" / "leaderboard.csv")
    assert sorted(submissions(log)["run"]) == sorted(runs)
    # per submission: the blend's row and one per model (top_class, author_share, linear); the plain run's
    # `make train` logged rows of its own
    assert len(log[log["run"].isin(runs)]) == 2 * 4


def test_a_rerun_with_the_same_set_reuses_the_caches_and_is_one_row(home, tiny_contest):
    before = read_log(home / "experiments" / "leaderboard.csv")
    models = home / "artifacts" / load_experiment("fast", overrides=SET_A).run / "models"
    stamps = {p: p.stat().st_mtime_ns for p in models.glob("*/*")}
    run = make("submit", home, EXP="fast", DATA=tiny_contest, SET=SET_A)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not [line for line in run.stderr.splitlines() if line.startswith("train ")]  # nothing retrained
    assert stamps and {p: p.stat().st_mtime_ns for p in models.glob("*/*")} == stamps
    after = read_log(home / "experiments" / "leaderboard.csv")
    assert len(after) == len(before)  # same data, code and config: the rows are replaced, not added
    assert (after["timestamp"] >= before["timestamp"]).all()


def test_a_model_unchanged_by_the_overrides_is_taken_from_another_run(home, tiny_contest):
    run = make("train", home, EXP="fast", DATA=tiny_contest, SET="baselines.pseudo_count=20", MODELS="linear")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "train linear: fold 1/3 cached (from run fast" in run.stderr


def test_make_compare_prints_json_and_refuses_other_data(home, tiny_contest, tmp_path):
    run = make("compare", home, DATA=tiny_contest, A=f"fast {SET_A}", B=f"fast {SET_A}")
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(result) == {"roc_auc", "f1", "age_f1_weighted", "rutube2024"}
    assert all(r == {"delta": 0.0, "low": 0.0, "high": 0.0, "p_b_better": 0.0} for r in result.values())
    other = tmp_path / "other"
    generate(other, users=300, seed=1, progress=False)
    refused = make("compare", home, DATA=tiny_contest, A="fast", B=f"fast data={other}")
    errors = [line for line in refused.stderr.splitlines() if not line.startswith("make")]
    assert refused.returncode == 2 and len(errors) == 1 and "only runs on the same data" in errors[0]


def test_make_ablate_leaves_each_model_out(home, tiny_contest):
    run = make("ablate", home, EXP="fast", DATA=tiny_contest, SET=SET_A)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    # the SVD embeddings are the linear model's factor block: switching them off retrains it
    assert set(result) == {"without top_class", "without author_share", "without linear", "features.embeddings=false"}
    assert result["without linear"]["rutube2024"]["high"] < 0  # linear carries the blend of the fast experiment
    report = home / "reports" / load_experiment("fast", overrides=SET_A).run
    record = json.loads((report / "ablation.json").read_text())
    assert record["variants"][0]["variant"] == "without linear"  # sorted by effect, most harmful removal first
    assert "without linear" in (report / "ablation.md").read_text()
    assert pd.read_csv(home / "submissions" / f"{record['run']}.csv").shape[0] > 0
