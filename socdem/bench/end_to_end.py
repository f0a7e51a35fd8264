"""`make bench` (BENCH=pipeline): the whole experiment as a competitor runs it, cold, at the Rutube 2024 size.

The synthetic contest of PIPELINE_USERS users (default 225,000, 20% of them test users) is generated once
into artifacts/bench/data_<users> (the folder the feature bench uses for the same size) by
`python -m socdem data`. Then, in a fresh SOCDEM_HOME of its own (artifacts/bench/pipeline_<users>/,
emptied first, so no feature, fold, model or blend cache of an earlier run is reused), the stages run
one after the other, each as `python -m socdem <stage> --exp … --data … --set …` in a child process
with the Makefile's environment (BLAS threads 2, PYTHONHASHSEED=0):

  features  load, fingerprint and the label-free features (a cold build);
  train     every model's K-fold CV (each fold fitted: the bench checks that none came from a cache);
  submit    the blend, the adversarial validation and the submission.

Each stage's wall seconds, and its peak RSS: the kernel's high-water mark of the child's resident
memory (ru_maxrss of the rusage that wait4 returns for that very child, so nothing is sampled or
missed, and neither the bench nor the other stages count). The stages keep their work in threads
(DuckDB, BLAS, CatBoost, torch), so the child's own peak is the stage's.

Then a change re-scored, a competitor's usual next step: one CatBoost parameter changed through --set
(CHANGE, default catboost.l2_leaf_reg=5) makes a new run `<EXP>-<hash>`; its `train` must fit
CatBoost's folds and link every other model's from the cold run, and its `submit` re-blends;
`pipeline_rescore_catboost_seconds` is both together. A second `submit` of that run only re-blends
(`pipeline_reblend_seconds`). The train logs say which folds were fitted and which were cached; a
model that retrained where it should have come from the cache stops the bench with an error.

The submission is scored against the synthetic truth (oracle/test_truth.csv) beside the exact
oracle on the same users, and the blend's CV scores are kept, so speed never hides a score loss.
Results merge into bench/results.json (`pipeline_*` keys); a Markdown table is printed. Every
stage's log stays in artifacts/bench/pipeline_<users>/logs/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from socdem.bench.run import merge_results, results_path
from socdem.config import ConfigError, experiment_dirs, load_experiment
from socdem.evaluate.scorer import oracle_scores, score_files
from socdem.paths import paths

DEFAULT_USERS = 225_000  # the Rutube 2024 contest's size
CHANGE = "catboost.l2_leaf_reg=5"  # the change re-scored: one CatBoost parameter
CHANGED_MODEL = "catboost"
PARTS = ("features", "genapon", "pipeline")  # what `make bench BENCH=…` may choose
CHILD_ENV = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "PYTHONHASHSEED": "0"}
DROPPED_ENV = ("SOCDEM_HOME", "EXP", "DATA", "SET")  # the child gets these from its command line only
GOALS = {"seconds": 15 * 60, "peak_rss_mb": 8 * 1024, "rescore_catboost_seconds": 5 * 60, "reblend_seconds": 60}
REPO = Path(__file__).resolve().parents[2]
FOLD_LINE = re.compile(r"^train (?P<model>\w+): fold (?P<k>\d+)/(?P<n>\d+) (?P<rest>.*)$")
ADVERSARIAL_LINE = re.compile(r"^adversarial: ROC-AUC .*\((?P<seconds>[\d.]+) s\)$", re.MULTILINE)
SCORE_KEYS = ("roc_auc", "age_f1_weighted", "accuracy", "f1", "rutube2024")


class PipelineBenchError(RuntimeError):
    """A stage failed, or retrained what should have come from a cache: one line for the command line."""


@dataclass
class Stage:
    label: str
    seconds: float
    peak_rss_mb: float
    log: Path
    fitted: Counter = field(default_factory=Counter)  # model -> folds fitted in this stage
    cached: Counter = field(default_factory=Counter)  # model -> folds taken from a cache (own or another run's)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def bench_parts(text: str | None) -> set[str]:
    """BENCH=features,genapon,pipeline (commas or spaces; empty: all of them)."""
    parts = set(re.split(r"[\s,]+", (text or "").strip())) - {""}
    unknown = sorted(parts - set(PARTS))
    if unknown:
        raise ConfigError(f"BENCH={text}: unknown part {', '.join(unknown)}; expected some of {', '.join(PARTS)}")
    return parts or set(PARTS)


def pipeline_users(value) -> int:
    """PIPELINE_USERS= (the argument, else the environment, else the Rutube 2024 size)."""
    raw = value if value not in (None, "") else os.environ.get("PIPELINE_USERS") or DEFAULT_USERS
    try:
        users = int(str(raw).replace("_", "").replace(",", ""))
    except ValueError:
        raise ConfigError(f"PIPELINE_USERS={raw}: expected a whole number of users") from None
    if users < 100:
        raise ConfigError(f"PIPELINE_USERS={users}: expected at least 100 users (a K-fold CV needs some)")
    return users


def parse_fold_lines(text: str) -> tuple[Counter, Counter]:
    """(folds fitted, folds cached) per model, from a stage's log (pipeline/train.py's fold lines)."""
    fitted, cached = Counter(), Counter()
    for line in text.splitlines():
        match = FOLD_LINE.match(line.strip())
        if match:
            rest = match["rest"]
            (cached if rest == "cached" or rest.startswith("cached (from run") else fitted)[match["model"]] += 1
    return fitted, cached


def child_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    return env | CHILD_ENV | {"SOCDEM_HOME": str(home)}


def run_child(args: list[str], home: Path, log_path: Path, label: str) -> Stage:
    """`python -m socdem <args>` in a child process; its wall seconds and its own peak RSS (wait4)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as out:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "socdem", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_env(home),
            cwd=REPO,
        )
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:  # interrupted: never leave the stage running behind us
            child.kill()
            child.wait()
            raise
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = " | ".join(line.strip() for line in log_path.read_text(errors="replace").splitlines()[-3:])
        raise PipelineBenchError(f"bench pipeline: {label} failed (exit {child.returncode}): {tail} (log: {log_path})")
    fitted, cached = parse_fold_lines(log_path.read_text(errors="replace"))
    return Stage(label, round(seconds, 2), round(usage.ru_maxrss / 1024, 1), log_path, fitted, cached)  # KiB


