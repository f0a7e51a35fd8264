"""Out-of-fold encoders: no training user sees its own label; shuffled labels
carry nothing (ROC-AUC 0.5 +- 0.02), real labels carry signal."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from socdem.config import load_experiment
from socdem.features.fold_encodings import encode_out_of_fold
from socdem.features.out_of_fold import cross_fit, inner_folds, target_labels
from socdem.features.shares import smoothed_shares
from socdem.features.target_encoding import TargetEncoder, user_items, user_stats
from socdem.features.workspace import Workspace


def workspace(data, root, contest="rutube2024", features=None, naive_bayes=None, **target_encoding):
    """The target encoder alone unless `features` switches the naive-Bayes blocks (test_naive_bayes) on;
    `target_encoding`: settings of its [target_encoding] section."""
    features = {"naive_bayes": False, "communities": 0, **(features or {})}
    exp = load_experiment("fast", REPO / "experiments")
    exp.contest = contest
    exp.features = dataclasses.replace(exp.features, **features)
    exp.target_encoding = dataclasses.replace(exp.target_encoding, **target_encoding)
    exp.naive_bayes = dataclasses.replace(exp.naive_bayes, **{"video_topics": 0, **(naive_bayes or {})})
    return Workspace(data, exp, root=root, log=lambda m: None)


def encoder_inputs(ws, uids, encoder: TargetEncoder):
    return user_items(ws.interactions, uids, encoder.levels(), encoder.parents())


@pytest.fixture(scope="module")
def ws(synthetic_contest, tmp_path_factory):
    data = synthetic_contest(6000, seed=11)  # ~4,800 labelled users: AUC sd ~0.008
    return workspace(data, tmp_path_factory.mktemp("te"))


def oof_auc(features: pd.DataFrame, y: np.ndarray) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    return roc_auc_score(y, cross_val_predict(model, features.to_numpy(), y, cv=folds, method="predict_proba")[:, 1])


def pipeline_oof_auc(ws, targets: pd.DataFrame, prefix="te_"):
    """As a model runner uses the encoders: per outer fold, a logistic regression on the cross-fitted
    features of the training users (those whose name starts with `prefix`), scored on the validation
    users' features (fitted on all of train). Several prefixes (a tuple): {prefix: ROC-AUC} from the same
    encodings."""
    prefixes = prefix if isinstance(prefix, tuple) else (prefix,)
    y = targets["female"].to_numpy()
    proba = {p: np.empty(len(targets)) for p in prefixes}
    for train_idx, valid_idx in StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(y, y):
        train = targets.iloc[train_idx]
        fitted, (valid,) = encode_out_of_fold(ws, train, [targets["viewer_uid"].to_numpy()[valid_idx]], seed=3)
        for p in prefixes:
            columns = [c for c in fitted.columns if c.startswith(p)]
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
            model.fit(fitted[columns].to_numpy(), y[train_idx])
            proba[p][valid_idx] = model.predict_proba(valid[columns].to_numpy())[:, 1]
    aucs = {p: roc_auc_score(y, proba[p]) for p in prefixes}
    return aucs if isinstance(prefix, tuple) else aucs[prefix]


def test_frames_share_columns_and_follow_the_uids(ws):
    targets = ws.contest.targets
    train, valid = targets.iloc[::2], targets.iloc[1::2]
    fitted, (predicted, test) = encode_out_of_fold(
        ws, train, [valid["viewer_uid"].to_numpy(), ws.contest.test_users], 0
    )
    assert list(fitted.index) == list(train["viewer_uid"]) and list(predicted.index) == list(valid["viewer_uid"])
    assert list(fitted.columns) == list(predicted.columns) == list(test.columns)
    assert fitted.shape[1] == 2 * 5 * 5  # (author, video) x (female, age0..3) x (mean, std, max, min, evidence)
    for frame in (fitted, predicted, test):
        shares = frame.drop(columns=frame.filter(like="_evidence").columns).to_numpy()
        assert np.isfinite(frame.to_numpy()).all() and shares.min() >= 0 and shares.max() <= 1
    ages = fitted.filter(regex="te_author_age._mean").sum(axis=1)
    np.testing.assert_allclose(ages, 1.0, rtol=1e-5)  # the smoothed age shares stay a distribution


def test_the_encoder_is_a_scikit_learn_estimator_whose_fit_transform_is_cross_fitted(ws):
    targets = ws.contest.targets.iloc[:1500]
    encoder = TargetEncoder(pseudo_count=10.0, inner_folds=4, random_state=2)
    assert clone(encoder).get_params() == encoder.get_params()
    X, y = encoder_inputs(ws, targets["viewer_uid"].to_numpy(), encoder), target_labels(targets, ("sex", "age_class"))
    rows = encoder.fit_transform(X, y)
    assert encoder.fit(X, y) is encoder and not hasattr(TargetEncoder(), "shares_")
    fold = inner_folds(y, 4, 2)
    pd.testing.assert_frame_equal(rows, cross_fit(TargetEncoder(pseudo_count=10.0), X, y, fold))
    # in sample (the labels described included) differs from cross-fitted: fit_transform is not fit + transform
    assert not np.allclose(encoder.transform(X).to_numpy(), rows.to_numpy())
    # a user's cross-fitted row is the transform of the encoder fitted without its inner fold
    held = fold == fold[0]
    alone = TargetEncoder(pseudo_count=10.0).fit(X[np.flatnonzero(~held)], y[~held]).transform(X[np.flatnonzero(held)])
    pd.testing.assert_frame_equal(rows.loc[alone.index], alone)


def test_sex_only_contest_encodes_only_sex(ws):
    train = ws.contest.targets.drop(columns="age_class").iloc[:1000]
    fitted, (other,) = encode_out_of_fold(ws, train, [ws.contest.test_users[:10]], 0)
    assert fitted.shape[1] == other.shape[1] == 2 * 5 and all("_female_" in c for c in fitted.columns)


def test_shuffled_labels_carry_nothing_out_of_fold(ws):
    targets = ws.contest.targets
    aucs = []
    for seed in range(3):  # the mean of 3 shuffles: sd ~0.005 at ~4,800 users
        rng = np.random.default_rng(seed)
        shuffled = targets.assign(
            female=rng.permutation(targets["female"].to_numpy()),
            age_class=rng.permutation(targets["age_class"].to_numpy()),
        )
        aucs.append(pipeline_oof_auc(ws, shuffled))
    assert abs(np.mean(aucs) - 0.5) < 0.02, aucs
    # the same statistics fitted in-sample do leak: the test above could fail
    matrix, _ = ws.interactions.matrix("rutube_video_id")
    counts = matrix[ws.interactions.rows(shuffled["viewer_uid"])]
    watched = (counts > 0).astype(float)
    y = shuffled[["female"]].to_numpy(float)
    shares = smoothed_shares(np.asarray(watched.T @ y), np.asarray(watched.sum(axis=0)).ravel(), y.mean(0), 35.0)
    leaky = pd.DataFrame(user_stats(counts, shares, y.mean(0)))
    assert oof_auc(leaky, shuffled["female"].to_numpy()) > 0.56


def test_real_labels_carry_signal(ws):
    targets = ws.contest.targets
    assert pipeline_oof_auc(ws, targets) > 0.7


def test_a_user_alone_on_an_item_gets_the_prior(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    n = 12
    events = pd.DataFrame(
        {
            "event_timestamp": "2024-06-03 10:00:00+03:00",
            "viewer_uid": np.arange(1, n + 1),
            "rutube_video_id": ["v_shared"] * (n - 1) + ["v_solo"],
            "total_watchtime": 10,
            "region": "Moscow",
            "ua_device_type": "desktop",
            "ua_client_type": "browser",
            "ua_os": "Windows",
            "ua_client_name": "Chrome",
        }
    )
    videos = pd.DataFrame(
        {
            "rutube_video_id": ["v_shared", "v_solo"],
            "title": ["s", "o"],
            "category": ["a", "b"],
            "duration": [60_000, 60_000],
            "author_id": [100, 200],
        }
    )
    female = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1])
    targets = pd.DataFrame(
        {"viewer_uid": np.arange(1, n + 1), "age": 30, "age_class": 1, "sex": np.where(female == 1, "female", "male")}
    )
    events.to_csv(raw / "train_events.csv", index=False)
    videos.to_csv(raw / "video_info_v2.csv", index=False)
    targets.to_csv(raw / "train_targets.csv", index=False)
    # flat smoothing (every item toward the prior): the arithmetic below is by hand
    ws = workspace(raw, tmp_path, inner_folds=3, pseudo_count=2.0, hierarchical=False)
    train = ws.contest.targets
    fitted, (predicted,) = encode_out_of_fold(ws, train, [np.array([n])], seed=5)
    fold = inner_folds(target_labels(train, ("sex", "age_class")), 3, 5)
    prior = train["female"].to_numpy()[fold != fold[-1]].mean()
    solo = fitted.loc[n]
    for item in ("video", "author"):
        for stat in ("mean", "max", "min"):
            assert solo[f"te_{item}_female_{stat}"] == pytest.approx(prior)
        assert solo[f"te_{item}_female_std"] == 0.0
    # fitted on all of train (the user's label included), the solo item moves toward that label
    assert predicted.loc[n, "te_video_female_mean"] == pytest.approx((1 + 2.0 * female.mean()) / (1 + 2.0))
    # a shared-item user's share never includes its own label: other users of its fold are excluded too
    shared_user = 1
    others = (fold != fold[shared_user - 1]) & (np.arange(n) < n - 1)
    expected = (female[others].sum() + 2.0 * female[fold != fold[shared_user - 1]].mean()) / (others.sum() + 2.0)
    assert fitted.loc[shared_user, "te_video_female_mean"] == pytest.approx(expected)


def test_hierarchical_smoothing_backs_a_rare_video_off_to_its_author_and_category(tmp_path):
    """A video one user watched, by an author whose other video only women watch: its share starts
    from the author's (and the author's from its category's), not from the global prior."""
    raw = tmp_path / "raw"
    raw.mkdir()
    n = 40
    female = (np.arange(n) < 20).astype(int)  # users 1..20 female, 21..40 male
    video = np.where(female == 1, "v_pop", "v_other")
    video[0] = "v_rare"  # a woman alone on the author's second video
    events = pd.DataFrame({
        "event_timestamp": "2024-06-03 10:00:00+03:00", "viewer_uid": np.arange(1, n + 1), "rutube_video_id": video,
        "total_watchtime": 10, "region": "Moscow", "ua_device_type": "desktop", "ua_client_type": "browser",
        "ua_os": "Windows", "ua_client_name": "Chrome",
    })  # fmt: skip
    videos = pd.DataFrame({
        "rutube_video_id": ["v_pop", "v_rare", "v_other"], "title": ["p", "r", "o"], "category": ["c1", "c1", "c2"],
        "duration": 60_000, "author_id": [100, 100, 200],
    })  # fmt: skip
    targets = pd.DataFrame(
        {"viewer_uid": np.arange(1, n + 1), "age": 30, "age_class": 1, "sex": np.where(female == 1, "female", "male")}
    )
    events.to_csv(raw / "train_events.csv", index=False)
    videos.to_csv(raw / "video_info_v2.csv", index=False)
    targets.to_csv(raw / "train_targets.csv", index=False)
    train = workspace(raw, tmp_path, inner_folds=2, pseudo_count=5.0).contest.targets
    shares = {}
    for hierarchical in (True, False):
        ws = workspace(raw, tmp_path / str(hierarchical), inner_folds=2, pseudo_count=5.0, hierarchical=hierarchical)
        _, (predicted,) = encode_out_of_fold(ws, train[train["viewer_uid"] != 1], [np.array([1])], seed=0)
        shares[hierarchical] = predicted.loc[1, "te_video_female_mean"]
    prior = female[1:].mean()
    assert shares[False] == pytest.approx(prior)  # nobody else watched v_rare: flat smoothing gives the prior
    author = (19 + 5.0 * ((19 + 5.0 * prior) / (19 + 5.0))) / (19 + 5.0)  # category c1: the same 19 women
    assert shares[True] == pytest.approx(author, rel=1e-6) and shares[True] > 0.9


def test_title_words_are_encoded_out_of_fold_when_switched_on(ws, tmp_path):
    """target_encoding.title_words: each title stem's shares, summarised per user like the authors' and
    videos'; shuffled labels carry nothing through them, real ones carry signal."""
    words = workspace(ws.data_dir, tmp_path, title_words=True)
    targets = words.contest.targets
    fitted, (valid,) = encode_out_of_fold(words, targets.iloc[::2], [targets["viewer_uid"].to_numpy()[1::2]], 0)
    title = fitted.filter(like="te_title_")
    assert fitted.shape[1] == 3 * 5 * 5 and title.shape[1] == 5 * 5 and list(valid.columns) == list(fitted.columns)
    assert title.filter(like="_female_std").to_numpy().max() > 0  # users' stems differ in their shares
    rng = np.random.default_rng(0)
    shuffled = targets.assign(
        female=rng.permutation(targets["female"].to_numpy()), age_class=rng.permutation(targets["age_class"].to_numpy())
    )
    assert abs(pipeline_oof_auc(words, shuffled, "te_title_") - 0.5) < 0.03
    assert pipeline_oof_auc(words, targets, "te_title_") > 0.55
