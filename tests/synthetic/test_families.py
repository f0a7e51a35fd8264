"""The families beyond author_tastes: deterministic, loadable, and their oracle exact."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import cross_val_predict

from socdem.__main__ import main
from socdem.contest import load_contest
from socdem.features.titles import video_stems
from socdem.synthetic import FAMILIES, cowatch, reallike, semantic, titles
from socdem.synthetic.semantic_words import FIELDS
from socdem.synthetic.shared import posterior_table

MODULES = {"cowatch": cowatch, "titles": titles, "reallike": reallike, "semantic": semantic}
USERS = {"cowatch": 2500, "titles": 2500, "reallike": 1000, "semantic": 2000}
FILES = (
    "train_events.parquet",
    "video_info_v2.parquet",
    "train_targets.parquet",
    "test_users.parquet",
    "oracle/posterior.parquet",
    "oracle/test_truth.csv",
    "oracle/summary.json",
)


@pytest.fixture(scope="module", params=sorted(MODULES))
def contest(request, synthetic_contest):
    family = request.param
    return family, synthetic_contest(USERS[family], seed=5, family=family)


def _posterior(module, world, d):
    users = len(d.uid)
    return module.log_posterior(world, users, d.ev_user, d.ev_video, d.ev_hour, d.ev_day, d.ev_bin, d.device)


def test_same_seed_same_bytes_other_seed_differs(contest, tmp_path):
    family, out = contest
    MODULES[family].generate(tmp_path / "b", users=USERS[family], seed=5, progress=False)
    MODULES[family].generate(tmp_path / "c", users=USERS[family], seed=6, progress=False)
    for name in FILES:
        assert (out / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
        assert (out / name).read_bytes() != (tmp_path / "c" / name).read_bytes(), name


def test_loads_and_records_its_family(contest):
    family, out = contest
    loaded = load_contest(out)
    summary = json.loads((out / "oracle" / "summary.json").read_text(encoding="utf-8"))
    assert summary["family"] == family and summary["users"] == USERS[family]
    assert len(loaded.targets) == summary["train_users"]
    assert 0.5 < summary["oracle"]["test"]["roc_auc"] <= 1


def _brute_force(family, world, d, user) -> np.ndarray:
    """log P(c | data) of one user with explicit loops over classes (and communities)."""
    ch = world.channels
    events = np.flatnonzero(d.ev_user == user)
    out = np.empty(8)
    for c in range(8):
        channels = ch.log_device[c, d.device[user]]
        for i in events:
            channels += ch.log_day[c, d.ev_day[i]]
            if d.ev_bin[i] >= 0:
                channels += ch.log_watch[c, d.ev_bin[i]]
        if family == "cowatch":
            total = 0.0
            for z in range(world.log_community.shape[1]):
                p = np.exp(world.log_community[c, z])
                for i in events:
                    p *= np.exp(world.log_video[z, d.ev_video[i]] + ch.log_hour[z, d.ev_hour[i]])
                total += p
            video_term = np.log(total)
        else:
            video_term = 0.0
            for i in events:
                v = d.ev_video[i]
                video_term += ch.log_hour[c, d.ev_hour[i]]
                if family in ("titles", "semantic"):
                    video_term += world.log_topic[c, world.video_topic[v]]
                else:
                    video_term += world.log_item[c, v]
        out[c] = ch.log_prior[c] + channels + video_term
    return out - logsumexp(out)


@pytest.mark.parametrize("family", sorted(MODULES))
def test_posterior_equals_brute_force_on_a_tiny_world(family):
    module = MODULES[family]
    world = module.build_world(3)
    d = module.sample(world, 12, 3)
    keep = np.isin(d.ev_user, np.flatnonzero(d.n_events <= 25))  # few events: the products stay in range
    assert keep.any()
    fast = _posterior(module, world, d)
    for user in np.unique(d.ev_user[keep]):
        np.testing.assert_allclose(fast[user], _brute_force(family, world, d, user), rtol=0, atol=1e-9)


def test_written_posterior_is_the_samples(contest):
    family, out = contest
    module = MODULES[family]
    world = module.build_world(5)
    d = module.sample(world, USERS[family], 5)
    expected = posterior_table(_posterior(module, world, d))[np.argsort(d.uid)]
    written = pd.read_parquet(out / "oracle" / "posterior.parquet")
    columns = ["female_proba", "age_p0", "age_p1", "age_p2", "age_p3"]
    np.testing.assert_allclose(written[columns].to_numpy(), expected, rtol=0, atol=1e-12)


def test_oracle_log_loss_beats_a_tfidf_logistic_regression(contest):
    """If the oracle is exact, no model of the same data has a lower expected log-loss."""
    _, out = contest
    events = pd.read_parquet(out / "train_events.parquet", columns=["viewer_uid", "rutube_video_id"])
    labels = pd.concat([pd.read_parquet(out / "train_targets.parquet"), pd.read_csv(out / "oracle/test_truth.csv")])
    docs = events.groupby("viewer_uid")["rutube_video_id"].agg(" ".join)
    labels = labels[labels["viewer_uid"].isin(docs.index)].sort_values("viewer_uid")
    x = TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True, min_df=2).fit_transform(docs.loc[labels["viewer_uid"]])
    post = pd.read_parquet(out / "oracle/posterior.parquet").set_index("viewer_uid").loc[labels["viewer_uid"]]
    female = (labels["sex"] == "female").to_numpy().astype(int)
    age = labels["age_class"].to_numpy()
    model = LogisticRegression(C=2.0, max_iter=200, tol=1e-3)
    sex_lr = cross_val_predict(model, x, female, cv=4, method="predict_proba")
    age_lr = cross_val_predict(model, x, age, cv=4, method="predict_proba")
    assert log_loss(female, post["female_proba"].clip(0.0, 1.0)) < log_loss(female, sex_lr)
    oracle_age = np.clip(post[[f"age_p{a}" for a in range(4)]].to_numpy(), 0.0, 1.0)  # rounding past 1
    assert log_loss(age, oracle_age, labels=range(4)) < log_loss(age, age_lr, labels=range(4))


@pytest.mark.parametrize("family", ["cowatch", "titles", "semantic"])
def test_most_videos_have_few_viewers(family):
    module = MODULES[family]
    world = module.build_world(0)
    d = module.sample(world, 20_000, 0)
    pairs = np.unique(d.ev_video.astype(np.int64) * len(d.uid) + d.ev_user)
    viewers = np.bincount(pairs // len(d.uid))
    assert np.median(viewers[viewers > 0]) <= 5


def test_titles_inflect_the_same_stems(synthetic_contest):
    out = synthetic_contest(USERS["titles"], seed=5, family="titles")  # the titles contest of the tests above
    words = set(" ".join(pd.read_parquet(out / "video_info_v2.parquet")["title"]).lower().split())
    for stem in ("рыбалк", "маникюр", "майнкрафт", "рецепт"):
        forms = {w for w in words if re.fullmatch(stem + r"[а-я]{0,3}", w)}
        assert len(forms) >= 3, (stem, forms)
    assert {"рыбалка", "рыбалки", "рыбалку", "рыбалкой"} & words and "майнкрафте" in words


def test_semantic_titles_are_words_of_their_videos_field():
    assert len(FIELDS) >= 20 and min(len(set(words.split())) for *_, words in FIELDS.values()) >= 40
    world = semantic.build_world(0)  # the titles are the world's: a function of the video (same seed, same bytes)
    class_free = set(" ".join((*semantic.FILLERS, *semantic.TEMPLATES)).split())
    for title, topic in zip(world.catalogue.title[:2000], world.video_topic[:2000].tolist()):
        words = set(re.findall(r"[^\W\d_]+", title.lower())) - class_free
        assert len(words) >= 2 and words <= set(semantic.FIELD_WORDS[topic]), title
    # the category is drawn apart from the field: each field spreads over many categories
    fields_per_category = pd.crosstab(world.catalogue.category, world.video_topic).gt(0).sum(axis=1)
    assert fields_per_category.min() == len(FIELDS)


def test_cli_family_defaults_and_refusals(tmp_path, capsys):
    assert set(FAMILIES) == {"author_tastes", "cowatch", "titles", "reallike", "semantic"}
    assert main(["data", "--data", str(tmp_path / "r"), "--family", "reallike"]) == 0
    summary = json.loads((tmp_path / "r" / "oracle" / "summary.json").read_text(encoding="utf-8"))
    assert summary["users"] == reallike.DEFAULT_USERS and summary["family"] == "reallike"
    assert main(["data", "--data", str(tmp_path / "j"), "--family", "cowatch", "--layout", "jmlc"]) == 2
    assert "only author_tastes" in capsys.readouterr().err and not (tmp_path / "j").exists()
    with pytest.raises(SystemExit):
        main(["data", "--data", str(tmp_path / "x"), "--family", "nope"])


def test_semantic_test_users_watch_words_no_labelled_user_saw():
    """The test period's videos speak their field's other half: most words of test users' videos are unseen."""
    world = semantic.build_world(0)
    d = semantic.sample(world, 5000, 0)
    words, stems = video_stems(pd.Series(world.catalogue.title))
    class_free = set(video_stems(pd.Series([" ".join((*semantic.FILLERS, *semantic.TEMPLATES))]))[1])
    words = words[:, np.flatnonzero([s not in class_free for s in stems])].tocsr()
    test_event = d.is_test[d.ev_user]
    seen = np.asarray(words[np.unique(d.ev_video[~test_event])].sum(axis=0)).ravel() > 0
    unseen_only = np.asarray(words[d.ev_video[test_event]][:, seen].sum(axis=1)).ravel() == 0
    assert unseen_only.mean() > 0.5
