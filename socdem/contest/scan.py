"""Streamed events for large contests: the Rutube-2024 events table checked and read by
DuckDB straight from its parquet file into a compressed table on disk, never whole in pandas.

`EventStore` keeps a DuckDB database in a temp folder of its own (spills go there too; the
folder goes with the store). Its table `events` holds what the pandas loader would return
(docs/data-contract.md), one row per event:

  viewer_uid       BIGINT, or VARCHAR when any table's user ids are text
  rutube_video_id  ENUM of the video ids as text (a number is its integer text)
  total_watchtime  BIGINT
  region, ua_*     ENUMs; an empty string is NULL (missing)
  <extra columns>  as stored
  ts               BIGINT, seconds since the epoch (UTC); a time without an offset is +03:00
  row              BIGINT, the event's row in the file (from 0): a stable order

The checks run in the same pass, as a `bad` flag per row. If any row is bad, the file is read
again in Arrow batches through the pandas checks (`rutube2024.check_events`), which raise the
usual one-line error naming the file, the column and the first values (the counts are those of
the batch holding the first problem). A column type the SQL does not cover (numbers stored as
text, say) leaves the table to the pandas loader: `open_store` returns None.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from functools import cached_property
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from socdem.contest.checks import (
    CANONICAL_INTEGER,
    CONTEST_OFFSET_SECONDS,
    FLOAT_LOOKING,
    SURROUNDING_SPACE,
    ContestError,
    _cannot_read,
    parquet_dataset,
    parquet_parts,
)
from socdem.contest.tables import LATE_EVENT_DAYS, Contest
from socdem.schema import EVENT_COLUMNS, EVENT_TEXT_COLUMNS

STREAM_MIN_EVENTS = 20_000_000  # "auto": events tables from this many rows on are streamed
MEMORY_LIMIT = "3GB"  # DuckDB's buffer pool for the store; beyond it, DuckDB spills to the store's folder
BATCH_ROWS = 1_000_000  # rows per Arrow batch when bad rows are reported through the pandas checks
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT"}
FLOAT_TYPES = {"FLOAT", "DOUBLE"}
TIMESTAMP_TYPES = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}
INT64_BOUND = "9.223372036854775808e18"  # 2**63 as a DOUBLE
HAS_OFFSET = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"  # checks.HAS_OFFSET, as DuckDB's regex wants it
FAST_FORMATS = ("%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S")  # the contest's own form, with and without offset


SOURCE_COLUMNS = ("file_row_number", "filename")  # where a row comes from, added by the reader


class Unsupported(Exception):
    """A column type the streamed reader does not cover: the pandas loader reads the table."""


def is_parquet(path: Path) -> bool:
    """A parquet file, or a folder of parquet parts (checks.find_table)."""
    return Path(path).is_dir() or Path(path).name.endswith(".parquet")


def part_rows(path: Path) -> list[int]:
    """The rows of each of the table's parquet files (checks.parquet_parts' order)."""
    try:
        return [int(pq.ParquetFile(part).metadata.num_rows) for part in parquet_parts(path)]
    except Exception as exc:
        raise _cannot_read(Path(path), exc) from None


def parquet_rows(path: Path) -> int:
    return sum(part_rows(path))


def connect(
    database: str = ":memory:", threads: int = 2, memory_limit: str | None = None, temp_dir: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection on `threads` threads, UTC, insertion order not kept; spills go to `temp_dir`."""
    con = duckdb.connect(database, config={"threads": max(1, int(threads))})
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET TimeZone = 'UTC'")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if temp_dir:
        con.execute(f"SET temp_directory = '{temp_dir}'")
    return con


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _integer(c: str, kind: str) -> str:
    """An integer column's value as BIGINT, NULL where the pandas checks would refuse it
    (missing, fractional, NaN or infinite, outside the 64-bit range)."""
    if kind in INTEGER_TYPES:
        return f"TRY_CAST({c} AS BIGINT)"
    if kind in FLOAT_TYPES:
        return (
            f"CASE WHEN NOT isnan({c}) AND {c} = floor({c}) AND {c} >= -{INT64_BOUND} AND {c} < {INT64_BOUND} "
            f"THEN CAST({c} AS BIGINT) END"
        )
    raise Unsupported(kind)


