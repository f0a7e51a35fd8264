"""Any real contest folder (issue 13): no silent wrong answer, no traceback,
nothing stale. Each case is a small folder built in the test."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pytest
from small_contest import BASELINES, small_tables, write_tables

from socdem.__main__ import main
from socdem.config import load_experiment
from socdem.contest import ContestError, checks, contest_files, load_contest
from socdem.features.build import compute_features
from socdem.features.workspace import Workspace


def _run(capsys, *argv) -> tuple[int, list[str]]:
    code = main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    assert not any("Traceback" in line for line in err)
    return code, err


# ---- silent wrong results ----


def test_a_table_given_twice_is_refused_naming_both(tmp_path, socdem_home, capsys):
    folder = write_tables(tmp_path / "c", small_tables())
    small_tables()["train_targets"].to_parquet(folder / "train_targets.parquet", index=False)
    with pytest.raises(ContestError, match=r"train_targets\.parquet, .*train_targets\.csv: table 'train_targets'"):
        contest_files(folder)
    code, err = _run(capsys, "features", "--exp", "fast", "--data", str(folder))
    assert code == 2 and err[-1].startswith("error: ") and "train_targets.csv" in err[-1]
    assert not (socdem_home / "artifacts" / "features").exists()


def _same_events_stored(tmp_path, stored: str):
    tables = small_tables(n_users=40)
    events = tables["train_events"]
    naive = pd.to_datetime(events["event_timestamp"].str.slice(0, 19))
    events["event_timestamp"] = {
        "csv aware text": events["event_timestamp"],
        "csv naive text": naive.dt.strftime("%Y-%m-%d %H:%M:%S"),
        "parquet naive text": naive.dt.strftime("%Y-%m-%d %H:%M:%S"),
        "parquet T text": naive.dt.strftime("%Y-%m-%dT%H:%M:%S"),
        "parquet utc text": (naive - pd.Timedelta(hours=3)).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parquet naive datetime": naive,
        "parquet aware datetime": naive.dt.tz_localize("+03:00").dt.tz_convert("Asia/Yekaterinburg"),
    }[stored]
    return write_tables(tmp_path / stored.replace(" ", "_"), tables, "csv" if stored.startswith("csv") else "parquet")


def test_a_time_without_offset_is_the_contests_plus_three_in_every_storage(tmp_path):
    stores = [
        "csv aware text",
        "csv naive text",
        "parquet naive text",
        "parquet T text",
        "parquet utc text",
        "parquet naive datetime",
        "parquet aware datetime",
    ]
    features = []
    for stored in stores:
        ws = Workspace(data_dir=_same_events_stored(tmp_path, stored), exp=load_experiment("fast"), root=tmp_path)
        ws.log = lambda *_: None
        features.append(compute_features(ws)[0])
    for stored, frame in zip(stores[1:], features[1:]):
        pd.testing.assert_frame_equal(features[0], frame, check_exact=True, obj=stored)


@pytest.mark.parametrize(
    "uid",
    [lambda i: f"{100_000 + i:012d}", lambda i: f"u{i}"],
    ids=["zero-padded", "text"],
)
def test_text_ids_come_back_exactly_as_written(tmp_path, socdem_home, capsys, uid):
    folder = write_tables(tmp_path / "c", small_tables(uid=uid))
    code, err = _run(capsys, "submit", "--exp", "fast", "--set", BASELINES, "--data", str(folder))
    assert code == 0, err[-3:]
    run = load_experiment("fast", overrides=BASELINES).run
    sub = pd.read_csv(socdem_home / "submissions" / f"{run}.csv", dtype=str)
    test = pd.read_csv(folder / "test_users.csv", dtype=str)["viewer_uid"]
    assert sorted(sub["viewer_uid"]) == sorted(test)


def test_integer_ids_stay_integers_and_float_looking_video_ids_match(tmp_path):
    tables = small_tables(n_users=40)
    tables["video_info_v2"]["rutube_video_id"] = np.arange(len(tables["video_info_v2"]))  # 0, 1, ... as integers
    events = tables["train_events"]
    events["rutube_video_id"] = events["rutube_video_id"].str.removeprefix("video_").astype(float)  # 3.0, ...
    contest = load_contest(write_tables(tmp_path / "c", tables, "parquet"))
    assert contest.report["events_unknown_video"] == 0
    assert contest.test_users.dtype == np.int64 and contest.test_users[0] == 100_030


def test_genapon_accepts_text_ids(tmp_path):
    from socdem.models.genapon.runner import GenaponRunner

    folder = write_tables(tmp_path / "c", small_tables(n_users=60, uid=lambda i: f"u{i:05d}"))
    exp = load_experiment("fast")
    exp.models, exp.genapon.epochs, exp.genapon.batch_size = ["genapon"], 1, 16
    ws = Workspace(data_dir=folder, exp=exp, root=tmp_path, log=lambda *_: None)
    train = ws.contest.targets
    (pred,), _ = GenaponRunner().fit_predict(ws, train, [ws.contest.test_users], seed=0)
    assert list(pred.index) == list(ws.contest.test_users) and pred.notna().all().all()


def test_an_edit_that_keeps_size_and_mtime_is_seen(tmp_path):
    import os

    from socdem.io import file_digest

    path, memo = tmp_path / "t.csv", tmp_path / "memo.json"
    path.write_text("a,b\n1,2\n")
    before = file_digest(path, memo)
    stat = path.stat()
    path.write_text("a,b\n1,3\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # touch -r: same size, same mtime
    assert file_digest(path, memo) != before


# ---- must work ----


def test_age_classes_with_one_user_or_none(tmp_path, socdem_home, capsys):
    tables = small_tables()
    targets = tables["train_targets"]
    targets.loc[targets["age_class"] == 3, "age_class"] = 2  # class 3: nobody
    targets.loc[targets.index[targets["age_class"] == 0][1:], "age_class"] = 1  # class 0: one user
    folder = write_tables(tmp_path / "c", tables)
    code, err = _run(capsys, "submit", "--exp", "fast", "--data", str(folder))
    assert code == 0, err[-3:]
    sub = pd.read_csv(socdem_home / "submissions" / "fast.csv")
    assert set(sub["age_class"]) <= {0, 1, 2}


def test_events_of_unknown_videos_only(tmp_path, socdem_home, capsys):
    tables = small_tables()
    tables["video_info_v2"]["rutube_video_id"] = "other_" + tables["video_info_v2"]["rutube_video_id"]
    folder = write_tables(tmp_path / "c", tables)
    assert load_contest(folder).report["events_unknown_video"] == len(tables["train_events"])
    code, err = _run(capsys, "submit", "--exp", "fast", "--data", str(folder))
    assert code == 0, err[-3:]


@pytest.mark.parametrize("block_size", [160, 257, 1000, 1 << 20])
def test_quoted_newlines_wherever_the_blocks_split(tmp_path, monkeypatch, block_size):
    tables = small_tables(n_users=40)
    tables["video_info_v2"]["title"] = [f'line one\nline "two" {k}' for k in range(len(tables["video_info_v2"]))]
    tables["video_info_v2"]["category"] = [f"cat\n{k % 4}" for k in range(len(tables["video_info_v2"]))]
    folder = write_tables(tmp_path / "c", tables)
    monkeypatch.setattr(checks, "CSV_BLOCK_SIZE", block_size)
    videos = load_contest(folder).videos
    assert len(videos) == len(tables["video_info_v2"]) and videos["category"].iloc[1] == "cat\n1"


def test_csv_gz_is_read_like_csv(tmp_path):
    tables = small_tables(n_users=40)
    folder = write_tables(tmp_path / "c", tables)
    plain = load_contest(folder)
    path = folder / "train_events.csv"
    with gzip.open(folder / "train_events.csv.gz", "wb") as fh:
        fh.write(path.read_bytes())
    path.unlink()
    packed = load_contest(folder)
    assert packed.report == plain.report and (packed.events["ts"] == plain.events["ts"]).all()


def test_header_with_stray_spaces_is_accepted(tmp_path):
    folder = write_tables(tmp_path / "c", small_tables(n_users=40))
    path = folder / "test_users.csv"
    path.write_text(path.read_text().replace("viewer_uid", " viewer_uid ", 1))
    assert len(load_contest(folder).test_users) == 10


# ---- must stop with one line ----


def _break(tmp_path, change, fmt="csv"):
    tables = small_tables(n_users=40)
    change(tables)
    return write_tables(tmp_path / "c", tables, fmt)


ONE_LINE = {
    "one sex": (
        lambda t: t["train_targets"].__setitem__("sex", "female"),
        r"train_targets\.csv: column 'sex': only 'female' present",
    ),
    "id too large": (
        lambda t: t["train_events"].__setitem__(
            "viewer_uid", t["train_events"]["viewer_uid"].astype(str).where(lambda s: s.index != 2, "9" * 20)
        ),
        r"train_events\.csv: column 'viewer_uid': 1 id\(s\) too large for a 64-bit integer, e\.g\. '9{20}'",
    ),
    "watch time too large": (
        lambda t: t["train_events"].__setitem__(
            "total_watchtime", t["train_events"]["total_watchtime"].astype(float).where(lambda s: s.index != 2, 1e20)
        ),
        r"train_events\.csv: column 'total_watchtime': 1 value\(s\) too large for a 64-bit integer, e\.g\. 1e\+20",
    ),
    "missing video id": (
        lambda t: t["video_info_v2"].__setitem__(
            "rutube_video_id", t["video_info_v2"]["rutube_video_id"].where(lambda s: s.index > 1)
        ),
        r"video_info_v2\.csv: column 'rutube_video_id': 2 value\(s\) missing",
    ),
}


@pytest.mark.parametrize("case", sorted(ONE_LINE))
def test_bad_folder_stops_with_one_line(tmp_path, socdem_home, capsys, case):
    change, message = ONE_LINE[case]
    folder = _break(tmp_path, change)
    with pytest.raises(ContestError, match=message):
        load_contest(folder)
    code, err = _run(capsys, "train", "--exp", "fast", "--data", str(folder))
    assert code == 2 and err[-1].startswith("error: ") and "np.int64" not in err[-1]


def test_truncated_or_empty_parquet_and_non_utf8_csv(tmp_path, socdem_home, capsys):
    folder = write_tables(tmp_path / "p", small_tables(n_users=40), "parquet")
    path = folder / "train_events.parquet"
    path.write_bytes(path.read_bytes()[:200])
    code, err = _run(capsys, "train", "--exp", "fast", "--data", str(folder))
    assert code == 2 and "train_events.parquet: cannot be read as parquet" in err[-1]
    path.write_bytes(b"")
    code, err = _run(capsys, "train", "--exp", "fast", "--data", str(folder))
    assert code == 2 and "train_events.parquet: cannot be read as parquet" in err[-1]

    tables = small_tables(n_users=40)
    tables["video_info_v2"]["title"] = "Видео"
    folder = write_tables(tmp_path / "c", tables)
    path = folder / "video_info_v2.csv"
    path.write_bytes(path.read_text().encode("cp1251"))
    code, err = _run(capsys, "train", "--exp", "fast", "--data", str(folder))
    assert code == 2 and "video_info_v2.csv: not UTF-8 text" in err[-1]


def test_duplicated_and_late_events_are_counted(tmp_path):
    tables = small_tables(n_users=40)
    events = tables["train_events"]
    late = events.iloc[:2].assign(event_timestamp="2031-01-01 00:00:00+03:00")
    same_second = events.iloc[3:4].assign(total_watchtime=events["total_watchtime"].iloc[3] + 1)  # not a repeat
    tables["train_events"] = pd.concat([events, events.iloc[:3], late, same_second], ignore_index=True)
    report = load_contest(write_tables(tmp_path / "c", tables)).report
    assert report["events_duplicated"] == 3 and report["events_after_period"] == 2


# ---- refused before any work ----


def _experiment(home, name, text):
    (home / "experiments").mkdir(exist_ok=True)
    (home / "experiments" / f"{name}.toml").write_text(text)
    return name


REFUSED = {
    "unknown model": ('models = ["top_class", "nope"]\n', r"unknown 'nope'"),
    "empty linear cs": ("[linear]\ncs = []\n", r"linear\.cs: expected a non-empty list"),
    "n_folds beyond a sex": ("n_folds = 50\n", r"n_folds = 50 is more than the 15 labelled"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_experiment_is_refused_before_any_work(tmp_path, socdem_home, capsys, case):
    text, message = REFUSED[case]
    folder = write_tables(tmp_path / "c", small_tables(n_users=40))
    code, err = _run(capsys, "train", "--exp", _experiment(socdem_home, "bad", text), "--data", str(folder))
    assert code == 2 and len(err) <= 2 and err[-1].startswith("error: ")
    assert re.search(message, err[-1]), err[-1]
    assert not (socdem_home / "artifacts" / "features").exists() and not (socdem_home / "artifacts" / "folds").exists()


def test_bogus_format_and_no_users_are_refused(tmp_path, socdem_home, capsys):
    folder = write_tables(tmp_path / "c", small_tables(n_users=40))
    code, err = _run(capsys, "submit", "--exp", "fast", "--data", str(folder), "--format", "bogus")
    assert code == 2 and err == ["error: submit: FORMAT=bogus; expected one of full, rutube2024, jmlc (or none)"]
    code, err = _run(capsys, "data", "--data", str(tmp_path / "d"), "--users", "0")
    assert code == 2 and len(err) == 1 and "USERS=0" in err[0] and not (tmp_path / "d").exists()


# ---- nothing stale, nothing half-written ----


def test_failed_make_data_leaves_no_folder(tmp_path, socdem_home, capsys, monkeypatch):
    import socdem.__main__ as cli

    def half_then_fail(out, users, seed):
        write_tables(out, {"train_events": small_tables(n_users=4)["train_events"]})
        raise KeyboardInterrupt  # as a Ctrl-C in the middle of writing

    monkeypatch.setitem(cli.FAMILIES, "author_tastes", (half_then_fail, 10))
    with pytest.raises(KeyboardInterrupt):
        main(["data", "--data", str(tmp_path / "raw"), "--users", "10"])
    assert not (tmp_path / "raw").exists() and list(tmp_path.iterdir()) == []


def test_unreadable_cached_artifacts_are_rebuilt(tmp_path, socdem_home, capsys):
    folder = write_tables(tmp_path / "c", small_tables(n_users=60))
    args = ["submit", "--exp", "fast", "--set", BASELINES, "--data", str(folder)]
    run = load_experiment("fast", overrides=BASELINES).run
    assert _run(capsys, "features", *args[1:])[0] == 0 and _run(capsys, *args)[0] == 0
    submission = (socdem_home / "submissions" / f"{run}.csv").read_bytes()
    artifacts = socdem_home / "artifacts"
    broken = [
        *artifacts.glob("features/*/user_features.parquet"),
        *artifacts.glob("folds/*.parquet"),
        *artifacts.glob(f"{run}/models/author_share/fold1.parquet"),
        *artifacts.glob(f"{run}/models/author_share/fold0.json"),
        *artifacts.glob(f"{run}/models/top_class/oof.parquet"),
    ]
    assert len(broken) == 5
    for path in broken:
        path.write_bytes(b"")
    for argv in (["features", *args[1:]], ["train", *args[1:]], args):
        code, err = _run(capsys, *argv)
        assert code == 0, err[-3:]
    assert (socdem_home / "submissions" / f"{run}.csv").read_bytes() == submission
    assert all(path.stat().st_size > 0 for path in broken)


def test_atomic_files_get_the_umask_mode(tmp_path):
    import os

    from socdem.io import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_public_score_outside_the_metric_range_is_refused(tmp_path):
    from socdem.evaluate.leaderboard import LeaderboardError, record_public_score

    with pytest.raises(LeaderboardError, match=r"0\.\.1"):
        record_public_score(tmp_path / "log.csv", "a.csv", "1.5")


def test_make_score_with_spaces_and_without_an_id_column(tmp_path):
    from conftest import make

    folder = tmp_path / "my data"
    folder.mkdir()
    truth = pd.DataFrame({"viewer_uid": ["u1", "u2"], "sex": ["male", "female"], "age_class": [0, 1]})
    truth.to_csv(folder / "truth.csv", index=False)
    truth.assign(female_proba=[0.2, 0.9]).to_csv(folder / "sub file.csv", index=False)
    run = make("score", tmp_path, SUB=folder / "sub file.csv", TRUTH=folder / "truth.csv", DATA=folder)
    assert run.returncode == 0, run.stderr[-2000:]
    truth.drop(columns="viewer_uid").to_csv(folder / "sub file.csv", index=False)
    run = make("score", tmp_path, SUB=folder / "sub file.csv", TRUTH=folder / "truth.csv", DATA=folder)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    first = run.stderr.strip().splitlines()[0]
    assert first.endswith("missing column 'viewer_uid' (or 'viewer_id'); expected the user id beside sex, age_class")
