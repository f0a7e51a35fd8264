"""`make ui` (MLflow's UI on the tracking store) and `make tune-ui` (optuna-dashboard on the tuning study):
each on 127.0.0.1 at a free port, the URL printed first, stopped by Ctrl-C."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from socdem.evaluate.tracking import tracking_uri
from socdem.paths import paths

HOST = "127.0.0.1"  # loopback only: the store holds the runs' config and data paths
# no background job workers (they serve MLflow's GenAI features, and outlive a killed server)
UI_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _tool(name: str) -> str:
    """The console script of a package installed beside this interpreter (the project's .venv)."""
    return str(Path(sys.executable).parent / name)


def mlflow_ui_command(port: int, root: Path | None = None) -> list[str]:
    """`mlflow ui` on the store (one worker: a person's browser is its only client)."""
    artifacts = paths(root).mlflow_artifacts.resolve().as_uri()
    store = ["--backend-store-uri", tracking_uri(root), "--default-artifact-root", artifacts]
    return [_tool("mlflow"), "ui", *store, "--host", HOST, "--port", str(port), "--workers", "1"]


def runs_fragment(uri: str, experiment: str) -> str | None:
    """The UI's address of an experiment's runs table (`#/experiments/<id>/runs`), read from the SQLite store
    without importing MLflow; None when the store or the experiment is not there. MLflow 3's UI opens a new
    browser on its GenAI pages, so `make ui` prints the contest's runs table too."""
    path = Path(uri.removeprefix("sqlite:///"))
    if not uri.startswith("sqlite:///") or not path.is_file():
        return None
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
            row = db.execute("SELECT experiment_id FROM experiments WHERE name = ?", (experiment,)).fetchone()
    except sqlite3.Error:  # a store MLflow has not finished creating
        return None
    return f"#/experiments/{row[0]}/runs" if row else None


def dashboard_command(storage: str, port: int) -> list[str]:
    """optuna-dashboard on a study's storage: the journal file `make tune` writes, or an RDB URL (STORAGE=)."""
    return [_tool("optuna-dashboard"), storage, "--host", HOST, "--port", str(port)]


def serve(argv: list[str], what: str, port: int, log=print, env: dict | None = None) -> int:
    """Run the server until Ctrl-C (which reaches it too: same process group); its URL first, on stdout."""
    url = f"http://{HOST}:{port}"
    print(url, flush=True)
    log(f"{what} at {url} (Ctrl-C stops it)")
    proc = subprocess.Popen(argv, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0 if proc.wait() in (0, -2, 130) else proc.returncode
