"""Streamed events (features/stored_events.py): the features, the user x item matrices and their
parents built by DuckDB over the contest's store equal those built from the pandas events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from small_contest import small_tables, write_tables

from socdem.config import load_experiment
from socdem.features import user_features
from socdem.features.build import compute_features
from socdem.features.stored_events import StoredInteractions
from socdem.features.workspace import Workspace

ITEMS = ("author_id", "rutube_video_id", "category", "title_word", "engaged_video", "watched_video")
PARENTS = (("rutube_video_id", "author_id"), ("author_id", "category"), ("rutube_video_id", "category"))


def _workspaces(data, root):
    exp = load_experiment("fast", REPO / "experiments")
    return [Workspace(data, exp, root=root, log=lambda m: None, stream=stream) for stream in (False, True)]


def _assert_same(plain, streamed):
    assert plain.contest.store is None and streamed.contest.store is not None
    assert isinstance(streamed.interactions, StoredInteractions)
    np.testing.assert_array_equal(plain.interactions.users, streamed.interactions.users)
    for item in ITEMS:
        (a, values_a), (b, values_b) = plain.interactions.matrix(item), streamed.interactions.matrix(item)
        np.testing.assert_array_equal(values_a, values_b, err_msg=item)
        assert a.shape == b.shape and a.dtype == b.dtype, item
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(a, part), getattr(b, part), err_msg=f"{item} {part}")
    for child, parent in PARENTS:
        np.testing.assert_array_equal(
            plain.interactions.parents(child, parent), streamed.interactions.parents(child, parent)
        )
    features_a, _ = compute_features(plain)
    features_b, timings = compute_features(streamed)
    pd.testing.assert_frame_equal(features_a, features_b, check_exact=True)
    assert "coded events" in timings["seconds"]


def test_the_synthetic_contest(tiny_contest, tmp_path):
    _assert_same(*_workspaces(tiny_contest, tmp_path))


@pytest.mark.parametrize("uid", [lambda i: 100_000 + i, lambda i: f"u{i:04d}"], ids=["integer ids", "text ids"])
def test_unknown_users_videos_and_regions(tmp_path, uid):
    tables = small_tables(n_users=60, uid=uid)
    events = tables["train_events"]
    stranger = events.iloc[:25].assign(viewer_uid=uid(999), rutube_video_id="video_3")  # neither labelled nor test
    orphans = events.iloc[25:40].assign(rutube_video_id="video_x", region="Atlantis")  # not in the catalogue
    tables["train_events"] = pd.concat([events, stranger, orphans], ignore_index=True)
    tables["video_info_v2"].loc[5, "category"] = None  # a video without a category
    _assert_same(*_workspaces(write_tables(tmp_path / "c", tables, "parquet"), tmp_path))


def test_per_user_aggregates_by_ranges_of_users(tiny_contest, tmp_path, monkeypatch):
    """Streamed per-user aggregates go by ranges of users (DuckDB's memory); the ranges change nothing."""
    plain, streamed = _workspaces(tiny_contest, tmp_path)
    monkeypatch.setattr(user_features, "PART_EVENTS", 5000)  # ~13 ranges
    pd.testing.assert_frame_equal(compute_features(plain)[0], compute_features(streamed)[0], check_exact=True)


def test_watched_video_sums_the_share_of_each_video_watched(tiny_contest, tmp_path):
    plain, _ = _workspaces(tiny_contest, tmp_path)
    watched, videos = plain.interactions.matrix("watched_video")
    events = plain.contest.events.merge(plain.contest.videos[["rutube_video_id", "duration"]], on="rutube_video_id")
    events = events[events["viewer_uid"].isin(plain.interactions.users) & (events["duration"] > 0)]
    shares = np.clip(events["total_watchtime"] / (events["duration"] / 1000.0), 0, 1)
    assert watched.sum() == pytest.approx(shares.sum(), rel=1e-5)
    assert watched.max() <= events.groupby(["viewer_uid", "rutube_video_id"]).size().max() + 1e-6
    assert set(videos) <= set(events["rutube_video_id"])
