"""A sparse linear model: TF-IDF blocks of a user's items (authors, videos,
categories, title words) → logistic regression (binary for sex, multinomial
for age), with the weight of each block and C chosen by an inner CV on the
training rows only.

The TF-IDF is label-free (idf over every labelled and test user), so it may
be fitted once on all users without leaking a target.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, normalize

from socdem.config import LinearConfig

DEFAULTS = LinearConfig()  # the one source of the linear model's defaults
SMALL_ROWS = 20_000  # below it, inner_folds=0 means 5 inner folds, else 3
MIN_PROBA = 1e-15  # a class a fold's model never saw gets this before renormalising


def tfidf_blocks(
    count_matrices, sublinear_tf=True, min_users: int = 1, raw_counts: bool = False
) -> tuple[sp.csr_matrix, tuple]:
    """(each users x items count block → TF-IDF rows of unit L2 norm, side by side; the column count
    of each block). Items seen by fewer than `min_users` users (rows) are dropped first, and a block
    left without items with them. `sublinear_tf` may list several choices (e.g. [True, False]): each
    count block then gives one TF-IDF block per choice, in that order. With `raw_counts`, each count block
    also gives its counts without idf in rows of norm ~sqrt(events) (`scaled_counts`), after its TF-IDF forms."""
    blocks = []
    for counts in count_matrices:
        counts = sp.csr_matrix(counts)
        counts = counts[:, np.flatnonzero(np.bincount(counts.indices, minlength=counts.shape[1]) >= min_users)]
        if counts.shape[1] == 0:  # no item kept (e.g. every video missing from the catalogue)
            continue
        for sublinear in [sublinear_tf] if isinstance(sublinear_tf, bool) else sublinear_tf:
            tfidf = TfidfTransformer(sublinear_tf=sublinear, norm=None).fit_transform(counts)
            blocks.append(normalize(tfidf, norm="l2"))
        if raw_counts:
            blocks.append(scaled_counts(counts))
    sizes = tuple(int(b.shape[1]) for b in blocks)
    if not sum(sizes):  # no item kept (e.g. every video missing from the catalogue): the model learns the prior
        return sp.csr_matrix((sp.csr_matrix(count_matrices[0]).shape[0], 1), dtype=np.float64), (1,)
    return sp.hstack(blocks, format="csr", dtype=np.float64), sizes


def scaled_counts(counts: sp.csr_matrix, clip_quantile: float = 0.99) -> sp.csr_matrix:
    """Counts (no idf) in rows of norm sqrt(row total / median row total), clipped at its 99th
    percentile. Unlike unit rows, a long history keeps more evidence than a short one: with raw counts
    each event would add its own log-likelihood ratio, as in a naive Bayes posterior, whose row norm
    grows as sqrt(events) where items rarely repeat. The clip keeps the SAG solver's step (set by the
    largest row norm) from collapsing on a few heavy users, which would make it run many times longer."""
    totals = np.asarray(counts.sum(axis=1)).ravel()
    watched = totals > 0
    if not watched.any():
        return counts.astype(np.float64).tocsr()
    scale = np.sqrt(totals / np.median(totals[watched]))
    scale = np.minimum(scale, np.quantile(scale[watched], clip_quantile))
    return sp.diags(scale) @ normalize(counts.astype(np.float64), norm="l2").tocsr()


class InnerCVLogistic(ClassifierMixin, BaseEstimator):
    """L2 logistic regression whose C is the inner-CV log-loss best, refitted on all rows it is given.

    C runs over `cs` and on beyond an edge of the grid (by the grid's own step there) while the
    best C sits at that edge, at most `max_extensions` times: a small data set may want far more
    (or less) regularisation than a large one.

    With `block_sizes` (the column counts of X's blocks, side by side) each block gets its own
    logistic regression with its own C, and the blocks are weighed by a logistic regression on
    their inner out-of-fold logits (a stack): coarse blocks (a few categories) cannot drown a
    fine, informative one (thousands of videos), nor the reverse, and the weights come from the
    training rows alone. The stack is kept only where its nested inner-CV log loss beats the best
    block alone; else that block is the model.
    """

    def __init__(
        self,
        cs=tuple(DEFAULTS.cs),
        block_sizes=None,
        inner_folds: int = DEFAULTS.inner_folds,
        max_iter: int = DEFAULTS.max_iter,
        solver: str = DEFAULTS.solver,
        max_extensions: int = DEFAULTS.max_extensions,
        stack_rows: int = DEFAULTS.stack_rows,
        inner_rows: int = DEFAULTS.inner_rows,
        n_jobs: int = 1,
        random_state=None,
    ):
        self.cs = cs
        self.block_sizes = block_sizes
        self.inner_folds = inner_folds
        self.max_iter = max_iter
        self.solver = solver
        self.max_extensions = max_extensions
        self.stack_rows = stack_rows
        self.inner_rows = inner_rows
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _inner_folds(self, rows: int) -> int:
        """`inner_folds`, or with 0: 5 on fewer than SMALL_ROWS rows, where the choices are the noisiest and
        two more fits cost little, else 3."""
        if self.inner_folds:
            return int(self.inner_folds)
        return 5 if rows < SMALL_ROWS else 3

    def _model(self, c: float, warm_start: bool = False) -> LogisticRegression:
        return LogisticRegression(
            C=c, max_iter=self.max_iter, solver=self.solver, random_state=self.random_state, warm_start=warm_start
        )

    def _blocks(self, n_columns: int) -> list[slice]:
        sizes = self.block_sizes if self.block_sizes is not None else (n_columns,)
        ends = np.cumsum(sizes)
        return [slice(int(end - size), int(end)) for size, end in zip(sizes, ends) if size > 0]

    def _path(self, X, y, splits, cs) -> tuple[np.ndarray, np.ndarray]:
        """(mean inner-CV log loss of each C in `cs`, inner out-of-fold probabilities (C, rows, classes)),
        each fold's fits warm-started along the path."""
        oof = np.full((len(cs), len(y), len(self.classes_)), MIN_PROBA)
        for train, valid in splits:
            model = self._model(cs[0], warm_start=True)
            for i, c in enumerate(cs):
                model.set_params(C=c).fit(X[train], y[train])
                oof[i][np.ix_(valid, np.searchsorted(self.classes_, model.classes_))] = model.predict_proba(X[valid])
        oof /= oof.sum(axis=2, keepdims=True)
        losses = np.array([log_loss(y, proba, labels=self.classes_) for proba in oof])
        return losses, oof

    def _choose_c(self, X, y, splits) -> tuple[float, dict, np.ndarray]:
        """(best C, {C: inner-CV log loss}, inner out-of-fold probabilities at the best C)."""
        grid = sorted(float(c) for c in self.cs)
        losses, oof = self._path(X, y, splits, grid)
        table, best = dict(zip(grid, losses)), oof[int(np.argmin(losses))]
        for _ in range(self.max_extensions if len(grid) > 1 else 0):
            tried, c = sorted(table), min(table, key=table.get)
            if c == tried[-1]:
                c_next = c * tried[-1] / tried[-2]
            elif c == tried[0]:
                c_next = c * tried[0] / tried[1]
            else:
                break
            loss, proba = self._path(X, y, splits, [c_next])
            table[c_next] = float(loss[0])
            if loss[0] < min(v for k, v in table.items() if k != c_next):
                best = proba[0]
        c = min(table, key=table.get)
        return c, dict(sorted(table.items())), best

    def _sample(self, y: np.ndarray, size: int) -> np.ndarray:
        """All rows, or a stratified sample of `size` (sorted). The stack is fitted on `stack_rows`: a few
        dozen weights need no more, and a multinomial fit on tens of thousands of rows costs minutes."""
        rows = np.arange(len(y))
        if not size or len(y) <= size:
            return rows
        _, counts = np.unique(y, return_counts=True)
        stratify = y if counts.min() >= 2 else None
        sample, _ = train_test_split(rows, train_size=size, stratify=stratify, random_state=self.random_state)
        return np.sort(sample)

    @staticmethod
    def _stacker():
        # standardised logits: the blocks' logits are correlated and of unequal scale, which makes L-BFGS
        # crawl where it converges in a few dozen steps once they are scaled
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))

    def _stack_inputs(self, probas: list[np.ndarray]) -> np.ndarray:
        """Each block's logits: log-odds of the last class for a binary target, log-probabilities else."""
        logs = [np.log(np.clip(p, MIN_PROBA, None)) for p in probas]
        if len(self.classes_) == 2:
            logs = [lg[:, 1:] - lg[:, :1] for lg in logs]
        return np.hstack(logs)

    def fit(self, X, y):
        # SAG stops at max_iter short of convergence at the largest C of a path: harmless, since C is
        # chosen by held-out log loss, and thousands of such lines would bury the log
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self._fit(X, y)

    def _fit(self, X, y):
        X_all, y_all = sp.csr_matrix(X), np.asarray(y)
        self.classes_ = np.unique(y_all)
        # the choices (C, blocks, stack) on at most `inner_rows` rows: on a large data set they barely move
        # with more, while the inner fits dominate the cost; the chosen models are refitted on every row
        sample = self._sample(y_all, self.inner_rows)
        X, y = X_all[sample], y_all[sample]
        splitter = StratifiedKFold(n_splits=self._inner_folds(len(y_all)), shuffle=True, random_state=self.random_state)
        splits = list(splitter.split(np.zeros(len(y)), y))
        self.blocks_ = self._blocks(X.shape[1])
        # blocks in parallel threads: the SAG solver releases the GIL, and each block is seeded on its own
        with ThreadPoolExecutor(max_workers=max(1, int(self.n_jobs))) as pool:
            chosen = list(pool.map(lambda block: self._choose_c(X[:, block], y, splits), self.blocks_))
        self.block_C_, self.block_log_loss_, inner = (list(part) for part in zip(*chosen))
        losses = [min(table.values()) for table in self.block_log_loss_]
        best = int(np.argmin(losses))
        self.used_ = [best]
        if len(self.blocks_) > 1:
            # the stack is kept only where its own (nested) inner-CV log loss beats the best block alone:
            # on a small data set, blocks that carry nothing add noise to it
            rows = self._sample(y, self.stack_rows)
            Z, y_rows = self._stack_inputs([oof[rows] for oof in inner]), y[rows]
            nested = np.full((len(rows), len(self.classes_)), MIN_PROBA)
            for train, valid in splits:
                train, valid = np.isin(rows, train), np.isin(rows, valid)
                stack = self._stacker().fit(Z[train], y_rows[train])
                nested[np.ix_(valid, np.searchsorted(self.classes_, stack.classes_))] = stack.predict_proba(Z[valid])
            self.stack_log_loss_ = float(log_loss(y_rows, nested, labels=self.classes_))
            if self.stack_log_loss_ < float(log_loss(y_rows, inner[best][rows], labels=self.classes_)):
                self.used_ = list(range(len(self.blocks_)))
                self.stack_ = self._stacker().fit(Z, y_rows)
        with ThreadPoolExecutor(max_workers=max(1, int(self.n_jobs))) as pool:
            fitted = pool.map(lambda b: self._model(self.block_C_[b]).fit(X_all[:, self.blocks_[b]], y_all), self.used_)
            self.models_ = dict(zip(self.used_, fitted))
        self.C_, self.cv_log_loss_ = self.block_C_[best], self.block_log_loss_[best]
        return self

    def predict_proba(self, X):
        X = sp.csr_matrix(X)
        probas = [self.models_[b].predict_proba(X[:, self.blocks_[b]]) for b in self.used_]
        if len(probas) == 1:
            return probas[0]
        return self.stack_.predict_proba(self._stack_inputs(probas))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
