"""Where everything lives, and the state shared by the stages of one run.

Paths are relative to SOCDEM_HOME (default: the current folder), so tests
and parallel runs can work in their own folder.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from socdem.config import Experiment
from socdem.contest import Contest, load_contest
from socdem.fingerprint import data_fingerprint

FEATURE_CODE_VERSION = 2


def home() -> Path:
    return Path(os.environ.get("SOCDEM_HOME", "."))


@dataclass
class Workspace:
    data_dir: Path
    exp: Experiment
    root: Path = field(default_factory=home)
    log: callable = print

    def __post_init__(self):
        if self.exp.contest == "auto":
            from socdem.contest import detect_layout

            self.exp.contest = detect_layout(self.data_dir)

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def exp_dir(self) -> Path:
        return self.artifacts / self.exp.name

    @property
    def submissions(self) -> Path:
        return self.root / "submissions"

    @property
    def leaderboard_path(self) -> Path:
        return self.root / "experiments" / "leaderboard.csv"

    @property
    def reports(self) -> Path:
        return self.root / "reports" / self.exp.name

    @cached_property
    def contest(self) -> Contest:
        from socdem.contest import describe_report

        contest = load_contest(self.data_dir, layout=self.exp.contest)
        self.log(f"contest {self.data_dir}: {describe_report(contest.report)}")
        return contest

    @cached_property
    def data_fp(self) -> str:
        from socdem.contest import contest_files

        return data_fingerprint(contest_files(self.data_dir), memo_file=self.artifacts / ".digests.json")

    @cached_property
    def folds(self):
        from socdem.cv import load_or_make_folds

        return load_or_make_folds(self)

    @cached_property
    def interactions(self):
        from socdem.features.interactions import build_interactions

        return build_interactions(self.contest)

    @cached_property
    def features(self):
        """Label-free user features (socdem/features/build.py), cached by fingerprint."""
        from socdem.features.build import build_features

        return build_features(self)
