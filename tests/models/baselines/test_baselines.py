from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from socdem.models.baselines.estimators import AuthorShare, TopClass


def test_estimators_clone_and_round_trip_params():
    for est in (TopClass(), AuthorShare(pseudo_count=3.0)):
        twin = clone(est)
        assert twin.get_params() == est.get_params()
    assert clone(AuthorShare(pseudo_count=3.0)).pseudo_count == 3.0


def test_author_share_learns_author_shares_smoothed_to_prior():
    # authors 0 and 1 are watched by women, author 2 by men; user rows = counts
    X = sp.csr_matrix(np.array([[3, 0, 0], [1, 2, 0], [0, 0, 4], [0, 0, 1]], dtype=float))
    y = np.array([1, 1, 0, 0])
    model = AuthorShare(pseudo_count=1.0).fit(X, y)
    assert list(model.classes_) == [0, 1]
    proba = model.predict_proba(sp.csr_matrix(np.array([[2, 0, 0], [0, 0, 2], [0, 0, 0]], dtype=float)))
    assert proba[0, 1] > 0.5 > proba[1, 1]
    np.testing.assert_allclose(proba[2], model.prior_)  # no events → the prior
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_top_class_predicts_the_prior():
    model = TopClass().fit(np.zeros((5, 1)), [0, 1, 1, 2, 2])
    np.testing.assert_allclose(model.predict_proba(np.zeros((2, 1))), [[0.2, 0.4, 0.4]] * 2)