def _experiment_file(exp_name: str) -> Path:
    return next(d / f"{exp_name}.toml" for d in experiment_dirs() if (d / f"{exp_name}.toml").exists())


def _contest(users: int, log) -> Path:
    """The default synthetic contest of `users` users, generated once (atomically) by `python -m socdem data`."""
    data_dir = paths().bench_data(users).resolve()
    truth = data_dir / "oracle" / "test_truth.csv"
    if not truth.exists():
        log(f"bench pipeline: generating a synthetic contest of {users:,} users in {data_dir} (once)")
        run_child(
            ["data", "--data", str(data_dir), "--users", str(users), "--seed", "0", "--family", "author_tastes"],
            paths().root.resolve(),
            data_dir.parent / f"data_{users}.log",
            "data",
        )
    if not truth.exists():
        raise PipelineBenchError(f"bench pipeline: {data_dir} holds no oracle/test_truth.csv; remove it and rerun")
    return data_dir


def _summary(data_dir: Path) -> dict:
    """The generator's summary of the contest (its events, labelled and test users)."""
    path = data_dir / "oracle" / "summary.json"
    if not path.exists():
        raise PipelineBenchError(f"bench pipeline: {data_dir} holds no oracle/summary.json; remove it and rerun")
    return json.loads(path.read_text())


