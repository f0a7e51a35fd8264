"""The out-of-fold encodings of one CV fold: the encoders of the experiment, built from their config
sections, fitted on the fold's training users and applied to each set of users to predict.

This is where the workspace meets the encoders: it hands them explicit, label-free inputs (the users'
item counts, the naive-Bayes channels) and the training users' labels; the encoders never see it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from socdem.config import section_params
from socdem.features.naive_bayes import NaiveBayesEncoder, naive_bayes_inputs
from socdem.features.out_of_fold import target_labels
from socdem.features.target_encoding import TargetEncoder, user_items

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace


def feature_rows(features: pd.DataFrame, uids) -> np.ndarray:
    rows = features.index.get_indexer(np.asarray(uids))
    if (rows < 0).any():
        raise KeyError("some user ids are neither labelled nor test users")
    return rows


def fold_encoders(ws: Workspace, seed: int) -> list[tuple[object, Callable]]:
    """[(encoder, inputs(uids) -> its X)] of the experiment, each seeded by the fold's seed."""
    exp = ws.exp
    target = TargetEncoder(**section_params(exp.target_encoding, TargetEncoder), random_state=seed)
    levels, parents = target.levels(), target.parents()
    encoders = [(target, lambda uids: user_items(ws.interactions, uids, levels, parents))]
    if exp.features.naive_bayes:
        naive = NaiveBayesEncoder(
            **section_params(exp.naive_bayes, NaiveBayesEncoder), random_state=seed, n_jobs=exp.threads
        )
        inputs = naive_bayes_inputs(ws.features, ws.interactions, exp.naive_bayes.video_topics, exp.seed)
        encoders.append((naive, lambda uids: inputs[feature_rows(ws.features, uids)]))
    return encoders


def encode_out_of_fold(
    ws: Workspace, train: pd.DataFrame, predict_uids: list[np.ndarray], seed: int
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """(cross-fitted encodings of the training users, encodings of each predict set fitted on all of train)."""
    y = target_labels(train, ws.exp.targets)
    train_uids = train["viewer_uid"].to_numpy()
    fitted, predicted = [], [[] for _ in predict_uids]
    for encoder, inputs in fold_encoders(ws, seed):
        fitted.append(encoder.fit_transform(inputs(train_uids), y))
        for frames, uids in zip(predicted, predict_uids):
            frames.append(encoder.transform(inputs(np.asarray(uids))))
    return pd.concat(fitted, axis=1), [pd.concat(frames, axis=1) for frames in predicted]
