"""The sparse linear model: estimator contract, TF-IDF blocks, C by inner CV, the runner (and the watch-share
model, a runner of its own config section)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import REPO
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer, roc_auc_score

from socdem.config import ConfigError, load_experiment
from socdem.features.workspace import Workspace
from socdem.models.linear.estimator import InnerCVLogistic, neg_log_loss, tfidf_blocks
from socdem.models.linear.runner import LinearRunner, WatchedLinearRunner
from socdem.models.registry import get_runner


def sparse_problem(n=1200, items=300, seed=0):
    rng = np.random.default_rng(seed)
    effect = rng.normal(0, 1.5, items)
    X = sp.random(n, items, density=0.05, random_state=seed, format="csr") * 5
    X.data = np.ceil(X.data)
    score = np.asarray(X @ effect).ravel() / np.sqrt(np.maximum(X.getnnz(axis=1), 1))
    y = (rng.random(n) < 1 / (1 + np.exp(-score))).astype(int)
    return tfidf_blocks([X])[0], y  # sag wants rows on a common scale, as the runner gives it


def test_the_stack_scorer_is_sklearns_neg_log_loss_to_the_last_bit():
    # the stack's C is chosen by these numbers: a last-bit difference could flip a near tie
    X, y = sparse_problem()
    length = np.asarray(X.sum(axis=1)).ravel()
    ages = np.digitize(length, np.quantile(length, [0.25, 0.5, 0.75])) + 2  # four classes, not from 0
    for target in (y, ages):
        model = LogisticRegression(C=3.0).fit(X[:900], target[:900])
        assert neg_log_loss(model, X[900:], target[900:]) == get_scorer("neg_log_loss")(model, X[900:], target[900:])


def test_estimator_contract_and_inner_cv_choice():
    X, y = sparse_problem()
    est = InnerCVLogistic(cs=[0.01, 1.0, 10.0], inner_folds=3, max_extensions=0, random_state=0)
    assert clone(est).get_params() == est.get_params()
    assert est.fit(X[:900], y[:900]) is est
    assert est.C_ in (0.01, 1.0, 10.0) and set(est.cv_log_loss_) == {0.01, 1.0, 10.0}
    assert est.C_ <= min(est.cv_log_loss_, key=est.cv_log_loss_.get)  # the best, or a simpler one within its noise
    proba = est.predict_proba(X[900:])
    assert proba.shape == (300, 2) and np.allclose(proba.sum(axis=1), 1)
    assert list(est.classes_) == [0, 1]
    assert roc_auc_score(y[900:], proba[:, 1]) > 0.7


def test_the_solver_tolerance_reaches_every_fit_and_a_looser_one_stops_sooner_near_the_same_answer():
    X, y = sparse_problem()
    fits = {tol: InnerCVLogistic(cs=[1.0], tol=tol, random_state=0).fit(X[:900], y[:900]) for tol in (1e-2, 1e-5)}
    loose, tight = fits[1e-2], fits[1e-5]
    assert all(model.tol == 1e-2 for model in loose.models_.values())
    assert loose.models_[0].n_iter_.max() < tight.models_[0].n_iter_.max()
    np.testing.assert_allclose(loose.predict_proba(X[900:]), tight.predict_proba(X[900:]), atol=0.02)


def test_multinomial_for_four_classes_and_deterministic():
    X, y = sparse_problem(seed=1)
    y4 = y * 2 + (np.arange(len(y)) % 2)  # four classes
    a = InnerCVLogistic(cs=[0.3, 1.0], random_state=3).fit(X, y4)
    b = InnerCVLogistic(cs=[0.3, 1.0], random_state=3).fit(X, y4)
    assert a.predict_proba(X).shape == (len(y), 4)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_tfidf_blocks_weigh_each_block_equally_and_drop_rare_items():
    counts = sp.csr_matrix(np.array([[3, 0, 1], [1, 1, 0], [0, 0, 0], [2, 0, 0]], dtype=np.float32))
    cats = sp.csr_matrix(np.array([[1, 0], [0, 2], [0, 0], [1, 1]], dtype=np.float32))
    X, sizes = tfidf_blocks([counts, cats], min_users=2)
    assert X.shape == (4, 1 + 2) and sizes == (1, 2)  # items 1 and 2 are seen by one user each
    block_norms = np.sqrt(np.asarray(X[:, :1].multiply(X[:, :1]).sum(axis=1)).ravel())
    np.testing.assert_allclose(block_norms, [1, 1, 0, 1], atol=1e-12)
    assert np.isfinite(X.toarray()).all()


def test_c_grid_is_extended_past_an_edge_while_the_best_sits_there():
    X, y = sparse_problem()
    est = InnerCVLogistic(cs=[0.001, 0.003], max_extensions=3, random_state=0).fit(X, y)
    assert est.C_ > 0.003 and len(est.cv_log_loss_) > 2  # a strong signal wants far less regularisation
    assert est.C_ <= min(est.cv_log_loss_, key=est.cv_log_loss_.get)
    tried = sorted(est.cv_log_loss_)
    np.testing.assert_allclose(tried[2:], 0.003 * 3.0 ** np.arange(1, len(tried) - 1))  # by the grid's own step
    fixed = InnerCVLogistic(cs=[0.001, 0.003], max_extensions=0, random_state=0).fit(X, y)
    assert set(fixed.cv_log_loss_) == {0.001, 0.003}


def test_block_combination_weighs_an_informative_fine_block_above_a_noise_block():
    """Thousands of rare items carry the class; three coarse columns are noise. Whichever combination the
    inner CV keeps weighs the items above the noise and scores as well as the informative block alone."""
    rng = np.random.default_rng(5)
    n, items = 3000, 3000
    effect = rng.normal(0, 2.0, items)
    fine = sp.random(n, items, density=0.006, random_state=5, format="csr")
    fine.data[:] = 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-np.asarray(fine @ effect).ravel() / 2))).astype(int)
    coarse = sp.csr_matrix(rng.poisson(3.0, (n, 3)).astype(np.float64))
    X, sizes = tfidf_blocks([fine, coarse])
    train, test = slice(0, 2000), slice(2000, None)
    stacked = InnerCVLogistic(block_sizes=sizes, random_state=0).fit(X[train], y[train])
    side_by_side = InnerCVLogistic(random_state=0).fit(X[train], y[train])
    auc_stacked = roc_auc_score(y[test], stacked.predict_proba(X[test])[:, 1])
    auc_side = roc_auc_score(y[test], side_by_side.predict_proba(X[test])[:, 1])
    alone = InnerCVLogistic(random_state=0).fit(X[train, : sizes[0]], y[train])
    auc_alone = roc_auc_score(y[test], alone.predict_proba(X[test, : sizes[0]])[:, 1])
    weights = LinearRunner._weights(stacked)
    assert stacked.combination_ in ("block", "mean", "stack") and weights[0] > 2 * weights[1]
    assert auc_stacked > 0.68 and auc_stacked >= max(auc_side, auc_alone) - 0.01
    assert clone(stacked).get_params() == stacked.get_params()


def test_blocks_of_pure_noise_do_not_beat_the_class_shares():
    """Labels independent of six two-column blocks: scored on fits that never saw the held-out labels, no
    combination of blocks wins by more than its error, and the model predicts the class shares; the stack
    scored on the blocks' inner out-of-fold logits (which saw them) won in most of these seeds."""
    chosen = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        X, y = rng.standard_normal((600, 12)), rng.integers(0, 2, 600)
        model = InnerCVLogistic(block_sizes=(2,) * 6, random_state=0).fit(X, y)
        chosen.append(model.combination_)
        if model.combination_ == "prior":
            assert model.used_ == [] and np.allclose(model.predict_proba(X[:5]), np.bincount(y) / len(y))
            assert LinearRunner._weights(model).sum() == 0
    assert "stack" not in chosen and "prior" in chosen


