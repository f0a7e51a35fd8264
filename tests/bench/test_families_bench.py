"""The families bench on real users: each split a contest of its own, every model beside the plain baseline,
the differences paired by split."""

from __future__ import annotations

import numpy as np
import pytest
from real.test_movielens import fake_wheel

from socdem.bench.families import paired_to_plain, real_markdown, run_real
from socdem.paths import paths


def test_differences_to_the_plain_baseline_are_paired_by_split():
    splits = [
        {"m": {"roc_auc": 0.80, "age_f1_weighted": 0.50}, "plain_tfidf_lr": {"roc_auc": 0.78, "age_f1_weighted": 0.52}},
        {"m": {"roc_auc": 0.70, "age_f1_weighted": 0.40}, "plain_tfidf_lr": {"roc_auc": 0.69, "age_f1_weighted": 0.41}},
        {"m": {"roc_auc": 0.90, "age_f1_weighted": 0.60}, "plain_tfidf_lr": {"roc_auc": 0.87, "age_f1_weighted": 0.63}},
    ]
    out = paired_to_plain(splits)["m"]
    diff = np.array([0.02, 0.01, 0.03])
    assert out["roc_auc"] == pytest.approx(0.8) and out["roc_auc_vs_plain"] == pytest.approx(0.02)
    # paired: the spread between splits (0.70 .. 0.90) does not enter the error, only the differences' spread
    assert out["roc_auc_vs_plain_se"] == pytest.approx(diff.std(ddof=1) / np.sqrt(3), abs=1e-4)
    assert out["age_f1_weighted_vs_plain"] == pytest.approx(-0.02)


def test_a_real_source_runs_on_each_split_beside_the_plain_baseline(socdem_home):
    fake_wheel(paths().wheels)
    result = run_real("movielens-100k", "fast", "", log=lambda m: None, splits=2)
    assert result["splits"] == 2 and len(result["per_split"]) == 2
    first, second = result["per_split"]
    assert set(first) == {"top_class", "author_share", "linear", "blend", "plain_tfidf_lr"}
    assert first["plain_tfidf_lr"] != second["plain_tfidf_lr"]  # other test users on each split
    for scores in result["scores"].values():
        assert 0 <= scores["roc_auc"] <= 1 and "roc_auc_vs_plain_se" in scores
    assert result["scores"]["plain_tfidf_lr"]["roc_auc_vs_plain"] == 0
    table = "\n".join(real_markdown("movielens-100k", result))
    assert "2 random splits" in table and "| linear |" in table
