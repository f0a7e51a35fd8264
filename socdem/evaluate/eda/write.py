"""`make eda`: the contest at a glance, and whether the test users look like the
training users, in reports/eda/<data folder>-<data fingerprint>/ (PNG plots,
summary.md tying them together, eda.json with the figures).

It reads the contest and the cached label-free features (built if missing)
and trains only the adversarial classifier (features/adversarial.py, cached
too); never the experiment's models.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from socdem.evaluate.eda import plots, stats
from socdem.features.adversarial import (
    WARN_ROC_AUC,
    adversarial_oof,
    adversarial_validation,
    shift_warning,
)
from socdem.io import write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

DEVICE_TITLES = {"ua_device_type": "device type", "ua_os": "OS", "ua_client_name": "client"}
JSON_KEYS = (
    "data",
    "data_fingerprint",
    "layout",
    "overview",
    "events_per_user",
    "class_balance",
    "watch",
    "time",
    "categories_by_sex",
    "authors_by_sex",
    "devices",
    "regions",
    "data_quality",
    "adversarial_roc_auc",
    "adversarial_top_features",
    "adversarial_warning",
    "adversarial_note",
    "plots",
    "seconds",
)


def eda_dir(ws: Workspace) -> Path:
    return ws.paths.eda(Path(ws.data_dir).resolve().name, ws.data_fp)


def _plain(value):
    """A JSON-ready scalar: numpy scalars unwrapped, NaN as null (strict JSON has no NaN)."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value


def _records(table: pd.DataFrame, labels: dict | None = None) -> list[dict]:
    rows = []
    for item, row in table.iterrows():
        entry = {"item": _plain(item), "label": (labels or {}).get(item, str(item))}
        entry |= {k: _plain(v) for k, v in row.items()}
        rows.append(entry)
    return rows


def _leaning(ev, item: str) -> pd.DataFrame:
    table = stats.leaning(ev, item)
    table.attrs["min_viewers"] = stats.MIN_VIEWERS
    return table


@dataclass
class Glance:
    """The contest's figures the plots and eda.json are made of (evaluate/eda/stats.py)."""

    users: pd.DataFrame
    ev: pd.DataFrame
    overview: dict
    balance: pd.DataFrame
    profiles: dict
    categories: pd.DataFrame
    authors: pd.DataFrame
    author_labels: dict
    devices: dict
    regions: dict
    quality: dict


def write_eda(ws: Workspace) -> dict:
    started = time.perf_counter()
    out = eda_dir(ws)
    glance = contest_glance(ws.contest)
    adversarial = adversarial_validation(ws)
    warning = shift_warning(adversarial["adversarial_roc_auc"])
    figures = _figures(ws, glance, adversarial, out)
    report = _report(ws, glance, adversarial, warning, figures)
    report["seconds"] = round(time.perf_counter() - started, 3)
    write_json_atomic(out / "eda.json", report)
    summary_text = summary(report, figures, glance.categories, glance.authors, glance.author_labels)
    write_text_atomic(out / "summary.md", summary_text)
    if warning:
        ws.log(f"eda: WARNING: {warning}")
    ws.log(f"eda: {out / 'summary.md'}, eda.json and {len(figures)} plots ({report['seconds']:.1f} s)")
    return {
        "dir": out,
        "summary": out / "summary.md",
        "json": out / "eda.json",
        "plots": [out / p for p in figures.values()],
    }


def contest_glance(contest) -> Glance:
    users = stats.user_groups(contest)
    ev = stats.event_table(contest, users)
    overview = stats.overview(contest, users, ev)
    balance = stats.class_balance(contest.targets)
    profiles = stats.time_profiles(ev, has_age="age_class" in contest.targets)
    categories = _leaning(ev, "category")
    authors = _leaning(ev, "author_id")
    author_labels = {a: f"author {a} · {c}" for a, c in stats.author_categories(contest.videos, authors.index).items()}
    devices = {
        DEVICE_TITLES[c]: stats.value_shares(contest.events, ev["group"], c, stats.TOP_VALUES[c])
        for c in DEVICE_TITLES
        if contest.events[c].notna().any()  # JMLC has no device type
    }
    regions = {"region": stats.value_shares(contest.events, ev["group"], "region", stats.TOP_VALUES["region"])}
    quality = stats.data_quality(contest)
    return Glance(users, ev, overview, balance, profiles, categories, authors, author_labels, devices, regions, quality)


def _figures(ws: Workspace, g: Glance, adversarial: dict, out: Path) -> dict:
    """title -> PNG name, each plot written into `out`."""
    return {
        "Users and events": plots.plot_users(g.overview, out / "users.png"),
        "Events per user": plots.plot_events_per_user(g.users, out / "events_per_user.png"),
        "Class balance": plots.plot_class_balance(g.balance, out / "class_balance.png"),
        "Watch time and watch fraction": plots.plot_watch(g.ev, out / "watch.png"),
        "Local hour and weekday": plots.plot_time(g.profiles, out / "time.png"),
        "Categories by sex": plots.plot_leaning(g.categories, {}, "Categories", out / "categories_sex.png"),
        "Authors by sex": plots.plot_leaning(g.authors, g.author_labels, "Authors", out / "authors_sex.png"),
        "Devices": plots.plot_value_shares(g.devices, "Devices", out / "devices.png"),
        "Regions": plots.plot_value_shares(g.regions, "Top regions", out / "regions.png"),
        "Adversarial validation": plots.plot_adversarial(adversarial, adversarial_oof(ws), out / "adversarial.png"),
    }


