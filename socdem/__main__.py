"""Command line: one subcommand per make target, each a thin call into its stage."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from socdem.config import ConfigError, load_experiment
from socdem.contest import ContestError, contest_files
from socdem.evaluate.compare import CompareError, compare_spec_runs, format_comparison, public_json
from socdem.evaluate.leaderboard import (
    LeaderboardError,
    format_table,
    log_submission,
    log_training,
    read_log,
    record_public_score,
)
from socdem.evaluate.scorer import oracle_scores, score_files, side_by_side
from socdem.evaluate.tracking import (
    ablation_payload,
    artifacts_payload,
    experiment_name,
    fold_payload,
    public_score_payload,
    submission_payload,
    track,
    tracking_uri,
    trained_cv,
    training_payload,
)
from socdem.features.build import build_features
from socdem.features.workspace import Workspace
from socdem.io import atomic_folder, data_fingerprint
from socdem.models.registry import REGISTRY
from socdem.paths import DEFAULT_DATA, paths
from socdem.pipeline.folds import check_n_folds, load_or_make_folds
from socdem.pipeline.submission import FORMATS, SubmissionError
from socdem.pipeline.submit import submit
from socdem.pipeline.train import train, training_seconds
from socdem.real import SOURCES
from socdem.real.wheels import SourceError
from socdem.synthetic import FAMILIES, GENERATORS


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _experiment(args):
    """The experiment of --exp with the overrides of --set (SET= in make), refused before any work
    when it names a model that does not exist."""
    exp = load_experiment(args.exp, overrides=args.set or None)
    unknown = [m for m in exp.models if m not in REGISTRY]
    if unknown or not exp.models:
        raise ConfigError(
            f"experiment {args.exp}: models: unknown {', '.join(map(repr, unknown)) or 'none given'}; "
            f"expected some of {', '.join(REGISTRY)}"
        )
    return exp


def _workspace(args, labels: bool = False):
    """The run's workspace; with `labels`, the labels are read at once and the folds checked against them."""
    exp = _experiment(args)
    if Path(args.data) == DEFAULT_DATA and not contest_files(Path(args.data)):
        _log(f"data: no contest in {DEFAULT_DATA}; generating the synthetic default first")
        cmd_data(argparse.Namespace(data=args.data, users=None, seed=0, layout="rutube2024", family="author_tastes"))
    ws = Workspace(data_dir=Path(args.data), exp=exp, log=_log)
    if labels:
        check_n_folds(ws.contest.targets, ws.n_folds, f"experiment {exp.name}")
    return ws


def cmd_data(args) -> int:
    out = Path(args.data)
    family = args.family
    source = getattr(args, "source", "")
    if source and source not in SOURCES:
        raise ConfigError(f"data: SOURCE={source}; expected one of {', '.join(SOURCES)} (or none: synthetic)")
    if args.layout == "jmlc" and family != "author_tastes":
        raise ConfigError(f"--family {family}: only author_tastes is written in the JMLC layout (LAYOUT=jmlc)")
    if args.users is not None and args.users < 1:
        raise ConfigError(f"data: USERS={args.users}; expected a positive number of users")
    if contest_files(out):
        kind = "synthetic" if (out / "oracle" / "summary.json").exists() else "real"
        _log(f"data: {out} already holds a {kind} contest; left as it is")
        return 0
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ContestError(
            f"{out}: holds other files but no contest; expected an empty or absent folder for `make data`"
        )
    if source:
        return _real_data(out, source, args.seed)
    generator, default_users = FAMILIES[family]
    if args.layout == "jmlc":
        generator = GENERATORS["jmlc"]
    users = default_users if args.users is None else args.users
    with atomic_folder(out) as tmp:  # a killed or failed run leaves no half-written contest behind
        summary = generator(tmp, users=users, seed=args.seed)
    oracle = summary["oracle"]["test"]
    _log(f"data: synthetic contest in {out} ({summary['users']:,} users, {summary['events']:,} events)")
    _log(
        "data: oracle on test users: "
        + ", ".join(f"{k}={oracle[k]:.4f}" for k in ("roc_auc", "best_f1", "age_f1_weighted"))
    )
    return 0


def _real_data(out: Path, source: str, seed: int) -> int:
    with atomic_folder(out) as tmp:
        summary = SOURCES[source](tmp, seed=seed, cache_dir=paths().wheels, log=_log)
    _log(
        f"data: {summary['source']} in {out} ({summary['labelled_users']:,} labelled and {summary['test_users']:,} "
        f"test users, {summary['events']:,} events; real data, {summary['licence']}); truth in {out}/truth/"
    )
    return 0


def cmd_features(args) -> int:
    build_features(_workspace(args))
    return 0


