"""Every run in MLflow: what `make train`, `submit`, `report`, `ablate`, `compare` and `lb` log, as plain payloads.

One MLflow experiment per contest (`<data folder>-<fingerprint[:8]>`), one parent run per submission run
(`<EXP>` or `<EXP>-<hash>`, found again by the leaderboard's identity: run, data, code, config), a nested run
per model and per ablation variant. Params: the flattened resolved config, the overrides, folds, labelled and
test users. Metrics: pooled out-of-fold scores, per-fold scores as `fold_<metric>` by step (and each fold's own,
`train_fold_<metric>`), the blend's fold mean and spread, the public score, the adversarial ROC-AUC, a variant's
change from the full run. Artifacts: the submission, the report, the ablation table.

This module builds the payloads and never imports MLflow: `track` hands them to a logger that runs after the
command, detached (tracking_queue.py, mlflow_store.py), so a command never waits for MLflow. Metrics carry the
parent run's start time as their timestamp, so logging the same scores again (a rerun that is all cache, or
`submit` after the DAG's fold tasks) adds no history, and the run is updated rather than duplicated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from socdem.config import flatten
from socdem.evaluate.leaderboard import read_log, run_identity
from socdem.evaluate.provenance import code_state
from socdem.evaluate.tracking_queue import enqueue
from socdem.io import hash_object, read_json_or_none
from socdem.metrics import fold_scores
from socdem.paths import paths
from socdem.pipeline.train import model_dir

if TYPE_CHECKING:
    from socdem.config import Experiment
    from socdem.features.workspace import Workspace

OFF = ("off", "0", "false", "no")


def enabled(exp: Experiment | None = None) -> bool:
    """TRACKING=off|on in the environment decides for one command; else the experiment's [tracking] section."""
    value = os.environ.get("TRACKING", "").strip().lower()
    if value:
        return value not in OFF
    return exp.tracking.enabled if exp is not None else True


