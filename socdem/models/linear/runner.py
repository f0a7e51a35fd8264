"""The sparse linear model in a fold: TF-IDF of the experiment's item blocks
(label-free, over all users) -> InnerCVLogistic per target."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from socdem.config import section_params
from socdem.models.linear.estimator import InnerCVLogistic, tfidf_blocks
from socdem.models.runner import PerTargetRunner

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace


class LinearRunner(PerTargetRunner):
    def __init__(self):
        self._blocks: tuple | None = None  # (workspace id, X, block sizes): built once, shared by the folds

    def blocks(self, ws: Workspace):
        if self._blocks is None or self._blocks[0] != id(ws):
            cfg = ws.exp.linear
            counts = [ws.interactions.matrix(item)[0] for item in cfg.items]
            self._blocks = (id(ws), *tfidf_blocks(counts, list(cfg.sublinear_tf), cfg.min_users, cfg.counts))
        return self._blocks[1:]

    def estimator(self, ws: Workspace, seed=None) -> InnerCVLogistic:
        cfg = ws.exp.linear
        return self._estimator(cfg, seed, self.blocks(ws)[1] if cfg.block_weighting else None, ws.exp.threads)

    def params(self, ws: Workspace) -> dict:
        # the data and the items decide the block sizes: the cache key needs no matrix
        cfg = ws.exp.linear
        params = self._estimator(cfg, None, None).get_params()
        return {
            **params,
            "block_weighting": cfg.block_weighting,
            "items": list(cfg.items),
            "sublinear_tf": list(cfg.sublinear_tf),
            "counts": cfg.counts,
            "min_users": cfg.min_users,
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
        if not hasattr(estimator, "block_log_loss_") or len(estimator.block_log_loss_) == 1:
            return f"linear {target}: C={estimator.C_:g} (inner-CV log loss {estimator.cv_log_loss_[estimator.C_]:.4f})"
        blocks = ", ".join(
            f"{c:g} ({min(t.values()):.4f})" for c, t in zip(estimator.block_C_, estimator.block_log_loss_)
        )
        if hasattr(estimator, "stack_"):
            chosen = f"stack ({estimator.stack_log_loss_:.4f}), weights {self._stack_weights(estimator)}"
        else:
            chosen = f"block {estimator.used_[0] + 1} alone (stack {estimator.stack_log_loss_:.4f})"
        return f"linear {target}: per block C (inner-CV log loss) {blocks}; {chosen}"

    @staticmethod
    def _stack_weights(estimator) -> list[float]:
        """Each block's weight in the stack: the mean absolute coefficient on its logits."""
        coef = np.abs(estimator.stack_[-1].coef_)
        return np.round(coef.reshape(len(coef), len(estimator.blocks_), -1).mean(axis=(0, 2)), 2).tolist()

    def fit_predict(self, ws: Workspace, train, predict_uids, seed):
        with threadpool_limits(limits=ws.exp.threads):
            return super().fit_predict(ws, train, predict_uids, seed)