def _trimmed(c: str) -> str:
    """The text without surrounding whitespace (checks.SURROUNDING_SPACE), NULL where nothing is left."""
    return f"nullif(regexp_replace({c}, {_literal(SURROUNDING_SPACE)}, '', 'g'), '')"


def _text_id(c: str) -> str:
    """checks.video_ids / opaque_ids on text: "123.0" is "123", anything else as written, trimmed."""
    return f"regexp_replace({_trimmed(c)}, {_literal(FLOAT_LOOKING)}, '\\1')"


def _timestamp(c: str, kind: str) -> str:
    """checks.parse_timestamps in SQL: UTC seconds, NULL where unparseable."""
    shift = CONTEST_OFFSET_SECONDS
    if kind == "TIMESTAMP WITH TIME ZONE":
        return f"CAST(floor(epoch_us({c}) / 1e6) AS BIGINT)"
    if kind in TIMESTAMP_TYPES:
        return f"CAST(floor(epoch_us(CAST({c} AS TIMESTAMP)) / 1e6) AS BIGINT) - {shift}"
    if kind != "VARCHAR":
        raise Unsupported(kind)
    aware, naive = FAST_FORMATS
    text = f"trim({c})"
    general = (
        f"CASE WHEN regexp_matches({text}, {_literal(HAS_OFFSET)}) "
        f"THEN TRY_CAST(floor(epoch(TRY_CAST({text} AS TIMESTAMPTZ))) AS BIGINT) "
        f"ELSE TRY_CAST(floor(epoch(TRY_CAST({text} AS TIMESTAMP))) AS BIGINT) - {shift} END"
    )
    return (
        f"COALESCE(CAST(epoch(try_strptime({c}, {_literal(aware)})) AS BIGINT), "
        f"CAST(epoch(try_strptime({c}, {_literal(naive)})) AS BIGINT) - {shift}, {general})"
    )


