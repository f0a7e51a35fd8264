"""The socdem pipeline as an Airflow 3 DAG.

    data → features → plan → train (one mapped task per (model, fold), in parallel) → submit → score

Every stage task runs `<repo>/.venv/bin/python -m socdem <stage> --exp EXP --data DATA`, the very
command behind `make <stage>`, in the project's virtualenv; Airflow lives in a virtualenv of its own
(.venv-airflow, requirements-airflow.txt) and only schedules. `plan` runs `socdem folds`, which saves
the run's folds once and prints its (model, fold) pairs, so the train tasks follow the `exp` param and
the contest's number of folds; each train task (`socdem train --models M --folds K`) writes that fold's
files exactly as `make train` does and logs the fold's scores to the model's nested MLflow run, and
`submit` gathers them once all are done (it trains any fold still missing) and completes the same run.
Tasks wait for their MLflow logging (TRACKING_WAIT=1): a worker's pod may end with its task. With
several workers (Celery or Kubernetes executor) sharing SOCDEM_HOME, the folds of one run train on
different machines. `score` is skipped when the data has no truth file (real contests).

Params: exp (experiments/<exp>.toml), data (a contest folder; relative paths are relative to the
repo), users (size of the synthetic contest written when `data` holds no contest).
Environment (of the Airflow worker): SOCDEM_REPO (default: two folders above this file, symlinks
resolved, so linking this file into a deployment's dags folder works), SOCDEM_PYTHON (default
<repo>/.venv/bin/python), SOCDEM_HOME (where artifacts/ and submissions/ go; default the repo).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

from airflow.sdk import Param, dag, task

REPO = Path(os.environ.get("SOCDEM_REPO") or Path(__file__).resolve().parents[2])
PYTHON = os.environ.get("SOCDEM_PYTHON") or str(REPO / ".venv" / "bin" / "python")
# what the Makefile's RUN sets for every stage
STAGE_ENV = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
# a task's MLflow logging ends with the task: a Kubernetes pod would take a background logger with it
TASK_ENV = {**STAGE_ENV, "TRACKING_WAIT": "1"}
STAGE = {"cwd": str(REPO), "env": TASK_ENV, "append_env": True}


def socdem(stage: str, params, *extra: str) -> str:
    """The shell command of `make <stage>` for this run's params."""
    return shlex.join([PYTHON, "-m", "socdem", stage, "--exp", params["exp"], "--data", params["data"], *extra])


@dag(
    dag_id="socdem",
    schedule=None,
    catchup=False,
    tags=["socdem"],
    doc_md=__doc__,
    params={
        "exp": Param("default", type="string", description="experiments/<exp>.toml"),
        "data": Param("data/raw", type="string", description="contest folder (relative to the repo)"),
        "users": Param(50_000, type="integer", minimum=1, description="synthetic users when data holds none"),
    },
)
def socdem_pipeline():
    @task.bash(**STAGE)
    def data(params=None) -> str:
        return socdem("data", params, "--users", str(params["users"]))

    @task.bash(**STAGE)
    def features(params=None) -> str:
        return socdem("features", params)

    @task
    def plan(params=None) -> list[dict]:
        """The run's (model, fold) training tasks, its folds saved first (the project's venv: it reads the data)."""
        done = subprocess.run(
            shlex.split(socdem("folds", params)),
            cwd=REPO,
            env={**os.environ, **TASK_ENV},
            capture_output=True,
            text=True,
        )
        print(done.stderr)  # the stage's log, into the task's log
        if done.returncode != 0:
            raise RuntimeError(f"socdem folds failed: {done.stderr.strip()[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    @task.bash(**STAGE, map_index_template="{{ model }} fold {{ fold }}")
    def train(model: str, fold: int, params=None) -> str:
        return socdem("train", params, "--models", model, "--folds", str(fold))

    @task.bash(**STAGE)
    def submit(params=None) -> str:
        return socdem("submit", params)

    @task.bash(**STAGE)
    def score(params=None) -> str:
        from airflow.sdk.exceptions import AirflowSkipException

        truth = REPO / params["data"] / "oracle" / "test_truth.csv"  # the Makefile's TRUTH default
        if not truth.exists():
            raise AirflowSkipException(f"no truth file {truth}: nothing to score against")
        sub = REPO / os.environ.get("SOCDEM_HOME", ".") / "submissions" / f"{params['exp']}.csv"
        return socdem("score", params, "--sub", str(sub), "--truth", str(truth))

    tasks = plan()
    data() >> features() >> tasks
    train.expand_kwargs(tasks) >> submit() >> score()


socdem_pipeline()
