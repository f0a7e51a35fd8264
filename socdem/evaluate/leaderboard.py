"""The leaderboard log: one CSV row per submission, printed as a table, with
the public leaderboard score recorded later by `make lb`.

Columns are only ever added at the end; a log written before a column existed
is read (and rewritten) with that column empty. Every write holds a lock file
beside the log, and rewrites are atomic.
"""

from __future__ import annotations

import csv
import fcntl
import os
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from socdem.features.adversarial import WARN_ROC_AUC
from socdem.io import atomic_path
from socdem.schema import PRIMARY_METRIC

COLUMNS = [
    "timestamp",
    "experiment",
    "data",
    "submitted",
    "f1",
    "roc_auc",
    "accuracy",
    "age_f1_weighted",
    "rutube2024",
    "best_single",
    "models",
    "submission",
    "public_score",
    "blend",
    "threshold",
    "public_at",
    "adversarial_roc_auc",
]
CV_COLUMNS = ["rutube2024", "roc_auc", "f1", "age_f1_weighted"]


class LeaderboardError(ValueError):
    """A `make lb` request that cannot be recorded; one line for the user."""


def _fmt(value) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _read_rows(path: Path) -> tuple[list[str], list[dict]]:
    if not path.exists() or path.stat().st_size == 0:
        return [], []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _rewrite(path: Path, header: list[str], rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _header_with_ours(header: list[str]) -> list[str]:
    return header + [c for c in COLUMNS if c not in header]


def append_entry(
    path: Path,
    experiment: str,
    data_fp: str,
    submitted: str,
    cv: dict,
    best_single: str,
    submission: Path,
    blend: str = "",
    threshold: float | None = None,
    adversarial_roc_auc: float | None = None,
) -> dict:
    scores = cv[submitted]
    models = ";".join(
        f"{name}:" + "/".join(_fmt(s.get(k)) for k in ("roc_auc", "f1", "age_f1_weighted")) for name, s in cv.items()
    )
    row = {
        "timestamp": _now(),
        "experiment": experiment,
        "data": data_fp,
        "submitted": submitted,
        **{k: _fmt(scores.get(k)) for k in COLUMNS[4:9]},
        "best_single": best_single,
        "models": models,
        "submission": str(submission),
        "public_score": "",
        "blend": blend,
        "threshold": "" if threshold is None else f"{threshold:.6f}",
        "public_at": "",
        "adversarial_roc_auc": _fmt(adversarial_roc_auc),
    }
    path = Path(path)
    with _locked(path):
        header, rows = _read_rows(path)
        if header and header == _header_with_ours(header):
            with open(path, "a", newline="") as fh:
                csv.DictWriter(fh, fieldnames=header, restval="", extrasaction="ignore").writerow(row)
        else:  # a new log, or one written before our last columns existed
            _rewrite(path, _header_with_ours(header), rows + [row])
    return row


def _same_file(a: str, b: str, base: Path) -> bool:
    def forms(p: str) -> set:
        return {os.path.normpath(os.path.abspath(p)), os.path.normpath(os.path.abspath(base / p))}

    return bool(forms(a) & forms(b))


def record_public_score(path: Path, submission, score: float, base: Path = Path(".")) -> dict:
    """Set the public score of the latest log row of `submission` (matched by
    path; relative paths are tried from the current folder and from `base`)."""
    path = Path(path)
    try:
        score = float(score)
    except (TypeError, ValueError):
        raise LeaderboardError(
            f"lb: SCORE must be a number, got {score!r} (make lb SUB=<csv> SCORE=<number>)"
        ) from None
    if not np.isfinite(score):
        raise LeaderboardError(f"lb: SCORE must be a finite number, got {score!r}")
    with _locked(path):
        header, rows = _read_rows(path)
        if "submission" not in header:
            raise LeaderboardError(f"{path}: no submissions logged yet (run `make submit` first)")
        hits = [
            i
            for i, row in enumerate(rows)
            if row.get("submission") and _same_file(row["submission"], str(submission), base)
        ]
        if not hits:
            known = sorted({row["submission"] for row in rows if row.get("submission")})
            raise LeaderboardError(
                f"{path}: column 'submission': no row for {submission} (logged: {', '.join(known) or 'none'})"
            )
        row = rows[hits[-1]]  # the log is appended in time order: the last hit is the latest
        row["public_score"], row["public_at"] = repr(score), _now()
        _rewrite(path, _header_with_ours(header), rows)
    return row


def read_log(path: Path) -> pd.DataFrame:
    if not Path(path).exists() or Path(path).stat().st_size == 0:
        return pd.DataFrame(columns=COLUMNS)
    log = pd.read_csv(path, dtype={"data": str, "submission": str, "blend": str, "public_at": str})
    for column in COLUMNS:
        if column not in log:
            log[column] = np.nan
    return log


def _model_auc(models: str, name: str) -> float:
    """ROC-AUC of `name` from the `models` column (name:roc/f1/age;...)."""
    for part in str(models).split(";"):
        model, _, values = part.partition(":")
        if model == name and values.split("/")[0]:
            return float(values.split("/")[0])
    return float("nan")


def submissions(log: pd.DataFrame) -> pd.DataFrame:
    """Only submission rows (other row kinds, e.g. train-time rows, have no submission path)."""
    return log[log["submission"].notna() & (log["submission"].astype(str).str.len() > 0)]


def cv_public_correlation(log: pd.DataFrame) -> list[str]:
    recorded = submissions(log).dropna(subset=["public_score"])
    if len(recorded) < 3:
        return []
    lines = []
    for column in CV_COLUMNS:
        pair = recorded[[column, "public_score"]].apply(pd.to_numeric, errors="coerce").dropna()
        if len(pair) >= 3 and pair[column].nunique() > 1 and pair["public_score"].nunique() > 1:
            pearson = pair[column].corr(pair["public_score"])
            spearman = pair[column].rank().corr(pair["public_score"].rank())
            lines.append(
                f"  CV {column:<16} vs public: Pearson {pearson:+.3f}, Spearman {spearman:+.3f} (n={len(pair)})"
            )
    return ["correlation of CV and public scores:"] + (lines or ["  (not computable: constant scores)"])


def format_table(log: pd.DataFrame) -> str:
    log = submissions(log)
    if log.empty:
        return "leaderboard: no submissions yet (run `make submit`)"
    shown = log.sort_values("roc_auc", ascending=False, kind="mergesort").copy()
    best_auc = np.array([_model_auc(m, b) for m, b in zip(shown["models"], shown["best_single"])])
    shown["time"] = shown["timestamp"].astype(str).str.replace("T", " ").str.rstrip("Z").str.slice(0, 16)
    shown["best_single"] = [
        f"{b} {a:.4f}" if np.isfinite(a) else str(b) for b, a in zip(shown["best_single"], best_auc)
    ]
    shown["gain_auc"] = [
        f"{r - a:+.4f}" if np.isfinite(a) else "" for r, a in zip(pd.to_numeric(shown["roc_auc"]), best_auc)
    ]
    adversarial = pd.to_numeric(shown["adversarial_roc_auc"], errors="coerce")
    shown["adv_auc"] = [
        "" if not np.isfinite(a) else f"{a:.3f}!" if a > WARN_ROC_AUC else f"{a:.3f}" for a in adversarial
    ]
    shown = shown.rename(columns={"age_f1_weighted": "age_f1", "public_score": "public"})
    cols = ["time", "experiment", "f1", "roc_auc", "age_f1", "rutube2024", "best_single", "gain_auc", "public"]
    cols += ["adv_auc", "blend"]
    table = shown[cols].astype(object).where(shown[cols].notna(), "")
    lines = [table.to_string(index=False, float_format=lambda v: f"{v:.4f}")]
    if (adversarial > WARN_ROC_AUC).any():
        lines.append(
            f"! adversarial ROC-AUC > {WARN_ROC_AUC}: the test users differ from the labelled ones; "
            "local CV may not track the public score"
        )
    lines += cv_public_correlation(log)
    return "\n".join(lines)


def log_submission(ws, record: dict) -> dict:
    """The leaderboard row of a `make submit` (its record from pipeline.submit)."""
    return append_entry(
        ws.paths.leaderboard,
        ws.exp.name,
        ws.data_fp,
        "blend",
        record["cv"],
        record["best_single"],
        record["submission"],
        blend=record["blend_description"],
        threshold=record["threshold"],
        adversarial_roc_auc=record.get("adversarial_roc_auc"),
    )


def log_training(ws, cv: dict) -> dict:
    """One row per `make train`: submitted="(train)" (the best model's CV scores) and no
    submission path, so it never reads as, nor duplicates, `make submit`'s line."""
    metric = PRIMARY_METRIC[ws.exp.contest]
    best = max(cv, key=lambda name: cv[name].get(metric, float("-inf")))
    return append_entry(ws.paths.leaderboard, ws.exp.name, ws.data_fp, "(train)", {"(train)": cv[best], **cv}, best, "")
