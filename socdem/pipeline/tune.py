"""`make tune`: an Optuna study per target over the CatBoost parameters.

Objective: the mean over the saved CV folds of ROC-AUC (sex) or of weighted
F1 / log-loss (age), each fold reported as an intermediate value (the running
mean) so the MedianPruner can stop a bad trial after its first folds. The
per-fold feature matrices (label-free features + out-of-fold encodings, the
very ones `make train` builds) are computed once per tune run and shared by
every trial and worker.

The study lives in storage: by default an Optuna journal file under
artifacts/<EXP>/tune/ (file-locked, so several local workers can share it),
or any Optuna RDB URL (STORAGE=postgresql://…) so several machines can work
on one study. Its name carries a key of the data, features, folds and search
space, so running `make tune` again continues the same study, and changed
data starts a new one. After every finished trial the best parameters so far
are written to artifacts/<EXP>/tune/best_<target>.json, which `make train`
reads (any storage, no connection needed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import multiprocessing
import os
import random
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import optuna
import pandas as pd
from optuna.storages.journal import JournalFileBackend, JournalStorage
from sklearn.metrics import f1_score, log_loss, roc_auc_score

from socdem.config import ConfigError
from socdem.io import write_json_atomic, write_pickle_atomic
from socdem.models.catboost.estimator import CatBoostModel
from socdem.models.catboost.runner import baseline_params, default_params, fold_matrices
from socdem.models.catboost.tuned import best_path, study_key, study_name, tune_folds
from socdem.pipeline.folds import load_or_make_folds
from socdem.schema import target_column

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

AGE_OBJECTIVES = ("f1_weighted", "logloss")


def tune_dir(ws: Workspace) -> Path:
    return ws.paths.tune(ws.exp.run)


# ---- storage ---------------------------------------------------------------------------------


def storage_spec(ws: Workspace, storage: str = "") -> str:
    """The storage URL given (CLI or config), or the default journal file."""
    return storage or ws.exp.tune.storage or str(tune_dir(ws) / "optuna.journal")


def open_storage(spec: str):
    if "://" not in spec:
        Path(spec).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(spec))
    if spec.startswith("postgresql://") and importlib.util.find_spec("psycopg2") is None:
        spec = "postgresql+psycopg://" + spec[len("postgresql://") :]  # SQLAlchemy's default driver is psycopg2
    engine_kwargs = {"connect_args": {"timeout": 120}} if spec.startswith("sqlite") else {}
    for attempt in range(3):
        try:
            return optuna.storages.RDBStorage(spec, engine_kwargs=engine_kwargs)
        except Exception:  # machines starting together race to create Optuna's tables; the loser retries
            if attempt == 2:
                raise
            time.sleep(1.0 + random.random())


def shared_storage_salt(spec: str) -> int:
    """Extra sampler entropy for a database shared by several machines: runs
    started together there must not draw the same trials. A local journal
    file keeps the plain, reproducible seeds."""
    if "://" not in spec or spec.startswith("sqlite"):
        return 0
    return int(hashlib.blake2b(f"{socket.gethostname()}:{os.getpid()}".encode(), digest_size=4).hexdigest(), 16)


# ---- search space and objective ---------------------------------------------------------------


def suggest(trial, tune_cfg: dict) -> dict:
    max_iterations = tune_cfg["max_iterations"]
    borders = [b for b in (32, 64, 128, 254) if b <= tune_cfg["max_border_count"]] or [tune_cfg["max_border_count"]]
    params = {
        "depth": trial.suggest_int("depth", min(4, tune_cfg["max_depth"]), tune_cfg["max_depth"]),
        "learning_rate": trial.suggest_float("learning_rate", 0.04, 0.25, log=True),
        "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 30.0, log=True),
        "border_count": trial.suggest_categorical("border_count", borders),
        "one_hot_max_size": trial.suggest_categorical("one_hot_max_size", [2, 8, 32, 255]),
        "iterations": trial.suggest_int(
            "iterations", min(200, max_iterations), max_iterations, step=max(1, max_iterations // 20)
        ),
        "grow_policy": trial.suggest_categorical("grow_policy", ["SymmetricTree", "Depthwise"]),
        "bootstrap_type": trial.suggest_categorical("bootstrap_type", ["Bayesian", "MVS"]),
    }
    if params["grow_policy"] == "Depthwise":  # CatBoost ignores min_data_in_leaf for symmetric trees
        params["min_data_in_leaf"] = trial.suggest_int("min_data_in_leaf", 1, 300, log=True)
    if params["bootstrap_type"] == "Bayesian":
        params["bagging_temperature"] = trial.suggest_float("bagging_temperature", 0.0, 5.0)
    else:
        params["subsample"] = trial.suggest_float("subsample", 0.5, 1.0)
    return params


def fold_score(target: str, y: np.ndarray, proba: np.ndarray, classes, age_objective: str) -> float:
    """Higher is better (log-loss is negated so every study maximises)."""
    if target == "sex":
        return float(roc_auc_score(y, proba[:, list(classes).index(1)]))
    if age_objective == "logloss":
        return -float(log_loss(y, proba, labels=classes))
    return float(f1_score(y, np.asarray(classes)[np.argmax(proba, axis=1)], average="weighted"))


def objective(trial, folds: list[dict], target: str, defaults: dict, tune_cfg: dict) -> float:
    params = {**defaults.get("all", {}), **defaults.get(target, {}), **suggest(trial, tune_cfg)}
    scores, trees = [], []
    for step, fold in enumerate(folds):
        y_train, y_valid = fold["y_train"][target], fold["y_valid"][target]
        model = CatBoostModel(**{**params, "random_state": fold["seed"], "thread_count": 1})
        model.fit(fold["X_train"], y_train)
        scores.append(
            fold_score(target, y_valid, model.predict_proba(fold["X_valid"]), model.classes_, tune_cfg["age_objective"])
        )
        trees.append(model.best_iteration_ + 1)
        trial.report(float(np.mean(scores)), step)
        trial.set_user_attr("fold_scores", scores)
        if trial.should_prune():
            raise optuna.TrialPruned()
    trial.set_user_attr("trees", trees)
    return float(np.mean(scores))


# ---- the per-fold matrices, once per tune run -------------------------------------------------


def fold_data(ws: Workspace) -> list[dict]:
    """X/y of the training and validation users of each tuned fold, as `make train` builds them."""
    folds, targets = load_or_make_folds(ws), ws.contest.targets
    out = []
    for k in tune_folds(ws):
        in_valid = folds["fold"].to_numpy() == k
        train = targets[targets["viewer_uid"].isin(folds["viewer_uid"][~in_valid])]
        valid = targets.set_index("viewer_uid").loc[folds["viewer_uid"].to_numpy()[in_valid]].reset_index()
        X_train, (X_valid,) = fold_matrices(ws, train, [valid["viewer_uid"].to_numpy()], ws.exp.seed + k)
        out.append(
            {
                "fold": k,
                "seed": ws.exp.seed + k,
                "X_train": X_train,
                "X_valid": X_valid,
                "y_train": {t: train[target_column(t)].to_numpy() for t in ws.exp.targets},
                "y_valid": {t: valid[target_column(t)].to_numpy() for t in ws.exp.targets},
            }
        )
        ws.log(f"tune: fold {k + 1} matrices {X_train.shape[0]:,} x {X_train.shape[1]} ready")
    return out


# ---- workers ----------------------------------------------------------------------------------


def _save_best(study, path: str, target: str) -> None:
    done = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    if not done:
        return
    best = max(done, key=lambda t: t.value)
    params = {k: v for k, v in best.params.items()}
    write_json_atomic(
        Path(path),
        {
            "study": study.study_name,
            "target": target,
            "value": best.value,
            "trial": best.number,
            "finished_trials": len(done),
            "params": params,
            "fold_scores": best.user_attrs.get("fold_scores"),
            "trees": best.user_attrs.get("trees"),
        },
    )


def run_worker(job: dict) -> None:
    """One process: its share of trials of every target's study (top level: spawn-picklable)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folds = pd.read_pickle(job["matrices"])
    storage = open_storage(job["storage"])
    for target in job["targets"]:
        n_trials = job["trials"][target]
        if n_trials <= 0:
            continue
        sampler = optuna.samplers.TPESampler(seed=job["sampler_seeds"][target])
        study = optuna.load_study(
            study_name=job["studies"][target],
            storage=storage,
            sampler=sampler,
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
        )

        def log_trial(study, trial, target=target):
            _save_best(study, job["best_paths"][target], target)
            value = "" if trial.value is None else f" {trial.value:.5f}"
            best = f"; best {study.best_value:.5f}" if _has_complete(study) else ""
            print(
                f"tune {target} (worker {job['worker']}): trial {trial.number} {trial.state.name.lower()}{value}{best}",
                file=sys.stderr,
                flush=True,
            )

        study.optimize(
            lambda trial, target=target: objective(trial, folds, target, job["defaults"], job["tune"]),
            n_trials=n_trials,
            timeout=job["timeout"] or None,
            callbacks=[log_trial],
            gc_after_trial=True,
        )


