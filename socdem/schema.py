"""The shared schema: the targets, their classes and the prediction frame.

A prediction frame has one row per user (indexed by viewer_uid) with
`female_proba` (P(sex = female)) and `age_p0..age_p3` (P(age_class = k));
a sex-only contest (JMLC) has no age columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEX_VALUES = ("male", "female")
AGE_CLASSES = (0, 1, 2, 3)  # age (9,20] -> 0, (20,30] -> 1, (30,40] -> 2, (40,60] -> 3
AGE_COLUMNS = [f"age_p{k}" for k in AGE_CLASSES]
TARGET_CLASSES = {"sex": (0, 1), "age_class": AGE_CLASSES}  # sex: 1 = female, the positive class
PRIMARY_METRIC = {"jmlc": "roc_auc", "rutube2024": "rutube2024"}  # what ranks models and submissions
# the events table as the Rutube-2024 layout stores it (docs/data-contract.md), synthetic contests included
EVENT_TEXT_COLUMNS = ["region", "ua_device_type", "ua_client_type", "ua_os", "ua_client_name"]
EVENT_COLUMNS = ["event_timestamp", "viewer_uid", "rutube_video_id", "total_watchtime", *EVENT_TEXT_COLUMNS]
# Contest.events of every layout: the timestamp read into `ts` (int64 seconds since the epoch, UTC)
LOADED_EVENT_COLUMNS = [*EVENT_COLUMNS[1:], "ts"]


def target_column(name: str) -> str:
    """The column of the targets table a target is read from."""
    return "female" if name == "sex" else name


def prediction_frame(uids, female_proba=None, age_proba=None) -> pd.DataFrame:
    # ids as the contest holds them: int64, or text (never cast: "000123" is not 123)
    frame = pd.DataFrame(index=pd.Index(np.asarray(uids), name="viewer_uid"))
    if female_proba is not None:
        frame["female_proba"] = np.asarray(female_proba, dtype=np.float64)
    if age_proba is not None:
        frame[AGE_COLUMNS] = np.asarray(age_proba, dtype=np.float64)
    return frame


def frame_from_probas(uids, probas: dict) -> pd.DataFrame:
    """A prediction frame from {target: (n, n_classes) probabilities over TARGET_CLASSES[target]}."""
    female = probas["sex"][:, 1] if "sex" in probas else None
    return prediction_frame(uids, female, probas.get("age_class"))
