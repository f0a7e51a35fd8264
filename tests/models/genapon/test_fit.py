import dataclasses
import math
import pickle

import numpy as np
import pytest
import torch
from genapon_helpers import random_events
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from socdem.models.genapon.fit import (
    MIN_LR_FACTOR,
    EarlyStopping,
    GenaponClassifier,
    item_vocabulary,
    loss_best_weight,
    make_vocabularies,
    split_inner_validation,
    warmup_cosine,
)

SMALL = dict(
    epochs=3,
    batch_size=32,
    embedding_dim=8,
    hidden_dim=16,
    time_dim=4,
    min_count=1,
    video_min_count=1,
    threads=1,
    quiet=True,
)


def test_clone_and_get_params_round_trip():
    model = GenaponClassifier(epochs=7, hidden_dim=24, targets=("sex",), device="cpu", random_state=3)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert GenaponClassifier(**model.get_params()).get_params() == model.get_params()
    assert twin.set_params(epochs=2).epochs == 2 and model.epochs == 7


@pytest.mark.parametrize("author_evidence", [True, False])
def test_fit_predicts_both_targets_and_learns_the_signal(author_evidence):
    events, y = random_events(n_users=400)
    train, test = events.select(events.uids[:300]), events.select(events.uids[300:])
    model = GenaponClassifier(**{**SMALL, "epochs": 8}, learning_rate=1e-2, author_evidence=author_evidence)
    model.fit(train, y[:300])
    assert (model.net_.evidence is not None) == author_evidence
    sex, age = model.predict_proba(test)
    assert sex.shape == (100, 2) and age.shape == (100, 4)
    assert np.allclose(sex.sum(1), 1) and np.allclose(age.sum(1), 1)
    assert [c.tolist() for c in model.classes_] == [[0, 1], [0, 1, 2, 3]]
    has_events = test.lengths > 0
    assert roc_auc_score(y[300:, 0][has_events], sex[has_events, 1]) > 0.9
    assert len(model.history_) >= 1 and "valid_roc_auc" in model.history_[0]
    assert model.predict(test).shape == (100, 2)


