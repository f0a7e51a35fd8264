"""Label-free per-user aggregates computed with DuckDB.

The events of the known users are handed to DuckDB once, as an Arrow table
of integer codes (strings are dictionary-encoded with pyarrow, and joined to
their video's author, category and duration by index lookup; local time is
the timestamp plus the region's UTC offset). Then a few GROUP BY queries
produce either one row per user or (user, code, count) triples that numpy
scatters into share columns. No per-user Python code.
"""

from __future__ import annotations

import re
import time

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from socdem.contest.local_time import offsets_of

PARTS_OF_DAY = {"night": range(0, 6), "morning": range(6, 12), "day": range(12, 18), "evening": range(18, 24)}
MISSING = "(none)"  # an empty ua_os, an event of a video missing from video_info
CODED_COLUMNS = ("region", "ua_device_type", "ua_client_type", "ua_os", "ua_client_name")
DEVICE_COLUMNS = {
    "ua_device_type": "device",
    "ua_client_type": "client_type",
    "ua_os": "os",
    "ua_client_name": "client",
}
MODE_COLUMNS = {
    "region": "top_region",
    "ua_device_type": "top_device",
    "ua_client_name": "top_client",
    "ua_os": "top_os",
}
PART_EVENTS = 16_000_000  # streamed events: per-user aggregates over ranges of users of about this many events
ZERO_WITHOUT_EVENTS = (
    "events",
    "distinct_videos",
    "distinct_authors",
    "distinct_categories",
    "active_days",
    "events_per_active_day",
    "span_days",
    "watchtime_sum",
    "fraction_sum",
)

# watch fraction: NULL (not inf) for a zero or unknown duration, clipped to 1.5 (least() would skip a NULL)
FRACTION = "CASE WHEN dur_s > 0 THEN least(wt / dur_s, 1.5) END"
ACTIVITY_SQL = """
count(*) AS events,
count(DISTINCT video) AS distinct_videos,
count(DISTINCT author_id) AS distinct_authors,
count(DISTINCT day) AS active_days,
count(*) / count(DISTINCT day) AS events_per_active_day,
(max(lts) - min(lts)) / 86400.0 AS span_days
"""
WATCHTIME_SQL = f"""
sum(wt) AS watchtime_sum, avg(wt) AS watchtime_mean, median(wt) AS watchtime_median,
stddev_pop(wt) AS watchtime_std, max(wt) AS watchtime_max,
sum({FRACTION}) AS fraction_sum, avg({FRACTION}) AS fraction_mean, median({FRACTION}) AS fraction_median,
stddev_pop({FRACTION}) AS fraction_std, max({FRACTION}) AS fraction_max
"""
DURATION_SQL = """
avg(dur_s) AS duration_mean, stddev_pop(dur_s) AS duration_std,
max(dur_s) AS duration_max, avg((author_id IS NULL)::DOUBLE) AS unknown_video_share
"""


def slug(value) -> str:
    text = re.sub(r"\W+", "_", str(value).strip().lower()).strip("_")
    return text or "blank"


def connect(threads: int, memory_limit: str | None = None, temp_dir: str | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": max(1, int(threads))})
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if temp_dir:
        con.execute(f"SET temp_directory = '{temp_dir}'")  # lets big aggregations spill to disk
    return con


def encode(values: pd.Series) -> tuple[np.ndarray, list]:
    """(int32 codes, value per code); a missing value becomes its own MISSING code."""
    codes, uniques = pd.factorize(values)  # pyarrow dictionary encoding for Arrow-backed strings
    uniques = list(uniques)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(uniques), codes)
        uniques.append(MISSING)
    return codes.astype(np.int32), uniques


