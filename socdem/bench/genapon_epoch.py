"""Seconds per GENAPON training epoch at default sizes, for `make bench`.

An epoch is one pass over the training users (every labelled user of the
contest less the inner-validation share) plus the inner-validation pass,
exactly as `GenaponClassifier.fit` runs it; building the contest, the features
and the event layout is not counted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from socdem.config import Experiment
from socdem.contest.checks import find_table
from socdem.features.workspace import Workspace
from socdem.models.genapon.runner import estimator_from_config, workspace_events
from socdem.paths import home, paths
from socdem.synthetic import generate


def synthetic_contest(users: int, seed: int = 0, cache_dir: Path | None = None) -> Path:
    """A synthetic contest of `users` users, generated once into the cache."""
    out = (
        Path(cache_dir)
        if cache_dir
        else paths().bench_data(users)
        if seed == 0
        else paths().artifacts / "bench" / f"data_{users}_seed{seed}"
    )
    if find_table(out, "train_events") is None:
        generate(out, users=users, seed=seed, progress=False)
    return out


def epoch_seconds(
    users: int, threads: int = 2, seed: int = 0, cache_dir: Path | None = None, quiet: bool = True
) -> dict:
    """{"genapon_epoch_seconds": ..., "genapon_users": users} for one epoch on `threads` CPU threads
    (or CUDA when present: device "auto")."""
    exp = Experiment(threads=threads, seed=seed)  # default sizes
    log = (lambda message: None) if quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    ws = Workspace(data_dir=synthetic_contest(users, seed, cache_dir), exp=exp, root=home(), log=log)
    events = workspace_events(ws)
    targets = ws.contest.targets
    y = targets[["female", "age_class"]].to_numpy()
    model = estimator_from_config(exp, epochs=1, quiet=quiet)
    model.fit(events.select(targets["viewer_uid"].to_numpy()), y)
    return {"genapon_epoch_seconds": round(model.epoch_seconds_[0], 2), "genapon_users": int(users)}


if __name__ == "__main__":
    print(json.dumps(epoch_seconds(int(sys.argv[1]) if len(sys.argv) > 1 else 280_000, quiet=False)))
