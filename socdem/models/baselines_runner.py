"""Run the baselines in a fold: one estimator per target on author counts."""
from __future__ import annotations

from sklearn.base import clone

from socdem.models.baselines import AuthorShare, TopClass
from socdem.models.predictions import prediction_frame, target_column


class _PerTargetRunner:
    def estimator(self, ws):
        raise NotImplementedError

    def params(self, ws) -> dict:
        return self.estimator(ws).get_params()

    def fit_predict(self, ws, train, predict_uids, seed):
        counts, _ = ws.interactions.matrix("author_id")
        X_train = counts[ws.interactions.rows(train["viewer_uid"].to_numpy())]
        fitted, outputs = {}, [dict() for _ in predict_uids]
        for target in ws.exp.targets:
            model = clone(self.estimator(ws)).fit(X_train, train[target_column(target)].to_numpy())
            fitted[target] = model
            for out, uids in zip(outputs, predict_uids):
                proba = model.predict_proba(counts[ws.interactions.rows(uids)])
                out["female_proba" if target == "sex" else "age_proba"] = proba[:, 1] if target == "sex" else proba
        frames = [prediction_frame(uids, out.get("female_proba"), out.get("age_proba")) for out, uids in zip(outputs, predict_uids)]
        return frames, fitted


class TopClassRunner(_PerTargetRunner):
    def estimator(self, ws):
        return TopClass()


class AuthorShareRunner(_PerTargetRunner):
    def estimator(self, ws):
        return AuthorShare(pseudo_count=ws.exp.baselines.pseudo_count)
