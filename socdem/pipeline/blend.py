"""Out-of-fold blending, and the decisions taken on its predictions.

Per target, candidate blends of the models' out-of-fold (OOF) predictions:
  single  the best single model (chosen on the rows the blend is fitted on)
  mean    the simple average of logits (sex) / log-probabilities (age)
  stack   logistic regression on logits (sex) / multinomial on log-probabilities (age)
Each candidate is scored by nested CV over the OOF predictions on the saved
folds (fit on the other folds' OOF rows, predict the held-out fold; also on
stratified reshuffles of the folds), and chosen by the one-standard-error rule
(socdem/selection.py): the simplest candidate within the noise of the best.
It is refitted on all OOF rows and applied to the test predictions. Then, on
the chosen blend's nested OOF: the F1- and accuracy-best thresholds for
`female` (0.5 unless they beat it beyond the noise), and per-class biases on
the age log-probabilities that maximise the weighted F1 the users' own
probabilities expect (dropped where the same rule says the most probable
class does better).
No choice reads a test prediction; the age biases of the test users are tuned
on their own probabilities, as those of the OOF users on theirs (no label).

The blend of an experiment's models is cached in artifacts/<RUN>/blend/ under a key of the
models' cache keys, the folds and this code (blend_oof: compare and ablate reuse it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from socdem.io import hash_object, read_json_or_none, read_parquet_or_none, write_json_atomic, write_parquet_atomic
from socdem.metrics import best_accuracy_threshold, best_f1_threshold, weighted_f1
from socdem.models.registry import get_runner
from socdem.pipeline import thresholds as thresholds_module
from socdem.pipeline.folds import folds_path, load_or_make_folds
from socdem.pipeline.thresholds import nested_threshold_f1, tune_expected_f1_bias
from socdem.pipeline.train import cache_key, load_predictions
from socdem.schema import AGE_COLUMNS, prediction_frame
from socdem.selection import REPEATS, one_standard_error

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

EPS = 1e-6
SELECTION_METRIC = {"sex": "roc_auc", "age_class": "age_f1_weighted"}
THRESHOLD_SCORE = {  # a threshold's score on held-out users: y, the predicted female flags
    "f1": lambda y, pred: float(f1_score(y, pred, zero_division=0)),
    "accuracy": lambda y, pred: float(np.mean(y == pred)),
}


# ---- inputs: each model's predictions on the scale the blends work on ----


def sex_logits(frame: pd.DataFrame) -> np.ndarray:
    p = np.clip(frame["female_proba"].to_numpy(dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def age_log_proba(frame: pd.DataFrame) -> np.ndarray:
    p = np.clip(frame[AGE_COLUMNS].to_numpy(dtype=np.float64), EPS, None)
    return _log_normalise(np.log(p))


def _log_normalise(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def score_output(target: str, y: np.ndarray, out: np.ndarray) -> float:
    if target == "sex":
        return float(roc_auc_score(y, out)) if len(np.unique(y)) == 2 else float("nan")
    return weighted_f1(y, np.argmax(out, axis=1))


# ---- candidate blends: scikit-learn estimators on {model: OOF inputs}; fit(inputs, y), predict(inputs) ----


class BestSingle(BaseEstimator):
    kind = "single"

    def __init__(self, target="sex", names=()):
        self.target = target
        self.names = names

    def fit(self, inputs, y):
        self.choice_ = max(self.names, key=lambda n: score_output(self.target, y, inputs[n]))
        return self

    def predict(self, inputs):
        return inputs[self.choice_]

    def weights(self) -> dict:
        return {self.choice_: 1.0}


class MeanBlend(BaseEstimator):
    kind = "mean"

    def __init__(self, target="sex", names=()):
        self.target = target
        self.names = names

    def fit(self, inputs, y):
        return self

    def predict(self, inputs):
        mean = np.mean([inputs[n] for n in self.names], axis=0)
        return mean if self.target == "sex" else _log_normalise(mean)

    def weights(self) -> dict:
        return {n: 1.0 / len(self.names) for n in self.names}


class StackBlend(BaseEstimator):
    kind = "stack"

    def __init__(self, target="sex", names=(), C: float = 1.0):
        self.target = target
        self.names = names
        self.C = C

    def _design(self, inputs):
        return np.column_stack([inputs[n] for n in self.names])

    def fit(self, inputs, y):
        # Newton steps on a few dozen columns: the optimum in a handful of passes over the rows, where L-BFGS
        # stops short of it after about a hundred
        self.model_ = LogisticRegression(C=self.C, solver="newton-cholesky", max_iter=100).fit(self._design(inputs), y)
        return self

    def predict(self, inputs):
        X = self._design(inputs)
        if self.target == "sex":
            return self.model_.decision_function(X)
        # every age class, also one absent from the rows fitted on (a rare class): log(EPS) there
        out = np.full((X.shape[0], len(AGE_COLUMNS)), np.log(EPS))
        out[:, self.model_.classes_] = self.model_.predict_log_proba(X)
        return _log_normalise(out)

    def weights(self) -> dict:
        coef = self.model_.coef_
        if self.target == "sex":
            out = dict(zip(self.names, coef[0].round(6).tolist()))
        else:  # one row per age class, one column per (model, class) input
            width = len(AGE_COLUMNS)
            out = {n: coef[:, i * width : (i + 1) * width].round(6).tolist() for i, n in enumerate(self.names)}
        return {**out, "intercept": np.atleast_1d(self.model_.intercept_).round(6).tolist()}


def informative(values: np.ndarray, n_folds: int) -> bool:
    """False for a model that predicts (nearly) a constant per fold, like
    top_class: as a stacking input it only adds noise."""
    rows = np.round(values.reshape(len(values), -1), 9)
    return len(np.unique(rows, axis=0)) > 2 * n_folds


def candidates(target: str, inputs: dict, n_folds: int) -> list:
    names = list(inputs)
    useful = [n for n in names if informative(inputs[n], n_folds)]
    out = [BestSingle(target, tuple(names))]
    if len(useful) >= 2:
        out.append(MeanBlend(target, tuple(useful)))
    if useful:
        out.append(StackBlend(target, tuple(useful)))
    return out


def nested_oof(make, inputs: dict, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Each held-out fold predicted by the candidate fitted on the other folds' OOF rows."""
    out = None
    for k in np.unique(fold):
        held = fold == k
        fitted = make().fit({n: v[~held] for n, v in inputs.items()}, y[~held])
        pred = fitted.predict({n: v[held] for n, v in inputs.items()})
        if out is None:
            out = np.zeros((len(y),) + pred.shape[1:])
        out[held] = pred
    return out


