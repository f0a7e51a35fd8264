"""The models of an experiment, by name.

Each entry names a module exposing
    fit_predict(ws, train, predict_uids, seed) -> (list of prediction frames, fitted object)
    params(ws) -> dict   (what, besides data and folds, decides its output: the cache key)
where `train` holds viewer_uid, female and age_class of the fold's training users
and each prediction frame is indexed by viewer_uid (see predictions.py).
"""
from __future__ import annotations

import importlib

REGISTRY = {
    "top_class": "socdem.models.baselines_runner:TopClassRunner",
    "author_share": "socdem.models.baselines_runner:AuthorShareRunner",
    "linear": "socdem.models.linear_runner:LinearRunner",
    "genapon": "socdem.models.genapon_runner:GenaponRunner",
    "catboost": "socdem.models.boosting_runner:CatBoostRunner",
}


def get_runner(name: str):
    if name not in REGISTRY:
        raise KeyError(f"unknown model '{name}' (known: {', '.join(REGISTRY)})")
    module, attr = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), attr)()
