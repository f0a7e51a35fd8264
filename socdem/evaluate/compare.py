"""`make compare`: did B help over A? Two runs on the same data and folds, each an experiment
with overrides, compared on their blends' nested out-of-fold predictions.

For every contest metric: B − A on all labelled users, a 95% interval from a paired bootstrap
over users (the same resampled users score both runs; seeded, vectorised), the share of draws
where B is strictly better, and B − A per saved fold. The thresholds (F1-best, accuracy-best)
are each run's own, chosen once on its out-of-fold predictions, not re-chosen per draw.
A run compared with itself is 0 everywhere, with a zero-width interval.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from socdem.config import ConfigError, Experiment, load_experiment
from socdem.features.workspace import Workspace
from socdem.metrics import best_accuracy_threshold, best_f1_threshold, frame_arrays, weighted_scores
from socdem.pipeline.blend import blend_oof

DRAWS = 1000
SEED = 0
CHUNK = 100  # draws per vectorised block: a block is CHUNK x users weights
SEX_METRICS = ["roc_auc", "f1"]
ALL_METRICS = ["roc_auc", "f1", "age_f1_weighted", "rutube2024"]


class CompareError(ValueError):
    """Runs that cannot be compared (other data, other users); one line for the user."""


@dataclass
class RunOOF:
    """One side of a comparison: a run's blended out-of-fold predictions and where they come from."""

    label: str  # as asked: "default genapon.epochs=1"
    run: str
    data_fp: str
    data_dir: str
    contest: str
    oof: pd.DataFrame  # female_proba (+ age_p0..3), fold; indexed by viewer_uid
    seconds: float = 0.0  # what producing it took in this call (training what was not cached)
    workspace: Workspace | None = None  # the run's, so its training can be logged (MLflow)


def metrics_of(contest: str) -> list[str]:
    return SEX_METRICS if contest == "jmlc" else ALL_METRICS


# ---- specs: "<exp> [key=value ...] [data=<dir>]" ----


def parse_spec(spec: str) -> tuple[str, str, str | None]:
    """(experiment, overrides text, data folder or None) of `default genapon.epochs=1 [data=dir]`."""
    words = spec.strip().split(None, 1)
    if not words or "=" in words[0]:
        raise ConfigError(f"compare: expected '<experiment> [key=value ...]', got {spec!r}")
    rest = words[1] if len(words) > 1 else ""
    data = re.search(r"(?:^|\s)data=(\S+)", rest)
    if data:
        rest = (rest[: data.start()] + " " + rest[data.end() :]).strip()
    return words[0], rest, data.group(1) if data else None


def sibling_workspace(ws: Workspace, exp: Experiment, data_dir: Path | None = None) -> Workspace:
    """A workspace for `exp` that shares `ws`'s loaded contest (same data, same layout): the
    label-free inputs are loaded once for every run of a comparison or an ablation."""
    data_dir = Path(data_dir or ws.data_dir)
    other = Workspace(data_dir=data_dir, exp=exp, root=ws.root, log=ws.log)
    if data_dir.resolve() == Path(ws.data_dir).resolve() and other.exp.contest == ws.exp.contest:
        ws.contest  # noqa: B018  (loaded here once, for both)
        for name in ("contest", "data_fp", "interactions"):
            if name in ws.__dict__:
                other.__dict__[name] = ws.__dict__[name]
    return other


def run_oof(ws: Workspace, label: str, sources: dict | None = None, out_dir: Path | None = None) -> RunOOF:
    """The run's blended out-of-fold predictions, training and blending what is not cached yet."""
    started = time.perf_counter()
    oof = blend_oof(ws, sources, out_dir)
    return RunOOF(
        label=label,
        run=ws.exp.run,
        data_fp=ws.data_fp,
        data_dir=str(ws.data_dir),
        contest=ws.exp.contest,
        oof=oof.sort_index(),
        seconds=time.perf_counter() - started,
        workspace=ws,
    )


# ---- the comparison ----


def _inputs(oof: pd.DataFrame, targets: pd.DataFrame, contest: str) -> dict:
    y, p, y_age, age_pred = frame_arrays(oof.drop(columns="fold"), targets)
    f1_threshold = best_f1_threshold(y, p)[0]
    accuracy_threshold = f1_threshold if contest == "jmlc" else best_accuracy_threshold(y, p)
    return {
        "y_female": y,
        "female_proba": p,
        "y_age": y_age,
        "age_pred": age_pred,
        "f1_threshold": f1_threshold,
        "accuracy_threshold": accuracy_threshold,
    }


