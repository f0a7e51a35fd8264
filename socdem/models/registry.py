"""The models of an experiment, by name.

A runner exposes
    fit_predict(ws, train, predict_uids, seed) -> (list of prediction frames, fitted model)
    params(ws) -> dict   (what, besides data and folds, decides its output: the cache key)
where `train` holds viewer_uid, female and age_class of the fold's training users
and each prediction frame is indexed by viewer_uid (schema.prediction_frame).
"""

from __future__ import annotations

import importlib

# Runners are imported by name when asked for: torch and CatBoost load only for the models that need them.
REGISTRY = {
    "top_class": "socdem.models.baselines.runner:TopClassRunner",
    "author_share": "socdem.models.baselines.runner:AuthorShareRunner",
    "linear": "socdem.models.linear.runner:LinearRunner",
    "watched_linear": "socdem.models.linear.runner:WatchedLinearRunner",
    "genapon": "socdem.models.genapon.runner:GenaponRunner",
    "catboost": "socdem.models.catboost.runner:CatBoostRunner",
}


def get_runner(name: str):
    if name not in REGISTRY:
        raise KeyError(f"unknown model '{name}' (known: {', '.join(REGISTRY)})")
    module, attr = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), attr)()
