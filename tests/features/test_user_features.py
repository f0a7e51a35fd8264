"""Label-free aggregates on a hand-made contest (local time, zero durations,
one-event and no-event users) and against the plain-pandas reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from socdem.bench.reference_pandas import reference_aggregates
from socdem.config import load_experiment
from socdem.features.user_features import user_aggregates
from socdem.features.workspace import Workspace

EVENT = {"ua_device_type": "smartphone", "ua_client_type": "mobile app", "ua_os": "Android", "ua_client_name": "Rutube"}


def write_hand_made(out):
    out.mkdir(parents=True, exist_ok=True)
    events = pd.DataFrame(
        [
            # user 1: one event, Novosibirsk (+07:00), a zero-duration video, Monday 10:00 Moscow = 14:00 local
            {
                "event_timestamp": "2024-06-03 10:00:00+03:00",
                "viewer_uid": 1,
                "rutube_video_id": "v_zero",
                "total_watchtime": 30,
                "region": "Novosibirsk Oblast",
                **EVENT,
            },
            # user 2: Moscow and an unknown region (keeps +03:00); a watch fraction above the 1.5 clip
            {
                "event_timestamp": "2024-06-08 23:30:00+03:00",
                "viewer_uid": 2,
                "rutube_video_id": "v_a",
                "total_watchtime": 50,
                "region": "Atlantis",
                **EVENT,
            },
            {
                "event_timestamp": "2024-06-09 08:00:00+03:00",
                "viewer_uid": 2,
                "rutube_video_id": "v_b",
                "total_watchtime": 600,
                "region": "Moscow",
                **EVENT,
                "ua_os": None,
                "ua_device_type": "desktop",
            },
            # user 4 (test user): only a video missing from video_info
            {
                "event_timestamp": "2024-06-05 12:00:00+03:00",
                "viewer_uid": 4,
                "rutube_video_id": "v_missing",
                "total_watchtime": 10,
                "region": "Moscow",
                **EVENT,
            },
        ]
    )
    videos = pd.DataFrame(
        {
            "rutube_video_id": ["v_zero", "v_a", "v_b"],
            "title": ["z", "a", "b"],
            "category": ["Спорт", "Кулинария", "Спорт"],
            "duration": [0, 100_000, 60_000],
            "author_id": [10, 11, 12],
        }
    )
    targets = pd.DataFrame(
        {"viewer_uid": [1, 2, 3], "age": [25, 35, 50], "sex": ["male", "female", "male"], "age_class": [1, 2, 3]}
    )
    events.to_csv(out / "train_events.csv", index=False)
    videos.to_csv(out / "video_info_v2.csv", index=False)
    targets.to_csv(out / "train_targets.csv", index=False)
    pd.DataFrame({"viewer_uid": [4]}).to_csv(out / "test_users.csv", index=False)
    return out


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory):
    root = tmp_path_factory.mktemp("hand")
    ws = Workspace(
        write_hand_made(root / "raw"), load_experiment("fast", REPO / "experiments"), root=root, log=lambda m: None
    )
    contest = ws.contest
    return user_aggregates(contest.events, contest.videos, ws.interactions.users, ws.exp.features, log=lambda m: None)


def test_index_is_every_labelled_and_test_user(hand_made):
    assert list(hand_made.index) == [1, 2, 3, 4]
    assert np.isfinite(
        hand_made.select_dtypes("number").to_numpy(dtype=float)[
            ~np.isnan(hand_made.select_dtypes("number").to_numpy(dtype=float))
        ]
    ).all()


def test_local_hour_uses_the_region_offset(hand_made):
    novosibirsk = hand_made.loc[1]
    assert novosibirsk["hour_14_share"] == 1.0 and novosibirsk["hour_10_share"] == 0.0
    assert novosibirsk["day_share"] == 1.0 and novosibirsk["weekday_0_share"] == 1.0  # 2024-06-03 is a Monday
    two = hand_made.loc[2]
    assert two["hour_23_share"] == 0.5  # unknown region keeps Moscow time
    assert two["hour_08_share"] == 0.5
    assert two["weekend_share"] == 1.0  # Saturday and Sunday
    assert two["night_share"] == 0.0 and two["evening_share"] == 0.5 and two["morning_share"] == 0.5


def test_zero_duration_and_one_event_give_no_inf_or_spurious_nan(hand_made):
    one = hand_made.loc[1]
    assert np.isnan(one["fraction_mean"]) and np.isnan(one["fraction_max"])  # duration 0: no fraction
    assert one["fraction_sum"] == 0.0
    assert one["watchtime_std"] == 0.0 and one["watchtime_mean"] == 30.0  # one event: std 0, not NaN
    assert one["events"] == 1 and one["active_days"] == 1 and one["span_days"] == 0.0
    assert one["duration_mean"] == 0.0 and one["duration_std"] == 0.0
    two = hand_made.loc[2]
    assert two["fraction_max"] == 1.5 and two["fraction_mean"] == pytest.approx((0.5 + 1.5) / 2)
    assert two["distinct_regions"] == 2 and two["os_none_share"] == 0.5 and two["device_desktop_share"] == 0.5


def test_users_without_events_get_zero_counts_and_nan_statistics(hand_made):
    none = hand_made.loc[3]
    assert none["events"] == 0 and none["distinct_videos"] == 0 and none["watchtime_sum"] == 0
    assert none.filter(like="_share").drop("unknown_video_share").eq(0).all()
    assert np.isnan(none["watchtime_mean"]) and pd.isna(none["top_region"])


def test_unknown_video_and_categorical_modes(hand_made):
    assert hand_made.loc[4, "unknown_video_share"] == 1.0 and hand_made.loc[4, "distinct_categories"] == 0
    assert hand_made.loc[2, "category_спорт_share"] == 0.5
    for column in ("top_region", "top_device", "top_client", "top_os"):
        assert isinstance(hand_made[column].dtype, pd.CategoricalDtype)
    assert hand_made.loc[1, "top_region"] == "Novosibirsk Oblast"
    assert hand_made.loc[2, "top_os"] in ("Android", "(none)")


def test_duckdb_aggregates_equal_the_pandas_reference(tiny_contest, tmp_path):
    ws = Workspace(tiny_contest, load_experiment("fast", REPO / "experiments"), root=tmp_path, log=lambda m: None)
    contest, users, cfg = ws.contest, ws.interactions.users, ws.exp.features
    duck = user_aggregates(contest.events, contest.videos, users, cfg, log=lambda m: None)
    ref = reference_aggregates(contest.events, contest.videos, users, cfg)
    assert sorted(duck.columns) == sorted(ref.columns)
    ref = ref[duck.columns]
    numeric = duck.select_dtypes("number").columns
    np.testing.assert_allclose(duck[numeric].to_numpy(float), ref[numeric].to_numpy(float), rtol=1e-6, atol=1e-9)
    for column in duck.columns.difference(numeric):
        assert duck[column].astype(object).fillna("").equals(ref[column].astype(object).fillna("")), column
