"""build_features: one row per labelled/test user, no inf, cached by fingerprint, family switches."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from socdem.config import load_experiment
from socdem.features.build import build_features, features_dir
from socdem.features.workspace import Workspace


def workspace(data, root, logs=None, **features):
    exp = load_experiment("fast", REPO / "experiments")
    exp.features = dataclasses.replace(exp.features, svd_author_dims=4, svd_video_dims=4, **features)
    return Workspace(data, exp, root=root, log=(logs.append if logs is not None else lambda m: None))


@pytest.fixture(scope="module")
def built(tiny_contest, tmp_path_factory):
    root = tmp_path_factory.mktemp("home")
    ws = workspace(tiny_contest, root)
    return ws, build_features(ws)


def test_index_dtypes_and_no_inf(built):
    ws, features = built
    assert features.index.name == "viewer_uid"
    np.testing.assert_array_equal(features.index.to_numpy(), ws.interactions.users)
    numeric = features.select_dtypes("number")
    assert set(numeric.dtypes.astype(str)) <= {"float32", "float64"}
    assert not np.isinf(numeric.to_numpy()).any()
    categorical = features.columns.difference(numeric.columns)
    assert {"top_region", "top_client", "top_device"} <= set(categorical)
    assert all(isinstance(features[c].dtype, pd.CategoricalDtype) for c in categorical)
    with_events = features["events"] > 0
    shares = features.filter(like="hour_").loc[with_events].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0, rtol=1e-5)
    assert features.filter(like="svd_author_").shape[1] == 4 and features.filter(like="svd_video_").shape[1] == 4
    assert numeric.loc[with_events].drop(columns=features.filter(like="fraction_").columns).notna().all().all()


def test_second_build_uses_the_cache_without_loading_events(built):
    ws, features = built
    logs = []
    again = workspace(ws.data_dir, ws.root, logs)
    started = time.perf_counter()
    cached = build_features(again)
    assert time.perf_counter() - started < 2.0
    assert "contest" not in again.__dict__ and "interactions" not in again.__dict__  # events never loaded
    assert any("used the cache" in line for line in logs)
    pd.testing.assert_frame_equal(cached, features)
    assert (features_dir(ws) / "user_features.parquet").exists() and (features_dir(ws) / "meta.json").exists()
    assert again.features is not None and "used the cache" in logs[-1]


def test_label_dependent_settings_keep_the_label_free_cache(built):
    ws, _ = built
    assert features_dir(workspace(ws.data_dir, ws.root, naive_bayes=False)) == features_dir(ws)
    assert features_dir(workspace(ws.data_dir, ws.root, top_values=3)) != features_dir(ws)


@pytest.mark.parametrize(
    "family, prefixes",
    [
        ("time", ["hour_", "weekday_", "weekend_share", "night_share"]),
        ("device", ["device_", "client_", "os_", "top_region", "distinct_regions"]),
        ("embeddings", ["svd_"]),
        ("category", ["category_", "duration_"]),
        ("watchtime", ["watchtime_", "fraction_"]),
        ("activity", ["events", "distinct_videos", "active_days"]),
    ],
)
def test_family_switches_drop_their_columns(built, tmp_path, family, prefixes):
    ws, features = built
    for prefix in prefixes:
        assert any(c.startswith(prefix) for c in features.columns), prefix
    ws_off = workspace(ws.data_dir, tmp_path, **{family: False, "embeddings": False})  # no SVD: quicker
    without = build_features(ws_off)
    for prefix in prefixes:
        assert not any(c.startswith(prefix) for c in without.columns), prefix
    assert len(without) == len(features) and without.shape[1] > 0
