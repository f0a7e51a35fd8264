"""The synthetic contest: determinism, schema, and an exact, sane oracle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from socdem.schema import EVENT_COLUMNS
from socdem.synthetic import author_tastes as synth
from socdem.synthetic import shared

USERS = 3000
FILES = (
    "train_events.parquet",
    "video_info_v2.parquet",
    "train_targets.parquet",
    "test_users.parquet",
    "oracle/posterior.parquet",
    "oracle/test_truth.csv",
    "oracle/summary.json",
)


@pytest.fixture(scope="module")
def contest(synthetic_contest) -> Path:
    """generate(users=USERS, seed=7), shared with the GENAPON runner's tests."""
    return synthetic_contest(USERS, seed=7)


def _read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / f"{name}.parquet")


def _labels(out: Path) -> pd.DataFrame:
    """viewer_uid, female, age_class for every user (targets + test truth)."""
    both = pd.concat([_read(out, "train_targets"), pd.read_csv(out / "oracle" / "test_truth.csv")])
    both["female"] = (both["sex"] == "female").astype(int)
    return both[["viewer_uid", "female", "age_class"]]


def test_same_seed_same_bytes_other_seed_differs(contest, tmp_path):
    summary = synth.generate(tmp_path / "b", users=USERS, seed=7, progress=False)
    for name in FILES:
        assert (contest / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    synth.generate(tmp_path / "c", users=USERS, seed=8, progress=False)
    for name in FILES:
        assert (contest / name).read_bytes() != (tmp_path / "c" / name).read_bytes(), name
    assert summary == json.loads((contest / "oracle" / "summary.json").read_text(encoding="utf-8"))
    assert not [p for p in (tmp_path / "b").rglob("*") if p.name.endswith(".tmp")]


def test_schema(contest):
    events = _read(contest, "train_events")
    assert list(events.columns) == EVENT_COLUMNS
    for col in ("viewer_uid", "total_watchtime"):
        assert events[col].dtype == np.int64
    assert events["event_timestamp"].str.fullmatch(r"2024-0[5-7]-\d\d \d\d:\d\d:\d\d\+03:00").all()
    assert events["rutube_video_id"].str.fullmatch(r"video_\d+").all()
    assert 0.01 < events["ua_os"].isna().mean() < 0.06
    assert not events.drop(columns="ua_os").isna().any().any()
    regions = pd.read_csv(shared.REGIONS_CSV)["region"]
    assert events["region"].isin(regions).all()

    videos = _read(contest, "video_info_v2")
    assert list(videos.columns) == ["rutube_video_id", "title", "category", "duration", "author_id"]
    assert videos["duration"].dtype == np.int64 and videos["author_id"].dtype == np.int64
    assert (videos["duration"] % 10_000 == 0).all() and (videos["duration"] == 0).any()
    assert videos["rutube_video_id"].is_unique
    unknown = ~events["rutube_video_id"].isin(videos["rutube_video_id"])
    assert 0 < unknown.mean() < 0.01

    targets = _read(contest, "train_targets")
    assert list(targets.columns) == ["viewer_uid", "age", "sex", "age_class"]
    assert set(targets["sex"]) == {"male", "female"}
    bins = pd.cut(targets["age"], [9, 20, 30, 40, 60], labels=False)
    assert (bins == targets["age_class"]).all()
    test = _read(contest, "test_users")
    assert list(test.columns) == ["viewer_uid"]
    assert not set(test["viewer_uid"]) & set(targets["viewer_uid"])
    assert 0.15 < len(test) / USERS < 0.25
    with_events = set(events["viewer_uid"])
    assert set(test["viewer_uid"]) <= with_events
    assert 0 < (~targets["viewer_uid"].isin(with_events)).sum() < 0.02 * len(targets)

    post = _read(contest, "oracle/posterior")
    assert list(post.columns) == ["viewer_uid", "is_test", "female_proba", "age_p0", "age_p1", "age_p2", "age_p3"]
    assert len(post) == USERS and set(post.loc[post["is_test"], "viewer_uid"]) == set(test["viewer_uid"])


def test_posterior_is_a_distribution(contest):
    post = _read(contest, "oracle/posterior")
    assert post["female_proba"].between(0, 1).all()
    ages = post[[f"age_p{a}" for a in range(4)]].to_numpy()
    assert (ages >= 0).all() and np.allclose(ages.sum(1), 1.0)


def test_oracle_is_good_and_calibrated(contest):
    post = _read(contest, "oracle/posterior").merge(_labels(contest), on="viewer_uid")
    test = post[post["is_test"]]
    assert roc_auc_score(test["female"], test["female_proba"]) > 0.75
    assert abs(post["female_proba"].mean() - post["female"].mean()) < 0.03
    for a in range(4):
        assert abs(post[f"age_p{a}"].mean() - (post["age_class"] == a).mean()) < 0.03
    summary = json.loads((contest / "oracle" / "summary.json").read_text(encoding="utf-8"))
    for part in ("test", "train"):
        for key in ("roc_auc", "best_f1", "f1", "accuracy", "age_f1_weighted", "rutube2024"):
            assert 0 < summary["oracle"][part][key] <= 1
    assert summary["oracle"]["test"]["roc_auc"] == pytest.approx(roc_auc_score(test["female"], test["female_proba"]))


def test_heavy_tailed_activity(contest):
    counts = _read(contest, "train_events").groupby("viewer_uid").size()
    median = counts.median()
    assert 8 <= median <= 25
    assert counts.max() > 10 * median


@pytest.fixture(scope="module")
def chunked(tmp_path_factory) -> Path:
    """The same contest written in chunks of 700 users (what a contest above ONE_PIECE_MAX_USERS gets)."""
    out = tmp_path_factory.mktemp("synth") / "chunked"
    synth.generate(out, users=USERS, seed=7, progress=False, chunk_users=700)
    return out


def test_one_chunk_is_the_one_piece_contest(contest, tmp_path):
    synth.generate(tmp_path / "c", users=USERS, seed=7, progress=False, chunk_users=USERS)
    for name in FILES:
        assert (contest / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), name


def test_chunked_contest_keeps_users_labels_and_catalogue(contest, chunked):
    for name in ("train_targets.parquet", "test_users.parquet", "video_info_v2.parquet", "oracle/test_truth.csv"):
        assert (contest / name).read_bytes() == (chunked / name).read_bytes(), name
    one, parts = _read(contest, "train_events"), _read(chunked, "train_events")
    assert list(parts.columns) == EVENT_COLUMNS and parts.dtypes.equals(one.dtypes)
    # each user's number of events is drawn with the user; the events themselves come from the chunk's stream
    pd.testing.assert_series_equal(
        one["viewer_uid"].value_counts().sort_index(), parts["viewer_uid"].value_counts().sort_index()
    )
    assert not one.equals(parts)
    assert pq.ParquetFile(chunked / "train_events.parquet").metadata.num_row_groups == 5  # one per chunk
    summary = json.loads((chunked / "oracle" / "summary.json").read_text(encoding="utf-8"))
    assert summary["chunk_users"] == 700 and summary["events"] == len(parts)
    assert summary["oracle"]["test"]["roc_auc"] > 0.75
    assert not list(chunked.glob(".*.tmp"))


def test_posterior_is_exact_given_public_files(contest):
    _assert_exact_posterior(contest)


def test_chunked_posterior_is_exact_given_public_files(chunked):
    _assert_exact_posterior(chunked)


def _assert_exact_posterior(contest: Path) -> None:
    """Rebuild every latent the oracle uses from the written tables alone."""
    seed = json.loads((contest / "oracle" / "summary.json").read_text())["seed"]
    world = synth.build_world(seed)
    events = _read(contest, "train_events")
    videos = _read(contest, "video_info_v2")
    post = _read(contest, "oracle/posterior")

    # the author: one public author_id per latent author, via video_info
    videos["latent"] = world.video_author[videos["rutube_video_id"].str[6:].astype(int).to_numpy()]
    assert (videos.groupby("author_id")["latent"].nunique() == 1).all()
    assert (videos.groupby("latent")["author_id"].nunique() == 1).all()
    ev = events.merge(videos, on="rutube_video_id", how="left")
    known = ev["latent"].notna().to_numpy()
    author = np.where(known, ev["latent"].fillna(-1), -1).astype(np.int64)

    # local hour and day: Moscow time shifted by the event region's offset
    offsets = pd.read_csv(shared.REGIONS_CSV).set_index("region")["utc_offset_hours"]
    moscow = pd.to_datetime(ev["event_timestamp"].str[:19])
    local = moscow + pd.to_timedelta(ev["region"].map(offsets).to_numpy() - 3, unit="h")
    assert (local.dt.month == 6).all() and (local.dt.year == 2024).all()

    # the watch bin: durations are multiples of 10 s
    tenth = (ev["duration"].fillna(0).to_numpy() / 10_000).astype(np.int64)
    has_bin = known & (tenth > 0)
    k = np.where(has_bin, ev["total_watchtime"].to_numpy() // np.maximum(tenth, 1), -1)
    assert ((k[has_bin] >= 0) & (k[has_bin] < shared.N_BINS)).all()

    # the device profile: one per user
    cols = ["ua_device_type", "ua_client_type", "ua_os", "ua_client_name"]
    profiles = pd.DataFrame([p[0] for p in shared.DEVICE_PROFILES], columns=cols)
    profiles["profile"] = np.arange(len(profiles))
    ev = ev.merge(profiles, on=cols, how="left")
    assert ev["profile"].notna().all()
    assert (ev.groupby("viewer_uid")["profile"].nunique() == 1).all()

    uids = post["viewer_uid"].to_numpy()
    user = np.searchsorted(uids, ev["viewer_uid"].to_numpy())
    n_events = np.bincount(user, minlength=len(uids))
    device = np.zeros(len(uids), np.int64)
    device[user] = ev["profile"].to_numpy().astype(np.int64)
    log_post = synth.log_posterior(
        world, len(uids), user, author, local.dt.hour.to_numpy(), local.dt.day.to_numpy() - 1, k, device, n_events
    )
    table = synth.posterior_table(log_post)
    expected = post[["female_proba", "age_p0", "age_p1", "age_p2", "age_p3"]].to_numpy()
    np.testing.assert_allclose(table, expected, rtol=0, atol=1e-9)
    # users without events keep the prior
    prior = synth.posterior_table(world.log_prior[None, :])[0]
    assert np.allclose(expected[n_events == 0], prior)
