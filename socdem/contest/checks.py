"""Reading a contest table and checking it: every problem is one `ContestError`
line naming the file, the column and the first offending values."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from socdem.schema import SEX_VALUES


class ContestError(ValueError):
    """Bad contest input; the message is one line meant for the user."""


def examples(values, n: int = 3) -> str:
    return ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in list(values)[:n])


SUFFIXES = (".parquet", ".csv", ".csv.gz", "")  # a .csv.gz is read like a .csv; "" only a folder of parquet parts
CSV_BLOCK_SIZE = 1 << 20  # bytes per read block; quoted newlines may fall on any block boundary
NULL_VALUES = sorted(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)  # pandas' read_csv defaults
INT64_LIMIT = 2**63
CANONICAL_INTEGER = r"^-?(0|[1-9][0-9]*)(\.0+)?$"  # 123 or 123.0, not 0123: a zero-padded id is text
FLOAT_LOOKING = r"^(-?[0-9]+)\.0+$"  # "123.0", as a float column writes an integer id: the id "123"
SURROUNDING_SPACE = r"^\s+|\s+$"  # never part of an id: " 100013 " is the id "100013"
FOREIGN_SEPARATORS = {"\t": "tab", ";": "semicolon", "|": "pipe"}


def find_table(data_dir: Path, name: str) -> Path | None:
    """`<name>.parquet`, `.csv`, `.csv.gz`, or a folder of parquet parts (`<name>/` or Spark's
    `<name>.parquet/`, Hive-style partitions included); None when absent."""
    found = []
    for suffix in SUFFIXES:
        path = data_dir / f"{name}{suffix}"
        if path.exists() and (suffix or path.is_dir()):
            found.append(path)
    if len(found) > 1:
        raise ContestError(
            f"{', '.join(map(str, found))}: table '{name}' is given {len(found)} times; "
            "expected exactly one file per table (remove the others)"
        )
    if found and found[0].is_dir() and not parquet_parts(found[0]):
        raise ContestError(
            f"{found[0]}: a folder without parquet files; expected a table file or a folder of parquet parts"
        )
    return found[0] if found else None


def find_events(data_dir: Path) -> Path | None:
    """The events table, `train_events` or its second name `events`; both given is refused."""
    primary, second = find_table(data_dir, "train_events"), find_table(data_dir, "events")
    if primary is not None and second is not None:
        raise ContestError(
            f"{primary}, {second}: the events table is given twice (as train_events and as events); "
            "expected exactly one of them (remove the other)"
        )
    return primary or second


def parquet_parts(path: Path) -> list[Path]:
    """The parquet files of a table: the file itself, or a folder's `*.parquet` files and Spark's
    extension-less `part-*` files at any depth, sorted (names starting with `.` or `_` are
    bookkeeping: `_SUCCESS`, `.crc`)."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    parts = [
        p
        for p in path.rglob("*")
        if p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        and (p.name.endswith(".parquet") or (p.name.startswith("part-") and "." not in p.name.removeprefix("part-")))
    ]
    return sorted(parts)


def parquet_dataset(path: Path):
    """The table's parquet files as one pyarrow dataset (Hive-style `key=value` folders become columns)."""
    import pyarrow.dataset as pads

    parts = parquet_parts(path)
    if not Path(path).is_dir():
        return pads.dataset(parts, format="parquet")
    return pads.dataset([str(p) for p in parts], format="parquet", partitioning="hive", partition_base_dir=str(path))


def _is_csv(path: Path) -> bool:
    return path.name.endswith((".csv", ".csv.gz")) and not path.is_dir()


def _kind(path: Path) -> str:
    return "CSV" if _is_csv(path) else "parquet"


def _cannot_read(path: Path, exc: Exception) -> ContestError:
    text = str(exc)
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "UTF-8" in text:
        return ContestError(f"{path}: not UTF-8 text (e.g. saved as cp1251); expected a UTF-8 CSV file")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return ContestError(f"{path}: cannot be read as {_kind(path)}: {first}")


