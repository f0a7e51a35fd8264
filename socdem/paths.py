"""Every artifact path, in one place, under SOCDEM_HOME (default: the current folder).

    artifacts/features/<fingerprint>/        label-free user features (cache)
    artifacts/folds/<key>.parquet            the saved folds of a data set
    artifacts/<RUN>/models/<model>/          fold predictions and fitted models
    artifacts/<RUN>/blend/, tune/            the blend's out-of-fold predictions; the Optuna study
    submissions/<RUN>.csv, .json             the submission and its record
    experiments/                             experiment files and the leaderboard log
    reports/<RUN>/                           plots, summary.md, ablation.md
    reports/eda/<data folder>-<data fp>/     `make eda`: plots, summary.md, eda.json
    bench/results.json                       `make bench` figures
    mlflow.db, mlartifacts/                  the MLflow tracking store and its artifacts (evaluate/tracking.py)
    mlflow-pending/, mlflow.log              payloads waiting to be logged, the logger's output (tracking_queue.py)

<RUN> is the experiment's name, plus a short hash of its overrides when SET=
has any (config.Experiment.run). Experiments are looked up in SOCDEM_HOME/experiments first, then among the
ones shipped with the repository (`default`, `fast`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA = Path("data/raw")
SHIPPED_EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def home() -> Path:
    return Path(os.environ.get("SOCDEM_HOME", "."))


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def features(self, fingerprint: str) -> Path:
        return self.artifacts / "features" / fingerprint

    def folds(self, data_fp: str, targets, n_folds: int, seed: int) -> Path:
        return self.artifacts / "folds" / f"{data_fp}_{'-'.join(targets)}_k{n_folds}_seed{seed}.parquet"

    @property
    def digests(self) -> Path:
        """The memo of file content digests (spares re-hashing unchanged inputs)."""
        return self.artifacts / ".digests.json"

    @property
    def duckdb_temp(self) -> Path:
        return self.artifacts / "duckdb_tmp"

    def experiment(self, exp: str) -> Path:
        return self.artifacts / exp

    def model(self, exp: str, model: str) -> Path:
        return self.experiment(exp) / "models" / model

    def blend(self, exp: str) -> Path:
        return self.experiment(exp) / "blend"

    def tune(self, exp: str) -> Path:
        return self.experiment(exp) / "tune"

    @property
    def wheels(self) -> Path:
        """Where `make data SOURCE=...` keeps the wheels its public data sets come in (kept by `make clean`)."""
        return self.root / "data" / "wheels"

    @property
    def submissions(self) -> Path:
        return self.root / "submissions"

    def submission(self, exp: str, suffix: str = ".csv") -> Path:
        return self.submissions / f"{exp}{suffix}"

    @property
    def experiments(self) -> Path:
        return self.root / "experiments"

    @property
    def leaderboard(self) -> Path:
        return self.experiments / "leaderboard.csv"

    def report(self, exp: str) -> Path:
        return self.root / "reports" / exp

    def eda(self, data_name: str, data_fp: str) -> Path:
        return self.root / "reports" / "eda" / f"{data_name}-{data_fp[:8]}"

    @property
    def mlflow_store(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def mlflow_pending(self) -> Path:
        return self.root / "mlflow-pending"

    @property
    def mlflow_log(self) -> Path:
        return self.root / "mlflow.log"

    @property
    def bench_results(self) -> Path:
        return self.root / "bench" / "results.json"

    def bench_data(self, users: int) -> Path:
        return self.artifacts / "bench" / f"data_{users}"


def paths(root: Path | None = None) -> Paths:
    return Paths(Path(root) if root is not None else home())
