"""`make bench SCALE=1`: how the cost grows with the size of the contest.

Four synthetic contests (author_tastes, seed 0) spanning ~10x in events: SCALE_EVENTS, in
millions of events (default 2,9,30,90; a user has ~22.4 events, so 90M events are ~4M users),
each generated once into artifacts/bench/data_<users>/ (in chunks of users above 500,000 users,
into a temp folder renamed into place). For each size, two child processes, each reporting its
own peak RSS (getrusage), so neither the generator nor the other step is counted:

  features  a cold `build_features` with the events streamed: DuckDB reads the parquet file into a
            compressed store on disk (spilling there beyond its memory limit), codes the events once
            and runs the aggregates and the user x item GROUP BYs; the SVDs run on those matrices
            (contest/scan.py, features/stored_events.py). Seconds from the load to the saved file.
  genapon   GENAPON's per-event layout (DuckDB, in chunks, memory-mapped) and one training epoch
            at the experiment's sizes over the labelled users, on the features just built. A whole
            CPU epoch at millions of users is too long for a bench, so the epoch is cut after
            SCALE_GENAPON_STEPS training steps (default 100; 0: the whole epoch) and its time is
            estimated as fit + mean step x the steps left (the inner-validation pass runs whole).
            Not run above SCALE_GENAPON_MAX_EVENTS million events (default 35): the users x
            features matrix and its standardisation outgrow a 24 GB machine before the events do.

Printed as a Markdown table (seconds and seconds per million events, peak RSS) and merged into
bench/results.json under "scale" (other keys kept).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from socdem.bench.run import _peak_rss_mb, _run_child, bench_data, merge_results, results_path
from socdem.config import load_experiment
from socdem.features.build import build_features, features_dir
from socdem.features.workspace import Workspace
from socdem.models.genapon.fit import GenaponClassifier
from socdem.models.genapon.runner import estimator_from_config, workspace_events

DEFAULT_EVENTS = (2, 9, 30, 90)  # millions of events
EVENTS_PER_USER = 22.4  # measured on author_tastes (docs/results.md): sizes are asked in events, generated in users
GENAPON_STEPS = 100
# GENAPON's users x features matrix and its standardisation hold several float32 copies of it, which outgrow
# the machine first (docs/results.md); beyond this many million events the epoch is not run (SCALE_GENAPON_MAX_EVENTS=)
GENAPON_MAX_EVENTS = 35
MIN_USERS = 200  # a contest needs both sexes in every fold


def scale_sizes(text: str | None = None) -> list[float]:
    """Millions of events, from SCALE_EVENTS ("2,9,30,90"); ascending, each positive."""
    text = os.environ.get("SCALE_EVENTS", "") if text is None else text
    if not text.strip():
        return list(DEFAULT_EVENTS)
    try:
        sizes = [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        sizes = []
    if not sizes or any(size <= 0 for size in sizes):
        raise ValueError(f"SCALE_EVENTS={text!r}: expected millions of events, e.g. 2,9,30,90")
    return sorted(sizes)


def users_for(millions: float) -> int:
    return max(MIN_USERS, round(millions * 1e6 / EVENTS_PER_USER))


def _log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _workspace(data_dir: str, exp_name: str) -> Workspace:
    return Workspace(Path(data_dir), load_experiment(exp_name), log=_log_to_stderr, stream=True)


def child_features(data_dir: str, exp_name: str) -> dict:
    """A cold feature build of a streamed contest."""
    ws = _workspace(data_dir, exp_name)
    _ = ws.data_fp  # the content hash is not part of the timed build
    shutil.rmtree(features_dir(ws), ignore_errors=True)
    started = time.perf_counter()
    features = build_features(ws)
    seconds = time.perf_counter() - started
    steps = json.loads((features_dir(ws) / "meta.json").read_text())["seconds"]
    return {
        "events": int(ws.contest.report["events"]),
        "users": int(features.shape[0]),
        "columns": int(features.shape[1]),
        "seconds": round(seconds, 2),
        "steps": steps,
        "peak_rss_mb": _peak_rss_mb(),
    }


class _TimedEpochs(GenaponClassifier):
    """GenaponClassifier that keeps the seconds and the steps of its training passes."""

    def _train_one_epoch(self, split, optimizer, scheduler, rng, epoch):
        started = time.perf_counter()
        loss = super()._train_one_epoch(split, optimizer, scheduler, rng, epoch)
        self.train_seconds_ = time.perf_counter() - started
        self.train_users_ = len(split.events)
        return loss


def child_genapon(data_dir: str, exp_name: str, steps: int | None = None) -> dict:
    """GENAPON's streamed layout and one (possibly cut) training epoch."""
    steps = int(os.environ.get("SCALE_GENAPON_STEPS", GENAPON_STEPS)) if steps is None else steps
    ws = _workspace(data_dir, exp_name)
    ws.log = lambda message: None  # the features are the cached ones
    _ = ws.features
    started = time.perf_counter()
    _ = ws.coded  # the streamed contest, loaded and coded as for the features (timed apart)
    load = time.perf_counter() - started
    started = time.perf_counter()
    events = workspace_events(ws, log=False)
    layout = time.perf_counter() - started
    exp = ws.exp
    params = estimator_from_config(exp, epochs=1, quiet=True).get_params()
    model = _TimedEpochs(**params)
    model.max_steps_per_epoch = steps or None
    targets = ws.contest.targets
    started = time.perf_counter()
    model.fit(events.select(targets["viewer_uid"].to_numpy()), targets[["female", "age_class"]].to_numpy())
    fit = time.perf_counter() - started
    per_epoch = -(-model.train_users_ // model.batch_size)  # the steps of a whole epoch
    done = min(steps, per_epoch) if steps else per_epoch
    step = model.train_seconds_ / max(done, 1)
    return {
        "events": int(ws.contest.report["events"]),
        "labelled_users": int(len(targets)),
        "load_seconds": round(load, 2),
        "layout_seconds": round(layout, 2),
        "fit_seconds": round(fit, 2),
        "steps": int(done),
        "steps_per_epoch": int(per_epoch),
        "step_seconds": round(step, 4),
        "epoch_seconds": round(fit + step * (per_epoch - done), 2),
        "epoch_estimated": bool(done < per_epoch),
        "peak_rss_mb": _peak_rss_mb(),
    }


CHILDREN = {"scale_features": child_features, "scale_genapon": child_genapon}


def _child(kind: str, data_dir: Path, exp_name: str, log) -> dict:
    """A measured child's figures, or {"error": ...} when it failed (the other sizes still run)."""
    try:
        return _run_child(kind, data_dir, exp_name)
    except RuntimeError as exc:
        log(f"scale: {exc}")
        return {"error": str(exc)}


def _per_million(seconds: float, events: int) -> float:
    return round(seconds / (events / 1e6), 2) if events else float("nan")


def table(rows: list[dict]) -> str:
    """The Markdown table of the measured sizes."""
    lines = [
        "| events | users | features s | s / M events | peak RSS MB | GENAPON layout s | epoch s | "
        "s / M events | peak RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        f, g = row["features"], row.get("genapon")
        if "error" in f:
            lines.append(f"| - | {row['users']:,} | failed | - | - | - | - | - | - |")
            continue
        if g and "error" in g:
            genapon = "failed | - | - | -"
        elif g:
            genapon = (
                f"{g['layout_seconds']:.1f} | {g['epoch_seconds']:.1f}{'*' if g['epoch_estimated'] else ''} | "
                f"{g['epoch_s_per_m_events']:.2f} | {g['peak_rss_mb']:,.0f}"
            )
        else:
            genapon = "- | - | - | -"
        lines.append(
            f"| {f['events']:,} | {f['users']:,} | {f['seconds']:.1f} | {f['s_per_m_events']:.2f} | "
            f"{f['peak_rss_mb']:,.0f} | {genapon} |"
        )
    if any(row.get("genapon", {}).get("epoch_estimated") for row in rows):
        lines.append("")
        lines.append("\\* estimated: fit with a cut epoch + mean training step x the steps left")
    return "\n".join(lines)


def growth(rows: list[dict], part: str, key: str) -> float | None:
    """Largest over smallest seconds per million events of one part across the sizes."""
    values = [row[part][key] for row in rows if key in row.get(part, {})]
    return round(max(values) / min(values), 2) if len(values) > 1 and min(values) > 0 else None


def run_scale(exp_name: str = "default", sizes: list[float] | None = None, log=print) -> dict:
    sizes = scale_sizes() if sizes is None else sizes
    steps = int(os.environ.get("SCALE_GENAPON_STEPS", GENAPON_STEPS))
    genapon_max = float(os.environ.get("SCALE_GENAPON_MAX_EVENTS", GENAPON_MAX_EVENTS))
    rows, results = [], {}
    for millions in sizes:
        users = users_for(millions)
        started = time.perf_counter()
        data_dir = bench_data(users, log=log)
        log(f"scale: contest of {users:,} users ready in {data_dir} ({time.perf_counter() - started:.0f} s)")
        load = round(os.getloadavg()[0], 2)
        log(f"scale: cold feature build, {users:,} users (load average {load})")
        row = {"millions": millions, "users": users, "features": _child("scale_features", data_dir, exp_name, log)}
        features = row["features"]
        if "error" not in features:
            features["s_per_m_events"] = _per_million(features["seconds"], features["events"])
            log(
                f"scale: features {features['events']:,} events in {features['seconds']:.1f} s "
                f"({features['s_per_m_events']:.2f} s per M events), peak RSS {features['peak_rss_mb']:,.0f} MB"
            )
        if millions > genapon_max:
            log(f"scale: GENAPON not run above {genapon_max:g}M events (SCALE_GENAPON_MAX_EVENTS=)")
        elif "error" not in features:  # GENAPON reads the features just built
            log(f"scale: GENAPON layout and one epoch ({steps or 'all'} steps), load average {os.getloadavg()[0]:.2f}")
            genapon = row["genapon"] = _child("scale_genapon", data_dir, exp_name, log)
            if "error" not in genapon:
                genapon["epoch_s_per_m_events"] = _per_million(genapon["epoch_seconds"], genapon["events"])
                genapon["layout_s_per_m_events"] = _per_million(genapon["layout_seconds"], genapon["events"])
                log(
                    f"scale: GENAPON layout {genapon['layout_seconds']:.1f} s, epoch {genapon['epoch_seconds']:.1f} s"
                    f"{' (estimated)' if genapon['epoch_estimated'] else ''}, "
                    f"peak RSS {genapon['peak_rss_mb']:,.0f} MB"
                )
        row["load_average"] = [load, round(os.getloadavg()[0], 2)]
        rows.append(row)
        results = {
            "sizes": rows,
            "features_growth": growth(rows, "features", "s_per_m_events"),
            "genapon_epoch_growth": growth(rows, "genapon", "epoch_s_per_m_events"),
            "genapon_steps": steps,
            "genapon_max_million_events": genapon_max,
            "cpus": os.cpu_count(),
            "threads": load_experiment(exp_name).threads,
            "table": table(rows),
        }
        merge_results(results_path(), {"scale": results})  # after every size: a later failure keeps these
    log(f"scale: results merged into {results_path()}")
    return results
