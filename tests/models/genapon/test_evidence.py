import numpy as np

from socdem.features.shares import smoothed_shares
from socdem.features.target_encoding import item_evidence
from socdem.models.genapon.evidence import evidence_tables, label_columns


def viewing(n_users=200, n_rows=8, seed=0):
    rng = np.random.default_rng(seed)
    owner = np.repeat(np.arange(n_users), 4)
    rows = rng.integers(0, n_rows, len(owner))
    y = np.column_stack([rng.integers(0, 2, n_users), rng.integers(0, 4, n_users)])
    return owner, rows, n_rows, y


def test_label_columns_put_female_first_then_age_one_hots():
    y = np.array([[1, 2], [0, 0]])
    assert label_columns(y, ("sex", "age_class")).tolist() == [[1, 0, 0, 1, 0], [0, 1, 0, 0, 0]]
    assert label_columns(y[:, 1:], ("age_class",)).tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]


def test_the_last_table_is_naive_bayes_evidence_of_all_users_and_unk_is_zero():
    owner, rows, n_rows, y = viewing()
    tables, fold = evidence_tables(owner, rows, n_rows, y, ("sex", "age_class"), 5, 35.0, np.random.default_rng(0))
    assert tables.shape == (6, n_rows, 5) and np.bincount(fold).tolist() == [40] * 5
    watched = np.zeros((len(y), n_rows))
    watched[owner, rows] = 1
    labels = label_columns(y, ("sex", "age_class"))
    shares = smoothed_shares(watched.T @ labels, watched.sum(0), labels.mean(0), 35.0)
    expected = item_evidence(shares, labels.mean(0))
    np.testing.assert_allclose(tables[-1, 1:], expected[1:], rtol=1e-5, atol=1e-6)
    assert not tables[:, 0].any()


def test_a_users_own_label_never_enters_the_table_it_reads():
    owner, rows, n_rows, y = viewing()
    args = (owner, rows, n_rows)
    tables, fold = evidence_tables(*args, y, ("sex", "age_class"), 5, 35.0, np.random.default_rng(0))
    flipped = y.copy()
    flipped[fold == 2, 0] = 1 - flipped[fold == 2, 0]
    again, _ = evidence_tables(*args, flipped, ("sex", "age_class"), 5, 35.0, np.random.default_rng(0))
    np.testing.assert_array_equal(tables[2], again[2])  # the table of fold 2 ignores fold 2's labels
    assert not np.array_equal(tables[0], again[0]) and not np.array_equal(tables[-1], again[-1])


def test_with_categories_a_rarely_watched_author_starts_from_its_categorys_evidence():
    """Authors 1-4 in category 1 watched by women, 5-7 in category 2 by men; author 4 has 2 viewers
    (a woman and a man): toward its category it reads female, toward the prior about even."""
    rng = np.random.default_rng(0)
    n_users = 400
    female = np.arange(n_users) % 2
    owner, rows = [], []
    for user in range(n_users):
        pool = [1, 2, 3] if female[user] else [5, 6, 7]
        owner += [user] * 3
        rows += list(rng.choice(pool, 3))
    owner += [0, 1]  # user 0 is a man, user 1 a woman
    rows += [4, 4]
    owner, rows = np.array(owner), np.array(rows)
    categories = np.where(rows <= 4, 1, 2)
    y = np.column_stack([female, rng.integers(0, 4, n_users)])
    args = (owner, rows, 8, y, ("sex", "age_class"), 5, 35.0)
    flat, _ = evidence_tables(*args, np.random.default_rng(0))
    nested, _ = evidence_tables(*args, np.random.default_rng(0), categories)
    assert abs(flat[-1, 4, 0]) < 0.1 and nested[-1, 4, 0] > 1.0  # female log-odds ratio of author 4
    assert nested[-1, 6, 0] < -1.0 and not nested[:, 0].any()  # a male author stays male; UNK stays zero
    no_category = np.zeros_like(categories)
    np.testing.assert_array_equal(evidence_tables(*args, np.random.default_rng(0), no_category)[0], flat)
