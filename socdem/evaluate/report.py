"""`make report`: out-of-fold plots and a summary in reports/<EXP>/.

ROC and precision-recall curves of every model and the blend (the blend's
out-of-fold predictions are its nested-CV ones), a calibration curve,
CatBoost's top-30 feature importances (averaged over the fold models), the
age confusion matrix of the blend, the leaderboard of this data over time and
against the public score (leaderboard_plots.py), and summary.md linking them
with the scores (beside the Bayes oracle on a synthetic contest).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_auc_score, roc_curve

from socdem.evaluate.leaderboard_plots import leaderboard_plots
from socdem.io import atomic_path, write_text_atomic
from socdem.metrics import best_f1_threshold
from socdem.pipeline.blend import blend_experiment, informative
from socdem.pipeline.submit import blend_scores, describe, sex_threshold
from socdem.pipeline.train import model_dir
from socdem.schema import AGE_COLUMNS

if TYPE_CHECKING:
    from socdem.features.workspace import Workspace

matplotlib.use("Agg")  # files only, no display: set before the first figure

TOP_FEATURES = 30


def _save(fig, path: Path) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path.name


def _female_curves(frames: dict, n_folds: int) -> dict:
    """P(female) of each model that ranks users (a constant per fold, like top_class, draws no curve)."""
    return {
        name: f["female_proba"].to_numpy()
        for name, f in frames.items()
        if "female_proba" in f and informative(f["female_proba"].to_numpy(), n_folds)
    }


def _style(name: str) -> dict:
    return {"lw": 2.0, "ls": "--", "c": "black", "zorder": 5} if name == "blend" else {"lw": 1.2}


def plot_roc(probas: dict, y, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(6, 5.5))
    for name, p in probas.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, **_style(name), label=f"{name} (AUC {roc_auc_score(y, p):.4f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate (female)", title="ROC, out of fold")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_pr(probas: dict, y, thresholds: dict, submitted: float, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(6, 5.5))
    for name, p in probas.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, **_style(name), label=name)
    if "blend" in probas:
        p = probas["blend"]
        marks = {f"F1-best {thresholds['f1']:.3f}": thresholds["f1"], f"submitted {submitted:.3f}": submitted}
        for (label, t), marker in zip(marks.items(), ("o", "s")):
            pred = p >= t
            tp = (pred & (y == 1)).sum()
            precision, recall = tp / max(pred.sum(), 1), tp / max((y == 1).sum(), 1)
            f1 = 2 * precision * recall / max(precision + recall, 1e-12)
            ax.plot(
                recall, precision, marker, ms=10, mfc="none", mew=2, zorder=6, label=f"blend at {label} (F1 {f1:.4f})"
            )
    ax.set(xlabel="recall (female)", ylabel="precision", title="Precision-recall, out of fold", ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, path)


def plot_calibration(probas: dict, y, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(6, 5.5))
    for name, p in probas.items():
        observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
        ax.plot(predicted, observed, marker=".", **_style(name), label=name)
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="predicted P(female), decile mean", ylabel="observed share female", title="Calibration, out of fold")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_age_confusion(y_age, pred, path: Path) -> str:
    cm = confusion_matrix(y_age, pred, labels=list(range(len(AGE_COLUMNS))))
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i, j in np.ndindex(cm.shape):
        ax.text(
            j,
            i,
            f"{share[i, j]:.2f}\n{cm[i, j]}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if share[i, j] > 0.6 else "black",
        )
    ax.set(
        xlabel="predicted age class",
        ylabel="true age class",
        xticks=range(4),
        yticks=range(4),
        title="Age class, blend out of fold (row shares)",
    )
    return _save(fig, path)


def _importance(estimator) -> pd.Series | None:
    """Feature importances of a fitted CatBoost-like estimator, or None."""
    values = None
    for get in (
        lambda e: e.feature_importances_,
        lambda e: e.get_feature_importance(),
        lambda e: e.model_.get_feature_importance(),
    ):
        try:
            values = np.asarray(get(estimator), dtype=np.float64)
            break
        except Exception:  # an estimator without importances raises anything: it is skipped
            continue
    if values is None or values.ndim != 1 or not len(values):
        return None
    names = getattr(estimator, "feature_names_in_", None)
    if names is None or len(names) != len(values):
        names = getattr(getattr(estimator, "model_", None), "feature_names_", None)
    if names is None or len(names) != len(values):
        names = [f"f{i}" for i in range(len(values))]
    total = values.sum()
    return pd.Series(values / total if total > 0 else values, index=[str(n) for n in names])


def catboost_importances(model_dir: Path) -> tuple[dict, str]:
    """target → mean importance over the fold models, and a note when absent."""
    paths = sorted(Path(model_dir).glob("fold*.pkl"))
    if not paths:
        return (
            {},
            f"no CatBoost fold models under artifacts/{model_dir.parent.parent.name}/models/ (catboost not "
            "trained for this experiment)",
        )
    per_target: dict = {}
    for path in paths:
        try:
            with open(path, "rb") as fh:
                fitted = pickle.load(fh)
        except Exception as exc:  # an unreadable fold model is reported in the summary, not raised
            return {}, f"could not read {path.name}: {type(exc).__name__}: {exc}"
        for target, est in getattr(fitted, "estimators_", {}).items():
            imp = _importance(est)
            if imp is not None:
                per_target.setdefault(target, []).append(imp)
    if not per_target:
        return {}, "the CatBoost fold models expose no feature importances"
    return {
        t: pd.concat(parts, axis=1).fillna(0).mean(axis=1).sort_values(ascending=False)
        for t, parts in per_target.items()
    }, ""


def plot_importance(importances: dict, path: Path) -> str:
    fig, axes = plt.subplots(1, len(importances), figsize=(6.5 * len(importances), 8), squeeze=False)
    for ax, (target, imp) in zip(axes[0], importances.items()):
        top = imp.head(TOP_FEATURES)[::-1]
        ax.barh(range(len(top)), top.to_numpy())
        ax.set_yticks(range(len(top)), top.index, fontsize=7)
        ax.set(xlabel="share of importance (mean over folds)", title=f"CatBoost {target}: top {len(top)} features")
    fig.tight_layout()
    return _save(fig, path)


def oracle_on_labelled(data_dir: Path, uids, y_female) -> dict | None:
    path = Path(data_dir) / "oracle" / "posterior.parquet"
    if not path.exists():
        return None
    p = pd.read_parquet(path).set_index("viewer_uid").loc[uids, "female_proba"].to_numpy()
    return {"roc_auc": float(roc_auc_score(y_female, p)), "f1": best_f1_threshold(y_female, p)[1]}


def _scores_table(cv: dict) -> str:
    keys = [
        k for k in ("roc_auc", "f1", "accuracy", "age_f1_weighted", "rutube2024") if any(k in s for s in cv.values())
    ]
    lines = ["| model | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for name, scores in cv.items():
        cells = [f"{scores[k]:.4f}" if isinstance(scores.get(k), float) else "" for k in keys]
        lines.append(f"| {'**blend**' if name == 'blend' else name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(ws: Workspace) -> dict:
    out = ws.paths.report(ws.exp.run)
    results, result = blend_experiment(ws)
    cv = {name: scores for name, (_, _, scores) in results.items()}
    cv["blend"] = blend_scores(ws, result)
    uids = result.oof.index.to_numpy()
    truth = ws.contest.targets.set_index("viewer_uid").loc[uids]
    frames = {name: oof.loc[uids] for name, (oof, _, _) in results.items()} | {"blend": result.oof}
    plots, notes = _prediction_plots(ws, result, frames, truth, out)
    oracle = oracle_on_labelled(ws.data_dir, uids, truth["female"].to_numpy()) if "sex" in result.summary else None
    lines = _summary_lines(ws, result, cv, len(uids), oracle)
    board, board_notes = leaderboard_plots(ws.paths.leaderboard, ws.data_fp, out)
    plots |= board
    notes += board_notes
    if (out / "ablation.md").exists():
        lines += ["What each part is worth: [ablation.md](ablation.md) (`make ablate`).", ""]
    lines += [f"## {title}\n\n![{title}]({name})\n" for title, name in plots.items()]
    lines += notes
    write_text_atomic(out / "summary.md", "\n".join(lines).rstrip() + "\n")
    ws.log(f"report: {out / 'summary.md'} and {len(plots)} plot(s)")
    return {"summary": out / "summary.md", "plots": [out / name for name in plots.values()], "notes": notes}


def _prediction_plots(ws: Workspace, result, frames: dict, truth: pd.DataFrame, out: Path) -> tuple[dict, list]:
    """(title -> PNG name, notes): the sex curves of every model and the blend, CatBoost's importances
    and the blend's age confusion matrix, each for the targets the contest has."""
    plots, notes = {}, []
    if "sex" in result.summary:
        y = truth["female"].to_numpy()
        probas = _female_curves(frames, ws.n_folds)
        thresholds = result.thresholds
        submitted = sex_threshold(ws.exp, thresholds)
        plots["ROC curves"] = plot_roc(probas, y, out / "roc.png")
        plots["Precision-recall (blend thresholds marked)"] = plot_pr(probas, y, thresholds, submitted, out / "pr.png")
        plots["Calibration"] = plot_calibration(probas, y, out / "calibration.png")
    importances, note = catboost_importances(model_dir(ws, "catboost"))
    if importances:
        plots["CatBoost feature importances"] = plot_importance(importances, out / "importance.png")
    else:
        notes.append(f"CatBoost importances: skipped ({note}).")
    if "age_class" in result.summary:
        pred = np.argmax(result.oof[AGE_COLUMNS].to_numpy(), axis=1)
        plots["Age confusion matrix (blend)"] = plot_age_confusion(
            truth["age_class"].to_numpy(), pred, out / "age_confusion.png"
        )
    return plots, notes


