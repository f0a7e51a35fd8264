"""Experiment configuration: dataclasses with commented defaults.

An experiment file `experiments/<name>.toml` holds only what differs from
these defaults. An unknown key or a value of the wrong type fails loudly,
naming the file and the key.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

EXPERIMENTS_DIR = Path("experiments")


class ConfigError(ValueError):
    """A bad experiment file: unknown key, wrong type, unknown experiment."""


@dataclass
class FeatureConfig:
    activity: bool = True  # event counts, distinct videos/authors/categories/days
    watchtime: bool = True  # watch time and watch-fraction statistics
    time: bool = True  # local hour / weekday / part-of-day shares
    device: bool = True  # device, client, OS and client-name shares, regions
    category: bool = True  # category shares, video duration statistics
    embeddings: bool = True  # truncated SVD of TF-IDF user x author / user x video
    top_values: int = 8  # top values kept per device-like column, the rest is "other"
    top_categories: int = 20
    svd_author_dims: int = 32
    svd_video_dims: int = 32
    # label-dependent encoders (fitted out of fold)
    target_encoding: bool = True
    te_pseudo_count: float = 35.0  # credibility weight: ~33-40 views before a share is trusted
    te_inner_folds: int = 5  # cross-fitting inside the training part of a fold


@dataclass
class BaselineConfig:
    pseudo_count: float = 10.0  # AuthorShare smoothing toward the prior


@dataclass
class CatBoostConfig:
    iterations: int = 1500
    learning_rate: float = 0.06
    depth: int = 6
    l2_leaf_reg: float = 3.0
    early_stopping_rounds: int = 100
    inner_valid_share: float = 0.1  # early stopping on a split of the *training* fold


@dataclass
class TuneConfig:
    trials: int = 20
    workers: int = 1
    storage: str = ""  # empty: a SQLite file under artifacts/<EXP>/
    timeout_seconds: float = 0.0  # 0: no limit


@dataclass
class LinearConfig:
    cs: list = field(default_factory=lambda: [0.1, 0.3, 1.0, 3.0])  # inner-CV grid for C
    max_iter: int = 300


@dataclass
class GenaponConfig:
    epochs: int = 12
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    embedding_dim: int = 32
    hidden_dim: int = 64
    time_dim: int = 16
    min_count: int = 3
    max_events: int = 256
    age_loss_weight: float = 1.0
    patience: int = 3
    inner_valid_share: float = 0.1
    device: str = "auto"


@dataclass
class Experiment:
    name: str = "default"
    contest: str = "rutube2024"  # or "jmlc": which layout, targets and metrics
    seed: int = 42
    n_folds: int = 5
    threads: int = 2  # pinned everywhere (CatBoost, torch, BLAS): results depend on it
    models: list = field(default_factory=lambda: ["top_class", "author_share"])
    features: FeatureConfig = field(default_factory=FeatureConfig)
    baselines: BaselineConfig = field(default_factory=BaselineConfig)
    catboost: CatBoostConfig = field(default_factory=CatBoostConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)
    genapon: GenaponConfig = field(default_factory=GenaponConfig)

    @property
    def targets(self) -> tuple[str, ...]:
        return ("sex",) if self.contest == "jmlc" else ("sex", "age_class")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_type(value, annotation, where: str):
    expected = {"int": int, "float": (int, float), "bool": bool, "str": str, "list": list}[annotation]
    if isinstance(value, bool) and annotation in ("int", "float"):
        raise ConfigError(f"{where}: expected {annotation}, got bool {value!r}")
    if not isinstance(value, expected):
        raise ConfigError(f"{where}: expected {annotation}, got {type(value).__name__} {value!r}")
    return float(value) if annotation == "float" else value


def _apply(obj, overrides: dict, where: str):
    hints = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in overrides.items():
        if key not in hints:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(hints)})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a [{key}] table")
            _apply(current, value, f"{where}.{key}")
        else:
            setattr(obj, key, _check_type(value, hints[key].type, f"{where}.{key}"))


def load_experiment(name: str, experiments_dir: Path = EXPERIMENTS_DIR) -> Experiment:
    path = Path(experiments_dir) / f"{name}.toml"
    if not path.exists():
        known = sorted(p.stem for p in Path(experiments_dir).glob("*.toml"))
        raise ConfigError(f"{path}: no such experiment (known: {', '.join(known) or 'none'})")
    try:
        overrides = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    exp = Experiment(name=name)
    overrides.pop("name", None)
    _apply(exp, overrides, str(path))
    if exp.contest not in ("rutube2024", "jmlc"):
        raise ConfigError(f"{path}.contest: expected 'rutube2024' or 'jmlc', got {exp.contest!r}")
    if exp.n_folds < 2:
        raise ConfigError(f"{path}.n_folds: expected at least 2, got {exp.n_folds}")
    return exp

