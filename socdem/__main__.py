"""Command line: one subcommand per make target, each a thin call into its stage."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from socdem.config import ConfigError, load_experiment
from socdem.contest import ContestError, find_table
from socdem.submission import SubmissionError


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


DEFAULT_DATA = "data/raw"


def _workspace(args):
    from socdem.workspace import Workspace

    if args.data == DEFAULT_DATA and find_table(Path(args.data), "train_events") is None:
        _log(f"data: no contest in {DEFAULT_DATA}; generating the synthetic default first")
        cmd_data(argparse.Namespace(data=args.data, users=50_000, seed=0))
    return Workspace(data_dir=Path(args.data), exp=load_experiment(args.exp), log=_log)


def cmd_data(args) -> int:
    from socdem.synth import generate

    out = Path(args.data)
    if find_table(out, "train_events") is not None:
        kind = "synthetic" if (out / "oracle" / "summary.json").exists() else "real"
        _log(f"data: {out} already holds a {kind} contest; left as it is")
        return 0
    summary = generate(out, users=args.users, seed=args.seed)
    oracle = summary["oracle"]["test"]
    _log(f"data: synthetic contest in {out} ({summary['users']:,} users, {summary['events']:,} events)")
    _log("data: oracle on test users: " + ", ".join(f"{k}={oracle[k]:.4f}" for k in ("roc_auc", "best_f1", "age_f1_weighted")))
    return 0


def cmd_features(args) -> int:
    from socdem.features.build import build_features

    build_features(_workspace(args))
    return 0


def cmd_train(args) -> int:
    from socdem.training import train

    ws = _workspace(args)
    train(ws)
    return 0


def cmd_submit(args) -> int:
    from socdem.submit import submit

    ws = _workspace(args)
    submit(ws, fmt=args.format or None)
    return 0


def cmd_score(args) -> int:
    from socdem.score import oracle_scores, score_files, side_by_side

    scores = score_files(Path(args.sub), Path(args.truth))
    print(json.dumps(scores))
    oracle = oracle_scores(Path(args.truth).parent / "posterior.parquet", Path(args.truth))
    _log(side_by_side(scores, oracle))
    return 0


def cmd_leaderboard(args) -> int:
    from socdem.leaderboard import format_table, read_log
    from socdem.workspace import home

    print(format_table(read_log(home() / "experiments" / "leaderboard.csv")))
    return 0


def not_built(name: str):
    def run(args) -> int:
        _log(f"{name}: not built yet (see the open issues); nothing was done")
        return 1

    return run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="socdem", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, func, help_text):
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--exp", default=os.environ.get("EXP", "default"))
        sp.add_argument("--data", default=os.environ.get("DATA", DEFAULT_DATA))
        sp.set_defaults(func=func)
        return sp

    data = add("data", cmd_data, "write the synthetic contest (never over real data)")
    data.add_argument("--users", type=int, default=50_000)
    data.add_argument("--seed", type=int, default=0)
    add("features", cmd_features, "build and cache the label-free features")
    add("train", cmd_train, "K-fold CV of every model of the experiment")
    add("submit", cmd_submit, "write submissions/<EXP>.csv and append the leaderboard").add_argument("--format", default="")
    score = add("score", cmd_score, "score a submission against a truth file")
    score.add_argument("--sub", required=True)
    score.add_argument("--truth", required=True)
    add("leaderboard", cmd_leaderboard, "print the leaderboard log")
    for name in ("tune", "bench", "report", "lb", "dag"):
        add(name, not_built(name), f"{name} (not built yet)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (ContestError, ConfigError, SubmissionError) as exc:
        _log(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
