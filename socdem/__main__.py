"""Command line: one subcommand per make target, each a thin call into its stage."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from socdem.config import ConfigError, load_experiment
from socdem.contest import ContestError, contest_files
from socdem.evaluate.leaderboard import (
    LeaderboardError,
    format_table,
    log_submission,
    log_training,
    read_log,
    record_public_score,
)
from socdem.evaluate.scorer import oracle_scores, score_files, side_by_side
from socdem.features.build import build_features
from socdem.features.workspace import Workspace
from socdem.paths import DEFAULT_DATA, paths
from socdem.pipeline.submission import SubmissionError
from socdem.pipeline.submit import submit
from socdem.pipeline.train import train
from socdem.synthetic import GENERATORS


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _workspace(args):
    if Path(args.data) == DEFAULT_DATA and not contest_files(Path(args.data)):
        _log(f"data: no contest in {DEFAULT_DATA}; generating the synthetic default first")
        cmd_data(argparse.Namespace(data=args.data, users=50_000, seed=0, layout="rutube2024"))
    return Workspace(data_dir=Path(args.data), exp=load_experiment(args.exp), log=_log)


def cmd_data(args) -> int:
    out = Path(args.data)
    if contest_files(out):
        kind = "synthetic" if (out / "oracle" / "summary.json").exists() else "real"
        _log(f"data: {out} already holds a {kind} contest; left as it is")
        return 0
    summary = GENERATORS[args.layout](out, users=args.users, seed=args.seed)
    oracle = summary["oracle"]["test"]
    _log(f"data: synthetic contest in {out} ({summary['users']:,} users, {summary['events']:,} events)")
    _log(
        "data: oracle on test users: "
        + ", ".join(f"{k}={oracle[k]:.4f}" for k in ("roc_auc", "best_f1", "age_f1_weighted"))
    )
    return 0


def cmd_features(args) -> int:
    build_features(_workspace(args))
    return 0


def cmd_train(args) -> int:
    ws = _workspace(args)
    models = [m for m in args.models.split(",") if m] if args.models else None
    unknown = sorted(set(models or ()) - set(ws.exp.models))
    if unknown:
        raise ConfigError(
            f"--models: {', '.join(unknown)} not in experiment {ws.exp.name} (its models: {', '.join(ws.exp.models)})"
        )
    log_training(ws, train(ws, models=models))
    return 0


def cmd_submit(args) -> int:
    ws = _workspace(args)
    log_submission(ws, submit(ws, fmt=args.format or None))
    return 0


def cmd_score(args) -> int:
    scores = score_files(Path(args.sub), Path(args.truth))
    print(json.dumps(scores))
    oracle = oracle_scores(Path(args.truth).parent / "posterior.parquet", Path(args.truth))
    _log(side_by_side(scores, oracle))
    return 0


def cmd_leaderboard(args) -> int:
    print(format_table(read_log(paths().leaderboard)))
    return 0


def cmd_tune(args) -> int:
    from socdem.pipeline.tune import tune  # Optuna and CatBoost load only for `make tune`

    ws = _workspace(args)
    tune(ws, trials=args.trials, workers=args.workers, storage=args.storage)
    return 0


def cmd_bench(args) -> int:
    from socdem.bench.run import run_bench  # torch loads only for the benchmark

    print(json.dumps(run_bench(args.exp, log=_log), indent=2, sort_keys=True))
    return 0


def cmd_report(args) -> int:
    from socdem.evaluate.report import write_report  # matplotlib loads only for `make report`

    write_report(_workspace(args))
    return 0


def cmd_eda(args) -> int:
    from socdem.evaluate.eda.write import write_eda  # matplotlib loads only for `make eda`

    write_eda(_workspace(args))
    return 0


def cmd_lb(args) -> int:
    if not args.sub or not args.score:
        _log("error: lb: usage: make lb SUB=<submission csv> SCORE=<public leaderboard score>")
        return 2
    path = paths().leaderboard
    try:
        row = record_public_score(path, args.sub, args.score, base=paths().root)
    except LeaderboardError as exc:
        _log(f"error: {exc}")
        return 2
    _log(
        f"lb: public score {row['public_score']} recorded for {row['submission']} ({row['experiment']}, "
        f"{row['timestamp']})"
    )
    print(format_table(read_log(path)))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="socdem", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, func, help_text):
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--exp", default=os.environ.get("EXP", "default"))
        sp.add_argument("--data", default=os.environ.get("DATA", str(DEFAULT_DATA)))
        sp.set_defaults(func=func)
        return sp

    data = add("data", cmd_data, "write the synthetic contest (never over real data)")
    data.add_argument("--users", type=int, default=50_000)
    data.add_argument("--seed", type=int, default=0)
    data.add_argument("--layout", choices=("rutube2024", "jmlc"), default="rutube2024")
    add("features", cmd_features, "build and cache the label-free features")
    add("train", cmd_train, "K-fold CV of every model of the experiment").add_argument(
        "--models", default="", help="comma-separated subset of the experiment's models (default: all)"
    )
    add("submit", cmd_submit, "write submissions/<EXP>.csv and append the leaderboard").add_argument(
        "--format", default=""
    )
    score = add("score", cmd_score, "score a submission against a truth file")
    score.add_argument("--sub", required=True)
    score.add_argument("--truth", required=True)
    add("leaderboard", cmd_leaderboard, "print the leaderboard log")
    tune = add("tune", cmd_tune, "Optuna search per target; the study lives in storage and resumes")
    tune.add_argument("--trials", type=lambda v: int(v) if v else None, default=None, help="more trials per target")
    tune.add_argument(
        "--workers", type=lambda v: int(v) if v else None, default=None, help="processes, one thread each"
    )
    tune.add_argument(
        "--storage", default="", help="an Optuna RDB URL (default: a journal file under artifacts/EXP/tune)"
    )
    add("bench", cmd_bench, "feature-build speed and memory (BENCH_USERS=), merged into bench/results.json")
    add("report", cmd_report, "ROC / PR / calibration / importance plots and a summary in reports/<EXP>/")
    add("eda", cmd_eda, "the contest at a glance and adversarial validation in reports/eda/<data>-<fp>/")
    lb = add("lb", cmd_lb, "record the public leaderboard score of a submission")
    lb.add_argument("--sub", default="")
    lb.add_argument("--score", default="")
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
