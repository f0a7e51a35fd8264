"""The expectation-maximisation steps the mixtures share: a k-means start and the in-place posterior.

The co-watching communities (communities.py, users over videos) and the video topics (video_topics.py,
videos over their words, author and category) are both mixtures fitted by EM from responsibilities
that k-means gives; both normalise a log joint into a posterior row by row.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

INIT_SAMPLE = 50_000  # rows the k-means start is fitted on; every row is then assigned
INIT_WEIGHT = 0.9  # of a row's starting responsibility on its k-means cluster


def kmeans_responsibilities(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(rows x k): INIT_WEIGHT on each row's k-means cluster (fitted on at most INIT_SAMPLE rows), the rest
    spread evenly; a zero row gets 1 / k everywhere, and too few rows for k centres a seeded random start."""
    n_rows = len(vectors)
    has = np.flatnonzero(np.abs(vectors).sum(axis=1) > 0)
    start = np.full((n_rows, k), 1.0 / k)
    if len(has) < 2 * k:  # too few rows to place k centres
        return np.random.default_rng(seed).dirichlet(np.ones(k), n_rows)
    fit_rows = has
    if len(has) > INIT_SAMPLE:
        fit_rows = np.sort(np.random.default_rng(seed).choice(has, INIT_SAMPLE, replace=False))
    # two starts: one alone can settle with two planted niches merged
    # no more centres than distinct rows (videos known by their category alone): the others start empty
    centres = min(k, len(np.unique(vectors[fit_rows], axis=0)))
    kmeans = KMeans(n_clusters=centres, n_init=2, random_state=seed).fit(vectors[fit_rows])
    cluster = kmeans.predict(vectors[has])
    start[has] = (1 - INIT_WEIGHT) / k
    start[has, cluster] += INIT_WEIGHT
    return start


def normalise_rows(log_joint: np.ndarray) -> np.ndarray:
    """Each row's log-sum-exp; `log_joint` becomes the row-normalised exp in place (a posterior)."""
    peak = log_joint.max(axis=1, keepdims=True)
    log_joint -= peak
    np.exp(log_joint, out=log_joint)
    total = log_joint.sum(axis=1, keepdims=True)
    log_joint /= total
    return (peak + np.log(total)).ravel()
