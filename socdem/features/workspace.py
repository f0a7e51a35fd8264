"""The state one run's stages share: the experiment, the contest (loaded once;
a large one streamed by DuckDB, see contest/scan.py and features/stored_events.py),
its fingerprint, the user x item interactions and the cached label-free
features. Everything here is label-free; the label-dependent stages
(folds, models, blend) sit above it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from socdem.config import Experiment
from socdem.contest import Contest, contest_files, describe_report, detect_layout, load_contest
from socdem.features.build import build_features
from socdem.features.interactions import Interactions, build_interactions, known_users
from socdem.features.stored_events import CodedEvents, StoredInteractions
from socdem.io import data_fingerprint
from socdem.paths import Paths, home


@dataclass
class Workspace:
    """One run's context: the contest folder, the experiment (its layout resolved), where artifacts go and
    how progress is logged. The experiment given is never changed: `contest = "auto"` is resolved on a copy."""

    data_dir: Path
    exp: Experiment
    root: Path = field(default_factory=home)
    log: Callable[[str], None] = print
    # read the events with DuckDB into a store on disk, never whole in pandas (contest/scan.py);
    # None: for a parquet events table of scan.STREAM_MIN_EVENTS rows or more
    stream: bool | None = None

    def __post_init__(self):
        self.data_dir = Path(self.data_dir)
        if self.exp.contest == "auto":
            self.exp = dataclasses.replace(self.exp, contest=detect_layout(self.data_dir))

    @cached_property
    def paths(self) -> Paths:
        return Paths(Path(self.root))

    @cached_property
    def contest(self) -> Contest:
        contest = load_contest(
            self.data_dir,
            layout=self.exp.contest,
            stream=self.stream,
            work_dir=self.paths.duckdb_temp,
            threads=self.exp.threads,
        )
        streamed = " (streamed by DuckDB)" if contest.store is not None else ""
        self.log(f"contest {self.data_dir}{streamed}: {describe_report(contest.report)}")
        for warning in contest.warnings:
            self.log(f"contest: WARNING: {warning}")
        return contest

    @cached_property
    def n_folds(self) -> int:
        """The number of cross-validation folds: the experiment's, or chosen by the labelled users (0)."""
        return self.exp.folds_for(len(self.contest.targets))

    @cached_property
    def data_fp(self) -> str:
        return data_fingerprint(contest_files(self.data_dir), memo_file=self.paths.digests)

    @cached_property
    def coded(self) -> CodedEvents | None:
        """The streamed events coded for the feature builders (None when the events are in pandas)."""
        if self.contest.store is None:
            return None
        return CodedEvents.build(self.contest, known_users(self.contest))

    @cached_property
    def interactions(self) -> Interactions:
        if self.contest.store is not None:
            return StoredInteractions(self.coded, self.contest.videos[["rutube_video_id", "title"]])
        return build_interactions(self.contest)

    @cached_property
    def features(self) -> pd.DataFrame:
        """Label-free user features (features/build.py), cached by fingerprint."""
        return build_features(self)
