from __future__ import annotations

import numpy as np
import pandas as pd

from socdem.config import load_experiment
from socdem.features.workspace import Workspace
from socdem.pipeline.folds import assign_folds, folds_path, load_or_make_folds


def _targets(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"viewer_uid": np.arange(n) * 3 + 11, "female": rng.integers(0, 2, n), "age_class": rng.integers(0, 4, n)}
    )


def test_folds_are_stratified_seeded_and_stable():
    targets = _targets()
    a = assign_folds(targets, ("sex", "age_class"), 5, seed=1)
    b = assign_folds(targets, ("sex", "age_class"), 5, seed=1)
    c = assign_folds(targets, ("sex", "age_class"), 5, seed=2)
    assert a.equals(b) and not a.equals(c)
    assert set(a["fold"]) == set(range(5))
    merged = a.merge(targets, on="viewer_uid")
    share = merged.groupby("fold")["female"].mean()
    assert share.max() - share.min() < 0.02  # stratified, not just shuffled


def test_folds_are_saved_once_and_reused(tiny_contest, socdem_home):
    ws = Workspace(tiny_contest, load_experiment("fast"), root=socdem_home, log=lambda m: None)
    first = load_or_make_folds(ws)
    path = folds_path(ws)
    assert path.exists()
    mtime = path.stat().st_mtime_ns
    again = load_or_make_folds(Workspace(tiny_contest, load_experiment("fast"), root=socdem_home, log=lambda m: None))
    assert path.stat().st_mtime_ns == mtime and first.equals(again)
    assert set(first["viewer_uid"]) == set(ws.contest.targets["viewer_uid"])


def test_automatic_folds_are_resolved_once_for_every_stage(tiny_contest, socdem_home, monkeypatch):
    """n_folds = 0 (the default): the number comes from the labelled users, and the saved folds, their
    file name and the models' cache keys all use it (here a 'large' contest from 10 labelled users)."""
    monkeypatch.setattr("socdem.config.LARGE_CONTEST_USERS", 10)
    exp = load_experiment("fast", overrides="n_folds=0")
    ws = Workspace(tiny_contest, exp, root=socdem_home, log=lambda m: None)
    folds = load_or_make_folds(ws)
    assert ws.n_folds == 3 and sorted(folds["fold"].unique()) == [0, 1, 2]
    assert folds_path(ws).name.endswith("_k3_seed42.parquet")
    monkeypatch.setattr("socdem.config.LARGE_CONTEST_USERS", 10**9)
    auto = load_experiment("fast", overrides="n_folds=0")
    small = Workspace(tiny_contest, auto, root=socdem_home, log=lambda m: None)
    assert small.n_folds == 5 and load_or_make_folds(small)["fold"].nunique() == 5
