"""The JMLC layout (Rutube's Junior ML Contest): sex labels only, local date
and hour instead of a timestamp, per-event video facts, and optional
platform-wide per-video demographic counts.

It is read into the same internal tables as the Rutube-2024 layout: `ts` is
the local wall clock shifted to Moscow time with no region (so local time
comes back unchanged), device and client type are unknown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from socdem.contest.checks import (
    ContestError,
    check_both_sexes,
    check_columns,
    check_nonnegative,
    check_unique,
    examples,
    find_events,
    find_table,
    opaque_ids,
    parse_sex,
    read_ids,
    read_table,
    resolve_test_users,
    sorted_unique,
    unify_ids,
    unmatched_warnings,
    video_ids,
)
from socdem.contest.local_time import MOSCOW_OFFSET_HOURS
from socdem.contest.tables import Contest, build_report
from socdem.schema import LOADED_EVENT_COLUMNS

JMLC_EVENT_COLUMNS = [
    "event_date",
    "viewer_id",
    "video_id",
    "total_watchtime",
    "duration",
    "category_id",
    "local_hour",
    "ua_os",
    "ua_client_name",
    "day_of_week",
    "time_of_day",
    "author",
]
COUNT_COLUMNS = [
    "cumulative_male",
    "cumulative_female",
    "video_users_total",
    "cumulative_under_18",
    "cumulative_18_24",
    "cumulative_25_34",
    "cumulative_35_44",
    "cumulative_45_54",
    "video_users_total_age",
]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NULLABLE_NUMBERS = ["duration", "category_id", "author"]  # absent for videos without info


def _nullable_integers(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    for col in columns:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            raise ContestError(
                f"{path}: column '{col}': {int(bad.sum())} value(s) are not numbers, e.g. {examples(df[col][bad])}"
            )
        df[col] = values.astype("Int64")


def _load_events(path: Path) -> pd.DataFrame:
    raw = check_columns(
        read_table(path, ["viewer_id", "video_id"]), path, JMLC_EVENT_COLUMNS, ["total_watchtime", "local_hour"]
    )
    raw["viewer_id"] = opaque_ids(raw["viewer_id"], path, "viewer_id")
    raw["video_id"] = video_ids(raw["video_id"], path, "video_id")
    check_nonnegative(raw, path, "total_watchtime")
    counts = [c for c in COUNT_COLUMNS if c in raw.columns]
    _nullable_integers(raw, path, NULLABLE_NUMBERS + counts)
    check_nonnegative(raw.dropna(subset=["duration"]), path, "duration")
    bad = ~raw["local_hour"].between(0, 23)
    if bad.any():
        raise ContestError(
            f"{path}: column 'local_hour': {int(bad.sum())} value(s) outside 0..23, e.g. "
            f"{examples(raw['local_hour'][bad])}"
        )
    bad = ~raw["day_of_week"].isin(WEEKDAYS)
    if bad.any():
        raise ContestError(
            f"{path}: column 'day_of_week': {int(bad.sum())} value(s) outside Monday..Sunday, e.g. "
            f"{examples(raw['day_of_week'][bad])}"
        )
    date = pd.to_datetime(raw["event_date"].astype("string"), format="%Y-%m-%d", errors="coerce")
    bad = date.isna()
    if bad.any():
        raise ContestError(
            f"{path}: column 'event_date': {int(bad.sum())} value(s) are not dates, e.g. "
            f"{examples(raw['event_date'][bad])}; expected YYYY-MM-DD"
        )
    local = (date - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1) + raw["local_hour"] * 3600
    return raw.assign(
        viewer_uid=raw["viewer_id"],
        rutube_video_id=raw["video_id"].astype("string"),
        ts=(local - MOSCOW_OFFSET_HOURS * 3600).astype("int64"),
        region=pd.Series(pd.NA, index=raw.index, dtype="string"),
        ua_device_type=pd.Series(pd.NA, index=raw.index, dtype="string"),
        ua_client_type=pd.Series(pd.NA, index=raw.index, dtype="string"),
        ua_os=raw["ua_os"].astype("string"),
        ua_client_name=raw["ua_client_name"].astype("string"),
    )


def _videos_from_events(raw: pd.DataFrame) -> pd.DataFrame:
    known = raw.dropna(subset=["author"]).drop_duplicates("rutube_video_id")
    return pd.DataFrame(
        {
            "rutube_video_id": known["rutube_video_id"].to_numpy(),
            "title": pd.Series("", index=known.index, dtype="string").to_numpy(),
            "category": known["category_id"].astype("string").to_numpy(),
            "duration": (known["duration"].fillna(0) * 1000).astype("int64").to_numpy(),
            "author_id": known["author"].astype("int64").to_numpy(),
        }
    ).astype({"rutube_video_id": "string", "category": "string"})


def load_jmlc(data_dir: Path) -> Contest:
    events_path = find_events(data_dir)
    labels_path = find_table(data_dir, "auth_sex_labels")
    if labels_path is None:
        raise ContestError(f"{data_dir}/auth_sex_labels.csv: missing table (looked for .parquet and .csv)")
    raw = _load_events(events_path)
    labels = check_columns(read_table(labels_path, ["viewer_id"]), labels_path, ["viewer_id", "sex"], [])
    labels["viewer_id"] = opaque_ids(labels["viewer_id"], labels_path, "viewer_id")
    sex = parse_sex(labels["sex"], labels_path)
    check_both_sexes(sex, labels_path)
    check_unique(labels["viewer_id"], labels_path, "viewer_id")
    test_path = find_table(data_dir, "test_users")
    test = read_ids(test_path, "viewer_id") if test_path is not None else np.zeros(0, np.int64)
    event_ids, label_ids, test = unify_ids(raw["viewer_uid"].to_numpy(), labels["viewer_id"].to_numpy(), test)
    raw["viewer_uid"] = event_ids
    targets = pd.DataFrame({"viewer_uid": label_ids, "sex": sex.astype(str).to_numpy()})
    targets["female"] = (targets["sex"] == "female").astype("int64")
    targets = targets.sort_values("viewer_uid", kind="mergesort").reset_index(drop=True)

    videos = _videos_from_events(raw)
    counts = [c for c in COUNT_COLUMNS if c in raw.columns]
    video_counts = None
    if counts:
        video_counts = raw.dropna(subset=counts).drop_duplicates("rutube_video_id")[["rutube_video_id", *counts]]
        video_counts = video_counts.reset_index(drop=True)
    events = raw[LOADED_EVENT_COLUMNS].reset_index(drop=True)
    labelled = targets["viewer_uid"].to_numpy()
    users_with_events = sorted_unique(events["viewer_uid"].to_numpy())
    test_users = resolve_test_users(
        test if test_path is not None else None, test_path, "viewer_id", labelled, users_with_events, labels_path.name
    )
    report = build_report(events, videos, labelled, test_users, users_with_events)
    warnings = unmatched_warnings(
        [(labels_path, labelled), (test_path, test)], "viewer_id", users_with_events, events_path
    )
    files = sorted(p for p in (events_path, labels_path, test_path) if p is not None)
    return Contest(
        events=events,
        videos=videos,
        targets=targets,
        test_users=test_users,
        files=files,
        report=report,
        layout="jmlc",
        video_counts=video_counts,
        warnings=warnings,
    )
