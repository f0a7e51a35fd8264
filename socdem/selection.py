"""Model choice that small data cannot fool: the one-standard-error rule over per-fold scores.

Every choice made by inner or nested CV (the linear model's C and its combination of blocks, the blend's
candidate, the sex threshold, the age biases) lists its candidates simplest first and scores each on the
same folds. The best by mean score is taken only where it beats each simpler candidate by more than the
standard error of their paired per-fold difference; else the simplest candidate within that error wins.
On a large data set the error is small and the best wins; on a few hundred users a lucky fold does not.
Folds repeated on reshuffles of the same rows score the same users again: the error counts only the folds
of one shuffle as independent, or the repeats would shrink it without new evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

SMALL_ROWS = 5_000  # a choice's folds are repeated while their held-out rows stay within it: the noisiest scores
REPEATS = 3  # at most; fewer as the rows near SMALL_ROWS (choice_repeats)
FEW_FOLDS_ROWS = 20_000  # from this many training rows an automatic inner split (inner_folds = 0) has 3 folds, not 5


def auto_inner_folds(inner_folds: int, rows: int) -> int:
    """`inner_folds`, or with 0: 5 on fewer than FEW_FOLDS_ROWS rows, where choices and cross-fitted encodings
    are the noisiest and two more fits cost little, else 3 (each fit there costs the most and varies the least)."""
    if inner_folds:
        return int(inner_folds)
    return 5 if rows < FEW_FOLDS_ROWS else 3


def one_standard_error(fold_scores: Sequence[np.ndarray], higher_is_better: bool, repeats: int = 1) -> int:
    """The index of the chosen candidate; `fold_scores[i]` holds candidate i's score on each fold (the same
    folds for all, candidates simplest first), those folds `repeats` shuffles of the same rows. A candidate
    with no finite score is never chosen."""
    scores = [np.asarray(s, dtype=np.float64) for s in fold_scores]
    sign = 1.0 if higher_is_better else -1.0
    means = [sign * s.mean() if np.isfinite(s).all() else -np.inf for s in scores]
    best = int(np.argmax(means))
    for simpler in range(best):
        if not np.isfinite(means[simpler]):
            continue
        diff = sign * (scores[best] - scores[simpler])
        independent = max(len(diff) / max(int(repeats), 1), 1.0)
        se = diff.std(ddof=1) / np.sqrt(independent) if len(diff) > 1 else 0.0
        if diff.mean() <= se:
            return simpler
    return best


def choice_repeats(rows: int) -> int:
    """How many shuffles of the folds a choice on `rows` rows is scored on: as many as fit in SMALL_ROWS held-out
    rows (each repeat holds every row out once), at least one and at most REPEATS. A repeat steadies the
    choice where the rows are few and costs a whole round of fits; near SMALL_ROWS three rounds cost a contest
    of a few thousand users more than one of fifty thousand."""
    return int(np.clip(SMALL_ROWS // max(int(rows), 1), 1, REPEATS))


def choice_splits(y: np.ndarray, n_folds: int, seed) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (train, valid) splits for a choice: n_folds folds, repeated choice_repeats(rows) times with
    other shuffles (plain stratified folds where that is once)."""
    repeats = choice_repeats(len(y))
    if repeats > 1:
        splitter = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=repeats, random_state=seed)
    else:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))
