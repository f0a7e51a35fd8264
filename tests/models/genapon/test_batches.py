import numpy as np
import pandas as pd
import torch
from genapon_helpers import random_events

from socdem.models.genapon.batches import (
    build_user_events,
    inference_order,
    last_occurrence,
    pad_batch,
    training_order,
)

JUNE_1_UTC = 1717200000  # 2024-06-01 00:00:00 UTC, a Saturday


def tiny_contest():
    events = pd.DataFrame(
        {
            "viewer_uid": [7, 5, 7, 5, 9, 7],
            "rutube_video_id": ["v2", "v1", "v1", "gone", "v3", "v3"],
            "ts": JUNE_1_UTC + np.array([300, 100, 200, 50, 10, 3600 * 24 * 2]),
            "region": ["Moscow", "Moscow", "Moscow", "Moscow", "Moscow", "Moscow"],
            "total_watchtime": [30, 0, 120, 5, 10, 60],
        }
    )
    videos = pd.DataFrame(
        {"rutube_video_id": ["v1", "v2", "v3"], "author_id": [40, 30, 40], "duration": [60_000, 0, 30_000]}
    )
    return events, videos


def test_layout_is_sorted_by_user_then_time_with_offsets():
    events, videos = tiny_contest()
    ev = build_user_events(events, videos, np.array([5, 6, 7]))  # user 9 is not asked for, 6 has no events
    assert ev.offsets.tolist() == [0, 2, 2, 5]
    assert ev.video.tolist() == [0, 1, 1, 2, 3]  # 5: gone (unknown), v1; 7: v1, v2, v3 by time
    assert ev.author.tolist() == [0, 2, 2, 1, 2]  # authors coded in sorted order: 30 -> 1, 40 -> 2
    frac = ev.time[:, 3]
    assert np.allclose(frac, [0, 0, 2.0, 0, 2.0])  # 120 s of 60 s; zero duration -> 0; 60 s of 30 s -> 2
    hour = ev.time[:, 0] * 24
    assert np.allclose(hour[:4], 3 + np.array([50, 100, 200, 300]) / 3600)  # Moscow = UTC+3
    weekday = np.rint(ev.time[:, 1] * 7)
    assert weekday.tolist() == [5, 5, 5, 5, 0]  # Saturday, then Monday
    assert np.isfinite(ev.time).all() and ev.time.dtype == np.float32


def test_pad_batch_keeps_the_most_recent_events_and_pads_with_a_mask():
    ev, _ = random_events(n_users=10)
    identity = np.arange(ev.video.max() + 1)
    author_identity = np.arange(ev.author.max() + 1)
    users = ev.user_features
    batch = pad_batch(ev, np.array([2, 0, 1]), 5, identity, author_identity, users)
    assert batch.lengths.tolist() == [5, 0, 1]
    assert batch.video.shape == (3, 5) and batch.time.shape == (3, 5, 5)
    end = ev.offsets[3]
    assert batch.video[0].tolist() == ev.video[end - 5 : end].tolist()  # the last 5, oldest first
    assert batch.video[1].tolist() == [0] * 5 and float(batch.time[1].abs().sum()) == 0.0
    assert batch.video[2, 0] == ev.video[ev.offsets[1]] and batch.video[2, 1:].tolist() == [0] * 4
    assert torch.equal(batch.user, torch.from_numpy(users[[2, 0, 1]]))
    assert batch.mask.tolist() == [[True] * 5, [False] * 5, [True] + [False] * 4]


def test_selection_and_event_index():
    ev, _ = random_events(n_users=20)
    sub = ev.select(ev.uids[[4, 2]])
    assert sub.lengths.tolist() == (ev.offsets[[5, 3]] - ev.offsets[[4, 2]]).tolist()
    idx = sub.event_index()
    expected = np.r_[ev.offsets[4] : ev.offsets[5], ev.offsets[2] : ev.offsets[3]]
    assert idx.tolist() == expected.tolist()
    assert sub.take(np.array([1])).selected.tolist() == [2]


def test_batch_orders_cover_every_user_once():
    lengths = np.random.default_rng(0).integers(0, 300, 1000)
    for order in (training_order(lengths, 64, np.random.default_rng(1), pool=4), inference_order(lengths, 64)):
        assert sorted(np.concatenate(order).tolist()) == list(range(1000))
    # length-sorted pools: a batch pads far less than a random one would
    batches = training_order(lengths, 64, np.random.default_rng(1), pool=4)
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 100


def test_last_occurrence_marks_one_event_per_user_and_author():
    offsets = np.array([0, 4, 4, 7])
    author = np.array([3, 5, 3, 3, 5, 5, 3])
    flags = last_occurrence(offsets, author)
    assert flags.tolist() == [False, True, False, True, False, True, True]
    ev, _ = random_events(n_users=50)
    owner = np.repeat(np.arange(50), np.diff(ev.offsets))
    distinct = len(np.unique(owner * 1000 + ev.author))
    assert ev.last_of_author.sum() == distinct


def test_a_window_of_recent_events_keeps_every_author_it_holds_once():
    ev, _ = random_events(n_users=30)
    identity = np.arange(ev.video.max() + 1)
    batch = pad_batch(ev, np.arange(30), 7, identity, np.arange(ev.author.max() + 1), ev.user_features)
    for row in range(30):
        n = int(batch.lengths[row])
        kept = batch.author[row, :n].numpy()
        assert int(batch.distinct[row].sum()) == len(np.unique(kept))


def test_title_words_by_video_code_and_in_the_padded_batch():
    import dataclasses

    import pandas as pd

    from socdem.models.genapon.batches import MAX_TITLE_WORDS, pad_batch, title_words

    words = title_words(pd.Series(["Рыбалка на Волге", "рыбалки", None]))
    assert words.shape == (4, MAX_TITLE_WORDS) and (words[0] == 0).all() and (words[3] == 0).all()
    assert words[1, 0] == words[2, 0] > 0  # "рыбалка" and "рыбалки": one stem
    assert (words[1] > 0).sum() == 3 and (words[2] > 0).sum() == 1
    events, _ = random_events(n_users=20, n_videos=3)
    events = dataclasses.replace(events, title_words=words)
    identity = np.arange(words.max() + 1)
    batch = pad_batch(events, np.arange(5), 256, np.arange(4), np.arange(20), events.user_features, identity)
    assert batch.words.shape == (*batch.video.shape, MAX_TITLE_WORDS)
    assert (batch.words[~batch.mask] == 0).all()  # padding reads no word
    real = batch.mask.numpy()
    np.testing.assert_array_equal(batch.words.numpy()[real], words[batch.video.numpy()[real]])


def test_title_vectors_by_video_code_in_the_padded_batch_only_when_asked():
    import dataclasses

    from socdem.models.genapon.batches import pad_batch

    events, _ = random_events(n_users=20, n_videos=6)
    vectors = np.random.default_rng(0).normal(size=(int(events.video.max()) + 1, 5)).astype(np.float32)
    vectors[0] = 0
    events = dataclasses.replace(events, title_vectors=vectors)
    args = (events, np.arange(6), 256, np.arange(len(vectors)), np.arange(20), events.user_features)
    assert pad_batch(*args).title_vec is None
    batch = pad_batch(*args, title_vectors=True)
    assert batch.title_vec.shape == (*batch.video.shape, 5) and batch.title_vec.dtype == torch.float32
    assert (batch.title_vec[~batch.mask] == 0).all()  # padding reads no vector
    real = batch.mask.numpy()
    np.testing.assert_array_equal(batch.title_vec.numpy()[real], vectors[batch.video.numpy()[real]])
