"""The leaderboard log: one row per submission and model, `make lb` round trip, older and wider
logs, reruns as one row, the data filter, per-model rows, correlation."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from conftest import make

from socdem.evaluate import provenance
from socdem.evaluate.leaderboard import (
    COLUMNS,
    LeaderboardEntry,
    LeaderboardError,
    append_entry,
    format_table,
    read_log,
    record_public_score,
    submissions,
)

CV = {
    "author_share": {"roc_auc": 0.79, "f1": 0.62, "age_f1_weighted": 0.40, "rutube2024": 0.49},
    "linear": {"roc_auc": 0.82, "f1": 0.65, "age_f1_weighted": 0.54, "rutube2024": 0.61},
    "blend": {"roc_auc": 0.83, "f1": 0.66, "age_f1_weighted": 0.55, "rutube2024": 0.62, "accuracy": 0.78},
}


def add(path, sub, auc=0.83):
    cv = {**CV, "blend": {**CV["blend"], "roc_auc": auc, "rutube2024": auc - 0.2}}
    entry = LeaderboardEntry("default", "fp", "blend", cv, "linear", sub, blend="sex=stack(linear)", threshold=0.5)
    return append_entry(path, entry)


def test_make_lb_round_trip(tmp_path):
    log = tmp_path / "experiments" / "leaderboard.csv"
    sub = tmp_path / "submissions" / "default.csv"
    add(log, sub, auc=0.80)
    add(log, tmp_path / "submissions" / "other.csv", auc=0.81)
    add(log, sub, auc=0.83)  # a later submission to the same path
    run = make("lb", tmp_path, SUB=sub, SCORE="0.6123")
    assert run.returncode == 0, run.stderr
    rows = submissions(read_log(log))
    assert rows["public_score"].isna().tolist() == [True, True, False]
    assert rows["public_score"].iloc[2] == pytest.approx(0.6123) and rows["public_at"].notna().iloc[2]
    shown = make("leaderboard", tmp_path)
    assert shown.returncode == 0 and "0.6123" in shown.stdout and "linear 0.6100" in shown.stdout
    missing = make("lb", tmp_path, SUB=tmp_path / "nope.csv", SCORE="0.5")
    assert missing.returncode == 2 and "no row for" in missing.stderr
    no_score = make("lb", tmp_path, SUB=sub)
    assert no_score.returncode == 2 and "SCORE" in no_score.stderr


def test_relative_submission_path_matches_from_home(tmp_path):
    log = tmp_path / "leaderboard.csv"
    add(log, "submissions/default.csv")
    row = record_public_score(log, "submissions/default.csv", "0.7", base=tmp_path)
    assert float(row["public_score"]) == 0.7
    with pytest.raises(LeaderboardError, match="must be a number"):
        record_public_score(log, "submissions/default.csv", "high", base=tmp_path)


def test_older_log_without_the_last_columns_is_extended(tmp_path):
    log = tmp_path / "leaderboard.csv"
    old_columns = COLUMNS[:13]
    with open(log, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=old_columns)
        writer.writeheader()
        writer.writerow(
            {c: "" for c in old_columns}
            | {
                "timestamp": "2024-01-01T00:00:00Z",
                "experiment": "old",
                "roc_auc": "0.7",
                "submission": "submissions/old.csv",
            }
        )
    assert list(read_log(log).columns) == COLUMNS  # read tolerates the missing columns
    add(log, tmp_path / "new.csv")
    with open(log, newline="") as fh:
        header = next(csv.reader(fh))
    assert header == COLUMNS
    rows = submissions(read_log(log))
    assert rows["experiment"].tolist() == ["old", "default"] and rows["blend"].iloc[1] == "sex=stack(linear)"


def test_foreign_columns_and_non_submission_rows_survive(tmp_path):
    """Another stage may add columns at the end and rows without a submission."""
    log = tmp_path / "leaderboard.csv"
    add(log, tmp_path / "a.csv")
    frame = pd.read_csv(log, dtype=str, keep_default_na=False)
    frame["kind"] = "submit"
    extra = {c: "" for c in frame.columns} | {
        "timestamp": "2024-01-02T00:00:00Z",
        "experiment": "default",
        "kind": "train",
    }
    pd.concat([frame, pd.DataFrame([extra])]).to_csv(log, index=False)
    add(log, tmp_path / "b.csv")
    record_public_score(log, tmp_path / "a.csv", 0.5)
    frame = pd.read_csv(log, dtype=str, keep_default_na=False)
    assert list(frame.columns) == COLUMNS + ["kind"]
    assert frame["kind"].tolist() == ["submit"] * 3 + ["train"] + [""] * 3  # a.csv and b.csv: blend + 2 models
    table = format_table(read_log(log))
    assert len(table.splitlines()) == 4  # title + header + the two submissions, not the train row


def test_correlation_needs_three_public_scores(tmp_path):
    log = tmp_path / "leaderboard.csv"
    for i, auc in enumerate((0.80, 0.82, 0.85)):
        add(log, tmp_path / f"s{i}.csv", auc=auc)
    record_public_score(log, tmp_path / "s0.csv", 0.60)
    record_public_score(log, tmp_path / "s1.csv", 0.61)
    assert "correlation" not in format_table(read_log(log))
    record_public_score(log, tmp_path / "s2.csv", 0.65)
    table = format_table(read_log(log))
    assert "correlation" in table and "Pearson +" in table


OLD_HEADER = COLUMNS[:16]  # the log before it had a row per model: every model packed in `models`


def write_old_log(path):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=OLD_HEADER)
        writer.writeheader()
        writer.writerow(
            {c: "" for c in OLD_HEADER}
            | {
                "timestamp": "2024-01-01T00:00:00Z",
                "experiment": "old",
                "data": "fp",
                "submitted": "blend",
                "roc_auc": "0.7100",
                "rutube2024": "0.5000",
                "best_single": "linear",
                "models": "top_class:0.5000/0.4800/0.1700;linear:0.7000/0.6000/0.4000;blend:0.7100/0.6100/0.4100",
                "submission": "submissions/old.csv",
                "blend": "sex=stack(linear)",
            }
        )


def test_old_format_log_with_packed_models_is_read(tmp_path):
    log = tmp_path / "leaderboard.csv"
    write_old_log(log)
    table = format_table(read_log(log))
    assert "old" in table and "0.5000" in table and "linear" in table  # pooled score; no mean±std to show
    assert "0.7000" not in table  # the packed string is never parsed
    add(log, tmp_path / "new.csv")
    rows = read_log(log)
    assert list(rows.columns) == COLUMNS and rows["models"].iloc[0].startswith("top_class:")
    assert submissions(rows)["experiment"].tolist() == ["old", "default"]
    assert record_public_score(log, "submissions/old.csv", 0.7, base=tmp_path)["experiment"] == "old"


def entry(path, run="default", data="fp", config=None, cv=CV, sub=None):
    folds = {name: {m: [v - 0.01, v, v + 0.01] for m, v in scores.items()} for name, scores in cv.items()}
    return append_entry(path, LeaderboardEntry(
        "default", data, "blend", cv, "linear", sub or f"submissions/{run}.csv", run=run,
        overrides="" if run == "default" else "linear.max_iter=200", data_dir="raw", users=1000,
        config=config or {"run": run}, metric="rutube2024", cv_folds=folds, seconds={"linear": 3.0, "blend": 1.0},
    ))  # fmt: skip


def test_one_row_per_submission_and_model_and_reruns_are_one_row(tmp_path):
    log = tmp_path / "leaderboard.csv"
    entry(log)
    frame = read_log(log)
    assert frame["model"].tolist() == ["blend", "author_share", "linear"]
    assert (frame["submission"] == "submissions/default.csv").all() and frame["models"].isna().all()
    blend = frame.iloc[0]
    assert blend["rutube2024_mean"] == pytest.approx(0.62) and blend["rutube2024_std"] == pytest.approx(0.01)
    assert blend["gain"] == pytest.approx(0.01) and blend["best_score"] == pytest.approx(0.61)
    assert blend["seconds"] == pytest.approx(4.0) and blend["users"] == 1000
    record_public_score(log, "submissions/default.csv", 0.6, base=tmp_path)
    entry(log)  # a rerun: same run, data, code and config
    frame = read_log(log)
    assert len(frame) == 3 and submissions(frame)["public_score"].tolist() == [0.6]  # the public score is kept
    entry(log, config={"run": "default", "seed": 1})  # another config: another row
    assert len(submissions(read_log(log))) == 2


@pytest.fixture
def unpacked_archive(tmp_path, monkeypatch):
    """The code as an unpacked archive: no git, a few files under the code paths."""
    root = tmp_path / "archive"
    for name, text in (("socdem/model.py", "C = 1\n"), ("experiments/default.toml", ""), ("Makefile", "all:\n")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.setattr(provenance, "REPO", root)
    monkeypatch.setattr(provenance, "_git", lambda *args: None)
    provenance.code_state.cache_clear()
    yield root
    provenance.code_state.cache_clear()


def test_outside_git_the_code_is_its_files_and_a_rerun_is_one_row(unpacked_archive, tmp_path):
    state = provenance.code_state()
    assert state["code"] == "" and state["dirty"] is None and state["code_id"].startswith("files-")
    (unpacked_archive / "socdem" / "__pycache__").mkdir()
    (unpacked_archive / "socdem" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"compiled")
    provenance.code_state.cache_clear()
    assert provenance.code_state() == state  # a compiled cache is not the code
    log = tmp_path / "leaderboard.csv"
    entry(log)
    entry(log)  # a rerun of the same files
    assert len(submissions(read_log(log))) == 1
    (unpacked_archive / "socdem" / "model.py").write_text("C = 2\n")
    provenance.code_state.cache_clear()
    assert provenance.code_state()["code_id"] != state["code_id"]
    entry(log)  # edited code: a row of its own
    assert len(submissions(read_log(log))) == 2


def test_table_shows_mean_std_filters_data_and_models(tmp_path):
    log = tmp_path / "leaderboard.csv"
    entry(log, data="aaaa1111")
    entry(log, run="default-1a2b3c4d", data="bbbb2222")
    latest = format_table(read_log(log))
    assert "linear.max_iter=200" in latest and "0.6200±0.0100" in latest and "+0.0100" in latest
    assert "bbbb22" in latest and "aaaa11" not in latest  # default: the latest row's data
    first = format_table(read_log(log), data=["aaaa1111"])
    assert "aaaa11" in first and "bbbb22" not in first
    assert len(format_table(read_log(log), data="all").splitlines()) == 4
    per_model = format_table(read_log(log), models="1")
    assert all(name in per_model for name in ("blend", "linear", "author_share"))
    only = format_table(read_log(log), models="linear")
    assert "linear" in only and "author_share" not in only


def test_adversarial_roc_auc_column_and_flag(tmp_path):
    log = tmp_path / "leaderboard.csv"
    add(log, tmp_path / "a.csv")
    assert "adversarial ROC-AUC" not in format_table(read_log(log))  # an older row: no figure, no flag
    cv = {**CV, "blend": {**CV["blend"], "roc_auc": 0.9}}
    append_entry(
        log, LeaderboardEntry("default", "fp", "blend", cv, "linear", tmp_path / "b.csv", adversarial_roc_auc=0.85)
    )
    table = format_table(read_log(log))
    assert "adv_auc" in table and "0.850!" in table and "local CV may not track the public score" in table
    assert read_log(log)["adversarial_roc_auc"].iloc[-1] == pytest.approx(0.85)
