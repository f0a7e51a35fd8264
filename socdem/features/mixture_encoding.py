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

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import logsumexp

from socdem.features.communities import community_columns
from socdem.features.shares import smoothed_shares
from socdem.features.video_topics import VideoTopics, video_topics

COUNTED = {"hour": r"hour_\d\d_share", "weekday": r"weekday_\d_share"}  # shares of the user's events
ONCE = {"profile": ("top_device", "top_os", "top_client"), "region": ("top_region",)}  # one value a user
MAX_WEIGHT = 2.0


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
class Sources:
    """What the naive-Bayes terms read, label-free and built once per encoding."""

    counts: list  # per channel, (users x values) counts (channel_counts)
    posteriors: np.ndarray | None  # (users x communities), or None without communities
    topics: VideoTopics | None  # the video topics, or None when off

    @property
    def n_terms(self) -> int:
        return 1 + (self.topics is not None) + len(self.counts)


def naive_bayes_terms(sources: Sources, fit_rows, fit_classes, apply_sets: list, pseudo: float) -> list[np.ndarray]:
    """Per apply set (row positions), (terms x users x joint classes) fitted on the `fit_rows` users: the log
    community mixture (the log prior without communities), the video topics' evidence where on, then each
    channel's evidence."""
    per_set = [[] for _ in apply_sets]  # each fit below is made once and applied to every set
    if sources.posteriors is not None:
        shares = community_shares(sources.posteriors[fit_rows], fit_classes, pseudo)
        mixtures = [sources.posteriors[rows] @ shares for rows in apply_sets]
    else:
        mixtures = [np.tile(fit_classes.mean(axis=0), (len(rows), 1)) for rows in apply_sets]
    for terms, mixture in zip(per_set, mixtures):
        terms.append(np.log(np.clip(mixture, 1e-9, None)))
    if sources.topics is not None:
        for terms, evidence in zip(per_set, sources.topics.evidence(fit_rows, fit_classes, apply_sets)):
            terms.append(evidence)
    for counts in sources.counts:
        log_ratios = channel_log_ratios(counts[fit_rows], fit_classes, pseudo)
        for terms, rows in zip(per_set, apply_sets):
            terms.append(np.asarray(counts[rows] @ log_ratios.T))
    return [np.stack(terms) for terms in per_set]


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


def mixture_encodings(ws, train_uids, labels, classes, fold, n_folds, predict_uids, pseudo):
    """(train block, [predict blocks], column names), the training users' values cross-fitted on `fold`."""
    cfg, features = ws.exp.features, ws.features
    joint, names = joint_classes(labels, classes)
    communities = community_columns(features) if cfg.communities > 0 else []
    topics = video_topics(ws.interactions, cfg.video_topics, ws.exp.seed) if cfg.video_topics > 0 else None
    sources = Sources(
        channel_counts(features), features[communities].to_numpy(np.float64) if communities else None, topics
    )
    train_rows = features.index.get_indexer(train_uids)
    train_terms = np.empty((sources.n_terms, len(train_uids), len(names)))
    for k in range(n_folds):
        held = fold == k
        (train_terms[:, held],) = naive_bayes_terms(
            sources, train_rows[~held], joint[~held], [train_rows[held]], pseudo
        )
    weights = fit_weights(train_terms, joint)
    first_channel = 1 + (topics is not None)

    def block(terms):
        evidence = np.tensordot(weights[first_channel:], terms[first_channel:], axes=1)
        posterior = marginals(np.exp(log_posterior(terms, weights)), classes)
        return np.hstack(
            [
                *([np.exp(terms[0])] if communities else []),
                *([terms[1]] if topics is not None else []),
                evidence,
                posterior,
            ]
        )

    predict_rows = [features.index.get_indexer(np.asarray(uids)) for uids in predict_uids]
    predict_blocks = [block(t) for t in naive_bayes_terms(sources, train_rows, joint, predict_rows, pseudo)]
    columns = [
        *(f"te_community_{c}_mean" for c in names if communities),
        *(f"te_topics_{c}_evidence" for c in names if topics is not None),
        *(f"te_channels_{c}_evidence" for c in names),
        *(f"te_nbayes_{c}" for c in classes),
    ]
    return block(train_terms), predict_blocks, columns
