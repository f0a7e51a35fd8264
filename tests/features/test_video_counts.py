from __future__ import annotations

import numpy as np
import pandas as pd

from socdem.features.video_counts import video_count_features


def test_only_trusted_videos_count_and_aggregates_are_event_weighted():
    counts = pd.DataFrame(
        {
            "rutube_video_id": ["a", "b", "c"],
            "cumulative_male": [10, 30, 1],
            "cumulative_female": [30, 10, 1],
            "video_users_total": [40, 40, 2],
            "cumulative_under_18": [4, 8, 0],
            "cumulative_18_24": [4, 8, 0],
            "cumulative_25_34": [8, 8, 0],
            "cumulative_35_44": [8, 8, 0],
            "cumulative_45_54": [8, 4, 0],
            "video_users_total_age": [40, 40, 2],
        }
    )
    events = pd.DataFrame({"viewer_uid": [1, 1, 1, 2, 3], "rutube_video_id": ["a", "a", "b", "c", "zzz"]})
    f = video_count_features(events, counts, np.array([1, 2, 3, 4]), min_views=40)
    assert list(f.index) == [1, 2, 3, 4]
    assert np.isclose(f.loc[1, "vc_female_mean"], (0.75 + 0.75 + 0.25) / 3)
    assert f.loc[1, "vc_female_max"] == 0.75 and f.loc[1, "vc_female_min"] == 0.25
    assert np.isclose(f.loc[1, "vc_age_45_54_mean"], (0.2 + 0.2 + 0.1) / 3)
    assert f.loc[1, "vc_trusted_share"] == 1.0
    # video c has 2 viewers (< 40): untrusted; unknown video: nothing; user 4: no events
    assert np.isnan(f.loc[2, "vc_female_mean"]) and f.loc[2, "vc_trusted_share"] == 0.0
    assert np.isnan(f.loc[4, "vc_trusted_share"])
    assert np.isfinite(f.fillna(0).to_numpy()).all()


def test_jmlc_counts_join_the_cached_features_and_can_be_switched_off(synthetic_contest, tmp_path):
    from socdem.config import Experiment
    from socdem.features.build import build_features
    from socdem.features.workspace import Workspace

    jmlc = synthetic_contest(1200, seed=5, layout="jmlc")  # shared with test_jmlc
    quiet = dict(root=tmp_path, log=lambda message: None)
    with_counts = build_features(Workspace(jmlc, Experiment(name="x"), **quiet))
    assert {"vc_female_mean", "vc_age_25_34_max", "vc_trusted_share"} <= set(with_counts.columns)
    assert with_counts["vc_female_mean"].notna().mean() > 0.5
    off = Experiment(name="x")
    off.features.video_counts = False
    without = build_features(Workspace(jmlc, off, **quiet))
    assert not any(c.startswith("vc_") for c in without.columns)
