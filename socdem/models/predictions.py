"""Prediction frames: one row per user, `female_proba` and `age_p0..age_p3`."""
from __future__ import annotations

import numpy as np
import pandas as pd

AGE_COLUMNS = [f"age_p{k}" for k in range(4)]


def prediction_frame(uids, female_proba=None, age_proba=None) -> pd.DataFrame:
    frame = pd.DataFrame(index=pd.Index(np.asarray(uids, dtype=np.int64), name="viewer_uid"))
    if female_proba is not None:
        frame["female_proba"] = np.asarray(female_proba, dtype=np.float64)
    if age_proba is not None:
        frame[AGE_COLUMNS] = np.asarray(age_proba, dtype=np.float64)
    return frame


def target_column(name: str) -> str:
    return "female" if name == "sex" else name
