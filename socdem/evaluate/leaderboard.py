"""The leaderboard log: one CSV row per submission and model, printed as a table that answers
"did it help?", with the public leaderboard score recorded later by `make lb`.

A `make submit` writes one row with `model` = "blend" (the submission: what `make lb` scores)
and one row per model of the blend, all sharing the run's `identity` (run, data, code, config):
a rerun with the same identity replaces its rows, keeping a recorded public score. Each row
carries the pooled out-of-fold scores and their mean and standard deviation over the folds.

Columns are only ever added at the end; a log written before a column existed is read (and
rewritten) with that column empty. Old rows (before `model` existed) are one per submission and
keep their packed `models` text, which is shown nowhere and never parsed. Every write holds a
lock file beside the log, and rewrites are atomic.
"""

from __future__ import annotations

import csv
import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from socdem.evaluate.provenance import code_state
from socdem.features.adversarial import WARN_ROC_AUC
from socdem.io import atomic_path, hash_object
from socdem.schema import PRIMARY_METRIC

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

METRICS = ["f1", "roc_auc", "accuracy", "age_f1_weighted", "rutube2024"]
COLUMNS = [
    "timestamp",
    "experiment",
    "data",
    "submitted",
    *METRICS,
    "best_single",
    "models",  # old logs only: every model's scores packed in one string; new rows leave it empty
    "submission",
    "public_score",
    "blend",
    "threshold",
    "public_at",
    # since the log is one row per submission and model:
    "model",  # "blend" for the submission's row, else the model's name
    "run",
    "overrides",
    "data_dir",
    "users",
    "code",
    "dirty",
    "identity",
    "metric",
    "best_score",
    "gain",
    "seconds",
    "n_folds",
    *[f"{m}_{stat}" for m in METRICS for stat in ("mean", "std")],
    "adversarial_roc_auc",  # test vs labelled users (make eda); above WARN_ROC_AUC, CV may not track the public score
]
CV_COLUMNS = ["rutube2024", "roc_auc", "f1", "age_f1_weighted"]
BLEND = "blend"


class LeaderboardError(ValueError):
    """A `make lb` request that cannot be recorded; one line for the user."""


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return f"{value:.6f}" if isinstance(value, float) else str(value)


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


def _is_headline(row: dict) -> bool:
    """The submission's own row: model "blend", or any row of a log from before `model` existed."""
    return row.get("model", "") in ("", BLEND)


def _score_cells(scores: dict, folds: dict | None) -> dict:
    cells = {m: _fmt(scores.get(m)) for m in METRICS}
    for m, values in (folds or {}).items():
        values = np.asarray(values, dtype=np.float64)
        if m in METRICS and len(values) and np.isfinite(values).all():
            cells[f"{m}_mean"] = _fmt(float(values.mean()))
            cells[f"{m}_std"] = _fmt(float(values.std(ddof=1)) if len(values) > 1 else 0.0)
    return cells


@dataclass
class LeaderboardEntry:
    """One submission (or training) of a run, as the leaderboard logs it. `submitted` names the
    submission's own scores in `cv` (the blend); a training ("(train)") has none."""

    experiment: str
    data_fp: str
    submitted: str
    cv: dict  # model (and the blend) -> pooled out-of-fold scores
    best_single: str
    submission: Path | str
    blend: str = ""  # the chosen blend per target, one line
    threshold: float | None = None
    run: str = ""  # the experiment's name when empty
    overrides: str = ""
    data_dir: str = ""
    users: int | None = None
    config: dict | None = None
    metric: str = ""  # what ranks the rows; empty: the Rutube-2024 score when the scores have it
    cv_folds: dict | None = None  # model -> metric -> one score per fold
    seconds: dict | None = None  # model (and the blend) -> seconds
    adversarial_roc_auc: float | None = None