@dataclass
class Blend:
    oof: pd.DataFrame  # nested-CV blended OOF: female_proba, age_p0..3 (age bias applied), fold
    test: pd.DataFrame  # the refitted blend applied to the test predictions (age bias applied)
    summary: dict = field(default_factory=dict)  # per target: candidates, choice, weights; thresholds; bias

    @property
    def thresholds(self) -> dict:
        return self.summary.get("sex", {}).get("thresholds", {})


def blend(oofs: dict, tests: dict, truth: pd.DataFrame, folds: pd.DataFrame, targets) -> Blend:
    """oofs/tests: model → prediction frame (indexed by viewer_uid); truth:
    viewer_uid, female, age_class; folds: viewer_uid, fold (the saved folds)."""
    # the stacking fits are tiny: BLAS threads only contend (several times slower on a busy machine)
    with threadpool_limits(limits=1):
        return _blend(oofs, tests, truth, folds, targets)


def _blend(oofs: dict, tests: dict, truth: pd.DataFrame, folds: pd.DataFrame, targets) -> Blend:
    uids, test_uids, oofs, tests, fold, truth = _align(oofs, tests, truth, folds)
    n_folds = len(np.unique(fold))
    summary, oof_cols, test_cols = {}, {}, {}
    for target in targets:
        to_input = sex_logits if target == "sex" else age_log_proba
        y = truth["female" if target == "sex" else "age_class"].to_numpy(dtype=np.int64)
        inputs = {n: to_input(f) for n, f in oofs.items()}
        test_inputs = {n: to_input(f) for n, f in tests.items()}
        info, nested, test_out = _choose(target, inputs, test_inputs, y, fold, n_folds)
        if target == "sex":
            oof_cols["female_proba"], test_cols["female_proba"] = _sex_thresholds(info, y, nested, test_out, fold)
        else:
            oof_cols["age_proba"], test_cols["age_proba"] = _age_biases(info, y, nested, test_out, fold)
        summary[target] = info
    oof = prediction_frame(uids, oof_cols.get("female_proba"), oof_cols.get("age_proba")).assign(fold=fold)
    test = prediction_frame(test_uids, test_cols.get("female_proba"), test_cols.get("age_proba"))
    return Blend(oof=oof, test=test, summary=summary)


def _align(oofs: dict, tests: dict, truth: pd.DataFrame, folds: pd.DataFrame) -> tuple:
    """(labelled users, test users, each model's OOF and test frames on them, the users' folds, their
    labels), all in sorted user order; every model must cover the same labelled and test users."""
    if not oofs:
        raise ValueError("blend: no model predictions to blend")
    uids = np.sort(folds["viewer_uid"].to_numpy())
    test_uids = np.sort(next(iter(tests.values())).index.to_numpy())
    for name in oofs:
        if not (
            np.array_equal(np.sort(oofs[name].index.to_numpy()), uids)
            and np.array_equal(np.sort(tests[name].index.to_numpy()), test_uids)
        ):
            raise ValueError(f"blend: model '{name}' does not cover the same labelled/test users as the others")
    oofs = {n: f.loc[uids] for n, f in oofs.items()}
    tests = {n: f.loc[test_uids] for n, f in tests.items()}
    fold = folds.set_index("viewer_uid").loc[uids, "fold"].to_numpy()
    return uids, test_uids, oofs, tests, fold, truth.set_index("viewer_uid").loc[uids]