def _summary_lines(ws: Workspace, result, cv: dict, n_users: int, oracle: dict | None) -> list[str]:
    """summary.md up to the plots: the run, the scores table, the blend's thresholds and age biases,
    and the Bayes oracle beside the blend (synthetic contests)."""
    lines = [
        f"# Report: experiment `{ws.exp.name}`"
        + (f", run `{ws.exp.run}` ({ws.exp.overrides_text()})" if ws.exp.overrides else ""),
        "",
        f"Data fingerprint `{ws.data_fp}`, {n_users:,} labelled users, {ws.n_folds} folds. "
        "All scores are out of fold (the blend's: nested CV over the models' out-of-fold predictions).",
        "",
        f"Blend: {describe(result.summary)}.",
        "",
        _scores_table(cv),
        "",
    ]
    if "sex" in result.summary:
        info, thresholds = result.summary["sex"], result.thresholds
        lines += [
            f"Sex thresholds (chosen on the blend's out-of-fold predictions): F1-best {thresholds['f1']:.4f}, "
            f"accuracy-best {thresholds['accuracy']:.4f}; the submission uses {sex_threshold(ws.exp, thresholds):.4f}. "
            f"F1 with each fold's threshold chosen on the other folds: {info['f1_nested_threshold']:.4f}.",
            "",
        ]
    if "age_class" in result.summary:
        bias = result.summary["age_class"]["bias"]
        lines += [
            f"Age biases {bias['values']} on the test users, {bias['oof_values']} out of fold (each for the "
            "weighted F1 its users' probabilities expect): "
            f"{'kept' if bias['kept'] else 'not kept'} "
            f"(nested weighted F1 {bias['nested_f1_without']:.4f} without, {bias['nested_f1_with']:.4f} with).",
            "",
        ]
    if oracle:
        blend_auc = cv["blend"]["roc_auc"]
        lines += [
            f"Bayes oracle on the same labelled users: ROC-AUC {oracle['roc_auc']:.4f} (blend "
            f"{blend_auc - oracle['roc_auc']:+.4f}), "
            f"best F1 {oracle['f1']:.4f} (blend {cv['blend']['f1'] - oracle['f1']:+.4f}).",
            "",
        ]
    return lines