def append_entry(path: Path, entry: LeaderboardEntry) -> list[dict]:
    """Log one submission (or training) of a run: a row for `entry.submitted` (the blend, the
    submission's scores) and one per other model of `entry.cv`. Rows of an earlier run with the same
    identity (run, data, code, config) and the same `submitted` are replaced; their public score is kept."""
    code = code_state()
    run = entry.run or entry.experiment
    identity = _identity(run, entry.data_fp, entry.config)
    metric = entry.metric or ("rutube2024" if any("rutube2024" in s for s in entry.cv.values()) else "roc_auc")
    common = _common_cells(entry, run, identity, metric, code)
    rows = _submission_rows(entry, common, metric) + _model_rows(entry, common)
    _write_rows(Path(path), rows, identity, entry.submitted)
    return rows


def _identity(run: str, data_fp: str, config: dict | None) -> str:
    """Which rows a rerun replaces: same run, data, code and config ("" without a config: never replaced)."""
    code_id = code_state()["code_id"]
    return hash_object([run, data_fp, code_id, config]) if code_id and config is not None else ""


def run_identity(ws: Workspace) -> str:
    """The identity the leaderboard gives the workspace's run (MLflow finds its parent run by it)."""
    return _identity(ws.exp.run, ws.data_fp, ws.exp.to_dict())


def _common_cells(entry: LeaderboardEntry, run: str, identity: str, metric: str, code: dict) -> dict:
    """The cells every row of the entry shares: when, what, on which data, from which code."""
    common = {
        "timestamp": _now(),
        "experiment": entry.experiment,
        "data": entry.data_fp,
        "submitted": entry.submitted,
        "submission": str(entry.submission),
        "run": run,
        "overrides": entry.overrides,
        "data_dir": entry.data_dir,
        "users": "" if entry.users is None else str(entry.users),
        "code": code["code"],
        "dirty": "" if code["dirty"] is None else str(code["dirty"]).lower(),
        "identity": identity,
        "metric": metric,
        "adversarial_roc_auc": "" if entry.adversarial_roc_auc is None else f"{entry.adversarial_roc_auc:.4f}",
    }
    n_folds = {len(v) for f in (entry.cv_folds or {}).values() for v in f.values()}
    if n_folds:
        common["n_folds"] = str(max(n_folds))
    return common


def _submission_rows(entry: LeaderboardEntry, common: dict, metric: str) -> list[dict]:
    """The submission's row (the blend: its gain over the best single model, its threshold, the whole
    run's seconds); none for a training."""
    if entry.submitted not in entry.cv:
        return []
    head_scores, best = entry.cv[entry.submitted], entry.cv.get(entry.best_single, {}).get(metric)
    seconds = entry.seconds or {}
    total_seconds = sum(float(v) for v in seconds.values()) if seconds else None
    row = {
        **common,
        "model": entry.submitted,
        **_score_cells(head_scores, (entry.cv_folds or {}).get(entry.submitted)),
        "best_single": entry.best_single,
        "best_score": _fmt(best),
        "gain": _fmt(head_scores.get(metric) - best) if best is not None and metric in head_scores else "",
        "blend": entry.blend,
        "threshold": "" if entry.threshold is None else f"{entry.threshold:.6f}",
        "seconds": _fmt(round(total_seconds, 2)) if total_seconds is not None else "",
    }
    return [row]


def _model_rows(entry: LeaderboardEntry, common: dict) -> list[dict]:
    """One row per model of the entry other than the submission."""
    seconds = entry.seconds or {}
    return [
        {
            **common,
            "model": name,
            **_score_cells(scores, (entry.cv_folds or {}).get(name)),
            "seconds": _fmt(seconds.get(name)),
        }
        for name, scores in entry.cv.items()
        if name != entry.submitted
    ]


