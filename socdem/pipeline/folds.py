"""Fold assignment: stratified by the targets, shuffled with the experiment's
seed, saved once per data fingerprint and reused by every model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from socdem.config import ConfigError
from socdem.io import read_parquet_or_none, write_parquet_atomic

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace


def assign_folds(targets: pd.DataFrame, target_names, n_folds: int, seed: int) -> pd.DataFrame:
    """viewer_uid → fold, stratified by the joint class of all targets."""
    strata = np.zeros(len(targets), dtype=np.int64)
    for name in target_names:
        column = "female" if name == "sex" else name
        strata = strata * 10 + targets[column].to_numpy()
    # a stratum too small to reach every fold (an age class of one user) joins its sex, then all the rare ones
    strata = _pool_rare(strata, -1 - targets["female"].to_numpy(), n_folds)
    strata = _pool_rare(strata, np.full(len(strata), -3), n_folds)
    # shuffle=True: without it StratifiedKFold ignores random_state
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold = np.empty(len(targets), dtype=np.int64)
    for k, (_, valid) in enumerate(splitter.split(np.zeros(len(strata)), strata)):
        fold[valid] = k
    return pd.DataFrame({"viewer_uid": targets["viewer_uid"].to_numpy(), "fold": fold})


def _pool_rare(strata: np.ndarray, pooled: np.ndarray, n_folds: int) -> np.ndarray:
    _, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
    return np.where(counts[inverse] < n_folds, pooled, strata)


def check_n_folds(targets: pd.DataFrame, n_folds: int, where: str) -> None:
    """n_folds no larger than either sex's labelled users: every fold needs a user of each sex
    (sex x age class strata smaller than that are pooled, so a rare age class is no reason to refuse)."""
    counts = targets["sex"].value_counts()
    smallest = counts.idxmin()
    if n_folds > counts.min():
        raise ConfigError(
            f"{where}: n_folds = {n_folds} is more than the {counts.min()} labelled {smallest} user(s); "
            f"expected n_folds <= {counts.min()}"
        )


def folds_path(ws: Workspace):
    exp = ws.exp
    return ws.paths.folds(ws.data_fp, exp.targets, ws.n_folds, exp.seed)


def load_or_make_folds(ws: Workspace) -> pd.DataFrame:
    """viewer_uid -> fold of the labelled users: the saved folds, made and saved on first use."""
    path = folds_path(ws)
    saved = read_parquet_or_none(path)  # an unreadable file is made again (the same folds: seeded)
    if saved is not None:
        return saved
    folds = assign_folds(ws.contest.targets, ws.exp.targets, ws.n_folds, ws.exp.seed)
    write_parquet_atomic(path, folds)
    ws.log(f"folds: {ws.n_folds} stratified folds saved to {path}")
    return folds
