"""Build, validate and atomically write the submission CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from socdem.contest.checks import examples
from socdem.io import atomic_path, file_digest, write_json_atomic
from socdem.schema import AGE_CLASSES, AGE_COLUMNS

FORMATS = {
    "full": ["viewer_uid", "sex", "age_class", "female_proba"],
    "rutube2024": ["viewer_uid", "sex", "age_class"],
    "jmlc": ["viewer_uid", "sex", "female_proba"],
}
ID_COLUMN = {"jmlc": "viewer_id"}  # the user id's name in the written file, where not viewer_uid


class SubmissionError(ValueError):
    """A submission that must not be written or scored; one line for the user."""


def build_submission(test_pred: pd.DataFrame, threshold: float, columns: list[str]) -> pd.DataFrame:
    sub = pd.DataFrame({"viewer_uid": test_pred.index.to_numpy()})  # written back as the contest wrote them
    if "female_proba" in test_pred:
        proba = test_pred["female_proba"].to_numpy()
        sub["sex"] = np.where(proba >= threshold, "female", "male")
        sub["female_proba"] = proba
    if AGE_COLUMNS[0] in test_pred:
        sub["age_class"] = np.argmax(test_pred[AGE_COLUMNS].to_numpy(), axis=1).astype(np.int64)
    return sub[[c for c in columns if c in sub.columns]]


def validate_submission(sub: pd.DataFrame, expected_uids, columns: list[str], where: str = "submission") -> None:
    missing = [c for c in columns if c not in sub.columns]
    if missing:
        raise SubmissionError(f"{where}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    nan_cols = [c for c in columns if sub[c].isna().any()]
    if nan_cols:
        raise SubmissionError(f"{where}: NaN in column(s) {', '.join(nan_cols)}")
    uids = sub["viewer_uid"].to_numpy()
    dup = pd.Series(uids).duplicated()
    if dup.any():
        raise SubmissionError(
            f"{where}: column 'viewer_uid': {int(dup.sum())} duplicate user(s), e.g. {examples(uids[dup.to_numpy()])}"
        )
    expected = np.asarray(expected_uids)
    extra, absent = np.setdiff1d(uids, expected), np.setdiff1d(expected, uids)
    if len(extra) or len(absent):
        raise SubmissionError(
            f"{where}: column 'viewer_uid': user set differs from the expected one "
            f"({len(absent)} missing, e.g. {examples(absent) or '-'}; "
            f"{len(extra)} unexpected, e.g. {examples(extra) or '-'})"
        )
    if "sex" in columns:
        bad = ~sub["sex"].isin(["male", "female"])
        if bad.any():
            raise SubmissionError(
                f"{where}: column 'sex': values outside male/female, e.g. {examples(sub['sex'][bad])}"
            )
    if "age_class" in columns:
        bad = ~sub["age_class"].isin(AGE_CLASSES)
        if bad.any():
            raise SubmissionError(
                f"{where}: column 'age_class': values outside 0..3, e.g. {examples(sub['age_class'][bad])}"
            )
    if "female_proba" in columns:
        proba = pd.to_numeric(sub["female_proba"], errors="coerce")
        bad = ~proba.between(0.0, 1.0)
        if bad.any():
            raise SubmissionError(
                f"{where}: column 'female_proba': values outside [0, 1], e.g. {examples(sub['female_proba'][bad])}"
            )


def write_submission(
    path: Path,
    sub: pd.DataFrame,
    expected_uids,
    columns: list[str],
    id_column: str = "viewer_uid",
    record: dict | None = None,
    record_path: Path | None = None,
) -> None:
    """Validate and write the CSV. With a `record`, it is written to `record_path` (JSON, with the CSV's
    digest) once the CSV is complete in its temp file, and the CSV is renamed into place last: a reader
    that sees the new CSV sees its own record, and a run killed before that leaves both as they were."""
    validate_submission(sub, expected_uids, columns, where=str(path))
    with atomic_path(path) as tmp:
        out = sub.sort_values("viewer_uid").rename(columns={"viewer_uid": id_column})
        out.to_csv(tmp, index=False, float_format="%.6f")
        if record is not None:
            record["submission_digest"] = file_digest(tmp)
            write_json_atomic(record_path, record)