def _expect(stage: Stage, models, fit: set, n_folds: int, cached: bool = False) -> None:
    """The models in `fit` fitted all their folds in this stage, the others none; with `cached`, those
    others went through their cache (all folds cached), as a `train` over a warm run does."""
    wrong = []
    for model in models:
        got_fit, got_cached = stage.fitted[model], stage.cached[model]
        if model in fit and got_fit != n_folds:
            wrong.append(f"{model} fitted {got_fit} of {n_folds} folds (expected all)")
        elif model not in fit and got_fit:
            wrong.append(f"{model} fitted {got_fit} of {n_folds} folds (expected none: its cache)")
        elif model not in fit and cached and got_cached != n_folds:
            wrong.append(f"{model}: {got_cached} of {n_folds} folds from the cache (expected all)")
    if wrong:
        raise PipelineBenchError(f"bench pipeline: {stage.label}: {'; '.join(wrong)} (log: {stage.log})")


def _scores(record_path: Path, sub_path: Path, data_dir: Path) -> dict:
    """The submission scored against the contest's truth beside the oracle, and the run's CV scores."""
    truth = data_dir / "oracle" / "test_truth.csv"
    record = json.loads(record_path.read_text())
    test = score_files(sub_path, truth)
    oracle = oracle_scores(truth.parent / "posterior.parquet", truth) or {}
    return {
        "test": {k: _round(test.get(k)) for k in SCORE_KEYS if k in test},
        "oracle": {k: _round(oracle.get(k)) for k in SCORE_KEYS if k in oracle},
        "cv_blend": {k: _round(record["cv"]["blend"].get(k)) for k in SCORE_KEYS if k in record["cv"]["blend"]},
        "cv_models": {
            name: {k: _round(s.get(k)) for k in ("roc_auc", "age_f1_weighted") if k in s}
            for name, s in record["cv"].items()
            if name != "blend"
        },
        "blend": record.get("blend_description"),
    }


def _round(value):
    return None if value is None else round(float(value), 4)


def run_pipeline_bench(
    exp_name: str = "default", users=None, overrides: list[str] | None = None, change: str = CHANGE, log=print
) -> dict:
    users = pipeline_users(users)
    overrides = list(dict.fromkeys(o.strip() for o in overrides or [] if o.strip()))  # SET= may come twice
    exp, changed = _experiments(exp_name, overrides, change)  # a wrong EXP or SET stops here, before any work
    data_dir = _contest(users, log)
    home = paths().artifacts.resolve() / "bench" / f"pipeline_{users}"
    shutil.rmtree(home, ignore_errors=True)  # cold: none of an earlier run's caches
    (home / "experiments").mkdir(parents=True)
    shutil.copyfile(_experiment_file(exp_name), home / "experiments" / f"{exp_name}.toml")
    load_start = os.getloadavg()[0]
    log(
        f"bench pipeline: {exp.run} ({', '.join(exp.models)}) on {users:,} users, cold in {home} "
        f"({os.cpu_count()} CPUs visible, load average {load_start:.1f})"
    )
    runner = StageRunner(exp_name, data_dir, home, log)
    summary = _summary(data_dir)
    n = exp.folds_for(int(summary["train_users"]))
    cold = _cold_stages(runner, exp, overrides, n)
    rescore_train, rescore_submit, reblend = _rescore_stages(runner, exp, [*overrides, change], change, n)

    scores = _scores(home / "submissions" / f"{exp.run}.json", home / "submissions" / f"{exp.run}.csv", data_dir)
    changed_scores = _scores(
        home / "submissions" / f"{changed.run}.json", home / "submissions" / f"{changed.run}.csv", data_dir
    )
    scores["rescored"] = {"run": changed.run, "change": change, "test": changed_scores["test"]}
    rescore_seconds = round(rescore_train.seconds + rescore_submit.seconds, 2)
    results = {
        "pipeline_users": users,
        "pipeline_events": summary.get("events"),
        "pipeline_experiment": exp.run,
        "pipeline_overrides": exp.overrides_text(),
        "pipeline_models": list(exp.models),
        "pipeline_folds": n,
        "pipeline_seconds": round(sum(s.seconds for s in cold.values()), 2),
        "pipeline_stage_seconds": _stage_seconds(home, exp, cold),
        "pipeline_peak_rss_mb": max(s.peak_rss_mb for s in cold.values()),
        "pipeline_stage_peak_rss_mb": {
            s.label: s.peak_rss_mb for s in (*cold.values(), rescore_train, rescore_submit, reblend)
        },
        "pipeline_scores": scores,
        "pipeline_change": change,
        "pipeline_rescore_catboost_seconds": rescore_seconds,
        "pipeline_rescore_catboost_stage_seconds": {"train": rescore_train.seconds, "submit": rescore_submit.seconds},
        "pipeline_rescore_retrained": sorted(rescore_train.fitted),
        "pipeline_reblend_seconds": reblend.seconds,
        "pipeline_load_average": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
        "pipeline_cpus": os.cpu_count(),
        "pipeline_threads": exp.threads,
    }
    results["pipeline_goals_met"] = _goals_met(results)
    merged = merge_results(results_path(), results)
    log(markdown_table(results, [*cold.values(), rescore_train, rescore_submit, reblend]))
    log(f"bench pipeline: results merged into {results_path()}")
    return merged


