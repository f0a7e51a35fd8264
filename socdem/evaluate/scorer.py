"""`make score`: score a submission file against a truth file, and show the
oracle's scores on the same users when the truth comes from the synthetic contest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from socdem.contest.checks import ContestError, opaque_ids, read_table
from socdem.metrics import best_f1_threshold, contest_scores
from socdem.pipeline.submission import SubmissionError, validate_submission
from socdem.schema import AGE_COLUMNS


def _read(path: Path, what: str) -> pd.DataFrame:
    """The file with its user ids (viewer_uid, or JMLC's viewer_id) read as the contest loader reads them."""
    if not Path(path).exists():
        raise SubmissionError(f"{path}: no such {what} file")
    try:
        table = read_table(Path(path), ["viewer_uid", "viewer_id"]).rename(columns={"viewer_id": "viewer_uid"})
        if "viewer_uid" not in table.columns:
            raise SubmissionError(
                f"{path}: missing column 'viewer_uid' (or 'viewer_id'); expected the user id beside sex, age_class"
            )
        table["viewer_uid"] = opaque_ids(table["viewer_uid"], Path(path), "viewer_uid")
    except ContestError as exc:
        raise SubmissionError(str(exc)) from None
    return table


def score_files(sub_path: Path, truth_path: Path) -> dict:
    sub = _read(sub_path, "submission")
    truth = _read(truth_path, "truth")
    if "sex" not in truth.columns:
        raise SubmissionError(f"{truth_path}: missing column 'sex'; expected viewer_uid, sex, age_class")
    if sub["viewer_uid"].dtype != truth["viewer_uid"].dtype:  # text ids in one file: compare both as text
        sub["viewer_uid"], truth["viewer_uid"] = sub["viewer_uid"].astype(str), truth["viewer_uid"].astype(str)
    columns = [c for c in ("viewer_uid", "sex", "age_class", "female_proba") if c in sub.columns]
    if "sex" not in columns and "age_class" not in columns:
        raise SubmissionError(f"{sub_path}: neither 'sex' nor 'age_class' column; nothing to score")
    validate_submission(sub, truth["viewer_uid"].to_numpy(), columns, where=str(sub_path))
    merged = truth.merge(sub, on="viewer_uid", suffixes=("_true", ""))
    has_sex, has_age = "sex" in columns, "age_class" in columns and "age_class" in truth.columns
    y_female = (merged["sex_true"] == "female").astype(int).to_numpy() if has_sex else None
    predicted = (merged["sex"] == "female").astype(float).to_numpy() if has_sex else None
    age = (merged["age_class_true"].to_numpy(), merged["age_class"].to_numpy()) if has_age else (None, None)
    scores = contest_scores(y_female, predicted, *age, threshold=0.5)  # F1 and accuracy of the submitted labels
    scores["roc_auc"] = (
        roc_auc_score(y_female, merged["female_proba"]) if has_sex and "female_proba" in columns else None
    )
    if "age_class" not in columns:  # a sex-only (JMLC) submission is scored by F1 and ROC-AUC
        return {k: scores.get(k) for k in ("f1", "roc_auc")}
    return {k: scores.get(k) for k in ("f1", "roc_auc", "accuracy", "age_f1_weighted", "rutube2024")}


def oracle_scores(posterior_path: Path, truth_path: Path) -> dict | None:
    """The Bayes oracle on the truth's users: F1 at its best threshold and at 0.5."""
    if not Path(posterior_path).exists():
        return None
    truth = read_table(Path(truth_path))
    post = pd.read_parquet(posterior_path).set_index("viewer_uid").loc[truth["viewer_uid"]]
    y = (truth["sex"] == "female").astype(int).to_numpy()
    p = post["female_proba"].to_numpy()
    scores = contest_scores(y, p, truth["age_class"].to_numpy(), np.argmax(post[AGE_COLUMNS].to_numpy(), axis=1))
    scores["f1_at_0.5"] = scores["f1"]
    scores["f1"] = best_f1_threshold(y, p)[1]
    return scores


def side_by_side(sub_scores: dict, oracle: dict | None) -> str:
    lines = [f"{'metric':<18}{'submission':>12}{'oracle':>12}"]
    for key in sub_scores:
        value = sub_scores.get(key)
        ref = None if oracle is None else oracle.get(key)
        lines.append(f"{key:<18}{'' if value is None else f'{value:.4f}':>12}{'' if ref is None else f'{ref:.4f}':>12}")
    return "\n".join(lines)
