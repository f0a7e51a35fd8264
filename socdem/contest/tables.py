"""The internal contest tables, whatever the layout on disk, and what the load report counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from socdem.contest.checks import ContestError, find_events, find_table, table_columns

LAYOUTS = ("rutube2024", "jmlc")
LATE_EVENT_DAYS = 30  # an event this long after the bulk (99th percentile) lies beyond the contest's period
TABLE_NAMES = ("train_events", "video_info_v2", "train_targets", "test_users", "events", "auth_sex_labels")


@dataclass
class Contest:
    events: pd.DataFrame  # event columns + `ts` (int64 seconds since epoch, UTC)
    videos: pd.DataFrame
    targets: pd.DataFrame  # viewer_uid, age, sex, age_class, female (0/1)
    test_users: np.ndarray  # viewer_uid of the users to predict, sorted
    files: list[Path]
    report: dict = field(default_factory=dict)
    layout: str = "rutube2024"
    video_counts: pd.DataFrame | None = None  # JMLC's upstream per-video demographic counts
    store = None  # the events' scan.EventStore when they are streamed (scan.StreamedContest)
    warnings: list[str] = field(default_factory=list)  # said before training and kept in the submission's record

    @property
    def train_users(self) -> np.ndarray:
        return self.targets["viewer_uid"].to_numpy()


def detect_layout(data_dir: Path) -> str:
    """'jmlc' when the events table has JMLC's columns, else 'rutube2024'."""
    path = find_events(Path(data_dir))
    if path is None:
        raise ContestError(
            f"{data_dir}/train_events.csv: missing table (looked for train_events/events .parquet and .csv)"
        )
    return "jmlc" if "viewer_id" in table_columns(path) else "rutube2024"


def contest_files(data_dir: Path) -> list[Path]:
    """Every table file of either layout present in `data_dir` (for the fingerprint)."""
    find_events(Path(data_dir))  # both names of the events table given is refused here too
    return sorted(p for name in TABLE_NAMES if (p := find_table(Path(data_dir), name)) is not None)


def build_report(
    events: pd.DataFrame,
    videos: pd.DataFrame,
    labelled: np.ndarray,
    test_users: np.ndarray,
    users_with_events: np.ndarray,
) -> dict:
    """Counts of what was read and of the tolerated quirks; `users_with_events` is sorted and unique."""
    return {
        "events": int(len(events)),
        "videos": int(len(videos)),
        "labelled_users": int(len(labelled)),
        "test_users": int(len(test_users)),
        "events_unknown_video": int((~events["rutube_video_id"].isin(videos["rutube_video_id"])).sum()),
        "labelled_users_without_events": int(len(np.setdiff1d(labelled, users_with_events, assume_unique=True))),
        "test_users_without_events": int(len(np.setdiff1d(test_users, users_with_events, assume_unique=True))),
        "events_missing_ua_os": int(events["ua_os"].isna().sum()),
        "videos_zero_duration": int((videos["duration"] == 0).sum()),
        "events_duplicated": _duplicated_rows(events),
        "events_after_period": _late_events(events["ts"].to_numpy()),
    }


def _duplicated_rows(events: pd.DataFrame) -> int:
    """Rows repeating an earlier row whole. Only rows sharing a user and a second can, so the
    whole-row comparison runs on those alone."""
    candidates = events[events.duplicated(["viewer_uid", "ts"], keep=False)]
    return int(candidates.duplicated().sum())


def _late_events(ts: np.ndarray) -> int:
    if len(ts) == 0:
        return 0
    return int((ts > np.percentile(ts, 99) + LATE_EVENT_DAYS * 86400).sum())


def describe_report(report: dict) -> str:
    tolerated = {
        k: v
        for k, v in report.items()
        if k.endswith(("_unknown_video", "_without_events", "_ua_os", "_duration", "_duplicated", "_after_period"))
        and v
    }
    head = (
        f"{report['events']:,} events, {report['labelled_users']:,} labelled users, {report['test_users']:,} test users"
    )
    if not tolerated:
        return head
    return head + "; tolerated: " + ", ".join(f"{k}={v:,}" for k, v in tolerated.items())
