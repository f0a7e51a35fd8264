"""Load and validate the contest tables (layout: ../shared/data-contract.md).

Every problem is reported as one `ContestError` line naming the file, the
column and the first offending values; what real data is known to contain
(events of unknown videos, labelled users without events, empty `ua_os`,
zero durations) is tolerated and counted in `Contest.report`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SEX_VALUES = ("male", "female")
N_AGE_CLASSES = 4

SCHEMA = {
    "train_events": [
        "event_timestamp", "viewer_uid", "rutube_video_id", "total_watchtime", "region",
        "ua_device_type", "ua_client_type", "ua_os", "ua_client_name",
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


class ContestError(ValueError):
    """Bad contest input; the message is one line meant for the user."""


@dataclass
class Contest:
    events: pd.DataFrame  # event columns + `ts` (int64 seconds since epoch, UTC)
    videos: pd.DataFrame
    targets: pd.DataFrame  # viewer_uid, age, sex, age_class, female (0/1)
    test_users: np.ndarray  # viewer_uid of the users to predict, sorted
    files: list[Path]
    report: dict = field(default_factory=dict)

    @property
    def train_users(self) -> np.ndarray:
        return self.targets["viewer_uid"].to_numpy()


def _examples(values, n: int = 3) -> str:
    return ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in list(values)[:n])


def find_table(data_dir: Path, name: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        path = data_dir / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, engine="pyarrow")
    except Exception as exc:  # the reader's own message, but attached to our file
        raise ContestError(f"{path}: cannot be read as {path.suffix[1:]}: {exc}".splitlines()[0]) from None


def _check_columns(df: pd.DataFrame, path: Path, name: str) -> pd.DataFrame:
    missing = [c for c in SCHEMA[name] if c not in df.columns]
    if missing:
        raise ContestError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(SCHEMA[name])}")
    if len(df) == 0:
        raise ContestError(f"{path}: the table is empty; expected at least one row")
    for col in INTEGER_COLUMNS[name]:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            raise ContestError(
                f"{path}: column '{col}': {int(bad.sum())} value(s) are not integers, e.g. {_examples(df[col][bad])}"
            )
        df[col] = values.astype("int64")
    return df


def _check_nonnegative(df: pd.DataFrame, path: Path, col: str) -> None:
    bad = df[col] < 0
    if bad.any():
        raise ContestError(
            f"{path}: column '{col}': {int(bad.sum())} negative value(s), e.g. {_examples(df[col][bad])}; expected >= 0"
        )


def parse_timestamps(raw: pd.Series, path: Path) -> np.ndarray:
    """ISO 8601 with offset → int64 seconds since the epoch (UTC)."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw if raw.dt.tz is not None else raw.dt.tz_localize("Europe/Moscow")
    else:
        parsed = pd.to_datetime(raw, format="ISO8601", utc=True, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        raise ContestError(
            f"{path}: column 'event_timestamp': {int(bad.sum())} value(s) are not ISO 8601 timestamps, "
            f"e.g. {_examples(raw[bad])}; expected like '2024-06-01 06:40:58+03:00'"
        )
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    return ((parsed - epoch) // pd.Timedelta(seconds=1)).to_numpy(dtype="int64")


def _load_events(path: Path) -> pd.DataFrame:
    events = _check_columns(read_table(path), path, "train_events")
    _check_nonnegative(events, path, "total_watchtime")
    events["ts"] = parse_timestamps(events["event_timestamp"], path)
    events = events.drop(columns=["event_timestamp"])
    for col in ("rutube_video_id", "region", "ua_device_type", "ua_client_type", "ua_os", "ua_client_name"):
        events[col] = events[col].astype("string")
    return events


def _load_videos(path: Path) -> pd.DataFrame:
    videos = _check_columns(read_table(path), path, "video_info_v2")
    _check_nonnegative(videos, path, "duration")
    videos["rutube_video_id"] = videos["rutube_video_id"].astype("string")
    videos["category"] = videos["category"].astype("string")
    dup = videos["rutube_video_id"].duplicated()
    if dup.any():
        raise ContestError(
            f"{path}: column 'rutube_video_id': {int(dup.sum())} duplicate id(s), e.g. "
            f"{_examples(videos['rutube_video_id'][dup])}; expected one row per video"
        )
    return videos


def _load_targets(path: Path) -> pd.DataFrame:
    targets = _check_columns(read_table(path), path, "train_targets")
    sex = targets["sex"].astype("string").str.strip().str.lower()
    bad = ~sex.isin(SEX_VALUES) | sex.isna()
    if bad.any():
        raise ContestError(
            f"{path}: column 'sex': {int(bad.sum())} value(s) outside male/female, e.g. {_examples(targets['sex'][bad])}"
        )
    bad = ~targets["age_class"].between(0, N_AGE_CLASSES - 1)
    if bad.any():
        raise ContestError(
            f"{path}: column 'age_class': {int(bad.sum())} value(s) outside 0..3, e.g. {_examples(targets['age_class'][bad])}"
        )
    dup = targets["viewer_uid"].duplicated()
    if dup.any():
        raise ContestError(
            f"{path}: column 'viewer_uid': {int(dup.sum())} duplicate user(s), e.g. "
            f"{_examples(targets['viewer_uid'][dup])}; expected one row per user"
        )
    targets = targets[["viewer_uid", "age", "age_class"]].assign(sex=sex.astype(str).to_numpy())
    targets["female"] = (targets["sex"] == "female").astype("int64")
    return targets.sort_values("viewer_uid", kind="mergesort").reset_index(drop=True)


def load_contest(data_dir: Path | str) -> Contest:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ContestError(f"{data_dir}: no such folder; expected the contest tables there (or run `make data`)")
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
    users_with_events = np.unique(events["viewer_uid"].to_numpy())

    if paths["test_users"] is not None:
        path = paths["test_users"]
        test = _check_columns(read_table(path), path, "test_users")["viewer_uid"].to_numpy()
        overlap = np.intersect1d(test, labelled)
        if len(overlap):
            raise ContestError(
                f"{path}: column 'viewer_uid': {len(overlap)} test user(s) also labelled in "
                f"{paths['train_targets'].name}, e.g. {_examples(overlap)}"
            )
        test_users = np.unique(test)
    else:
        test_users = np.setdiff1d(users_with_events, labelled)

    known_videos = events["rutube_video_id"].isin(videos["rutube_video_id"])
    report = {
        "events": int(len(events)),
        "videos": int(len(videos)),
        "labelled_users": int(len(labelled)),
        "test_users": int(len(test_users)),
        "events_unknown_video": int((~known_videos).sum()),
        "labelled_users_without_events": int(len(np.setdiff1d(labelled, users_with_events))),
        "test_users_without_events": int(len(np.setdiff1d(test_users, users_with_events))),
        "events_missing_ua_os": int(events["ua_os"].isna().sum()),
        "videos_zero_duration": int((videos["duration"] == 0).sum()),
    }
    files = sorted(p for p in paths.values() if p is not None)
    return Contest(events=events, videos=videos, targets=targets, test_users=test_users, files=files, report=report)


def describe_report(report: dict) -> str:
    tolerated = {k: v for k, v in report.items() if k.endswith(("_unknown_video", "_without_events", "_ua_os", "_duration")) and v}
    head = f"{report['events']:,} events, {report['labelled_users']:,} labelled users, {report['test_users']:,} test users"
    if not tolerated:
        return head
    return head + "; tolerated: " + ", ".join(f"{k}={v:,}" for k, v in tolerated.items())
