"""Naive-Bayes encodings of the joint class, fitted out of fold.

Label-dependent blocks that model the class the generative way rather than per item:
- the community mixture: with co-watching communities among the label-free features, each
  community's class shares (among the training users, each weighted by its posterior) mixed per
  user by the user's posterior: P(class | videos) where the class acts on them through a community;
- the video topics' evidence (video_topics.py): sum_events log(P(class | video) / P(class)), a rare
  video's class shares taken from the topic its title, author and category place it in;
- the channel evidence: per channel (local hour, weekday: counted over events; the device profile and
  the home region: once a user), the naive-Bayes log-likelihood ratio of the user's values under each
  class, sum_values n_v log(P(v | class) / P(v)), summed over the channels.
Together they give the naive-Bayes posterior of the class (`te_nbayes_*`): one column trees need not
assemble from many weak ones. The classes are the 8 joint ones (sex x age class) when both targets
are present, the two sexes when only sex is.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, clone

from socdem.config import NaiveBayesConfig
from socdem.features.communities import community_columns
from socdem.features.out_of_fold import OutOfFoldEncoder, cross_fit, encoded_frame, inner_folds, label_columns
from socdem.features.shares import smoothed_shares
from socdem.features.video_topics import VideoTopics, video_topics
from socdem.selection import auto_inner_folds

COUNTED = {"hour": r"hour_\d\d_share", "weekday": r"weekday_\d_share"}  # shares of the user's events
ONCE = {"profile": ("top_device", "top_os", "top_client"), "region": ("top_region",)}  # one value a user
MAX_WEIGHT = 2.0
DEFAULTS = NaiveBayesConfig()


def joint_classes(labels: np.ndarray, classes: list[str]) -> tuple[np.ndarray, list[str]]:
    """(users x joint classes) one-hot and their names: f0..f3, m0..m3 with both targets, f, m with sex only."""
    female = labels[:, :1]
    if len(classes) < 5:
        return np.hstack([female, 1 - female]), ["f", "m"]
    joint = np.hstack([female * labels[:, 1:5], (1 - female) * labels[:, 1:5]])
    return joint, [f"{s}{k}" for s in ("f", "m") for k in range(4)]


def marginals(joint: np.ndarray, classes: list[str]) -> np.ndarray:
    """(users x classes): P(female) and, with both targets, P(age 0..3), from joint probabilities."""
    if len(classes) < 5:
        return joint[:, :1]
    return np.hstack([joint[:, :4].sum(axis=1, keepdims=True), joint[:, :4] + joint[:, 4:]])


def channel_counts(features: pd.DataFrame) -> list[sp.csr_matrix]:
    """Per channel the label-free features hold, (users x values) counts, in the rows of `features`."""
    blocks = []
    events = features["events"].to_numpy(np.float64) if "events" in features.columns else None
    for pattern in COUNTED.values():
        shares = features.filter(regex=f"^{pattern}$")
        if events is not None and shares.shape[1] > 0:
            blocks.append(sp.csr_matrix(shares.to_numpy(np.float64) * events[:, None]))
    for columns in ONCE.values():
        if all(c in features.columns for c in columns):
            codes = features.groupby(list(columns), sort=True, observed=True, dropna=False).ngroup().to_numpy()
            one_hot = (np.ones(len(codes)), (np.arange(len(codes)), codes))
            blocks.append(sp.csr_matrix(one_hot, shape=(len(codes), int(codes.max()) + 1)))
    return blocks


def channel_log_ratios(fit: sp.csr_matrix, fit_classes: np.ndarray, pseudo: float) -> np.ndarray:
    """(joint classes x values) log(P(v | class) / P(v)) of a channel: the per-class distributions from the
    fit users' counts, each smoothed toward P(v) with `pseudo` counts. A user's evidence is counts @ this.T."""
    per_class = np.asarray((fit.T @ fit_classes).T)  # (classes x values)
    overall = per_class.sum(axis=0) + 1e-9
    overall /= overall.sum()
    smoothed = smoothed_shares(per_class, per_class.sum(axis=1), overall, pseudo)
    return np.log(smoothed) - np.log(overall)


def community_shares(posteriors: np.ndarray, fit_classes: np.ndarray, pseudo: float) -> np.ndarray:
    """(communities x classes): each community's class shares among the fit users (each weighted by its
    posterior, smoothed toward their prior). A user's mixture is posteriors @ this: the class posterior
    itself where the class acts on the videos only through the community."""
    prior = fit_classes.mean(axis=0)
    return smoothed_shares(posteriors.T @ fit_classes, posteriors.sum(axis=0), prior, pseudo)


@dataclass
class NaiveBayesInputs:
    """What the naive-Bayes terms read for some users, label-free: the input of NaiveBayesEncoder, sliced by row
    positions (the video topics' label-free start is shared by every slice)."""

    users: np.ndarray  # viewer_uid of each row
    channels: list  # per channel, (users x values) counts (channel_counts)
    posteriors: np.ndarray | None  # (users x communities), or None without communities
    video_counts: sp.csr_matrix | None  # (users x videos) events, with the topics
    topics: VideoTopics | None  # the video topics, or None when off

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, rows) -> NaiveBayesInputs:
        return NaiveBayesInputs(
            self.users[rows],
            [counts[rows] for counts in self.channels],
            None if self.posteriors is None else self.posteriors[rows],
            None if self.video_counts is None else self.video_counts[rows],
            self.topics,
        )

    @property
    def n_terms(self) -> int:
        return 1 + (self.topics is not None) + len(self.channels)