def test_runner_predicts_every_requested_user(tiny_contest, socdem_home):
    ws = Workspace(tiny_contest, load_experiment("fast", REPO / "experiments"), root=socdem_home, log=lambda m: None)
    targets = ws.contest.targets
    train, valid = targets.iloc[:1200], targets.iloc[1200:]
    (pred, test), fitted = LinearRunner().fit_predict(ws, train, [valid["viewer_uid"], ws.contest.test_users], seed=0)
    assert set(fitted.estimators_) == {"sex", "age_class"}
    assert list(pred.index) == list(valid["viewer_uid"]) and len(test) == len(ws.contest.test_users)
    assert np.allclose(pred[[f"age_p{k}" for k in range(4)]].sum(axis=1), 1)
    assert roc_auc_score(valid["female"], pred["female_proba"]) > 0.7


def test_the_watched_model_reads_its_own_section_and_writes_no_logits(tiny_contest, socdem_home):
    """One TF-IDF block of the watch share, from `[watched_linear]`; the linear logits other models read are
    the `[linear]` model's alone, so this model's fold leaves the encodings folder as it found it."""
    ws = Workspace(tiny_contest, load_experiment("fast", REPO / "experiments"), root=socdem_home, log=lambda m: None)
    runner = get_runner("watched_linear")
    assert isinstance(runner, WatchedLinearRunner)
    X, sizes = runner.blocks(ws)
    assert len(sizes) == 1 and 0 < X.shape[1] == sizes[0] <= ws.interactions.matrix("watched_video")[0].shape[1]
    assert runner.params(ws)["items"] == ["watched_video"] and runner.params(ws) != LinearRunner().params(ws)
    targets = ws.contest.targets
    train, valid = targets.iloc[:1200], targets.iloc[1200:]
    encodings = sorted(socdem_home.rglob("linear-*.parquet"))
    (pred,), fitted = runner.fit_predict(ws, train, [valid["viewer_uid"]], seed=0)
    assert sorted(socdem_home.rglob("linear-*.parquet")) == encodings
    assert len(fitted.estimators_["sex"].blocks_) == 1
    assert roc_auc_score(valid["female"], pred["female_proba"]) > 0.6
    with pytest.raises(ConfigError, match=r"watched_linear\.cs: expected a non-empty list"):
        load_experiment("fast", REPO / "experiments", overrides="watched_linear.cs=[]")