def _experiments(exp_name: str, overrides: list[str], change: str) -> tuple:
    """(the experiment, the experiment with the change): the change must re-score CHANGED_MODEL."""
    exp = load_experiment(exp_name, overrides=overrides or None)
    changed = load_experiment(exp_name, overrides=[*overrides, change])
    if CHANGED_MODEL not in exp.models:
        raise ConfigError(
            f"bench pipeline: experiment {exp.run} has no {CHANGED_MODEL} model to re-score "
            f"(its models: {', '.join(exp.models)}); add it, e.g. SET=\"models=[...,'{CHANGED_MODEL}']\""
        )
    if changed.run == exp.run:
        raise ConfigError(f"bench pipeline: the change {change} changes nothing in experiment {exp.run}")
    return exp, changed


@dataclass
class StageRunner:
    """Runs one `python -m socdem <stage>` of the bench's experiment on its contest, in its home, and logs it."""

    exp_name: str
    data_dir: Path
    home: Path
    log: Callable[[str], None]

    def __call__(self, name: str, label: str, sets: list[str], extra: str = "") -> Stage:
        args = [name, "--exp", self.exp_name, "--data", str(self.data_dir)] + [a for s in sets for a in ("--set", s)]
        done = run_child(args, self.home, self.home / "logs" / f"{label}.log", label)
        fits = ", ".join(f"{m} {n}" for m, n in sorted(done.fitted.items()))
        self.log(
            f"bench pipeline: {label} {done.seconds:.1f} s, peak RSS {done.peak_rss_mb:,.0f} MB"
            + (f"; folds fitted: {fits}" if fits else "; no fold fitted")
            + extra
        )
        return done


def _cold_stages(stage: StageRunner, exp, overrides: list[str], n: int) -> dict[str, Stage]:
    """features, train and submit from nothing: a cold feature build, every fold fitted, nothing refitted."""
    cold = {name: stage(name, name, overrides) for name in ("features", "train", "submit")}
    if "features: building" not in cold["features"].text():
        raise PipelineBenchError(f"bench pipeline: features: not a cold build (log: {cold['features'].log})")
    _expect(cold["train"], exp.models, set(exp.models), n)
    _expect(cold["submit"], exp.models, set(), n)
    return cold


def _rescore_stages(stage: StageRunner, exp, change_sets: list[str], change: str, n: int) -> tuple:
    """(train, submit, a second submit) of the changed run: only CHANGED_MODEL refitted, then re-blends."""
    rescore_train = stage("train", "rescore_train", change_sets, f" ({change})")
    _expect(rescore_train, exp.models, {CHANGED_MODEL}, n, cached=True)
    rescore_submit = stage("submit", "rescore_submit", change_sets)
    _expect(rescore_submit, exp.models, set(), n)
    reblend = stage("submit", "reblend", change_sets, " (re-blend only)")
    _expect(reblend, exp.models, set(), n)
    return rescore_train, rescore_submit, reblend


