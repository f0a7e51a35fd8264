"""The leaderboard in pictures, for `make report`: the CV score of each submission on this data
over time (its spread over the folds as error bars, the public score beside it when recorded),
and CV against public score with their correlation: does local CV track the leaderboard?"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from socdem.evaluate.leaderboard import latest_per_identity, primary_metric, read_log, select_data, submissions
from socdem.io import atomic_path


def _save(fig, path: Path) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path.name


def _numbers(rows: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=np.float64)


def history(log_path: Path, data_fp: str) -> tuple[pd.DataFrame, str]:
    """The submissions on this data (one per identity), in time order, and the metric ranking them."""
    rows, _ = select_data(read_log(log_path), [data_fp])
    heads = latest_per_identity(submissions(rows))
    if heads.empty:
        return heads, ""
    heads = heads.assign(when=pd.to_datetime(heads["timestamp"], utc=True, errors="coerce")).sort_values("when")
    return heads, primary_metric(heads)


def plot_over_time(heads: pd.DataFrame, metric: str, path: Path) -> str:
    mean = _numbers(heads, f"{metric}_mean")
    mean = np.where(np.isfinite(mean), mean, _numbers(heads, metric))  # old rows: the pooled score
    std = np.nan_to_num(_numbers(heads, f"{metric}_std"))
    public = _numbers(heads, "public_score")
    x = np.arange(len(heads))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(heads) + 3), 4.8))
    ax.errorbar(x, mean, yerr=std, fmt="o-", capsize=4, label=f"CV {metric} (mean ± std over folds)")
    if np.isfinite(public).any():
        ax.plot(x, public, "s", ms=8, mfc="none", mew=2, c="tab:red", label="public score")
    labels = [f"{r} {w:%m-%d %H:%M}" for r, w in zip(heads["run"].fillna(heads["experiment"]), heads["when"])]
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set(ylabel=metric, title="Leaderboard over time (this data)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_cv_vs_public(heads: pd.DataFrame, metric: str, path: Path) -> tuple[str, float]:
    """(file name, Pearson correlation) of CV against public score over the scored submissions."""
    cv = _numbers(heads, f"{metric}_mean")
    cv = np.where(np.isfinite(cv), cv, _numbers(heads, metric))
    public = _numbers(heads, "public_score")
    keep = np.isfinite(cv) & np.isfinite(public)
    r = float(np.corrcoef(cv[keep], public[keep])[0, 1]) if keep.sum() >= 3 and np.ptp(cv[keep]) > 0 else np.nan
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.errorbar(cv[keep], public[keep], xerr=np.nan_to_num(_numbers(heads, f"{metric}_std"))[keep], fmt="o", capsize=3)
    for x, y, run in zip(cv[keep], public[keep], heads["run"].fillna(heads["experiment"])[keep]):
        ax.annotate(str(run), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    title = f"CV vs public (n={int(keep.sum())}" + (f", Pearson r={r:+.3f})" if np.isfinite(r) else ")")
    ax.set(xlabel=f"CV {metric}", ylabel="public score", title=title)
    return _save(fig, path), r


def leaderboard_plots(log_path: Path, data_fp: str, out: Path) -> tuple[dict, list[str]]:
    """({title: file name}, notes) of the leaderboard plots of this data, written to `out`."""
    heads, metric = history(log_path, data_fp)
    if heads.empty:
        return {}, ["Leaderboard plots: skipped (no submission of this data in the log yet: `make submit`)."]
    plots = {"Leaderboard over time": plot_over_time(heads, metric, out / "leaderboard_time.png")}
    if np.isfinite(_numbers(heads, "public_score")).sum() >= 2:
        name, r = plot_cv_vs_public(heads, metric, out / "cv_vs_public.png")
        title = "CV against public score" + (f" (Pearson r = {r:+.3f})" if np.isfinite(r) else "")
        plots[title] = name
        return plots, []
    return plots, ["CV against public score: skipped (fewer than two public scores: `make lb SUB= SCORE=`)."]
