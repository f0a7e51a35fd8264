"""Bad contest input gives one clear line naming file and column; known
quirks of real data are tolerated and counted."""

from __future__ import annotations

import pandas as pd
import pytest

from socdem.__main__ import main
from socdem.contest import ContestError, load_contest

TABLES = ("train_events", "video_info_v2", "train_targets", "test_users")


@pytest.fixture
def csv_contest(tiny_contest, tmp_path):
    """The tiny contest rewritten as CSV, so each test can break one table."""
    out = tmp_path / "csv"
    out.mkdir()
    for name in TABLES:
        pd.read_parquet(tiny_contest / f"{name}.parquet").to_csv(out / f"{name}.csv", index=False)
    return out


def _edit(folder, name, change):
    path = folder / f"{name}.csv"
    df = pd.read_csv(path)
    df = change(df)
    df.to_csv(path, index=False)


def test_loads_csv_and_parquet_alike(tiny_contest, csv_contest):
    a, b = load_contest(tiny_contest), load_contest(csv_contest)
    assert a.report == b.report
    assert (a.events["ts"].to_numpy() == b.events["ts"].to_numpy()).all()
    assert list(a.test_users) == list(b.test_users)


def test_tolerated_quirks_are_counted(tiny_contest):
    report = load_contest(tiny_contest).report
    assert report["events_unknown_video"] > 0
    assert report["events_missing_ua_os"] > 0
    assert report["videos_zero_duration"] > 0
    assert report["labelled_users_without_events"] > 0


BAD_CASES = {
    "missing table": (lambda f: (f / "video_info_v2.csv").unlink(), r"video_info_v2\.csv: missing table"),
    "missing column": (
        lambda f: _edit(f, "train_events", lambda d: d.drop(columns="region")),
        r"train_events\.csv: missing column\(s\) region",
    ),
    "empty table": (
        lambda f: _edit(f, "train_targets", lambda d: d.iloc[:0]),
        r"train_targets\.csv: the table is empty",
    ),
    "bad timestamp": (
        lambda f: _edit(
            f, "train_events", lambda d: d.assign(event_timestamp=d["event_timestamp"].where(d.index != 5, "yesterday"))
        ),
        r"train_events\.csv: column 'event_timestamp': 1 value\(s\) are not ISO 8601.*'yesterday'",
    ),
    "bad sex": (
        lambda f: _edit(f, "train_targets", lambda d: d.assign(sex=d["sex"].where(d.index != 0, "unknown"))),
        r"train_targets\.csv: column 'sex': 1 value\(s\) outside male/female, e\.g\. 'unknown'",
    ),
    "bad age_class": (
        lambda f: _edit(f, "train_targets", lambda d: d.assign(age_class=d["age_class"].where(d.index != 0, 7))),
        r"train_targets\.csv: column 'age_class': 1 value\(s\) outside 0\.\.3, e\.g\. 7",
    ),
    "duplicate target user": (
        lambda f: _edit(f, "train_targets", lambda d: pd.concat([d, d.iloc[:2]])),
        r"train_targets\.csv: column 'viewer_uid': 2 duplicate user\(s\)",
    ),
    "negative watch time": (
        lambda f: _edit(
            f, "train_events", lambda d: d.assign(total_watchtime=d["total_watchtime"].where(d.index != 3, -5))
        ),
        r"train_events\.csv: column 'total_watchtime': 1 negative value\(s\), e\.g\. -5",
    ),
    "test user also labelled": (
        lambda f: _edit(
            f, "test_users", lambda d: pd.concat([d, pd.read_csv(f / "train_targets.csv")[["viewer_uid"]].iloc[:1]])
        ),
        r"test_users\.csv: column 'viewer_uid': 1 test user\(s\) also labelled",
    ),
    "text in a numeric column": (
        lambda f: _edit(
            f,
            "train_events",
            lambda d: d.assign(total_watchtime=d["total_watchtime"].astype(str).where(d.index != 1, "abc")),
        ),
        r"train_events\.csv: column 'total_watchtime': 1 value\(s\) are not integers, e\.g\. 'abc'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_names_file_and_column(csv_contest, case):
    breaker, message = BAD_CASES[case]
    breaker(csv_contest)
    with pytest.raises(ContestError, match=message):
        load_contest(csv_contest)


def test_cli_reports_bad_input_in_one_line_with_exit_code_2(csv_contest, socdem_home, capsys):
    _edit(csv_contest, "train_targets", lambda d: d.assign(sex="x"))
    code = main(["train", "--exp", "fast", "--data", str(csv_contest)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: ") and "train_targets.csv: column 'sex'" in err[-1]
    assert not any("Traceback" in line for line in err)
