"""The socdem pipeline as an Airflow 3 DAG.

    data → features → models → train (one mapped task per model, in parallel) → submit → score

Every stage task runs `<repo>/.venv/bin/python -m socdem <stage> --exp EXP --data DATA`, the very
command behind `make <stage>`, in the project's virtualenv; Airflow lives in a virtualenv of its own
(.venv-airflow, requirements-airflow.txt) and only schedules. `models` reads the experiment's model
list at run time (socdem.config needs only the standard library), so the train tasks follow the
`exp` param. `score` is skipped when the data has no truth file (real contests).

Params: exp (experiments/<exp>.toml), data (a contest folder; relative paths are relative to the
repo), users (size of the synthetic contest written when `data` holds no contest).
Environment (of the Airflow worker): SOCDEM_REPO (default: two folders above this file, symlinks
resolved, so linking this file into a deployment's dags folder works), SOCDEM_PYTHON (default
<repo>/.venv/bin/python), SOCDEM_HOME (where artifacts/ and submissions/ go; default the repo).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from airflow.sdk import Param, dag, task

REPO = Path(os.environ.get("SOCDEM_REPO") or Path(__file__).resolve().parents[2])
PYTHON = os.environ.get("SOCDEM_PYTHON") or str(REPO / ".venv" / "bin" / "python")
# what the Makefile's RUN sets for every stage
STAGE_ENV = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
STAGE = {"cwd": str(REPO), "env": STAGE_ENV, "append_env": True}


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
    def models(params=None) -> list[str]:
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        from socdem.config import load_experiment

        return list(load_experiment(params["exp"], REPO / "experiments").models)

    @task.bash(**STAGE, map_index_template="{{ model }}")
    def train(model: str, params=None) -> str:
        return socdem("train", params, "--models", model)

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

    trained = train.expand(model=models())
    data() >> features() >> trained >> submit() >> score()


socdem_pipeline()
