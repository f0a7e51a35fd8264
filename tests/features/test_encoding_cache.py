"""The per-fold encoding cache: a hit gives exactly what encoding again gives, and a
change of the labels, the users, the seed or the encoder's config is a miss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

import socdem.features.encoding_cache as encoding_cache
from socdem.config import load_experiment
from socdem.features.encoding_cache import cached_encodings, encoding_key, encoding_path
from socdem.features.workspace import Workspace


@pytest.fixture
def ws(tiny_contest, tmp_path):
    return Workspace(tiny_contest, load_experiment("fast", REPO / "experiments"), root=tmp_path, log=lambda m: None)


def fold(ws):
    targets = ws.contest.targets
    return targets.iloc[::2], [targets["viewer_uid"].to_numpy()[1::2], ws.contest.test_users]


def test_a_hit_returns_the_frames_encoded_and_encodes_nothing(ws, monkeypatch):
    train, predict = fold(ws)
    fitted, predicted = cached_encodings(ws, train, predict, seed=3)
    assert encoding_path(ws, encoding_key(ws, train, predict, 3)).exists()

    def encode_again(*args):
        raise AssertionError("encoded again on a cache hit")

    monkeypatch.setattr(encoding_cache, "encode_out_of_fold", encode_again)
    again, again_predicted = cached_encodings(ws, train, predict, seed=3)
    pd.testing.assert_frame_equal(again, fitted, check_index_type=False)
    assert len(again_predicted) == len(predicted) == 2
    for hit, miss, uids in zip(again_predicted, predicted, predict):
        pd.testing.assert_frame_equal(hit, miss, check_index_type=False)
        assert list(hit.index) == list(uids)


def test_the_key_follows_labels_users_seed_and_config(ws):
    train, predict = fold(ws)
    key = encoding_key(ws, train, predict, 3)
    shuffled = train.assign(female=np.random.default_rng(0).permutation(train["female"].to_numpy()))
    assert encoding_key(ws, shuffled, predict, 3) != key
    assert encoding_key(ws, train.iloc[1:], predict, 3) != key
    assert encoding_key(ws, train, [predict[0][1:], predict[1]], 3) != key
    assert encoding_key(ws, train, predict, 4) != key
    ws.exp.target_encoding.pseudo_count = 10.0
    assert encoding_key(ws, train, predict, 3) != key
    ws.exp.target_encoding.pseudo_count = 35.0
    ws.exp.naive_bayes.video_topics = 7
    assert encoding_key(ws, train, predict, 3) != key
    ws.exp.naive_bayes.video_topics, ws.exp.catboost.depth = 100, 3
    assert encoding_key(ws, train, predict, 3) == key  # a model's parameters are not part of it


def test_a_damaged_cache_file_is_encoded_again(ws):
    train, predict = fold(ws)
    fitted, _ = cached_encodings(ws, train, predict, seed=3)
    encoding_path(ws, encoding_key(ws, train, predict, 3)).write_bytes(b"")
    again, _ = cached_encodings(ws, train, predict, seed=3)
    pd.testing.assert_frame_equal(again, fitted)