class EventStore:
    """The events of one parquet file in a DuckDB table (see the module's docstring)."""

    def __init__(self, path: Path, work_dir: Path, threads: int = 2, memory_limit: str | None = MEMORY_LIMIT):
        self.path = Path(path)
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="events-", dir=work_dir))
        self.memory_limit = memory_limit
        self.con = connect(str(self.folder / "events.duckdb"), threads, memory_limit, str(self.folder / "spill"))
        self._finalizer = weakref.finalize(self, _remove, self.con, self.folder)
        self.columns: list[str] = []  # the frame's columns, in the pandas loader's order
        self.enums: dict[str, str] = {}  # column -> its ENUM type
        self.uid_text = False

    def close(self) -> None:
        self._finalizer()

    # -- building ------------------------------------------------------------
    def build(self, check_batch) -> None:
        """Check the file and write `events` in one pass. Bad input raises the ContestError that
        `check_batch(frame, path)` (the pandas checks) raises on the first batch holding a problem;
        a column type the SQL does not cover raises Unsupported."""
        raw = self._raw_columns()
        missing = [c for c in EVENT_COLUMNS if c not in raw]
        if missing:
            raise ContestError(
                f"{self.path}: missing column(s) {', '.join(missing)}; expected {', '.join(EVENT_COLUMNS)}"
            )
        if parquet_rows(self.path) == 0:
            raise ContestError(f"{self.path}: the table is empty; expected at least one row")
        source = self._source()
        kind = {name: kind for name, (_, kind) in raw.items()}
        col = {name: _quote(raw_name) for name, (raw_name, _) in raw.items()}

        if kind["rutube_video_id"] == "VARCHAR":
            video = _text_id(col["rutube_video_id"])
        else:
            video = f"CAST({_integer(col['rutube_video_id'], kind['rutube_video_id'])} AS VARCHAR)"
        texts = {}
        for name in EVENT_TEXT_COLUMNS:
            if kind[name] != "VARCHAR":
                raise Unsupported(f"{name}: {kind[name]}")
            texts[name] = f"nullif({col[name]}, '')"
        select = {
            "viewer_uid": self._user_ids(col["viewer_uid"], kind["viewer_uid"], source),
            "total_watchtime": _integer(col["total_watchtime"], kind["total_watchtime"]),
            "ts": _timestamp(col["event_timestamp"], kind["event_timestamp"]),
        }
        for name, expr in {"rutube_video_id": video, **texts}.items():
            self.enums[name] = self._enum(f"enum_{name}", expr, source)
            select[name] = f"CAST({expr} AS {self.enums[name]})"
        extras = [name for name in raw if name not in EVENT_COLUMNS and name not in SOURCE_COLUMNS]
        select |= {name: col[name] for name in extras}
        self.columns = [n for n in raw if n != "event_timestamp" and n not in SOURCE_COLUMNS] + ["ts"]
        body = ", ".join(f"{select[name]} AS {_quote(name)}" for name in self.columns)
        self.con.execute(f"CREATE TABLE events AS SELECT {body}, {self._row()} AS row FROM {source}")
        bad = self.con.execute(
            "SELECT count(*) FROM events WHERE viewer_uid IS NULL OR rutube_video_id IS NULL "
            "OR total_watchtime IS NULL OR total_watchtime < 0 OR ts IS NULL"
        ).fetchall()[0][0]
        if bad:
            self._raise_first_problem(check_batch)
            raise Unsupported("the pandas checks accept rows the SQL checks refused")
        self.trim_memory()

    def _source(self) -> str:
        """The table's parquet files as one DuckDB source, with each row's file and row in it."""
        parts = ", ".join(_literal(str(part)) for part in parquet_parts(self.path))
        return (
            f"read_parquet([{parts}], file_row_number = true, filename = true, "
            f"hive_partitioning = {str(self.path.is_dir()).lower()}, hive_types_autocast = false)"
        )

    def _row(self) -> str:
        """The row's number in the table (from 0): its file's first row plus its row in the file."""
        parts, rows = parquet_parts(self.path), part_rows(self.path)
        if len(parts) == 1:
            return "file_row_number"
        firsts = np.concatenate([[0], np.cumsum(rows)[:-1]])
        cases = " ".join(f"WHEN {_literal(str(p))} THEN {int(first)}" for p, first in zip(parts, firsts))
        return f"(CASE filename {cases} END + file_row_number)"

    def _raw_columns(self) -> dict[str, tuple[str, str]]:
        """{stripped name: (name in the file, DuckDB type)}."""
        try:
            described = self.con.execute(f"DESCRIBE SELECT * FROM {self._source()}").fetchall()
        except duckdb.Error as exc:
            raise _cannot_read(self.path, exc) from None
        return {str(name).strip(): (name, kind) for name, kind, *_ in described}

    def _user_ids(self, c: str, kind: str, source: str) -> str:
        """checks.opaque_ids in SQL: integers when every id is one (123 and 123.0 alike), else text."""
        if kind != "VARCHAR":
            return _integer(c, kind)
        text = _trimmed(c)
        canonical = self.con.execute(
            f"SELECT coalesce(bool_and(regexp_full_match({text}, {_literal(CANONICAL_INTEGER)})), true) FROM {source}"
        ).fetchall()[0][0]
        if canonical:
            return f"TRY_CAST(regexp_replace({text}, '\\.0+$', '') AS BIGINT)"
        self.uid_text = True
        return _text_id(c)

    def _enum(self, name: str, expr: str, source: str) -> str:
        """An ENUM type `name` of the distinct values of `expr`, sorted."""
        self.con.execute(
            f"CREATE TYPE {name} AS ENUM (SELECT DISTINCT v FROM (SELECT {expr} AS v FROM {source}) "
            "WHERE v IS NOT NULL ORDER BY v)"
        )
        return name

    def _raise_first_problem(self, check_batch) -> None:
        """The pandas checks over the file in Arrow batches (rows numbered as in the file)."""
        first = 0
        for batch in parquet_dataset(self.path).to_batches(batch_size=BATCH_ROWS):
            frame = batch.to_pandas()
            frame.columns = [str(c).strip() for c in frame.columns]
            frame.index = pd.RangeIndex(first, first + len(frame))
            check_batch(frame, self.path)
            first += len(frame)

    def trim_memory(self) -> None:
        """Hand DuckDB's cached blocks back (the tables stay on disk) between the stages that query them."""
        self.con.execute("SET memory_limit = '32MB'")
        self.con.execute(f"SET memory_limit = '{self.memory_limit or MEMORY_LIMIT}'")

    def to_text_ids(self) -> None:
        """Another table's user ids are text: every id is compared as text (checks.unify_ids)."""
        if not self.uid_text:
            self.con.execute("ALTER TABLE events ALTER viewer_uid TYPE VARCHAR")
            self.uid_text = True

    # -- reading -------------------------------------------------------------
    def users(self) -> np.ndarray:
        """Sorted distinct ids of the users with events (int64, or an object array of str)."""
        uids = self.con.execute("SELECT DISTINCT viewer_uid FROM events").fetchnumpy()["viewer_uid"]
        return np.sort(np.asarray(uids, dtype=object if self.uid_text else np.int64))

    def values(self, column: str) -> list:
        """The values of an ENUM column, by code."""
        return list(self.con.execute(f"SELECT enum_range(NULL::{self.enums[column]})").fetchall()[0][0])

    def report(self, videos: pd.DataFrame, labelled, test_users, users_with_events) -> dict:
        """tables.build_report's counts, computed in DuckDB."""
        n, missing_os = self.con.execute("SELECT count(*), count(*) FILTER (ua_os IS NULL) FROM events").fetchall()[0]
        per_video = self.con.execute(
            "SELECT CAST(enum_code(rutube_video_id) AS BIGINT) AS code, count(*) AS n FROM events GROUP BY ALL"
        ).fetchnumpy()
        in_catalogue = pd.Index(videos["rutube_video_id"].astype(str)).get_indexer(self.values("rutube_video_id")) >= 0
        ts = self.con.execute("SELECT ts FROM events").fetchnumpy()["ts"]
        late = int((ts > np.percentile(ts, 99) + LATE_EVENT_DAYS * 86400).sum())
        del ts
        duplicated = self.duplicated()
        self.trim_memory()
        return {
            "events": int(n),
            "videos": int(len(videos)),
            "labelled_users": int(len(labelled)),
            "test_users": int(len(test_users)),
            "events_unknown_video": int(per_video["n"][~in_catalogue[per_video["code"]]].sum()),
            "labelled_users_without_events": int(len(np.setdiff1d(labelled, users_with_events, assume_unique=True))),
            "test_users_without_events": int(len(np.setdiff1d(test_users, users_with_events, assume_unique=True))),
            "events_missing_ua_os": int(missing_os),
            "videos_zero_duration": int((videos["duration"] == 0).sum()),
            "events_duplicated": duplicated,
            "events_after_period": late,
        }

    def duplicated(self) -> int:
        """Rows identical to an earlier row in every column (pandas' `duplicated`): the rows that
        share a hash, compared column by column."""
        columns = ", ".join(_quote(c) for c in self.columns)
        return int(
            self.con.execute(
                f"""WITH shared AS (SELECT hash({columns}) AS h FROM events GROUP BY h HAVING count(*) > 1)
                SELECT coalesce(sum(n - 1), 0) FROM (
                    SELECT count(*) AS n FROM events WHERE hash({columns}) IN (SELECT h FROM shared)
                    GROUP BY {columns})"""
            ).fetchall()[0][0]
        )

    def frame(self) -> pd.DataFrame:
        """The events as the pandas loader returns them, for code that wants them whole."""
        select = ", ".join(
            f"CAST({_quote(c)} AS VARCHAR) AS {_quote(c)}" if c in self.enums else _quote(c) for c in self.columns
        )
        events = self.con.execute(f"SELECT {select} FROM events ORDER BY row").df()
        for column in self.enums:
            events[column] = events[column].astype("string")
        events["viewer_uid"] = events["viewer_uid"].to_numpy(dtype=object if self.uid_text else np.int64)
        return events


class StreamedContest(Contest):
    """A contest whose events stay in an EventStore (`store`); `events` reads them into pandas
    on first use only."""

    def __init__(self, store: EventStore, **fields):
        super().__init__(events=None, **fields)
        del self.__dict__["events"]  # leaves `events` to the cached property
        self.store = store

    @cached_property
    def events(self) -> pd.DataFrame:
        return self.store.frame()


def _remove(con, folder: Path) -> None:
    try:
        con.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def open_store(path: Path, work_dir: Path, check_batch, threads: int = 2) -> EventStore | None:
    """The events of `path` in an EventStore, or None when the SQL does not cover a column's type."""
    store = EventStore(path, work_dir, threads)
    try:
        store.build(check_batch)
    except Unsupported:
        store.close()
        return None
    except BaseException:
        store.close()
        raise
    return store
