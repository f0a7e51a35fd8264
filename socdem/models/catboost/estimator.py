"""CatBoost in the scikit-learn estimator contract.

Binary targets get Logloss, more classes MultiClass. Early stopping uses an
inner stratified split of the data given to `fit` (the training fold), never
the validation fold, so out-of-fold scores stay honest. Columns of pandas
"category" or object dtype go to CatBoost as categorical features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier, Pool
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split

from socdem.config import LARGE_FIT_ROWS, CatBoostConfig

MISSING_CATEGORY = "__missing__"
DEFAULTS = CatBoostConfig()  # the one source of CatBoost's defaults
SMALL_FIT_LEARNING_RATE, LARGE_FIT_LEARNING_RATE = 0.06, 0.1  # learning_rate = 0: by the rows fitted


def auto_learning_rate(learning_rate: float, n_rows: int) -> float:
    """`learning_rate`, or where it is 0 the one the rows fitted call for (config.py says why)."""
    if learning_rate:
        return float(learning_rate)
    return SMALL_FIT_LEARNING_RATE if n_rows <= LARGE_FIT_ROWS else LARGE_FIT_LEARNING_RATE


def categorical_columns(X: pd.DataFrame) -> list[str]:
    return [
        c
        for c in X.columns
        if isinstance(X[c].dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(X[c].dtype)
        or pd.api.types.is_string_dtype(X[c].dtype)
    ]


def _as_pool(X, cat_features: list[str], label=None, baseline=None) -> Pool:
    if not isinstance(X, pd.DataFrame):
        return Pool(np.asarray(X, dtype=np.float64), label=label, baseline=baseline)
    if cat_features:
        # CatBoost wants strings for categorical values, and no NaN among them
        X = X.copy()
        for c in cat_features:
            X[c] = X[c].astype(object).where(X[c].notna(), MISSING_CATEGORY).astype(str)
    return Pool(X, label=label, cat_features=cat_features or None, baseline=baseline)


class CatBoostModel(ClassifierMixin, BaseEstimator):
    """CatBoostClassifier with early stopping on an inner split of the training data.

    `baseline` names columns of X whose values the boosting starts from (CatBoost's baseline, in
    training and prediction alike) when it is fitted on fewer than `baseline_rows` rows
    (`baseline_used_`): the trees then fit what those scores miss, and early stopping keeps few of them
    where the baseline is already as good as the data can show. On more rows they stay plain columns.

    `iterations` is the upper bound; the model keeps the best iteration on the
    inner split (`best_iteration_`). `thread_count` is a parameter because
    CatBoost's results depend on it.
    """

    def __init__(
        self,
        iterations: int = DEFAULTS.iterations,
        learning_rate: float = DEFAULTS.learning_rate,
        depth: int = DEFAULTS.depth,
        l2_leaf_reg: float = DEFAULTS.l2_leaf_reg,
        grow_policy: str = DEFAULTS.grow_policy,
        min_data_in_leaf: int = DEFAULTS.min_data_in_leaf,
        bootstrap_type: str | None = DEFAULTS.bootstrap_type or None,
        bagging_temperature: float = DEFAULTS.bagging_temperature,
        subsample: float = DEFAULTS.subsample,
        sample_rows: int = DEFAULTS.sample_rows,
        border_count: int = DEFAULTS.border_count,
        one_hot_max_size: int = DEFAULTS.one_hot_max_size,
        max_ctr_complexity: int = DEFAULTS.max_ctr_complexity,
        early_stopping_rounds: int = DEFAULTS.early_stopping_rounds,
        multiclass_rsm: float = DEFAULTS.multiclass_rsm,
        inner_valid_share: float = DEFAULTS.inner_valid_share,
        baseline: tuple = (),
        baseline_rows: int = DEFAULTS.baseline_rows,
        random_state: int = 0,
        thread_count: int = 1,
    ):
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.grow_policy = grow_policy
        self.min_data_in_leaf = min_data_in_leaf
        self.bootstrap_type = bootstrap_type
        self.bagging_temperature = bagging_temperature
        self.subsample = subsample
        self.sample_rows = sample_rows
        self.border_count = border_count
        self.one_hot_max_size = one_hot_max_size
        self.max_ctr_complexity = max_ctr_complexity
        self.early_stopping_rounds = early_stopping_rounds
        self.multiclass_rsm = multiclass_rsm
        self.inner_valid_share = inner_valid_share
        self.baseline = baseline
        self.baseline_rows = baseline_rows
        self.random_state = random_state
        self.thread_count = thread_count

    def _catboost_params(self, n_classes: int, n_rows: int = 0) -> dict:
        params = dict(
            iterations=int(self.iterations),
            learning_rate=auto_learning_rate(self.learning_rate, n_rows),
            depth=int(self.depth),
            l2_leaf_reg=float(self.l2_leaf_reg),
            grow_policy=self.grow_policy,
            border_count=int(self.border_count),
            one_hot_max_size=int(self.one_hot_max_size),
            random_seed=int(self.random_state),
            thread_count=int(self.thread_count),
            loss_function="Logloss" if n_classes == 2 else "MultiClass",
            verbose=0,
            allow_writing_files=False,
        )
        if n_classes > 2 and self.multiclass_rsm < 1:
            params["rsm"] = float(self.multiclass_rsm)
        if self.max_ctr_complexity:  # 0: CatBoost's own default
            params["max_ctr_complexity"] = int(self.max_ctr_complexity)
        if self.grow_policy != "SymmetricTree":  # CatBoost ignores it for symmetric trees
            params["min_data_in_leaf"] = int(self.min_data_in_leaf)
        if self.bootstrap_type is not None:
            params["bootstrap_type"] = self.bootstrap_type
        elif self.sample_rows and n_rows > self.sample_rows:
            # CatBoost's own bootstrap for MultiClass (Bayesian) weighs every row: no time saved on a large set
            params["bootstrap_type"] = "MVS"
            params["subsample"] = float(self.sample_rows) / n_rows
            return params
        bootstrap = self.bootstrap_type or ("MVS" if n_classes == 2 else "Bayesian")  # CatBoost's CPU defaults
        if bootstrap == "Bayesian":
            params["bagging_temperature"] = float(self.bagging_temperature)
        elif bootstrap in ("Bernoulli", "MVS"):
            params["subsample"] = float(self.subsample)
        return params

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"CatBoostModel needs at least two classes in y, got {self.classes_.tolist()}")
        codes = np.searchsorted(self.classes_, y)
        self.cat_features_ = categorical_columns(X) if isinstance(X, pd.DataFrame) else []
        self.feature_names_in_ = np.asarray(X.columns, dtype=object) if isinstance(X, pd.DataFrame) else None
        self.n_features_in_ = X.shape[1]
        self.baseline_used_ = bool(self.baseline) and len(codes) < self.baseline_rows
        rows = np.arange(len(codes))
        fit_rows, stop_rows = train_test_split(
            rows, test_size=self.inner_valid_share, random_state=self.random_state, stratify=codes
        )
        take = (lambda r: X.iloc[r]) if isinstance(X, pd.DataFrame) else (lambda r: np.asarray(X)[r])
        model = CatBoostClassifier(**self._catboost_params(len(self.classes_), len(fit_rows)))
        model.fit(
            self._pool(take(fit_rows), codes[fit_rows]),
            eval_set=self._pool(take(stop_rows), codes[stop_rows]),
            early_stopping_rounds=int(self.early_stopping_rounds),
            use_best_model=True,
        )
        self.model_ = model
        self.best_iteration_ = int(model.get_best_iteration())
        return self

    def predict_proba(self, X) -> np.ndarray:
        if isinstance(X, pd.DataFrame) and self.feature_names_in_ is not None:
            X = X[list(self.feature_names_in_)]
        proba = self.model_.predict_proba(self._pool(X))
        return proba.reshape(len(proba), -1)

    def _pool(self, X, label=None) -> Pool:
        return _as_pool(X, self.cat_features_, label, self._baseline_of(X))

    def _baseline_of(self, X) -> np.ndarray | None:
        """The starting scores of X's rows: the `baseline` columns (one for a binary target, its log-odds;
        one per class of the target's full class set for several, their log-probabilities, of which the
        classes the fit saw are taken); None without any."""
        if not self.baseline_used_:
            return None
        if not isinstance(X, pd.DataFrame):
            raise ValueError("CatBoostModel: a baseline needs X as a DataFrame holding its columns")
        columns = list(self.baseline) if len(self.baseline) == 1 else [self.baseline[int(c)] for c in self.classes_]
        values = X[columns].to_numpy(np.float64)
        return values[:, 0] if len(columns) == 1 else values

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @property
    def feature_importances_(self) -> np.ndarray:
        return self.model_.get_feature_importance()
