"""Folders as real tools write them (issue 28): ids with spaces around them, tables stored as folders of parquet
parts, the events under their second name, and CSVs written with another separator. Each case is a small folder
built in the test, read the same as the plain folder it was made from."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from small_contest import BASELINES, small_tables, write_tables

from socdem.__main__ import main
from socdem.config import load_experiment
from socdem.contest import ContestError, contest_files, load_contest
from socdem.features.workspace import Workspace
from socdem.io import data_fingerprint, file_digest


def _same_contest(a, b) -> None:
    pd.testing.assert_frame_equal(a.events.reset_index(drop=True), b.events.reset_index(drop=True))
    pd.testing.assert_frame_equal(a.targets, b.targets)
    np.testing.assert_array_equal(a.test_users, b.test_users)
    assert a.report == b.report


def _padded(ids: pd.Series) -> pd.Series:
    return " " + ids.astype(str) + " \t"


@pytest.mark.parametrize("stream", [False, True], ids=["pandas", "streamed"])
def test_spaces_around_ids_are_not_part_of_them(tmp_path, stream):
    tables = small_tables(n_users=40)
    plain = load_contest(write_tables(tmp_path / "plain", tables, "parquet"), stream=stream, work_dir=tmp_path)
    for name, column in [("train_events", "viewer_uid"), ("train_targets", "viewer_uid"), ("test_users", "viewer_uid")]:
        tables[name][column] = _padded(tables[name][column])
    tables["train_events"]["rutube_video_id"] = _padded(tables["train_events"]["rutube_video_id"])
    padded = load_contest(write_tables(tmp_path / "padded", tables, "parquet"), stream=stream, work_dir=tmp_path)
    _same_contest(plain, padded)
    assert padded.test_users.dtype == np.int64 and padded.report["labelled_users_without_events"] == 0


def test_spaces_around_ids_in_a_csv_give_the_plain_ids_back(tmp_path):
    tables = small_tables(n_users=40)
    plain = load_contest(write_tables(tmp_path / "plain", tables))
    tables["train_targets"]["viewer_uid"] = _padded(tables["train_targets"]["viewer_uid"])
    tables["test_users"]["viewer_uid"] = _padded(tables["test_users"]["viewer_uid"])
    _same_contest(plain, load_contest(write_tables(tmp_path / "padded", tables)))


@pytest.mark.parametrize("table", ["train_targets", "test_users"])
def test_a_table_whose_users_have_no_event_stops_naming_both_sides(tmp_path, socdem_home, capsys, table):
    tables = small_tables(n_users=40)
    tables[table]["viewer_uid"] = "x" + tables[table]["viewer_uid"].astype(str)
    folder = write_tables(tmp_path / "c", tables)
    with pytest.raises(ContestError, match=rf"{table}\.csv: column 'viewer_uid': none of its \d+ users has an event"):
        load_contest(folder)
    assert main(["features", "--exp", "fast", "--data", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "'x100" in err and "'100" in err and "train_events.csv" in err


def test_most_users_unmatched_is_a_warning_before_training_and_in_the_record(tmp_path, socdem_home, capsys):
    tables = small_tables(n_users=80)
    extra = pd.DataFrame({"viewer_uid": np.arange(900_000, 900_100)})  # listed, never seen in the events
    tables["test_users"] = pd.concat([tables["test_users"], extra], ignore_index=True)
    folder = write_tables(tmp_path / "c", tables)
    assert main(["submit", "--exp", "fast", "--data", str(folder), "--set", BASELINES]) == 0
    out = capsys.readouterr()
    lines = (out.out + out.err).splitlines()
    warning = next(i for i, line in enumerate(lines) if "WARNING" in line and "test_users.csv" in line)
    assert "100 of its 120 users have no event in train_events.csv" in lines[warning]
    assert warning < next(i for i, line in enumerate(lines) if line.startswith("train"))
    run = load_experiment("fast", overrides=BASELINES).run
    record = json.loads((socdem_home / "submissions" / f"{run}.json").read_text())
    assert record["data_warnings"] == [lines[warning].split("WARNING: ", 1)[1]]
    assert record["submission_digest"] == file_digest(socdem_home / "submissions" / f"{run}.csv")


def _parts(folder, name: str, frame: pd.DataFrame, layout: str) -> None:
    """`frame` written as the table `name` of `folder` in three parts, as Spark, pandas or Hive would."""
    if layout == "hive":
        frame.assign(month=np.arange(len(frame)) % 3).to_parquet(folder / name, partition_cols=["month"], index=False)
        return
    target = folder / (f"{name}.parquet" if layout == "spark" else name)
    target.mkdir(parents=True)
    for k, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        stem = f"part-{k:05d}-c000.snappy.parquet" if layout == "spark" else f"part-{k}.parquet"
        frame.iloc[part].to_parquet(target / stem, index=False)
    if layout == "spark":
        (target / "_SUCCESS").write_text("")
        (target / ".part-00000-c000.snappy.parquet.crc").write_bytes(b"\0")


@pytest.mark.parametrize("stream", [False, True], ids=["pandas", "streamed"])
@pytest.mark.parametrize("layout", ["pandas", "spark", "hive"])
def test_a_table_stored_as_parquet_parts_reads_as_one_table(tmp_path, layout, stream):
    tables = small_tables(n_users=40)
    plain = load_contest(write_tables(tmp_path / "plain", tables, "parquet"), stream=stream, work_dir=tmp_path)
    folder = write_tables(tmp_path / "parts", {k: v for k, v in tables.items() if k != "train_events"}, "parquet")
    _parts(folder, "train_events", tables["train_events"], layout)
    parted = load_contest(folder, stream=stream, work_dir=tmp_path)
    events = parted.events.drop(columns=["month"], errors="ignore")
    if layout == "hive":  # partitions come back grouped by their key: same events, another order
        events = events.sort_values(["viewer_uid", "ts", "rutube_video_id"], kind="mergesort")
        expected = plain.events.sort_values(["viewer_uid", "ts", "rutube_video_id"], kind="mergesort")
        pd.testing.assert_frame_equal(events.reset_index(drop=True), expected.reset_index(drop=True))
        assert parted.events["month"].astype(int).isin([0, 1, 2]).all()
    else:
        _same_contest(plain, parted)


def test_a_part_edited_changes_the_fingerprint(tmp_path):
    tables = small_tables(n_users=40)
    folder = write_tables(tmp_path / "c", {k: v for k, v in tables.items() if k != "train_events"}, "parquet")
    _parts(folder, "train_events", tables["train_events"], "pandas")
    before = data_fingerprint(contest_files(folder))
    tables["train_events"].iloc[-5:].to_parquet(folder / "train_events" / "part-2.parquet", index=False)
    assert data_fingerprint(contest_files(folder)) != before


def test_a_folder_without_parquet_files_is_refused(tmp_path):
    folder = write_tables(tmp_path / "c", small_tables(n_users=40))
    (folder / "train_targets.csv").unlink()
    (folder / "train_targets").mkdir()
    (folder / "train_targets" / "notes.txt").write_text("x")
    with pytest.raises(ContestError, match=r"train_targets: a folder without parquet files"):
        load_contest(folder)


@pytest.mark.parametrize("stream", [False, True], ids=["pandas", "streamed"])
def test_events_parquet_is_the_events_table_of_the_rutube_layout(tmp_path, stream):
    tables = small_tables(n_users=40)
    plain = load_contest(write_tables(tmp_path / "plain", tables, "parquet"), stream=stream, work_dir=tmp_path)
    renamed = write_tables(
        tmp_path / "renamed", {("events" if k == "train_events" else k): v for k, v in tables.items()}, "parquet"
    )
    contest = load_contest(renamed, stream=stream, work_dir=tmp_path)
    _same_contest(plain, contest)
    assert (renamed / "events.parquet") in contest.files
    tables["train_events"].to_parquet(renamed / "train_events.parquet", index=False)
    with pytest.raises(ContestError, match=r"the events table is given twice"):
        load_contest(renamed)


@pytest.mark.parametrize(("sep", "name"), [("\t", "tab"), (";", "semicolon")])
def test_a_csv_with_another_separator_names_it(tmp_path, sep, name):
    folder = write_tables(tmp_path / "c", small_tables(n_users=40))
    targets = pd.read_csv(folder / "train_targets.csv")
    targets.to_csv(folder / "train_targets.csv", sep=sep, index=False)
    with pytest.raises(ContestError, match=rf"train_targets\.csv: the header looks {name}-separated .*expected comma"):
        load_contest(folder)


def test_workspace_logs_the_warning_once(tmp_path):
    tables = small_tables(n_users=40)
    targets = tables["train_targets"]
    unseen = targets.assign(viewer_uid=targets["viewer_uid"] + 500_000)  # labelled, never seen in the events
    tables["train_targets"] = pd.concat([targets, unseen, unseen.assign(viewer_uid=unseen["viewer_uid"] + 1_000)])
    lines = []
    ws = Workspace(
        data_dir=write_tables(tmp_path / "c", tables), exp=load_experiment("fast"), root=tmp_path, log=lines.append
    )
    assert ws.contest.warnings and sum("WARNING" in line for line in lines) == 1


def test_a_run_killed_between_its_scores_and_its_files_leaves_the_last_pair_in_step(tmp_path, socdem_home, monkeypatch):
    first, second = small_tables(n_users=80), small_tables(n_users=80, seed=1)
    submit = ["submit", "--exp", "fast", "--set", BASELINES, "--data"]
    assert main([*submit, str(write_tables(tmp_path / "a", first))]) == 0
    run = load_experiment("fast", overrides=BASELINES).run
    csv, record = socdem_home / "submissions" / f"{run}.csv", socdem_home / "submissions" / f"{run}.json"
    before = csv.read_bytes(), record.read_bytes()

    def killed(ws):  # the step between the blend and the files, where the old order had written the CSV already
        raise KeyboardInterrupt("kill -9")

    monkeypatch.setattr("socdem.pipeline.submit.adversarial_validation", killed)
    with pytest.raises(KeyboardInterrupt):
        main([*submit, str(write_tables(tmp_path / "b", second))])
    assert (csv.read_bytes(), record.read_bytes()) == before
    assert json.loads(before[1])["submission_digest"] == file_digest(csv)
