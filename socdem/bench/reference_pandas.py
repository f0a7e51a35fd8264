"""The same label-free aggregates written the plain pandas way (merge,
groupby, value_counts, unstack), as the JMLC seed solution did. Only the benchmark and the
tests use it: it is the yardstick for the DuckDB version, and its oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd

from socdem.contest.local_time import local_seconds
from socdem.features.user_features import DEVICE_COLUMNS, MISSING, MODE_COLUMNS, PARTS_OF_DAY, slug


def _shares(df: pd.DataFrame, column: str, prefix: str, top: int, users) -> pd.DataFrame:
    kept = df[column].value_counts().index[:top]
    values = df[column].where(df[column].isin(kept), "other")
    table = values.groupby(df["viewer_uid"]).value_counts(normalize=True).unstack(fill_value=0.0)
    table.columns = [f"{prefix}_{slug(v)}_share" for v in table.columns]
    return table.reindex(users).fillna(0.0)


def reference_aggregates(events: pd.DataFrame, videos: pd.DataFrame, users: np.ndarray, cfg) -> pd.DataFrame:
    users = pd.Index(users, name="viewer_uid")
    df = _joined_events(events, videos, users)
    g = df.groupby("viewer_uid")
    parts = []
    if cfg.activity:
        parts.append(_activity(df, g, users))
    if cfg.watchtime:
        parts.append(_watchtime(g, users))
    if cfg.time:
        parts.append(_time_shares(df, users))
    if cfg.device:
        parts += _devices(df, g, users, cfg.top_values)
    if cfg.category:
        parts.append(_shares(df, "category", "category", cfg.top_categories, users))
        d = g["dur_s"].agg(["mean", "max"]).add_prefix("duration_")
        d["duration_std"] = g["dur_s"].std(ddof=0)
        d["unknown_video_share"] = df["author_id"].isna().groupby(df["viewer_uid"]).mean()
        parts.append(d.reindex(users))
    return pd.concat(parts, axis=1)


def _joined_events(events: pd.DataFrame, videos: pd.DataFrame, users: pd.Index) -> pd.DataFrame:
    """The users' events with their video's facts, local time and watch fraction."""
    df = events[events["viewer_uid"].isin(users)].merge(
        videos[["rutube_video_id", "author_id", "category", "duration"]], on="rutube_video_id", how="left"
    )
    for col in ["region", "category", *DEVICE_COLUMNS]:
        df[col] = df[col].astype(object).fillna(MISSING)
    df["lts"] = local_seconds(df["ts"].to_numpy(), df["region"])  # MISSING is no known region: Moscow time
    df["day"] = df["lts"] // 86400
    df["hour"] = df["lts"] // 3600 % 24
    df["weekday"] = (df["day"] + 3) % 7
    df["dur_s"] = df["duration"] / 1000.0
    df["fraction"] = (df["total_watchtime"] / df["dur_s"].replace(0, np.nan)).clip(upper=1.5)
    return df


def _activity(df: pd.DataFrame, g, users: pd.Index) -> pd.DataFrame:
    a = g.agg(
        events=("ts", "size"),
        distinct_videos=("rutube_video_id", "nunique"),
        distinct_authors=("author_id", "nunique"),
        active_days=("day", "nunique"),
        first=("lts", "min"),
        last=("lts", "max"),
    )
    a["distinct_categories"] = df[df["category"] != MISSING].groupby("viewer_uid")["category"].nunique()
    a["events_per_active_day"] = a["events"] / a["active_days"]
    a["span_days"] = (a["last"] - a["first"]) / 86400.0
    return a.drop(columns=["first", "last"]).reindex(users).fillna(0.0)


def _watchtime(g, users: pd.Index) -> pd.DataFrame:
    w = g["total_watchtime"].agg(["sum", "mean", "median", "max"]).add_prefix("watchtime_")
    w["watchtime_std"] = g["total_watchtime"].std(ddof=0)
    f = g["fraction"].agg(["sum", "mean", "median", "max"]).add_prefix("fraction_")
    f["fraction_std"] = g["fraction"].std(ddof=0)
    wf = pd.concat([w, f], axis=1).reindex(users)
    wf[["watchtime_sum", "fraction_sum"]] = wf[["watchtime_sum", "fraction_sum"]].fillna(0.0)
    return wf


def _time_shares(df: pd.DataFrame, users: pd.Index) -> pd.DataFrame:
    hours = df.groupby("viewer_uid")["hour"].value_counts(normalize=True).unstack(fill_value=0.0)
    hours = hours.reindex(columns=range(24), fill_value=0.0)
    days = df.groupby("viewer_uid")["weekday"].value_counts(normalize=True).unstack(fill_value=0.0)
    days = days.reindex(columns=range(7), fill_value=0.0)
    t = pd.concat(
        [
            hours.set_axis([f"hour_{h:02d}_share" for h in range(24)], axis=1),
            days.set_axis([f"weekday_{d}_share" for d in range(7)], axis=1),
        ],
        axis=1,
    )
    for part, hrs in PARTS_OF_DAY.items():
        t[f"{part}_share"] = hours[list(hrs)].sum(axis=1)
    t["weekend_share"] = days[5] + days[6]
    return t.reindex(users).fillna(0.0)


def _devices(df: pd.DataFrame, g, users: pd.Index, top: int) -> list:
    """The device shares, the number of regions and each user's most frequent value of the mode columns."""
    parts = [_shares(df, col, prefix, top, users) for col, prefix in DEVICE_COLUMNS.items()]
    parts.append(g["region"].nunique().rename("distinct_regions").reindex(users).fillna(0.0))
    for col, name in MODE_COLUMNS.items():
        totals = df[col].value_counts().rename("total").reset_index()
        totals = totals.sort_values(["total", col], ascending=[False, True])
        rank = pd.Series(np.arange(len(totals)), index=totals[col].to_numpy(), name="rank")
        counts = df.groupby(["viewer_uid", col]).size().rename("n").reset_index()
        counts["rank"] = counts[col].map(rank)  # ties: the globally more frequent value
        counts = counts.sort_values(["viewer_uid", "n", "rank"], ascending=[True, False, True])
        mode = counts.drop_duplicates("viewer_uid").set_index("viewer_uid")[col]
        parts.append(mode.rename(name).reindex(users).astype("category"))
    return parts
