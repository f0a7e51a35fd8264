"""MovieLens-100k (GroupLens) written as a Rutube-2024 contest: real users' histories for research use.

943 users with their sex and age, 100,000 ratings of 1,682 movies (1997-98). The data files come from the
`recbole` wheel on PyPI (recbole/dataset_example/ml-100k/), fetched once with `pip download` into a cache
and read from the archive; the package is never imported or installed. The mapping onto the contest's
tables (docs/data-contract.md):

    event      one rating; its timestamp (UTC) written in Moscow time
    watch time rating x 600 s, of a 3,000 s "video": the watch fraction is rating / 5
    video      the movie (`movie_<id>`), titled by its title, in the category of its first genre,
               by the "author" of its release year (0 where unknown)
    region     `zip<first character of the user's zip code>`; the device columns are unknown
    labels     sex; age class by age: up to 20 -> 0, 21-30 -> 1, 31-40 -> 2, over 40 -> 3

A seeded, stratified share of the users (TEST_SHARE) is held out as test users; their truth goes to
truth/test_truth.csv beside the tables, so `make score` scores a submission against it.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from socdem.real import wheels
from socdem.real.wheels import SourceError

PACKAGE, VERSION = "recbole", "1.2.1"
MEMBERS = "recbole/dataset_example/ml-100k/ml-100k.{}"  # inter, user, item: tab-separated, typed headers
TEST_SHARE = 0.2
RATING_SECONDS = 600
DURATION_MS = 5 * RATING_SECONDS * 1000
MOSCOW_OFFSET = pd.Timedelta(hours=3)  # the contest's fixed +03:00, whatever Moscow's clocks said in 1997
NAME = "movielens-100k"


def fetch_wheel(cache_dir: Path, log=print) -> Path:
    """The recbole wheel in `cache_dir`, downloaded with pip (no dependencies, nothing installed) if absent."""
    try:
        return wheels.fetch_wheel(PACKAGE, VERSION, cache_dir, lambda m: log(f"data: {m}"), why="MovieLens-100k inside")
    except SourceError as exc:
        raise SourceError(f"data: {exc}") from None


def read_member(archive: zipfile.ZipFile, kind: str) -> pd.DataFrame:
    """One of the data set's tables; the headers' `name:type` reduced to the names."""
    name = MEMBERS.format(kind)
    try:
        raw = archive.read(name)
    except KeyError:
        raise SourceError(f"{archive.filename}: no {name} inside; expected the {PACKAGE} {VERSION} wheel") from None
    frame = pd.read_csv(io.BytesIO(raw), sep="\t", dtype=str, keep_default_na=False, encoding="latin-1")
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return frame


def read_movielens(wheel: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(ratings, users, movies) as the data set holds them, read from the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        return read_member(archive, "inter"), read_member(archive, "user"), read_member(archive, "item")


def age_class(age: pd.Series) -> np.ndarray:
    """The contest's four classes; the few users of 20 or under and over 60 join the nearest one."""
    return np.digitize(age.to_numpy(np.int64), [20, 30, 40], right=True)


def contest_tables(ratings: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame, seed: int) -> dict:
    """{table: frame} of the contest (train_events, video_info_v2, train_targets, test_users) and the truth."""
    zips = users.set_index("user_id")["zip_code"].str.strip().str[:1].str.upper()
    when = pd.to_datetime(ratings["timestamp"].astype(float).astype(np.int64), unit="s", utc=True)
    events = pd.DataFrame(
        {
            "event_timestamp": (when + MOSCOW_OFFSET).dt.strftime("%Y-%m-%d %H:%M:%S+03:00"),
            "viewer_uid": ratings["user_id"].astype(np.int64),
            "rutube_video_id": "movie_" + ratings["item_id"],
            "total_watchtime": ratings["rating"].astype(float).astype(np.int64) * RATING_SECONDS,
            "region": ("zip" + zips.reindex(ratings["user_id"]).fillna("")).to_numpy(),
            "ua_device_type": "unknown",
            "ua_client_type": "unknown",
            "ua_os": "",
            "ua_client_name": "unknown",
        }
    ).sort_values(["event_timestamp", "viewer_uid", "rutube_video_id"], kind="mergesort", ignore_index=True)
    genres = movies["class"].str.split()
    videos = pd.DataFrame(
        {
            "rutube_video_id": "movie_" + movies["item_id"],
            "title": movies["movie_title"],
            "category": genres.str[0].fillna("unknown"),
            "duration": DURATION_MS,
            "author_id": pd.to_numeric(movies["release_year"], errors="coerce").fillna(0).astype(np.int64),
        }
    )
    people = pd.DataFrame(
        {
            "viewer_uid": users["user_id"].astype(np.int64),
            "age": users["age"].astype(np.int64),
            "sex": users["gender"].map({"M": "male", "F": "female"}),
            "age_class": age_class(users["age"]),
        }
    ).sort_values("viewer_uid", ignore_index=True)
    strata = people["sex"] + people["age_class"].astype(str)
    train, test = train_test_split(people, test_size=TEST_SHARE, stratify=strata, random_state=seed)
    train, test = train.sort_values("viewer_uid"), test.sort_values("viewer_uid")
    return {
        "train_events": events,
        "video_info_v2": videos,
        "train_targets": train,
        "test_users": test[["viewer_uid"]],
        "truth": test[["viewer_uid", "sex", "age_class", "age"]],
    }


def write_movielens(out: Path, seed: int, cache_dir: Path, log=print) -> dict:
    """Writes the contest into `out` (parquet tables, truth/test_truth.csv, truth/source.json); its summary."""
    wheel = fetch_wheel(cache_dir, log)
    tables = contest_tables(*read_movielens(wheel), seed=seed)
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    for name in ("train_events", "video_info_v2", "train_targets", "test_users"):
        tables[name].to_parquet(out / f"{name}.parquet", index=False)
    tables["truth"].to_csv(out / "truth" / "test_truth.csv", index=False)
    summary = {
        "source": NAME,
        "real_data": True,
        "from": f"{PACKAGE}=={VERSION} wheel on PyPI, {MEMBERS.format('*')}",
        "licence": "MovieLens-100k, GroupLens Research (University of Minnesota): for research use only",
        "seed": seed,
        "users": int(len(tables["train_targets"]) + len(tables["test_users"])),
        "labelled_users": int(len(tables["train_targets"])),
        "test_users": int(len(tables["test_users"])),
        "events": int(len(tables["train_events"])),
    }
    (out / "truth" / "source.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
