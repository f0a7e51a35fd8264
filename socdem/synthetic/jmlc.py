"""The synthetic contest in the JMLC layout: same generator, same oracle.

JMLC shows less than Rutube 2024: the local date and hour instead of a
timestamp, no region, no device or client type, and sex labels only. It
adds per-video demographic counts computed "platform-wide": here from a
separate population of users drawn from the same world, so they carry the
world's signal without leaking the contest's own labels.

The oracle stays exact: the device term is marginalised over the profiles
that share the (ua_os, ua_client_name) pair JMLC shows.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import logsumexp

from socdem.synthetic.author_tastes import _videos_table, build_world, log_posterior, sample
from socdem.synthetic.shared import (
    CATEGORIES,
    DEVICE_PROFILES,
    JUNE_1,
    log_progress,
    posterior_table,
    split_users,
    write_oracle,
    write_parquet,
    write_summary,
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
AGE_BUCKETS = ("under_18", "18_24", "25_34", "35_44", "45_54")  # JMLC's count columns; 55+ only in the total
PLATFORM_USERS_FACTOR = 2  # the "platform" population, relative to the contest's users


def part_of_day(hour: np.ndarray) -> np.ndarray:
    return np.array(["night", "morning", "day", "evening"], dtype=object)[np.asarray(hour) // 6]


def _visible_device_world(world):
    """World whose device term is P(os, client name | c): what JMLC shows."""
    pairs = [(p[0][2], p[0][3]) for p in DEVICE_PROFILES]
    group = pd.factorize(pd.Series([f"{o}|{c}" for o, c in pairs]))[0]
    merged = np.column_stack([logsumexp(world.log_device[:, group == g], axis=1) for g in group])
    return dataclasses.replace(world, log_device=merged)


def _video_counts(world, population) -> pd.DataFrame:
    """Per video: male/female viewers and viewers per JMLC age bucket."""
    seen = population.ev_video >= 0
    video, user = population.ev_video[seen], population.ev_user[seen]
    pairs = np.unique(video.astype(np.int64) * len(population.uid) + user)
    video, user = pairs // len(population.uid), pairs % len(population.uid)
    n = len(world.video_author)
    female = population.cls[user] >= 4
    age = population.age[user]
    counts = {
        "cumulative_male": np.bincount(video[~female], minlength=n),
        "cumulative_female": np.bincount(video[female], minlength=n),
        "video_users_total": np.bincount(video, minlength=n),
    }
    edges = [(0, 17), (18, 24), (25, 34), (35, 44), (45, 54)]
    for name, (lo, hi) in zip(AGE_BUCKETS, edges):
        counts[f"cumulative_{name}"] = np.bincount(video[(age >= lo) & (age <= hi)], minlength=n)
    counts["video_users_total_age"] = counts["video_users_total"]
    return pd.DataFrame(counts)


def generate_jmlc(out_dir: Path, users: int = 50_000, seed: int = 0, progress: bool = True) -> dict:
    out_dir = Path(out_dir)
    (out_dir / "oracle").mkdir(parents=True, exist_ok=True)
    log_progress(progress, f"building the world (seed {seed}), JMLC layout ...")
    world = build_world(seed)
    s = sample(world, users, seed)
    population = sample(world, users * PLATFORM_USERS_FACTOR, seed + 1_000_003)
    log_progress(progress, f"{len(s.ev_user)} events; computing the exact posterior for the JMLC view ...")
    post = posterior_table(jmlc_log_posterior(world, s))

    log_progress(progress, "writing tables ...")
    write_parquet(jmlc_events_table(world, s, _video_counts(world, population), seed), out_dir / "train_events.parquet")
    train, test = _write_jmlc_users(out_dir, s)
    write_oracle(out_dir, s, post)
    summary = {
        "generator": "socdem.synthetic.jmlc",
        "layout": "jmlc",
        "users": users,
        "seed": seed,
        "events": int(len(s.ev_user)),
        "train_users": int(len(train)),
        "test_users": int(len(test)),
        "categories": len(CATEGORIES),
    }
    return write_summary(out_dir, summary, s, train, test, post, progress)


def jmlc_log_posterior(world, s) -> np.ndarray:
    """The exact log posterior given what JMLC shows: an orphan video's author is unknown, and the device
    term is over the (os, client name) pairs."""
    author = np.where(s.ev_video >= 0, s.ev_author, -1)
    return log_posterior(
        _visible_device_world(world), len(s.uid), s.ev_user, author, s.ev_hour, s.ev_day, s.ev_bin, s.device, s.n_events
    )


def jmlc_events_table(world, s, counts: pd.DataFrame, seed: int) -> pa.Table:
    """train_events in JMLC's columns, in time order: local date and hour, the video's facts on every
    event (none for an orphan video) and its platform-wide counts."""
    order = np.lexsort((s.ev_user, s.ev_local_s))
    video = s.ev_video[order]
    known = video >= 0
    vid = np.maximum(video, 0)
    local_day = s.ev_local_s[order] // 86400
    dates = (np.datetime64(JUNE_1.date()) + local_day.astype("timedelta64[D]")).astype(str)
    hour = (s.ev_local_s[order] // 3600) % 24
    weekday = (JUNE_1.weekday() + local_day) % 7
    catalogue = _videos_table(world, seed).to_pandas()  # the author ids the Rutube layout shows
    author_id = np.empty(len(catalogue), np.int64)
    author_id[catalogue["rutube_video_id"].str.removeprefix("video_").astype(np.int64)] = catalogue["author_id"]
    profile = s.device[s.ev_user[order]]
    events = {
        "event_date": pa.array(dates, pa.string()),
        "viewer_id": pa.array(s.uid[s.ev_user[order]], pa.int64()),
        "video_id": pa.array(np.where(known, vid, -1 - video + len(world.video_author) + 5000), pa.int64()),
        "total_watchtime": pa.array(s.ev_watch[order], pa.int64()),
        "duration": pa.array(np.where(known, world.video_duration_s[vid], None), pa.int64()),
        "category_id": pa.array(np.where(known, world.author_category[world.video_author[vid]], None), pa.int64()),
        "local_hour": pa.array(hour, pa.int64()),
        "ua_os": pa.array([p[0][2] for p in DEVICE_PROFILES], pa.string()).take(pa.array(profile)),
        "ua_client_name": pa.array([p[0][3] for p in DEVICE_PROFILES], pa.string()).take(pa.array(profile)),
        "day_of_week": pa.array(np.array(WEEKDAYS, dtype=object)[weekday], pa.string()),
        "time_of_day": pa.array(part_of_day(hour), pa.string()),
        "author": pa.array(np.where(known, author_id[vid], None), pa.int64()),
    }
    for column in counts.columns:
        events[column] = pa.array(np.where(known, counts[column].to_numpy()[vid], None), pa.int64())
    return pa.table(events)


def _write_jmlc_users(out_dir: Path, s) -> tuple[np.ndarray, np.ndarray]:
    """auth_sex_labels and test_users; (train, test) user positions."""
    sex = np.where(s.cls >= 4, "female", "male")
    train, test = split_users(s)
    write_parquet(
        pa.table({"viewer_id": pa.array(s.uid[train], pa.int64()), "sex": pa.array(sex[train], pa.string())}),
        out_dir / "auth_sex_labels.parquet",
    )
    write_parquet(pa.table({"viewer_id": pa.array(s.uid[test], pa.int64())}), out_dir / "test_users.parquet")
    return train, test
