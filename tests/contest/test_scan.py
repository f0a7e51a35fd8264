"""Streamed events (contest/scan.py): DuckDB reads a parquet events table into a store on disk and
gives back what the pandas loader gives, the same report and the same one-line errors."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest
from small_contest import small_tables, write_tables

from socdem.contest import ContestError, load_contest, scan


def _both(folder, work):
    plain = load_contest(folder)
    streamed = load_contest(folder, stream=True, work_dir=work)
    assert streamed.store is not None and plain.store is None
    return plain, streamed


def _assert_same(plain, streamed):
    assert plain.report == streamed.report
    pd.testing.assert_frame_equal(plain.targets, streamed.targets)
    np.testing.assert_array_equal(plain.test_users, streamed.test_users)
    assert plain.test_users.dtype == streamed.test_users.dtype
    pd.testing.assert_frame_equal(plain.events, streamed.events)
    pd.testing.assert_frame_equal(plain.videos, streamed.videos)


def test_the_synthetic_contest_streams_to_the_same_tables(tiny_contest, tmp_path):
    _assert_same(*_both(tiny_contest, tmp_path / "work"))


def _timestamps(stored):
    def change(tables):
        events = tables["train_events"]
        naive = pd.to_datetime(events["event_timestamp"].str.slice(0, 19))
        events["event_timestamp"] = {
            "naive text": naive.dt.strftime("%Y-%m-%d %H:%M:%S"),
            "T text": naive.dt.strftime("%Y-%m-%dT%H:%M:%S"),
            "utc text": (naive - pd.Timedelta(hours=3)).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "mixed text": events["event_timestamp"].where(
                events.index % 2 == 0, naive.dt.strftime("%Y-%m-%d %H:%M:%S")
            ),
            "fractional text": naive.dt.strftime("%Y-%m-%d %H:%M:%S") + ".75",
            "naive datetime": naive,
            "aware datetime": naive.dt.tz_localize("+03:00").dt.tz_convert("Asia/Yekaterinburg"),
        }[stored]

    return change


def _set(table, column, func):
    return lambda tables: tables[table].__setitem__(column, func(tables[table][column]))


VARIANTS = {
    **{f"timestamps: {s}": _timestamps(s) for s in ("naive text", "T text", "utc text", "mixed text")},
    **{f"timestamps: {s}": _timestamps(s) for s in ("fractional text", "naive datetime", "aware datetime")},
    "float user ids": _set("train_events", "viewer_uid", lambda s: s.astype(float)),
    "integer text user ids": _set("train_events", "viewer_uid", lambda s: s.astype(str) + ".0"),
    "text user ids in the targets only": _set(
        "train_targets", "viewer_uid", lambda s: s.astype(str).where(s.index % 2 == 0, "u" + s.astype(str))
    ),
    "integer video ids": lambda t: (
        t["video_info_v2"].__setitem__("rutube_video_id", np.arange(len(t["video_info_v2"]))),
        t["train_events"].__setitem__(
            "rutube_video_id", t["train_events"]["rutube_video_id"].str.removeprefix("video_").astype(float)
        ),
    ),
    "duplicated and late events, an extra column": lambda t: t.__setitem__(
        "train_events",
        pd.concat(
            [
                t["train_events"],
                t["train_events"].iloc[:3],
                t["train_events"].iloc[:2].assign(event_timestamp="2031-01-01 00:00:00+03:00"),
            ],
            ignore_index=True,
        ).assign(note=lambda d: np.where(d.index % 7 == 0, "x", "")),
    ),
    "empty strings and unknown regions": lambda t: (
        t["train_events"].__setitem__(
            "ua_client_name", t["train_events"]["ua_client_name"].where(lambda s: s.index % 3 > 0, "")
        ),
        t["train_events"].__setitem__(
            "region", t["train_events"]["region"].where(lambda s: s.index % 5 > 0, "Atlantis")
        ),
    ),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_stored_variants_stream_to_the_same_tables(tmp_path, variant):
    tables = small_tables(n_users=40)
    VARIANTS[variant](tables)
    plain, streamed = _both(write_tables(tmp_path / "c", tables, "parquet"), tmp_path / "work")
    _assert_same(plain, streamed)


def test_text_ids_stream_as_text(tmp_path):
    folder = write_tables(tmp_path / "c", small_tables(n_users=40, uid=lambda i: f"{100_000 + i:012d}"), "parquet")
    plain, streamed = _both(folder, tmp_path / "work")
    _assert_same(plain, streamed)
    assert streamed.store.uid_text and streamed.test_users[0] == "000000100030"


def _broken(tmp_path, change, name="c"):
    tables = small_tables(n_users=40)
    changed = change(tables["train_events"])  # edits in place, or returns the new table
    tables["train_events"] = tables["train_events"] if changed is None else changed
    return write_tables(tmp_path / name, tables, "parquet")


BAD = {
    "missing user id": lambda e: e.__setitem__("viewer_uid", e["viewer_uid"].astype(float).where(e.index != 4)),
    "fractional user id": lambda e: e.__setitem__("viewer_uid", e["viewer_uid"].astype(float).where(e.index != 4, 1.5)),
    "user id too large": lambda e: e.__setitem__(
        "viewer_uid", e["viewer_uid"].astype(str).where(e.index != 2, "9" * 20)
    ),
    "missing video id": lambda e: e.__setitem__("rutube_video_id", e["rutube_video_id"].where(e.index != 9)),
    "negative watch time": lambda e: e.__setitem__("total_watchtime", e["total_watchtime"].where(e.index != 3, -5)),
    "fractional watch time": lambda e: e.__setitem__(
        "total_watchtime", e["total_watchtime"].astype(float).where(e.index != 3, 2.5)
    ),
    "watch time too large": lambda e: e.__setitem__(
        "total_watchtime", e["total_watchtime"].astype(float).where(e.index != 3, 1e20)
    ),
    "bad timestamp": lambda e: e.__setitem__("event_timestamp", e["event_timestamp"].where(e.index != 5, "yesterday")),
    "missing timestamp": lambda e: e.__setitem__("event_timestamp", e["event_timestamp"].where(e.index != 5)),
    "missing column": lambda e: e.drop(columns="region"),
    "no rows": lambda e: e.iloc[:0],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_events_give_the_pandas_loaders_error(tmp_path, case):
    folder = _broken(tmp_path, BAD[case])
    with pytest.raises(ContestError) as plain:
        load_contest(folder)
    work = tmp_path / "work"
    with pytest.raises(ContestError) as streamed:
        load_contest(folder, stream=True, work_dir=work)
    assert str(streamed.value) == str(plain.value)
    assert not list(work.iterdir())  # the store's folder went with the error


def test_rows_are_numbered_as_in_the_file_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(scan, "BATCH_ROWS", 50)
    folder = _broken(
        tmp_path, lambda e: e.__setitem__("viewer_uid", e["viewer_uid"].astype(float).where(e.index != 123))
    )
    with pytest.raises(ContestError) as plain:
        load_contest(folder)
    with pytest.raises(ContestError, match=r"in row\(s\) 124;") as streamed:
        load_contest(folder, stream=True, work_dir=tmp_path / "work")
    assert str(streamed.value) == str(plain.value)


def test_types_the_sql_does_not_cover_go_to_the_pandas_loader(tmp_path):
    folder = _broken(tmp_path, lambda e: e.__setitem__("total_watchtime", e["total_watchtime"].astype(str)))
    contest = load_contest(folder, stream=True, work_dir=tmp_path / "work")
    assert contest.store is None and contest.report == load_contest(folder).report
    assert not list((tmp_path / "work").iterdir())


def test_auto_streams_large_parquet_tables_only(tiny_contest, tmp_path, monkeypatch):
    assert load_contest(tiny_contest, stream=None, work_dir=tmp_path).store is None
    monkeypatch.setattr(scan, "STREAM_MIN_EVENTS", 1000)
    assert load_contest(tiny_contest, stream=None, work_dir=tmp_path).store is not None
    csv = write_tables(tmp_path / "csv", small_tables(n_users=40), "csv")
    assert load_contest(csv, stream=True, work_dir=tmp_path).store is None  # CSV: the pandas loader


def test_the_store_folder_goes_with_the_contest(tiny_contest, tmp_path):
    work = tmp_path / "work"
    contest = load_contest(tiny_contest, stream=True, work_dir=work)
    folder = contest.store.folder
    assert folder.is_dir() and folder.parent == work
    del contest
    gc.collect()
    assert not folder.exists()
