"""The streamed events of a large contest (contest/scan.py), coded once for every feature
builder, in the contest's own DuckDB store: nothing holds the events whole in pandas.

Table `ev`: one row per event of a known (labelled or test) user, the columns of
`user_features.coded_events` as integers, keyed by the user's position `u` in `users`:

  u             INTEGER, position of the user in `users` (sorted ids)
  video         INTEGER, the video's code (any video, in the catalogue or not)
  vrow          INTEGER, the video's row in the catalogue; NULL when it is not there
  author_id     INTEGER, the author's code (sorted author ids); NULL for an unknown video
  category      INTEGER, code into values["category"] (MISSING for an unknown video)
  region, ua_*  INTEGER codes into values[column] (MISSING for a missing value)
  lts, day, hour_weekday, wt, dur_s   as in coded_events
  row           BIGINT, the event's row in the file (a stable order)

The user x item count matrices (`StoredInteractions`) come from GROUP BYs over `ev`, as
(user, item, count) triples: the same sparse matrices as `Interactions` builds from pandas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from socdem.contest.local_time import offsets_of
from socdem.features.interactions import ENGAGED_SHARE, Interactions
from socdem.features.user_features import CODED_COLUMNS, MISSING, encode

SECONDS_PER_DAY = 86_400


class CodedEvents:
    """Table `ev` (see the module's docstring) in the contest's store, with the value lists of its codes.
    `CodedEvents.build(contest, users)` writes the table; the object holds what reads it."""

    def __init__(
        self,
        store,
        users: np.ndarray,
        values: dict[str, list],
        video_values: np.ndarray,
        videos: VideoCodes,
        events_per_user: np.ndarray,
    ):
        self.store, self.con, self.users, self.values = store, store.con, users, values
        self.video_values = video_values
        self.author_values, self.missing_category = videos.author_values, videos.missing_category
        # per video code: catalogue row, author code, category code (-1: none)
        self.video_row, self.video_author, self.video_category = videos.row, videos.author, videos.category
        self.events_per_user = events_per_user

    @property
    def n_events(self) -> int:
        return int(self.events_per_user.sum())

    @classmethod
    def build(cls, contest, users: np.ndarray) -> CodedEvents:
        """Code the events of `users` in the contest's store into table `ev` (one DuckDB query)."""
        store, videos = contest.store, contest.videos
        users = np.asarray(users)
        video_values = np.asarray(store.values("rutube_video_id"), dtype=object)
        codes = VideoCodes.of(videos, video_values)
        tables = {
            "known_users": {"uid": pa.array(users), "u": pa.array(np.arange(len(users), dtype=np.int32))},
            "video_codes": codes.table(videos),
        }
        column_values, columns = _column_codes(store)
        values = {"category": codes.category_values, **column_values}
        offsets = offsets_of(values["region"])  # MISSING or an unknown region: Moscow time
        tables["region_offsets"] = {
            "code": pa.array(np.arange(len(offsets), dtype=np.int32)),
            "offset_s": pa.array(offsets * 3600),
        }
        _create_ev(store.con, tables, columns)
        store.trim_memory()
        per_user = store.con.execute("SELECT u, count(*) AS n FROM ev GROUP BY u").fetchnumpy()
        events_per_user = np.zeros(len(users))
        events_per_user[per_user["u"]] = per_user["n"]
        return cls(store, users, values, video_values, codes, events_per_user)

    def item_values(self, item: str) -> np.ndarray:
        """The value of each code of an item column of `ev`."""
        if item == "author_id":
            return self.author_values
        if item == "rutube_video_id":
            return self.video_values
        return np.asarray(self.values["category"], dtype=object)


@dataclass
class VideoCodes:
    """Per video code of the store: its catalogue row, author code and category code (-1: none)."""

    row: np.ndarray
    author: np.ndarray
    category: np.ndarray
    author_values: np.ndarray  # the author of each author code (sorted author ids)
    category_values: list  # the category of each category code
    missing_category: int  # the category code of an event of an unknown video

    @classmethod
    def of(cls, videos: pd.DataFrame, video_values: np.ndarray) -> VideoCodes:
        """The codes of the store's videos (`video_values`, one per video code) from the catalogue."""
        category_codes, category_values = encode(videos["category"])
        if MISSING not in category_values:
            category_values.append(MISSING)  # the category of an event of an unknown video
        missing_category = category_values.index(MISSING)
        author_codes, authors = pd.factorize(videos["author_id"], sort=True)
        row = pd.Index(videos["rutube_video_id"].astype(str)).get_indexer(video_values)
        known = row >= 0
        safe = np.where(known, row, 0)
        author = np.where(known, author_codes[safe], -1)
        category = np.where(known, category_codes[safe], -1)
        return cls(row, author, category, np.asarray(authors), category_values, missing_category)

    def table(self, videos: pd.DataFrame) -> dict:
        """The columns of DuckDB's `video_codes`: an unknown video has no row, author or duration, and
        the MISSING category."""
        known = self.row >= 0
        safe = np.where(known, self.row, 0)
        return {
            "code": pa.array(np.arange(len(self.row), dtype=np.int32)),
            "vrow": pa.array(self.row.astype(np.int32), mask=~known),
            "author": pa.array(self.author.astype(np.int32), mask=~known),
            "category": pa.array(np.where(known, self.category, self.missing_category).astype(np.int32)),
            "dur_s": pa.array(videos["duration"].to_numpy(np.float64)[safe] / 1000.0, mask=~known),
        }


def _column_codes(store) -> tuple[dict[str, list], dict[str, str]]:
    """(column -> the value of each code, column -> the SQL of its code): the ENUM code, or the
    MISSING code after the values."""
    values, codes = {}, {}
    for column in CODED_COLUMNS:
        values[column] = list(store.values(column)) + [MISSING]
        codes[column] = f"coalesce(CAST(enum_code(e.{column}) AS INTEGER), {len(values[column]) - 1})"
    return values, codes


def _create_ev(con, tables: dict, codes: dict[str, str]) -> None:
    """CREATE TABLE ev from the store's events joined with the registered lookup tables."""
    for name, columns in tables.items():
        con.register(name, pa.table(columns))
    try:
        con.execute(
            f"""CREATE TABLE ev AS
            SELECT u, video, vrow, author_id, category, region, ua_device_type, ua_client_type, ua_os,
                   ua_client_name, lts, CAST(floor(lts / {SECONDS_PER_DAY}) AS INTEGER) AS day,
                   CAST((floor(lts / 3600) % 24) * 7 + (floor(lts / {SECONDS_PER_DAY}) + 3) % 7 AS SMALLINT)
                       AS hour_weekday,  -- 1970-01-01 was a Thursday
                   wt, dur_s, row
            FROM (
                SELECT k.u, CAST(enum_code(e.rutube_video_id) AS INTEGER) AS video, v.vrow,
                       v.author AS author_id, v.category, {", ".join(f"{c} AS {n}" for n, c in codes.items())},
                       e.ts + o.offset_s AS lts, CAST(e.total_watchtime AS DOUBLE) AS wt, v.dur_s, e.row
                FROM events e
                JOIN known_users k ON e.viewer_uid = k.uid
                JOIN video_codes v ON CAST(enum_code(e.rutube_video_id) AS INTEGER) = v.code
                JOIN region_offsets o ON {codes["region"]} = o.code
            )"""
        )
    finally:
        for name in tables:
            con.unregister(name)


ITEM_SQL = {  # (code column, filter) of each item of Interactions.matrix
    "author_id": ("author_id", "author_id IS NOT NULL"),
    "rutube_video_id": ("video", "true"),
    "category": ("category", "vrow IS NOT NULL AND category <> {missing}"),
    "engaged_video": ("video", f"dur_s > 0 AND wt >= {ENGAGED_SHARE} * dur_s"),
    "watched_video": ("video", "dur_s > 0"),
}
ITEM_WEIGHT_SQL = {"watched_video": "sum(least(greatest(wt / dur_s, 0), 1))"}  # interactions.WEIGHTS, per event


class StoredInteractions(Interactions):
    """`Interactions` whose counts come from DuckDB GROUP BYs over the coded events (`CodedEvents`)
    instead of a pandas frame: the same matrices, column for column."""

    def __init__(self, coded: CodedEvents, videos: pd.DataFrame | None):
        super().__init__(users=coded.users, events=None, videos=videos)
        self.coded = coded

    def matrix(self, item: str) -> tuple[sp.csr_matrix, np.ndarray]:
        if item == "title_word" or item in self._cache:
            return super().matrix(item)
        column, where = ITEM_SQL[item]
        values_of = "rutube_video_id" if column == "video" else item  # a view of the videos: their ids
        where = where.format(missing=self.coded.missing_category)
        weight = ITEM_WEIGHT_SQL.get(item, "count(*)")
        triples = self.coded.con.execute(
            f"SELECT u, {column} AS code, {weight} AS n FROM ev WHERE {where} GROUP BY ALL"
        ).fetchnumpy()
        self.coded.store.trim_memory()
        codes, values = _sorted_codes(np.asarray(triples["code"], dtype=np.int64), self.coded.item_values(values_of))
        counts = sp.coo_matrix(
            (np.asarray(triples["n"], dtype=np.float32), (np.asarray(triples["u"], dtype=np.int64), codes)),
            shape=(len(self.users), len(values)),
        ).tocsr()
        counts.sum_duplicates()
        self._cache[item] = (counts, values)
        return self._cache[item]

    def _pair_counts(self, child: str, parent: str) -> pd.DataFrame:
        """(child, parent, count) over every event with both, whoever its user (as Interactions counts them)."""
        coded = self.coded
        per_video = {
            "rutube_video_id": np.arange(len(coded.video_values)),
            "author_id": coded.video_author,
            # a category missing from the catalogue is no category
            "category": np.where(coded.video_category == coded.missing_category, -1, coded.video_category),
        }
        counts = coded.con.execute(
            "SELECT CAST(enum_code(rutube_video_id) AS BIGINT) AS code, count(*) AS n FROM events GROUP BY ALL"
        ).fetchnumpy()
        child_codes, parent_codes = per_video[child][counts["code"]], per_video[parent][counts["code"]]
        keep = (child_codes >= 0) & (parent_codes >= 0)
        pairs = pd.DataFrame({"child": child_codes[keep], "parent": parent_codes[keep], "count": counts["n"][keep]})
        pairs = pairs.groupby(["child", "parent"], as_index=False)["count"].sum()
        return pd.DataFrame(
            {
                child: coded.item_values(child)[pairs["child"].to_numpy()],
                parent: coded.item_values(parent)[pairs["parent"].to_numpy()],
                "count": pairs["count"].to_numpy(np.int64),
            }
        )


def _sorted_codes(codes: np.ndarray, item_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes renumbered as pd.factorize(sort=True) numbers the values present, and those values."""
    present = np.unique(codes)
    values = np.asarray(item_values)[present]
    order = np.argsort(values, kind="stable")
    rank = np.zeros(len(item_values), dtype=np.int64)
    rank[present[order]] = np.arange(len(present))
    return rank[codes], values[order]
