"""The out-of-fold encodings of a fold, cached on disk.

They depend on the data, the label-dependent feature config, the training
users and their labels, the users predicted and the seed, never on a model's
parameters: `make train` after a change of CatBoost's parameters reads them
back instead of building the interactions and encoding again. The key hashes the
training users' ids and labels, so shuffled or edited labels encode afresh.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from socdem.features.build import features_dir
from socdem.features.fold_encodings import encode_out_of_fold
from socdem.io import hash_object, read_parquet_or_none, write_parquet_atomic

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

ENCODING_CODE_VERSION = 6  # bump it when an encoding's definition changes


def frame_digest(values) -> str:
    hashed = pd.util.hash_pandas_object(pd.DataFrame(values).reset_index(drop=True), index=False)
    return hashlib.blake2b(hashed.to_numpy().tobytes(), digest_size=8).hexdigest()


def encoding_config(exp) -> dict:
    """The config a model reading the encodings depends on: the features and the encoders' sections."""
    features = dataclasses.asdict(exp.features)
    if not features["title_vec_dims"]:  # off: the keys of the caches built before the switch existed
        del features["title_vec_dims"]
    return {
        "features": features,
        "target_encoding": dataclasses.asdict(exp.target_encoding),
        "naive_bayes": dataclasses.asdict(exp.naive_bayes),
    }


def fold_users(train: pd.DataFrame, predict_uids: list) -> dict:
    """Digests of a fold's labelled training users and of each predict set: part of every per-fold cache key."""
    labelled = [c for c in ("viewer_uid", "female", "age_class") if c in train.columns]
    return {
        "train": frame_digest(train[labelled]),
        "predict": [frame_digest({"viewer_uid": np.asarray(uids)}) for uids in predict_uids],
    }


def read_fold_frames(path: Path, sizes: list[int]) -> tuple[pd.DataFrame, list[pd.DataFrame]] | None:
    """(the training users' rows, [each predict set's]) of a per-fold cache file holding them in that order,
    or None when it is absent, unreadable or of another size."""
    saved = read_parquet_or_none(path)
    if saved is None or len(saved) != sum(sizes):
        return None
    ends = np.cumsum(sizes)
    parts = [saved.iloc[end - size : end] for size, end in zip(sizes, ends)]
    return parts[0], parts[1:]


def encoding_key(ws: Workspace, train: pd.DataFrame, predict_uids: list, seed: int) -> str:
    exp = ws.exp
    return hash_object(
        {
            "switches": {"target_encoding": exp.features.target_encoding, "naive_bayes": exp.features.naive_bayes},
            "target_encoding": dataclasses.asdict(exp.target_encoding),
            "naive_bayes": dataclasses.asdict(exp.naive_bayes),
            "targets": exp.targets,
            **fold_users(train, predict_uids),
            "seed": seed,
            "code": ENCODING_CODE_VERSION,
        }
    )


def encoding_path(ws: Workspace, key: str) -> Path:
    return features_dir(ws) / "encodings" / f"{key}.parquet"


def cached_encodings(ws: Workspace, train: pd.DataFrame, predict_uids: list, seed: int) -> tuple[pd.DataFrame, list]:
    """encode_out_of_fold's frames, read from the cache when the key matches, else encoded and saved."""
    path = encoding_path(ws, encoding_key(ws, train, predict_uids, seed))
    sizes = [len(train), *(len(uids) for uids in predict_uids)]
    found = read_fold_frames(path, sizes)  # an unreadable file is encoded again
    if found is not None:
        return found
    fitted, predicted = encode_out_of_fold(ws, train, predict_uids, seed)
    write_parquet_atomic(path, pd.concat([fitted, *predicted]))
    return fitted, predicted
