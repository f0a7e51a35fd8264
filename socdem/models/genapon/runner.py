"""Run GENAPON in a fold: one network, both targets, on the per-user event
layout built once per run and shared by the folds."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.base import clone

from socdem.config import section_params
from socdem.features.build import FEATURE_CODE_VERSION, features_dir, label_free_config
from socdem.features.communities import community_columns
from socdem.features.title_vectors import TITLE_VECTORS_CODE_VERSION, navec_digest, video_title_vectors
from socdem.io import atomic_path, hash_object
from socdem.models.genapon.batches import UserEvents, build_user_events, stored_user_events
from socdem.models.genapon.fit import FIT_CODE_VERSION, GenaponClassifier, resolve_device
from socdem.models.linear.runner import cached_linear_logits, linear_logits_params
from socdem.schema import frame_from_probas, target_column

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

MAX_ONE_HOT_LEVELS = 64  # wider categoricals are dropped: the set branch sees the items themselves


def estimator_from_config(exp, **overrides) -> GenaponClassifier:
    params = section_params(exp.genapon, GenaponClassifier)
    params.update(targets=tuple(exp.targets), threads=exp.threads, random_state=exp.seed)
    params.update(overrides)
    return GenaponClassifier(**params)


def feature_matrix(frame: pd.DataFrame | None, uids: np.ndarray) -> np.ndarray:
    """Numeric columns as they are, categoricals one-hot (up to MAX_ONE_HOT_LEVELS
    levels), rows aligned to `uids` (a missing user gets NaN, standardised to 0)."""
    if frame is None or frame.shape[1] == 0:
        return np.zeros((len(uids), 0), dtype=np.float32)
    frame = frame.reindex(pd.Index(uids, name=frame.index.name))
    parts = [frame.select_dtypes(include=["number", "bool"]).astype(np.float32)]
    for name in frame.select_dtypes(include=["category", "object", "string"]).columns:
        column = frame[name].astype("category")
        if len(column.cat.categories) <= MAX_ONE_HOT_LEVELS:
            parts.append(pd.get_dummies(column, prefix=name, dtype=np.float32))
    return pd.concat(parts, axis=1).to_numpy(dtype=np.float32, na_value=np.nan)


def workspace_events(ws: Workspace, log: bool = True) -> UserEvents:
    uids = ws.interactions.users
    # the co-watching communities reach the blend through CatBoost's class mixture; in GENAPON's user branch
    # they help one family and hurt another (docs/results.md)
    users = feature_matrix(ws.features.drop(columns=community_columns(ws.features)), uids)
    if log:
        note = f"{users.shape[1]} user feature columns" if users.shape[1] else "no user features (user branch off)"
        ws.log(f"genapon: {len(uids):,} users, {ws.contest.report['events']:,} events; {note}")
    if ws.coded is not None:  # streamed: laid out from DuckDB in chunks, memory-mapped beside the store
        folder = ws.contest.store.folder / "genapon"
        events = stored_user_events(ws.coded, ws.contest.videos, uids, users, folder=folder)
    else:
        events = build_user_events(ws.contest.events, ws.contest.videos, uids, users)
    if ws.exp.genapon.title_vec_dims:
        events = dataclasses.replace(events, title_vectors=cached_video_title_vectors(ws))
    return events


def cached_video_title_vectors(ws: Workspace) -> np.ndarray:
    """The catalogue's reduced title vectors (features/title_vectors.video_title_vectors), computed once beside
    the label-free features and keyed by their size, the seed and the word vectors' file."""
    dims, seed = ws.exp.genapon.title_vec_dims, ws.exp.seed
    key = hash_object([dims, seed, navec_digest(log=ws.log), TITLE_VECTORS_CODE_VERSION])
    path = features_dir(ws) / f"video-title-vectors-{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = video_title_vectors(ws.contest.videos["title"], dims, seed, ws.log)  # JMLC's titles are ""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, vectors)
    return vectors


def with_linear_offset(ws: Workspace, events: UserEvents, train, predict_uids: list, seed: int) -> UserEvents:
    """`events` with the fold's linear logits as the network's offset: cross-fitted for the training users,
    fitted on all of them for the predict sets (a user is in one of them within a fold)."""
    fitted, predicted = cached_linear_logits(ws, train, list(predict_uids), seed)
    offset = np.zeros((len(events.uids), fitted.shape[1]), dtype=np.float32)
    for frame in (fitted, *predicted):
        offset[events.select(frame.index.to_numpy()).selected] = frame.to_numpy(np.float32)
    return dataclasses.replace(events, offset=offset)


class GenaponRunner:
    def __init__(self):
        self._events: tuple | None = None  # (workspace id, UserEvents): built once, shared by the folds

    def estimator(self, ws: Workspace) -> GenaponClassifier:
        return estimator_from_config(ws.exp)

    def params(self, ws: Workspace) -> dict:
        params = self.estimator(ws).get_params()
        params.pop("quiet")
        # the device that will run, not "auto": CUDA and CPU folds differ in the last bits
        params["device"] = resolve_device(params["device"]).type
        params["targets"] = list(params["targets"])
        params["user_features"] = hasattr(type(ws), "features")
        # the user features it reads: not CatBoost's encodings, nor the communities
        params["feature_config"] = {k: v for k, v in label_free_config(ws).items() if k != "communities"}
        params["feature_code"] = FEATURE_CODE_VERSION
        params["fit_code"] = FIT_CODE_VERSION
        if params["title_vec_dims"]:  # the word vectors' file, by content
            params["navec"] = navec_digest(log=ws.log)
        else:  # off: the keys of the folds trained before the switch existed
            del params["title_vec_dims"]
        params.update(linear_logits_params(ws))
        return params

    def events(self, ws: Workspace) -> UserEvents:
        if self._events is None or self._events[0] != id(ws):
            self._events = (id(ws), workspace_events(ws))
        return self._events[1]

    def fit_predict(self, ws: Workspace, train, predict_uids, seed):
        events = self.events(ws)
        if ws.exp.features.linear_logits:
            events = with_linear_offset(ws, events, train, predict_uids, seed)
        targets = tuple(ws.exp.targets)
        y = np.column_stack([train[target_column(t)].to_numpy() for t in targets])
        model = clone(self.estimator(ws)).set_params(random_state=seed)
        model.fit(events.select(train["viewer_uid"].to_numpy()), y)
        frames = []
        for uids in predict_uids:
            probas = model.predict_proba(events.select(uids))
            frames.append(frame_from_probas(uids, dict(zip(targets, probas if isinstance(probas, list) else [probas]))))
        return frames, model
