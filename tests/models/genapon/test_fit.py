import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from socdem.models.genapon.fit import GenaponClassifier, item_vocabulary
from genapon_helpers import random_events

SMALL = dict(epochs=3, batch_size=32, embedding_dim=8, hidden_dim=16, time_dim=4, min_count=1, video_min_count=1,
             threads=1, quiet=True)


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
    fit = lambda seed: GenaponClassifier(**SMALL, random_state=seed).fit(events, y).predict_proba(events)  # noqa: E731
    first, again, other = fit(1), fit(1), fit(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.allclose(first[0], other[0])


@pytest.mark.parametrize("target,width", [("sex", 2), ("age_class", 4)])
def test_one_target_trains_one_head_and_pickles(target, width):
    events, y = random_events(n_users=120, seed=2)
    column = 0 if target == "sex" else 1
    model = GenaponClassifier(**{**SMALL, "epochs": 1}, targets=(target,)).fit(events, y[:, column:column + 1])
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
