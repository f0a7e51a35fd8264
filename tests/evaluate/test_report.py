"""`make report`: plots and a summary from out-of-fold predictions."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
from conftest import REPO
from sklearn.tree import DecisionTreeClassifier

from socdem.config import load_experiment
from socdem.evaluate.leaderboard import LeaderboardEntry, append_entry, record_public_score
from socdem.evaluate.report import catboost_importances, plot_importance, write_report
from socdem.features.workspace import Workspace
from socdem.models.per_target import PerTargetClassifier

PNG = b"\x89PNG\r\n\x1a\n"


def test_report_writes_plots_and_a_summary(tiny_contest, trained_home):
    ws = Workspace(tiny_contest, load_experiment("fast", REPO / "experiments"), root=trained_home, log=lambda m: None)
    out = write_report(ws)
    names = {p.name for p in out["plots"]}
    assert {"roc.png", "pr.png", "calibration.png", "age_confusion.png"} <= names
    for path in out["plots"]:
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    summary = out["summary"].read_text()
    assert all(f"]({name})" in summary for name in names)
    assert "**blend**" in summary and "oracle" in summary
    if "importance.png" not in names:
        assert "CatBoost importances: skipped" in summary


def test_importances_from_pickled_fold_models(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 5)), columns=[f"feat_{i}" for i in range(5)])
    y = (X["feat_3"] + 0.1 * rng.normal(size=300) > 0).astype(int)
    for k in range(2):
        fitted = PerTargetClassifier(DecisionTreeClassifier(max_depth=3, random_state=k), targets=("sex",))
        with open(tmp_path / f"fold{k}.pkl", "wb") as fh:
            pickle.dump(fitted.fit(X, y.to_numpy()[:, None]), fh)
    importances, note = catboost_importances(tmp_path)
    assert note == "" and importances["sex"].index[0] == "feat_3"
    assert abs(importances["sex"].sum() - 1) < 1e-9
    assert plot_importance(importances, tmp_path / "importance.png") == "importance.png"
    assert (tmp_path / "importance.png").read_bytes().startswith(PNG)
    empty, note = catboost_importances(tmp_path / "missing")
    assert empty == {} and "no CatBoost fold models" in note


def test_report_plots_the_leaderboard_of_its_data(tiny_contest, trained_home):
    ws = Workspace(tiny_contest, load_experiment("fast", REPO / "experiments"), root=trained_home, log=lambda m: None)
    for i, (score, public) in enumerate([(0.60, 0.58), (0.62, 0.61), (0.63, 0.61)]):
        cv = {"linear": {"rutube2024": score - 0.01}, "blend": {"rutube2024": score}}
        folds = {"blend": {"rutube2024": [score - 0.01, score, score + 0.01]}}
        sub = f"submissions/r{i}.csv"
        entry = LeaderboardEntry("fast", ws.data_fp, "blend", cv, "linear", sub, run=f"r{i}", cv_folds=folds)
        append_entry(ws.paths.leaderboard, entry)
        record_public_score(ws.paths.leaderboard, sub, public, base=trained_home)
    out = write_report(ws)
    names = {p.name for p in out["plots"]}
    assert {"leaderboard_time.png", "cv_vs_public.png"} <= names
    summary = out["summary"].read_text()
    assert "](leaderboard_time.png)" in summary and "Pearson r = +" in summary
