"""Fold assignment: stratified by the targets, shuffled with the experiment's
seed, saved once per data fingerprint and reused by every model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from socdem.io import write_parquet_atomic


def assign_folds(targets: pd.DataFrame, target_names, n_folds: int, seed: int) -> pd.DataFrame:
    """viewer_uid → fold, stratified by the joint class of all targets."""
    strata = np.zeros(len(targets), dtype=np.int64)
    for name in target_names:
        column = "female" if name == "sex" else name
        strata = strata * 10 + targets[column].to_numpy()
    # shuffle=True: without it StratifiedKFold ignores random_state
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold = np.empty(len(targets), dtype=np.int64)
    for k, (_, valid) in enumerate(splitter.split(np.zeros(len(strata)), strata)):
        fold[valid] = k
    return pd.DataFrame({"viewer_uid": targets["viewer_uid"].to_numpy(), "fold": fold})


def folds_path(ws):
    exp = ws.exp
    return ws.paths.folds(ws.data_fp, exp.targets, exp.n_folds, exp.seed)


def load_or_make_folds(ws) -> pd.DataFrame:
    """viewer_uid -> fold of the labelled users: the saved folds, made and saved on first use."""
    path = folds_path(ws)
    if path.exists():
        return pd.read_parquet(path)
    folds = assign_folds(ws.contest.targets, ws.exp.targets, ws.exp.n_folds, ws.exp.seed)
    write_parquet_atomic(path, folds)
    ws.log(f"folds: {ws.exp.n_folds} stratified folds saved to {path}")
    return folds