def _stage_seconds(home: Path, exp, cold: dict[str, Stage]) -> dict:
    """Each cold stage's seconds, and within them: the feature build's steps, each model's fold fits,
    the blend and the adversarial validation."""
    record = json.loads((home / "submissions" / f"{exp.run}.json").read_text())
    stage_seconds = {name: s.seconds for name, s in cold.items()}
    for meta in sorted((home / "artifacts" / "features").glob("*/meta.json")):  # the one cold build's steps
        steps = json.loads(meta.read_text()).get("seconds", {})
        stage_seconds |= {f"features.{'build' if k == 'total' else k}": v for k, v in steps.items()}
    fold_seconds = record.get("seconds", {})  # each model's fold fits (pipeline/train.py), and the blend's
    stage_seconds |= {f"train.{model}": fold_seconds[model] for model in exp.models if model in fold_seconds}
    if "blend" in fold_seconds:
        stage_seconds["submit.blend"] = fold_seconds["blend"]
    adversarial = ADVERSARIAL_LINE.search(cold["submit"].text())
    if adversarial:
        stage_seconds["submit.adversarial"] = float(adversarial["seconds"])
    return stage_seconds


def _goals_met(results: dict) -> dict:
    return {
        "seconds": results["pipeline_seconds"] <= GOALS["seconds"],
        "peak_rss_mb": results["pipeline_peak_rss_mb"] <= GOALS["peak_rss_mb"],
        "rescore_catboost_seconds": results["pipeline_rescore_catboost_seconds"] <= GOALS["rescore_catboost_seconds"],
        "reblend_seconds": results["pipeline_reblend_seconds"] <= GOALS["reblend_seconds"],
    }


def markdown_table(results: dict, stages: list[Stage]) -> str:
    """The stages (seconds, peak RSS, folds fitted), the goals and the scores, as Markdown."""
    goals = results["pipeline_goals_met"]
    lines = [
        f"### Pipeline bench: {results['pipeline_experiment']}, {results['pipeline_users']:,} users, "
        f"{results['pipeline_events'] or 0:,} events, load average {results['pipeline_load_average']['start']}"
        f"→{results['pipeline_load_average']['end']}",
        "",
        "| stage | seconds | peak RSS MB | folds fitted |",
        "|---|---:|---:|---|",
    ]
    for s in stages:
        fits = ", ".join(f"{m} {n}" for m, n in sorted(s.fitted.items())) or "none"
        lines.append(f"| {s.label} | {s.seconds:.1f} | {s.peak_rss_mb:,.0f} | {fits} |")
    lines.append(
        f"| **cold total** | **{results['pipeline_seconds']:.1f}** | **{results['pipeline_peak_rss_mb']:,.0f}** | |"
    )
    models = {k: v for k, v in results["pipeline_stage_seconds"].items() if "." in k}
    lines += ["", "Within the stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in models.items() if v is not None)]
    lines += [
        "",
        "| goal | value | met |",
        "|---|---:|---|",
        f"| cold run ≤ 15 min | {results['pipeline_seconds']:.0f} s | {_yes(goals['seconds'])} |",
        f"| peak RSS ≤ 8 GB | {results['pipeline_peak_rss_mb']:,.0f} MB | {_yes(goals['peak_rss_mb'])} |",
        f"| CatBoost change re-scored ≤ 5 min | {results['pipeline_rescore_catboost_seconds']:.0f} s | "
        f"{_yes(goals['rescore_catboost_seconds'])} |",
        f"| re-blend ≤ 1 min | {results['pipeline_reblend_seconds']:.0f} s | {_yes(goals['reblend_seconds'])} |",
    ]
    scores = results["pipeline_scores"]
    rows = [("test", scores["test"]), ("oracle", scores["oracle"]), ("CV blend", scores["cv_blend"])]
    rows.append((f"test after {scores['rescored']['change']}", scores["rescored"]["test"]))
    lines += ["", "| scores | " + " | ".join(SCORE_KEYS) + " |", "|---|" + "---:|" * len(SCORE_KEYS)]
    for name, values in rows:
        cells = ["" if values.get(k) is None else f"{values[k]:.4f}" for k in SCORE_KEYS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"
