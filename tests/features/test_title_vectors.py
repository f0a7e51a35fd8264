"""Title vectors: real Russian titles by meaning (near-synonyms closer than unrelated titles), a word navec
lacks read through its stem, and the users' reduced vectors among the cached label-free features."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_build import workspace

from socdem.features.build import build_features, feature_fingerprint
from socdem.features.title_vectors import (
    MODEL,
    WordVectors,
    load_navec,
    title_vectors,
    video_title_vectors,
)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_near_synonyms_land_closer_than_unrelated_titles(navec_model):
    titles = [
        "Рыбалка на карпа с фидером",  # 0 fishing
        "Ловля щуки на спиннинг зимой",  # 1 fishing
        "Как приготовить борщ",  # 2 cooking
        "Рецепт вкусного супа с курицей",  # 3 cooking
        "Маникюр гель-лаком дома",  # 4 nails
        "Красивый дизайн ногтей: френч и стразы",  # 5 nails
        "Замена масла в двигателе своими руками",  # 6 cars
        "Ремонт подвески автомобиля",  # 7 cars
    ]
    v = title_vectors(titles, load_navec(str(navec_model)))
    assert v.shape == (8, 300) and v.dtype == np.float32
    for a, b in ((0, 1), (2, 3), (4, 5), (6, 7)):
        same = cosine(v[a], v[b])
        others = [cosine(v[a], v[c]) for c in range(8) if c // 2 != a // 2]
        assert same > max(others), (titles[a], titles[b], same, max(others))


def test_a_word_navec_lacks_is_read_through_its_stem_or_dropped(navec_model):
    navec = load_navec(str(navec_model))
    words = WordVectors(navec)
    assert "кроссоверами" not in navec and "майнкрафт" not in navec
    assert words.words[words.lookup(["кроссоверами"])[0]] == "кроссовер"
    assert words.lookup(["майнкрафт"])[0] == -1
    v = title_vectors(["Кроссоверами", "кроссовер", "Майнкрафт 2024", None], navec)
    np.testing.assert_allclose(v[0], v[1])  # one word, its stem's form: the same vector
    assert not v[2].any() and not v[3].any()  # nothing navec knows: zeros, never NaN


def test_user_vectors_join_the_cached_features_keyed_by_the_model(tiny_contest, tmp_path, navec_model):
    (tmp_path / "data" / "wheels").mkdir(parents=True)
    (tmp_path / "data" / "wheels" / MODEL).symlink_to(navec_model)  # the home's cache: nothing fetched
    ws = workspace(tiny_contest, tmp_path, title_vec_dims=6)
    features = build_features(ws)
    vectors = features.filter(like="title_vec_")
    assert vectors.shape == (len(ws.interactions.users), 6) and np.isfinite(vectors.to_numpy()).all()
    assert vectors.std().min() > 0  # every PCA direction varies over the users
    assert feature_fingerprint(ws) != feature_fingerprint(workspace(tiny_contest, tmp_path))


def test_video_vectors_by_code_keep_meaning_after_the_reduction(navec_model, monkeypatch):
    monkeypatch.setattr("socdem.features.title_vectors.navec_path", lambda *args, **kwargs: navec_model)
    fishing = ["Рыбалка на карпа", "Ловля щуки на спиннинг", "Клёв леща на фидер", "Зимняя рыбалка на окуня"]
    cooking = ["Как приготовить борщ", "Рецепт супа с курицей", "Пирог с капустой в духовке", "Котлеты на ужин"]
    titles = pd.Series([*fishing, *cooking, "Майнкрафт 2024", None])
    v = video_title_vectors(titles, 4, seed=0)
    assert v.shape == (len(titles) + 1, 4) and v.dtype == np.float32
    assert not v[0].any() and not v[-2:].any()  # row 0 (no video) and titles without a known word: zeros
    same = [cosine(v[1 + a], v[1 + b]) for a in range(8) for b in range(8) if a < b and a // 4 == b // 4]
    other = [cosine(v[1 + a], v[1 + b]) for a in range(4) for b in range(4, 8)]
    assert np.mean(same) > np.mean(other) + 0.5
