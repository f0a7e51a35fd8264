"""The data path: every user's events laid out once as flat arrays sorted by
user and time, with an offsets array (`UserEvents`); a batch is a set of users
whose (capped) histories are gathered with numpy index arithmetic and padded to
the longest one in the batch (`PaddedBatch`, which owns its lengths and mask).
No pandas and no per-user Python work per batch.

A streamed contest (features/stored_events.py) gets the same arrays from
`stored_user_events`: DuckDB sorts its coded events and hands them over in Arrow
batches, written chunk by chunk into memory-mapped files (the events never
whole in pandas, nor twice in memory).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from socdem.contest.local_time import local_seconds
from socdem.features.titles import video_stems

TIME_FEATURES = ("local_hour", "weekday", "day_index", "watch_fraction", "log_watch_time")
SECONDS_PER_DAY = 86_400
MS_PER_SECOND = 1000.0  # the catalogue's durations are in milliseconds
DAYS_PER_WEEK = 7
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
MAX_WATCH_FRACTION = 2.0  # rewatches beyond twice the duration carry nothing more
LOG_WATCH_SCALE = 10.0  # log1p(10 h of watching in seconds) ~ 10.5
MAX_TITLE_WORDS = 8  # the first stems of a title: enough to say what the video is about
CHUNK_EVENTS = 2_000_000  # events per chunk of the streamed layout


def length_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, max_len) bool: True at each row's first `lengths` positions."""
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


@dataclass
class PaddedBatch:
    """A padded batch of users: events are (B, L[, F]), real up to each user's
    `lengths` and padding beyond (`mask` marks the real positions)."""

    video: torch.Tensor  # int64 embedding rows (0 = UNK)
    author: torch.Tensor  # int64 embedding rows (0 = UNK)
    time: torch.Tensor  # float32 (B, L, n_time_features), oldest event first
    lengths: torch.Tensor  # int64 (B,), 0 for a user without events
    user: torch.Tensor  # float32 (B, n_user_features), possibly zero columns
    distinct: torch.Tensor | None = None  # bool (B, L): the user's last event of each distinct author
    table: torch.Tensor | None = None  # int64 (B,): the author-evidence table each user reads (None = the last)
    words: torch.Tensor | None = None  # int64 (B, L, MAX_TITLE_WORDS): title-word embedding rows (0 = none)
    offset: torch.Tensor | None = None  # float32 (B, n_out): logits given from outside (the linear model's)
    title_vec: torch.Tensor | None = None  # float32 (B, L, dims): each event's video's title vector (0 = none)

    @property
    def mask(self) -> torch.Tensor:
        """(B, L) bool: True at real events, False at padding."""
        return length_mask(self.lengths, self.video.shape[1])

    def to(self, device) -> PaddedBatch:
        fields = (
            self.video, self.author, self.time, self.lengths, self.user, self.distinct, self.table, self.words,
            self.offset, self.title_vec,
        )  # fmt: skip
        return PaddedBatch(*(None if t is None else t.to(device, non_blocking=True) for t in fields))


