"""`make eda`: every plot written and non-trivial, eda.json complete, and the warning when
the test users are the heaviest viewers."""

from __future__ import annotations

import json

from conftest import make

from socdem.evaluate.eda.write import JSON_KEYS

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
    assert len(report["adversarial_top_features"]) == 10
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