def test_counts_block_keeps_the_evidence_of_long_histories():
    """Events drawn i.i.d. from P(item | class), histories from 5 to 200 events: each event adds the
    same evidence, which unit-norm TF-IDF rows discard and the counts block (rows of norm ~sqrt(events)) keeps."""
    rng = np.random.default_rng(7)
    n, items = 4000, 400
    y = rng.integers(0, 2, n)
    logits = rng.normal(0, 0.1, (2, items))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    lengths = rng.integers(5, 200, n)
    rows = np.repeat(np.arange(n), lengths)
    cols = np.concatenate([rng.choice(items, size=k, p=p[c]) for c, k in zip(y, lengths)])
    counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, items))
    X, sizes = tfidf_blocks([counts], sublinear_tf=[True], raw_counts=True)
    assert sizes == (items, items)
    norms = np.sqrt(np.asarray(X[:, items:].multiply(X[:, items:]).sum(axis=1)).ravel())
    assert np.median(norms) == pytest.approx(1.0) and norms.max() > 3 * norms.min()
    train, test = slice(0, 3000), slice(3000, None)

    def auc(block):
        model = InnerCVLogistic(random_state=0).fit(X[train, block], y[train])
        return roc_auc_score(y[test], model.predict_proba(X[test, block])[:, 1])

    raw, unit = auc(slice(items, None)), auc(slice(0, items))
    assert raw > unit + 0.01


def test_choices_on_a_sample_of_inner_rows_then_refitted_on_every_row():
    X, y = sparse_problem(n=2000)
    sampled = InnerCVLogistic(cs=[0.3, 1.0], inner_rows=600, max_extensions=0, random_state=0).fit(X, y)
    full = InnerCVLogistic(cs=[0.3, 1.0], inner_rows=0, max_extensions=0, random_state=0).fit(X, y)
    assert set(sampled.cv_log_loss_) == {0.3, 1.0} and sampled.cv_log_loss_ != full.cv_log_loss_
    refit = InnerCVLogistic(cs=[sampled.C_], max_extensions=0, random_state=0).fit(X, y)
    np.testing.assert_allclose(sampled.predict_proba(X), refit.predict_proba(X))  # the final model saw every row


