"""Co-watching communities: a mixture of multinomials over the videos users watch, fitted by EM.

Each community is a distribution over videos; a user's whole history is taken to come from one of
them, and the features are the user's posterior over the communities. Where a class acts through
which videos users watch together (a niche of rarely watched videos), the posterior says which niche
a short history belongs to better than an SVD of the same counts does. Label-free, so it is fitted on
every user with events (test users included); a user without events gets the communities' shares.
Vectorised sparse algebra, no per-user loop; seeded, so the same counts give the same columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

PREFIX = "community"
ITERATIONS = 40
SMOOTHING = 0.1  # pseudo-count per (community, video): a video seen once does not define a community


def community_posteriors(counts: sp.csr_matrix, k: int, seed: int, iterations: int = ITERATIONS) -> np.ndarray:
    """(users x k) float32 posteriors of a k-community mixture of multinomials over the columns of `counts`."""
    counts = sp.csr_matrix(counts, dtype=np.float64)
    rng = np.random.default_rng(seed)
    resp = rng.dirichlet(np.ones(k), counts.shape[0])
    for _ in range(iterations):
        weights = np.asarray(counts.T @ resp).T + SMOOTHING  # (k x videos)
        log_video = np.log(weights) - np.log(weights.sum(axis=1, keepdims=True))
        log_share = np.log(resp.mean(axis=0) + 1e-12)
        log_joint = np.asarray(counts @ log_video.T) + log_share
        resp = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    return resp.astype(np.float32)


def user_communities(interactions, k: int, seed: int, threads: int = 2) -> pd.DataFrame:
    counts, _ = interactions.matrix("rutube_video_id")
    with threadpool_limits(limits=max(1, int(threads))):
        posteriors = community_posteriors(counts, k, seed)
    columns = [f"{PREFIX}_{j:02d}" for j in range(k)]
    return pd.DataFrame(posteriors, index=pd.Index(interactions.users, name="viewer_uid"), columns=columns)
