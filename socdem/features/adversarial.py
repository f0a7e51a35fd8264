"""Adversarial validation: can a classifier tell the labelled users from the
test users on the label-free features alone?

A gradient-boosted classifier is trained out of fold (stratified K-fold,
seeded, threads pinned) to predict "is a test user". An out-of-fold ROC-AUC
near 0.5 means the two groups look alike and local CV should track the
public score; well above it (WARN_ROC_AUC) means they differ. The features
that separate them most are ranked by permutation importance: the drop of
the held-out ROC-AUC when one column is shuffled, averaged over the folds
(only above IMPORTANCE_MIN_ROC_AUC: at chance every drop is noise).

No label is read, so `make submit` can use it too. The result is cached in
the features' folder (artifacts/features/<fingerprint>/), whose fingerprint
already covers the data (test users included) and the feature settings.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from threadpoolctl import threadpool_limits

from socdem.features.build import features_dir
from socdem.io import read_json_or_none, write_json_atomic, write_parquet_atomic

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

ADVERSARIAL_VERSION = 2  # bump it when the model or the importances change
WARN_ROC_AUC = 0.6  # above it, local CV may not track the public score
N_FOLDS = 5
TOP_FEATURES = 10
# each fold's classifier is fitted on at most this many users (a stratified sample), every user predicted:
# a shift that many users cannot show is too small to matter, and the fits are the check's cost at the Rutube size
MAX_FIT_ROWS = 30_000
PERMUTATION_ROWS = 2000  # held-out rows scored per permuted column (speed)
# at or below it the classifier tells the groups apart no better than chance, so each column's drop is noise:
# no column is ranked, and the permutations' cost (about half the check's) is spared
IMPORTANCE_MIN_ROC_AUC = 0.55
MODEL_PARAMS = {
    "max_iter": 50,
    "learning_rate": 0.15,
    "max_bins": 63,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 50,
    "l2_regularization": 1.0,
    "early_stopping": False,  # a fixed number of trees: no inner split, same result every run
}
MAX_CATEGORY_CODE = MODEL_PARAMS["max_bins"] - 1  # a categorical column may have at most max_bins values
# One thread: on a busy 2-core machine OpenMP's waiting threads make a 2-thread fit many times slower.
THREADS = 1
RESULT_FILE = "adversarial.json"
OOF_FILE = "adversarial_oof.parquet"


def feature_matrix(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(float32 matrix, categorical-column mask); categories become their codes, missing NaN."""
    columns, categorical = [], []
    for name in features.columns:
        column = features[name]
        is_cat = isinstance(column.dtype, pd.CategoricalDtype)
        if is_cat:  # codes follow global frequency, so the rarest values share the last code
            codes = np.minimum(column.cat.codes.to_numpy(np.int64), MAX_CATEGORY_CODE).astype(np.float32)
            column = np.where(codes < 0, np.nan, codes)
        columns.append(np.asarray(column, dtype=np.float32))
        categorical.append(is_cat)
    matrix = np.column_stack(columns) if columns else np.empty((len(features), 0), np.float32)
    return matrix, np.array(categorical, dtype=bool)


