"""A sparse linear model: TF-IDF blocks of a user's items (authors, videos,
categories, title words) → logistic regression (binary for sex, multinomial
for age), with the weight of each block and C chosen by an inner CV on the
training rows only.

The TF-IDF is label-free (idf over every labelled and test user), so it may
be fitted once on all users without leaking a target.
"""

from __future__ import annotations

import copy
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, normalize

from socdem.config import LinearConfig
from socdem.metrics import log_loss
from socdem.selection import auto_inner_folds, choice_repeats, choice_splits, one_standard_error

DEFAULTS = LinearConfig()  # the one source of the linear model's defaults
FIT_CODE_VERSION = 5  # bump it when what a fit learns changes: its folds and the models reading its logits train again
MIN_PROBA = 1e-15  # a class a fold's model never saw gets this before renormalising
COMBINATIONS = ("prior", "block", "mean", "stack")  # how the blocks are combined, simplest first
STACK_CS = (0.01, 0.03, 0.1, 0.3, 1.0)  # the stack's C grid (inverse L2 on standardised logits)
STACK_FOLDS = 3
# LogisticRegressionCV with the L2 penalty only, in the attribute form scikit-learn 1.10 makes the default
RIDGE_ONLY = {"l1_ratios": (0.0,), "use_legacy_attributes": False}
MAX_MEAN_STEPS = 2  # a greedy mean adds at most twice as many blocks as there are


def tfidf_blocks(
    count_matrices, sublinear_tf=True, min_users: int = 1, raw_counts: bool = False, weighted=()
) -> tuple[sp.csr_matrix, tuple]:
    """(each users x items count block → TF-IDF rows of unit L2 norm, side by side; the column count
    of each block). Items seen by fewer than `min_users` users (rows) are dropped first, and a block
    left without items with them. `sublinear_tf` may list several choices (e.g. [True, False]): each
    count block then gives one TF-IDF block per choice, in that order. With `raw_counts`, each count block
    also gives its counts without idf in rows of norm ~sqrt(events) (`scaled_counts`), after its TF-IDF forms.
    A block flagged in `weighted` sums weights of at most 1 per event, not counts: its term frequency is that
    sum, in one TF-IDF form (a logarithm would turn a short view into negative evidence)."""
    blocks = []
    for i, counts in enumerate(count_matrices):
        counts = sp.csr_matrix(counts)
        counts = counts[:, np.flatnonzero(np.bincount(counts.indices, minlength=counts.shape[1]) >= min_users)]
        if counts.shape[1] == 0:  # no item kept (e.g. every video missing from the catalogue)
            continue
        forms = [sublinear_tf] if isinstance(sublinear_tf, bool) else sublinear_tf
        for sublinear in [False] if i < len(weighted) and weighted[i] else forms:
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


