"""Sparse user x item count matrices (authors, videos, categories, title words), built once
per run with vectorised index mapping and reused by every consumer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from socdem.features.titles import video_stems

ITEMS = ("author_id", "rutube_video_id", "category", "title_word", "engaged_video", "watched_video")
# a view of at least this share of the video's length is engaged: the videos a user watched through (in
# MovieLens read as a contest, a rating of 4 or 5) say more than the ones they opened and left
ENGAGED_SHARE = 0.8
# items whose matrix sums a weight per event, not a count: "watched_video", the share of each video's length
# watched (clipped to [0, 1]; in MovieLens read as a contest, rating / 5), over the videos of known length
WEIGHTS = {"watched_video": "watch_share"}


@dataclass
class Interactions:
    users: np.ndarray  # sorted viewer_uid of every labelled or test user
    events: pd.DataFrame  # viewer_uid, rutube_video_id, author_id, category (unknown video → NA), the items' weights
    videos: pd.DataFrame | None = None  # rutube_video_id, title: for the title words
    _cache: dict = field(default_factory=dict, repr=False)

    def rows(self, uids) -> np.ndarray:
        """Row positions of `uids` (every uid must be a known user)."""
        uids = np.asarray(uids)
        pos = np.searchsorted(self.users, uids)
        if len(uids) and (pos.max(initial=0) >= len(self.users) or not np.array_equal(self.users[pos], uids)):
            raise KeyError("some user ids are neither labelled nor test users")
        return pos

    def matrix(self, item: str) -> tuple[sp.csr_matrix, np.ndarray]:
        """(users x items event counts as CSR, item values per column); "title_word": the stems of
        the titles of the videos watched, counted once per event; an item of WEIGHTS: its events' weights summed."""
        if item == "title_word" and item not in self._cache:
            self._cache[item] = self._title_words()
        if item not in self._cache:
            column = self.events[item]
            user_pos, user_known = self._user_positions()
            known = column.notna().to_numpy() & user_known
            codes, values = pd.factorize(column[known], sort=True)
            rows = user_pos[known]
            if item in WEIGHTS:  # summed in float64 per (user, item), as DuckDB sums them
                summed = pd.DataFrame({"r": rows, "c": codes, "w": self.events[WEIGHTS[item]].to_numpy()[known]})
                summed = summed.groupby(["r", "c"], sort=False)["w"].sum()
                cells = summed.index.get_level_values
                data, rows, codes = summed.to_numpy().astype(np.float32), cells("r").to_numpy(), cells("c").to_numpy()
            else:
                data = np.ones(len(codes), dtype=np.float32)
            counts = sp.coo_matrix((data, (rows, codes)), shape=(len(self.users), len(values))).tocsr()
            counts.sum_duplicates()
            self._cache[item] = (counts, np.asarray(values))
        return self._cache[item]

    def parents(self, child: str, parent: str) -> np.ndarray:
        """For each column of `matrix(child)`, the column of `matrix(parent)` it belongs to (a video's
        author, an author's most watched category), or -1 where it has none (a video not in the catalogue)."""
        key = ("parents", child, parent)
        if key not in self._cache:
            _, child_values = self.matrix(child)
            _, parent_values = self.matrix(parent)
            pairs = self._pair_counts(child, parent)
            first = pairs.sort_values(["count", parent], ascending=[False, True], kind="mergesort")
            by_child = first.drop_duplicates(child).set_index(child)[parent]
            self._cache[key] = pd.Index(parent_values).get_indexer(by_child.reindex(child_values).to_numpy())
        return self._cache[key]

    def _pair_counts(self, child: str, parent: str) -> pd.DataFrame:
        """(child, parent, count): events per pair of values, over every event with both."""
        return self.events[[child, parent]].dropna().value_counts().reset_index()

    def derived(self, key, build):
        """build(self), computed once per key: a label-free view of these matrices kept for the run."""
        if key not in self._cache:
            self._cache[key] = build(self)
        return self._cache[key]

    def video_title_stems(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """((videos x stems) 0/1 in the columns of matrix("rutube_video_id"): the Snowball stems of each
        video's title (an empty row for a video outside the catalogue), the stem of each column), computed once."""
        if "_video_stems" not in self._cache:
            _, video_ids = self.matrix("rutube_video_id")
            if self.videos is None:
                self._cache["_video_stems"] = (
                    sp.csr_matrix((len(video_ids), 0), dtype=np.float32),
                    np.array([], dtype=object),
                )
            else:
                per_video, stem_values = video_stems(self.videos["title"])
                row = pd.Index(self.videos["rutube_video_id"]).get_indexer(video_ids)  # -1: not in the catalogue
                known = np.flatnonzero(row >= 0)
                pick = sp.csr_matrix(
                    (np.ones(len(known)), (known, row[known])), shape=(len(video_ids), per_video.shape[0])
                )
                self._cache["_video_stems"] = (sp.csr_matrix(pick @ per_video, dtype=np.float32), stem_values)
        return self._cache["_video_stems"]

    def _title_words(self) -> tuple[sp.csr_matrix, np.ndarray]:
        watched, _ = self.matrix("rutube_video_id")
        stems, stem_values = self.video_title_stems()
        return sp.csr_matrix(watched @ stems, dtype=np.float32), stem_values

    def _user_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(row of each event's user, whether that user is a known one), computed once."""
        if "_user_pos" not in self._cache:
            uids = self.events["viewer_uid"].to_numpy()
            pos = np.clip(np.searchsorted(self.users, uids), 0, len(self.users) - 1)
            self._cache["_user_pos"] = (pos, self.users[pos] == uids)
        return self._cache["_user_pos"]


def known_users(contest) -> np.ndarray:
    """Every labelled or test user, sorted: the rows of every user matrix."""
    return np.union1d(contest.train_users, contest.test_users)


def build_interactions(contest) -> Interactions:
    users = known_users(contest)
    videos = contest.videos[["rutube_video_id", "author_id", "category", "duration"]]
    events = contest.events[["viewer_uid", "rutube_video_id", "total_watchtime"]].merge(
        videos, on="rutube_video_id", how="left"
    )
    duration_s = events.pop("duration").to_numpy(np.float64) / 1000.0
    watched = events.pop("total_watchtime").to_numpy(np.float64)
    engaged = (duration_s > 0) & (watched >= ENGAGED_SHARE * duration_s)  # NaN durations compare False
    events["engaged_video"] = events["rutube_video_id"].where(engaged)
    known_length = duration_s > 0
    events["watched_video"] = events["rutube_video_id"].where(known_length)
    share = np.divide(watched, duration_s, out=np.zeros_like(watched), where=known_length)
    events["watch_share"] = np.clip(share, 0, 1)
    return Interactions(users=users, events=events, videos=contest.videos[["rutube_video_id", "title"]])