@dataclass
class UserEvents:
    """Per-user event histories. `rows` selects users (positions into `uids`);
    selections share the flat arrays, so a fold's users cost no copy."""

    uids: np.ndarray  # (n_users,) sorted viewer_uid
    offsets: np.ndarray  # (n_users + 1,) int64: user i's events are [offsets[i], offsets[i + 1])
    video: np.ndarray  # (n_events,) int64 video code + 1; 0 = not in the catalogue
    author: np.ndarray  # (n_events,) int64 author code + 1; 0 = unknown
    time: np.ndarray  # (n_events, len(TIME_FEATURES)) float32, each scaled to about [0, 1]
    user_features: np.ndarray  # (n_users, n_user_features) float32, raw (standardised in fit); may have 0 columns
    last_of_author: np.ndarray | None = None  # (n_events,) bool: the user's last event of that author
    title_words: np.ndarray | None = None  # (video codes, MAX_TITLE_WORDS) int64: stem + 1 of each title (0 = none)
    video_category: np.ndarray | None = None  # (video codes,) int64: category code + 1 of each video (0 = none)
    # (n_users, n_out) float32: per-user logits the network adds to its own (the linear model's, cross-fitted
    # for a fold's training users), in the order of its logits; None: none
    offset: np.ndarray | None = None
    # (video codes, dims) float32: each video's reduced title vector by video code (row 0: none); None: none
    title_vectors: np.ndarray | None = None
    rows: np.ndarray | None = None  # selected users; None = all

    def __post_init__(self):
        if self.last_of_author is None:
            self.last_of_author = last_occurrence(self.offsets, self.author)

    @property
    def selected(self) -> np.ndarray:
        return np.arange(len(self.uids)) if self.rows is None else self.rows

    def __len__(self) -> int:
        return len(self.selected)

    @property
    def lengths(self) -> np.ndarray:
        """Event counts of the selected users."""
        rows = self.selected
        return self.offsets[rows + 1] - self.offsets[rows]

    def select(self, uids) -> UserEvents:
        uids = np.asarray(uids)  # int64 or text ids, as `uids` holds them
        pos = np.searchsorted(self.uids, uids)
        pos = np.minimum(pos, len(self.uids) - 1)
        if len(uids) and not np.array_equal(self.uids[pos], uids):
            missing = uids[self.uids[pos] != uids]
            raise KeyError(f"genapon: {len(missing)} user id(s) without a history slot, e.g. {missing[:3].tolist()}")
        return replace(self, rows=pos)

    def take(self, positions: np.ndarray) -> UserEvents:
        """A sub-selection by position within the current selection."""
        return replace(self, rows=self.selected[positions])

    def event_index(self) -> np.ndarray:
        """Flat indices of every event of the selected users (for vocabulary counts)."""
        rows = self.selected
        starts, lens = self.offsets[rows], self.offsets[rows + 1] - self.offsets[rows]
        shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        return shift + np.arange(lens.sum())


def last_occurrence(offsets: np.ndarray, item: np.ndarray) -> np.ndarray:
    """True at each user's last event of each distinct item. The last (not the
    first) so that a window of the most recent events keeps one per item it holds."""
    owner = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
    key = owner * (int(item.max(initial=0)) + 1) + item
    _, first_in_reversed = np.unique(key[::-1], return_index=True)
    flag = np.zeros(len(item), dtype=bool)
    flag[len(item) - 1 - first_in_reversed] = True
    return flag


def build_user_events(
    events: pd.DataFrame, videos: pd.DataFrame, users: np.ndarray, user_features: np.ndarray | None = None
) -> UserEvents:
    """Lay out the events of `users` (sorted uids); events of other users are dropped.

    `events` needs viewer_uid, rutube_video_id, ts (UTC seconds), region, total_watchtime;
    `videos` needs rutube_video_id, author_id, duration (milliseconds).
    """
    users = np.asarray(users)
    uid = events["viewer_uid"].to_numpy()
    pos = np.minimum(np.searchsorted(users, uid), max(len(users) - 1, 0))
    known = users[pos] == uid if len(users) else np.zeros(len(uid), bool)
    local = local_seconds(events["ts"].to_numpy(np.int64), events["region"])
    order = np.flatnonzero(known)[np.lexsort((local[known], pos[known]))]
    user_pos, local = pos[order], local[order]

    video_row = pd.Index(videos["rutube_video_id"]).get_indexer(events["rutube_video_id"].to_numpy()[order])
    in_catalogue = video_row >= 0
    author_codes, _ = pd.factorize(videos["author_id"], sort=True)
    duration_s = videos["duration"].to_numpy(np.float64) / MS_PER_SECOND
    safe_row = np.where(in_catalogue, video_row, 0)
    video = np.where(in_catalogue, video_row + 1, 0).astype(np.int64)
    author = np.where(in_catalogue, author_codes[safe_row] + 1, 0).astype(np.int64)

    watch = events["total_watchtime"].to_numpy(np.float64)[order]
    duration = np.where(in_catalogue, duration_s[safe_row], 0.0)
    day = local // SECONDS_PER_DAY
    first_day = day.min() if len(day) else 0
    span = max(int(day.max() - first_day) if len(day) else 0, 1)
    time = time_features(local, watch, duration, first_day, span)

    offsets = np.zeros(len(users) + 1, dtype=np.int64)
    np.cumsum(np.bincount(user_pos, minlength=len(users)), out=offsets[1:])
    user_features = checked_user_features(user_features, len(users))
    return UserEvents(
        uids=users, offsets=offsets, video=video, author=author, time=time, user_features=user_features,
        title_words=title_words(videos["title"]) if "title" in videos else None,
        video_category=video_categories(videos),
    )  # fmt: skip


