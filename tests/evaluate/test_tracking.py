"""MLflow tracking for real: a tiny contest's run logged (untracked first, then tracked: a DAG fold task, submit,
its rerun, a public score, an ablation), read back through MlflowClient and through the REST API of `make ui`'s
server, and compared with the leaderboard row, submissions/<RUN>.json, the fold files and ablation.json. The
loggers run in the background; the tests wait for them as `make ui` does. The rest of the suite runs with
TRACKING=off (conftest.py)."""

from __future__ import annotations

import fcntl
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
from socdem.evaluate import mlflow_store
from socdem.evaluate.leaderboard import read_log
from socdem.evaluate.tracking import artifact_location, enabled, experiment_name, track, tracking_uri
from socdem.evaluate.tracking_queue import TRIES, held, pending, wait
from socdem.evaluate.tracking_ui import runs_fragment

BASELINES = "models=['top_class','author_share']"  # two quick models: the tracking, not the models, is tested
METRICS = ["roc_auc", "f1", "accuracy", "age_f1_weighted", "rutube2024"]
STORE_FILES = {"mlflow.db", "mlartifacts", "mlruns", "mlflow-pending", "mlflow.log"}


@pytest.fixture(scope="module")
def tracked(tiny_contest, tmp_path_factory):
    """A home where the run was trained and submitted untracked, then tracked: a DAG fold task, two submits, a
    public score, an ablation, every logger done; the names the home held before tracking was on; the runs."""
    home = tmp_path_factory.mktemp("tracked")
    args = ["--exp", "fast", "--data", str(tiny_contest), "--set", BASELINES]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOCDEM_HOME", str(home))
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        env.delenv("TRACKING_WAIT", raising=False)
        assert main(["train", *args]) == 0 and main(["submit", *args]) == 0  # TRACKING=off (conftest)
        untracked = {p.name for p in home.iterdir()}
        env.setenv("TRACKING", "on")
        assert main(["train", *args, "--models", "top_class", "--folds", "1"]) == 0  # a fold task of the DAG
        assert main(["submit", *args]) == 0
        assert main(["submit", *args]) == 0  # all cache: the same MLflow run, updated
        assert main(["lb", *args, "--score", "0.61"]) == 0
        assert main(["ablate", *args, "--draws", "20"]) == 0
        assert wait(home) == []  # every logger done, none failed
    run = load_experiment("fast", overrides=BASELINES).run
    record = json.loads((home / "submissions" / f"{run}.json").read_text())
    return home, untracked, record, _runs(home, record, tiny_contest)


def _runs(home, record, tiny_contest):
    """(client, the parent run, model -> nested run, ablation variant -> nested run)."""
    client = MlflowClient(tracking_uri(home))
    experiment = client.get_experiment_by_name(experiment_name(tiny_contest, record["data_fingerprint"]))
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]  # the rerun updated its run
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    models = {r.data.tags["socdem.model"]: r for r in nested if "socdem.model" in r.data.tags}
    variants = {r.data.tags["socdem.ablation"]: r for r in nested if "socdem.ablation" in r.data.tags}
    assert len(models) + len(variants) == len(nested) == len(runs) - 1
    return client, parents[0], models, variants


def test_tracking_off_writes_nothing(tracked):
    _, untracked, _, _ = tracked
    assert "submissions" in untracked and not untracked & STORE_FILES


def test_mlflow_agrees_with_the_leaderboard_and_the_record(tracked):
    home, _, record, (client, parent, models, _) = tracked
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


def test_a_fold_task_logs_to_the_run_submit_completes(tracked):
    """The DAG's fold task logged fold 1 on the model's nested run; submit logged every fold there, the same
    values at the same time stamp, so each step holds one value: the fold file's."""
    home, _, record, (client, _, models, _) = tracked
    folder = home / "artifacts" / record["run"] / "models" / "top_class"
    for metric in ("roc_auc", "f1", "seconds"):
        history = client.get_metric_history(models["top_class"].info.run_id, f"train_fold_{metric}")
        saved = [json.loads((folder / f"fold{k}.json").read_text()) for k in range(3)]
        expected = [(k, s["seconds"] if metric == "seconds" else s["scores"][metric]) for k, s in enumerate(saved)]
        assert sorted((h.step, h.value) for h in history) == expected


def test_each_ablation_variant_is_a_nested_run(tracked):
    home, _, record, (client, parent, _, variants) = tracked
    table = json.loads((home / "reports" / record["run"] / "ablation.json").read_text())
    assert set(variants) == {row["variant"] for row in table["variants"]} >= {"without top_class"}
    for row in table["variants"]:
        run = variants[row["variant"]]
        assert run.info.run_name == f"ablation: {row['variant']}" and run.data.tags["socdem.variant_run"] == row["run"]
        for metric, change in row["metrics"].items():
            assert run.data.metrics[metric] == change["b"] and run.data.metrics[f"{metric}_delta"] == change["delta"]
            assert run.data.metrics[f"{metric}_low"] == change["low"] <= change["high"]
        assert run.data.metrics["fit_seconds"] == row["fit_seconds"]
    files = {a.path for a in client.list_artifacts(parent.info.run_id, "ablation")}
    assert files == {"ablation/ablation.md", "ablation/ablation.json"}


def test_a_failed_payload_is_kept_retried_then_dropped(tmp_path):
    """In this process (MLflow is imported already): a payload a logger cannot write stays for the next
    logger, TRIES times; `wait` returns it; a payload a logger holds is waited for."""
    folder = tmp_path / "mlflow-pending"
    folder.mkdir()
    bad = folder / "1-1.json"
    payload = {"uri": "nosuchscheme://store", "experiment": "x", "run": {"name": "r"}}
    bad.write_text(json.dumps({"tries": 0, "payloads": [payload]}))
    for tries in range(1, TRIES):
        assert mlflow_store.log_file({}, bad) is False and json.loads(bad.read_text())["tries"] == tries
    assert not held(bad) and wait(tmp_path, timeout=1) == [bad]
    with open(bad) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # as a logger holds its file
        assert held(bad)
        with pytest.raises(TimeoutError, match="still being logged"):
            wait(tmp_path, timeout=0.1)
    assert mlflow_store.log_file({}, bad) is False and pending(tmp_path) == []  # the last try: dropped


def test_ui_server_serves_the_run_over_rest(tracked, tiny_contest, monkeypatch):
    """`make ui`'s command on loopback: its REST API lists the tiny contest's run with its metrics, and a command
    with MLFLOW_TRACKING_URI set logs through it; Ctrl-C stops it."""
    home, _, record, _ = tracked
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
        # the runs table the command prints beside the URL, read from the store without MLflow
        assert runs_fragment(tracking_uri(home), name) == f"#/experiments/{experiment['experiment_id']}/runs"
        assert runs_fragment(tracking_uri(home), "no such contest") is None
        metrics = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
        assert metrics["roc_auc"] == pytest.approx(record["cv"]["blend"]["roc_auc"])
        monkeypatch.setenv("SOCDEM_HOME", str(home))
        monkeypatch.setenv("TRACKING", "on")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)  # a team's server: the same code logs over HTTP
        args = ["--exp", "fast", "--data", str(tiny_contest), "--set", BASELINES]
        assert main(["lb", *args, "--score", "0.63"]) == 0
        assert wait(home) == []
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
    track(off, lambda: pytest.fail("payloads built with tracking off"), root=tmp_path)
    assert list(tmp_path.iterdir()) == []
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