def _report(ws: Workspace, g: Glance, adversarial: dict, warning: str | None, figures: dict) -> dict:
    """eda.json's figures (all but the seconds)."""
    return {
        "data": str(ws.data_dir),
        "data_fingerprint": ws.data_fp,
        "layout": ws.contest.layout,
        "overview": g.overview,
        "events_per_user": stats.events_per_user(g.users),
        "class_balance": {sex: {str(k): int(v) for k, v in row.items()} for sex, row in g.balance.iterrows()},
        "watch": stats.watch_summary(g.ev),
        "time": {
            unit: {by: {str(c): frame[c].round(5).tolist() for c in frame} for by, frame in per.items()}
            for unit, per in g.profiles.items()
        },
        "categories_by_sex": _records(g.categories),
        "authors_by_sex": _records(g.authors, g.author_labels),
        "min_viewers": stats.MIN_VIEWERS,
        "overall_female_share": g.categories.attrs.get("overall_female_share"),
        "devices": {k: _records(v) for k, v in g.devices.items()},
        "regions": _records(g.regions["region"]),
        "data_quality": g.quality,
        "adversarial_roc_auc": adversarial["adversarial_roc_auc"],
        "adversarial_top_features": adversarial["top_features"],
        "adversarial_warning": warning,
        "adversarial_note": adversarial.get("note"),  # why no feature is ranked, where none is
        "plots": sorted(figures.values()),
    }


def _quantiles(q: dict) -> str:
    if not q["users"]:
        return "none"
    return f"median {q['p50']:.0f}, mean {q['mean']:.1f}, 90th percentile {q['p90']:.0f}, max {q['max']:,}"


def _feature_means(top: dict) -> str:
    if top["labelled_mean"] is None or top["test_mean"] is None:
        return "categorical" if top.get("categorical") else "no values"
    return f"mean {top['labelled_mean']:.4g} labelled, {top['test_mean']:.4g} test"


def _lean_line(table: pd.DataFrame, side: str, labels: dict) -> str:
    rows = table[table["side"] == side].head(5)
    if rows.empty:
        return "none"
    return ", ".join(
        f"{labels.get(i, i)} ({r.female_share:.0%} female, {int(r.viewers):,} viewers)" for i, r in rows.iterrows()
    )


def summary(report: dict, figures: dict, categories, authors, author_labels) -> str:
    o, q, e = report["overview"], report["data_quality"], report["events_per_user"]
    auc = report["adversarial_roc_auc"]
    auc_text = "not computed" if auc is None else f"{auc:.3f}"
    lines = [
        f"# EDA: `{report['data']}`",
        "",
        f"Data fingerprint `{report['data_fingerprint']}`, layout {report['layout']}. "
        f"{o['labelled_users']:,} labelled users ({o['labelled_users_without_events']:,} without events), "
        f"{o['test_users']:,} test users ({o['test_users_without_events']:,} without events), "
        f"{o['events']:,} events, {o['videos']:,} videos, {o['authors']:,} authors, {o['categories']:,} categories.",
        "",
        f"**Adversarial validation ROC-AUC {auc_text}** (a classifier on the label-free user features, "
        f"5-fold out of fold, telling test from labelled users; 0.5 = they look alike).",
        "",
    ]
    if report["adversarial_warning"]:
        lines += [f"> **Warning:** {report['adversarial_warning']}.", ""]
    elif auc is not None:
        lines += [f"At or below {WARN_ROC_AUC}: the test users look like the labelled ones.", ""]
    top = report["adversarial_top_features"][:5]
    if top:
        lines += [
            "Features separating them most: " + ", ".join(f"`{t['feature']}` ({_feature_means(t)})" for t in top) + ".",
            "",
        ]
    elif report["adversarial_note"]:
        note = report["adversarial_note"]
        lines += [f"{note[:1].upper()}{note[1:]}.", ""]
    lines += [
        "## Data quality (the load report)",
        "",
        "| count | value |",
        "|---|---:|",
        *[f"| {k} | {v:,} |" for k, v in q.items()],
        "",
        f"Events per user: labelled {_quantiles(e['labelled'])}; test {_quantiles(e['test'])}.",
        "",
        f"Categories leaning female: {_lean_line(categories, 'female', {})}.",
        f"Categories leaning male: {_lean_line(categories, 'male', {})}.",
        f"Authors leaning female: {_lean_line(authors, 'female', author_labels)}.",
        f"Authors leaning male: {_lean_line(authors, 'male', author_labels)}.",
        f"(Only items with at least {report['min_viewers']} labelled viewers; overall female share "
        f"{report['overall_female_share']:.1%}.)",
        "",
    ]
    lines += [f"## {title}\n\n![{title}]({name})\n" for title, name in figures.items()]
    return "\n".join(lines).rstrip() + "\n"
