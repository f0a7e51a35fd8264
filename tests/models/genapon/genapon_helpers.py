"""Tiny random per-user histories for the GENAPON tests (no contest needed)."""

from __future__ import annotations

import numpy as np

from socdem.models.genapon.batches import TIME_FEATURES, UserEvents


def random_events(n_users=300, n_videos=60, n_authors=12, n_user_features=3, seed=0, signal=True):
    """Users whose sex shows in which videos they watch (if `signal`)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 40, n_users)
    lengths[:3] = (0, 1, 39)
    female = rng.integers(0, 2, n_users)
    age = rng.integers(0, 4, n_users)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    owner = np.repeat(np.arange(n_users), lengths)
    half = n_videos // 2
    video = rng.integers(1, half + 1, len(owner)) + (female[owner] * half if signal else 0)
    author = (video % n_authors) + 1
    time = rng.random((len(owner), len(TIME_FEATURES))).astype(np.float32)
    users = rng.normal(size=(n_users, n_user_features)).astype(np.float32)
    events = UserEvents(
        uids=np.arange(1000, 1000 + n_users, dtype=np.int64),
        offsets=offsets,
        video=video.astype(np.int64),
        author=author.astype(np.int64),
        time=time,
        user_features=users,
    )
    return events, np.column_stack([female, age])