def test_same_seed_same_predictions_and_another_seed_differs():
    events, y = random_events(n_users=200, seed=4)

    def fit(seed):
        return GenaponClassifier(**SMALL, random_state=seed).fit(events, y).predict_proba(events)

    first, again, other = fit(1), fit(1), fit(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.allclose(first[0], other[0])


@pytest.mark.parametrize("target,width", [("sex", 2), ("age_class", 4)])
def test_one_target_trains_one_head_and_pickles(target, width):
    events, y = random_events(n_users=120, seed=2)
    column = 0 if target == "sex" else 1
    model = GenaponClassifier(**{**SMALL, "epochs": 1}, targets=(target,)).fit(events, y[:, column : column + 1])
    proba = model.predict_proba(events)
    assert isinstance(proba, np.ndarray) and proba.shape == (120, width)
    restored = pickle.loads(pickle.dumps(model))
    assert np.array_equal(restored.predict_proba(events), proba)


def test_wrong_target_columns_fail_loudly():
    events, y = random_events(n_users=50)
    with pytest.raises(ValueError, match="targets"):
        GenaponClassifier(**SMALL).fit(events, y[:, :1])


def test_rare_items_share_the_unk_row():
    codes = np.array([1, 1, 1, 2, 3, 3, 3, 0, 0, 0])
    assert item_vocabulary(codes, 5, min_count=3).tolist() == [0, 1, 0, 2, 0]


def test_learning_rate_warms_up_then_follows_a_cosine_to_its_floor():
    lr_factor = warmup_cosine(warmup=4, total=14)
    assert [lr_factor(step) for step in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(9) == pytest.approx((1 + MIN_LR_FACTOR) / 2)  # half way down the cosine
    assert lr_factor(14) == lr_factor(100) == pytest.approx(MIN_LR_FACTOR)


def test_inner_validation_split_covers_every_user_once_and_needs_enough_users():
    train, valid = split_inner_validation(100, 0.1, np.random.default_rng(0))
    assert len(valid) == 10 and sorted(np.concatenate([train, valid]).tolist()) == list(range(100))
    train, valid = split_inner_validation(19, 0.5, np.random.default_rng(0))
    assert len(valid) == 0 and train.tolist() == list(range(19))


def test_early_stopping_keeps_the_best_weights_and_waits_patience_epochs():
    net = torch.nn.Linear(1, 1)
    stopping = EarlyStopping(patience=2, enabled=True)
    for epoch, loss in enumerate([1.0, 0.5, 0.6], start=1):
        with torch.no_grad():
            net.weight.fill_(epoch)
        assert not stopping.should_stop(loss, net, epoch)
    assert stopping.should_stop(0.5, net, 4)  # no better than the best: a second stale epoch
    assert stopping.best_epoch == 2 and float(stopping.best_state["weight"]) == 2.0
    assert not EarlyStopping(patience=1, enabled=False).should_stop(math.nan, net, 1)


def test_patience_counts_training_users_on_a_large_training_set():
    model = GenaponClassifier(patience=3, patience_users=150_000)
    assert [model._patience(n) for n in (1_000, 50_001, 75_000, 108_000, 200_000)] == [3, 3, 2, 2, 1]
    assert GenaponClassifier(patience=3, patience_users=0)._patience(10**6) == 3


def test_a_rare_video_backs_off_to_its_authors_row_not_the_unk_row():
    events, _ = random_events(n_users=200, n_videos=60, n_authors=12)
    counts = np.bincount(events.video, minlength=events.video.max() + 1)
    min_count = int(np.median(counts[1:]))  # about half the videos are rare
    flat, _ = make_vocabularies(events, min_count, 1, video_backoff=False)
    video_map, author_map = make_vocabularies(events, min_count, 1, video_backoff=True)
    kept = flat > 0
    np.testing.assert_array_equal(video_map[kept], flat[kept])  # a frequent video keeps its own row
    rare = np.flatnonzero(~kept & (np.arange(len(flat)) > 0) & (counts > 0))
    assert len(rare) > 5 and (flat[rare] == 0).all()
    author_of = np.zeros(len(flat), dtype=np.int64)
    author_of[events.video] = events.author
    assert (video_map[rare] > flat.max()).all()  # past the kept videos' rows, never UNK
    for a, b in zip(rare[:-1], rare[1:]):  # one row per author
        assert (video_map[a] == video_map[b]) == (author_of[a] == author_of[b])
    assert video_map[0] == 0  # an unknown video still reads UNK


def _with_offset(n_users=400, seed=0):
    """Histories without signal, and an offset that holds the sex log-odds the labels were drawn from."""
    events, y = random_events(n_users=n_users, seed=seed, signal=False)
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n_users)
    y[:, 0] = (rng.random(n_users) < 1 / (1 + np.exp(-z))).astype(int)
    offset = np.column_stack([z, np.full((n_users, 4), np.log(0.25))]).astype(np.float32)
    return dataclasses.replace(events, offset=offset), y, z


def test_with_no_epoch_trained_the_model_is_the_offset():
    events, y, z = _with_offset()
    model = GenaponClassifier(**{**SMALL, "epochs": 0}).fit(events, y)
    sex, age = model.predict_proba(events)
    np.testing.assert_allclose(sex[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(age, 0.25, rtol=1e-4)
    assert model.offset_only_ and model.n_offset_ == 5

    saved_before_the_weight = pickle.loads(pickle.dumps(model))
    del saved_before_the_weight.__dict__["network_weight_"]
    restored = pickle.loads(pickle.dumps(saved_before_the_weight))
    np.testing.assert_array_equal(restored.network_weight_, np.zeros(5))
    np.testing.assert_array_equal(restored.predict_proba(events)[0], sex)


def test_training_that_cannot_beat_the_offset_beyond_the_noise_falls_back_to_it():
    events, y, z = _with_offset()
    model = GenaponClassifier(**{**SMALL, "epochs": 4}, learning_rate=1e-2).fit(events, y)
    sex, _ = model.predict_proba(events)
    assert model.offset_only_  # the histories hold nothing the offset lacks
    np.testing.assert_allclose(sex[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="logit offset"):
        model.predict_proba(dataclasses.replace(events, offset=None))


def test_training_that_beats_an_uninformative_offset_is_kept():
    events, y = random_events(n_users=400)
    events = dataclasses.replace(events, offset=np.zeros((400, 5), dtype=np.float32))
    model = GenaponClassifier(**{**SMALL, "epochs": 6}, learning_rate=1e-2).fit(events, y)
    assert not model.offset_only_
    sex, _ = model.predict_proba(events)
    assert roc_auc_score(y[:, 0][events.lengths > 0], sex[events.lengths > 0, 1]) > 0.9

    # with a weight between them, the logits lie between the network's and the offset's
    offset = np.random.default_rng(1).normal(size=(400, 5)).astype(np.float32)
    moved = dataclasses.replace(events, offset=offset)
    logits = {}
    for weight in (0.0, 0.3, 1.0):
        model.network_weight_ = np.full(5, weight, dtype=np.float32)
        sex, age = model.predict_proba(moved)
        logits[weight] = np.column_stack([np.log(sex[:, 1] / sex[:, 0]), np.log(age / age[:, :1])])
    np.testing.assert_allclose(logits[0.0][:, 0], offset[:, 0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logits[0.3], 0.7 * logits[0.0] + 0.3 * logits[1.0], rtol=1e-4, atol=1e-4)


def test_the_loss_best_weight_tempers_an_overconfident_network_per_target():
    rng = np.random.default_rng(0)
    n = 20_000
    sex_logit, age_logits = rng.normal(size=n), rng.normal(size=(n, 4))
    y_sex = (rng.random(n) < 1 / (1 + np.exp(-sex_logit))).astype(np.int64)
    age_p = np.exp(age_logits) / np.exp(age_logits).sum(axis=1, keepdims=True)
    y_age = (rng.random((n, 1)) > np.cumsum(age_p, axis=1)).sum(axis=1)
    offset = torch.zeros((n, 5))  # knows nothing
    network = torch.from_numpy(np.column_stack([3 * sex_logit, age_logits])).float()  # sex 3x too sure
    y = torch.from_numpy(np.column_stack([y_sex, y_age]))
    weight = loss_best_weight(offset, network, y, ("sex", "age_class"))
    assert 0.25 <= weight[0] <= 0.4  # a third of the network's sex logit is the truth
    assert (weight[1:] >= 0.9).all() and len(set(weight[1:])) == 1  # its age logits are the truth: one weight


def test_title_vectors_carry_videos_that_have_no_row_of_their_own():
    """Every video and author on the UNK row: the title vectors alone can tell the classes' videos apart."""
    events, y = random_events(n_users=400, seed=2)
    rng = np.random.default_rng(2)
    female_video = np.arange(events.video.max() + 1) > events.video.max() // 2  # random_events' second half
    vectors = np.where(female_video, 1.0, -1.0)[:, None] * [1.0, 0.0, 0.0] + rng.normal(0, 0.3, (61, 3))
    events = dataclasses.replace(events, title_vectors=vectors.astype(np.float32))
    train, test = events.select(events.uids[:300]), events.select(events.uids[300:])
    params = {**SMALL, "epochs": 6, "min_count": 10**6, "video_min_count": 10**6, "author_evidence": False}
    has_events = test.lengths > 0
    scores = {}
    for dims in (0, 3):
        model = GenaponClassifier(**params, learning_rate=1e-2, title_vec_dims=dims).fit(train, y[:300])
        scores[dims] = roc_auc_score(y[300:, 0][has_events], model.predict_proba(test)[0][has_events, 1])
    assert scores[3] > 0.9 and scores[3] > scores[0] + 0.1, scores
    with pytest.raises(ValueError, match="title_vec_dims=2 but the events carry 3 dims"):
        GenaponClassifier(**params, title_vec_dims=2).fit(train, y[:300])