def _permutation_drop(model, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ROC-AUC drop per column when that column alone is shuffled."""
    base = roc_auc_score(y, model.predict_proba(X)[:, 1])
    drops = np.zeros(X.shape[1])
    for j in range(X.shape[1]):
        kept = X[:, j].copy()
        X[:, j] = rng.permutation(kept)
        drops[j] = base - roc_auc_score(y, model.predict_proba(X)[:, 1])
        X[:, j] = kept
    return drops


def out_of_fold(
    X: np.ndarray, is_test: np.ndarray, categorical: np.ndarray, seed: int, threads: int = THREADS
) -> tuple[np.ndarray, np.ndarray | None]:
    """(out-of-fold P(test user), mean permutation importance per column: None where the out-of-fold ROC-AUC is
    at most IMPORTANCE_MIN_ROC_AUC)."""
    oof = np.zeros(len(is_test))
    fitted = []
    folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed)
    with threadpool_limits(limits=max(1, int(threads))):
        for train, valid in folds.split(X, is_test):
            if len(train) > MAX_FIT_ROWS:
                train, _ = train_test_split(train, train_size=MAX_FIT_ROWS, stratify=is_test[train], random_state=seed)
                train = np.sort(train)
            model = HistGradientBoostingClassifier(
                **MODEL_PARAMS, categorical_features=categorical if categorical.any() else None, random_state=seed
            )
            model.fit(X[train], is_test[train])
            oof[valid] = model.predict_proba(X[valid])[:, 1]
            fitted.append((model, valid))
        if roc_auc_score(is_test, oof) <= IMPORTANCE_MIN_ROC_AUC:
            return oof, None
        drops = np.zeros(X.shape[1])
        rng = np.random.default_rng(seed)
        for model, valid in fitted:
            sample = rng.permutation(valid)[:PERMUTATION_ROWS]
            if len(np.unique(is_test[sample])) == 2:
                drops += _permutation_drop(model, X[sample], is_test[sample], rng) / N_FOLDS
    return oof, drops


def cache_key(ws: Workspace) -> dict:
    return {
        "version": ADVERSARIAL_VERSION,
        "seed": ws.exp.seed,
        "folds": N_FOLDS,
        "model": MODEL_PARAMS,
        "permutation_rows": PERMUTATION_ROWS,
        "max_fit_rows": MAX_FIT_ROWS,
        "importance_min_roc_auc": IMPORTANCE_MIN_ROC_AUC,
    }


def adversarial_validation(ws: Workspace) -> dict:
    """{adversarial_roc_auc, top_features, ...} for the workspace's contest (None when it cannot be
    computed: fewer than N_FOLDS users in a group); cached beside the label-free features."""
    out_dir = features_dir(ws)
    cached = read_json_or_none(out_dir / RESULT_FILE)
    if cached and cached.get("key") == cache_key(ws):
        ws.log(f"adversarial: used the cache {out_dir / RESULT_FILE}")
        return cached
    started = time.perf_counter()
    features = ws.features  # the cached label-free features (built when missing)
    is_test = features.index.isin(ws.contest.test_users).astype(np.int64)
    n_test = int(is_test.sum())
    result = {
        "key": cache_key(ws),
        "labelled_users": int(len(is_test) - n_test),
        "test_users": n_test,
        "adversarial_roc_auc": None,
        "top_features": [],
    }
    if min(n_test, len(is_test) - n_test) < N_FOLDS or not features.notna().any(axis=None):
        result["note"] = f"needs at least {N_FOLDS} labelled and {N_FOLDS} test users with features"
        write_json_atomic(out_dir / RESULT_FILE, result)
        return result
    # a column without a single value (e.g. category shares when no event's video is in the catalogue) says nothing
    features = features.loc[:, features.notna().any(axis=0).to_numpy()]
    X, categorical = feature_matrix(features)
    oof, drops = out_of_fold(X, is_test, categorical, ws.exp.seed)
    result["adversarial_roc_auc"] = round(float(roc_auc_score(is_test, oof)), 6)
    test_rows = is_test == 1
    if drops is None:
        ranked = []
        result["note"] = f"no feature ranked: at ROC-AUC {IMPORTANCE_MIN_ROC_AUC} or below nothing separates the groups"
    else:
        ranked = np.argsort(-drops, kind="mergesort")[:TOP_FEATURES]
    for j in ranked:
        numeric = not categorical[j]  # the mean of category codes means nothing
        result["top_features"].append(
            {
                "feature": str(features.columns[j]),
                "importance": round(float(drops[j]), 6),
                "categorical": bool(categorical[j]),
                "labelled_mean": _mean(X[~test_rows, j]) if numeric else None,
                "test_mean": _mean(X[test_rows, j]) if numeric else None,
            }
        )
    result["seconds"] = round(time.perf_counter() - started, 3)
    oof_frame = pd.DataFrame({"is_test": is_test, "p_test": oof}, index=features.index)
    write_parquet_atomic(out_dir / OOF_FILE, oof_frame)
    write_json_atomic(out_dir / RESULT_FILE, result)
    ws.log(
        f"adversarial: ROC-AUC {result['adversarial_roc_auc']:.4f} telling {n_test:,} test users from "
        f"{result['labelled_users']:,} labelled ones ({result['seconds']:.1f} s)"
    )
    return result


def _mean(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return round(float(values.mean()), 6) if len(values) else None


def adversarial_oof(ws: Workspace) -> pd.DataFrame | None:
    """The cached out-of-fold P(test user) (is_test, p_test by viewer_uid), if computed."""
    path = features_dir(ws) / OOF_FILE
    return pd.read_parquet(path) if path.exists() else None


def shift_warning(roc_auc: float | None) -> str | None:
    """The warning line when the test users look unlike the labelled ones, else None."""
    if roc_auc is None or roc_auc <= WARN_ROC_AUC:
        return None
    return (
        f"adversarial ROC-AUC {roc_auc:.3f} > {WARN_ROC_AUC}: the test users differ from the labelled ones, "
        "so local CV may not track the public score"
    )