def _write_rows(path: Path, rows: list[dict], identity: str, submitted: str) -> None:
    """Append the rows, or rewrite the log without the rows they replace (same identity and
    `submitted`; the submission's public score carried over) or with a header of new columns."""
    with _locked(path):
        header, old = _read_rows(path)
        replaced = [r for r in old if identity and r.get("identity") == identity and r.get("submitted") == submitted]
        for row in replaced:
            if _is_headline(row) and row.get("public_score") and rows and _is_headline(rows[0]):
                rows[0]["public_score"], rows[0]["public_at"] = row["public_score"], row.get("public_at", "")
        if not replaced and header and header == _header_with_ours(header):
            with open(path, "a", newline="") as fh:
                csv.DictWriter(fh, fieldnames=header, restval="", extrasaction="ignore").writerows(rows)
        else:  # a new log, one written before our last columns existed, or a rerun replacing its rows
            kept = [r for r in old if not any(r is x for x in replaced)]
            _rewrite(path, _header_with_ours(header), kept + rows)


def _same_file(a: str, b: str, base: Path) -> bool:
    def forms(p: str) -> set:
        return {os.path.normpath(os.path.abspath(p)), os.path.normpath(os.path.abspath(base / p))}

    return bool(forms(a) & forms(b))


def record_public_score(path: Path, submission, score: float, base: Path = Path(".")) -> dict:
    """Set the public score of the latest submission row of `submission` (matched by path;
    relative paths are tried from the current folder and from `base`)."""
    path = Path(path)
    try:
        score = float(score)
    except (TypeError, ValueError):
        raise LeaderboardError(
            f"lb: SCORE must be a number, got {score!r} (make lb SUB=<csv> SCORE=<number>)"
        ) from None
    if not np.isfinite(score):
        raise LeaderboardError(f"lb: SCORE must be a finite number, got {score!r}")
    if not 0.0 <= score <= 1.0:  # every contest metric here (F1, ROC-AUC, the Rutube-2024 score) lies in 0..1
        raise LeaderboardError(f"lb: SCORE must lie in 0..1 (the metric's range), got {score!r}")
    with _locked(path):
        header, rows = _read_rows(path)
        if "submission" not in header:
            raise LeaderboardError(f"{path}: no submissions logged yet (run `make submit` first)")
        hits = [
            i
            for i, row in enumerate(rows)
            if row.get("submission") and _is_headline(row) and _same_file(row["submission"], str(submission), base)
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


TEXT_COLUMNS = (
    "data", "submission", "blend", "public_at", "model", "run", "overrides", "data_dir", "code", "dirty", "identity",
    "models", "best_single", "submitted", "experiment", "metric", "timestamp",
)  # fmt: skip


def read_log(path: Path) -> pd.DataFrame:
    """The log as a frame with every known column (missing ones empty): old logs read as they are."""
    if not Path(path).exists() or Path(path).stat().st_size == 0:
        return pd.DataFrame(columns=COLUMNS)
    log = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS})
    for column in COLUMNS:
        if column not in log:
            log[column] = pd.Series(np.nan, index=log.index, dtype=object if column in TEXT_COLUMNS else "float64")
    return log


def submissions(log: pd.DataFrame) -> pd.DataFrame:
    """Only submission rows, one per submission (not its models' rows, nor train-time rows)."""
    has_path = log["submission"].notna() & (log["submission"].astype(str).str.len() > 0)
    return log[has_path & (log["model"].isna() | (log["model"] == BLEND))]


def latest_per_identity(rows: pd.DataFrame) -> pd.DataFrame:
    """Reruns with the same run, data, code and config are one row: the latest (old rows have no identity)."""
    if rows.empty:
        return rows
    key = rows["identity"].where(rows["identity"].notna(), pd.Series(rows.index.astype(str), index=rows.index))
    key = key + "|" + rows["model"].fillna(BLEND).astype(str) + "|" + rows["submitted"].astype(str)
    return rows[~key.duplicated(keep="last")]