def weighted_mean_proba(logs: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Probabilities from the weighted mean of the blocks' log-probabilities, renormalised."""
    mean = np.tensordot(np.asarray(weights, dtype=np.float64) / np.sum(weights), np.stack(logs), axes=1)
    mean -= mean.max(axis=1, keepdims=True)
    proba = np.exp(mean)
    return proba / proba.sum(axis=1, keepdims=True)


def class_shares(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each class's share of `y` (MIN_PROBA for a class absent there, renormalised)."""
    shares = np.clip((y[:, None] == classes[None, :]).mean(axis=0), MIN_PROBA, None)
    return shares / shares.sum()


def greedy_mean_weights(logs: list[np.ndarray], y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """How often each block enters the mean: blocks are added one at a time (with replacement, as in
    Caruana et al.'s ensemble selection), each the one that lowers the mean's log loss most, until none does."""
    weights = np.zeros(len(logs))
    best = np.inf
    for _ in range(MAX_MEAN_STEPS * len(logs)):
        trials = []
        for b in range(len(logs)):
            trial = weights.copy()
            trial[b] += 1
            trials.append(log_loss(y, weighted_mean_proba(logs, trial), classes))
        b = int(np.argmin(trials))
        if trials[b] >= best - 1e-9:
            break
        best, weights[b] = trials[b], weights[b] + 1
    return weights


def neg_log_loss(estimator, X, y) -> float:
    """scikit-learn's "neg_log_loss" scorer, the same number without its checks: a binary target's probabilities
    as that scorer rebuilds them from the positive class's column (1 - p, p)."""
    proba = estimator.predict_proba(X)
    if proba.shape[1] == 2:
        proba = np.column_stack([1 - proba[:, 1], proba[:, 1]])
    return -log_loss(y, proba, estimator.classes_)


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
    block alone; else that block is the model, unless it does not beat the class shares (`prior_`).
    """

    def __init__(
        self,
        cs=tuple(DEFAULTS.cs),
        block_sizes=None,
        inner_folds: int = DEFAULTS.inner_folds,
        max_iter: int = DEFAULTS.max_iter,
        tol: float = DEFAULTS.tol,
        solver: str = DEFAULTS.solver,
        max_extensions: int = DEFAULTS.max_extensions,
        stack_rows: int = DEFAULTS.stack_rows,
        nested_rows: int = DEFAULTS.nested_rows,
        inner_rows: int = DEFAULTS.inner_rows,
        n_jobs: int = 1,
        random_state=None,
    ):
        self.cs = cs
        self.block_sizes = block_sizes
        self.inner_folds = inner_folds
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.max_extensions = max_extensions
        self.stack_rows = stack_rows
        self.nested_rows = nested_rows
        self.inner_rows = inner_rows
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _model(self, c: float, warm_start: bool = False) -> LogisticRegression:
        return LogisticRegression(
            C=c,
            max_iter=self.max_iter,
            tol=self.tol,
            solver=self.solver,
            random_state=self.random_state,
            warm_start=warm_start,
        )

    def _blocks(self, n_columns: int) -> list[slice]:
        sizes = self.block_sizes if self.block_sizes is not None else (n_columns,)
        ends = np.cumsum(sizes)
        return [slice(int(end - size), int(end)) for size, end in zip(sizes, ends) if size > 0]

    def _path(self, X, y, splits, cs, keep: bool = False) -> tuple[np.ndarray, np.ndarray, list]:
        """(log loss of each C in `cs` on each split's held-out rows: (C, splits), inner out-of-fold
        probabilities (C, rows, classes), averaged over the repeats of a row, with `keep` each C's fitted
        split models, else empty lists), each split's fits warm-started along the path."""
        total = np.zeros((len(cs), len(y), len(self.classes_)))
        kept = [[] for _ in cs]
        seen = np.zeros(len(y))
        fold_losses = np.zeros((len(cs), len(splits)))
        for s, (train, valid) in enumerate(splits):
            model = self._model(cs[0], warm_start=True)
            for i, c in enumerate(cs):
                model.set_params(C=c).fit(X[train], y[train])
                proba = self._predict(model, X[valid])
                total[i][valid] += proba
                fold_losses[i, s] = log_loss(y[valid], proba, self.classes_)
                if keep:
                    kept[i].append(copy.deepcopy(model))
            seen[valid] += 1
        return fold_losses, total / np.maximum(seen, 1)[None, :, None], kept

    def _choose_c(self, X, y, splits, keep: bool = False) -> tuple[float, dict, np.ndarray, np.ndarray, list]:
        """(chosen C, {C: mean inner-CV log loss}, inner out-of-fold probabilities at that C, its log loss on
        each split, with `keep` the split models fitted at that C). The grid runs on past an edge while the best
        C sits there; then the smallest C (the most regularised) within one standard error of the best is taken
        (selection.one_standard_error)."""
        grid = sorted(float(c) for c in self.cs)
        losses, oof, kept = self._path(X, y, splits, grid, keep)
        folds, probas, models = dict(zip(grid, losses)), dict(zip(grid, oof)), dict(zip(grid, kept))
        for _ in range(self.max_extensions if len(grid) > 1 else 0):
            tried = sorted(folds)
            c = min(folds, key=lambda k: folds[k].mean())
            if c == tried[-1]:
                c_next = c * tried[-1] / tried[-2]
            elif c == tried[0]:
                c_next = c * tried[0] / tried[1]
            else:
                break
            loss, proba, kept = self._path(X, y, splits, [c_next], keep)
            folds[c_next], probas[c_next], models[c_next] = loss[0], proba[0], kept[0]
        tried = sorted(folds)
        c = tried[one_standard_error([folds[k] for k in tried], higher_is_better=False, repeats=choice_repeats(len(y)))]
        return c, {k: float(folds[k].mean()) for k in tried}, probas[c], folds[c], models[c]

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
        # crawl where it converges in a few dozen steps once they are scaled; its C by a small inner CV, so
        # a dozen weak blocks on a few hundred users are shrunk rather than fitted to their noise
        model = LogisticRegressionCV(Cs=STACK_CS, cv=STACK_FOLDS, scoring=neg_log_loss, max_iter=300, **RIDGE_ONLY)
        return make_pipeline(StandardScaler(), model)

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
        rest = np.setdiff1d(np.arange(len(y_all)), sample)
        X, y = X_all[sample], y_all[sample]
        splits = choice_splits(y, auto_inner_folds(self.inner_folds, len(y_all)), self.random_state)
        self.blocks_ = self._blocks(X.shape[1])
        # blocks in parallel threads: the SAG solver releases the GIL, and each block is seeded on its own;
        # the split models are kept where rows lie outside the sample, to predict them out of fold
        with ThreadPoolExecutor(max_workers=max(1, int(self.n_jobs))) as pool:
            chosen = list(pool.map(lambda block: self._choose_c(X[:, block], y, splits, len(rest) > 0), self.blocks_))
        self.block_C_, self.block_log_loss_, inner, _, split_models = (list(part) for part in zip(*chosen))
        best = int(np.argmin([table[c] for table, c in zip(self.block_log_loss_, self.block_C_)]))
        self.combination_, self.used_, self.block_weights_ = "block", [best], np.eye(len(self.blocks_))[best]
        self.prior_ = class_shares(y_all, self.classes_)
        self._combine(inner, X, y, splits, best)
        with ThreadPoolExecutor(max_workers=max(1, int(self.n_jobs))) as pool:
            fitted = pool.map(lambda b: self._model(self.block_C_[b]).fit(X_all[:, self.blocks_[b]], y_all), self.used_)
            self.models_ = dict(zip(self.used_, fitted))
        self.C_, self.cv_log_loss_ = self.block_C_[best], self.block_log_loss_[best]
        self.oof_proba_ = self._out_of_fold(X_all, sample, rest, inner, split_models)
        return self

    def _combine(self, inner: list[np.ndarray], X, y: np.ndarray, splits: list, best: int) -> None:
        """How the blocks are combined, simplest first: the class shares alone (no block), the best block
        alone, the mean of the blocks' log-probabilities weighted by a greedy selection (each block may enter
        several times), a stack (a logistic regression on their logits). Each is scored by nested CV on the
        choice splits (on at most `stack_rows` rows, stratified; below `nested_rows` rows on refits of the blocks
        that never saw a split's held-out labels, `_split_logits`), the best block too chosen on each split's
        training rows only, and chosen by the one-standard-error rule: blocks that carry nothing add noise to
        a stack, and a mean of a few good blocks is hard to beat."""
        rows = self._sample(y, self.stack_rows)
        names = COMBINATIONS if len(self.blocks_) > 1 else COMBINATIONS[:2]
        nested = len(names) > 2 and len(y) < self.nested_rows  # one block: nothing is fitted on its logits
        losses = np.zeros((len(names), len(splits)))
        for s, (train, valid) in enumerate(splits):
            train, valid = rows[np.isin(rows, train)], rows[np.isin(rows, valid)]
            if nested:
                fitted, held = self._split_logits(X, y, train, valid)
            else:
                fitted, held = [oof[train] for oof in inner], [oof[valid] for oof in inner]
            losses[:, s] = self._candidate_losses(fitted, y[train], held, y[valid])
        self.combination_log_loss_ = dict(zip(names, losses.mean(axis=1).round(6).tolist()))
        self.combination_ = names[one_standard_error(list(losses), False, repeats=choice_repeats(len(y)))]
        logs, y_rows = [np.log(np.clip(oof[rows], MIN_PROBA, None)) for oof in inner], y[rows]
        if self.combination_ == "prior":
            self.used_, self.block_weights_ = [], np.zeros(len(self.blocks_))
        elif self.combination_ == "mean":
            self.block_weights_ = greedy_mean_weights(logs, y_rows, self.classes_)
            self.used_ = [int(b) for b in np.flatnonzero(self.block_weights_)]
        elif self.combination_ == "stack":
            self.used_ = list(range(len(self.blocks_)))
            self.stack_ = self._stacker().fit(self._stack_inputs([oof[rows] for oof in inner]), y_rows)

    def _split_logits(self, X, y: np.ndarray, train: np.ndarray, valid: np.ndarray) -> tuple[list, list]:
        """Each block's probabilities at its chosen C on a choice split's rows, from fits that never saw the
        held-out rows' labels: out of fold within the training rows, and a fit on them for the held-out rows.
        (The inner out-of-fold probabilities of the training rows come from models fitted on the held-out rows:
        a stack fitted on them reads the held-out labels, and beats the class shares on pure noise.)"""
        n_folds = auto_inner_folds(self.inner_folds, len(train))
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=self.random_state)
        inner_splits = list(folds.split(train, y[train]))

        def block_logits(b: int) -> tuple[np.ndarray, np.ndarray]:
            Xb = X[:, self.blocks_[b]]
            fitted = np.full((len(train), len(self.classes_)), MIN_PROBA)
            for part, rest in inner_splits:
                model = self._model(self.block_C_[b]).fit(Xb[train[part]], y[train[part]])
                fitted[rest] = self._predict(model, Xb[train[rest]])
            model = self._model(self.block_C_[b]).fit(Xb[train], y[train])
            return fitted, self._predict(model, Xb[valid])

        with ThreadPoolExecutor(max_workers=max(1, int(self.n_jobs))) as pool:
            fitted, held = zip(*pool.map(block_logits, range(len(self.blocks_))))
        return list(fitted), list(held)

    def _predict(self, model: LogisticRegression, X) -> np.ndarray:
        """`model`'s probabilities over every class of `classes_` (MIN_PROBA for one it never saw)."""
        proba = np.full((X.shape[0], len(self.classes_)), MIN_PROBA)
        proba[:, np.searchsorted(self.classes_, model.classes_)] = model.predict_proba(X)
        return proba / proba.sum(axis=1, keepdims=True)

    def _candidate_losses(self, fitted: list, y_fit: np.ndarray, held: list, y_held: np.ndarray) -> list[float]:
        """The held-out log loss of each combination (COMBINATIONS' order) fitted on the blocks' probabilities
        `fitted` of rows labelled `y_fit`, applied to their probabilities `held` of the held-out rows."""
        fit_logs = [np.log(np.clip(p, MIN_PROBA, None)) for p in fitted]
        held_logs = [np.log(np.clip(p, MIN_PROBA, None)) for p in held]
        block = int(np.argmin([log_loss(y_fit, np.exp(lg), self.classes_) for lg in fit_logs]))
        candidates = [np.tile(class_shares(y_fit, self.classes_), (len(y_held), 1)), np.exp(held_logs[block])]
        if len(fitted) > 1:
            weights = greedy_mean_weights(fit_logs, y_fit, self.classes_)
            stack = self._stacker().fit(self._stack_inputs(fitted), y_fit)
            nested = np.full((len(y_held), len(self.classes_)), MIN_PROBA)
            nested[:, np.searchsorted(self.classes_, stack.classes_)] = stack.predict_proba(self._stack_inputs(held))
            candidates += [weighted_mean_proba(held_logs, weights), nested]
        return [log_loss(y_held, proba, self.classes_) for proba in candidates]

    def _out_of_fold(self, X_all, sample, rest, inner: list, split_models: list) -> np.ndarray:
        """The final model's probabilities on every row it was fitted on, each from models that never saw
        the row: the inner folds' at the chosen C, out of fold on the sampled rows, their mean elsewhere (as a
        forest's out-of-bag predictions: stacking the model into another costs no further fit)."""
        block_probas, X_rest = [], X_all[rest]
        for b in self.used_:
            proba = np.empty((X_all.shape[0], len(self.classes_)))
            proba[sample] = inner[b]
            if len(rest):
                block = X_rest[:, self.blocks_[b]]
                proba[rest] = np.mean([self._predict(model, block) for model in split_models[b]], axis=0)
            block_probas.append(proba)
        return self._combined(block_probas, X_all.shape[0])

    def _combined(self, probas: list[np.ndarray], rows: int) -> np.ndarray:
        """The used blocks' probabilities (in `used_` order) on `rows` rows, combined as chosen."""
        if self.combination_ == "prior":
            return np.tile(self.prior_, (rows, 1))
        if self.combination_ == "stack":
            return self.stack_.predict_proba(self._stack_inputs(probas))
        logs = [np.log(np.clip(p, MIN_PROBA, None)) for p in probas]
        return weighted_mean_proba(logs, self.block_weights_[self.used_])

    def predict_proba(self, X):
        X = sp.csr_matrix(X)
        probas = [self.models_[b].predict_proba(X[:, self.blocks_[b]]) for b in self.used_]
        if len(probas) == 1:
            return probas[0]
        return self._combined(probas, X.shape[0])

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
