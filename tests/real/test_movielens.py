"""MovieLens-100k as a contest: the mapping onto the contest's tables, the split and its truth, read from a
wheel-shaped archive (a tiny one built here: no network), and one clear line when pip cannot fetch it."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make

from socdem.contest import load_contest
from socdem.real import movielens

USERS = 60


def fake_wheel(folder: Path) -> Path:
    """A recbole-shaped wheel holding a small MovieLens-100k: its files' layout, headers and encoding."""
    rng = np.random.default_rng(0)
    users = ["user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token"]
    ages = [7, 20, 21, 30, 31, 40, 41, 65]
    for u in range(1, USERS + 1):
        users.append(f"{u}\t{ages[u % len(ages)]}\t{'FM'[u % 2]}\tother\t{['85711', 'T8H1N', '01002'][u % 3]}")
    items = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    items += ["1\tToy Story\t1995\tAnimation Children's Comedy", "2\tGoldenEye\t1995\tAction Adventure Thriller"]
    items += ["3\tCafé au lait\t\tDrama", *(f"{i}\tMovie {i}\t19{60 + i}\tDrama Romance" for i in range(4, 21))]
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for u in range(1, USERS + 1):
        for item in rng.choice(np.arange(1, 21), 6, replace=False):
            inter.append(f"{u}\t{item}\t{rng.integers(1, 6)}\t{874724710 + int(rng.integers(0, 2e7))}")
    wheel = folder / f"{movielens.PACKAGE}-{movielens.VERSION}-py3-none-any.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as archive:
        for kind, lines in (("user", users), ("item", items), ("inter", inter)):
            archive.writestr(movielens.MEMBERS.format(kind), ("\n".join(lines) + "\n").encode("latin-1"))
    return wheel


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ml")
    fake_wheel(root / "wheels")
    movielens.write_movielens(root / "raw", seed=3, cache_dir=root / "wheels", log=lambda m: None)
    return root / "raw"


def test_ratings_become_events_of_the_contest_layout(written):
    contest = load_contest(written)
    events, videos = (
        pd.read_parquet(written / "train_events.parquet"),
        pd.read_parquet(written / "video_info_v2.parquet"),
    )
    ratings = movielens.read_movielens(next((written.parent / "wheels").glob("*.whl")))[0]
    assert len(events) == len(ratings) == contest.report["events"]
    assert set(events["total_watchtime"]) <= {600, 1200, 1800, 2400, 3000}  # rating x 600 s
    assert (videos["duration"] == movielens.DURATION_MS).all()  # so the watch fraction is rating / 5
    first = videos.set_index("rutube_video_id").loc["movie_1"]
    assert (first["title"], first["category"], first["author_id"]) == ("Toy Story", "Animation", 1995)
    assert videos.set_index("rutube_video_id").loc["movie_3", "author_id"] == 0  # no release year
    assert set(events["region"]) == {"zip8", "zipT", "zip0"}
    # 874724710 s after the epoch is 1997-09-20 03:05:10 UTC: the contest's fixed +03:00, whatever the DST
    stamp = pd.Timestamp(874724710, unit="s", tz="UTC") + pd.Timedelta(hours=3)
    assert stamp.strftime("%Y-%m-%d %H:%M:%S+03:00") == "1997-09-20 06:05:10+03:00"
    assert events["event_timestamp"].str.endswith("+03:00").all()


def test_the_split_holds_out_a_fifth_with_its_truth_beside_the_tables(written, tmp_path):
    targets, test = pd.read_parquet(written / "train_targets.parquet"), pd.read_parquet(written / "test_users.parquet")
    truth = pd.read_csv(written / "truth" / "test_truth.csv")
    assert len(test) == round(USERS * movielens.TEST_SHARE) and len(targets) + len(test) == USERS
    assert not set(targets["viewer_uid"]) & set(test["viewer_uid"]) and list(truth["viewer_uid"]) == list(
        test["viewer_uid"]
    )
    by_age = pd.concat([targets, truth])[["age", "age_class"]].drop_duplicates().set_index("age")["age_class"]
    assert by_age.sort_index().to_dict() == {7: 0, 20: 0, 21: 1, 30: 1, 31: 2, 40: 2, 41: 3, 65: 3}
    again = tmp_path / "again"
    movielens.write_movielens(again, seed=3, cache_dir=written.parent / "wheels", log=lambda m: None)
    for name in ("train_events.parquet", "train_targets.parquet", "truth/test_truth.csv"):
        assert (again / name).read_bytes() == (written / name).read_bytes()  # the same seed, the same contest
    other = tmp_path / "other"
    movielens.write_movielens(other, seed=4, cache_dir=written.parent / "wheels", log=lambda m: None)
    assert set(pd.read_parquet(other / "test_users.parquet")["viewer_uid"]) != set(test["viewer_uid"])


def test_a_failed_download_is_one_line_naming_the_package_and_the_cache(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "ERROR: Could not find a version that satisfies recbole\n")

    monkeypatch.setattr(movielens.wheels.subprocess, "run", no_network)
    with pytest.raises(movielens.SourceError, match=r"pip could not fetch recbole==1\.2\.1 .*Could not find a version"):
        movielens.fetch_wheel(tmp_path / "wheels", log=lambda m: None)


def test_make_data_source_writes_the_contest_and_make_score_finds_its_truth(tmp_path):
    home = tmp_path / "home"
    fake_wheel(home / "data" / "wheels")  # the cache `make data SOURCE=` reads before asking pip
    data = tmp_path / "ml 100k"
    run = make("data", home, SOURCE="movielens-100k", DATA=data, SEED=1)
    assert run.returncode == 0, run.stderr
    assert "real data" in run.stderr and (data / "truth" / "test_truth.csv").exists()
    truth = pd.read_csv(data / "truth" / "test_truth.csv")
    sub = tmp_path / "constant.csv"
    truth.assign(sex="female", age_class=1, female_proba=0.5)[
        ["viewer_uid", "sex", "age_class", "female_proba"]
    ].to_csv(sub, index=False)
    scored = make("score", home, DATA=data, SUB=sub)
    assert scored.returncode == 0, scored.stderr
    assert '"roc_auc": 0.5' in scored.stdout
    again = make("data", home, SOURCE="movielens-100k", DATA=data)
    assert again.returncode == 0 and "already holds a real contest" in again.stderr
    bad = make("data", home, SOURCE="movielens-1m", DATA=tmp_path / "x")
    assert bad.returncode == 2 and "SOURCE=movielens-1m; expected one of movielens-100k" in bad.stderr
