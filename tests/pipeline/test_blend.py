"""The blend: never worse than the best single model beyond noise, decisions
from out-of-fold data only, constant models kept out of stacking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from socdem.pipeline.blend import blend, choice_folds, weighted_f1
from socdem.pipeline.thresholds import prior_shift, tune_prior_exponent
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


def test_age_biases_are_the_prior_shift_kept_beyond_the_noise(problem):
    oofs, tests, truth, folds = problem
    only_weak = {"weak": oofs["weak"]}
    result = blend(only_weak, {"weak": tests["weak"]}, truth, folds, ("age_class",))
    bias = result.summary["age_class"]["bias"]
    y = truth.set_index("viewer_uid").loc[result.oof.index, "age_class"].to_numpy()
    assert bias["values"] == pytest.approx(prior_shift(y, 4, bias["prior_exponent"]).round(4).tolist())
    assert bias["kept"] or bias["prior_exponent"] == 0.0


def test_the_prior_exponent_undoes_a_lean_on_the_class_shares():
    """Age log-probabilities that lean on the class shares (as a strongly regularised model's do) leave the
    rarest class almost never predicted; the exponent tuned on half of the users lifts weighted F1 on the other
    half and predicts each class about as often as it occurs."""
    shares = np.array([0.06, 0.5, 0.16, 0.28])
    rng = np.random.default_rng(0)
    y = rng.choice(4, 3000, p=shares)
    z = 2.0 * np.log(shares) + 1.5 * np.eye(4)[y] + rng.normal(0, 1.0, (3000, 4))
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    fit, held = slice(0, 1500), slice(1500, None)
    exponent = tune_prior_exponent(logp[fit], y[fit])
    shifted = np.argmax(logp[held] + prior_shift(y[fit], 4, exponent), axis=1)
    plain = np.argmax(logp[held], axis=1)
    assert exponent >= 1.0
    assert weighted_f1(y[held], shifted) > weighted_f1(y[held], plain) + 0.05
    assert np.mean(plain == 0) < 0.01 and abs(np.mean(shifted == 0) - np.mean(y[held] == 0)) < 0.03
    assert tune_prior_exponent(logp[fit], np.argmax(logp[fit], axis=1)) == 0.0  # nothing to undo: none


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
