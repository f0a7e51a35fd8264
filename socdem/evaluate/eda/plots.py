"""The plots of `make eda`: one function per PNG, each returning the file name.

DejaVu Sans (matplotlib's own font) carries Cyrillic, so Russian category
names render; it is set explicitly so a local matplotlibrc cannot swap it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from socdem.io import atomic_path

matplotlib.use("Agg")  # files only, no display: set before the first figure
plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 9})

COLORS = {"female": "tab:red", "male": "tab:blue", "test": "dimgrey", "labelled": "tab:green"}
AGE_COLORS = ("tab:purple", "tab:orange", "tab:cyan", "tab:brown")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _save(fig, path: Path) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path.name


def _bar_labels(ax, bars, values) -> None:
    for bar, value in zip(bars, values):
        ax.annotate(f"{value:,}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")


def plot_users(overview: dict, path: Path) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = ["labelled\nwith events", "labelled\nwithout events", "test\nwith events", "test\nwithout events"]
    keys = [
        "labelled_users_with_events",
        "labelled_users_without_events",
        "test_users_with_events",
        "test_users_without_events",
    ]
    values = [overview[k] for k in keys]
    bars = left.bar(names, values, color=[COLORS["labelled"], "lightgreen", COLORS["test"], "silver"])
    _bar_labels(left, bars, values)
    left.set(ylabel="users", title="Users")
    events = [overview["events_of_labelled_users"], overview["events_of_test_users"], overview["events_of_other_users"]]
    bars = right.bar(
        ["of labelled users", "of test users", "of other users"], events, color=["tab:green", "dimgrey", "wheat"]
    )
    _bar_labels(right, bars, events)
    right.set(ylabel="events", title=f"Events ({overview['events']:,} in all)")
    for ax in (left, right):
        ax.margins(y=0.12)
    return _save(fig, path)


def plot_events_per_user(users: pd.DataFrame, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    counts = users.loc[users["events"] > 0]
    bins = _integer_log_bins(counts["events"].max() + 1)
    for name, rows in (("labelled", counts["group"] != "test"), ("test", counts["group"] == "test")):
        n = counts.loc[rows, "events"]
        if len(n):
            ax.hist(
                n,
                bins=bins,
                histtype="step",
                lw=1.6,
                density=True,
                color=COLORS[name],
                label=f"{name} ({len(n):,} users, median {n.median():.0f})",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    without = int((users["events"] == 0).sum())
    ax.set(
        xlabel="events per user (log scale)",
        ylabel="density (log scale)",
        title=f"Events per user ({without:,} users without events not shown)",
    )
    ax.legend()
    return _save(fig, path)


def plot_class_balance(table: pd.DataFrame, path: Path) -> str:
    share = table / max(table.to_numpy().sum(), 1)
    fig, ax = plt.subplots(figsize=(1.6 * table.shape[1] + 2.5, 3.4))
    ax.imshow(share.to_numpy(), cmap="Blues", vmin=0, vmax=max(share.to_numpy().max(), 1e-9))
    for i, j in np.ndindex(table.shape):
        dark = share.iat[i, j] > 0.6 * share.to_numpy().max()
        ax.text(
            j,
            i,
            f"{table.iat[i, j]:,}\n{share.iat[i, j]:.1%}",
            ha="center",
            va="center",
            color="white" if dark else "black",
        )
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), list(table.index))
    no_age = list(table.columns) == ["all"]
    ax.set(
        xlabel="age class (none in this contest)" if no_age else "age class",
        ylabel="sex",
        title=f"Labelled users by sex x age class ({table.to_numpy().sum():,})",
    )
    return _save(fig, path)


def _integer_log_bins(largest: float, n: int = 40) -> np.ndarray:
    """Log-spaced bin edges on half-integers: integer counts never fall into empty slivers."""
    edges = np.unique(np.round(np.logspace(0, np.log10(max(largest, 2)) + 0.01, n))) - 0.5
    return np.append(edges, edges[-1] + 1)


def plot_watch(ev: pd.DataFrame, path: Path) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    bins_time = _integer_log_bins(ev["watch_s"].max() + 1, 50)
    bins_fraction = np.linspace(0, 1.5, 31)
    for group in ("female", "male", "test"):
        rows = ev[ev["group"] == group]
        if rows.empty:
            continue
        left.hist(
            rows["watch_s"] + 1, bins=bins_time, histtype="step", density=True, lw=1.4, color=COLORS[group], label=group
        )
        right.hist(
            rows["fraction"].dropna(),
            bins=bins_fraction,
            histtype="step",
            density=True,
            lw=1.4,
            color=COLORS[group],
            label=group,
        )
    left.set_xscale("log")
    left.set_yscale("log")
    left.set(
        xlabel="watch time + 1, seconds (log scale)",
        ylabel="density of events (log scale)",
        title="Watch time per event",
    )
    right.set(
        xlabel="watch fraction (watch time / video duration, capped at 1.5)",
        ylabel="density of events",
        title="Watch fraction per event",
    )
    for ax in (left, right):
        ax.legend()
    return _save(fig, path)


def plot_time(profiles: dict, path: Path) -> str:
    rows = list(profiles["hour"])  # "sex" and, when the contest has it, "age_class"
    fig, axes = plt.subplots(len(rows), 2, figsize=(12, 3.8 * len(rows)), squeeze=False)
    for r, by in enumerate(rows):
        for c, unit in enumerate(("hour", "weekday")):
            ax, frame = axes[r, c], profiles[unit][by]
            for k, column in enumerate(frame.columns):
                color = COLORS.get(column, AGE_COLORS[k % 4] if by == "age_class" else None)
                style = {"ls": "--", "lw": 1.2} if column == "test" else {"lw": 1.8}
                label = f"age class {column}" if by == "age_class" and column != "test" else str(column)
                ax.plot(frame.index, frame[column], marker=".", color=color, label=label, **style)
            if unit == "weekday":
                ax.set_xticks(range(7), WEEKDAYS)
            else:
                ax.set_xticks(range(0, 24, 2))
            ax.set(
                xlabel=f"local {unit}",
                ylabel="share of the group's events",
                title=f"Local {unit} by {by.replace('_', ' ')} (test users dashed)",
            )
            ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_leaning(table: pd.DataFrame, labels: dict, what: str, path: Path) -> str:
    rows = table.sort_values("lean")
    fig, ax = plt.subplots(figsize=(9, 0.32 * max(len(rows), 4) + 1.5))
    y = np.arange(len(rows))
    colors = [COLORS["female"] if side == "female" else COLORS["male"] for side in rows["side"]]
    ax.barh(y, rows["lean"] * 100, color=colors)
    names = [f"{labels.get(item, item)}  ({viewers:,} viewers)" for item, viewers in zip(rows.index, rows["viewers"])]
    ax.set_yticks(y, names)
    for yi, (lean, share) in enumerate(zip(rows["lean"], rows["female_share"])):
        ax.annotate(
            f"{share:.0%} female",
            (lean * 100, yi),
            xytext=(4 if lean > 0 else -4, 0),
            textcoords="offset points",
            ha="left" if lean > 0 else "right",
            va="center",
            fontsize=8,
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.margins(x=0.25)
    overall = table.attrs.get("overall_female_share", float("nan"))
    min_viewers = table.attrs.get("min_viewers", "")
    ax.set(
        xlabel=f"female share of labelled viewers minus the overall {overall:.1%} (percentage points)",
        title=f"{what} leaning most female / male (at least {min_viewers} labelled viewers)",
    )
    return _save(fig, path)


def plot_value_shares(tables: dict, title: str, path: Path) -> str:
    height = 0.3 * max(len(t) for t in tables.values()) + 2.5
    fig, axes = plt.subplots(1, len(tables), figsize=(max(5.2 * len(tables), 8), height), squeeze=False)
    for ax, (column, table) in zip(axes[0], tables.items()):
        y = np.arange(len(table))[::-1]
        ax.barh(y + 0.2, table["labelled_share"], height=0.4, color=COLORS["labelled"], label="labelled users")
        ax.barh(y - 0.2, table["test_share"], height=0.4, color=COLORS["test"], label="test users")
        ax.set_yticks(
            y, [f"{v}  ({f:.0%} F)" if np.isfinite(f) else str(v) for v, f in zip(table.index, table["female_share"])]
        )
        ax.margins(x=0.05)
        ax.set(xlabel="share of the group's events", title=column)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(f"{title}: share of labelled vs test users' events (in brackets: female share of the labelled events)")
    fig.tight_layout()
    return _save(fig, path)


def plot_adversarial(result: dict, oof: pd.DataFrame | None, path: Path) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    top = result.get("top_features", [])[::-1]
    left.barh(range(len(top)), [t["importance"] for t in top], color="tab:olive")
    left.set_yticks(range(len(top)), [t["feature"] for t in top])
    left.set(xlabel="drop of held-out ROC-AUC when shuffled", title="Features separating test from labelled users")
    auc = result.get("adversarial_roc_auc")
    if oof is not None:
        bins = np.linspace(oof["p_test"].min(), oof["p_test"].max() + 1e-9, 41)
        for name, rows in (("labelled", oof["is_test"] == 0), ("test", oof["is_test"] == 1)):
            right.hist(
                oof.loc[rows, "p_test"],
                bins=bins,
                histtype="step",
                density=True,
                lw=1.6,
                color=COLORS[name],
                label=f"{name} users",
            )
        right.legend()
    auc_text = "n/a" if auc is None else f"{auc:.3f}"
    right.set(
        xlabel="out-of-fold P(test user)",
        ylabel="density of users",
        title=f"Adversarial validation: ROC-AUC {auc_text} (0.5 = alike)",
    )
    return _save(fig, path)
