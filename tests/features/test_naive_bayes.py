"""Naive-Bayes encodings: the community mixture and the channels' evidence are fitted without the
user's own label, a channel that repeats what another says is weighted down, shuffled labels carry
nothing, real labels carry signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from test_target_encoding import pipeline_oof_auc, workspace

from socdem.features.fold_encodings import encode_out_of_fold, feature_rows
from socdem.features.naive_bayes import (
    NaiveBayesEncoder,
    channel_log_ratios,
    community_shares,
    fit_weights,
    joint_classes,
    marginals,
    naive_bayes_inputs,
)
from socdem.features.out_of_fold import target_labels

JOINT = [f"{s}{k}" for s in "fm" for k in range(4)]


@pytest.fixture(scope="module")
def ws(synthetic_contest, tmp_path_factory):
    data = synthetic_contest(6000, seed=11)  # the contest of test_target_encoding
    features, naive_bayes = {"communities": 6, "naive_bayes": True}, {"video_topics": 12}
    return workspace(data, tmp_path_factory.mktemp("nb"), features=features, naive_bayes=naive_bayes)


def test_the_encoder_is_an_estimator_whose_training_rows_are_cross_fitted(ws):
    targets = ws.contest.targets.iloc[:2000]
    inputs = naive_bayes_inputs(ws.features, ws.interactions, 12, ws.exp.seed)
    X, y = inputs[feature_rows(ws.features, targets["viewer_uid"])], target_labels(targets, ("sex", "age_class"))
    encoder = NaiveBayesEncoder(pseudo_count=20.0, inner_folds=3, random_state=1)
    assert clone(encoder).get_params() == encoder.get_params() and not hasattr(encoder, "weights_")
    rows = encoder.fit_transform(X, y)
    assert list(rows.index) == list(targets["viewer_uid"]) and encoder.weights_.shape == (X.n_terms,)
    pd.testing.assert_frame_equal(clone(encoder).fit(X, y).transform(X), encoder.transform(X))
    # cross-fitted rows are not the in-sample ones: the training users' own labels stay out of theirs
    assert not np.allclose(rows.filter(like="te_topics_").to_numpy(), encoder.transform(X).filter(like="te_topics_"))
    # the fits in two threads give the very same values
    threaded = clone(encoder).set_params(n_jobs=2)
    pd.testing.assert_frame_equal(threaded.fit_transform(X, y), rows, check_exact=True)
    pd.testing.assert_frame_equal(threaded.transform(X), encoder.transform(X), check_exact=True)


def test_automatic_inner_folds_are_five_below_the_large_data_line_and_three_from_it(ws, monkeypatch):
    targets = ws.contest.targets.iloc[:1500]
    inputs = naive_bayes_inputs(ws.features, ws.interactions, 12, ws.exp.seed)
    X, y = inputs[feature_rows(ws.features, targets["viewer_uid"])], target_labels(targets, ("sex", "age_class"))

    def rows(inner_folds):
        return NaiveBayesEncoder(pseudo_count=20.0, inner_folds=inner_folds, random_state=1).fit_transform(X, y)

    automatic = rows(0)
    pd.testing.assert_frame_equal(automatic, rows(5), check_exact=True)
    monkeypatch.setattr("socdem.selection.FEW_FOLDS_ROWS", len(targets))
    three = rows(3)
    pd.testing.assert_frame_equal(rows(0), three, check_exact=True)
    assert not np.allclose(automatic.to_numpy(), three.to_numpy())


def test_columns_follow_the_targets_and_the_posterior_is_a_distribution(ws):
    targets = ws.contest.targets
    fitted, (valid,) = encode_out_of_fold(ws, targets.iloc[::2], [targets["viewer_uid"].to_numpy()[1::2]], 0)
    names = [c for c in fitted.columns if c.startswith(("te_community_", "te_topics_", "te_channels_", "te_nbayes_"))]
    assert names == [
        *(f"te_community_{c}_mean" for c in JOINT),
        *(f"te_topics_{c}_evidence" for c in JOINT),
        *(f"te_channels_{c}_evidence" for c in JOINT),
        *(f"te_nbayes_{c}" for c in ("female", "age0", "age1", "age2", "age3")),
    ]
    assert list(valid.columns) == list(fitted.columns)
    for frame in (fitted, valid):
        np.testing.assert_allclose(frame.filter(regex="te_community_").sum(axis=1), 1.0, rtol=1e-4)
        np.testing.assert_allclose(frame.filter(regex="te_nbayes_age").sum(axis=1), 1.0, rtol=1e-4)
        assert frame["te_nbayes_female"].between(0, 1).all()
    sex_only = targets.drop(columns="age_class").iloc[::2]
    fitted, _ = encode_out_of_fold(ws, sex_only, [targets["viewer_uid"].to_numpy()[1::2]], 0)
    assert list(fitted.filter(regex="te_(community|topics|channels|nbayes)_").columns) == [
        "te_community_f_mean", "te_community_m_mean", "te_topics_f_evidence", "te_topics_m_evidence",
        "te_channels_f_evidence", "te_channels_m_evidence", "te_nbayes_female",
    ]  # fmt: skip


def test_shuffled_labels_carry_nothing_and_real_labels_carry_signal(ws):
    targets = ws.contest.targets
    rng = np.random.default_rng(0)
    shuffled = targets.assign(
        female=rng.permutation(targets["female"].to_numpy()), age_class=rng.permutation(targets["age_class"].to_numpy())
    )
    for prefix, auc in pipeline_oof_auc(ws, shuffled, ("te_topics_", "te_channels_", "te_nbayes_")).items():
        assert abs(auc - 0.5) < 0.03, prefix
    real = pipeline_oof_auc(ws, targets, ("te_topics_", "te_nbayes_"))
    assert real["te_topics_"] > 0.6 and real["te_nbayes_"] > 0.6, real


def test_the_mixture_and_the_evidence_by_hand():
    """Fitted on the given users only: a community's smoothed class shares; a value's log-ratio per event."""
    posteriors = np.eye(3)[[0, 0, 1, 1, 2, 2]]
    classes = joint_classes(np.array([[1.0], [0.0], [1.0], [1.0], [0.0], [0.0]]), ["female"])[0]
    mixture = np.eye(3)[[0]] @ community_shares(posteriors, classes, 2.0)
    prior = classes.mean(axis=0)
    np.testing.assert_allclose(mixture[0], (classes[:2].sum(axis=0) + 2.0 * prior) / (2 + 2.0))
    counts = sp.csr_matrix(np.array([[3, 0], [0, 3], [2, 1], [3, 0], [0, 2], [1, 1]], dtype=float))
    apply = sp.csr_matrix(np.array([[2.0, 0.0]]))
    evidence = np.asarray(apply @ channel_log_ratios(counts, classes, 1.0).T)
    per_class = np.array([[8.0, 1.0], [1.0, 6.0]])  # value counts of the women (rows 0, 2, 3) and the men
    overall = per_class.sum(axis=0) / per_class.sum()
    smoothed = (per_class + overall) / (per_class.sum(axis=1, keepdims=True) + 1.0)
    np.testing.assert_allclose(evidence[0], 2 * (np.log(smoothed[:, 0]) - np.log(overall[0])))
    assert evidence[0, 0] > 0 > evidence[0, 1]  # value 0 is mostly women's
    np.testing.assert_allclose(marginals(np.array([[0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.05, 0.05]]), ["female"] * 5),
                               [[0.7, 0.2, 0.3, 0.35, 0.15]])  # fmt: skip


def test_a_channel_that_repeats_another_is_weighted_down():
    """Term 1 is the class's own evidence; term 2 repeats it exactly (naive Bayes would count it twice);
    term 3 is noise: the weights keep one copy's worth on the first two together and drop the noise."""
    rng = np.random.default_rng(0)
    n = 4000
    cls = rng.integers(0, 2, n)
    x = rng.normal(np.where(cls == 1, 0.8, -0.8), 1.0)
    signal = -((x[:, None] - np.array([-0.8, 0.8])[None, :]) ** 2) / 2  # the exact log-likelihood of each class
    prior = np.log(np.full((n, 2), 0.5))
    terms = np.stack([prior, signal, signal, rng.normal(0, 1.0, (n, 2))])
    weights = fit_weights(terms, np.eye(2)[cls])
    assert weights[1] + weights[2] == pytest.approx(1.0, abs=0.15) and weights[3] < 0.1
    assert pd.Series(weights).between(0, 2).all()