def read_table(path: Path, text_columns=()) -> pd.DataFrame:
    """The table with stripped column names. In a CSV, `text_columns` are read
    as written (ids, timestamps), never turned into numbers or times first."""
    try:
        if path.is_dir():
            df = parquet_dataset(path).to_table().to_pandas()
        elif not _is_csv(path):
            df = pd.read_parquet(path)
        else:
            raw_names = {name.strip(): name for name in table_columns(path)}
            types = {raw_names[c]: pa.string() for c in text_columns if c in raw_names}
            df = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_SIZE),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, null_values=NULL_VALUES, strings_can_be_null=True
                ),
            ).to_pandas()
    except ContestError:
        raise
    except Exception as exc:  # the reader's own message, but attached to our file
        raise _cannot_read(path, exc) from None
    df.columns = [str(c).strip() for c in df.columns]  # " viewer_uid" is viewer_uid
    return df


def check_columns(df: pd.DataFrame, path: Path, required: list[str], integers: list[str]) -> pd.DataFrame:
    missing = [c for c in required if c not in df.columns]
    if missing and (separator := foreign_separator(list(df.columns), required)):
        raise ContestError(
            f"{path}: the header looks {separator}-separated ({', '.join(map(repr, df.columns[:2]))}); "
            f"expected comma-separated columns {', '.join(required)}"
        )
    if missing:
        raise ContestError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(required)}")
    if len(df) == 0:
        raise ContestError(f"{path}: the table is empty; expected at least one row")
    for col in integers:
        check_present(df[col], path, col)
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            raise ContestError(
                f"{path}: column '{col}': {int(bad.sum())} value(s) are not integers, e.g. {examples(df[col][bad])}"
            )
        _check_int64_range(values, df[col], path, col)
        df[col] = values.astype("int64")
    return df


def foreign_separator(columns: list[str], required: list[str]) -> str | None:
    """The name of the separator ("tab", "semicolon", "pipe") that splits the header into required columns
    where the comma did not; None when no such separator does."""
    for char, name in FOREIGN_SEPARATORS.items():
        names = {part.strip() for column in columns for part in str(column).split(char)}
        if any(char in str(column) for column in columns) and len(names & set(required)) > len(
            set(columns) & set(required)
        ):
            return name
    return None


def check_present(raw: pd.Series, path: Path, col: str) -> None:
    """Every value present; rows are numbered from 1 by the frame's index (a batch of a streamed
    table carries its rows' numbers in the file)."""
    missing = raw.isna()
    if missing.any():
        rows = raw.index[missing.to_numpy()][:3] if isinstance(raw.index, pd.RangeIndex) else None
        rows = np.flatnonzero(missing.to_numpy())[:3] if rows is None else np.asarray(rows)
        raise ContestError(
            f"{path}: column '{col}': {int(missing.sum())} value(s) missing, e.g. in row(s) "
            f"{', '.join(str(i) for i in rows + 1)}; expected a value in every row"
        )


def _check_int64_range(values: pd.Series, raw: pd.Series, path: Path, col: str) -> None:
    large = (values >= INT64_LIMIT) | (values < -INT64_LIMIT)
    if large.any():
        raise ContestError(
            f"{path}: column '{col}': {int(large.sum())} value(s) too large for a 64-bit integer, "
            f"e.g. {examples(raw[large])}; expected below 2**63"
        )


def opaque_ids(raw: pd.Series, path: Path, col: str) -> np.ndarray:
    """User or author ids as written: int64 when every id is an integer (123 and
    123.0 alike), else text (object array of str; zero-padded "000123" stays as is)."""
    check_present(raw, path, col)
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.astype("float64") if raw.dtype.kind == "f" else raw
        bad = values != np.floor(values)
        if bad.any():
            raise ContestError(
                f"{path}: column '{col}': {int(bad.sum())} id(s) are fractional numbers, e.g. {examples(raw[bad])}; "
                "expected integer or text ids"
            )
        _check_int64_range(values, raw, path, col)
        return raw.to_numpy().astype(np.int64)
    text = _trimmed(raw, path, col)
    if pc.all(pc.match_substring_regex(text, CANONICAL_INTEGER)).as_py():
        digits = pc.replace_substring_regex(text, r"\.0+$", "")
        try:
            return pc.cast(digits, pa.int64()).to_numpy()
        except pa.ArrowInvalid:  # more digits than int64 holds (the slow path is for the error only)
            large = np.array([not -INT64_LIMIT <= int(v) < INT64_LIMIT for v in digits.to_pylist()])
            raise ContestError(
                f"{path}: column '{col}': {int(large.sum())} id(s) too large for a 64-bit integer, "
                f"e.g. {examples(raw[large])}; expected below 2**63 (or text ids)"
            ) from None
    return pc.replace_substring_regex(text, FLOAT_LOOKING, r"\1").to_numpy(zero_copy_only=False).astype(object)


