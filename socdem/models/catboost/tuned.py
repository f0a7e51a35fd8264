"""Where `make tune` keeps CatBoost's best parameters and how `make train` finds them.

A study's name carries a key of the data, features, folds and search space,
so tuned parameters are used only for the very inputs they were tuned on.
After every finished trial the best parameters so far are written to
artifacts/<EXP>/tune/best_<target>.json (any storage, no connection needed).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from socdem.features.build import FEATURE_CODE_VERSION
from socdem.features.encoding_cache import ENCODING_CODE_VERSION, encoding_config
from socdem.io import hash_object
from socdem.models.linear.runner import linear_logits_params

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

SEARCH_SPACE_VERSION = 2  # bump it when pipeline/tune.py's search space changes: a study of the old space starts anew


def tune_folds(ws: Workspace) -> list[int]:
    n, n_folds = ws.exp.tune.folds, ws.n_folds
    return list(range(n_folds if n <= 0 else min(n, n_folds)))


def study_key(ws: Workspace) -> str:
    """What a study's trials depend on besides the searched parameters."""
    exp = ws.exp
    return hash_object(
        {
            "data": ws.data_fp,
            **encoding_config(exp),
            **linear_logits_params(ws),
            "feature_code": FEATURE_CODE_VERSION,
            "encoding_code": ENCODING_CODE_VERSION,
            "seed": exp.seed,
            "n_folds": ws.n_folds,
            "tune_folds": tune_folds(ws),
            "targets": exp.targets,
            "age_objective": exp.tune.age_objective,
            "max_iterations": exp.tune.max_iterations,
            "catboost_defaults": dataclasses.asdict(exp.catboost),
            "space": SEARCH_SPACE_VERSION,
        }
    )


def study_name(ws: Workspace, target: str) -> str:
    return f"{ws.exp.name}-{target}-{study_key(ws)}"


def best_path(ws: Workspace, target: str, run: str | None = None) -> Path:
    return ws.paths.tune(run or ws.exp.run) / f"best_{target}.json"


def best_params(ws: Workspace, target: str) -> dict:
    """Tuned parameters of `target` for the current data and config, or {} (use the defaults).

    A run with overrides (SET=) that has not been tuned itself uses its experiment's study when
    the study's key still matches (overrides outside CatBoost's inputs leave it unchanged)."""
    path = best_path(ws, target)
    if not path.exists():
        path = best_path(ws, target, run=ws.exp.name)
    if not path.exists():
        return {}
    record = json.loads(path.read_text())
    if record.get("study") != study_name(ws, target):
        ws.log(f"tune: {path} belongs to another data/config ({record.get('study')}); using the defaults")
        return {}
    return record["params"]
