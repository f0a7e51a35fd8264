"""User embeddings: truncated SVD of the TF-IDF weighted user x item counts.

Label-free, so they are fitted on every user with events (test users
included). Items seen by a single user carry no co-occurrence and are
dropped before the SVD; users without events get the zero vector.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer
from threadpoolctl import threadpool_limits

PREFIX = {"author_id": "svd_author", "rutube_video_id": "svd_video", "title_word": "svd_title"}


def tfidf_svd(counts: sp.csr_matrix, dims: int, seed: int, min_users: int = 2, n_iter: int = 2) -> np.ndarray:
    """(users x dims) float32; rows without any kept item are zero."""
    counts = sp.csr_matrix(counts)
    users_per_item = np.bincount(counts.indices, minlength=counts.shape[1])
    kept = np.flatnonzero(users_per_item >= min_users)
    if len(kept) < counts.shape[1]:
        counts = counts[:, kept]
    dims = min(dims, counts.shape[1] - 1, counts.shape[0] - 1)
    out = np.zeros((counts.shape[0], max(dims, 0)), dtype=np.float32)
    has_items = np.diff(counts.indptr) > 0
    if dims < 1 or has_items.sum() <= dims:
        return out
    # copies only where needed (a large contest's title-word matrix is the largest of them); a copy of
    # our own is weighted in place, the caller's matrix never
    own = len(kept) < len(users_per_item) or not has_items.all()
    if not has_items.all():
        counts = counts[has_items]
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
    weighted = tfidf.transform(counts, copy=not own).astype(np.float32, copy=False)
    del counts
    # float32 and 2 power iterations: nearly the variance of 4 in float64 in far less time (docs/results.md)
    svd = TruncatedSVD(n_components=dims, algorithm="randomized", n_iter=n_iter, random_state=seed)
    out[has_items] = svd.fit_transform(weighted).astype(np.float32, copy=False)
    return out


def user_embeddings(interactions, item: str, dims: int, seed: int, threads: int = 2) -> pd.DataFrame:
    counts, _ = interactions.matrix(item)
    with threadpool_limits(limits=max(1, int(threads))):
        vectors = tfidf_svd(counts, dims, seed)
    columns = [f"{PREFIX[item]}_{k:02d}" for k in range(vectors.shape[1])]
    return pd.DataFrame(vectors, index=pd.Index(interactions.users, name="viewer_uid"), columns=columns)
