"""Video topics: a mixture over the videos of their title words, author and category, read together
with the class of their viewers, so that a rarely watched video borrows the class shares of the
videos it resembles instead of the prior's.

Each video has one topic; given it, its title stems, its author and its category are independent
draws (the author plays the role of a document: an author posts in a few topics). Label-free start:
k-means on the videos' title stems, their author's stems and their category, then EM of that mixture
over every video of the contest. Fitted with labels (on the fit users only, so out of fold): the same
EM with one more observation per video, the classes of its viewers' events, each drawn from
P(class | topic). A video's class profile is then sum_topics P(topic | video, viewers) P(class | topic):
a popular video's viewers pin its topic, a rare one's title and author do. A user's evidence is the
naive-Bayes term of the videos watched, sum_events log(P(class | video) / P(class)).
Vectorised sparse algebra over videos, no per-user loop; seeded and a fixed number of iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize

from socdem.features.em import kmeans_responsibilities, normalise_rows
from socdem.features.shares import smoothed_shares

START_DIMS = 64
SMOOTHING = 0.1  # pseudo-count per (topic, value)
CLASS_SMOOTHING = 1.0  # pseudo-events per topic, spread as the overall class shares
START_ITERATIONS = 40  # label-free EM
FIT_ITERATIONS = 30  # EM with the viewers' classes from that start; fewer lose score, more gain none (docs/results.md)


@dataclass
class VideoCatalogue:
    """The label-free observations of each video (the columns of the user x video matrix): its title stems
    and its category (words a topic emits), its author (a document: it posts in a few topics). A video
    outside the catalogue has no stems and code -1."""

    stems: sp.csr_matrix  # (videos x stems) 0/1
    category: np.ndarray  # (videos,) codes, -1: none
    author: np.ndarray  # (videos,) codes, -1: none

    def __post_init__(self):
        self.stems = sp.csr_matrix(self.stems, dtype=np.float32)
        self.stems_by_stem = self.stems.T.tocsr()
        self.videos_by_category = one_hot(self.category).T.tocsr()
        self.videos_by_author = one_hot(self.author).T.tocsr()

    @property
    def n_videos(self) -> int:
        return self.stems.shape[0]


def one_hot(codes: np.ndarray) -> sp.csr_matrix:
    """(len(codes) x values) 0/1 float32; a negative code (none) is an empty row."""
    known = np.flatnonzero(codes >= 0)
    shape = (len(codes), int(codes.max(initial=-1)) + 1)
    return sp.csr_matrix((np.ones(len(known), dtype=np.float32), (known, codes[known])), shape=shape)


def video_catalogue(interactions) -> VideoCatalogue:
    return VideoCatalogue(
        interactions.video_title_stems()[0],
        interactions.parents("rutube_video_id", "category"),
        interactions.parents("rutube_video_id", "author_id"),
    )


def start_profile(catalogue: VideoCatalogue) -> sp.csr_matrix:
    """What the k-means start reads: a video's own stems, its author's stems (what the author's other
    titles say: most titles hold only a few words) and its category, each block TF-IDF weighted. Read
    through a plain SVD: the communities' TF-IDF SVD of it (weighted twice) starts EM worse (docs/results.md)."""
    stems, author = catalogue.stems, one_hot(catalogue.author)
    author_stems = author @ (author.T @ stems)
    parts = [TfidfTransformer().fit_transform(block) for block in (stems, author_stems) if block.shape[1] > 0]
    return sp.hstack([*parts, one_hot(catalogue.category)]).tocsr()


def log_shares(weights: np.ndarray, axis: int) -> np.ndarray:
    weights = weights + np.float32(SMOOTHING)
    return np.log(weights) - np.log(weights.sum(axis=axis, keepdims=True))


def mixture_log_lik(catalogue: VideoCatalogue, resp: np.ndarray) -> np.ndarray:
    """M then E step's data term, (videos x k) float32: log P(topic | author) (the overall P(topic) for a
    video without one) + log P(category | topic) + sum over the title's stems of log P(stem | topic).
    One-hot blocks are looked up by code, not multiplied: faster, for the same values."""
    resp = resp.astype(np.float32, copy=False)
    overall = np.log(resp.mean(axis=0) + np.float32(1e-12))
    by_author = log_shares(catalogue.videos_by_author @ resp, axis=1)  # (authors x k)
    log_lik = np.vstack([by_author, overall])[catalogue.author]  # code -1: the last row
    if catalogue.videos_by_category.shape[0] > 0:
        by_category = log_shares(catalogue.videos_by_category @ resp, axis=0)  # (categories x k)
        log_lik += np.vstack([by_category, np.zeros_like(overall)])[catalogue.category]
    if catalogue.stems.shape[1] > 0:
        log_lik += catalogue.stems @ log_shares(catalogue.stems_by_stem @ resp, axis=0)
    return log_lik


def label_free_topics(catalogue: VideoCatalogue, k: int, seed: int) -> np.ndarray:
    """(videos x k) P(topic | title, author, category)."""
    k = max(1, min(k, catalogue.n_videos))
    profile = start_profile(catalogue)
    dims = min(START_DIMS, profile.shape[1] - 1, catalogue.n_videos - 1)
    if dims < 1:
        resp = np.random.default_rng(seed).dirichlet(np.ones(k), catalogue.n_videos)
    else:
        resp = kmeans_responsibilities(normalize(TruncatedSVD(dims, random_state=seed).fit_transform(profile)), k, seed)
    for _ in range(START_ITERATIONS):
        resp = mixture_log_lik(catalogue, resp)
        normalise_rows(resp)
    return resp


def class_profiles(catalogue: VideoCatalogue, start: np.ndarray, class_counts: np.ndarray) -> np.ndarray:
    """(videos x classes) P(class | video) given the fit users' events (class_counts: videos x classes)."""
    class_counts = class_counts.astype(np.float32)
    prior = class_counts.sum(axis=0) + np.float32(1e-9)
    prior /= prior.sum()

    def topic_shares(resp):  # (k x classes) P(class | topic)
        per_topic = resp.T @ class_counts
        return smoothed_shares(per_topic, per_topic.sum(axis=1), prior, CLASS_SMOOTHING)

    resp = start
    for _ in range(FIT_ITERATIONS):
        log_class = np.log(topic_shares(resp))
        resp = mixture_log_lik(catalogue, resp)
        resp += class_counts @ log_class.T
        normalise_rows(resp)
    return resp.astype(np.float64) @ topic_shares(resp).astype(np.float64)


@dataclass
class VideoTopics:
    """The label-free part, built once a run: the catalogue and the label-free topics EM starts from."""

    catalogue: VideoCatalogue
    start: np.ndarray  # (videos x k)

    def log_ratio(self, class_counts: np.ndarray) -> np.ndarray:
        """(videos x classes) log(P(class | video) / P(class)), the profiles fitted on some users' events
        (class_counts: videos x classes, their events' classes); a user's evidence is counts @ this."""
        prior = class_counts.sum(axis=0) + 1e-9
        return np.log(class_profiles(self.catalogue, self.start, class_counts)) - np.log(prior / prior.sum())


def video_topics(interactions, k: int, seed: int) -> VideoTopics:
    """The label-free part, fitted once a run (each fold's encodings reuse it)."""

    def build(inter) -> VideoTopics:
        catalogue = video_catalogue(inter)
        return VideoTopics(catalogue, label_free_topics(catalogue, k, seed))

    return interactions.derived(("video_topics", k, seed), build)
