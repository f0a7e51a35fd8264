"""The blend: never worse than the best single model beyond noise, decisions
from out-of-fold data only, constant models kept out of stacking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score

from socdem.pipeline.blend import StackBlend, blend, choice_folds, weighted_f1
from socdem.pipeline.thresholds import expected_weighted_f1, tune_expected_f1_bias
from socdem.schema import prediction_frame
from socdem.selection import REPEATS

N, N_TEST, K = 3000, 800, 5


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def problem():
    """Two informative models with independent errors (one badly calibrated,
    one with a skewed age prior) and a constant top-class model."""
    rng = np.random.default_rng(0)
    n = N + N_TEST
    z_sex = rng.normal(0, 1.6, n) - 0.5
    z_age = rng.normal(0, 1.2, (n, 4))
    female = (rng.random(n) < 1 / (1 + np.exp(-z_sex))).astype(int)
    age = (rng.random(n)[:, None] > np.cumsum(_softmax(z_age), axis=1)).sum(axis=1)
    uids = np.arange(n) * 7 + 3
    fold = np.arange(N) % K
    rng.shuffle(fold)

    def model(scale, noise, age_shift):
        p_sex = 1 / (1 + np.exp(-(scale * (z_sex + rng.normal(0, noise, n)))))
        p_age = _softmax(z_age + rng.normal(0, noise, (n, 4)) + age_shift)
        return prediction_frame(uids, p_sex, p_age)

    frames = {
        "top_class": prediction_frame(
            uids, np.full(n, female[:N].mean()), np.tile(np.bincount(age[:N], minlength=4) / N, (n, 1))
        ),
        "weak": model(0.4, 1.3, np.array([0, 0, 0, -1.2])),
        "strong": model(1.0, 1.0, 0.0),
    }
    oofs = {k: f.iloc[:N] for k, f in frames.items()}
    tests = {k: f.iloc[N:] for k, f in frames.items()}
    truth = pd.DataFrame({"viewer_uid": uids[:N], "female": female[:N], "age_class": age[:N]})
    folds = pd.DataFrame({"viewer_uid": uids[:N], "fold": fold})
    return oofs, tests, truth, folds


def test_blend_never_below_the_best_single_model(problem):
    oofs, tests, truth, folds = problem
    result = blend(oofs, tests, truth, folds, ("sex", "age_class"))
    y = truth.set_index("viewer_uid").loc[result.oof.index]
    singles = {k: roc_auc_score(y["female"], f.loc[result.oof.index, "female_proba"]) for k, f in oofs.items()}
    blended = roc_auc_score(y["female"], result.oof["female_proba"])
    assert blended >= max(singles.values()) - 0.005
    # two models with independent errors: a real blend must win here
    assert result.summary["sex"]["chosen"] in ("mean", "stack") and blended > max(singles.values())
    age_singles = [
        weighted_f1(
            y["age_class"].to_numpy(),
            np.argmax(f.loc[result.oof.index, [f"age_p{k}" for k in range(4)]].to_numpy(), axis=1),
        )
        for f in oofs.values()
    ]
    assert result.summary["age_class"]["nested_score"] >= max(age_singles) - 0.01
    assert len(result.test) == N_TEST and result.test["female_proba"].between(0, 1).all()


def test_decisions_ignore_the_test_predictions(problem):
    oofs, tests, truth, folds = problem
    rng = np.random.default_rng(1)
    shuffled = {k: f.assign(female_proba=rng.random(len(f))) for k, f in tests.items()}
    a = blend(oofs, tests, truth, folds, ("sex", "age_class"))
    b = blend(oofs, shuffled, truth, folds, ("sex", "age_class"))
    assert a.thresholds == b.thresholds and a.summary == b.summary
    pd.testing.assert_frame_equal(a.oof, b.oof)
    assert not np.allclose(a.test["female_proba"], b.test["female_proba"])


def test_threshold_is_the_f1_best_on_the_blended_oof(problem):
    oofs, tests, truth, folds = problem
    result = blend(oofs, tests, truth, folds, ("sex",))
    y = truth.set_index("viewer_uid").loc[result.oof.index, "female"].to_numpy()
    p = result.oof["female_proba"].to_numpy()
    at = f1_score(y, p >= result.thresholds["f1"])
    assert at == pytest.approx(result.summary["sex"]["f1_at_threshold"])
    assert all(f1_score(y, p >= t) <= at + 1e-12 for t in np.linspace(0.05, 0.95, 37))
    assert "age_p0" not in result.oof


def test_constant_model_is_kept_out_of_stacking(problem):
    oofs, tests, truth, folds = problem
    result = blend(oofs, tests, truth, folds, ("sex", "age_class"))
    for target in ("sex", "age_class"):
        if result.summary[target]["chosen"] != "single":
            assert "top_class" not in result.summary[target]["inputs"]


def test_test_users_age_biases_are_tuned_on_their_own_probabilities(problem):
    oofs, tests, truth, folds = problem
    only_weak = {"weak": oofs["weak"]}
    result = blend(only_weak, {"weak": tests["weak"]}, truth, folds, ("age_class",))
    bias = result.summary["age_class"]["bias"]
    assert bias["kept"]  # the stack's probabilities are calibrated: the most probable class does no better
    for frame, values in ((result.test, bias["values"]), (result.oof, bias["oof_values"])):
        unbiased = np.log(frame[["age_p0", "age_p1", "age_p2", "age_p3"]].to_numpy()) - np.array(values)
        assert tune_expected_f1_bias(unbiased) == pytest.approx(values, abs=1e-9)  # from those users' own


def _weak_evidence(n, seed):
    """Calibrated age probabilities of weak evidence about classes of uneven shares, as a few hundred users'
    histories give: the most probable class is nearly always a common one."""
    rng = np.random.default_rng(seed)
    z = np.log([0.06, 0.5, 0.16, 0.28]) + rng.normal(0, 0.8, (n, 4))
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True)), rng


def _drawn_classes(proba, rng):
    return (rng.random(len(proba))[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)


def test_expected_f1_biases_lift_weighted_f1_without_reading_a_label():
    """Biases tuned on the probabilities alone predict the rarer classes more often and lift the weighted F1
    of classes drawn from those probabilities, draw after draw."""
    logp, rng = _weak_evidence(3000, 0)
    bias = tune_expected_f1_bias(logp)
    plain, shifted = np.argmax(logp, axis=1), np.argmax(logp + bias, axis=1)
    assert np.mean(shifted == 0) > np.mean(plain == 0) and np.mean(shifted == 2) > np.mean(plain == 2)
    gains = []
    for _ in range(40):
        y = _drawn_classes(np.exp(logp), rng)
        gains.append(weighted_f1(y, shifted) - weighted_f1(y, plain))
    assert np.mean(gains) > 0.006 and np.mean(np.array(gains) > 0) > 0.8
    one_class = np.log(np.clip(np.eye(4)[plain], 1e-9, None))
    assert not tune_expected_f1_bias(one_class).any()  # certain predictions: nothing to shift


def test_expected_weighted_f1_is_the_mean_over_classes_drawn_from_the_probabilities():
    logp, rng = _weak_evidence(4000, 1)
    proba, pred = np.exp(logp), np.argmax(logp + np.array([0.0, -0.3, 0.1, -0.1]), axis=1)
    drawn = [weighted_f1(_drawn_classes(proba, rng), pred) for _ in range(40)]
    assert expected_weighted_f1(proba, pred) == pytest.approx(np.mean(drawn), abs=0.003)


def test_weighted_f1_matches_sklearn():
    rng = np.random.default_rng(2)
    y, pred = rng.integers(0, 4, 500), rng.integers(0, 3, 500)
    assert weighted_f1(y, pred) == pytest.approx(f1_score(y, pred, average="weighted"))


def test_models_must_cover_the_same_users(problem):
    oofs, tests, truth, folds = problem
    broken = {**oofs, "weak": oofs["weak"].iloc[1:]}
    with pytest.raises(ValueError, match="weak"):
        blend(broken, tests, truth, folds, ("sex",))


def test_a_blend_that_wins_by_noise_is_not_taken(problem):
    """Two near-copies of one model: averaging them gains less than the noise over folds, so the simpler
    candidate (the single model) stands."""
    oofs, tests, truth, folds = problem
    rng = np.random.default_rng(2)

    def jitter(frame):
        return frame.assign(female_proba=np.clip(frame["female_proba"] + rng.normal(0, 1e-4, len(frame)), 0, 1))

    copies = {"strong": oofs["strong"], "copy": jitter(oofs["strong"])}
    result = blend(copies, {"strong": tests["strong"], "copy": jitter(tests["strong"])}, truth, folds, ("sex",))
    assert result.summary["sex"]["chosen"] == "single"


def test_choices_repeat_the_folds_at_every_size():
    for rows in (600, 6000):
        y, fold = np.arange(rows) % 2, np.arange(rows) % 5
        splits = choice_folds(y, fold, 5)
        assert len(splits) == REPEATS and (splits[0] == fold).all()
        for extra in splits[1:]:
            assert not (extra == fold).all() and np.bincount(extra).tolist() == [rows // 5] * 5


def test_the_age_stack_finds_the_optimum_a_tight_lbfgs_finds():
    """The stack's solver reaches the L2-penalised log loss's minimum on unscaled log-probabilities of unequal
    scale, as the models give them: the same probabilities as L-BFGS run to a far tighter tolerance."""
    rng = np.random.default_rng(3)
    n, classes = 6000, 4
    truth = rng.normal(0, 1.5, (n, classes))
    y = np.array([rng.choice(classes, p=p) for p in _softmax(truth)])
    inputs = {
        f"m{k}": np.log(np.clip(_softmax(scale * truth + rng.normal(0, noise, (n, classes))), 1e-6, None))
        for k, (scale, noise) in enumerate([(1.0, 1.0), (8.0, 6.0), (0.3, 0.5), (15.0, 1.0)])
    }
    stack = StackBlend("age_class", tuple(inputs)).fit(inputs, y)
    X = stack._design(inputs)
    tight = LogisticRegression(C=stack.C, tol=1e-10, max_iter=20_000).fit(X, y)
    np.testing.assert_allclose(stack.model_.predict_proba(X), tight.predict_proba(X), atol=2e-4)