def _has_complete(study) -> bool:
    return any(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False))


def split_trials(total: int, workers: int) -> list[int]:
    return [total // workers + (i < total % workers) for i in range(workers)]


def tune(ws: Workspace, trials: int | None = None, workers: int | None = None, storage: str = "") -> dict:
    """Run `trials` more trials per target over `workers` processes; return the best per target."""
    exp = ws.exp
    trials = exp.tune.trials if trials is None else trials
    workers = max(1, exp.tune.workers if workers is None else workers)
    if exp.tune.age_objective not in AGE_OBJECTIVES:
        raise ConfigError(f"tune.age_objective: expected one of {AGE_OBJECTIVES}, got {exp.tune.age_objective!r}")
    started = time.perf_counter()
    spec = storage_spec(ws, storage)
    store = open_storage(spec)  # studies are created here, once, before any worker starts
    studies, existing = _open_studies(ws, store, spec)
    matrices = tune_dir(ws) / f"matrices_{study_key(ws)}.pkl"
    if trials > 0 and not matrices.exists():
        write_pickle_atomic(matrices, fold_data(ws))
    ws.log(f"tune: {trials} trials per target on folds {tune_folds(ws)} with {workers} worker(s)")
    _run_workers(_worker_jobs(ws, matrices, spec, studies, existing, trials, workers))
    results = _best_of_studies(ws, store, studies)
    ws.log(f"tune: done in {time.perf_counter() - started:.1f} s; make train uses {tune_dir(ws)}/best_<target>.json")
    return results


def _open_studies(ws: Workspace, store, spec: str) -> tuple[dict, dict]:
    """(target -> study name, target -> trials it already holds): each target's study, created if new."""
    studies, existing = {}, {}
    for target in ws.exp.targets:
        name = study_name(ws, target)
        study = optuna.create_study(study_name=name, storage=store, direction="maximize", load_if_exists=True)
        studies[target], existing[target] = name, len(study.trials)
        ws.log(f"tune {target}: study {name} in {_public(spec)} ({existing[target]} trials so far)")
    return studies, existing


def _worker_jobs(
    ws: Workspace, matrices: Path, spec: str, studies: dict, existing: dict, trials: int, workers: int
) -> list:
    """One job per worker process: its share of each target's trials and its own sampler seeds."""
    exp = ws.exp
    defaults = default_params(exp)
    return [
        {
            "worker": w,
            "matrices": str(matrices),
            "storage": spec,
            "targets": list(exp.targets),
            "studies": studies,
            "best_paths": {t: str(best_path(ws, t)) for t in exp.targets},
            "trials": {t: split_trials(trials, workers)[w] for t in exp.targets},
            # distinct per worker, and moved on by the study's size so a resumed study does not replay its start
            "sampler_seeds": {
                t: exp.seed + 1000 * w + 7919 * existing[t] + shared_storage_salt(spec) for t in exp.targets
            },
            "defaults": {"all": defaults, **{t: baseline_params(ws, t) for t in exp.targets}},
            "tune": dataclasses.asdict(exp.tune),
            "timeout": exp.tune.timeout_seconds,
        }
        for w in range(workers)
    ]


def _run_workers(jobs: list) -> None:
    """One job in this process; several, each in a spawned process of its own."""
    if len(jobs) == 1:
        run_worker(jobs[0])
        return
    context = multiprocessing.get_context("spawn")  # no forked copies of DuckDB/BLAS thread state
    processes = [context.Process(target=run_worker, args=(job,)) for job in jobs]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"tune: {len(failed)} worker(s) failed (exit codes {failed}); see the log above")


def _best_of_studies(ws: Workspace, store, studies: dict) -> dict:
    """target -> the best trial so far (best_<target>.json, written again from the study)."""
    results = {}
    for target in ws.exp.targets:
        study = optuna.load_study(study_name=studies[target], storage=store)
        _save_best(study, str(best_path(ws, target)), target)
        counts = pd.Series([t.state.name for t in study.trials]).value_counts().to_dict()
        if best_path(ws, target).exists():
            results[target] = json.loads(best_path(ws, target).read_text())
            ws.log(
                f"tune {target}: best {results[target]['value']:.5f} (trial {results[target]['trial']}, "
                f"trials {counts}) params {results[target]['params']}"
            )
    return results


def _public(spec: str) -> str:
    """The storage without a password, for the log."""
    if "://" in spec and "@" in spec:
        scheme, rest = spec.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return spec
