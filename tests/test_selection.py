"""The one-standard-error rule: the simplest candidate within the noise of the best, the best beyond it."""

from __future__ import annotations

import numpy as np

from socdem.selection import (
    FEW_FOLDS_ROWS,
    REPEATS,
    SMALL_ROWS,
    auto_inner_folds,
    choice_repeats,
    choice_splits,
    one_standard_error,
)


def test_a_better_candidate_must_win_by_more_than_the_standard_error():
    simple = np.array([0.70, 0.72, 0.68, 0.71, 0.69])
    noisy_gain = simple + np.array([0.02, -0.01, 0.015, -0.012, 0.01])  # mean +0.005, se ~0.006
    assert noisy_gain.mean() > simple.mean() and one_standard_error([simple, noisy_gain], True) == 0
    clear_gain = simple + np.array([0.02, 0.018, 0.022, 0.019, 0.021])
    assert one_standard_error([simple, clear_gain], True) == 1
    # lower is better (a loss): the same rule, mirrored
    assert one_standard_error([1 - simple, 1 - clear_gain], False) == 1
    assert one_standard_error([1 - simple, 1 - noisy_gain], False) == 0


def test_the_simplest_within_the_noise_is_taken_and_a_failed_candidate_never():
    base = np.array([0.50, 0.52, 0.51, 0.49])
    middle = base + np.array([0.03, 0.031, 0.029, 0.03])
    best = middle + np.array([0.001, -0.001, 0.002, 0.0])  # within middle's noise
    assert one_standard_error([base, middle, best], True) == 1
    assert one_standard_error([np.array([np.nan, 0.9, 0.9, 0.9]), base], True) == 1


def test_small_data_repeats_its_choice_folds():
    y = np.arange(SMALL_ROWS // REPEATS) % 2
    assert len(choice_splits(y, 5, 0)) == 5 * REPEATS
    assert len(choice_splits(np.arange(SMALL_ROWS) % 2, 5, 0)) == 5
    valid = np.concatenate([v for _, v in choice_splits(y, 5, 0)])
    assert np.array_equal(np.bincount(valid), np.full(len(y), REPEATS))  # each row held out once per repeat


def test_fewer_repeats_as_the_rows_near_the_small_data_line():
    """Each repeat is a whole round of fits: about SMALL_ROWS held-out rows in all, never fewer than one round."""
    assert choice_repeats(600) == REPEATS and choice_repeats(SMALL_ROWS // 3) == REPEATS
    assert choice_repeats(SMALL_ROWS // 2) == 2 and choice_repeats(SMALL_ROWS // 2 + 1) == 1
    assert choice_repeats(SMALL_ROWS - 1) == choice_repeats(SMALL_ROWS) == choice_repeats(10**6) == 1
    y = np.arange(SMALL_ROWS // 2) % 2
    assert len(choice_splits(y, 5, 0)) == 5 * 2
    assert len(choice_splits(np.arange(SMALL_ROWS - 1) % 2, 5, 0)) == 5


def test_repeated_folds_count_once_in_the_standard_error():
    """Reshuffles of the same rows score the same users again: a gain within the error of one shuffle's
    folds stays within it however often they are repeated."""
    simple = np.tile([0.70, 0.72, 0.68, 0.71, 0.69], REPEATS)
    gain = simple + np.tile([0.012, -0.004, 0.010, -0.002, 0.006], REPEATS)  # mean +0.0044, se ~0.003 a shuffle
    assert one_standard_error([simple[:5], gain[:5]], True) == 1
    assert one_standard_error([simple, gain], True, repeats=REPEATS) == 1
    small = simple + np.tile([0.008, -0.004, 0.006, -0.004, 0.004], REPEATS)  # mean +0.002, se ~0.0026
    assert one_standard_error([simple, small], True) == 1  # the repeats taken as new folds: wrongly beyond it
    assert one_standard_error([simple, small], True, repeats=REPEATS) == 0


def test_an_automatic_inner_split_has_five_folds_on_small_data_and_three_on_large():
    assert auto_inner_folds(0, 800) == 5 and auto_inner_folds(0, FEW_FOLDS_ROWS - 1) == 5
    assert auto_inner_folds(0, FEW_FOLDS_ROWS) == 3 and auto_inner_folds(0, 50_000) == 3
    assert auto_inner_folds(4, 800) == 4 and auto_inner_folds(4, 50_000) == 4
