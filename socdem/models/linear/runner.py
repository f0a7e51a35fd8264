"""The sparse linear model in a fold: TF-IDF of the experiment's item blocks
(label-free, over all users) -> InnerCVLogistic per target."""

from __future__ import annotations

from threadpoolctl import threadpool_limits

from socdem.models.linear.estimator import InnerCVLogistic, tfidf_blocks
from socdem.models.runner import PerTargetRunner


class LinearRunner(PerTargetRunner):
    def estimator(self, ws, seed=None) -> InnerCVLogistic:
        cfg = ws.exp.linear
        return InnerCVLogistic(
            cs=list(cfg.cs), inner_folds=cfg.inner_folds, max_iter=cfg.max_iter, solver=cfg.solver, random_state=seed
        )

    def params(self, ws) -> dict:
        cfg = ws.exp.linear
        return {
            **self.estimator(ws).get_params(),
            "items": list(cfg.items),
            "sublinear_tf": cfg.sublinear_tf,
            "min_users": cfg.min_users,
        }

    def matrices(self, ws, train, predict_uids, seed):
        cfg, rows = ws.exp.linear, ws.interactions.rows
        X = tfidf_blocks([ws.interactions.matrix(item)[0] for item in cfg.items], cfg.sublinear_tf, cfg.min_users)
        return X[rows(train["viewer_uid"].to_numpy())], [X[rows(uids)] for uids in predict_uids]

    def describe(self, target, estimator):
        if hasattr(estimator, "C_"):
            return f"linear {target}: C={estimator.C_} (inner-CV log loss {estimator.cv_log_loss_[estimator.C_]:.4f})"
        return None

    def fit_predict(self, ws, train, predict_uids, seed):
        with threadpool_limits(limits=ws.exp.threads):
            return super().fit_predict(ws, train, predict_uids, seed)
