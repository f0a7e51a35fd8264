"""The workspace resolves the contest's layout on its own copy: the experiment it is given stays as it was."""

from __future__ import annotations

from socdem.config import Experiment
from socdem.features.workspace import Workspace


def test_the_layout_is_resolved_without_changing_the_experiment(tiny_contest, tmp_path):
    exp = Experiment(name="x")
    ws = Workspace(tiny_contest, exp, root=tmp_path, log=lambda m: None)
    assert exp.contest == "auto" and ws.exp.contest == "rutube2024" and ws.exp.targets == ("sex", "age_class")
    assert ws.exp.features is exp.features and ws.exp.run == exp.run  # the same sections and run: only resolved
