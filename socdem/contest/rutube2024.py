"""The Rutube-2024 layout (docs/data-contract.md): train_events, video_info_v2,
train_targets and optionally test_users, loaded and validated. What real data
is known to contain (events of unknown videos, labelled users without events,
empty `ua_os`, zero durations) is tolerated and counted in `Contest.report`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import socdem.contest.scan as scan
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
    parse_timestamps,
    read_ids,
    read_table,
    resolve_test_users,
    sorted_unique,
    unify_ids,
    unmatched_warnings,
    video_ids,
)
from socdem.contest.tables import Contest, build_report
from socdem.schema import AGE_CLASSES, EVENT_COLUMNS, EVENT_TEXT_COLUMNS

SCHEMA = {
    "train_events": EVENT_COLUMNS,
    "video_info_v2": ["rutube_video_id", "title", "category", "duration", "author_id"],
    "train_targets": ["viewer_uid", "age", "sex", "age_class"],
    "test_users": ["viewer_uid"],
}
OPTIONAL_TABLES = ("test_users",)
INTEGER_COLUMNS = {
    "train_events": ["total_watchtime"],
    "video_info_v2": ["duration"],
    "train_targets": ["age_class"],
    "test_users": [],
}
# read as written in a CSV: ids are opaque (docs/data-contract.md), timestamps follow one rule
TEXT_COLUMNS = {
    "train_events": ["viewer_uid", "rutube_video_id", "event_timestamp"],
    "video_info_v2": ["rutube_video_id", "author_id"],
    "train_targets": ["viewer_uid"],
    "test_users": ["viewer_uid"],
}


def _read(path: Path, name: str) -> pd.DataFrame:
    return check_columns(read_table(path, TEXT_COLUMNS[name]), path, SCHEMA[name], INTEGER_COLUMNS[name])


def _load_events(path: Path) -> pd.DataFrame:
    return check_events(read_table(path, TEXT_COLUMNS["train_events"]), path)


def check_events(events: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The events of `path` (the whole table or a batch of it) checked and normalised."""
    events = check_columns(events, path, SCHEMA["train_events"], INTEGER_COLUMNS["train_events"])
    check_nonnegative(events, path, "total_watchtime")
    events["viewer_uid"] = opaque_ids(events["viewer_uid"], path, "viewer_uid")
    events["rutube_video_id"] = video_ids(events["rutube_video_id"], path, "rutube_video_id")
    events["ts"] = parse_timestamps(events["event_timestamp"], path)
    events = events.drop(columns=["event_timestamp"])
    for col in EVENT_TEXT_COLUMNS:
        text = events[col].astype("string")
        events[col] = text.mask(text == "")  # empty is missing, as a CSV reads it, in parquet too
    return events


def _load_videos(path: Path) -> pd.DataFrame:
    videos = _read(path, "video_info_v2")
    check_nonnegative(videos, path, "duration")
    videos["rutube_video_id"] = video_ids(videos["rutube_video_id"], path, "rutube_video_id")
    videos["author_id"] = opaque_ids(videos["author_id"], path, "author_id")
    videos["category"] = videos["category"].astype("string")
    dup = videos["rutube_video_id"].duplicated()
    if dup.any():
        raise ContestError(
            f"{path}: column 'rutube_video_id': {int(dup.sum())} duplicate id(s), e.g. "
            f"{examples(videos['rutube_video_id'][dup])}; expected one row per video"
        )
    return videos


def _load_targets(path: Path) -> pd.DataFrame:
    targets = _read(path, "train_targets")
    targets["viewer_uid"] = opaque_ids(targets["viewer_uid"], path, "viewer_uid")
    sex = parse_sex(targets["sex"], path)
    check_both_sexes(sex, path)
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


def load_rutube2024(data_dir: Path, stream: bool | None = False, work_dir: Path | None = None, threads: int = 2):
    """The contest of `data_dir`. `stream`: read a parquet events table with DuckDB into an on-disk
    store instead of pandas (scan.py; None: from scan.STREAM_MIN_EVENTS events on); the checks and
    the report are the same, `Contest.events` is then read into pandas only if asked for."""
    paths = {}
    for name in SCHEMA:
        path = find_events(data_dir) if name == "train_events" else find_table(data_dir, name)
        if path is None and name not in OPTIONAL_TABLES:
            looked = "train_events/events" if name == "train_events" else name
            raise ContestError(f"{data_dir}/{name}.csv: missing table (looked for {looked} .parquet and .csv)")
        paths[name] = path
    events_path = paths["train_events"]
    if stream is None:
        stream = scan.is_parquet(events_path) and scan.parquet_rows(events_path) >= scan.STREAM_MIN_EVENTS
    store = None
    if stream and scan.is_parquet(events_path):
        store = scan.open_store(events_path, Path(work_dir or tempfile.gettempdir()), check_events, threads)
    try:
        return _load(paths, store)
    except BaseException:
        if store is not None:
            store.close()
        raise


def _load(paths: dict, store) -> Contest:
    events = _load_events(paths["train_events"]) if store is None else None
    videos = _load_videos(paths["video_info_v2"])
    targets = _load_targets(paths["train_targets"])
    test_path = paths["test_users"]
    test = read_ids(test_path, "viewer_uid") if test_path is not None else np.zeros(0, np.int64)
    if store is None:
        event_uids = events["viewer_uid"].to_numpy()
    else:  # only the kind of the ids counts here
        event_uids = np.zeros(0, dtype=object if store.uid_text else np.int64)
    event_ids, labelled, test = unify_ids(event_uids, targets["viewer_uid"].to_numpy(), test)
    if event_ids.dtype == object:  # text ids somewhere: every table's ids as text, sorted as text
        if store is None:
            events["viewer_uid"] = event_ids
        else:
            store.to_text_ids()
        targets = targets.assign(viewer_uid=labelled).sort_values("viewer_uid", kind="mergesort")
        targets = targets.reset_index(drop=True)
        labelled = targets["viewer_uid"].to_numpy()
    users_with_events = sorted_unique(events["viewer_uid"].to_numpy()) if store is None else store.users()
    test_users = resolve_test_users(
        test if test_path is not None else None,
        test_path,
        "viewer_uid",
        labelled,
        users_with_events,
        paths["train_targets"].name,
    )
    given = [(paths["train_targets"], labelled), (test_path, test)]
    warnings = unmatched_warnings(given, "viewer_uid", users_with_events, paths["train_events"])
    files = sorted(p for p in paths.values() if p is not None)
    tables = dict(videos=videos, targets=targets, test_users=test_users, files=files, warnings=warnings)
    if store is not None:
        report = store.report(videos, labelled, test_users, users_with_events)
        return scan.StreamedContest(store, report=report, **tables)
    report = build_report(events, videos, labelled, test_users, users_with_events)
    return Contest(events=events, report=report, **tables)
