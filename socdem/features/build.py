"""`make features`: the label-free user features, built once per fingerprint.

The fingerprint covers the input files (content hash), the label-free part
of `FeatureConfig`, the seed of the embeddings and a feature-code version,
so a cache hit needs neither the events nor DuckDB: only the file digests.
Layout: artifacts/features/<fingerprint>/user_features.parquet + meta.json.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd

from socdem.features.communities import user_communities
from socdem.features.embeddings import user_embeddings
from socdem.features.title_vectors import TITLE_VECTORS_CODE_VERSION, navec_digest, user_title_vectors
from socdem.features.user_features import UserAggregates, aggregate_families, user_aggregates
from socdem.features.video_counts import video_count_features
from socdem.io import hash_object, read_parquet_or_none, write_json_atomic, write_parquet_atomic

FEATURE_CODE_VERSION = 5  # bump it when a feature's definition changes

FEATURES_FILE = "user_features.parquet"
# the switches of what is learned from labels (the encoders, the linear logits): not part of the label-free key
LABEL_DEPENDENT = ("target_encoding", "naive_bayes", "linear_logits")
AGGREGATE_FAMILIES = ("activity", "watchtime", "time", "device", "category")


def label_free_config(ws) -> dict:
    cfg = dataclasses.asdict(ws.exp.features)
    if not cfg["title_vec_dims"]:  # off: the keys of the caches built before the switch existed
        del cfg["title_vec_dims"]
    return {k: v for k, v in cfg.items() if k not in LABEL_DEPENDENT}


def feature_fingerprint(ws) -> str:
    key = {"data": ws.data_fp, "features": label_free_config(ws), "seed": ws.exp.seed, "code": FEATURE_CODE_VERSION}
    if ws.exp.features.title_vec_dims > 0:  # the word vectors' file, by content: another model file, other features
        key["navec"] = {"model": navec_digest(ws.paths.wheels, ws.log), "code": TITLE_VECTORS_CODE_VERSION}
    return hash_object(key)


def features_dir(ws) -> Path:
    return ws.paths.features(feature_fingerprint(ws))


class StepTimer:
    """Runs named steps, logging each and keeping its wall seconds and CPU seconds (all threads: robust
    to a busy machine)."""

    def __init__(self, log):
        self.log = log
        self.seconds: dict = {}
        self.cpu_seconds: dict = {}

    def __call__(self, name: str, func):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = func()
        self.seconds[name] = round(time.perf_counter() - started, 3)
        self.cpu_seconds[name] = round(time.process_time() - cpu_started, 3)
        self.log(f"features: {name} done ({self.seconds[name]:.1f} s)")
        return result


def compute_features(ws) -> tuple[pd.DataFrame, dict]:
    """(features, {"seconds": wall seconds per step, "cpu_seconds": CPU seconds per step}), without the cache."""
    cfg, timed = ws.exp.features, StepTimer(ws.log)
    contest = timed("load", lambda: ws.contest)
    if contest.store is not None:  # streamed: the events coded once in the contest's DuckDB store
        timed("coded events", lambda: ws.coded)
    users = timed("interactions", lambda: ws.interactions.users)
    parts = []
    if any(getattr(cfg, family) for family in AGGREGATE_FAMILIES):
        parts.append(_aggregates(ws, users, timed))
    if cfg.embeddings:
        parts += _embeddings(ws, timed)
    if cfg.communities > 0:
        communities = lambda: user_communities(ws.interactions, cfg.communities, ws.exp.seed, ws.exp.threads)  # noqa: E731
        parts.append(timed("communities", communities))
    if cfg.title_vec_dims > 0:
        vectors = lambda: user_title_vectors(ws.interactions, cfg.title_vec_dims, ws.exp.seed, ws.log)  # noqa: E731
        parts.append(timed("title vectors", vectors))
    if cfg.video_counts and contest.video_counts is not None:
        min_views = cfg.video_counts_min_views
        counts = lambda: video_count_features(contest.events, contest.video_counts, users, min_views)  # noqa: E731
        parts.append(timed("video counts", counts))
    return _joined(parts, users), {"seconds": timed.seconds, "cpu_seconds": timed.cpu_seconds}


def _aggregates(ws, users: np.ndarray, timed: StepTimer) -> pd.DataFrame:
    """The aggregate families: from the coded events of a streamed contest, else from its events frame."""
    contest, cfg = ws.contest, ws.exp.features
    if contest.store is not None:  # float32 at once (the values the end gives them): a large contest's memory
        families = lambda: aggregate_families(UserAggregates.from_coded(ws.coded), cfg, ws.log, np.float32)  # noqa: E731
        aggregates = timed("aggregates", families)
        contest.store.trim_memory()
        return aggregates
    return timed(
        "aggregates",
        lambda: user_aggregates(
            contest.events,
            contest.videos,
            users,
            cfg,
            threads=ws.exp.threads,
            log=ws.log,
            temp_dir=str(ws.paths.duckdb_temp),
        ),
    )


def _embeddings(ws, timed: StepTimer) -> list[pd.DataFrame]:
    """The TF-IDF + SVD embeddings of user x author, user x video and user x title word (0 dims: none)."""
    cfg = ws.exp.features
    items = (
        ("author_id", cfg.svd_author_dims),
        ("rutube_video_id", cfg.svd_video_dims),
        ("title_word", cfg.svd_title_dims),
    )
    return [
        timed(f"svd {item}", lambda i=item, d=dims: user_embeddings(ws.interactions, i, d, ws.exp.seed, ws.exp.threads))
        for item, dims in items
        if dims > 0
    ]


def _joined(parts: list[pd.DataFrame], users: np.ndarray) -> pd.DataFrame:
    """The parts side by side on the sorted labelled + test users, numbers as float32."""
    index = pd.Index(users, name="viewer_uid")
    features = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=index)
    if not features.index.equals(index):
        raise AssertionError("features: the index is not the sorted labelled + test users")
    numeric = features.select_dtypes("number").columns
    features[numeric] = features[numeric].astype(np.float32)
    return features


def build_features(ws) -> pd.DataFrame:
    """Label-free user features indexed by viewer_uid (= ws.interactions.users), cached by fingerprint."""
    started = time.perf_counter()
    out_dir = features_dir(ws)
    path = out_dir / FEATURES_FILE
    features = read_parquet_or_none(path)  # an unreadable cache file is rebuilt
    if features is not None:
        ws.log(
            f"features: used the cache {path} ({features.shape[0]:,} users x {features.shape[1]} columns, "
            f"{time.perf_counter() - started:.2f} s)"
        )
        return features
    ws.log(f"features: building {path}")
    features, timings = compute_features(ws)
    write_parquet_atomic(path, features)
    seconds = timings["seconds"]
    seconds["total"] = round(time.perf_counter() - started, 3)
    write_json_atomic(
        out_dir / "meta.json",
        {
            "data_fp": ws.data_fp,
            "features": label_free_config(ws),
            "seed": ws.exp.seed,
            "code": FEATURE_CODE_VERSION,
            "users": int(features.shape[0]),
            "columns": list(features.columns),
            **timings,
        },
    )
    ws.log(
        f"features: {features.shape[0]:,} users x {features.shape[1]} columns saved to {path} "
        f"({seconds['total']:.1f} s)"
    )
    return features