def cmd_train(args) -> int:
    if args.folds:  # a fold task of the Airflow DAG: its fold files and their scores; `submit` gathers them
        ws, models = _training(args)
        folds = args.folds.split(",")
        if not models or not all(k.isdigit() and int(k) < ws.n_folds for k in folds):
            raise ConfigError(f"--folds {args.folds}: expected folds among 0..{ws.n_folds - 1}, with --models")
        train(ws, models=models, only_folds=[int(k) for k in folds])
        track(ws.exp, lambda: [fold_payload(ws, models, [int(k) for k in folds])], _log)
        return 0
    ws, models = _training(args)
    cv = train(ws, models=models)
    seconds = {name: training_seconds(ws, name) for name in cv}
    log_training(ws, cv, seconds=seconds)
    track(ws.exp, lambda: [training_payload(ws, cv, seconds)], _log)
    return 0


def _training(args):
    """The workspace and the models of --models (None: all), refused when one is not in the experiment."""
    ws = _workspace(args, labels=True)
    models = [m for m in args.models.split(",") if m] if args.models else None
    unknown = sorted(set(models or ()) - set(ws.exp.models))
    if unknown:
        raise ConfigError(
            f"--models: {', '.join(unknown)} not in experiment {ws.exp.name} (its models: {', '.join(ws.exp.models)})"
        )
    return ws, models


def cmd_folds(args) -> int:
    """Save the run's folds; print its (model, fold) training tasks as JSON (the Airflow DAG maps over them)."""
    ws = _workspace(args, labels=True)
    load_or_make_folds(ws)
    print(json.dumps([{"model": m, "fold": k} for m in ws.exp.models for k in range(ws.n_folds)]))
    return 0


def cmd_submit(args) -> int:
    if args.format and args.format not in FORMATS:
        raise ConfigError(f"submit: FORMAT={args.format}; expected one of {', '.join(FORMATS)} (or none)")
    ws = _workspace(args, labels=True)
    record = submit(ws, fmt=args.format or None)
    log_submission(ws, record)
    track(ws.exp, lambda: [submission_payload(ws, record)], _log)
    return 0


TRUTH_FILES = ("oracle/test_truth.csv", "truth/test_truth.csv")  # a synthetic contest's, a real one's


def cmd_score(args) -> int:
    truth = Path(args.truth) if args.truth else _default_truth(Path(args.data))
    if args.if_truth and not truth.exists():
        return 0  # `make all` on a contest without a truth file: nothing to score
    sub = args.sub or str(paths().submission(_experiment(args).run))  # default: this EXP (and SET)'s submission
    scores = score_files(Path(sub), truth)
    print(json.dumps(scores))
    oracle = oracle_scores(truth.parent / "posterior.parquet", truth)
    _log(side_by_side(scores, oracle))
    return 0


def _default_truth(data: Path) -> Path:
    """DATA's truth file: the synthetic contest's oracle/test_truth.csv, or the real one's truth/test_truth.csv."""
    return next((data / name for name in TRUTH_FILES if (data / name).exists()), data / TRUTH_FILES[0])


def cmd_leaderboard(args) -> int:
    print(format_table(read_log(paths().leaderboard), data=_data_filter(args.only_data), models=args.models or None))
    return 0


def _data_filter(value: str):
    """DATA= of `make leaderboard`: a contest folder (its fingerprint), a fingerprint prefix or a
    folder name, "all"; empty: the latest row's data."""
    if not value or value == "all":
        return value or None
    if Path(value).is_dir() and contest_files(Path(value)):
        return [data_fingerprint(contest_files(Path(value)), memo_file=paths().digests)]
    return [value, Path(value).name]


def cmd_compare(args) -> int:
    if not args.a or not args.b:
        _log('error: compare: usage: make compare A="<exp> [key=value ...]" B="<exp> [key=value ...]"')
        return 2
    exp = _experiment(args)
    a, b, result = compare_spec_runs(args.a, args.b, Path(args.data), log=_log, draws=args.draws)
    # both runs' training, logged as `make train` logs it
    track(exp, lambda: [training_payload(side.workspace, *trained_cv(side.workspace)) for side in (a, b)], _log)
    _log(format_comparison(a, b, result, len(a.oof), args.draws))
    print(json.dumps(public_json(result)))
    return 0


def cmd_ablate(args) -> int:
    from socdem.evaluate.ablate import ablate

    models = [m for m in args.models.replace(",", " ").split() if m] if args.models else None
    ws = _workspace(args)
    out = ablate(ws, retrain=models, draws=args.draws)
    track(ws.exp, lambda: [training_payload(ws, *trained_cv(ws)), ablation_payload(ws, out["path"])], _log)
    print(json.dumps(out["json"]))
    return 0


