"""Shared fixtures: every synthetic contest the tests ask for, generated once per session (among them the tiny
one most tests use, and a copy of it whose test users are its heaviest viewers), and the fast experiment
trained once on the tiny contest, handed to each test that asks as a copy of its SOCDEM_HOME."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from socdem.features.title_vectors import navec_path
from socdem.synthetic import FAMILIES, GENERATORS

REPO = Path(__file__).resolve().parents[1]
# MLflow tracking (on for users) starts a background logger importing MLflow after each command: off for the tests, but
# the tracking tests (tests/evaluate/test_tracking.py), which turn it on
os.environ["TRACKING"] = "off"
# [linear] of one TF-IDF block (no stacking of blocks): for tests of the models that read the linear logits
# (CatBoost, GENAPON), not of the linear model, whose block stacking costs most of a fit on a tiny contest
ONE_BLOCK_LINEAR = {"items": ["author_id"], "counts": False, "factors": []}
ONE_BLOCK_LINEAR_SET = "linear.items=['author_id'] linear.counts=false linear.factors=[]"  # the same, as SET=


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="session")
def synthetic_contest(tmp_path_factory):
    """`synthetic_contest(users, seed, family="author_tastes", layout="rutube2024")`: the folder of that synthetic
    contest (tables + oracle/), generated the first time any test asks for it and shared by all that ask the same.
    Read-only to them (checked when the session ends): a test that changes a contest copies it first."""
    made: dict[tuple, tuple[Path, dict[str, str]]] = {}  # (family, layout, users, seed): (folder, file digests)

    def contest(users: int, seed: int, family: str = "author_tastes", layout: str = "rutube2024") -> Path:
        key = (family, layout, users, seed)
        if key not in made:
            if layout != "rutube2024" and family != "author_tastes":
                raise ValueError(f"synthetic_contest: only author_tastes is written in the {layout} layout")
            generator = GENERATORS[layout] if family == "author_tastes" else FAMILIES[family][0]
            out = tmp_path_factory.mktemp(f"{family}-{layout}-{users}-{seed}") / "raw"
            generator(out, users=users, seed=seed, progress=False)
            made[key] = out, _digests(out)
        return made[key][0]

    yield contest
    changed = [str(out) for out, digests in made.values() if _digests(out) != digests]
    assert not changed, f"a test changed a shared synthetic contest (copy it first): {changed}"


@pytest.fixture(scope="session")
def tiny_contest(synthetic_contest) -> Path:
    """A 2,000-user synthetic contest (tables + oracle/), shared read-only."""
    return synthetic_contest(2000, seed=7)


@pytest.fixture(scope="session")
def navec_model(request) -> Path:
    """The navec file, fetched once (natasha's wheel from PyPI) into pytest's cache and kept across sessions."""
    return navec_path(request.config.cache.mkdir("socdem-wheels"), log=lambda m: None)


@pytest.fixture
def socdem_home(tmp_path, monkeypatch) -> Path:
    """A private SOCDEM_HOME so artifacts, submissions and the log stay in tmp."""
    monkeypatch.setenv("SOCDEM_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def fast_trained(tiny_contest, tmp_path_factory) -> Path:
    """A SOCDEM_HOME where `make train EXP=fast` ran on the tiny contest (features, folds, every model's folds).
    Never handed out itself: `trained_home` copies it."""
    home = tmp_path_factory.mktemp("fast-trained")
    run = make("train", home, EXP="fast", DATA=tiny_contest)
    assert run.returncode == 0, run.stderr[-3000:]
    return home


@pytest.fixture
def trained_home(fast_trained, tmp_path, monkeypatch) -> Path:
    """A private SOCDEM_HOME holding a copy of `fast_trained`: the fast run on the tiny contest is cached there."""
    home = tmp_path / "trained-home"
    shutil.copytree(fast_trained, home)
    monkeypatch.setenv("SOCDEM_HOME", str(home))
    return home


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