def select_data(log: pd.DataFrame, data: str | list | None = None) -> tuple[pd.DataFrame, str]:
    """Rows of one contest: `data` = fingerprints (or a prefix, or a folder name); None: the latest
    row's data; "all": every row. Returns (rows, a description of the filter)."""
    if log.empty or data == "all":
        return log, "all data"
    if data is None:
        latest = log.sort_values("timestamp", kind="mergesort").iloc[-1]
        data = [str(latest["data"])]
    wanted = [data] if isinstance(data, str) else list(data)
    fp = log["data"].astype(str)
    keep = fp.isin(wanted) | fp.str.startswith(tuple(wanted)) | log["data_dir"].isin(wanted)
    return log[keep], "data " + ", ".join(w[:8] if len(w) >= 16 else w for w in wanted)


def _number(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce")


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


def primary_metric(rows: pd.DataFrame) -> str:
    """The metric that ranks these rows: what they were logged with, else the Rutube-2024 score if any."""
    logged = rows["metric"].dropna()
    if len(logged):
        return str(logged.iloc[-1])
    return "rutube2024" if _number(rows, "rutube2024").notna().any() else PRIMARY_METRIC["jmlc"]


def score_text(rows: pd.DataFrame, metric: str) -> list[str]:
    """`mean ± std` over the folds where logged, else the pooled out-of-fold score (old rows)."""
    mean, std, pooled = _number(rows, f"{metric}_mean"), _number(rows, f"{metric}_std"), _number(rows, metric)
    return [
        f"{m:.4f}±{s:.4f}" if np.isfinite(m) and np.isfinite(s) else (f"{p:.4f}" if np.isfinite(p) else "")
        for m, s, p in zip(mean, std, pooled)
    ]


def _data_text(row) -> str:
    parts = [str(row["data_dir"]) if pd.notna(row["data_dir"]) else ""]
    users = pd.to_numeric(pd.Series([row["users"]]), errors="coerce").iloc[0]
    parts.append(f"{int(users):,}u" if np.isfinite(users) else "")
    parts.append(str(row["data"])[:6] if pd.notna(row["data"]) else "")
    return " ".join(p for p in parts if p)


def _code_text(row) -> str:
    if pd.isna(row["code"]) or not str(row["code"]):
        return ""
    return str(row["code"]) + ("*" if str(row["dirty"]).lower() == "true" else "")


def _seconds_text(value) -> str:
    value = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if not np.isfinite(value):
        return ""
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def _context(rows: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=rows.index)
    out["time"] = rows["timestamp"].astype(str).str.replace("T", " ").str.rstrip("Z").str.slice(0, 16)
    out["experiment"] = rows["experiment"].astype(str)
    out["overrides"] = rows["overrides"].fillna("").astype(str)
    out["data"] = [_data_text(r) for _, r in rows.iterrows()]
    out["code"] = [_code_text(r) for _, r in rows.iterrows()]
    return out


def _shown_metrics(rows: pd.DataFrame) -> list[str]:
    return [m for m in CV_COLUMNS if _number(rows, m).notna().any() or _number(rows, f"{m}_mean").notna().any()]


def format_table(log: pd.DataFrame, data: str | list | None = None, models: str | None = None) -> str:
    """The leaderboard of one contest (`data`, see select_data), best CV first; `models`: "1"/"all"
    for a row per model of each submission, or a comma-separated list of models to show."""
    rows, where = select_data(log, data)
    heads = latest_per_identity(submissions(rows))
    if heads.empty:
        return "leaderboard: no submissions yet (run `make submit`)"
    metric = primary_metric(heads)
    if models:
        return _model_table(rows, heads, models, metric, where)
    order = _number(heads, f"{metric}_mean").fillna(_number(heads, metric))
    heads = heads.loc[order.sort_values(ascending=False, kind="mergesort").index]
    table = _context(heads)
    for m in _shown_metrics(heads):
        table[m.replace("age_f1_weighted", "age_f1")] = score_text(heads, m)
    best_score = _number(heads, "best_score")
    table["best_single"] = [
        f"{b} {s:.4f}" if np.isfinite(s) else ("" if pd.isna(b) else str(b))
        for b, s in zip(heads["best_single"], best_score)
    ]
    table["gain"] = [f"{g:+.4f}" if np.isfinite(g) else "" for g in _number(heads, "gain")]
    table["wall"] = [_seconds_text(s) for s in heads["seconds"]]
    table["public"] = [f"{p:.4f}" if np.isfinite(p) else "" for p in _number(heads, "public_score")]
    adversarial = _number(heads, "adversarial_roc_auc")
    table["adv_auc"] = [
        "" if not np.isfinite(a) else f"{a:.3f}!" if a > WARN_ROC_AUC else f"{a:.3f}" for a in adversarial
    ]
    lines = [
        f"leaderboard ({where}; CV mean±std over folds, ranked by {metric}; gain: blend − best single; * dirty tree)",
        table.to_string(index=False),
    ]
    if (adversarial > WARN_ROC_AUC).any():
        lines.append(
            f"! adversarial ROC-AUC > {WARN_ROC_AUC}: the test users differ from the labelled ones; "
            "local CV may not track the public score"
        )
    lines += cv_public_correlation(heads)
    return "\n".join(lines)


def _model_table(rows: pd.DataFrame, heads: pd.DataFrame, models: str, metric: str, where: str) -> str:
    wanted = None if models.strip().lower() in ("1", "all", "true", "yes") else set(models.replace(",", " ").split())
    shown = set(zip(heads["identity"].dropna(), heads["timestamp"]))  # the models of the submissions shown
    of_shown = np.array([(i, t) in shown for i, t in zip(rows["identity"], rows["timestamp"])], dtype=bool)
    per_model = rows[of_shown & rows["model"].notna().to_numpy() & (rows["submitted"] == BLEND).to_numpy()]
    if wanted is not None:
        per_model = per_model[per_model["model"].isin(wanted)]
    if per_model.empty:
        return f"leaderboard ({where}): no per-model rows (logged since the log has a row per model)"
    order = _number(per_model, f"{metric}_mean").fillna(_number(per_model, metric))
    per_model = per_model.assign(_order=order).sort_values(["timestamp", "_order"], ascending=[False, False])
    table = _context(per_model)
    table["model"] = per_model["model"].astype(str)
    for m in _shown_metrics(per_model):
        table[m.replace("age_f1_weighted", "age_f1")] = score_text(per_model, m)
    table["wall"] = [_seconds_text(s) for s in per_model["seconds"]]
    return "\n".join([f"leaderboard per model ({where}; CV mean±std over folds)", table.to_string(index=False)])


def log_submission(ws: Workspace, record: dict) -> list[dict]:
    """The leaderboard rows of a `make submit` (its record from pipeline.submit)."""
    entry = LeaderboardEntry(
        ws.exp.name,
        ws.data_fp,
        BLEND,
        record["cv"],
        record["best_single"],
        record["submission"],
        blend=record["blend_description"],
        threshold=record["threshold"],
        **_run_fields(ws),
        metric=record["ranked_by"],
        cv_folds=record.get("cv_folds"),
        seconds=record.get("seconds"),
        adversarial_roc_auc=record.get("adversarial_roc_auc"),
    )
    return append_entry(ws.paths.leaderboard, entry)


def log_training(ws: Workspace, cv: dict, seconds: dict | None = None) -> list[dict]:
    """One row per model of a `make train`: submitted="(train)" and no submission path, so they
    never read as, nor duplicate, `make submit`'s rows."""
    metric = PRIMARY_METRIC[ws.exp.contest]
    best = max(cv, key=lambda name: cv[name].get(metric, float("-inf")))
    entry = LeaderboardEntry(
        ws.exp.name, ws.data_fp, "(train)", cv, best, "", **_run_fields(ws), metric=metric, seconds=seconds
    )
    return append_entry(ws.paths.leaderboard, entry)


def _run_fields(ws: Workspace) -> dict:
    return {
        "run": ws.exp.run,
        "overrides": ws.exp.overrides_text(),
        "data_dir": Path(ws.data_dir).name,
        "users": len(ws.contest.targets),
        "config": ws.exp.to_dict(),
    }
