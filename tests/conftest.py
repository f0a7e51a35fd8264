"""Shared fixtures: one tiny synthetic contest per test session."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