def cmd_tune(args) -> int:
    from socdem.pipeline.tune import tune  # Optuna and CatBoost load only for `make tune`

    ws = _workspace(args, labels=True)
    tune(ws, trials=args.trials, workers=args.workers, storage=args.storage)
    return 0


def cmd_bench(args) -> int:
    if args.scale:  # `make bench SCALE=1`: cost growth over four contest sizes (bench/scale.py)
        from socdem.bench.scale import run_scale, scale_sizes

        try:
            sizes = scale_sizes()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        print(run_scale(args.exp, sizes=sizes, log=_log)["table"])
        return 0
    from socdem.bench.end_to_end import PipelineBenchError, bench_parts, run_pipeline_bench
    from socdem.bench.run import run_bench  # torch loads only for the benchmark

    parts, results = bench_parts(args.parts), {}
    if parts & {"features", "genapon"}:
        results = run_bench(args.exp, log=_log, parts=parts)
    if "pipeline" in parts:  # the whole experiment, cold, then a CatBoost change re-scored and a re-blend
        try:
            results = run_pipeline_bench(args.exp, users=args.pipeline_users, overrides=args.set, log=_log)
        except PipelineBenchError as exc:
            _log(f"error: {exc}")
            return 1
    print(json.dumps(results, indent=2, sort_keys=True))
    return 0


def cmd_report(args) -> int:
    from socdem.evaluate.report import write_report  # matplotlib loads only for `make report`

    ws = _workspace(args, labels=True)
    out = write_report(ws)
    track(ws.exp, lambda: [artifacts_payload(ws, [out["summary"], *out["plots"]], "report")], _log)
    return 0


def cmd_eda(args) -> int:
    from socdem.evaluate.eda.write import write_eda  # matplotlib loads only for `make eda`

    write_eda(_workspace(args))
    return 0


def cmd_lb(args) -> int:
    if not args.score:
        _log("error: lb: usage: make lb SUB=<submission csv> SCORE=<public leaderboard score>")
        return 2
    path = paths().leaderboard
    exp = _experiment(args)
    sub = args.sub or str(paths().submission(exp.run))  # default: this EXP (and SET)'s submission
    try:
        row = record_public_score(path, sub, args.score, base=paths().root)
    except LeaderboardError as exc:
        _log(f"error: {exc}")
        return 2
    track(exp, lambda: [public_score_payload(row, float(row["public_score"]), int(time.time() * 1000))], _log)
    _log(
        f"lb: public score {row['public_score']} recorded for {row['submission']} ({row['experiment']}, "
        f"{row['timestamp']})"
    )
    print(format_table(read_log(path), data=[row["data"]]))
    return 0


def cmd_ui(args) -> int:
    from socdem.evaluate.tracking_queue import wait
    from socdem.evaluate.tracking_ui import HOST, UI_ENV, free_port, mlflow_ui_command, runs_fragment, serve

    uri = tracking_uri()
    if not uri.startswith("sqlite:"):  # MLFLOW_TRACKING_URI: the team's server has its own UI
        print(uri)
        _log(f"ui: the runs go to {uri}; its UI is there")
        return 0
    if left := wait():  # the runs the last commands logged in the background are in the store first
        _log(f"ui: {len(left)} payload(s) could not be logged; see {paths().mlflow_log}")
    port = free_port()
    if fragment := runs_fragment(uri, _contest_experiment(args)):
        _log(f"ui: this contest's runs at http://{HOST}:{port}/{fragment}")
    return serve(mlflow_ui_command(port), f"ui: MLflow on {uri}", port, log=_log, env=UI_ENV)


def _contest_experiment(args) -> str:
    """The MLflow experiment of DATA's contest ("" when DATA holds no contest: the UI still lists every run)."""
    try:
        ws = Workspace(data_dir=Path(args.data), exp=_experiment(args), log=_log)
        return experiment_name(ws.data_dir, ws.data_fp)
    except ContestError:
        return ""


