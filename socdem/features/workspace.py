"""The state one run's stages share: the experiment, the contest (loaded once),
its fingerprint, the user x item interactions and the cached label-free
features. Everything here is label-free; the label-dependent stages
(folds, models, blend) sit above it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from socdem.config import Experiment
from socdem.contest import Contest, contest_files, describe_report, detect_layout, load_contest
from socdem.features.build import build_features
from socdem.features.interactions import Interactions, build_interactions
from socdem.io import data_fingerprint
from socdem.paths import Paths, home


@dataclass
class Workspace:
    data_dir: Path
    exp: Experiment
    root: Path = field(default_factory=home)
    log: callable = print

    def __post_init__(self):
        if self.exp.contest == "auto":
            self.exp.contest = detect_layout(self.data_dir)

    @cached_property
    def paths(self) -> Paths:
        return Paths(Path(self.root))

    @cached_property
    def contest(self) -> Contest:
        contest = load_contest(self.data_dir, layout=self.exp.contest)
        self.log(f"contest {self.data_dir}: {describe_report(contest.report)}")
        return contest

    @cached_property
    def data_fp(self) -> str:
        return data_fingerprint(contest_files(self.data_dir), memo_file=self.paths.digests)

    @cached_property
    def interactions(self) -> Interactions:
        return build_interactions(self.contest)

    @cached_property
    def features(self):
        """Label-free user features (features/build.py), cached by fingerprint."""
        return build_features(self)
