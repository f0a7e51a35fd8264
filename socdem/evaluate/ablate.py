"""`make ablate`: what each part of a run is worth. The run is compared (evaluate/compare.py)
with itself minus one part at a time: each [features] family switched off (where the data has
it and a model of the run uses it) and each model left out of the blend. Each variant is a run
with one more override, so what is cached is reused (a model whose inputs a variant does not
change is taken from the full run), and `retrain` (MODELS=) limits which models are retrained
without a feature family: the others keep the full run's predictions.

The table of metric changes (variant − full run, with 95% intervals), sorted by effect, most
harmful removal first, goes to reports/<RUN>/ablation.md and ablation.json.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from socdem.config import load_experiment
from socdem.evaluate.compare import compare_runs, metrics_of, run_oof, sibling_workspace
from socdem.features.user_features import DEVICE_COLUMNS
from socdem.io import write_json_atomic, write_text_atomic
from socdem.models.registry import get_runner
from socdem.pipeline.train import cache_key, training_seconds
from socdem.schema import PRIMARY_METRIC

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

FAMILIES = (
    *("activity", "watchtime", "time", "device", "category", "embeddings"),
    *("target_encoding", "video_counts", "linear_logits"),
)


def family_in_data(ws: Workspace, family: str) -> bool:
    """Whether the data has what a feature family is built from."""
    if family == "video_counts":
        return ws.contest.video_counts is not None
    if family == "device":
        events = ws.contest.events
        return any(c in events and events[c].notna().any() for c in DEVICE_COLUMNS)
    if family == "embeddings":
        return ws.exp.features.svd_author_dims > 0 or ws.exp.features.svd_video_dims > 0
    return True


def variants(ws: Workspace) -> list[tuple[str, str]]:
    """(name, extra overrides) of every ablation of the run: feature families, then models."""
    families = [f for f in FAMILIES if getattr(ws.exp.features, f) and family_in_data(ws, f)]
    out = [(f"features.{f}=false", f"features.{f}=false") for f in families]
    if len(ws.exp.models) > 1:
        for model in ws.exp.models:
            rest = ",".join(f"'{m}'" for m in ws.exp.models if m != model)
            out.append((f"without {model}", f"models=[{rest}]"))
    return out


def _uses(base, variant, models) -> list[str]:
    """The models whose cache key the variant changes: the ones it retrains."""
    return [m for m in models if cache_key(base, m, get_runner(m)) != cache_key(variant, m, get_runner(m))]


def ablate(ws: Workspace, retrain: list[str] | None = None, draws: int = 1000) -> dict:
    """Run every variant against the full run; write reports/<RUN>/ablation.md and .json."""
    full = run_oof(ws, ws.exp.run)
    ws.log(f"ablate: full run {ws.exp.run} ready ({full.seconds:.1f} s)")
    targets, metrics = ws.contest.targets, metrics_of(ws.exp.contest)
    rows = []
    for name, extra in variants(ws):
        started = time.perf_counter()
        overrides = " ".join(p for p in (ws.exp.overrides_text(), extra) if p)
        variant = sibling_workspace(ws, load_experiment(ws.exp.name, overrides=overrides))
        changed = _uses(ws, variant, variant.exp.models)
        if not changed and name.startswith("features."):
            ws.log(f"ablate: {name}: no model of the run uses it; skipped")
            continue
        pinned = [m for m in changed if retrain is not None and m not in retrain]
        sources = {m: ws for m in pinned}
        out_dir = ws.paths.experiment(ws.exp.run) / "ablation" / name.replace(" ", "_") if pinned else None
        ws.log(
            f"ablate: {name}: run {variant.exp.run}"
            + (f", {', '.join(pinned)} kept from the full run" if pinned else "")
        )
        result = compare_runs(full, run_oof(variant, name, sources, out_dir), targets, draws=draws)
        seconds = run_seconds(variant, sources)
        rows.append(
            {
                "variant": name,
                "run": variant.exp.run,
                "retrained": [m for m in changed if m not in pinned],
                "seconds": round(time.perf_counter() - started, 1),
                "fit_seconds": round(seconds, 1),
                "metrics": result,
            }
        )
    metric = PRIMARY_METRIC[ws.exp.contest]
    rows.sort(key=lambda r: r["metrics"][metric]["delta"])
    out = ws.paths.report(ws.exp.run)
    record = {
        "run": ws.exp.run,
        "experiment": ws.exp.name,
        "overrides": ws.exp.overrides,
        "data_fingerprint": ws.data_fp,
        "draws": draws,
        "ranked_by": metric,
        "variants": rows,
    }
    write_json_atomic(out / "ablation.json", record)
    text = ablation_markdown(ws, rows, metrics, draws)
    write_text_atomic(out / "ablation.md", text)
    ws.log(text)
    ws.log(f"ablate: {out / 'ablation.md'} and ablation.json")
    return {
        "json": {
            r["variant"]: {m: {k: r["metrics"][m][k] for k in ("delta", "low", "high", "p_b_better")} for m in metrics}
            for r in rows
        },
        "path": out / "ablation.md",
    }


def run_seconds(ws: Workspace, sources: dict) -> float:
    """What the variant costs from scratch: its models' fold fits (kept ones cost nothing)."""
    return sum(training_seconds(ws, m) for m in ws.exp.models if m not in sources)


def ablation_markdown(ws: Workspace, rows: list[dict], metrics: list[str], draws: int) -> str:
    lines = [
        f"# Ablation: run `{ws.exp.run}`" + (f" ({ws.exp.overrides_text()})" if ws.exp.overrides else ""),
        "",
        f"Data `{Path(ws.data_dir).name}` ({len(ws.contest.targets):,} labelled users, fingerprint {ws.data_fp[:8]}). "
        f"Each row: the run without one part, minus the full run, on the blends' out-of-fold predictions, "
        f"with a 95% interval from {draws} paired bootstrap draws over users; sorted by the change of "
        f"{PRIMARY_METRIC[ws.exp.contest]}, the most harmful removal first (a negative change: the part helps).",
        "",
        "| variant | " + " | ".join(metrics) + " | P(better without) | retrained | time |",
        "|---|" + "---:|" * len(metrics) + "---:|---|---:|",
    ]
    metric = PRIMARY_METRIC[ws.exp.contest]
    for r in rows:
        cells = [
            f"{r['metrics'][m]['delta']:+.4f} [{r['metrics'][m]['low']:+.4f}, {r['metrics'][m]['high']:+.4f}]"
            for m in metrics
        ]
        retrained = ", ".join(r["retrained"]) or "(none: blend only)"
        lines.append(
            f"| {r['variant']} | " + " | ".join(cells) + f" | {r['metrics'][metric]['p_b_better']:.3f} | {retrained} | "
            f"{r['seconds']:.0f} s (fits {r['fit_seconds']:.0f} s) |"
        )
    return "\n".join(lines) + "\n"
