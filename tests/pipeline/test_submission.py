from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socdem.pipeline.submission import FORMATS, SubmissionError, build_submission, write_submission
from socdem.schema import prediction_frame


def _pred(n=5):
    rng = np.random.default_rng(1)
    return prediction_frame(np.arange(n) + 100, rng.random(n), rng.dirichlet(np.ones(4), n))


def test_build_submission_thresholds_and_argmax():
    pred = _pred()
    sub = build_submission(pred, threshold=0.5, columns=FORMATS["full"])
    assert list(sub.columns) == FORMATS["full"]
    assert (sub["sex"] == np.where(pred["female_proba"] >= 0.5, "female", "male")).all()
    assert (sub["age_class"] == np.argmax(pred.filter(like="age_p").to_numpy(), axis=1)).all()
    assert list(build_submission(pred, 0.5, FORMATS["rutube2024"]).columns) == ["viewer_uid", "sex", "age_class"]


@pytest.mark.parametrize(
    "breaker, message",
    [
        (lambda s: s.iloc[1:], "1 missing"),
        (lambda s: s.assign(female_proba=1.5), "outside \\[0, 1\\]"),
        (lambda s: s.assign(age_class=s["age_class"].astype(float).where(s.index != 0, np.nan)), "NaN in column"),
        (lambda s: s.assign(sex="other"), "outside male/female"),
    ],
)
def test_invalid_submission_is_not_written(tmp_path, breaker, message):
    sub = build_submission(_pred(), 0.5, FORMATS["full"])
    path = tmp_path / "sub.csv"
    with pytest.raises(SubmissionError, match=message):
        write_submission(path, breaker(sub), np.arange(5) + 100, FORMATS["full"])
    assert not path.exists() and not list(tmp_path.iterdir())


def test_written_submission_reads_back(tmp_path):
    sub = build_submission(_pred(), 0.5, FORMATS["full"])
    write_submission(tmp_path / "sub.csv", sub, np.arange(5) + 100, FORMATS["full"])
    back = pd.read_csv(tmp_path / "sub.csv")
    assert list(back["viewer_uid"]) == list(range(100, 105))