def naive_bayes_inputs(features: pd.DataFrame, interactions, video_topics_k: int, seed: int) -> NaiveBayesInputs:
    """The inputs of every user of the label-free `features` (its rows, in its order)."""
    communities = community_columns(features)
    topics, video_counts = None, None
    if video_topics_k > 0:
        topics = video_topics(interactions, video_topics_k, seed)
        video_counts, _ = interactions.matrix("rutube_video_id")
        if not np.array_equal(interactions.users, features.index.to_numpy()):
            video_counts = video_counts[interactions.rows(features.index.to_numpy())]
    posteriors = features[communities].to_numpy(np.float64) if communities else None
    return NaiveBayesInputs(features.index.to_numpy(), channel_counts(features), posteriors, video_counts, topics)


class NaiveBayesTerms(BaseEstimator):
    """The naive-Bayes terms of each joint class fitted on some users (y: their joint classes one-hot): the log
    community mixture (the log prior without communities), the video topics' evidence where on, then each
    channel's evidence. transform gives (users x terms x joint classes)."""

    def __init__(self, pseudo_count=DEFAULTS.pseudo_count):
        self.pseudo_count = pseudo_count

    def fit(self, X: NaiveBayesInputs, y: np.ndarray) -> NaiveBayesTerms:
        self.prior_ = y.mean(axis=0)
        self.community_shares_ = None
        if X.posteriors is not None:
            self.community_shares_ = community_shares(X.posteriors, y, self.pseudo_count)
        self.topic_log_ratio_ = None
        if X.topics is not None:
            self.topic_log_ratio_ = X.topics.log_ratio(np.asarray(X.video_counts.T @ y))
        self.channel_log_ratios_ = [channel_log_ratios(counts, y, self.pseudo_count) for counts in X.channels]
        return self

    def transform(self, X: NaiveBayesInputs) -> np.ndarray:
        if self.community_shares_ is not None:
            mixture = X.posteriors @ self.community_shares_
        else:
            mixture = np.tile(self.prior_, (len(X), 1))
        terms = [np.log(np.clip(mixture, 1e-9, None))]
        if self.topic_log_ratio_ is not None:
            terms.append(np.asarray(X.video_counts @ self.topic_log_ratio_))
        for counts, log_ratios in zip(X.channels, self.channel_log_ratios_):
            terms.append(np.asarray(counts @ log_ratios.T))
        return np.stack(terms, axis=1)


