"""`make train`: K-fold CV of every model of the experiment on the saved folds.

Per model, under artifacts/<EXP>/models/<model>/: fold<k>.parquet (validation
and test predictions), fold<k>.json (scores and cache key), fold<k>.pkl (the
fitted models), then oof.parquet, test.parquet (mean of the fold models) and
scores.json. A fold already complete for the same key is not recomputed, so
an interrupted run resumes where it stopped; a fold another run (other
overrides, SET=) already computed for the same key is copied from there.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import TYPE_CHECKING

import pandas as pd

from socdem.io import (
    atomic_path,
    hash_object,
    read_json_or_none,
    read_parquet_or_none,
    write_json_atomic,
    write_parquet_atomic,
    write_pickle_atomic,
)
from socdem.metrics import frame_scores
from socdem.models.registry import get_runner
from socdem.pipeline.folds import load_or_make_folds

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace


def model_dir(ws: Workspace, name: str):
    return ws.paths.model(ws.exp.run, name)


def cache_key(ws: Workspace, name: str, runner) -> str:
    exp = ws.exp
    return hash_object(
        {
            "data": ws.data_fp,
            "model": name,
            "params": runner.params(ws),
            "seed": exp.seed,
            "n_folds": ws.n_folds,
            "targets": exp.targets,
            "threads": exp.threads,
        }
    )


FOLD_FILES = (".parquet", ".pkl", ".json")  # the json last: it marks the fold complete


def _has_fold(meta_path, key: str) -> bool:
    """Fold files complete for `key` (an unreadable fold file counts as not done)."""
    meta = read_json_or_none(meta_path)
    return isinstance(meta, dict) and meta.get("key") == key and meta_path.with_suffix(".parquet").exists()


def reuse_fold(ws: Workspace, name: str, k: int, key: str, out_dir) -> str | None:
    """Copy fold k of `name` with the same cache key from another run's artifacts; its run, or None."""
    for meta_path in sorted(ws.paths.artifacts.glob(f"*/models/{name}/fold{k}.json")):
        if meta_path.parent == out_dir or not _has_fold(meta_path, key):
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        for suffix in FOLD_FILES:
            src, dest = meta_path.with_suffix(suffix), out_dir / meta_path.with_suffix(suffix).name
            if src.exists():
                dest.unlink(missing_ok=True)
                try:  # a hard link costs no space: cached files are only ever replaced, never edited
                    os.link(src, dest)
                except OSError:
                    with atomic_path(dest) as tmp:
                        shutil.copyfile(src, tmp)
        return meta_path.parents[2].name
    return None


def run_model_cv(ws: Workspace, name: str, only_folds=None) -> dict | None:
    """Train the folds not cached yet and gather them (oof, test, scores); with `only_folds`, just those
    folds' files (a fold task of the Airflow DAG: whoever gathers later finds them cached) and None."""
    runner = get_runner(name)
    key = cache_key(ws, name, runner)
    out_dir = model_dir(ws, name)
    folds, targets = load_or_make_folds(ws), ws.contest.targets
    test_uids = ws.contest.test_users
    valid_parts, test_parts = [], []
    for k in range(ws.n_folds) if only_folds is None else sorted(only_folds):
        meta_path, pred_path = out_dir / f"fold{k}.json", out_dir / f"fold{k}.parquet"
        cached = _has_fold(meta_path, key)
        source = None if cached else reuse_fold(ws, name, k, key, out_dir)
        preds = read_parquet_or_none(pred_path) if cached or source else None  # unreadable: computed again
        if preds is not None:
            ws.log(f"train {name}: fold {k + 1}/{ws.n_folds} cached" + (f" (from run {source})" if source else ""))
        else:
            started = time.perf_counter()
            in_valid = folds["fold"].to_numpy() == k
            train = targets[targets["viewer_uid"].isin(folds["viewer_uid"][~in_valid])]
            valid_uids = folds["viewer_uid"].to_numpy()[in_valid]
            (valid_pred, test_pred), fitted = runner.fit_predict(ws, train, [valid_uids, test_uids], ws.exp.seed + k)
            preds = pd.concat([valid_pred.assign(part="valid"), test_pred.assign(part="test")])
            scores = frame_scores(valid_pred, targets)
            write_pickle_atomic(out_dir / f"fold{k}.pkl", fitted)
            write_parquet_atomic(pred_path, preds)
            seconds = time.perf_counter() - started
            write_json_atomic(meta_path, {"key": key, "fold": k, "scores": scores, "seconds": round(seconds, 2)})
            ws.log(f"train {name}: fold {k + 1}/{ws.n_folds} {_brief(scores)} ({seconds:.1f} s)")
        valid_parts.append(preds[preds["part"] == "valid"].drop(columns="part").assign(fold=k))
        test_parts.append(preds[preds["part"] == "test"].drop(columns="part"))
    if only_folds is not None:
        return None
    oof = pd.concat(valid_parts).sort_index()
    test = pd.concat(test_parts).groupby(level=0).mean().sort_index()
    scores = frame_scores(oof.drop(columns="fold"), targets)
    write_parquet_atomic(out_dir / "oof.parquet", oof)
    write_parquet_atomic(out_dir / "test.parquet", test)
    seconds = sum(read_json_or_none(out_dir / f"fold{k}.json").get("seconds", 0.0) for k in range(ws.n_folds))
    # seconds: what the folds cost to compute (wherever they ran), not this call's time
    write_json_atomic(out_dir / "scores.json", {"key": key, "scores": scores, "seconds": round(seconds, 2)})
    ws.log(f"train {name}: out of fold {_brief(scores)}")
    return scores


def train(ws: Workspace, models=None, only_folds=None) -> dict:
    return {name: run_model_cv(ws, name, only_folds) for name in (ws.exp.models if models is None else models)}


def load_predictions(ws: Workspace, name: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(oof, test, scores) of a trained model, training it first if needed."""
    out_dir = model_dir(ws, name)
    runner = get_runner(name)
    saved = read_json_or_none(out_dir / "scores.json")
    oof, test = read_parquet_or_none(out_dir / "oof.parquet"), read_parquet_or_none(out_dir / "test.parquet")
    if not isinstance(saved, dict) or saved.get("key") != cache_key(ws, name, runner) or oof is None or test is None:
        run_model_cv(ws, name)
        saved = read_json_or_none(out_dir / "scores.json")
        oof, test = pd.read_parquet(out_dir / "oof.parquet"), pd.read_parquet(out_dir / "test.parquet")
    return oof, test, saved["scores"]


def training_seconds(ws: Workspace, name: str) -> float:
    """The fold-fitting seconds of a trained model (0 when not recorded)."""
    saved = read_json_or_none(model_dir(ws, name) / "scores.json")
    return float(saved.get("seconds", 0.0)) if isinstance(saved, dict) else 0.0


def _brief(scores: dict) -> str:
    keys = ("roc_auc", "f1", "age_f1_weighted", "rutube2024")
    return " ".join(f"{k}={scores[k]:.4f}" for k in keys if k in scores)
