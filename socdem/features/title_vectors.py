"""Titles by meaning: each title as the weighted mean of pretrained Russian word vectors (navec), so
"рыбалка", "удочка" and "щука" land near each other even where a labelled user never saw the word.

The vectors are navec's `news_v1_1B_250K_300d_100q` (250,000 lower-case word forms, 300 dimensions,
product-quantised), the file the natasha 1.6.0 wheel ships: found in an installed natasha (never imported),
else read from the wheel, which `pip download --no-deps natasha==1.6.0` fetches once into SOCDEM_HOME/data/wheels.
A title's words are the lower-case letter runs of features/titles.py; a word navec lacks is replaced by the
most frequent navec form that shares its Snowball stem ("фидером" -> "фидер"), or dropped. Each word weighs
a / (a + p(word)) with p its frequency in navec's corpus (smooth inverse frequency, Arora et al. 2017): "на"
and "как" say little about a title, and the weights need no corpus of ours, so one title alone has its vector.

A user's vector is the event-weighted mean of the vectors of the videos they watched, reduced by a PCA fitted
on all users (labelled and test; no label is read): the `title_vec_*` columns of the label-free features.
"""

from __future__ import annotations

import bisect
import importlib.util
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import PCA

from socdem.features.titles import WORD, stems
from socdem.io import atomic_path, file_digest
from socdem.paths import paths
from socdem.real.wheels import fetch_wheel

PACKAGE, VERSION = "natasha", "1.6.0"
MODEL = "navec_news_v1_1B_250K_300d_100q.tar"
MEMBER = f"natasha/data/emb/{MODEL}"
SIF_A = 1e-4  # smooth inverse frequency's a: words more frequent than this share of the corpus weigh less
PREFIX = "title_vec"
TITLE_VECTORS_CODE_VERSION = 1  # bump it when a title's or a user's vector changes: part of the features' key
MAX_ENDING = 4  # letters an inflection adds to a Snowball stem at most ("-ами", "-иями")


def navec_path(cache_dir: Path | None = None, log=print) -> Path:
    """The navec model file: an installed natasha's, else the one extracted from its wheel in `cache_dir`
    (SOCDEM_HOME/data/wheels), the wheel fetched with pip first where it is not there (SourceError if it cannot be)."""
    spec = importlib.util.find_spec(PACKAGE)  # locates the package without importing it (pymorphy2 fails on 3.11)
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))) / "data" / "emb" / MODEL
        if installed.exists():
            return installed
    cache_dir = Path(cache_dir) if cache_dir is not None else paths().wheels
    model = cache_dir / MODEL
    if not model.exists():
        wheel = fetch_wheel(PACKAGE, VERSION, cache_dir, log, why="navec word vectors inside")
        with zipfile.ZipFile(wheel) as archive, atomic_path(model) as tmp:
            Path(tmp).write_bytes(archive.read(MEMBER))
    return model


def navec_digest(cache_dir: Path | None = None, log=print) -> str:
    """The content hash of the model file: the key of the cached vectors."""
    return file_digest(navec_path(cache_dir, log), paths().digests)


@lru_cache(maxsize=2)
def load_navec(path: str):
    from navec import Navec  # imported only where title vectors are on

    return Navec.load(path)


class WordVectors:
    """navec's words (sorted), their vectors on demand and their SIF weights."""

    def __init__(self, navec):
        self.navec = navec
        self.words = navec.vocab.words
        counts = np.asarray(navec.vocab.counts, dtype=np.float64)
        self.weight = SIF_A / (SIF_A + counts / counts.sum())

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        pq = self.navec.pq
        return pq.codes[pq.qdims, pq.indexes[ids]].reshape(len(ids), pq.dim).astype(np.float32)

    def lookup(self, words) -> np.ndarray:
        """navec's id of each word, of its stem's most frequent form where navec lacks it, else -1."""
        ids = np.array([self.navec.vocab.word_ids.get(w, -1) for w in words], dtype=np.int64)
        missing = np.flatnonzero(ids < 0)
        missing_stems = stems(pd.Index([words[i] for i in missing]))
        forms = self._stem_forms(set(missing_stems.tolist()))
        ids[missing] = [forms.get(stem, -1) for stem in missing_stems]
        return ids

    def _stem_forms(self, wanted: set) -> dict:
        """{stem: the most frequent navec word of that Snowball stem}, every candidate stemmed in one batch."""
        ranges = {}
        for stem in wanted:
            if len(stem) >= 3:  # a shorter stem shares its prefix with too much of the vocabulary
                start = bisect.bisect_left(self.words, stem)
                end = bisect.bisect_left(self.words, stem + "\uffff")
                # an inflection adds a short ending: longer words of that prefix are other words
                ranges[stem] = [i for i in range(start, end) if len(self.words[i]) <= len(stem) + MAX_ENDING]
        candidates = sorted({i for found in ranges.values() for i in found})
        stem_of = dict(zip(candidates, stems(pd.Index([self.words[i] for i in candidates]))))
        counts = self.navec.vocab.counts
        forms = {}
        for stem, found in ranges.items():
            same = [i for i in found if stem_of[i] == stem]
            if same:
                forms[stem] = max(same, key=lambda i: (counts[i], -i))
        return forms