def checked_user_features(user_features: np.ndarray | None, n_users: int) -> np.ndarray:
    """float32 user features, one row per user (none given: zero columns)."""
    if user_features is None:
        return np.zeros((n_users, 0), dtype=np.float32)
    user_features = np.asarray(user_features, dtype=np.float32)
    if user_features.shape[0] != n_users:
        raise ValueError(f"genapon: user features have {user_features.shape[0]} rows for {n_users} users")
    return user_features


def time_features(local: np.ndarray, watch: np.ndarray, duration: np.ndarray, first_day: int, span: int) -> np.ndarray:
    """(n, len(TIME_FEATURES)) float32 of events: local seconds, watch time and duration (0: unknown)."""
    fraction = np.divide(watch, duration, out=np.zeros_like(watch), where=duration > 0)
    day = local // SECONDS_PER_DAY
    return np.column_stack(
        [
            (local % SECONDS_PER_DAY) / SECONDS_PER_DAY,  # local hour, as a fraction of the day
            ((day + EPOCH_WEEKDAY) % DAYS_PER_WEEK) / DAYS_PER_WEEK,
            (day - first_day) / span,
            np.clip(fraction, 0.0, MAX_WATCH_FRACTION),
            np.log1p(watch) / LOG_WATCH_SCALE,
        ]
    ).astype(np.float32)


def stored_user_events(
    coded,
    videos: pd.DataFrame,
    users: np.ndarray,
    user_features: np.ndarray | None = None,
    folder=None,
    chunk_events: int = CHUNK_EVENTS,
) -> UserEvents:
    """`build_user_events` of a streamed contest: its coded events (features/stored_events.CodedEvents)
    sorted by DuckDB and laid out `chunk_events` at a time, into memory-mapped .npy files in `folder`
    (None: in memory). The same arrays as build_user_events gives for the contest's pandas events."""
    users = np.asarray(users)
    if not np.array_equal(users, coded.users):
        raise ValueError("genapon: the streamed layout covers the contest's labelled and test users only")
    n = coded.n_events
    offsets = np.zeros(len(users) + 1, dtype=np.int64)
    np.cumsum(coded.events_per_user.astype(np.int64), out=offsets[1:])
    first_day, last_day = coded.con.execute("SELECT min(day), max(day) FROM ev").fetchall()[0]
    first_day = int(first_day) if n else 0
    span = max(int(last_day) - first_day if n else 0, 1)

    def array(name, shape, dtype):
        if folder is None:
            return np.empty(shape, dtype=dtype)
        Path(folder).mkdir(parents=True, exist_ok=True)
        return np.lib.format.open_memmap(Path(folder) / f"{name}.npy", mode="w+", dtype=dtype, shape=shape)

    video, author = array("video", (n,), np.int64), array("author", (n,), np.int64)
    time, last = array("time", (n, len(TIME_FEATURES)), np.float32), array("last_of_author", (n,), bool)
    coded.con.execute("SET preserve_insertion_order = true")  # else a streamed result may leave ORDER BY's order
    try:
        reader = coded.con.sql(
            "SELECT coalesce(vrow, -1) AS vrow, coalesce(author_id, -1) AS author, lts, wt, "
            "coalesce(dur_s, 0.0) AS dur_s FROM ev ORDER BY u, lts, row"
        ).to_arrow_reader(chunk_events)
        _lay_out(reader, video, author, time, first_day, span)
    finally:
        coded.con.execute("SET preserve_insertion_order = false")
    user = 0  # last_of_author in slices of whole users, ~chunk_events events each
    while user < len(users):
        stop = min(
            max(int(np.searchsorted(offsets, offsets[user] + chunk_events, side="right")) - 1, user + 1), len(users)
        )
        lo, hi = offsets[user], offsets[stop]
        last[lo:hi] = last_occurrence(offsets[user : stop + 1] - lo, author[lo:hi])
        user = stop
    user_features = checked_user_features(user_features, len(users))
    return UserEvents(
        uids=users, offsets=offsets, video=video, author=author, time=time, user_features=user_features,
        last_of_author=last, title_words=title_words(videos["title"]) if "title" in videos else None,
        video_category=video_categories(videos),
    )  # fmt: skip


