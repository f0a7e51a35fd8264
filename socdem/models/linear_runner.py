"""Run the sparse linear model in a fold: TF-IDF of the experiment's item
blocks (label-free, over all users) → InnerCVLogistic per target."""
from __future__ import annotations

from sklearn.base import clone
from threadpoolctl import threadpool_limits

from socdem.models.linear import InnerCVLogistic, tfidf_blocks
from socdem.models.predictions import prediction_frame, target_column


class LinearRunner:
    def estimator(self, ws, seed=None) -> InnerCVLogistic:
        cfg = ws.exp.linear
        return InnerCVLogistic(
            cs=list(cfg.cs), inner_folds=cfg.inner_folds, max_iter=cfg.max_iter, solver=cfg.solver, random_state=seed
        )

    def params(self, ws) -> dict:
        cfg = ws.exp.linear
        return {**self.estimator(ws).get_params(), "items": list(cfg.items), "sublinear_tf": cfg.sublinear_tf, "min_users": cfg.min_users}

    def features(self, ws):
        cfg = ws.exp.linear
        return tfidf_blocks([ws.interactions.matrix(item)[0] for item in cfg.items], cfg.sublinear_tf, cfg.min_users)

    def fit_predict(self, ws, train, predict_uids, seed):
        with threadpool_limits(limits=ws.exp.threads):
            X = self.features(ws)
            X_train = X[ws.interactions.rows(train["viewer_uid"].to_numpy())]
            fitted, outputs = {}, [dict() for _ in predict_uids]
            for target in ws.exp.targets:
                model = clone(self.estimator(ws, seed)).fit(X_train, train[target_column(target)].to_numpy())
                fitted[target] = model
                ws.log(f"linear {target}: C={model.C_} (inner-CV log loss {model.cv_log_loss_[model.C_]:.4f})")
                for out, uids in zip(outputs, predict_uids):
                    proba = model.predict_proba(X[ws.interactions.rows(uids)])
                    out["female_proba" if target == "sex" else "age_proba"] = proba[:, 1] if target == "sex" else proba
        frames = [prediction_frame(uids, out.get("female_proba"), out.get("age_proba")) for out, uids in zip(outputs, predict_uids)]
        return frames, fitted
