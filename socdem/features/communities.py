"""Co-watching communities: a mixture of multinomials over the videos users watch, fitted by EM.

Each community is a distribution over videos; a user's whole history is taken to come from one of
them, and the features are the user's posterior over the communities. Where a class acts through
which videos users watch together (a niche of rarely watched videos), the posterior says which niche
a short history belongs to better than an SVD of the same counts does. Label-free, so it is fitted on
the users with events, test users included (a sample of them in a large contest, see
community_posteriors); a user without events gets the communities' shares. Read by CatBoost's class
mixture (naive_bayes.py), not by the models directly.
Vectorised sparse algebra, no per-user loop; seeded, so the same counts give the same columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from socdem.features.em import kmeans_responsibilities, normalise_rows
from socdem.features.embeddings import tfidf_svd

PREFIX = "community"
MAX_ITERATIONS = 200
# nats a user: EM stops when an iteration gains less log-likelihood than this; a tighter one runs twice the
# iterations for the same encoded scores (docs/results.md)
TOLERANCE = 1e-3
SMOOTHING = 0.1  # pseudo-count per (community, video): a video seen once does not define a community
FIT_USERS = 50_000  # EM runs on at most this many users with events; then one step over every user
CHUNK_USERS = 250_000  # users assigned at a time: bounded (chunk x k) dense arrays
INIT_DIMS = 64


def kmeans_start(counts: sp.csr_matrix, k: int, seed: int) -> np.ndarray:
    """(users x k) starting responsibilities from k-means on the users' unit TF-IDF SVD vectors.

    EM from random responsibilities settles in a poor optimum (niches merged, others split); from
    k-means it ends near the planted communities' likelihood and scores (docs/results.md)."""
    return kmeans_responsibilities(normalize(tfidf_svd(counts, INIT_DIMS, seed)), k, seed)


def fit_mixture(counts: sp.csr_matrix, k: int, seed: int, max_iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """(log P(video | community): k x videos, log community shares: k) by EM on `counts` (users with
    events), run until an iteration gains under TOLERANCE nats a user. In float32 with the transpose
    kept and the posterior normalised in place: far faster than float64 with scipy's logsumexp, for the
    same encoded scores on the families (docs/results.md)."""
    counts = sp.csr_matrix(counts, dtype=np.float32)
    by_video = counts.T.tocsr()
    resp = kmeans_start(counts, k, seed).astype(np.float32)
    previous = -np.inf
    for _ in range(max_iterations):
        weights = (by_video @ resp).T + np.float32(SMOOTHING)  # (k x videos)
        log_video = np.log(weights) - np.log(weights.sum(axis=1, keepdims=True))
        log_share = np.log(resp.mean(axis=0) + np.float32(1e-12))
        resp = counts @ np.ascontiguousarray(log_video.T)
        resp += log_share
        mean_log_lik = float(normalise_rows(resp).mean())
        if mean_log_lik - previous < TOLERANCE:
            break
        previous = mean_log_lik
    return log_video, log_share


def assign(counts: sp.csr_matrix, log_video: np.ndarray, log_share: np.ndarray) -> np.ndarray:
    """(users x k) float32 posteriors under a fitted mixture, CHUNK_USERS users at a time."""
    by_community = np.ascontiguousarray(log_video.T)
    out = np.empty((counts.shape[0], len(log_share)), dtype=np.float32)
    for first in range(0, counts.shape[0], CHUNK_USERS):
        part = counts[first : first + CHUNK_USERS].astype(np.float32) @ by_community
        part += log_share
        normalise_rows(part)
        out[first : first + CHUNK_USERS] = part
    return out


def community_posteriors(
    counts: sp.csr_matrix, k: int, seed: int, max_iterations: int = MAX_ITERATIONS, fit_users: int = FIT_USERS
) -> np.ndarray:
    """(users x k) float32 posteriors of a k-community mixture of multinomials over the columns of `counts`.

    Above `fit_users` users with events, EM runs on a seeded sample of them; then one EM step over every
    user (chunk by chunk) gives each video its communities from all its viewers, a rare one's included,
    and every user is assigned: a contest of millions of users costs a few passes over its events, not
    millions of users x k per iteration. A user without events gets the communities' shares."""
    counts = sp.csr_matrix(counts)
    has = np.flatnonzero(np.diff(counts.indptr) > 0)
    sampled = len(has) > fit_users
    if sampled:
        has = np.sort(np.random.default_rng(seed).choice(has, fit_users, replace=False))
    log_video, log_share = fit_mixture(counts[has], k, seed, max_iterations)
    if sampled:
        resp = assign(counts, log_video, log_share)
        weights = np.zeros((counts.shape[1], k), dtype=np.float32)
        for first in range(0, counts.shape[0], CHUNK_USERS):
            part = counts[first : first + CHUNK_USERS].astype(np.float32)
            weights += part.T @ resp[first : first + CHUNK_USERS]
        weights = weights.T + np.float32(SMOOTHING)
        log_video = np.log(weights) - np.log(weights.sum(axis=1, keepdims=True))
        log_share = np.log(resp[np.diff(counts.indptr) > 0].mean(axis=0) + np.float32(1e-12))
        del resp
    return assign(counts, log_video, log_share)


def community_columns(features: pd.DataFrame) -> list[str]:
    return [c for c in features.columns if c.startswith(f"{PREFIX}_")]


def user_communities(interactions, k: int, seed: int, threads: int = 2) -> pd.DataFrame:
    counts, _ = interactions.matrix("rutube_video_id")
    with threadpool_limits(limits=max(1, int(threads))):
        posteriors = community_posteriors(counts, k, seed)
    columns = [f"{PREFIX}_{j:02d}" for j in range(k)]
    return pd.DataFrame(posteriors, index=pd.Index(interactions.users, name="viewer_uid"), columns=columns)
