"""The sparse linear model in a fold: TF-IDF of the experiment's item blocks
(label-free, over all users) -> InnerCVLogistic per target."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from socdem.config import section_params
from socdem.features.build import FEATURE_CODE_VERSION
from socdem.features.encoding_cache import read_fold_frames
from socdem.features.interactions import WEIGHTS
from socdem.models.linear.estimator import FIT_CODE_VERSION, InnerCVLogistic, tfidf_blocks
from socdem.models.linear.logits import (
    LOGITS_CODE_VERSION,
    logits_key,
    logits_path,
    out_of_fold_predictions,
    write_logits,
)
from socdem.models.runner import PerTargetRunner

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace


def factor_blocks(features, prefixes: list, users: np.ndarray) -> list[sp.csr_matrix]:
    """One dense block per prefix of label-free user embeddings among the features (`svd_video`: the SVD of
    the users' videos), rows of unit norm in the order of `users`; a prefix the features lack gives none."""
    blocks = []
    for prefix in prefixes:
        columns = [c for c in features.columns if c.startswith(f"{prefix}_")]
        if columns:
            values = features[columns].reindex(pd.Index(users)).to_numpy(np.float64, na_value=0.0)
            blocks.append(sp.csr_matrix(normalize(values)))
    return blocks


def factor_params(ws: Workspace, cfg) -> dict:
    """What the factor blocks depend on: the settings of the label-free embeddings they are read from (not
    the whole feature config, so that turning on another feature does not retrain the linear model)."""
    if not cfg.factors:
        return {}
    features = ws.exp.features
    dims = {name: getattr(features, f"{name}_dims") for name in cfg.factors}
    return {"factors": dims, "embeddings": features.embeddings, "seed": ws.exp.seed, "code": FEATURE_CODE_VERSION}


class LinearRunner(PerTargetRunner):
    section = "linear"  # the experiment's config section (and the model's name in the log)
    writes_logits = True  # its folds write the linear logits CatBoost and GENAPON read

    def __init__(self):
        self._blocks: tuple | None = None  # (workspace id, X, block sizes): built once, shared by the folds

    def blocks(self, ws: Workspace):
        if self._blocks is None or self._blocks[0] != id(ws):
            cfg = self.config(ws)
            counts = [ws.interactions.matrix(item)[0] for item in cfg.items]
            weighted = [item in WEIGHTS for item in cfg.items]
            X, sizes = tfidf_blocks(counts, list(cfg.sublinear_tf), cfg.min_users, cfg.counts, weighted)
            factors = factor_blocks(ws.features, cfg.factors, ws.interactions.users) if cfg.factors else []
            X = sp.hstack([X, *factors], format="csr", dtype=np.float64) if factors else X
            self._blocks = (id(ws), X, (*sizes, *(block.shape[1] for block in factors)))
        return self._blocks[1:]

    def config(self, ws: Workspace):
        return getattr(ws.exp, self.section)

    def estimator(self, ws: Workspace, seed=None) -> InnerCVLogistic:
        cfg = self.config(ws)
        return self._estimator(cfg, seed, self.blocks(ws)[1] if cfg.block_weighting else None, ws.exp.threads)

    def params(self, ws: Workspace) -> dict:
        # the data and the items decide the block sizes: the cache key needs no matrix
        cfg = self.config(ws)
        params = self._estimator(cfg, None, None).get_params()
        return {
            **params,
            "block_weighting": cfg.block_weighting,
            "items": list(cfg.items),
            "sublinear_tf": list(cfg.sublinear_tf),
            "counts": cfg.counts,
            "min_users": cfg.min_users,
            "fit_code": FIT_CODE_VERSION,
            **factor_params(ws, cfg),
        }

    @staticmethod
    def _estimator(cfg, seed, block_sizes, threads: int = 1) -> InnerCVLogistic:
        params = section_params(cfg, InnerCVLogistic) | {"cs": list(cfg.cs)}
        return InnerCVLogistic(**params, block_sizes=block_sizes, n_jobs=threads, random_state=seed)

    def matrices(self, ws: Workspace, train, predict_uids, seed):
        X, rows = self.blocks(ws)[0], ws.interactions.rows
        return X[rows(train["viewer_uid"].to_numpy())], [X[rows(uids)] for uids in predict_uids]

    def describe(self, target, estimator):
        if not hasattr(estimator, "C_"):
            return None
        if len(estimator.blocks_) == 1:
            loss = estimator.cv_log_loss_[estimator.C_]
            return f"{self.section} {target}: C={estimator.C_:g} (inner-CV log loss {loss:.4f})"
        blocks = ", ".join(f"{c:g} ({table[c]:.4f})" for c, table in zip(estimator.block_C_, estimator.block_log_loss_))
        losses = ", ".join(f"{name} {loss:.4f}" for name, loss in estimator.combination_log_loss_.items())
        weights = np.round(self._weights(estimator), 2).tolist()
        chosen = f"{losses}: {estimator.combination_}, weights {weights}"
        return f"{self.section} {target}: per block C (inner-CV log loss) {blocks}; {chosen}"

    @staticmethod
    def _weights(estimator) -> np.ndarray:
        """Each block's weight: its share of the mean, or its mean absolute coefficient in the stack."""
        if estimator.combination_ == "prior":  # no block: the class shares alone
            return estimator.block_weights_
        if estimator.combination_ != "stack":
            return estimator.block_weights_ / estimator.block_weights_.sum()
        coef = np.abs(estimator.stack_[-1].coef_)
        return coef.reshape(len(coef), len(estimator.blocks_), -1).mean(axis=(0, 2))

    def fit_predict(self, ws: Workspace, train, predict_uids, seed):
        with threadpool_limits(limits=ws.exp.threads):
            frames, model = super().fit_predict(ws, train, predict_uids, seed)
        if self.writes_logits:  # the fold's cross-fitted logits for the models that read them: no second fit
            oof = out_of_fold_predictions(model, train["viewer_uid"].to_numpy(), ws.exp.targets)
            write_logits(logits_path(ws, logits_key(ws, self.params(ws), train, predict_uids, seed)), oof, frames)
        return frames, model


class WatchedLinearRunner(LinearRunner):
    """The linear model of the `[watched_linear]` section (one block: each video weighted by the share of it
    watched) as a model of its own: the blend weighs it beside the linear model, and no model reads its logits."""

    section = "watched_linear"
    writes_logits = False


def linear_logits_params(ws: Workspace) -> dict:
    """What a model reading the linear logits depends on through them (nothing when it reads none)."""
    if not ws.exp.features.linear_logits:
        return {}
    return {"linear_logits": {"params": LinearRunner().params(ws), "code": LOGITS_CODE_VERSION}}


LOGITS_RUNNER = LinearRunner()  # shared by the folds that train the linear logits: its blocks are built once a run


def cached_linear_logits(ws: Workspace, train, predict_uids: list, seed: int) -> tuple:
    """(the training users' cross-fitted linear logits, [each predict set's]) of one fold: written by the
    linear model's fold, or trained here when it has not run."""
    runner = LOGITS_RUNNER
    path = logits_path(ws, logits_key(ws, runner.params(ws), train, predict_uids, seed))
    sizes = [len(train), *(len(uids) for uids in predict_uids)]
    found = read_fold_frames(path, sizes)
    if found is None:
        runner.fit_predict(ws, train, predict_uids, seed)
        found = read_fold_frames(path, sizes)
    return found
