"""Shared fixtures: one tiny synthetic contest per session (and a copy whose test users are its heaviest viewers)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from socdem.synthetic.author_tastes import generate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_contest(tmp_path_factory) -> Path:
    """A 2,000-user synthetic contest (tables + oracle/), shared read-only."""
    out = tmp_path_factory.mktemp("contest") / "raw"
    generate(out, users=2000, seed=7, progress=False)
    return out


@pytest.fixture
def socdem_home(tmp_path, monkeypatch) -> Path:
    """A private SOCDEM_HOME so artifacts, submissions and the log stay in tmp."""
    monkeypatch.setenv("SOCDEM_HOME", str(tmp_path))
    return tmp_path


def make(target, home, **variables) -> subprocess.CompletedProcess:
    """`make <target> VAR=value ...` in the repository, with SOCDEM_HOME=home."""
    env = {**os.environ, "SOCDEM_HOME": str(home)}
    args = ["make", "-s", "-C", str(REPO), target] + [f"{k}={v}" for k, v in variables.items()]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)


def heaviest_viewers_as_test(data: Path, out: Path) -> Path:
    """A copy of a synthetic contest whose test users are its users with the most events
    (as many as before); everyone else is labelled, with the synthetic truth as labels."""
    out.mkdir(parents=True)
    for name in ("train_events.parquet", "video_info_v2.parquet"):
        shutil.copy(data / name, out / name)
    truth = pd.read_csv(data / "oracle" / "test_truth.csv")
    everyone = pd.concat([pd.read_parquet(data / "train_targets.parquet"), truth], ignore_index=True)
    n_test = len(truth)
    events = pd.read_parquet(data / "train_events.parquet", columns=["viewer_uid"])["viewer_uid"].value_counts()
    everyone["events"] = events.reindex(everyone["viewer_uid"], fill_value=0).to_numpy()
    everyone = everyone.sort_values(["events", "viewer_uid"], ascending=[False, True])
    test, labelled = everyone.iloc[:n_test], everyone.iloc[n_test:]
    test[["viewer_uid"]].to_parquet(out / "test_users.parquet", index=False)
    labelled[["viewer_uid", "age", "sex", "age_class"]].to_parquet(out / "train_targets.parquet", index=False)
    return out


@pytest.fixture(scope="session")
def heavy_contest(tiny_contest, tmp_path_factory) -> Path:
    """The tiny contest with its heaviest viewers as the test users (a shift adversarial validation must see)."""
    return heaviest_viewers_as_test(tiny_contest, tmp_path_factory.mktemp("heavy") / "raw")