def video_ids(raw: pd.Series, path: Path, col: str) -> pd.Series:
    """Video ids as text; an integer-valued number (123 or 123.0) is the id "123"."""
    check_present(raw, path, col)
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        ids = opaque_ids(raw, path, col).astype(str)
    else:
        text = _trimmed(raw, path, col)
        ids = pc.replace_substring_regex(text, FLOAT_LOOKING, r"\1").to_numpy(zero_copy_only=False)
    return pd.Series(ids, index=raw.index, dtype="string")


def _trimmed(raw: pd.Series, path: Path, col: str) -> pa.Array:
    """The ids as Arrow text without surrounding whitespace; an id of whitespace alone is missing."""
    text = pc.replace_substring_regex(
        pa.array(raw.astype(str).to_numpy(dtype=object), type=pa.string()), SURROUNDING_SPACE, ""
    )
    blank = pc.equal(text, "").to_numpy(zero_copy_only=False)
    if blank.any():
        check_present(raw.mask(blank), path, col)
    return text


def unify_ids(*ids: np.ndarray) -> list[np.ndarray]:
    """The same user in every table: integer ids stay int64 only if every table's are; else all are text."""
    if all(a.dtype.kind == "i" for a in ids):
        return list(ids)
    return [a.astype(str).astype(object) for a in ids]


def check_both_sexes(sex: pd.Series, path: Path) -> None:
    present = sorted(set(sex.dropna()))
    if len(present) < 2:
        raise ContestError(f"{path}: column 'sex': only {present[0]!r} present; expected both male and female labels")


def check_nonnegative(df: pd.DataFrame, path: Path, col: str) -> None:
    bad = df[col] < 0
    if bad.any():
        raise ContestError(
            f"{path}: column '{col}': {int(bad.sum())} negative value(s), e.g. {examples(df[col][bad])}; expected >= 0"
        )


CONTEST_OFFSET_SECONDS = 3 * 3600  # a time without an offset is the contest's Moscow time, +03:00
HAS_OFFSET = r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)$"
EPOCH = pd.Timestamp("1970-01-01")


def parse_timestamps(raw: pd.Series, path: Path) -> np.ndarray:
    """ISO 8601 → int64 seconds since the epoch (UTC). One rule for every storage
    (CSV or parquet text, naive or aware datetimes): a time without an offset is +03:00."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        if raw.dt.tz is not None:
            seconds = _seconds(raw.dt.tz_convert("UTC").dt.tz_localize(None))
        else:
            seconds = _seconds(raw) - CONTEST_OFFSET_SECONDS
    else:
        text = raw if raw.dtype != object else raw.map(lambda v: v if isinstance(v, str) or pd.isna(v) else str(v))
        for fmt, shift in (("%Y-%m-%d %H:%M:%S%z", 0), ("%Y-%m-%d %H:%M:%S", CONTEST_OFFSET_SECONDS)):
            fast = _parse_fast(text, fmt)
            if fast is not None:
                return fast - shift
        text = text.astype("string").str.strip()
        aware = text.str.contains(HAS_OFFSET, regex=True).fillna(False).astype(bool)
        utc = pd.to_datetime(text.where(aware), format="ISO8601", utc=True, errors="coerce", cache=False)
        naive = pd.to_datetime(text.where(~aware), format="ISO8601", errors="coerce", cache=False)
        seconds = np.where(
            aware.to_numpy(),
            _seconds(utc.dt.tz_localize(None)),
            _seconds(naive) - CONTEST_OFFSET_SECONDS,
        )
    bad = np.isnan(seconds)
    if bad.any():
        raise ContestError(
            f"{path}: column 'event_timestamp': {int(bad.sum())} value(s) are not ISO 8601 timestamps, "
            f"e.g. {examples(raw[bad])}; expected like '2024-06-01 06:40:58+03:00'"
        )
    return seconds.astype(np.int64)


def _seconds(naive_utc: pd.Series) -> np.ndarray:
    """float seconds since the epoch (NaN for NaT) of naive datetimes."""
    delta = (naive_utc - EPOCH) / pd.Timedelta(seconds=1)
    return np.floor(delta.to_numpy(dtype=np.float64, na_value=np.nan))


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique's result, faster on millions of ids (hash, then sort the few uniques)."""
    return np.sort(pd.unique(values))