def cmd_tune_ui(args) -> int:
    from socdem.evaluate.tracking_ui import dashboard_command, free_port, serve
    from socdem.pipeline.tune import storage_spec  # Optuna loads only for the tuning commands

    ws = Workspace(data_dir=Path(args.data), exp=_experiment(args), log=_log)  # the study lives in the run's tune/
    storage = storage_spec(ws, args.storage)
    if "://" not in storage and not Path(storage).exists():
        raise ConfigError(
            f"tune-ui: no study at {storage} yet (run `make tune EXP={args.exp}` first, or give STORAGE=)"
        )
    port = free_port()
    return serve(dashboard_command(storage, port), f"tune-ui: optuna-dashboard on {storage}", port, log=_log)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="socdem", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, func, help_text):
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--exp", default=os.environ.get("EXP", "default"))
        sp.add_argument("--data", default=os.environ.get("DATA", str(DEFAULT_DATA)))
        sp.add_argument(
            "--set",
            action="append",
            default=[os.environ["SET"]] if os.environ.get("SET") else [],
            help="overrides of the experiment, e.g. --set 'catboost.depth=8 genapon.epochs=6' (TOML values)",
        )
        sp.set_defaults(func=func)
        return sp

    data = add("data", cmd_data, "write a synthetic contest, or a real one with --source (never over a contest)")
    data.add_argument(
        "--users", type=lambda v: int(v) if v else None, default=None, help="default: the family's (reallike 1,000)"
    )
    data.add_argument("--seed", type=int, default=0)
    data.add_argument("--layout", choices=("rutube2024", "jmlc"), default="rutube2024")
    data.add_argument("--family", choices=tuple(FAMILIES), default="author_tastes", help="the synthetic world")
    data.add_argument("--source", default="", help=f"a real data set instead: {', '.join(SOURCES)} (SEED: its split)")
    add("features", cmd_features, "build and cache the label-free features")
    train_cmd = add("train", cmd_train, "K-fold CV of every model of the experiment")
    train_cmd.add_argument(
        "--models", default="", help="comma-separated subset of the experiment's models (default: all)"
    )
    train_cmd.add_argument("--folds", default="", help="only these folds (0-based, comma-separated), not gathered")
    add("folds", cmd_folds, "save the folds; print the (model, fold) training tasks as JSON")
    add("submit", cmd_submit, "write submissions/<EXP>.csv and append the leaderboard").add_argument(
        "--format", default=""
    )
    score = add("score", cmd_score, "score a submission against a truth file")
    score.add_argument("--sub", default="", help="default: submissions/<RUN>.csv of --exp and --set")
    score.add_argument("--truth", default="", help="default: DATA's oracle/ or truth/ test_truth.csv")
    score.add_argument("--if-truth", action="store_true", help="score only when the default truth file exists")
    board = add("leaderboard", cmd_leaderboard, "print the leaderboard of one contest")
    board.add_argument("--only-data", default="", help="a contest folder, fingerprint or 'all' (default: latest)")
    board.add_argument("--models", default="", help="'1' for a row per model, or a comma-separated list of models")
    compare = add("compare", cmd_compare, "B − A with paired-bootstrap intervals on the same data and folds")
    compare.add_argument("--a", default="", help="'<exp> [key=value ...]'")
    compare.add_argument("--b", default="", help="'<exp> [key=value ...]'")
    compare.add_argument("--draws", type=int, default=1000)
    ablate = add("ablate", cmd_ablate, "each feature family off and each model out, compared with the full run")
    ablate.add_argument("--models", default="", help="models retrained without a feature family (default: all)")
    ablate.add_argument("--draws", type=int, default=1000)
    tune = add("tune", cmd_tune, "Optuna search per target; the study lives in storage and resumes")
    tune.add_argument("--trials", type=lambda v: int(v) if v else None, default=None, help="more trials per target")
    tune.add_argument(
        "--workers", type=lambda v: int(v) if v else None, default=None, help="processes, one thread each"
    )
    tune.add_argument(
        "--storage", default="", help="an Optuna RDB URL (default: a journal file under artifacts/EXP/tune)"
    )
    bench = add("bench", cmd_bench, "speed and memory figures (BENCH_USERS=), merged into bench/results.json")
    bench.add_argument(
        "--parts", default=os.environ.get("BENCH", ""), help="features,genapon,pipeline (default: all of them)"
    )
    bench.add_argument(
        "--pipeline-users", default=os.environ.get("PIPELINE_USERS", ""), help="default: 225,000 (Rutube 2024)"
    )
    bench.add_argument(
        "--scale",
        action="store_true",
        help="cost growth over four contest sizes (SCALE_EVENTS=2,9,30,90 millions of events) instead",
    )
    add("report", cmd_report, "ROC / PR / calibration / importance plots and a summary in reports/<EXP>/")
    add("eda", cmd_eda, "the contest at a glance and adversarial validation in reports/eda/<data>-<fp>/")
    add("ui", cmd_ui, "MLflow's UI on the tracking store, on 127.0.0.1 at a free port (Ctrl-C stops it)")
    tune_ui = add("tune-ui", cmd_tune_ui, "optuna-dashboard on the experiment's tuning study (Ctrl-C stops it)")
    tune_ui.add_argument("--storage", default="", help="an Optuna RDB URL (default: the run's journal file)")
    lb = add("lb", cmd_lb, "record the public leaderboard score of a submission")
    lb.add_argument("--sub", default="")
    lb.add_argument("--score", default="")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (ContestError, ConfigError, SubmissionError, CompareError, SourceError) as exc:
        _log(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
