"""Co-watching communities: planted communities are found, the posteriors are distributions, the
same counts and seed give the same columns, and the feature build adds them unless switched off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from conftest import REPO

from socdem.config import load_experiment
from socdem.features import communities
from socdem.features.build import compute_features
from socdem.features.communities import community_posteriors
from socdem.features.workspace import Workspace


def planted(n_users=300, n_videos=60, seed=0):
    """Users 0..149 watch videos 0..29, the others 30..59; the last user watches nothing."""
    rng = np.random.default_rng(seed)
    group = (np.arange(n_users) >= n_users // 2).astype(int)
    users = np.repeat(np.arange(n_users - 1), 4)
    videos = rng.integers(0, n_videos // 2, len(users)) + group[users] * (n_videos // 2)
    counts = sp.csr_matrix((np.ones(len(users)), (users, videos)), shape=(n_users, n_videos))
    return counts, group


def test_planted_communities_are_found_and_the_posteriors_are_distributions():
    counts, group = planted()
    post = community_posteriors(counts, k=2, seed=0)
    assert post.shape == (300, 2) and post.dtype == np.float32
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-5)
    found = post[:-1].argmax(axis=1)
    agreement = np.mean(found == group[:-1])
    assert max(agreement, 1 - agreement) == 1.0
    np.testing.assert_allclose(post[-1], post[:-1].mean(axis=0), atol=0.02)  # no events: the communities' shares
    np.testing.assert_array_equal(community_posteriors(counts, k=2, seed=0), post)


def test_the_feature_build_adds_communities_unless_switched_off(tiny_contest, tmp_path):
    exp = load_experiment("fast", REPO / "experiments", overrides="features.communities=3")
    features, timings = compute_features(Workspace(tiny_contest, exp, root=tmp_path, log=lambda m: None))
    columns = [c for c in features.columns if c.startswith("community_")]
    assert columns == ["community_00", "community_01", "community_02"] and "communities" in timings["seconds"]
    np.testing.assert_allclose(features[columns].sum(axis=1), 1.0, rtol=1e-4)
    plain_exp = load_experiment("fast", REPO / "experiments", overrides="features.communities=0")
    plain, _ = compute_features(Workspace(tiny_contest, plain_exp, root=tmp_path, log=lambda m: None))
    assert not plain.columns.str.startswith("community_").any()


def niches(low_events: int, high_events: int, n_users=2400, k=8, niche=200, popular=20):
    """Eight communities, each on its own 200 rarely watched videos plus 20 popular ones everyone shares."""
    rng = np.random.default_rng(3)
    group = rng.integers(0, k, n_users)
    events = rng.integers(low_events, high_events, n_users)
    user = np.repeat(np.arange(n_users), events)
    own = rng.random(len(user)) < 0.75
    video = np.where(own, popular + group[user] * niche + rng.integers(0, niche, len(user)),
                     rng.integers(0, popular, len(user)))  # fmt: skip
    return sp.csr_matrix((np.ones(len(user)), (user, video)), shape=(n_users, popular + k * niche)), group


def purity(posteriors: np.ndarray, group: np.ndarray) -> float:
    return pd.crosstab(posteriors.argmax(axis=1), group).to_numpy().max(axis=1).sum() / len(group)


def test_many_small_niches_are_found_from_the_k_means_start():
    """~6 events a user: EM from the k-means start puts (nearly) every user in its community."""
    counts, group = niches(3, 10)
    assert purity(community_posteriors(counts, k=8, seed=0), group) > 0.97


def test_a_mixture_fitted_on_a_sample_assigns_every_user_chunk_by_chunk(monkeypatch):
    """fit_users caps the users EM runs on (a large contest); the others are assigned afterwards, in chunks."""
    counts, group = niches(8, 16)
    monkeypatch.setattr(communities, "CHUNK_USERS", 500)
    posteriors = community_posteriors(counts, k=8, seed=0, fit_users=1200)
    np.testing.assert_allclose(posteriors.sum(axis=1), 1.0, rtol=1e-5)
    assert purity(posteriors, group) > 0.99