def _parse_fast(raw: pd.Series, fmt: str) -> np.ndarray | None:
    """The contest's own format ('2024-06-01 06:40:58+03:00', or without the
    offset) parsed by Arrow, faster than pandas on millions of rows; None when any
    value needs pandas' general ISO 8601 parser (or is bad, which that parser then reports)."""
    try:
        parsed = pc.strptime(pa.array(raw, type=pa.string()), format=fmt, unit="s", error_is_null=True)
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
    """Column names (stripped) without reading the table."""
    try:
        if path.is_dir():
            return [name.strip() for name in parquet_dataset(path).schema.names]
        if not _is_csv(path):
            return [name.strip() for name in pq.read_schema(path).names]
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            return [name.strip() for name in next(csv.reader(fh), [])]
    except Exception as exc:
        raise _cannot_read(path, exc) from None


def read_ids(path: Path, column: str) -> np.ndarray:
    """The ids of a one-column table (test_users), as `opaque_ids` reads them."""
    table = check_columns(read_table(path, [column]), path, [column], [])
    return opaque_ids(table[column], path, column)


def unmatched_users(
    ids: np.ndarray, path: Path, column: str, users_with_events: np.ndarray, events_path: Path
) -> str | None:
    """Stop when none of a table's users (labelled or to predict) has an event: the two tables' ids cannot
    name the same users. More than half without one is a warning, returned as a line; else None."""
    if len(ids) == 0:
        return None
    matched = np.isin(ids, users_with_events)
    if not matched.any():
        raise ContestError(
            f"{path}: column '{column}': none of its {len(ids):,} users has an event in {events_path.name} "
            f"(ids here e.g. {examples(ids)}; there e.g. {examples(users_with_events)}); "
            "expected the same user ids in both tables"
        )
    if matched.mean() >= 0.5:
        return None
    return (
        f"{path.name}: {int((~matched).sum()):,} of its {len(ids):,} users have no event in {events_path.name} "
        f"(e.g. {examples(ids[~matched])}); check that both tables write the same user ids"
    )


def unmatched_warnings(
    tables: list[tuple[Path | None, np.ndarray]], column: str, users_with_events: np.ndarray, events_path: Path
) -> list[str]:
    """`unmatched_users` of each (path, ids) table given (a None path is an absent table): the warnings."""
    found = [unmatched_users(ids, path, column, users_with_events, events_path) for path, ids in tables if path]
    return [warning for warning in found if warning]


def resolve_test_users(
    test: np.ndarray | None,
    path: Path | None,
    id_column: str,
    labelled: np.ndarray,
    users_with_events: np.ndarray,
    labels_name: str,
) -> np.ndarray:
    """The users to predict: the test table's ids if given, else users with events and no label."""
    if test is None:
        return np.setdiff1d(users_with_events, labelled, assume_unique=True)
    overlap = np.intersect1d(test, labelled)
    if len(overlap):
        raise ContestError(
            f"{path}: column '{id_column}': {len(overlap)} test user(s) also labelled in {labels_name}, "
            f"e.g. {examples(overlap)}"
        )
    return np.unique(test)