def test_two_informative_views_are_combined_beyond_either_alone():
    """Two blocks, each half of the evidence on its own items (as a user's videos and the ones watched
    through): a small data set's inner CV combines them (mean or stack), beating either block alone."""
    rng = np.random.default_rng(11)
    n, items = 900, 400
    halves = [sp.random(n, items, density=0.03, random_state=s, format="csr") for s in (1, 2)]
    for half in halves:
        half.data[:] = 1.0
    effects = [rng.normal(0, 1.5, items) for _ in halves]
    score = sum(np.asarray(h @ e).ravel() for h, e in zip(halves, effects)) / 3
    y = (rng.random(n) < 1 / (1 + np.exp(-score))).astype(int)
    X, sizes = tfidf_blocks(halves)
    train, test = slice(0, 600), slice(600, None)
    both = InnerCVLogistic(block_sizes=sizes, random_state=0).fit(X[train], y[train])
    assert both.combination_ in ("mean", "stack") and len(both.used_) == 2
    auc = roc_auc_score(y[test], both.predict_proba(X[test])[:, 1])
    for block in (slice(0, sizes[0]), slice(sizes[0], None)):
        alone = InnerCVLogistic(random_state=0).fit(X[train, block], y[train])
        assert auc > roc_auc_score(y[test], alone.predict_proba(X[test, block])[:, 1]) + 0.02


@pytest.mark.parametrize("inner_rows", [0, 500])
def test_out_of_fold_probabilities_of_the_training_rows_are_honest(inner_rows):
    """oof_proba_: every training row's probability from models that never saw it (the inner folds', out of
    fold on the sampled rows, their mean on the rest), so it scores no better than held-out rows (fitted on
    fewer rows, the inner models may score worse), far below in-sample ones; with shuffled labels it carries
    nothing."""
    X, y = sparse_problem(n=2400, items=600)
    train, test = slice(0, 1600), slice(1600, None)
    est = InnerCVLogistic(cs=[0.3, 1.0, 3.0], inner_rows=inner_rows, random_state=0).fit(X[train], y[train])
    oof = roc_auc_score(y[train], est.oof_proba_[:, 1])
    held = roc_auc_score(y[test], est.predict_proba(X[test])[:, 1])
    in_sample = roc_auc_score(y[train], est.predict_proba(X[train])[:, 1])
    assert est.oof_proba_.shape == (1600, 2) and np.allclose(est.oof_proba_.sum(axis=1), 1)
    assert oof < held + 0.02 and in_sample > oof + 0.03 and oof > 0.7
    if not inner_rows:  # every row's from the inner folds: as good as held-out rows
        assert abs(oof - held) < 0.05
    shuffled = np.random.default_rng(0).permutation(y[train])
    noise = InnerCVLogistic(cs=[0.3, 1.0, 3.0], inner_rows=inner_rows, random_state=0).fit(X[train], shuffled)
    assert abs(roc_auc_score(shuffled, noise.oof_proba_[:, 1]) - 0.5) < 0.05


def test_rows_outside_the_sample_are_predicted_by_the_inner_models_without_another_fit(monkeypatch):
    """A row outside the `inner_rows` sample gets the mean of the inner folds' models at the chosen C: the
    estimator fits as many models as one whose choices saw every row, and that mean is out of fold."""
    X, y = sparse_problem(n=1600, items=400)
    fits = []
    original = LogisticRegression.fit
    monkeypatch.setattr(LogisticRegression, "fit", lambda self, *a, **k: fits.append(1) or original(self, *a, **k))
    counts = {}
    for rows in (0, 800):
        fits.clear()
        est = InnerCVLogistic(cs=[1.0], max_extensions=0, inner_rows=rows, random_state=0).fit(X, y)
        counts[rows] = len(fits)
    assert counts[800] == counts[0]
    sample = est._sample(y, 800)
    rest = np.setdiff1d(np.arange(len(y)), sample)
    assert len(rest) == 800 and np.allclose(est.oof_proba_[rest].sum(axis=1), 1)
    in_sample = roc_auc_score(y[rest], est.predict_proba(X[rest])[:, 1])
    assert 0.6 < roc_auc_score(y[rest], est.oof_proba_[rest, 1]) < in_sample - 0.03


def test_a_weighted_block_takes_its_weights_as_term_frequency():
    """Shares of each video watched (at most 1 an event): one TF-IDF form whatever `sublinear_tf` says, a short
    view weighing less than a full one and never negative, as a logarithm of a share below 1 would make it."""
    counts = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]))
    shares = sp.csr_matrix(np.array([[0.2, 1.0, 0.0], [1.0, 0.0, 0.5], [0.0, 0.4, 1.0]]))
    X, sizes = tfidf_blocks([counts, shares], sublinear_tf=[True, False], weighted=[False, True])
    assert sizes == (3, 3, 3)
    watched = X[:, 6:].toarray()
    assert (watched >= 0).all() and watched[0, 0] == pytest.approx(0.2 * watched[0, 1])