def title_vectors(titles, navec=None) -> np.ndarray:
    """(len(titles), 300) float32: each title's SIF-weighted mean word vector (zeros: no word navec knows)."""
    words = WordVectors(navec if navec is not None else load_navec(str(navec_path())))
    tokens = pd.Series(list(titles), dtype=object).fillna("").astype(str).str.lower().str.findall(WORD).explode()
    tokens = tokens.dropna()
    dim = words.navec.pq.dim
    if tokens.empty:
        return np.zeros((len(titles), dim), dtype=np.float32)
    codes, distinct = pd.factorize(tokens)
    ids = words.lookup(list(distinct))
    known = ids[codes] >= 0
    rows, cols = tokens.index.to_numpy()[known], codes[known]
    weights = sp.csr_matrix((words.weight[ids[cols]], (rows, cols)), shape=(len(titles), len(distinct)))
    weights.sum_duplicates()
    total = np.asarray(weights.sum(axis=1)).ravel()
    weights = sp.diags(np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)) @ weights
    vectors = np.zeros((len(distinct), dim), dtype=np.float32)
    vectors[ids >= 0] = words.vectors(ids[ids >= 0])
    return np.asarray(weights @ vectors, dtype=np.float32)


def video_title_vectors(titles, dims: int, seed: int, log=print) -> np.ndarray:
    """(len(titles) + 1, dims) float32 by video code + 1 (row 0: no video): the PCA (fitted on every video with
    a known word; no label is read) of each title's vector, scaled so the first component has unit spread; zeros
    for a title without a word navec knows."""
    vectors = title_vectors(titles, load_navec(str(navec_path(log=log))))
    out = np.zeros((len(vectors) + 1, dims), dtype=np.float32)
    known = np.abs(vectors).sum(axis=1) > 0
    if known.sum() > dims:
        known_vectors = vectors[known].astype(np.float64)
        pca = PCA(n_components=dims, svd_solver="covariance_eigh", random_state=seed).fit(known_vectors)
        out[1:][known] = pca.transform(known_vectors) / np.sqrt(pca.explained_variance_[0])
    return out


def user_title_vectors(interactions, dims: int, seed: int, log=print) -> pd.DataFrame:
    """`title_vec_0..dims-1` per user: the PCA (fitted on every user) of the event-weighted mean vector of the
    titles they watched; a user with no known title word sits at the mean (zeros)."""
    watched, video_ids = interactions.matrix("rutube_video_id")
    catalogue = interactions.videos
    per_video = np.zeros((len(video_ids), 0), dtype=np.float32)
    if catalogue is not None:
        row = pd.Index(catalogue["rutube_video_id"]).get_indexer(video_ids)  # -1: not in the catalogue
        titles = catalogue["title"].to_numpy(object)[np.maximum(row, 0)]
        per_video = title_vectors(np.where(row >= 0, titles, ""), load_navec(str(navec_path(log=log))))
    has = (np.abs(per_video).sum(axis=1) > 0).astype(np.float32) if per_video.shape[1] else None
    columns = [f"{PREFIX}_{i}" for i in range(dims)]
    index = pd.Index(interactions.users, name="viewer_uid")
    if has is None:
        return pd.DataFrame(0.0, index=index, columns=columns, dtype=np.float32)
    sums, counted = watched @ per_video, watched @ has
    mean = sums / np.maximum(counted, 1.0)[:, None]
    fit_rows = counted > 0
    out = np.zeros((len(index), dims), dtype=np.float32)
    if fit_rows.sum() > dims:
        pca = PCA(n_components=dims, svd_solver="covariance_eigh", random_state=seed).fit(
            mean[fit_rows].astype(np.float64)
        )
        out[fit_rows] = pca.transform(mean[fit_rows].astype(np.float64))
    return pd.DataFrame(out, index=index, columns=columns)
