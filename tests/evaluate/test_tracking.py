"""MLflow tracking for real: a tiny contest's run logged (untracked first, then tracked, rerun, public score), read
back through MlflowClient and through the REST API of `make ui`'s server, and compared with the leaderboard row
and submissions/<RUN>.json. The rest of the suite runs with TRACKING=off (conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from mlflow.tracking import MlflowClient

from socdem.__main__ import main
from socdem.config import load_experiment
from socdem.evaluate.leaderboard import read_log
from socdem.evaluate.tracking import Tracker, artifact_location, enabled, experiment_name, tracking_uri

BASELINES = "models=['top_class','author_share']"  # two quick models: the tracking, not the models, is tested
METRICS = ["roc_auc", "f1", "accuracy", "age_f1_weighted", "rutube2024"]
STORE_FILES = {"mlflow.db", "mlartifacts", "mlruns"}


@pytest.fixture(scope="module")
def tracked(tiny_contest, tmp_path_factory):
    """A home where the run was trained and submitted untracked, then submitted tracked twice, then given a
    public score; and the names the home held before tracking was on."""
    home = tmp_path_factory.mktemp("tracked")
    args = ["--exp", "fast", "--data", str(tiny_contest), "--set", BASELINES]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOCDEM_HOME", str(home))
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        assert main(["train", *args]) == 0 and main(["submit", *args]) == 0  # TRACKING=off (conftest)
        untracked = {p.name for p in home.iterdir()}
        env.setenv("TRACKING", "on")
        assert main(["submit", *args]) == 0
        assert main(["submit", *args]) == 0  # all cache: the same MLflow run, updated
        assert main(["lb", *args, "--score", "0.61"]) == 0
    run = load_experiment("fast", overrides=BASELINES).run
    record = json.loads((home / "submissions" / f"{run}.json").read_text())
    return home, untracked, record


def _parent_and_models(home, record, tiny_contest):
    client = MlflowClient(tracking_uri(home))
    experiment = client.get_experiment_by_name(experiment_name(tiny_contest, record["data_fingerprint"]))
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]  # the rerun updated its run
    models = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id}
    return client, parents[0], models


def test_tracking_off_writes_nothing(tracked):
    _, untracked, _ = tracked
    assert "submissions" in untracked and not untracked & STORE_FILES


def test_mlflow_agrees_with_the_leaderboard_and_the_record(tracked, tiny_contest):
    home, _, record = tracked
    client, parent, models = _parent_and_models(home, record, tiny_contest)
    assert (home / "mlflow.db").is_file() and parent.info.run_name == record["run"]
    log = read_log(home / "experiments" / "leaderboard.csv")
    log = log[(log["run"] == record["run"]) & (log["submitted"] == "blend")]
    row = log[log["model"] == "blend"].iloc[-1]
    metrics = parent.data.metrics
    for m in METRICS:
        assert metrics[m] == pytest.approx(record["cv"]["blend"][m], abs=1e-12)
        assert metrics[m] == pytest.approx(float(row[m]), abs=1e-6)
        assert metrics[f"{m}_mean"] == pytest.approx(float(row[f"{m}_mean"]), abs=1e-6)
        assert metrics[f"{m}_std"] == pytest.approx(float(row[f"{m}_std"]), abs=1e-6)
    history = client.get_metric_history(parent.info.run_id, "fold_roc_auc")
    assert sorted((h.step, h.value) for h in history) == list(enumerate(record["cv_folds"]["blend"]["roc_auc"]))
    assert metrics["public_score"] == pytest.approx(float(row["public_score"])) == 0.61
    assert metrics["adversarial_roc_auc"] == pytest.approx(record["adversarial_roc_auc"])
    params, tags = parent.data.params, parent.data.tags
    assert params["catboost.depth"] == str(record["config"]["catboost"]["depth"])
    assert json.loads(params["models"]) == record["config"]["models"] == ["top_class", "author_share"]
    assert params["overrides"] == row["overrides"] and params["folds"] == "3" == str(int(row["n_folds"]))
    assert params["labelled_users"] == str(int(row["users"])) == str(record["users"])
    assert tags["data_fingerprint"] == record["data_fingerprint"] == row["data"]
    assert tags["git_commit"] == row["code"] and tags["blend"] == record["blend_description"]
    assert set(models) == {"top_class", "author_share"}
    for name, run in models.items():
        model_row = log[log["model"] == name].iloc[-1]
        assert run.data.metrics["roc_auc"] == pytest.approx(float(model_row["roc_auc"]), abs=1e-6)
        assert run.data.metrics["roc_auc_mean"] == pytest.approx(float(model_row["roc_auc_mean"]), abs=1e-6)
    files = {a.path for a in client.list_artifacts(parent.info.run_id, "submission")}
    assert files == {f"submission/{record['run']}.csv", f"submission/{record['run']}.json"}
    local = client.download_artifacts(parent.info.run_id, f"submission/{record['run']}.csv", str(home / "dl"))
    assert open(local, "rb").read() == (home / "submissions" / f"{record['run']}.csv").read_bytes()


def _api(url: str, path: str, body: dict | None = None, **query) -> dict:
    """GET with a query, or POST a JSON body (MLflow's REST API: runs/search is a POST)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(query)}", data=data)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def test_ui_server_serves_the_run_over_rest(tracked, tiny_contest, monkeypatch):
    """`make ui`'s command on loopback: its REST API lists the tiny contest's run with its metrics, and a command
    with MLFLOW_TRACKING_URI set logs through it; Ctrl-C stops it."""
    home, _, record = tracked
    env = {**os.environ, "SOCDEM_HOME": str(home)}
    ui = subprocess.Popen(
        [sys.executable, "-m", "socdem", "ui"], env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        url = ui.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        for _ in range(240):  # the server takes a while to import on a busy machine
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                assert ui.poll() is None, "the UI server exited"
                time.sleep(0.5)
        name = experiment_name(tiny_contest, record["data_fingerprint"])
        experiment = _api(url, "experiments/get-by-name", experiment_name=name)["experiment"]
        runs = _api(url, "runs/search", {"experiment_ids": [experiment["experiment_id"]]})["runs"]
        (parent,) = [r for r in runs if r["info"]["run_name"] == record["run"]]
        metrics = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
        assert metrics["roc_auc"] == pytest.approx(record["cv"]["blend"]["roc_auc"])
        monkeypatch.setenv("SOCDEM_HOME", str(home))
        monkeypatch.setenv("TRACKING", "on")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)  # a team's server: the same code logs over HTTP
        args = ["--exp", "fast", "--data", str(tiny_contest), "--set", BASELINES]
        assert main(["lb", *args, "--score", "0.63"]) == 0
        run = _api(url, "runs/get", run_id=parent["info"]["run_id"])["run"]
        assert {m["key"]: m["value"] for m in run["data"]["metrics"]}["public_score"] == 0.63
    finally:
        os.killpg(ui.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole group
        try:
            ui.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
            raise
    assert ui.returncode == 0


def test_the_switches_and_where_runs_go(monkeypatch, tmp_path):
    off = load_experiment("fast", overrides="tracking.enabled=false")
    assert off.run == "fast"  # switching tracking off changes no output, so it does not rename the run
    monkeypatch.delenv("TRACKING")
    assert not enabled(off) and enabled(load_experiment("fast"))
    assert Tracker(off).proc is None
    monkeypatch.setenv("TRACKING", "on")
    assert enabled(off)
    monkeypatch.setenv("TRACKING", "off")
    assert not enabled(load_experiment("fast"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert artifact_location(tmp_path) == (tmp_path / "mlartifacts").resolve().as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.team:5000")
    assert tracking_uri(tmp_path) == "http://mlflow.team:5000" and artifact_location(tmp_path) is None


def test_ui_points_at_a_team_server_and_tune_ui_needs_a_study(monkeypatch, socdem_home, tiny_contest, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.team:5000")
    assert main(["ui"]) == 0  # nothing started: the team's server has its own UI
    assert capsys.readouterr().out.strip() == "http://mlflow.team:5000"
    assert main(["tune-ui", "--exp", "fast", "--data", str(tiny_contest)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: tune-ui: no study at") and "make tune" in err and len(err.splitlines()) == 1
