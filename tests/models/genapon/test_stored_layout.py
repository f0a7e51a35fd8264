"""The streamed GENAPON layout (batches.stored_user_events) equals the pandas one."""

from __future__ import annotations

import numpy as np
from conftest import REPO

from socdem.config import load_experiment
from socdem.features.workspace import Workspace
from socdem.models.genapon.batches import build_user_events, stored_user_events
from socdem.models.genapon.runner import workspace_events


def test_the_streamed_layout_equals_the_pandas_one(tiny_contest, tmp_path):
    """stored_user_events (DuckDB, in chunks, memory-mapped) lays out what build_user_events does."""
    exp = load_experiment("fast", REPO / "experiments")
    plain = Workspace(tiny_contest, exp, root=tmp_path, log=lambda m: None, stream=False)
    streamed = Workspace(tiny_contest, exp, root=tmp_path, log=lambda m: None, stream=True)
    users = plain.interactions.users
    features = np.random.default_rng(0).random((len(users), 3)).astype(np.float32)
    a = build_user_events(plain.contest.events, plain.contest.videos, users, features)
    b = stored_user_events(streamed.coded, streamed.contest.videos, users, features, tmp_path / "mm", chunk_events=997)
    assert isinstance(b.time, np.memmap) and isinstance(b.video, np.memmap)
    names = ("uids", "offsets", "video", "author", "time", "user_features", "last_of_author", "title_words")
    for name in (*names, "video_category"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert b.time.dtype == a.time.dtype and b.video.dtype == a.video.dtype
    c = stored_user_events(streamed.coded, streamed.contest.videos, users, features)  # in memory
    np.testing.assert_array_equal(a.time, c.time)
    assert not isinstance(c.time, np.memmap)


def test_workspace_events_of_a_streamed_contest_are_memory_mapped(tiny_contest, tmp_path):
    exp = load_experiment("fast", REPO / "experiments")
    plain = Workspace(tiny_contest, exp, root=tmp_path, log=lambda m: None, stream=False)
    streamed = Workspace(tiny_contest, exp, root=tmp_path, log=lambda m: None, stream=True)
    a, b = workspace_events(plain, log=False), workspace_events(streamed, log=False)
    assert isinstance(b.video, np.memmap) and str(streamed.contest.store.folder) in str(b.video.filename)
    for name in ("offsets", "video", "author", "time", "user_features", "last_of_author"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