def _lay_out(reader, video, author, time, first_day: int, span: int) -> None:
    """Fill the layout's arrays from Arrow batches of (vrow, author, lts, wt, dur_s) in layout order."""
    start = 0
    for batch in reader:
        end = start + batch.num_rows
        columns = {name: batch.column(name).to_numpy() for name in ("vrow", "author", "lts", "wt", "dur_s")}
        known = columns["vrow"] >= 0
        video[start:end] = np.where(known, columns["vrow"] + 1, 0)
        author[start:end] = np.where(known, columns["author"] + 1, 0)
        time[start:end] = time_features(columns["lts"], columns["wt"], columns["dur_s"], first_day, span)
        start = end
    if start != len(video):
        raise AssertionError(f"genapon: {start} events laid out for {len(video)}")


def video_categories(videos: pd.DataFrame) -> np.ndarray | None:
    """(len(videos) + 1,) category code + 1 of each video by video code (0: not in the catalogue, or no
    category); None without a category column."""
    if "category" not in videos:
        return None
    codes, _ = pd.factorize(videos["category"], sort=True)  # -1 where missing
    return np.r_[0, codes + 1].astype(np.int64)


def title_words(titles: pd.Series) -> np.ndarray:
    """(len(titles) + 1, MAX_TITLE_WORDS) stem codes + 1 of each title, by video code (row 0: a
    video not in the catalogue); 0 pads a short title."""
    stems, _ = video_stems(titles)
    out = np.zeros((len(titles) + 1, MAX_TITLE_WORDS), dtype=np.int64)
    stems.sort_indices()
    position = np.arange(stems.nnz) - np.repeat(stems.indptr[:-1], np.diff(stems.indptr))
    keep = position < MAX_TITLE_WORDS
    video = np.repeat(np.arange(stems.shape[0]), np.diff(stems.indptr))
    out[video[keep] + 1, position[keep]] = stems.indices[keep] + 1
    return out


def pad_batch(
    data: UserEvents,
    positions: np.ndarray,
    max_events: int,
    video_map: np.ndarray,
    author_map: np.ndarray,
    user_matrix: np.ndarray,
    word_map: np.ndarray | None = None,
    title_vectors: bool = False,
) -> PaddedBatch:
    """The users at `positions` (within data's selection), each capped at its
    `max_events` most recent events, padded to the longest in the batch.
    `video_map`/`author_map` turn codes into embedding rows; `user_matrix` holds
    the standardised user features of data's selection; `word_map` turns title-word codes
    into rows (None: no title words); `title_vectors`: each event also gets its video's title vector."""
    rows = data.selected[positions]
    starts, ends = data.offsets[rows], data.offsets[rows + 1]
    lengths = np.minimum(ends - starts, max_events)
    width = max(int(lengths.max(initial=0)), 1)
    steps = np.arange(width)
    mask = steps[None, :] < lengths[:, None]
    index = np.where(mask, (ends - lengths)[:, None] + steps[None, :], 0)
    codes = np.where(mask, data.video[index], 0)  # each event's video code + 1, 0 at padding
    video = np.where(mask, video_map[codes], 0)
    author = np.where(mask, author_map[data.author[index]], 0)
    time = data.time[index] * mask[..., None]
    distinct = data.last_of_author[index] & mask
    words = None
    if word_map is not None and data.title_words is not None:
        words = torch.from_numpy(np.where(mask[..., None], word_map[data.title_words[codes]], 0))
    offset = None if data.offset is None else torch.from_numpy(np.ascontiguousarray(data.offset[rows], np.float32))
    title_vec = None
    if title_vectors and data.title_vectors is not None:
        title_vec = torch.from_numpy(data.title_vectors[codes])
    return PaddedBatch(
        video=torch.from_numpy(video),
        author=torch.from_numpy(author),
        time=torch.from_numpy(np.ascontiguousarray(time, dtype=np.float32)),
        lengths=torch.from_numpy(lengths.astype(np.int64)),
        user=torch.from_numpy(np.ascontiguousarray(user_matrix[positions], dtype=np.float32)),
        distinct=torch.from_numpy(distinct),
        words=words,
        offset=offset,
        title_vec=title_vec,
    )


def training_order(lengths: np.ndarray, batch_size: int, rng: np.random.Generator, pool: int = 32) -> list[np.ndarray]:
    """Shuffled batches of positions; users are sorted by length inside pools of
    `pool` batches so that a batch pads little, and the batch order is shuffled."""
    perm = rng.permutation(len(lengths))
    chunk = batch_size * pool
    batches = []
    for start in range(0, len(perm), chunk):
        part = perm[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def inference_order(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
