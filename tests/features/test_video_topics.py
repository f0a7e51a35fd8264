"""Video topics: planted topics are found from titles, authors and categories alone; with labels a video
nobody in the fit watched takes the class shares of its topic, not the prior."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from socdem.features.video_topics import VideoCatalogue, VideoTopics, class_profiles, label_free_topics

TOPICS, PER_TOPIC, WORDS = 6, 100, 10


def planted(seed=0) -> tuple[VideoCatalogue, np.ndarray]:
    """Six topics of 100 videos: a title is two of its topic's ten words and one shared filler (of five),
    an author posts in one topic (ten authors a topic), topics 0-2 are category 0 and 3-5 category 1."""
    rng = np.random.default_rng(seed)
    topic = np.repeat(np.arange(TOPICS), PER_TOPIC)
    n = len(topic)
    own = topic[:, None] * WORDS + rng.integers(0, WORDS, (n, 2))
    filler = TOPICS * WORDS + rng.integers(0, 5, n)
    words = np.column_stack([own, filler])
    stems = sp.csr_matrix((np.ones(words.size), (np.repeat(np.arange(n), 3), words.ravel())))
    stems.data[:] = 1.0  # a word twice in a title counts once
    author = topic * 10 + rng.integers(0, 10, n)
    return VideoCatalogue(stems.tocsr(), topic // 3, author), topic


def purity(resp: np.ndarray, truth: np.ndarray) -> float:
    return pd.crosstab(resp.argmax(axis=1), truth).max(axis=1).sum() / len(truth)


def test_planted_topics_are_found_from_the_catalogue_alone():
    catalogue, topic = planted()
    resp = label_free_topics(catalogue, TOPICS, seed=0)
    assert resp.shape == (TOPICS * PER_TOPIC, TOPICS)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-5)
    assert purity(resp, topic) > 0.95
    np.testing.assert_array_equal(label_free_topics(catalogue, TOPICS, seed=0), resp)


def test_an_unwatched_video_takes_its_topics_class_shares():
    """Viewers of topics 0-2 are 80% women, of 3-5 20%; only the even videos were watched in the fit.
    An odd video's profile follows its topic's."""
    catalogue, topic = planted()
    female_share = np.where(topic < 3, 0.8, 0.2)
    watched = np.arange(len(topic)) % 2 == 0
    class_counts = np.column_stack([female_share, 1 - female_share]) * 10 * watched[:, None]
    start = label_free_topics(catalogue, TOPICS, seed=0)
    profile = class_profiles(catalogue, start, class_counts)
    np.testing.assert_allclose(profile.sum(axis=1), 1.0, rtol=1e-5)
    unseen = ~watched
    assert (np.abs(profile[unseen, 0] - female_share[unseen]) < 0.05).all()

    # with neither titles nor authors, the category alone still tells them apart
    bare = VideoCatalogue(sp.csr_matrix((len(topic), 0)), catalogue.category, np.full(len(topic), -1))
    bare_profile = class_profiles(bare, label_free_topics(bare, TOPICS, seed=0), class_counts)
    assert (np.abs(bare_profile[unseen, 0] - female_share[unseen]) < 0.05).all()


def test_a_users_evidence_sums_the_log_ratios_of_the_videos_watched():
    catalogue, topic = planted()
    women = np.flatnonzero(topic < 3)
    men = np.flatnonzero(topic >= 3)
    # 200 fit users: the first half women who watch topics 0-2, then men who watch 3-5
    rng = np.random.default_rng(1)
    rows = np.repeat(np.arange(200), 5)
    videos = np.where(rows < 100, rng.choice(women[::2], len(rows)), rng.choice(men[::2], len(rows)))
    # then two users who watched one odd (never fitted) video each: a women's topic's, then a men's
    rows = np.r_[rows, 200, 201]
    videos = np.r_[videos, women[1], men[1]]
    counts = sp.csr_matrix((np.ones(len(rows)), (rows, videos)), shape=(202, len(topic)))
    topics = VideoTopics(catalogue, label_free_topics(catalogue, TOPICS, seed=0))
    fit_classes = np.eye(2)[(np.arange(200) >= 100).astype(int)]
    log_ratio = topics.log_ratio(np.asarray(counts[:200].T @ fit_classes))
    evidence = np.asarray(counts[[200, 201]] @ log_ratio)
    assert evidence.shape == (2, 2)
    assert evidence[0, 0] > 0.5 > -0.5 > evidence[0, 1] and evidence[1, 1] > 0.5 > -0.5 > evidence[1, 0]
