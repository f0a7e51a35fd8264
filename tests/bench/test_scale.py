"""`make bench SCALE=1` (bench/scale.py): sizes, the children's figures, the table and the merge, end to end
at tens of thousands of events (the children run in this process, to keep it fast)."""

from __future__ import annotations

import json

import pytest

from socdem.__main__ import main
from socdem.bench import scale


def test_sizes_from_the_environment(monkeypatch):
    monkeypatch.delenv("SCALE_EVENTS", raising=False)
    assert scale.scale_sizes() == [2, 9, 30, 90]
    assert scale.scale_sizes("30, 2,9") == [2.0, 9.0, 30.0]
    assert scale.users_for(90) == 4_017_857 and scale.users_for(0.0001) == scale.MIN_USERS
    for bad in ("2,x", "0,9", "-1"):
        with pytest.raises(ValueError, match="SCALE_EVENTS"):
            scale.scale_sizes(bad)


def test_bad_sizes_stop_the_command_with_one_line(socdem_home, monkeypatch, capsys):
    monkeypatch.setenv("SCALE_EVENTS", "two")
    assert main(["bench", "--scale"]) == 2
    assert "SCALE_EVENTS='two'" in capsys.readouterr().err.strip().splitlines()[-1]


def test_runs_end_to_end_at_tiny_sizes(socdem_home, monkeypatch):
    monkeypatch.setenv("SCALE_GENAPON_STEPS", "2")
    monkeypatch.setattr(scale, "_run_child", lambda kind, data_dir, exp: scale.CHILDREN[kind](str(data_dir), exp))
    results_file = socdem_home / "bench" / "results.json"
    results_file.parent.mkdir()
    results_file.write_text(json.dumps({"features_seconds": 1.0}))
    logs = []
    results = scale.run_scale("fast", sizes=[0.01, 0.02], log=logs.append)

    merged = json.loads(results_file.read_text())
    assert merged["features_seconds"] == 1.0 and merged["scale"]["table"] == results["table"]
    for row, wanted in zip(results["sizes"], (10_000, 20_000)):
        assert row["features"]["events"] == pytest.approx(wanted, rel=0.25)
    for row in results["sizes"]:
        features, genapon = row["features"], row["genapon"]
        assert features["users"] == scale.users_for(row["millions"]) and features["peak_rss_mb"] > 0
        assert features["s_per_m_events"] == pytest.approx(features["seconds"] / features["events"] * 1e6, rel=0.01)
        assert "coded events" in features["steps"]  # the streamed path
        assert genapon["steps"] == 2 and genapon["epoch_estimated"] == (genapon["steps_per_epoch"] > 2)
        assert genapon["epoch_seconds"] >= genapon["fit_seconds"] > 0
    lines = results["table"].splitlines()
    assert lines[0].startswith("| events | users | features s | s / M events | peak RSS MB | GENAPON layout s")
    assert len([line for line in lines if line.startswith("| ") and line[2].isdigit()]) == 2
    assert results["features_growth"] >= 1.0 and results["genapon_steps"] == 2
    assert any(line.startswith("scale: features") for line in logs)
    assert all(row["genapon"]["load_seconds"] >= 0 for row in results["sizes"])
    assert (socdem_home / "artifacts" / "bench" / f"data_{scale.users_for(0.01)}" / "train_events.parquet").exists()


def test_genapon_is_left_out_above_its_size(socdem_home, monkeypatch):
    monkeypatch.setenv("SCALE_GENAPON_MAX_EVENTS", "0.015")
    monkeypatch.setattr(scale, "_run_child", lambda kind, data_dir, exp: scale.CHILDREN[kind](str(data_dir), exp))
    monkeypatch.setattr(scale, "child_genapon", lambda *args: pytest.fail("GENAPON ran above its size"))
    monkeypatch.setitem(scale.CHILDREN, "scale_genapon", scale.child_genapon)
    logs = []
    results = scale.run_scale("fast", sizes=[0.02], log=logs.append)
    assert "genapon" not in results["sizes"][0] and "| - | - | - | - |" in results["table"]
    assert any("GENAPON not run above 0.015M events" in line for line in logs)
