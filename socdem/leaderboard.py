"""The leaderboard log: one CSV line per submission, printed as a table."""
from __future__ import annotations

import csv
import fcntl
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

COLUMNS = [
    "timestamp", "experiment", "data", "submitted", "f1", "roc_auc", "accuracy",
    "age_f1_weighted", "rutube2024", "best_single", "models", "submission", "public_score",
]


def _fmt(value) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def append_entry(path: Path, experiment: str, data_fp: str, submitted: str, cv: dict, best_single: str, submission: Path) -> dict:
    scores = cv[submitted]
    models = ";".join(
        f"{name}:" + "/".join(_fmt(s.get(k)) for k in ("roc_auc", "f1", "age_f1_weighted")) for name, s in cv.items()
    )
    row = {
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "experiment": experiment,
        "data": data_fp, "submitted": submitted, **{k: _fmt(scores.get(k)) for k in COLUMNS[4:9]},
        "best_single": best_single, "models": models, "submission": str(submission), "public_score": "",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as fh:  # appends are small; the lock keeps parallel runs' lines whole
        fcntl.flock(fh, fcntl.LOCK_EX)
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        if fh.tell() == 0:
            writer.writeheader()
        writer.writerow(row)
    return row


def read_log(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path, dtype={"data": str})


def format_table(log: pd.DataFrame) -> str:
    if log.empty:
        return "leaderboard: no submissions yet (run `make submit`)"
    shown = log.sort_values("roc_auc", ascending=False, kind="mergesort")
    cols = ["timestamp", "experiment", "submitted", "roc_auc", "f1", "age_f1_weighted", "rutube2024", "best_single", "public_score"]
    return shown[cols].fillna("").to_string(index=False)
