"""`make submit EXP=fast` on a tiny synthetic contest (its models trained by `make train`, and once more from
scratch for the byte-for-byte check), then `make score`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import make
from sklearn.metrics import roc_auc_score

from socdem.evaluate.scorer import score_files
from socdem.pipeline.submission import SubmissionError


@pytest.fixture(scope="module")
def submitted(tiny_contest, fast_trained, tmp_path_factory):
    home = tmp_path_factory.mktemp("home") / "home"
    shutil.copytree(fast_trained, home)
    run = make("submit", home, EXP="fast", DATA=tiny_contest)
    assert run.returncode == 0, run.stderr[-3000:]
    return home


def test_submit_writes_a_valid_submission_and_record(submitted, tiny_contest):
    sub = pd.read_csv(submitted / "submissions" / "fast.csv")
    assert list(sub.columns) == ["viewer_uid", "sex", "age_class", "female_proba"]
    test_users = pd.read_parquet(tiny_contest / "test_users.parquet")["viewer_uid"]
    assert sorted(sub["viewer_uid"]) == sorted(test_users)
    assert sub.notna().all().all() and sub["female_proba"].between(0, 1).all()
    record = json.loads((submitted / "submissions" / "fast.json").read_text())
    assert record["submitted"] in record["cv"] and record["data_fingerprint"]
    assert 0.3 < record["adversarial_roc_auc"] < 0.7  # test users drawn like the labelled ones
    for scores in record["cv"].values():
        assert {"f1", "roc_auc", "accuracy", "age_f1_weighted", "rutube2024"} <= set(scores)
    log = pd.read_csv(submitted / "experiments" / "leaderboard.csv")
    assert len(log) >= 1 and (log["experiment"] == "fast").all()
    assert log["adversarial_roc_auc"].iloc[-1] == pytest.approx(record["adversarial_roc_auc"], abs=1e-4)


def test_make_score_accepts_the_submission(submitted, tiny_contest):
    run = make("score", submitted, EXP="fast", DATA=tiny_contest, SUB=submitted / "submissions" / "fast.csv")
    assert run.returncode == 0, run.stderr[-3000:]
    scores = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(scores) == {"f1", "roc_auc", "accuracy", "age_f1_weighted", "rutube2024"}
    assert 0.6 < scores["roc_auc"] <= 1.0
    assert "oracle" in run.stderr


def test_oracle_beats_every_model_on_the_same_users(submitted, tiny_contest):
    posterior = pd.read_parquet(tiny_contest / "oracle" / "posterior.parquet").set_index("viewer_uid")
    targets = pd.read_parquet(tiny_contest / "train_targets.parquet").set_index("viewer_uid")
    models_dir = submitted / "artifacts" / "fast" / "models"
    for model_dir in models_dir.iterdir():
        oof = pd.read_parquet(model_dir / "oof.parquet")
        y = (targets.loc[oof.index, "sex"] == "female").astype(int)
        model_auc = roc_auc_score(y, oof["female_proba"])
        oracle_auc = roc_auc_score(y, posterior.loc[oof.index, "female_proba"])
        assert oracle_auc > model_auc, model_dir.name


def test_submission_is_reproducible_byte_for_byte(submitted, tiny_contest, tmp_path):
    run = make("submit", tmp_path, EXP="fast", DATA=tiny_contest)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "submissions" / "fast.csv").read_bytes() == (submitted / "submissions" / "fast.csv").read_bytes()
    for model_dir in (submitted / "artifacts" / "fast" / "models").iterdir():
        a = pd.read_parquet(model_dir / "oof.parquet")
        b = pd.read_parquet(tmp_path / "artifacts" / "fast" / "models" / model_dir.name / "oof.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_score_rejects_a_partial_submission(submitted, tiny_contest, tmp_path):
    sub = pd.read_csv(submitted / "submissions" / "fast.csv")
    sub.iloc[1:].to_csv(tmp_path / "partial.csv", index=False)
    with pytest.raises(SubmissionError, match="user set differs"):
        score_files(tmp_path / "partial.csv", tiny_contest / "oracle" / "test_truth.csv")
    sub.assign(female_proba=np.where(np.arange(len(sub)) == 0, np.nan, sub["female_proba"])).to_csv(
        tmp_path / "nan.csv", index=False
    )
    with pytest.raises(SubmissionError, match="NaN in column"):
        score_files(tmp_path / "nan.csv", tiny_contest / "oracle" / "test_truth.csv")