def bootstrap_weights(n: int, draws: int, seed: int):
    """Blocks of bootstrap counts (draws x n, each row sums to n), seeded: the same for A and B."""
    rng = np.random.default_rng(seed)
    for start in range(0, draws, CHUNK):
        rows = min(CHUNK, draws - start)
        picks = rng.integers(0, n, size=(rows, n)) + (np.arange(rows) * n)[:, None]
        yield np.bincount(picks.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def same_data(a: tuple, b: tuple) -> None:
    """Refuse (label, data folder, fingerprint) pairs on different data."""
    if a[2] != b[2]:
        raise CompareError(
            f"compare: A ({a[0]}) is on {a[1]} (data {a[2][:8]}) and B ({b[0]}) on {b[1]} (data {b[2][:8]}): "
            "only runs on the same data can be compared"
        )


def compare_runs(a: RunOOF, b: RunOOF, targets: pd.DataFrame, draws: int = DRAWS, seed: int = SEED) -> dict:
    """metric -> {delta, low, high, p_b_better, a, b, fold_deltas} for B − A (see the module doc)."""
    same_data((a.label, a.data_dir, a.data_fp), (b.label, b.data_dir, b.data_fp))
    if a.contest != b.contest or not a.oof.index.equals(b.oof.index):
        raise CompareError(f"compare: A ({a.label}) and B ({b.label}) do not predict the same users and targets")
    metrics = metrics_of(a.contest)
    in_a, in_b = _inputs(a.oof, targets, a.contest), _inputs(b.oof, targets, b.contest)
    ones = np.ones((1, len(a.oof)))
    point_a, point_b = weighted_scores(ones, **in_a), weighted_scores(ones, **in_b)
    deltas = {m: [] for m in metrics}
    for weights in bootstrap_weights(len(a.oof), draws, seed):
        sa, sb = weighted_scores(weights, **in_a), weighted_scores(weights, **in_b)
        for m in metrics:
            deltas[m].append(sb[m] - sa[m])
    fold_a, fold_b = a.oof["fold"].to_numpy(), b.oof["fold"].to_numpy()
    per_fold = None
    if np.array_equal(fold_a, fold_b):
        indicators = (np.unique(fold_a)[:, None] == fold_a[None, :]).astype(np.float64)
        fa, fb = weighted_scores(indicators, **in_a), weighted_scores(indicators, **in_b)
        per_fold = {m: (fb[m] - fa[m]).tolist() for m in metrics}
    out = {}
    for m in metrics:
        d = np.concatenate(deltas[m])
        out[m] = {
            "delta": float(point_b[m][0] - point_a[m][0]),
            "low": float(np.percentile(d, 2.5)),
            "high": float(np.percentile(d, 97.5)),
            "p_b_better": float(np.mean(d > 0)),
            "a": float(point_a[m][0]),
            "b": float(point_b[m][0]),
            "fold_deltas": per_fold[m] if per_fold else None,
        }
    return out


def public_json(result: dict) -> dict:
    """What `make compare` prints on stdout: per metric delta, low, high and p_b_better."""
    return {m: {k: r[k] for k in ("delta", "low", "high", "p_b_better")} for m, r in result.items()}


def format_comparison(a: RunOOF, b: RunOOF, result: dict, users: int, draws: int) -> str:
    lines = [
        f"compare on {Path(a.data_dir).name} ({users:,} labelled users, data {a.data_fp[:8]}): "
        f"{draws} paired bootstrap draws over users, out-of-fold predictions of the blends",
        f"  A: {a.label:<40} run {a.run} ({a.seconds:.1f} s)",
        f"  B: {b.label:<40} run {b.run} ({b.seconds:.1f} s)",
        f"{'metric':<16}{'A':>9}{'B':>9}{'B − A':>10}  {'95% interval':<21}{'P(B better)':>12}  per fold B − A",
    ]
    for m, r in result.items():
        folds = " ".join(f"{d:+.4f}" for d in r["fold_deltas"]) if r["fold_deltas"] else "(other folds)"
        lines.append(
            f"{m:<16}{r['a']:>9.4f}{r['b']:>9.4f}{r['delta']:>+10.4f}  "
            f"[{r['low']:+.4f}, {r['high']:+.4f}]    {r['p_b_better']:>9.3f}  {folds}"
        )
    return "\n".join(lines)


def compare_specs(spec_a: str, spec_b: str, data_dir: Path, log=print, draws: int = DRAWS) -> tuple[dict, str]:
    """Build, train (what is not cached) and compare the runs of two specs; (result, table)."""
    a, b, result = compare_spec_runs(spec_a, spec_b, data_dir, log, draws)
    return result, format_comparison(a, b, result, len(a.oof), draws)


def compare_spec_runs(spec_a: str, spec_b: str, data_dir: Path, log=print, draws: int = DRAWS) -> tuple:
    """(A, B, result): both runs' RunOOF (with their workspaces) and the comparison."""
    sides = []
    for spec in (spec_a, spec_b):  # both specs are checked before anything is trained
        name, overrides, data = parse_spec(spec)
        sides.append((spec.strip(), load_experiment(name, overrides=overrides or None), Path(data or data_dir)))
    (label_a, exp_a, data_a), (label_b, exp_b, data_b) = sides
    ws_a = Workspace(data_dir=data_a, exp=exp_a, log=log)
    fp_b = ws_a.data_fp if data_b.resolve() == data_a.resolve() else Workspace(data_b, exp_b, log=log).data_fp
    same_data((label_a, str(data_a), ws_a.data_fp), (label_b, str(data_b), fp_b))
    a = run_oof(ws_a, label_a)
    b = run_oof(sibling_workspace(ws_a, exp_b, data_b), label_b)
    return a, b, compare_runs(a, b, ws_a.contest.targets, draws=draws)