def _choose(target: str, inputs: dict, test_inputs: dict, y: np.ndarray, fold: np.ndarray, n_folds: int) -> tuple:
    """(summary of the choice, the chosen candidate's nested OOF output, its output on the test users once
    refitted on every OOF row): each candidate scored by nested CV on the saved folds and on reshuffles of
    them, the best kept only where it beats each simpler candidate by more than the standard error over folds
    (selection.one_standard_error)."""
    scored = []
    splits = choice_folds(y, fold, n_folds)
    for cand in candidates(target, inputs, n_folds):
        outs = [nested_oof(lambda c=cand: clone(c), inputs, y, f) for f in splits]
        per_fold = np.concatenate([split_scores(target, y, out, f) for out, f in zip(outs, splits)])
        scored.append((score_output(target, y, outs[0]), cand, outs[0], per_fold))
    index = one_standard_error([per_fold for *_, per_fold in scored], higher_is_better=True, repeats=REPEATS)
    best_score, chosen, nested, _ = scored[index]
    chosen.fit(inputs, y)
    test_out = chosen.predict(test_inputs)
    info = {
        "metric": SELECTION_METRIC[target],
        "candidates": {c.kind: round(s, 6) for s, c, _, _ in scored},
        "chosen": chosen.kind,
        "inputs": list(chosen.names),
        "weights": chosen.weights(),
        "nested_score": round(best_score, 6),
    }
    return info, nested, test_out


def choice_folds(y: np.ndarray, fold: np.ndarray, n_folds: int) -> list[np.ndarray]:
    """The fold of each labelled user for the nested choices: the saved folds and REPEATS - 1 stratified
    reshuffles of them (each OOF prediction is honest whichever fold holds it). Repeated at every size: the
    stacking fits are cheap, and a near-tie on one split's folds flips the choice on tens of thousands too."""
    out = [fold]
    for repeat in range(1, REPEATS):
        extra = np.empty(len(y), dtype=np.int64)
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=repeat)
        for k, (_, part) in enumerate(splitter.split(np.zeros(len(y)), y)):
            extra[part] = k
        out.append(extra)
    return out


