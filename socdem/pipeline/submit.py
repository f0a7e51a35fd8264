"""`make submit`: blend the models' out-of-fold predictions, choose the
threshold out of fold, write submissions/<EXP>.csv and .json. Every choice
(blend, weights, thresholds, age biases) is fitted on out-of-fold predictions
only (blend.py). The command line then appends the leaderboard log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from socdem.features.adversarial import adversarial_validation, shift_warning
from socdem.metrics import fold_scores, frame_scores, rutube2024_score, sex_scores
from socdem.models.registry import get_runner
from socdem.pipeline.blend import Blend, blend_key, timed_blend, write_blend
from socdem.pipeline.submission import FORMATS, ID_COLUMN, build_submission, write_submission
from socdem.pipeline.train import training_seconds
from socdem.schema import PRIMARY_METRIC

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace


def sex_threshold(exp, thresholds: dict) -> float:
    """F1-best for JMLC (scored by F1), accuracy-best for Rutube 2024 (scored
    by accuracy of sex); both come from the blended out-of-fold predictions."""
    return thresholds["f1"] if exp.contest == "jmlc" else thresholds["accuracy"]


def blend_scores(ws: Workspace, result: Blend) -> dict:
    """CV scores of the blend on its nested-CV out-of-fold predictions:
    `f1` at the F1-best threshold (as for every model), `accuracy` at the
    threshold the submission uses, age weighted F1 with the kept biases."""
    scores = frame_scores(result.oof.drop(columns="fold"), ws.contest.targets)
    if "sex" in result.summary:
        info = result.summary["sex"]
        threshold = sex_threshold(ws.exp, info["thresholds"])
        y = ws.contest.targets.set_index("viewer_uid").loc[result.oof.index, "female"].to_numpy()
        scores["accuracy"] = sex_scores(y, result.oof["female_proba"].to_numpy(), threshold)["accuracy"]
        scores["f1_nested_threshold"] = info["f1_nested_threshold"]
        scores["threshold"] = threshold
    if "age_f1_weighted" in scores and "accuracy" in scores:
        scores["rutube2024"] = rutube2024_score(scores["age_f1_weighted"], scores["accuracy"])
    return scores


def cv_fold_scores(ws: Workspace, results: dict, result: Blend, threshold: float) -> dict:
    """model (and "blend") → metric → one score per fold, at the thresholds of the pooled scores."""
    targets = ws.contest.targets
    out = {}
    for name, (oof, _, scores) in results.items():
        out[name] = fold_scores(oof.drop(columns="fold"), targets, oof["fold"], scores.get("f1_threshold", 0.5))
    f1_threshold = result.thresholds.get("f1", 0.5)
    out["blend"] = fold_scores(result.oof.drop(columns="fold"), targets, result.oof["fold"], f1_threshold, threshold)
    return out


def describe(summary: dict) -> str:
    """One short line for the leaderboard: the chosen blend per target."""
    return ";".join(
        f"{t}={info['chosen']}("
        f"{'+'.join(info['inputs']) if info['chosen'] != 'single' else next(iter(info['weights']))})"
        for t, info in summary.items()
    )


def submit(ws: Workspace, fmt: str | None = None) -> dict:
    """Write the submission and its record (submissions/<EXP>.json); return the record."""
    metric = PRIMARY_METRIC[ws.exp.contest]
    key = blend_key(ws)
    results, result, blend_seconds = timed_blend(ws)
    cv = {name: scores for name, (_, _, scores) in results.items()}
    best_single = max(cv, key=lambda name: cv[name].get(metric, float("-inf")))
    cv["blend"] = blend_scores(ws, result)
    thresholds = result.thresholds
    threshold = sex_threshold(ws.exp, thresholds) if thresholds else 0.5
    blend_dir = ws.paths.blend(ws.exp.run)

    fmt = fmt or ("jmlc" if ws.exp.contest == "jmlc" else "full")
    columns = FORMATS[fmt]
    sub = build_submission(result.test.loc[ws.contest.test_users], threshold, columns)
    csv_path = ws.paths.submission(ws.exp.run)
    record = {
        "experiment": ws.exp.name,
        "run": ws.exp.run,
        "overrides": ws.exp.overrides,
        "config": ws.exp.to_dict(),
        "data_fingerprint": ws.data_fp,
        "data_dir": str(ws.data_dir),
        "users": len(ws.contest.targets),
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "submitted": "blend",
        "best_single": best_single,
        "ranked_by": metric,
        "threshold": threshold,
        "thresholds": thresholds,
        "blend": result.summary,
        "format": fmt,
        "cv": cv,
        "cv_folds": cv_fold_scores(ws, results, result, threshold),
        "submission": str(csv_path),
        "blend_description": describe(result.summary),
        "data_warnings": ws.contest.warnings,
    }
    record["adversarial_roc_auc"] = adversarial_validation(ws)["adversarial_roc_auc"]  # cached beside the features
    if "catboost" in ws.exp.models:  # the parameters CatBoost trained with: defaults overridden by `make tune`'s best
        record["catboost_params"] = get_runner("catboost").params(ws)["catboost"]
    record["seconds"] = {name: training_seconds(ws, name) for name in results} | {"blend": round(blend_seconds, 2)}
    # everything is computed before either file is written, and the CSV goes into place last
    write_submission(
        csv_path,
        sub,
        ws.contest.test_users,
        columns,
        ID_COLUMN.get(fmt, "viewer_uid"),
        record=record,
        record_path=ws.paths.submission(ws.exp.run, ".json"),
    )
    write_blend(
        blend_dir, result, key, blend_seconds, {k: record[k] for k in ("blend", "thresholds", "threshold", "cv")}
    )
    gain = cv["blend"].get(metric, np.nan) - cv[best_single].get(metric, np.nan)
    ws.log(
        f"submit: {csv_path} from the blend ({describe(result.summary)}): CV {metric}={cv['blend'][metric]:.4f} "
        f"({gain:+.4f} vs {best_single}), sex threshold {threshold:.4f}"
    )
    if warning := shift_warning(record["adversarial_roc_auc"]):
        ws.log(f"submit: WARNING: {warning}")
    return record
