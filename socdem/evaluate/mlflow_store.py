"""The child process that writes to MLflow (`python -m socdem.evaluate.mlflow_store <tracking uri>`).

It imports MLflow and opens the store at once (creating the SQLite file on the first run), then reads
a JSON list of payloads (evaluate/tracking.py) from stdin and logs them: get or create the contest's
experiment, find the parent run by its identity tag (else create it), log its params, tags, metrics and
artifacts, and the same for a nested run per model. An empty list logs nothing.
"""

from __future__ import annotations

import getpass
import json
import logging
import sys

try:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
except ImportError as exc:  # a .venv from before MLflow was pinned: one line, and the run itself stands
    sys.exit(f"tracking: {exc} (run `make setup`, or TRACKING=off)")

BATCH = 100  # MLflow takes at most 100 params or tags per log_batch call
KIND = {"mlflow.experimentKind": "custom_model_development"}  # the UI opens on runs and charts, not GenAI traces


def experiment_id(client: MlflowClient, name: str, artifact_location: str | None) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location, tags=KIND)
    except MlflowException:  # another process created it meanwhile
        return client.get_experiment_by_name(name).experiment_id


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


def create_run(client: MlflowClient, exp_id: str, name: str, tags: dict, parent=None):
    extra = {"mlflow.parentRunId": parent.info.run_id} if parent is not None else {}
    return client.create_run(exp_id, tags={**tags, **extra, "mlflow.user": getpass.getuser()}, run_name=name)


def find_parent(client: MlflowClient, exp_id: str, name: str, key: dict):
    """The run with this identifying tag (the latest), or a new one: reruns update their run."""
    terms = " and ".join(f"tags.`{k}` = {_quoted(v)}" for k, v in key.items())
    found = client.search_runs([exp_id], terms, max_results=1, order_by=["attributes.start_time DESC"])
    return found[0] if found else create_run(client, exp_id, name, key)


def model_runs(client: MlflowClient, exp_id: str, parent) -> dict:
    """model name -> its nested run under `parent`, in one search."""
    runs = client.search_runs([exp_id], f"tags.`mlflow.parentRunId` = {_quoted(parent.info.run_id)}")
    return {r.data.tags.get("socdem.model"): r for r in runs}


def finish(client: MlflowClient, run) -> None:
    if run.info.status != "FINISHED":  # a rerun's run keeps its first end (one write fewer)
        client.set_terminated(run.info.run_id)


def log_run(client: MlflowClient, run, spec: dict, metrics: list, stamp: int) -> None:
    """Params, tags and metrics in batches; a metric without its own time gets `stamp` (no duplicate history)."""
    run_id = run.info.run_id
    params = [Param(k, v) for k, v in spec.get("params", {}).items()]
    tags = [RunTag(k, v) for k, v in spec.get("tags", {}).items()]
    values = [Metric(m[0], m[1], m[3] if len(m) > 3 else stamp, m[2]) for m in metrics]
    for start in range(0, max(len(params), len(tags), len(values), 1), BATCH):
        end = start + BATCH
        client.log_batch(run_id, metrics=values[start:end], params=params[start:end], tags=tags[start:end])


def log_payload(client: MlflowClient, payload: dict) -> str:
    """Log one payload; the parent run's id."""
    exp_id = experiment_id(client, payload["experiment"], payload.get("artifact_location"))
    spec = payload["run"]
    key = {"socdem.identity": spec["identity"]} if spec.get("identity") else {"socdem.run": spec["name"]}
    parent = find_parent(client, exp_id, spec["name"], key)
    stamp = parent.info.start_time
    tags = {**spec.get("tags", {}), "socdem.run": spec["name"]}
    log_run(client, parent, {**spec, "tags": tags}, payload.get("metrics", []), stamp)
    known = model_runs(client, exp_id, parent) if payload.get("children") else {}
    for child in payload.get("children", []):
        model = {"socdem.model": child["name"]}
        run = known.get(child["name"]) or create_run(client, exp_id, child["name"], model, parent)
        log_run(client, run, child, child.get("metrics", []), stamp)
        finish(client, run)
    for path, folder in payload.get("artifacts", []):
        client.log_artifact(parent.info.run_id, path, folder)
    finish(client, parent)
    return parent.info.run_id


def main(argv: list[str]) -> int:
    for name in ("alembic", "mlflow"):  # migrations and store notices are not the user's business
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        client = MlflowClient(tracking_uri=argv[0])
        client.search_experiments(max_results=1)  # opens (or creates) the store while the command works
        payloads = json.load(sys.stdin)
        for payload in payloads:
            log_payload(client, payload)
    except Exception as exc:  # noqa: BLE001  (any failure: one line, and the run itself stands)
        first = (str(exc).splitlines() or [""])[0]
        print(f"tracking: {argv[0]}: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    for payload in payloads:
        print(f"tracking: run {payload['run']['name']} in MLflow experiment {payload['experiment']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
