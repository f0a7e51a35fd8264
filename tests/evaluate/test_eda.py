"""`make eda`: every plot written and non-trivial, eda.json complete, and the warning when
the test users are the heaviest viewers."""

from __future__ import annotations

import json

import pandas as pd
from conftest import make

from socdem.evaluate.eda.write import JSON_KEYS, summary

PNG = b"\x89PNG\r\n\x1a\n"
PLOTS = {
    "users.png",
    "events_per_user.png",
    "class_balance.png",
    "watch.png",
    "time.png",
    "categories_sex.png",
    "authors_sex.png",
    "devices.png",
    "regions.png",
    "adversarial.png",
}


def strict_json(constant):
    raise AssertionError(f"eda.json holds {constant}, which strict JSON does not allow")


def test_make_eda_on_heaviest_viewers_as_test(heavy_contest, tmp_path):
    run = make("eda", tmp_path, EXP="fast", DATA=heavy_contest)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "eda: WARNING: adversarial ROC-AUC" in run.stderr and "may not track the public score" in run.stderr
    (out,) = (tmp_path / "reports" / "eda").iterdir()
    assert out.name.startswith("raw-")
    report = json.loads((out / "eda.json").read_text(), parse_constant=strict_json)
    assert set(JSON_KEYS) <= set(report)
    assert report["adversarial_roc_auc"] > 0.8 and report["adversarial_warning"]
    assert len(report["adversarial_top_features"]) == 10 and report["adversarial_note"] is None
    assert set(report["plots"]) == PLOTS
    for name in PLOTS:
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, name
    summary = (out / "summary.md").read_text()
    assert all(f"]({name})" in summary for name in PLOTS) and "**Warning:**" in summary
    assert report["overview"]["test_users"] == report["data_quality"]["test_users"] > 0
    assert report["categories_by_sex"] and all(
        c["viewers"] >= report["min_viewers"] for c in report["categories_by_sex"]
    )


def test_summary_says_why_no_feature_is_ranked():
    """The adversarial result's own note, not a copy of its text, explains an empty ranking."""
    quantiles = {"users": 0}
    report = {
        "data": "raw",
        "data_fingerprint": "f",
        "layout": "rutube2024",
        "overview": {"labelled_users": 4, "labelled_users_without_events": 0, "test_users": 2}
        | {"test_users_without_events": 0, "events": 9, "videos": 3, "authors": 2, "categories": 1},
        "data_quality": {"events": 9},
        "events_per_user": {"labelled": quantiles, "test": quantiles},
        "adversarial_roc_auc": 0.5,
        "adversarial_warning": None,
        "adversarial_top_features": [],
        "adversarial_note": "no feature ranked: the reason given by the check",
        "min_viewers": 1,
        "overall_female_share": 0.5,
    }
    empty = pd.DataFrame({"side": [], "female_share": [], "viewers": []})
    text = summary(report, {}, empty, empty, {})
    assert "No feature ranked: the reason given by the check." in text
    assert "No feature" not in summary(report | {"adversarial_note": None}, {}, empty, empty, {})
