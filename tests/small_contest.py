"""A small Rutube-2024 contest built in a test: plain DataFrames each test
bends (ids, timestamps, storage) before writing them out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REGIONS = ["Chelyabinsk", "St.-Petersburg", "Moscow", ""]
# `--set` for a run whose subject is the folder, not the models: the two baselines fit in a blink (the fast
# experiment's linear model is trained end to end on the tiny contest, and on small folders where it matters)
BASELINES = "models=['top_class', 'author_share']"


def small_tables(n_users: int = 120, seed: int = 0, uid=lambda i: 100_000 + i, n_videos: int = 40) -> dict:
    """{table name: DataFrame}: sex acts through the videos watched, age through their category."""
    rng = np.random.default_rng(seed)
    users = np.array([uid(i) for i in range(n_users)], dtype=object if isinstance(uid(0), str) else np.int64)
    female = np.arange(n_users) % 2 == 0  # both sexes in every age class
    age_class = (np.arange(n_users) // 2) % 4
    videos = pd.DataFrame(
        {
            "rutube_video_id": [f"video_{k}" for k in range(n_videos)],
            "title": [f"title {k}" for k in range(n_videos)],
            "category": [f"cat{k % 4}" for k in range(n_videos)],
            "duration": rng.integers(0, 600_000, n_videos),
            "author_id": np.arange(n_videos) % 10 + 1,
        }
    )
    rows = []
    start = pd.Timestamp("2024-06-01 00:00:00")
    for i in range(n_users):
        for _ in range(rng.integers(3, 12)):
            half = rng.integers(0, n_videos // 2) + (0 if female[i] else n_videos // 2)
            video = (half // 4) * 4 + age_class[i] if rng.random() < 0.7 else rng.integers(0, n_videos)
            when = start + pd.Timedelta(seconds=int(rng.integers(0, 30 * 86400)))
            rows.append(
                {
                    "event_timestamp": when.strftime("%Y-%m-%d %H:%M:%S") + "+03:00",
                    "viewer_uid": users[i],
                    "rutube_video_id": f"video_{min(video, n_videos - 1)}",
                    "total_watchtime": int(rng.integers(0, 900)),
                    "region": REGIONS[rng.integers(0, len(REGIONS))],
                    "ua_device_type": ["desktop", "smartphone"][rng.integers(0, 2)],
                    "ua_client_type": "browser",
                    "ua_os": ["Windows", "Android", ""][rng.integers(0, 3)],
                    "ua_client_name": "Chrome",
                }
            )
    labelled = np.arange(n_users) < n_users * 3 // 4
    targets = pd.DataFrame(
        {
            "viewer_uid": users[labelled],
            "age": 15 + 10 * age_class[labelled],
            "sex": np.where(female[labelled], "female", "male"),
            "age_class": age_class[labelled],
        }
    )
    return {
        "train_events": pd.DataFrame(rows),
        "video_info_v2": videos,
        "train_targets": targets,
        "test_users": pd.DataFrame({"viewer_uid": users[~labelled]}),
    }


def write_tables(folder: Path, tables: dict, fmt: str = "csv") -> Path:
    """Each table as `<name>.csv` or `<name>.parquet` in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if fmt == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            df.to_parquet(folder / f"{name}.parquet", index=False)
    return folder
