"""The Rutube-2024 layout (docs/data-contract.md): train_events, video_info_v2,
train_targets and optionally test_users, loaded and validated. What real data
is known to contain (events of unknown videos, labelled users without events,
empty `ua_os`, zero durations) is tolerated and counted in `Contest.report`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from socdem.contest.checks import (
    ContestError,
    check_columns,
    check_nonnegative,
    check_unique,
    examples,
    find_table,
    parse_sex,
    parse_timestamps,
    read_table,
    resolve_test_users,
    sorted_unique,
)
from socdem.contest.tables import Contest, build_report
from socdem.schema import AGE_CLASSES

SCHEMA = {
    "train_events": [
        "event_timestamp",
        "viewer_uid",
        "rutube_video_id",
        "total_watchtime",
        "region",
        "ua_device_type",
        "ua_client_type",
        "ua_os",
        "ua_client_name",
    ],
    "video_info_v2": ["rutube_video_id", "title", "category", "duration", "author_id"],
    "train_targets": ["viewer_uid", "age", "sex", "age_class"],
    "test_users": ["viewer_uid"],
}
OPTIONAL_TABLES = ("test_users",)
INTEGER_COLUMNS = {
    "train_events": ["viewer_uid", "total_watchtime"],
    "video_info_v2": ["duration", "author_id"],
    "train_targets": ["viewer_uid", "age_class"],
    "test_users": ["viewer_uid"],
}


def _check_columns(df: pd.DataFrame, path: Path, name: str) -> pd.DataFrame:
    return check_columns(df, path, SCHEMA[name], INTEGER_COLUMNS[name])


def _load_events(path: Path) -> pd.DataFrame:
    events = _check_columns(read_table(path), path, "train_events")
    check_nonnegative(events, path, "total_watchtime")
    events["ts"] = parse_timestamps(events["event_timestamp"], path)
    events = events.drop(columns=["event_timestamp"])
    for col in ("rutube_video_id", "region", "ua_device_type", "ua_client_type", "ua_os", "ua_client_name"):
        events[col] = events[col].astype("string")
    return events


def _load_videos(path: Path) -> pd.DataFrame:
    videos = _check_columns(read_table(path), path, "video_info_v2")
    check_nonnegative(videos, path, "duration")
    videos["rutube_video_id"] = videos["rutube_video_id"].astype("string")
    videos["category"] = videos["category"].astype("string")
    dup = videos["rutube_video_id"].duplicated()
    if dup.any():
        raise ContestError(
            f"{path}: column 'rutube_video_id': {int(dup.sum())} duplicate id(s), e.g. "
            f"{examples(videos['rutube_video_id'][dup])}; expected one row per video"
        )
    return videos


def _load_targets(path: Path) -> pd.DataFrame:
    targets = _check_columns(read_table(path), path, "train_targets")
    sex = parse_sex(targets["sex"], path)
    bad = ~targets["age_class"].isin(AGE_CLASSES)
    if bad.any():
        raise ContestError(
            f"{path}: column 'age_class': {int(bad.sum())} value(s) outside 0..3, e.g. "
            f"{examples(targets['age_class'][bad])}"
        )
    check_unique(targets["viewer_uid"], path, "viewer_uid")
    targets = targets[["viewer_uid", "age", "age_class"]].assign(sex=sex.astype(str).to_numpy())
    targets["female"] = (targets["sex"] == "female").astype("int64")
    return targets.sort_values("viewer_uid", kind="mergesort").reset_index(drop=True)


def load_rutube2024(data_dir: Path) -> Contest:
    paths = {}
    for name in SCHEMA:
        path = find_table(data_dir, name)
        if path is None and name not in OPTIONAL_TABLES:
            raise ContestError(f"{data_dir}/{name}.csv: missing table (looked for {name}.parquet and {name}.csv)")
        paths[name] = path
    events = _load_events(paths["train_events"])
    videos = _load_videos(paths["video_info_v2"])
    targets = _load_targets(paths["train_targets"])
    labelled = targets["viewer_uid"].to_numpy()
    users_with_events = sorted_unique(events["viewer_uid"].to_numpy())
    test_users = resolve_test_users(
        paths["test_users"], "viewer_uid", labelled, users_with_events, paths["train_targets"].name
    )
    report = build_report(events, videos, labelled, test_users, users_with_events)
    files = sorted(p for p in paths.values() if p is not None)
    return Contest(events=events, videos=videos, targets=targets, test_users=test_users, files=files, report=report)
