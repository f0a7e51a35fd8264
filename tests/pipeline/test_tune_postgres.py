"""`make tune STORAGE=postgresql://…`: two workers on one study in a real PostgreSQL server, then a
third run that resumes it. Skips only where no server can be started; under CI (CI=true) it fails."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import ONE_BLOCK_LINEAR_SET
from pg_server import PostgresServer, Unavailable

from socdem.config import load_experiment

REPO = Path(__file__).resolve().parents[2]
TRIAL_LINE = re.compile(r"^tune (\w+) \(worker (\d+)\): trial (\d+) (complete|pruned)", re.MULTILINE)


@pytest.fixture(scope="module")
def postgres():
    try:
        server = PostgresServer().start()
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run this test against a real PostgreSQL: {exc}")
        pytest.skip(f"no PostgreSQL server can be started here: {exc}")
    yield server
    server.stop()


def make_tune(home: Path, data: Path, storage: str, trials: int, workers: int) -> str:
    """`make tune EXP=fast DATA=… STORAGE=… TRIALS=… WORKERS=…`; returns its log."""
    env = {**os.environ, "SOCDEM_HOME": str(home), "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "socdem",
            "tune",
            "--exp",
            "fast",
            "--data",
            str(data),
            "--storage",
            storage,
            "--trials",
            str(trials),
            "--workers",
            str(workers),
            "--set",
            ONE_BLOCK_LINEAR_SET,  # the studies on test, not the linear logits CatBoost reads
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def stored_trials(url: str) -> dict[str, list[int]]:
    import optuna

    storage = optuna.storages.RDBStorage(url)
    return {
        s.study_name: sorted(
            t.number
            for t in optuna.load_study(study_name=s.study_name, storage=storage).trials
            if t.state.is_finished()
        )
        for s in optuna.get_all_study_summaries(storage=storage)
    }


def test_two_workers_share_a_postgres_study_and_a_third_run_resumes(postgres, tmp_path):
    from socdem.synthetic.author_tastes import generate

    data = tmp_path / "raw"
    generate(data, users=1500, seed=0, progress=False)

    # 3 + 1 trials: with tuning.py's per-worker sampler seeds these draw depth <= 5 (a depth-8 draw costs a minute)
    log = make_tune(tmp_path / "home", data, postgres.url, trials=3, workers=2)
    landed = TRIAL_LINE.findall(log)
    for target in ("sex", "age_class"):
        workers = Counter(w for t, w, _, _ in landed if t == target)
        assert workers == {"0": 2, "1": 1}, f"{target}: trials per worker {dict(workers)}\n{log[-2000:]}"
    studies = stored_trials(postgres.url)
    assert len(studies) == 2 and all(name.startswith("fast-") for name in studies)
    assert all(numbers == [0, 1, 2] for numbers in studies.values()), studies

    log = make_tune(tmp_path / "home", data, postgres.url, trials=1, workers=1)
    assert log.count("(3 trials so far)") == 2, log[-2000:]
    resumed = stored_trials(postgres.url)
    assert resumed.keys() == studies.keys(), "the third run must continue the same studies, not start new ones"
    assert all(numbers == [0, 1, 2, 3] for numbers in resumed.values()), resumed
    assert {int(n) for _, _, n, _ in TRIAL_LINE.findall(log)} == {3}
    run = load_experiment("fast", overrides=ONE_BLOCK_LINEAR_SET).run
    assert sorted(p.name for p in (tmp_path / "home" / "artifacts" / run / "tune").glob("best_*.json")) == [
        "best_age_class.json",
        "best_sex.json",
    ]