def coded_events(events: pd.DataFrame, videos: pd.DataFrame, users: np.ndarray) -> tuple[pa.Table, dict]:
    """(Arrow table of the known users' events as numbers, value lists of the coded columns)."""
    uids = events["viewer_uid"].to_numpy()
    pos = np.clip(np.searchsorted(users, uids), 0, max(len(users) - 1, 0))
    known = (users[pos] == uids) if len(users) else np.zeros(len(uids), bool)
    if not known.all():  # events of users neither labelled nor to predict
        events = events[known]
    values, columns = {}, {"viewer_uid": pa.array(uids[known])}
    for column in CODED_COLUMNS:
        codes, values[column] = encode(events[column])
        columns[column] = pa.array(codes)
    offsets = offsets_of(values["region"])  # MISSING or an unknown region: Moscow time
    local = events["ts"].to_numpy(np.int64) + offsets[columns["region"].to_numpy()] * 3600
    day = local // 86400
    columns["lts"] = pa.array(local)
    columns["day"] = pa.array(day.astype(np.int32))
    columns["hour_weekday"] = pa.array((local // 3600 % 24 * 7 + (day + 3) % 7).astype(np.int16))  # 1970-01-01: Thu
    columns["wt"] = pa.array(events["total_watchtime"].to_numpy(np.float64))
    video_codes, video_ids = pd.factorize(events["rutube_video_id"])
    row = pd.Index(videos["rutube_video_id"]).get_indexer(video_ids)  # -1: a video missing from video_info
    category_codes, values["category"] = encode(videos["category"])
    if MISSING not in values["category"]:
        values["category"].append(MISSING)  # the category of an event of an unknown video
    missing_category = values["category"].index(MISSING)
    video_row = np.where(video_codes >= 0, row[video_codes], -1)
    unknown = video_row < 0
    columns["video"] = pa.array(video_codes.astype(np.int32))
    columns["author_id"] = pa.array(videos["author_id"].to_numpy()[video_row], mask=unknown)
    columns["category"] = pa.array(np.where(unknown, missing_category, category_codes[video_row]).astype(np.int32))
    columns["dur_s"] = pa.array(videos["duration"].to_numpy(np.float64)[video_row] / 1000.0, mask=unknown)
    return pa.table(columns), values


def _scatter(pos: np.ndarray, codes: np.ndarray, counts: np.ndarray, n_users: int, n_values: int) -> np.ndarray:
    flat = np.bincount(pos * n_values + codes, weights=counts, minlength=n_users * n_values)
    return flat.reshape(n_users, n_values)


def _shares(counts: np.ndarray, events: np.ndarray) -> np.ndarray:
    out = np.zeros_like(counts, dtype=np.float32)
    has = events > 0
    out[has] = counts[has] / events[has, None]
    return out


def _unique(names: list[str]) -> list[str]:
    seen, out = {}, []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}{seen[name]}")
    return out


class UserAggregates:
    """The queries on one connection whose table `ev` holds the coded events; every method returns a
    frame indexed by `users`. `key` is ev's user column: the user id (`from_frames`) or the user's
    position in `users` (`from_coded`, the streamed events of features/stored_events.py)."""

    def __init__(self, con, values: dict, users: np.ndarray, events_per_user: np.ndarray, key: str = "viewer_uid"):
        self.con, self.values, self.key = con, values, key
        self.users = np.asarray(users)
        self.index = pd.Index(self.users, name="viewer_uid")
        self.keys = self.users if key == "viewer_uid" else np.arange(len(self.users))
        self.events_per_user = events_per_user
        self._counts = {}
        self._owns_connection = key == "viewer_uid"

    @classmethod
    def from_frames(
        cls,
        events: pd.DataFrame,
        videos: pd.DataFrame,
        users: np.ndarray,
        threads: int = 2,
        memory_limit: str | None = None,
        temp_dir: str | None = None,
    ) -> UserAggregates:
        """The events of a pandas contest, handed to DuckDB as an Arrow table of codes."""
        users = np.asarray(users)
        table, values = coded_events(events, videos, users)
        con = connect(threads, memory_limit, temp_dir)
        con.register("ev", table)
        uids = table.column("viewer_uid").to_numpy()
        events_per_user = np.bincount(np.searchsorted(users, uids), minlength=len(users)).astype(np.float64)
        return cls(con, values, users, events_per_user)

    @classmethod
    def from_coded(cls, coded) -> UserAggregates:
        """The streamed events, already coded in the contest's store (features/stored_events.py)."""
        return cls(coded.con, coded.values, coded.users, coded.events_per_user, key="u")

    def close(self) -> None:
        if self._owns_connection:
            self.con.close()

    def _pos(self, keys) -> np.ndarray:
        keys = np.asarray(keys)
        return np.searchsorted(self.users, keys) if self.key == "viewer_uid" else keys.astype(np.int64)

    def per_user(self, activity: bool, watchtime: bool, durations: bool) -> pd.DataFrame:
        """The one-row-per-user aggregates of the enabled families, in one scan."""
        parts = [
            sql for on, sql in ((activity, ACTIVITY_SQL), (watchtime, WATCHTIME_SQL), (durations, DURATION_SQL)) if on
        ]
        # one query per family: DISTINCT aggregates would slow the others down in a shared query
        tables = [self._grouped(sql) for sql in parts]
        out = (
            pd.concat([t.reindex(self.keys) for t in tables], axis=1).astype("float64")
            if tables
            else pd.DataFrame(index=self.keys)
        )
        out.index = self.index
        if activity:  # from the (user, category) counts: no second DISTINCT in the big query
            counts, values = self._value_counts("category")
            known = counts["rank"] != values.index(MISSING) if MISSING in values else np.ones(len(counts["n"]), bool)
            out.insert(
                3,
                "distinct_categories",
                np.bincount(self._pos(counts["viewer_uid"][known]), minlength=len(self.users)).astype(np.float64),
            )
        zero = [c for c in ZERO_WITHOUT_EVENTS if c in out.columns]
        out[zero] = out[zero].fillna(0.0)  # counts and sums of nothing
        return out

    def _grouped(self, sql: str) -> pd.DataFrame:
        """`SELECT key, sql ... GROUP BY key` as a frame indexed by key. Streamed events (key "u") go by
        ranges of users of ~PART_EVENTS events: DISTINCT and median states of millions of users at once
        outgrow DuckDB's memory limit, and a user's aggregates depend on that user's events only."""
        key = self.key
        if key == "viewer_uid" or len(self.users) == 0:
            return self.con.execute(f"SELECT {key}, {sql} FROM ev GROUP BY {key}").df().set_index(key)
        ends = np.cumsum(self.events_per_user)
        bounds = np.unique(np.r_[0, np.searchsorted(ends, np.arange(PART_EVENTS, ends[-1], PART_EVENTS)), len(ends)])
        frames = [
            self.con.execute(f"SELECT {key}, {sql} FROM ev WHERE {key} >= {lo} AND {key} < {hi} GROUP BY {key}").df()
            for lo, hi in zip(bounds[:-1], bounds[1:])
        ]
        return pd.concat(frames, ignore_index=True).set_index(key)

    def time_shares(self) -> pd.DataFrame:
        t = self.con.execute(
            f"SELECT {self.key}, hour_weekday::BIGINT AS hw, count(*)::DOUBLE AS n FROM ev GROUP BY ALL"
        ).fetchnumpy()
        pos, n = self._pos(t[self.key]), t["n"]
        hours = _shares(_scatter(pos, t["hw"] // 7, n, len(self.users), 24), self.events_per_user)
        days = _shares(_scatter(pos, t["hw"] % 7, n, len(self.users), 7), self.events_per_user)
        columns = {f"hour_{h:02d}_share": hours[:, h] for h in range(24)}
        columns |= {f"weekday_{d}_share": days[:, d] for d in range(7)}  # 0 = Monday (1970-01-01 was a Thursday)
        columns |= {f"{part}_share": hours[:, list(hrs)].sum(axis=1) for part, hrs in PARTS_OF_DAY.items()}
        columns["weekend_share"] = days[:, 5] + days[:, 6]
        return pd.DataFrame(columns, index=self.index)

    def _value_counts(self, column: str) -> tuple[dict, list]:
        """({viewer_uid, rank, n} per (user, value), values by rank): ranks order the values by their
        number of events, most frequent first (ties: by value)."""
        if column not in self._counts:
            counts = self.con.execute(
                f"SELECT {self.key} AS viewer_uid, {column}::BIGINT AS code, count(*)::DOUBLE AS n FROM ev GROUP BY ALL"
            ).fetchnumpy()
            values = self.values[column]
            totals = np.bincount(counts["code"], weights=counts["n"], minlength=len(values))
            order = sorted(range(len(values)), key=lambda code: (-totals[code], str(values[code])))
            order = [code for code in order if totals[code] > 0]
            rank = np.full(len(values), -1, dtype=np.int64)
            rank[order] = np.arange(len(order))
            counts["rank"] = rank[counts["code"]]
            self._counts[column] = (counts, [values[code] for code in order])
        return self._counts[column]

    def shares(self, column: str, prefix: str, top: int) -> pd.DataFrame:
        """Share of the user's events per value of `column`: the `top` most frequent values + other."""
        counts, values = self._value_counts(column)
        kept = values[:top]
        codes = np.minimum(counts["rank"], len(kept))  # every other value → the last column
        table = _scatter(self._pos(counts["viewer_uid"]), codes, counts["n"], len(self.users), len(kept) + 1)
        shares = _shares(table, self.events_per_user)
        names = _unique([f"{prefix}_{slug(v)}_share" for v in kept] + [f"{prefix}_other_share"])
        if len(kept) == len(values):
            shares, names = shares[:, :-1], names[:-1]  # no "other" values at all
        return pd.DataFrame(shares, index=self.index, columns=names)

    def regions(self) -> pd.DataFrame:
        counts, _ = self._value_counts("region")  # one row per (user, region)
        distinct = np.bincount(self._pos(counts["viewer_uid"]), minlength=len(self.users)).astype(np.float64)
        return pd.DataFrame({"distinct_regions": distinct}, index=self.index)

    def mode(self, column: str, name: str) -> pd.Series:
        """The user's most frequent value as a category (ties: the globally more frequent value);
        NaN without events. Categories are ordered by global frequency."""
        counts, values = self._value_counts(column)
        order = np.lexsort((counts["rank"], -counts["n"], counts["viewer_uid"]))
        uid, rank = counts["viewer_uid"][order], counts["rank"][order]
        first = np.r_[True, uid[1:] != uid[:-1]]
        user_codes = np.full(len(self.users), -1, dtype=np.int64)
        user_codes[self._pos(uid[first])] = rank[first]
        cat = pd.Categorical.from_codes(user_codes, categories=pd.Index([str(v) for v in values]))
        return pd.Series(cat, index=self.index, name=name)


def user_aggregates(
    events: pd.DataFrame,
    videos: pd.DataFrame,
    users: np.ndarray,
    cfg,
    threads: int = 2,
    log=print,
    memory_limit: str | None = None,
    temp_dir: str | None = None,
) -> pd.DataFrame:
    """Every enabled label-free aggregate family (config `FeatureConfig`), one row per user in `users`."""
    started = time.perf_counter()
    agg = UserAggregates.from_frames(events, videos, users, threads, memory_limit, temp_dir)
    log(f"features: events encoded for DuckDB ({time.perf_counter() - started:.1f} s)")
    return aggregate_families(agg, cfg, log)


def aggregate_families(agg: UserAggregates, cfg, log=print, dtype=None) -> pd.DataFrame:
    """The enabled aggregate families of `agg`'s events, side by side (the connection closed after, if agg's);
    `dtype`: each family's numeric columns cast to it as soon as it is computed."""
    families = []
    try:
        steps = [("per-user aggregates", lambda: agg.per_user(cfg.activity, cfg.watchtime, cfg.category))]
        if cfg.time:
            steps.append(("local time", agg.time_shares))
        if cfg.device:
            steps += [
                (f"{col} shares", lambda c=col, p=prefix: agg.shares(c, p, cfg.top_values))
                for col, prefix in DEVICE_COLUMNS.items()
            ]
            steps.append(("regions", agg.regions))
            steps += [(name, lambda c=col, n=name: agg.mode(c, n).to_frame()) for col, name in MODE_COLUMNS.items()]
        if cfg.category:
            steps.append(("category shares", lambda: agg.shares("category", "category", cfg.top_categories)))
        for name, step in steps:
            t0 = time.perf_counter()
            family = step()
            if dtype is not None:
                numeric = family.select_dtypes("number").columns
                family[numeric] = family[numeric].astype(dtype)
            families.append(family)
            log(f"features: {name} ({time.perf_counter() - t0:.1f} s)")
    finally:
        agg.close()
    return pd.concat(families, axis=1)
