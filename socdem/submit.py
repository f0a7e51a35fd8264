"""`make submit`: pick the predictions, choose the threshold out of fold,
write submissions/<EXP>.csv and .json, append the leaderboard log."""
from __future__ import annotations

from datetime import datetime, timezone

from socdem.leaderboard import append_entry
from socdem.io import write_json_atomic
from socdem.metrics import best_accuracy_threshold, best_f1_threshold
from socdem.scoring import primary_metric
from socdem.submission import FORMATS, ID_COLUMN, build_submission, write_submission
from socdem.training import load_predictions


def choose_threshold(ws, oof) -> float:
    """From out-of-fold predictions only: F1-best for JMLC (scored by F1),
    accuracy-best for Rutube 2024 (scored by accuracy of sex)."""
    y = ws.contest.targets.set_index("viewer_uid").loc[oof.index, "female"].to_numpy()
    p = oof["female_proba"].to_numpy()
    return best_f1_threshold(y, p)[0] if ws.exp.contest == "jmlc" else best_accuracy_threshold(y, p)


def submit(ws, fmt: str | None = None) -> dict:
    metric = primary_metric(ws.exp)
    results = {name: load_predictions(ws, name) for name in ws.exp.models}
    cv = {name: scores for name, (_, _, scores) in results.items()}
    best = max(cv, key=lambda name: cv[name][metric])
    oof, test, _ = results[best]
    threshold = choose_threshold(ws, oof)
    fmt = fmt or ("jmlc" if ws.exp.contest == "jmlc" else "full")
    columns = FORMATS[fmt]
    sub = build_submission(test.loc[ws.contest.test_users], threshold, columns)
    csv_path = ws.submissions / f"{ws.exp.name}.csv"
    write_submission(csv_path, sub, ws.contest.test_users, columns, ID_COLUMN.get(fmt, "viewer_uid"))
    record = {
        "experiment": ws.exp.name, "config": ws.exp.to_dict(), "data_fingerprint": ws.data_fp,
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "submitted": best, "ranked_by": metric, "threshold": threshold, "format": fmt, "cv": cv,
    }
    write_json_atomic(ws.submissions / f"{ws.exp.name}.json", record)
    append_entry(ws.leaderboard_path, ws.exp.name, ws.data_fp, best, cv, best, csv_path)
    ws.log(f"submit: {csv_path} from {best} (CV {metric}={cv[best][metric]:.4f}, threshold {threshold:.4f})")
    return record
