"""How a command hands its MLflow payloads to a logger that runs after it, in the background:

    SOCDEM_HOME/mlflow-pending/<time>-<pid>.json   payloads not logged yet; each is locked (flock) by the
                                                   logger that holds it, from before the file appears
    SOCDEM_HOME/mlflow-pending/.lock               one logger writes at a time (SQLite; find-or-create a run)
    SOCDEM_HOME/mlflow.log                         what the loggers did, one line per payload

`enqueue` writes the file and starts `python -m socdem.evaluate.mlflow_store <file>` in a session of its
own, so the command returns without waiting for MLflow's import or the store. `wait` blocks until no logger
holds a payload: the tests and `make ui` call it before reading the runs, and TRACKING_WAIT=1 makes a command
wait for its own logger (an Airflow task in a pod that ends with the task). A logger also takes the payloads
a failed or killed one left, oldest first; a payload is dropped after TRIES failures.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from socdem.paths import paths

TRIES = 3
LOCK = ".lock"


def pending(root: Path | None = None) -> list[Path]:
    """The payload files not logged yet, oldest first."""
    folder = paths(root).mlflow_pending
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def enqueue(payloads: list[dict], root: Path | None = None) -> subprocess.Popen:
    """Write the payloads (locked, then renamed into place) and start their logger, detached."""
    folder = paths(root).mlflow_pending
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.time_ns()}-{os.getpid()}.json"
    tmp = folder / f".{path.name}.tmp"
    with open(tmp, "x") as fh, open(paths(root).mlflow_log, "a") as log:
        fcntl.flock(fh, fcntl.LOCK_EX)  # passed on to the logger: `wait` waits for it from the start
        json.dump({"tries": 0, "payloads": payloads}, fh)
        fh.flush()
        os.rename(tmp, path)
        argv = [sys.executable, "-m", "socdem.evaluate.mlflow_store", str(path)]
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(fh.fileno(),), start_new_session=True
        )


def held(path: Path) -> bool:
    """Whether a logger holds this payload file now."""
    try:
        with open(path) as fh:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except BlockingIOError:
        return True
    return False


def wait(root: Path | None = None, timeout: float = 300.0) -> list[Path]:
    """Block until no logger holds a payload; the payloads left (their logger failed: see mlflow.log)."""
    deadline = time.monotonic() + timeout
    while busy := [p for p in pending(root) if held(p)]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"tracking: {len(busy)} payload(s) still being logged after {timeout:.0f} s: {busy[0]}")
        time.sleep(0.05)
    return pending(root)
