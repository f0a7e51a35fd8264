"""Reading a contest table and checking it: every problem is one `ContestError`
line naming the file, the column and the first offending values."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from socdem.schema import SEX_VALUES


class ContestError(ValueError):
    """Bad contest input; the message is one line meant for the user."""


def examples(values, n: int = 3) -> str:
    return ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in list(values)[:n])


def find_table(data_dir: Path, name: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        path = data_dir / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, engine="pyarrow")
    except Exception as exc:  # the reader's own message, but attached to our file
        raise ContestError(f"{path}: cannot be read as {path.suffix[1:]}: {exc}".splitlines()[0]) from None


def check_columns(df: pd.DataFrame, path: Path, required: list[str], integers: list[str]) -> pd.DataFrame:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ContestError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(required)}")
    if len(df) == 0:
        raise ContestError(f"{path}: the table is empty; expected at least one row")
    for col in integers:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            raise ContestError(
                f"{path}: column '{col}': {int(bad.sum())} value(s) are not integers, e.g. {examples(df[col][bad])}"
            )
        df[col] = values.astype("int64")
    return df


def check_nonnegative(df: pd.DataFrame, path: Path, col: str) -> None:
    bad = df[col] < 0
    if bad.any():
        raise ContestError(
            f"{path}: column '{col}': {int(bad.sum())} negative value(s), e.g. {examples(df[col][bad])}; expected >= 0"
        )


def parse_timestamps(raw: pd.Series, path: Path) -> np.ndarray:
    """ISO 8601 with offset → int64 seconds since the epoch (UTC)."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw if raw.dt.tz is not None else raw.dt.tz_localize("Europe/Moscow")
    else:
        fast = _parse_contest_format(raw)
        if fast is not None:
            return fast
        parsed = pd.to_datetime(raw, format="ISO8601", utc=True, errors="coerce", cache=False)
    bad = parsed.isna()
    if bad.any():
        raise ContestError(
            f"{path}: column 'event_timestamp': {int(bad.sum())} value(s) are not ISO 8601 timestamps, "
            f"e.g. {examples(raw[bad])}; expected like '2024-06-01 06:40:58+03:00'"
        )
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    return ((parsed - epoch) // pd.Timedelta(seconds=1)).to_numpy(dtype="int64")


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique's result, ~10x faster on millions of ids (hash, then sort the few uniques)."""
    return np.sort(pd.unique(values))


def _parse_contest_format(raw: pd.Series) -> np.ndarray | None:
    """The contest's own format ('2024-06-01 06:40:58+03:00') parsed by Arrow,
    twice as fast as pandas at 9M rows; None when any value needs pandas'
    general ISO 8601 parser (or is bad, which that parser then reports)."""
    try:
        parsed = pc.strptime(
            pa.array(raw, type=pa.string()), format="%Y-%m-%d %H:%M:%S%z", unit="s", error_is_null=True
        )
    except (pa.ArrowException, TypeError):
        return None
    if parsed.null_count:
        return None
    return parsed.cast(pa.int64()).to_numpy()


def parse_sex(raw: pd.Series, path: Path) -> pd.Series:
    sex = raw.astype("string").str.strip().str.lower()
    bad = ~sex.isin(SEX_VALUES) | sex.isna()
    if bad.any():
        raise ContestError(
            f"{path}: column 'sex': {int(bad.sum())} value(s) outside male/female, e.g. {examples(raw[bad])}"
        )
    return sex


def check_unique(ids: pd.Series, path: Path, column: str) -> None:
    dup = ids.duplicated()
    if dup.any():
        raise ContestError(
            f"{path}: column '{column}': {int(dup.sum())} duplicate user(s), e.g. {examples(ids[dup])}; "
            "expected one row per user"
        )


def table_columns(path: Path) -> list[str]:
    """Column names without reading the table."""
    if path.suffix == ".parquet":
        return pq.read_schema(path).names
    with open(path, newline="") as fh:
        return next(csv.reader(fh), [])


def resolve_test_users(
    path: Path | None, id_column: str, labelled: np.ndarray, users_with_events: np.ndarray, labels_name: str
) -> np.ndarray:
    """The users to predict: the test table if given, else users with events and no label."""
    if path is None:
        return np.setdiff1d(users_with_events, labelled, assume_unique=True)
    test = check_columns(read_table(path), path, [id_column], [id_column])[id_column].to_numpy()
    overlap = np.intersect1d(test, labelled)
    if len(overlap):
        raise ContestError(
            f"{path}: column '{id_column}': {len(overlap)} test user(s) also labelled in {labels_name}, "
            f"e.g. {examples(overlap)}"
        )
    return np.unique(test)
