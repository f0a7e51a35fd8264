"""The logger that writes to MLflow, detached from the command (`python -m socdem.evaluate.mlflow_store <file>`).

It imports MLflow, takes the queue's lock (evaluate/tracking_queue.py), then logs its payload file and any a
failed or killed logger left, oldest first: get or create the contest's experiment, find the parent run by its
identity tag (else create it), log its params, tags, metrics and artifacts, and the same for each nested run
(a model, an ablation variant). A file logged is removed; one that fails is kept for the next logger.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path

try:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
except ImportError as exc:  # a .venv from before MLflow was pinned: one line, and the run itself stands
    sys.exit(f"tracking: {exc} (run `make setup`, or TRACKING=off)")

from socdem.evaluate.tracking_queue import LOCK, TRIES

BATCH = 100  # MLflow takes at most 100 params or tags per log_batch call
KEYS = ("socdem.model", "socdem.ablation")  # the tag that names a nested run: a model, an ablation variant
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


def nested_runs(client: MlflowClient, exp_id: str, parent) -> dict:
    """(tag, value) -> the nested run under `parent` that has it, for the tags that name one (KEYS), in one search."""
    runs = client.search_runs([exp_id], f"tags.`mlflow.parentRunId` = {_quoted(parent.info.run_id)}")
    return {(k, r.data.tags[k]): r for r in runs for k in KEYS if k in r.data.tags}


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
    known = nested_runs(client, exp_id, parent) if payload.get("children") else {}
    for child in payload.get("children", []):
        key = child.get("key") or {"socdem.model": child["name"]}
        run = known.get(next(iter(key.items()))) or create_run(client, exp_id, child["name"], key, parent)
        log_run(client, run, child, child.get("metrics", []), stamp)
        finish(client, run)
    for path, folder in payload.get("artifacts", []):
        client.log_artifact(parent.info.run_id, path, folder)
    finish(client, parent)
    return parent.info.run_id


def say(message: str) -> None:
    print(f"{datetime.now():%Y-%m-%d %H:%M:%S} {message}", flush=True)


def log_file(clients: dict, path: Path) -> bool:
    """Log one payload file and remove it; on failure keep it for the next logger (or drop it after TRIES)."""
    started, queued = time.perf_counter(), {}
    try:
        queued = json.loads(path.read_text())
        for payload in queued["payloads"]:
            uri = payload["uri"]
            client = clients.get(uri) or clients.setdefault(uri, MlflowClient(tracking_uri=uri))
            log_payload(client, payload)
    except Exception as exc:  # noqa: BLE001  (any failure: one line; the run itself is complete)
        first = (str(exc).splitlines() or [""])[0]
        tries = queued.get("tries", 0) + 1
        kept = f"kept for the next logger (try {tries} of {TRIES})" if tries < TRIES else "dropped"
        say(f"tracking: {path.name}: {type(exc).__name__}: {first}; {kept}")
        if tries < TRIES and queued:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps({**queued, "tries": tries}))
            os.replace(tmp, path)
        else:
            path.unlink(missing_ok=True)
        return False
    path.unlink()
    for payload in queued["payloads"]:
        run = payload["run"]["name"]
        say(f"tracking: run {run} in MLflow experiment {payload['experiment']} ({time.perf_counter() - started:.1f} s)")
    return True


def main(argv: list[str]) -> int:
    """Log `argv[0]` (whose lock this process inherited) and the unheld files a failed logger left."""
    for name in ("alembic", "mlflow"):  # migrations and store notices are not the user's business
        logging.getLogger(name).setLevel(logging.WARNING)
    own = Path(argv[0])
    clients, ok = {}, True
    with open(own.parent / LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # MLflow is imported: now one writer at a time
        for path in sorted(own.parent.glob("*.json")):
            if path == own:
                ok &= log_file(clients, path)
                continue
            try:
                fh = open(path)
            except FileNotFoundError:  # logged meanwhile
                continue
            with fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # another logger's, waiting for the lock: it logs its own
                    continue
                if path.exists():
                    ok &= log_file(clients, path)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