def tracking_uri(root: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI (a team's server), else the SQLite store under SOCDEM_HOME: one file."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{paths(root).mlflow_store.resolve()}"


def artifact_location(root: Path | None = None) -> str | None:
    """Artifacts of the local store beside it (MLflow's default is the current folder); a server picks its own."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    return paths(root).mlflow_artifacts.resolve().as_uri()


def experiment_name(data_dir, data_fp: str) -> str:
    """The contest's MLflow experiment, named as `make eda` names its folder."""
    return f"{Path(data_dir).name}-{data_fp[:8]}"


def _numbers(scores: dict, prefix: str = "") -> list[list]:
    """[[key, value, step]] of the finite numbers of a scores dict."""
    return [
        [f"{prefix}{k}", float(v), 0]
        for k, v in scores.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
    ]


def _fold_metrics(folds: dict, prefix: str = "fold_") -> list[list]:
    """Per-fold scores as steps (`fold_roc_auc` at step k), with their mean and spread over the folds."""
    out = []
    for metric, values in (folds or {}).items():
        values = np.asarray(values, dtype=np.float64)
        out += [[f"{prefix}{metric}", float(v), k] for k, v in enumerate(values) if np.isfinite(v)]
        if len(values) and np.isfinite(values).all():
            out.append([f"{metric}_mean", float(values.mean()), 0])
            out.append([f"{metric}_std", float(values.std(ddof=1)) if len(values) > 1 else 0.0, 0])
    return out


def model_fold_scores(ws: Workspace, name: str, scores: dict) -> dict:
    """A trained model's per-fold scores at its pooled F1-best threshold (as the submission's record has them)."""
    oof = pd.read_parquet(model_dir(ws, name) / "oof.parquet")
    return fold_scores(oof.drop(columns="fold"), ws.contest.targets, oof["fold"], scores.get("f1_threshold", 0.5))


def submitted_identity(ws: Workspace) -> str:
    """The identity of the run's latest submission on this data (the leaderboard's), so that a report or an
    ablation made after an edit of the code still joins the run it describes; "" when none was logged."""
    log = read_log(ws.paths.leaderboard)
    rows = log[(log["run"] == ws.exp.run) & (log["data"] == ws.data_fp) & (log["model"] == "blend")]
    return str(rows["identity"].dropna().iloc[-1]) if rows["identity"].notna().any() else ""


def _parent(ws: Workspace, identity: str = "") -> dict:
    """The parent run of the workspace's run: how it is found again, its params and its tags."""
    code = code_state()
    params = {k: json.dumps(v) if isinstance(v, list | dict) else str(v) for k, v in flatten(ws.exp).items()}
    params |= {
        "overrides": ws.exp.overrides_text(),
        "folds": str(ws.n_folds),
        "labelled_users": str(len(ws.contest.targets)),
        "test_users": str(len(ws.contest.test_users)),
    }
    tags = {
        "socdem.experiment": ws.exp.name,
        "data_fingerprint": ws.data_fp,
        "data_dir": str(ws.data_dir),
        "git_commit": code["code"],
        "git_dirty": "" if code["dirty"] is None else str(code["dirty"]).lower(),
        "mlflow.source.git.commit": code["code"],
    }
    # a run logged without a leaderboard identity is known by its name, data and config
    identity = identity or run_identity(ws) or hash_object([ws.exp.run, ws.data_fp, ws.exp.to_dict()])
    return {"name": ws.exp.run, "identity": identity, "params": params, "tags": tags}


def _payload(ws: Workspace, identity: str = "") -> dict:
    root = ws.paths.root
    return {
        "uri": tracking_uri(root),
        "experiment": experiment_name(ws.data_dir, ws.data_fp),
        "artifact_location": artifact_location(root),
        "run": _parent(ws, identity),
        "metrics": [],
        "artifacts": [],
        "children": [],
    }


def trained_folds(ws: Workspace, name: str, folds=None) -> list[list]:
    """`train_fold_<metric>` at step k: fold k's scores as training recorded them (fold<k>.json, F1 at the fold's
    own best threshold), what a fold task of the DAG logs when it ends; the pooled-threshold `fold_<metric>`
    needs every fold and comes with `train` / `submit`."""
    out = []
    for k in range(ws.n_folds) if folds is None else folds:
        saved = read_json_or_none(model_dir(ws, name) / f"fold{k}.json") or {}
        numbers = _numbers({**saved.get("scores", {}), "seconds": saved.get("seconds")}, "train_fold_")
        out += [[key, value, k] for key, value, _ in numbers]
    return out


def _model_run(name: str, metrics: list) -> dict:
    return {"name": name, "key": {"socdem.model": name}, "tags": {"socdem.model": name}, "metrics": metrics}


def _children(ws: Workspace, cv: dict, folds: dict | None, seconds: dict | None) -> list[dict]:
    """A nested run per model: its pooled and per-fold scores and the seconds its folds cost."""
    out = []
    for name, scores in cv.items():
        per_fold = (folds or {}).get(name) or model_fold_scores(ws, name, scores)
        metrics = _numbers(scores) + _fold_metrics(per_fold) + trained_folds(ws, name)
        if seconds and name in seconds:
            metrics.append(["seconds", float(seconds[name]), 0])
        out.append(_model_run(name, metrics))
    return out


def fold_payload(ws: Workspace, models: list[str], folds: list[int]) -> dict:
    """A fold task of the Airflow DAG (`socdem train --models M --folds K`): its folds' scores on the model's
    nested run under the run's parent, the same runs `submit` completes once every fold is in."""
    payload = _payload(ws)
    payload["children"] = [_model_run(name, trained_folds(ws, name, folds)) for name in models]
    return payload


def training_payload(ws: Workspace, cv: dict, seconds: dict | None = None) -> dict:
    """`make train` (and the runs compare / ablate train): the parent run's params, a nested run per model."""
    payload = _payload(ws)
    payload["children"] = _children(ws, cv, None, seconds)
    return payload


def submission_payload(ws: Workspace, record: dict) -> dict:
    """`make submit`: the blend's scores on the parent run, its models' nested runs, the submission files."""
    payload = _payload(ws)
    cv, folds, seconds = record["cv"], record.get("cv_folds") or {}, record.get("seconds") or {}
    metric, best = record["ranked_by"], record["best_single"]
    blend = cv["blend"]
    payload["metrics"] = _numbers(blend) + _fold_metrics(folds.get("blend"))
    if metric in blend and metric in cv.get(best, {}):
        payload["metrics"].append(["gain", float(blend[metric] - cv[best][metric]), 0])
    if record.get("adversarial_roc_auc") is not None:
        payload["metrics"].append(["adversarial_roc_auc", float(record["adversarial_roc_auc"]), 0])
    models = {name: scores for name, scores in cv.items() if name != "blend"}
    payload["children"] = _children(ws, models, folds, seconds)
    payload["run"]["tags"] |= {
        "blend": record.get("blend_description", ""),
        "best_single": best,
        "ranked_by": metric,
        "wall_seconds": f"{sum(float(v) for v in seconds.values()):.2f}",
        **{f"blend.{target}": info.get("chosen", "") for target, info in (record.get("blend") or {}).items()},
    }
    submission = Path(record["submission"])
    payload["artifacts"] = [[str(p.resolve()), "submission"] for p in (submission, submission.with_suffix(".json"))]
    return payload


def trained_cv(ws: Workspace) -> tuple[dict, dict]:
    """(scores, seconds) of the run's models trained so far, from their scores.json."""
    saved = {name: read_json_or_none(model_dir(ws, name) / "scores.json") for name in ws.exp.models}
    saved = {name: s for name, s in saved.items() if isinstance(s, dict) and "scores" in s}
    return {n: s["scores"] for n, s in saved.items()}, {n: s.get("seconds", 0.0) for n, s in saved.items()}


def artifacts_payload(ws: Workspace, files, folder: str) -> dict:
    """`make report` (plots, summary.md) or `make ablate` (the table): files under `folder` of the parent run."""
    identity = submitted_identity(ws)
    payload = _payload(ws, identity)
    if identity:  # the submitted run has its params; the config may have been edited since
        payload["run"]["params"] = {}
    payload["artifacts"] = [[str(Path(f).resolve()), folder] for f in files if Path(f).exists()]
    return payload


def ablation_payload(ws: Workspace, table: Path) -> dict:
    """`make ablate`: the table (ablation.md, .json) on the run's parent run, and a nested run per variant with
    its blend's scores and their change from the full run: delta, 95% interval, P(better), per fold."""
    record = json.loads(table.with_suffix(".json").read_text())
    payload = artifacts_payload(ws, [table, table.with_suffix(".json")], "ablation")
    for row in record["variants"]:
        metrics = _numbers({"seconds": row["seconds"], "fit_seconds": row["fit_seconds"]})
        for metric, change in row["metrics"].items():
            named = {"": "b", "_delta": "delta", "_low": "low", "_high": "high", "_p_better": "p_b_better"}
            metrics += _numbers({f"{metric}{suffix}": change[field] for suffix, field in named.items()})
            deltas = change.get("fold_deltas") or []
            metrics += [[f"fold_{metric}_delta", float(d), k] for k, d in enumerate(deltas) if np.isfinite(d)]
        key = {"socdem.ablation": row["variant"]}
        tags = {**key, "socdem.variant_run": row["run"], "retrained": ", ".join(row["retrained"])}
        name = f"ablation: {row['variant']}"
        payload["children"].append({"name": name, "key": key, "tags": tags, "metrics": metrics})
    return payload


def public_score_payload(row: dict, score: float, when_ms: int, root: Path | None = None) -> dict:
    """`make lb`: the public score on the parent run of the leaderboard row it was recorded on."""
    return {
        "uri": tracking_uri(root),
        "experiment": experiment_name(row.get("data_dir") or "data", row["data"]),
        "artifact_location": artifact_location(root),
        "run": {"name": row["run"] or row["experiment"], "identity": row.get("identity", ""), "params": {}, "tags": {}},
        "metrics": [["public_score", float(score), 0, when_ms]],  # a real time: a later score replaces it
        "artifacts": [],
        "children": [],
    }


def track(exp: Experiment | None, build, log=print, root: Path | None = None) -> None:
    """Hand the payloads `build()` returns to a logger in the background (tracking_queue.py), so the command
    does not wait for MLflow; nothing at all when tracking is off. TRACKING_WAIT=1: wait for the logger."""
    if not enabled(exp):
        return
    try:
        proc = enqueue(build(), root)
    except Exception as exc:  # noqa: BLE001  (a full disk, a file gone: one line, and the run itself stands)
        log(f"tracking: not logged ({type(exc).__name__}: {exc})")
        return
    where = paths(root).mlflow_log
    if os.environ.get("TRACKING_WAIT", "").strip().lower() not in ("", *OFF):
        if proc.wait() != 0:
            log(f"tracking: not logged (exit code {proc.returncode}; see {where}; the run itself is complete)")
        return
    log(f"tracking: logging to MLflow in the background (log: {where})")
