"""`make bench`: speed and memory of the feature build, merged into bench/results.json.

Scale: BENCH_USERS users (default 100,000) of the synthetic contest, generated
once into artifacts/bench/data_<users>. Each measured step runs in its own
child process, which reports its own peak RSS (getrusage), so the figures do
not include the generator or each other:
  features   a cold `build_features` (load, DuckDB aggregates, SVD embeddings);
  pandas     the same label-free aggregates written the plain pandas way;
  cached     `python -m socdem features` again: a cache hit, start-up included;
  genapon    one GENAPON training epoch at default sizes on GENAPON_BENCH_USERS
             users (default 280,000, the size the JMLC seed solution trained on).
Other stages add their own keys to the same JSON; only ours are replaced
(end_to_end.py: the whole experiment, BENCH=pipeline; BENCH=features or genapon: one part alone).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from socdem.bench.genapon_epoch import epoch_seconds
from socdem.bench.reference_pandas import reference_aggregates
from socdem.config import load_experiment
from socdem.contest.checks import find_table
from socdem.features.build import build_features, features_dir
from socdem.features.fold_encodings import encode_out_of_fold
from socdem.features.workspace import Workspace
from socdem.io import atomic_folder, write_json_atomic
from socdem.models.baselines.estimators import AuthorShare
from socdem.paths import paths
from socdem.pipeline.folds import load_or_make_folds
from socdem.synthetic import generate

DEFAULT_USERS = 100_000
GENAPON_USERS = 280_000  # the JMLC seed solution's training users: the size of the epoch-time goal


def results_path() -> Path:
    return paths().bench_results


def merge_results(path: Path, results: dict) -> dict:
    merged = {}
    if path.exists():
        try:
            merged = json.loads(path.read_text())
        except json.JSONDecodeError:
            merged = {}
    merged.update(results)
    write_json_atomic(path, merged)
    return merged


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def _workspace(data_dir: str, exp_name: str):
    return Workspace(Path(data_dir), load_experiment(exp_name), log=lambda m: print(m, file=sys.stderr, flush=True))


def child_features(data_dir: str, exp_name: str) -> dict:
    ws = _workspace(data_dir, exp_name)
    _ = ws.data_fp  # the content hash is not part of the timed build
    shutil.rmtree(features_dir(ws), ignore_errors=True)  # a cold build
    started = time.perf_counter()
    features = build_features(ws)
    seconds = time.perf_counter() - started
    meta = json.loads((features_dir(ws) / "meta.json").read_text())
    return {
        "seconds": round(seconds, 2),
        "steps": meta["seconds"],
        "cpu": meta["cpu_seconds"],
        "peak_rss_mb": _peak_rss_mb(),
        "users": int(features.shape[0]),
        "columns": int(features.shape[1]),
        "events": int(len(ws.contest.events)),
    }


def child_pandas(data_dir: str, exp_name: str) -> dict:
    ws = _workspace(data_dir, exp_name)
    contest, users = ws.contest, ws.interactions.users
    started, cpu_started = time.perf_counter(), time.process_time()
    reference_aggregates(contest.events, contest.videos, users, ws.exp.features)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "cpu": round(time.process_time() - cpu_started, 2),
        "peak_rss_mb": _peak_rss_mb(),
    }


def signal_check(data_dir: str, exp_name: str) -> dict:
    """CV scores (the experiment's saved folds) of AuthorShare and of a plain logistic regression on the
    label-free features, the out-of-fold encoders and both, beside the oracle on the same users."""
    ws = _workspace(data_dir, exp_name)
    targets, folds = ws.contest.targets.set_index("viewer_uid"), load_or_make_folds(ws).set_index("viewer_uid")
    targets = targets.loc[folds.index]
    label_free = ws.features.select_dtypes("number").loc[targets.index]
    authors, _ = ws.interactions.matrix("author_id")
    sets = ("author_share", "lr_label_free", "lr_target_encoding", "lr_both")
    female = {name: np.zeros(len(targets)) for name in sets}
    age = {name: np.zeros((len(targets), 4)) for name in sets}

    def model():
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=1000))

    for k in range(ws.n_folds):
        valid = folds["fold"].to_numpy() == k
        train = targets[~valid].reset_index()
        te_train, (te_valid,) = encode_out_of_fold(ws, train, [targets.index[valid].to_numpy()], ws.exp.seed + k)
        inputs = {
            "lr_label_free": (label_free[~valid], label_free[valid]),
            "lr_target_encoding": (te_train, te_valid),
            "lr_both": (
                pd.concat([label_free[~valid], te_train], axis=1),
                pd.concat([label_free[valid], te_valid], axis=1),
            ),
        }
        rows_train, rows_valid = ws.interactions.rows(targets.index[~valid]), ws.interactions.rows(targets.index[valid])
        for target, out in (("female", female), ("age_class", age)):
            y = targets[target].to_numpy()[~valid]
            share = (
                AuthorShare(ws.exp.baselines.pseudo_count)
                .fit(authors[rows_train], y)
                .predict_proba(authors[rows_valid])
            )
            fitted = {
                name: model().fit(X_train.to_numpy(), y).predict_proba(X_valid.to_numpy())
                for name, (X_train, X_valid) in inputs.items()
            }
            for name, proba in {"author_share": share, **fitted}.items():
                out[name][valid] = proba[:, 1] if target == "female" else proba
        ws.log(f"signal: fold {k + 1}/{ws.n_folds} done")
    posterior = (
        pd.read_parquet(Path(data_dir) / "oracle" / "posterior.parquet").set_index("viewer_uid").loc[targets.index]
    )
    female["oracle"] = posterior["female_proba"].to_numpy()
    age["oracle"] = posterior[[f"age_p{k}" for k in range(4)]].to_numpy()
    y_female, y_age = targets["female"].to_numpy(), targets["age_class"].to_numpy()
    return {"labelled_users": int(len(targets)), "folds": ws.n_folds} | {
        name: {
            "roc_auc": round(roc_auc_score(y_female, female[name]), 4),
            "age_f1_weighted": round(f1_score(y_age, age[name].argmax(axis=1), average="weighted"), 4),
        }
        for name in female
    }


def _run_child(kind: str, data_dir: Path, exp_name: str) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "socdem.bench", kind, str(data_dir), exp_name], capture_output=True, text=True
    )
    if run.returncode != 0:
        lines = run.stderr.strip().splitlines() or [f"exit code {run.returncode}"]
        errors = [line for line in lines if "Error" in line or "Exception" in line]  # the cause, not a hint after it
        raise RuntimeError(f"bench {kind}: child failed: {(errors or lines)[-1].strip()}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def run_bench(exp_name: str = "default", users: int | None = None, log=print, parts=("features", "genapon")) -> dict:
    if "features" not in parts:  # BENCH=genapon: the epoch alone
        return merge_results(results_path(), _genapon_results(exp_name, log))
    users = int(users or os.environ.get("BENCH_USERS", DEFAULT_USERS))
    data_dir = bench_data(users, log)
    log(
        f"bench: cold feature build ({users:,} users, {os.cpu_count()} CPUs visible, "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    features = _run_child("features", data_dir, exp_name)
    log(f"bench: features {features['seconds']:.1f} s, peak RSS {features['peak_rss_mb']:.0f} MB; pandas reference")
    pandas = _run_child("pandas", data_dir, exp_name)
    started = time.perf_counter()
    cached = subprocess.run(
        [sys.executable, "-m", "socdem", "features", "--exp", exp_name, "--data", str(data_dir)],
        capture_output=True,
        text=True,
    )
    cached_seconds = time.perf_counter() - started
    aggregates = features["steps"].get("aggregates")
    results = {
        "users": features["users"],
        "events": features["events"],
        "features_columns": features["columns"],
        "features_seconds": features["seconds"],
        "features_steps_seconds": features["steps"],
        "features_peak_rss_mb": features["peak_rss_mb"],
        "features_aggregates_seconds": aggregates,
        "features_pandas_seconds": pandas["seconds"],
        "features_pandas_peak_rss_mb": pandas["peak_rss_mb"],
        "features_speedup_vs_pandas": round(pandas["seconds"] / aggregates, 2) if aggregates else None,
        "features_aggregates_cpu_seconds": features["cpu"].get("aggregates"),
        "features_pandas_cpu_seconds": pandas["cpu"],
        "features_cached_seconds": round(cached_seconds, 2),
        "features_cache_hit": cached.returncode == 0 and "used the cache" in cached.stderr,
        "features_bench_load_average": round(os.getloadavg()[0], 2),
        "features_bench_threads": _workspace(str(data_dir), exp_name).exp.threads,
    }
    if "genapon" in parts:
        results.update(_genapon_results(exp_name, log))
    merged = merge_results(results_path(), results)
    log(f"bench: results merged into {results_path()}")
    return merged


def _genapon_results(exp_name: str, log) -> dict:
    genapon_users = int(os.environ.get("GENAPON_BENCH_USERS", GENAPON_USERS))
    log(f"bench: one GENAPON training epoch at {genapon_users:,} users (GENAPON_BENCH_USERS=)")
    return _run_child("genapon", bench_data(genapon_users, log), exp_name)


def bench_data(users: int, log=print) -> Path:
    """The synthetic contest of `users` users, generated once under artifacts/bench/ (into a temp
    folder renamed into place: an interrupted generation leaves nothing half-written)."""
    data_dir = paths().bench_data(users)
    if find_table(data_dir, "train_events") is None:
        log(f"bench: generating a synthetic contest of {users:,} users in {data_dir}")
        if data_dir.exists():  # a folder from before atomic generation, without its events
            shutil.rmtree(data_dir)
        with atomic_folder(data_dir) as tmp:
            generate(tmp, users=users, seed=0, progress=False)
    return data_dir


def child_genapon(data_dir: str, exp_name: str) -> dict:
    result = epoch_seconds(int(Path(data_dir).name.removeprefix("data_")), cache_dir=Path(data_dir))
    return {**result, "genapon_peak_rss_mb": _peak_rss_mb()}


CHILDREN = {"features": child_features, "pandas": child_pandas, "signal": signal_check, "genapon": child_genapon}