def log_posterior(terms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    logits = np.tensordot(weights, terms, axes=1)
    return logits - logsumexp(logits, axis=1, keepdims=True)


def fit_weights(terms: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """One non-negative weight a term (at most MAX_WEIGHT), by the multinomial log-loss of the class.

    Naive Bayes counts every channel as independent evidence; where a channel is not (in the co-watching
    family the hour follows the community the videos already tell) or is noise, its weight falls toward 0.
    A handful of weights fitted on the training users' cross-fitted terms, so it cannot learn the labels."""
    observed = (terms * classes[None]).sum(axis=2)  # (terms x users)

    def loss(weights):
        log_p = log_posterior(terms, weights)
        p = np.exp(log_p)
        gradient = -(observed - (terms * p[None]).sum(axis=2)).sum(axis=1)
        return -(log_p * classes).sum(), gradient

    start = np.ones(len(terms))
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[(0.0, MAX_WEIGHT)] * len(terms))
    return result.x


def _terms_first(terms: np.ndarray) -> np.ndarray:
    """(terms x users x classes), contiguous: the layout the weights and the posterior are computed in."""
    return np.ascontiguousarray(terms.transpose(1, 0, 2))


class NaiveBayesEncoder(OutOfFoldEncoder):
    """The naive-Bayes encodings of the joint class: the community mixture, the topics' and the channels'
    evidence, and their posterior with one fitted weight a term (`te_nbayes_*`).

    fit cross-fits the terms on the training users' inner folds, fits the weights on those cross-fitted
    terms, then the terms on every training user (those fits in `n_jobs` threads); fit_transform returns the
    training users' rows from the same cross-fitted terms."""

    def __init__(
        self, pseudo_count=DEFAULTS.pseudo_count, inner_folds=DEFAULTS.inner_folds, random_state=None, n_jobs: int = 1
    ):
        self.pseudo_count = pseudo_count
        self.inner_folds = inner_folds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: NaiveBayesInputs, y) -> NaiveBayesEncoder:
        self._fit(X, y)
        return self

    def fit_transform(self, X: NaiveBayesInputs, y) -> pd.DataFrame:
        return self._frame(self._fit(X, y), X.users)

    def transform(self, X: NaiveBayesInputs) -> pd.DataFrame:
        return self._frame(_terms_first(self.terms_.transform(X)), X.users)

    def _fit(self, X: NaiveBayesInputs, y) -> np.ndarray:
        """Fits the encoder; returns the training users' cross-fitted terms (terms first)."""
        y = np.asarray(y).reshape(len(y), -1)
        labels, self.classes_ = label_columns(y)
        joint, self.joint_names_ = joint_classes(labels, self.classes_)
        self.communities_, self.topics_ = X.posteriors is not None, X.topics is not None
        n_folds = auto_inner_folds(self.inner_folds, len(y))
        terms, folds = NaiveBayesTerms(self.pseudo_count), inner_folds(y, n_folds, self.random_state)
        # the inner folds' fits and the fit on every user are independent: in threads (the same values), the
        # single-core parts of each topics EM overlap
        with ThreadPoolExecutor(max_workers=max(1, int(self.n_jobs))) as pool:
            full = pool.submit(clone(terms).fit, X, joint)
            cross_fitted = _terms_first(cross_fit(terms, X, joint, folds, pool))
            self.terms_ = full.result()
        self.weights_ = fit_weights(cross_fitted, joint)
        return cross_fitted

    def _frame(self, terms: np.ndarray, users: np.ndarray) -> pd.DataFrame:
        first_channel = 1 + self.topics_
        evidence = np.tensordot(self.weights_[first_channel:], terms[first_channel:], axes=1)
        posterior = marginals(np.exp(log_posterior(terms, self.weights_)), self.classes_)
        values = np.hstack(
            [
                *([np.exp(terms[0])] if self.communities_ else []),
                *([terms[1]] if self.topics_ else []),
                evidence,
                posterior,
            ]
        )
        names = self.joint_names_
        columns = [
            *(f"te_community_{c}_mean" for c in names if self.communities_),
            *(f"te_topics_{c}_evidence" for c in names if self.topics_),
            *(f"te_channels_{c}_evidence" for c in names),
            *(f"te_nbayes_{c}" for c in self.classes_),
        ]
        return encoded_frame(values, users, columns)