def split_scores(target: str, y: np.ndarray, out: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """The selection metric of `out` on each fold's users."""
    return np.array([score_output(target, y[fold == k], out[fold == k]) for k in np.unique(fold)])


def _sex_thresholds(info: dict, y, nested, test_out, fold) -> tuple[np.ndarray, np.ndarray]:
    """P(female) of the OOF and test users from the chosen blend's logits; the F1- and accuracy-best
    thresholds (and F1 with each fold's threshold chosen on the others) go into `info`. Each stays 0.5
    unless, chosen on the other folds, it beats 0.5 on the held-out one by more than the standard error."""
    p_oof, p_test = 1 / (1 + np.exp(-nested)), 1 / (1 + np.exp(-test_out))
    f1_threshold, f1 = best_f1_threshold(y, p_oof)
    best = {"f1": f1_threshold, "accuracy": best_accuracy_threshold(y, p_oof)}
    info["thresholds"] = {metric: _kept_threshold(metric, best[metric], y, p_oof, fold) for metric in best}
    info["f1_at_threshold"] = f1
    info["f1_nested_threshold"] = nested_threshold_f1(y, p_oof, fold)
    return p_oof, p_test


def _kept_threshold(metric: str, best: float, y, p, fold) -> float:
    """`best`, or 0.5 where the threshold chosen on the other folds does not beat it on each held-out fold by
    more than the standard error (one_standard_error, 0.5 the simpler; over the repeated choice folds)."""
    choose = best_f1_threshold if metric == "f1" else (lambda y_, p_: (best_accuracy_threshold(y_, p_), None))
    plain, tuned = [], []
    for split in choice_folds(y, fold, len(np.unique(fold))):
        for k in np.unique(split):
            held = split == k
            chosen, _ = choose(y[~held], p[~held])
            plain.append(THRESHOLD_SCORE[metric](y[held], p[held] >= 0.5))
            tuned.append(THRESHOLD_SCORE[metric](y[held], p[held] >= chosen))
    return float(best) if one_standard_error([plain, tuned], higher_is_better=True, repeats=REPEATS) == 1 else 0.5


def _age_biases(info: dict, y, nested, test_out, fold) -> tuple[np.ndarray, np.ndarray]:
    """Age-class probabilities of the OOF and test users from the chosen blend's log-probabilities, each set of
    users shifted by the per-class biases that maximise the weighted F1 its own probabilities expect
    (thresholds.tune_expected_f1_bias; no label read): the decision for the metric, where the most probable
    class is the decision for accuracy. Dropped only where, tuned that way on each held-out fold's own
    predictions, they lose to the most probable class there by more than the standard error over the repeated
    choice folds: probabilities too poorly calibrated to decide by (recorded in `info`)."""
    absent = ~np.isin(np.arange(nested.shape[1]), y)  # a class nobody has is never predicted
    nested, test_out = np.where(absent, -np.inf, nested), np.where(absent, -np.inf, test_out)
    plain, per_fold = weighted_f1(y, np.argmax(nested, axis=1)), [[], []]
    for f, split in enumerate(choice_folds(y, fold, len(np.unique(fold)))):
        checked = np.zeros(len(y), dtype=np.int64)
        for k in np.unique(split):
            held = split == k
            checked[held] = np.argmax(nested[held] + tune_expected_f1_bias(nested[held]), axis=1)
        if f == 0:
            with_bias = weighted_f1(y, checked)  # reported on the saved folds
        for scores, pred in zip(per_fold, (nested.argmax(1), checked)):
            scores += [weighted_f1(y[split == k], pred[split == k]) for k in np.unique(split)]
    kept = one_standard_error(per_fold[::-1], True, repeats=REPEATS) == 0  # the metric's own decision first
    none = np.zeros(nested.shape[1])
    oof_bias, test_bias = (tune_expected_f1_bias(nested), tune_expected_f1_bias(test_out)) if kept else (none, none)
    info["bias"] = {
        "values": test_bias.round(4).tolist(),
        "oof_values": oof_bias.round(4).tolist(),
        "kept": bool(kept),
        "nested_f1_without": round(plain, 6),
        "nested_f1_with": round(with_bias, 6),
    }
    return np.exp(_log_normalise(nested + oof_bias)), np.exp(_log_normalise(test_out + test_bias))


# ---- the blend of an experiment's models, cached in artifacts/<RUN>/blend/ ----


def blend_experiment(ws: Workspace, sources: dict | None = None) -> tuple[dict, Blend]:
    """(model → (oof, test, scores), the blend of the experiment's models). `sources` may map a
    model to another workspace to take its predictions from (an ablation that retrains only some)."""
    results, result, _ = timed_blend(ws, sources)
    return results, result


def timed_blend(ws: Workspace, sources: dict | None = None) -> tuple[dict, Blend, float]:
    """blend_experiment, plus the seconds of the blend itself (the models' are their folds')."""
    sources = sources or {}
    results = {name: load_predictions(sources.get(name, ws), name) for name in ws.exp.models}
    oofs = {name: oof.drop(columns="fold", errors="ignore") for name, (oof, _, _) in results.items()}
    tests = {name: test for name, (_, test, _) in results.items()}
    started = time.perf_counter()
    result = blend(oofs, tests, ws.contest.targets, load_or_make_folds(ws), ws.exp.targets)
    return results, result, time.perf_counter() - started


def blend_key(ws: Workspace, sources: dict | None = None) -> str:
    """What the blend's output depends on: every model's cache key, the folds and the blend's code."""
    sources = sources or {}
    return hash_object(
        {
            "models": {n: cache_key(sources.get(n, ws), n, get_runner(n)) for n in ws.exp.models},
            "folds": folds_path(ws).name,
            "targets": ws.exp.targets,
            "contest": ws.exp.contest,
            "code": [Path(m).read_text() for m in (__file__, thresholds_module.__file__)],
        }
    )


def blend_oof(ws: Workspace, sources: dict | None = None, out_dir: Path | None = None) -> pd.DataFrame:
    """The blend's nested out-of-fold predictions (with `fold`): from artifacts/<RUN>/blend/ (or
    `out_dir`) when its key still matches, else trained and blended now (no submission written)."""
    out_dir = out_dir or ws.paths.blend(ws.exp.run)
    key = blend_key(ws, sources)
    saved, oof = read_json_or_none(out_dir / "blend.json"), read_parquet_or_none(out_dir / "oof.parquet")
    if isinstance(saved, dict) and saved.get("key") == key and oof is not None:  # unreadable: blended again
        return oof
    _, result, seconds = timed_blend(ws, sources)
    write_blend(out_dir, result, key, seconds, {"blend": result.summary})
    return result.oof


def write_blend(out_dir: Path, result: Blend, key: str, seconds: float, info: dict) -> None:
    write_parquet_atomic(out_dir / "oof.parquet", result.oof)
    write_parquet_atomic(out_dir / "test.parquet", result.test)
    write_json_atomic(out_dir / "blend.json", {**info, "key": key, "seconds": round(seconds, 2)})
