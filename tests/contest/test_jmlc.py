"""The JMLC layout: same internal tables as Rutube 2024, clear errors, end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import make

from socdem.contest import ContestError, detect_layout, load_contest
from socdem.contest.local_time import local_seconds
from socdem.synthetic.author_tastes import CATEGORIES

USERS, SEED = 1200, 5  # the JMLC contest of test_video_counts


@pytest.fixture(scope="module")
def both_layouts(synthetic_contest):
    return synthetic_contest(USERS, SEED), synthetic_contest(USERS, SEED, layout="jmlc")


def _projected_events(contest, video_prefix=""):
    """What both layouts show of an event, in one canonical order."""
    e = contest.events
    local_hour = local_seconds(e["ts"].to_numpy(), e["region"]) // 3600
    frame = pd.DataFrame(
        {
            "viewer_uid": e["viewer_uid"].to_numpy(),
            "local_hour": local_hour,
            "video": (video_prefix + e["rutube_video_id"].astype(str)).to_numpy(),
            "watch": e["total_watchtime"].to_numpy(),
            "os": e["ua_os"].fillna("").to_numpy(),
            "client": e["ua_client_name"].to_numpy(),
        }
    )
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_layout_is_detected_from_the_columns(both_layouts):
    rutube, jmlc = both_layouts
    assert detect_layout(rutube) == "rutube2024" and detect_layout(jmlc) == "jmlc"


def test_both_layouts_load_to_the_same_internal_tables(both_layouts):
    r, j = (load_contest(path) for path in both_layouts)
    assert j.layout == "jmlc" and j.video_counts is not None
    pd.testing.assert_frame_equal(_projected_events(r), _projected_events(j, video_prefix="video_"))
    assert r.targets[["viewer_uid", "sex"]].equals(j.targets[["viewer_uid", "sex"]])
    assert np.array_equal(r.test_users, j.test_users)
    videos = r.videos.assign(rutube_video_id=r.videos["rutube_video_id"].str.removeprefix("video_")).set_index(
        "rutube_video_id"
    )
    jv = j.videos.set_index("rutube_video_id")
    assert len(jv) > 0 and jv.index.isin(videos.index).all()
    same = videos.loc[jv.index]
    assert (same["duration"].to_numpy() == jv["duration"].to_numpy()).all()
    assert (same["author_id"].to_numpy() == jv["author_id"].to_numpy()).all()
    category_ids = same["category"].map({name: str(i) for i, name in enumerate(CATEGORIES)})
    assert (category_ids.to_numpy() == jv["category"].to_numpy()).all()


def _break(folder, table, change):
    path = folder / f"{table}.parquet"
    pd.read_parquet(path).pipe(change).to_parquet(path)


JMLC_BAD = {
    "missing labels": (lambda f: (f / "auth_sex_labels.parquet").unlink(), r"auth_sex_labels\.csv: missing table"),
    "missing column": (
        lambda f: _break(f, "train_events", lambda d: d.drop(columns="local_hour")),
        r"train_events\.parquet: missing column\(s\) local_hour",
    ),
    "bad date": (
        lambda f: _break(
            f, "train_events", lambda d: d.assign(event_date=d["event_date"].where(d.index != 2, "2024-13-45"))
        ),
        r"column 'event_date': 1 value\(s\) are not dates, e\.g\. '2024-13-45'",
    ),
    "hour out of range": (
        lambda f: _break(f, "train_events", lambda d: d.assign(local_hour=d["local_hour"].where(d.index != 2, 24))),
        r"column 'local_hour': 1 value\(s\) outside 0\.\.23, e\.g\. 24",
    ),
    "bad weekday": (
        lambda f: _break(
            f, "train_events", lambda d: d.assign(day_of_week=d["day_of_week"].where(d.index != 2, "Funday"))
        ),
        r"column 'day_of_week': 1 value\(s\) outside Monday\.\.Sunday, e\.g\. 'Funday'",
    ),
    "negative watch time": (
        lambda f: _break(
            f, "train_events", lambda d: d.assign(total_watchtime=d["total_watchtime"].where(d.index != 2, -1))
        ),
        r"column 'total_watchtime': 1 negative value",
    ),
    "bad sex": (
        lambda f: _break(f, "auth_sex_labels", lambda d: d.assign(sex=d["sex"].where(d.index != 0, "?"))),
        r"auth_sex_labels\.parquet: column 'sex': 1 value\(s\) outside male/female",
    ),
    "duplicate label": (
        lambda f: _break(f, "auth_sex_labels", lambda d: pd.concat([d, d.iloc[:1]])),
        r"auth_sex_labels\.parquet: column 'viewer_id': 1 duplicate user",
    ),
    "test user labelled": (
        lambda f: _break(
            f,
            "test_users",
            lambda d: pd.concat([d, pd.read_parquet(f / "auth_sex_labels.parquet")[["viewer_id"]].iloc[:1]]),
        ),
        r"test_users\.parquet: column 'viewer_id': 1 test user\(s\) also labelled",
    ),
}


@pytest.mark.parametrize("case", sorted(JMLC_BAD))
def test_jmlc_bad_input_names_file_and_column(both_layouts, tmp_path, case):
    folder = tmp_path / "jmlc"
    folder.mkdir()
    for path in both_layouts[1].glob("*.parquet"):
        (folder / path.name).write_bytes(path.read_bytes())
    breaker, message = JMLC_BAD[case]
    breaker(folder)
    with pytest.raises(ContestError, match=message):
        load_contest(folder)


def test_jmlc_end_to_end_with_the_fast_experiment(both_layouts, tmp_path):
    jmlc = both_layouts[1]
    run = make("submit", tmp_path, EXP="fast", DATA=jmlc)
    assert run.returncode == 0, run.stderr[-3000:]
    sub = pd.read_csv(tmp_path / "submissions" / "fast.csv")
    assert list(sub.columns) == ["viewer_id", "sex", "female_proba"]
    record = json.loads((tmp_path / "submissions" / "fast.json").read_text())
    assert all("age_f1_weighted" not in scores for scores in record["cv"].values())
    run = make("score", tmp_path, EXP="fast", DATA=jmlc, SUB=tmp_path / "submissions" / "fast.csv")
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(json.loads(run.stdout.strip().splitlines()[-1])) == {"f1", "roc_auc"}
