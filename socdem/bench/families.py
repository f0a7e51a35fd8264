"""`python -m socdem.bench.families`: the experiment on every synthetic family beside its oracle, and on
real users' histories beside a plain baseline.

Per synthetic family: each model's and the blend's out-of-fold ROC-AUC and age weighted F1 on the saved
folds, the exact oracle on the same labelled users, and a plain baseline: TF-IDF of the video ids and a
logistic regression with C chosen by 5-fold CV from 0.3 to 30 (what a competitor writes first).
Contests are generated once under artifacts/bench/families/<family>_<users>/ (50,000 users; reallike
its own 1,000), each with its own SOCDEM_HOME beside it.

Per real data set (socdem/real/): SPLITS random splits into labelled and test users (the split's seed),
the whole experiment on each, every model, the blend and the plain baseline (fitted on all labelled users)
scored on the split's test users, and each one's difference to the plain baseline, paired by split, as a
mean with its standard error over the splits.

Results go to bench/families.json and a Markdown table.

    python -m socdem.bench.families [--exp default] [--set "linear.block_weighting=false"] [--label before]
        [--families author_tastes,movielens-100k] [--splits 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import f1_score, roc_auc_score
from threadpoolctl import threadpool_limits

from socdem.config import load_experiment
from socdem.contest.checks import find_table
from socdem.features.workspace import Workspace
from socdem.io import write_json_atomic
from socdem.models.linear.estimator import RIDGE_ONLY
from socdem.paths import paths
from socdem.pipeline.blend import blend_experiment
from socdem.pipeline.folds import load_or_make_folds
from socdem.real import SOURCES
from socdem.schema import AGE_COLUMNS
from socdem.synthetic import FAMILIES

PLAIN_CS = [0.3, 1.0, 3.0, 10.0, 30.0]
PLAIN_FOLDS = 5
SPLITS = 10  # random splits of a real data set: on a few hundred test users, five leave age differences unresolved


def family_data(family: str, log, users: int | None = None) -> Path:
    generator, default_users = FAMILIES[family]
    users = users or default_users
    out = paths().artifacts / "bench" / "families" / f"{family}_{users}" / "data"
    if find_table(out, "train_events") is None:
        log(f"families: generating {family} ({users:,} users) in {out}")
        generator(out, users=users, seed=0, progress=False)
    return out


def scores(frame: pd.DataFrame, uids, y, age) -> dict:
    frame = frame.loc[uids]
    return {
        "roc_auc": round(float(roc_auc_score(y, frame["female_proba"])), 4),
        "age_f1_weighted": round(float(f1_score(age, frame[AGE_COLUMNS].to_numpy().argmax(1), average="weighted")), 4),
    }


def plain_fit_predict(X_train, y: np.ndarray, age: np.ndarray, X_pred, threads: int) -> pd.DataFrame:
    """The plain baseline fitted on (X_train, labels), as female_proba and age_p0..3 of the X_pred rows."""
    female, ages = np.zeros(X_pred.shape[0]), np.zeros((X_pred.shape[0], len(AGE_COLUMNS)))
    with threadpool_limits(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for target, out in ((y, female), (age, ages)):
            model = LogisticRegressionCV(
                Cs=PLAIN_CS, cv=PLAIN_FOLDS, scoring="neg_log_loss", max_iter=1000, **RIDGE_ONLY
            )
            proba = model.fit(X_train, target).predict_proba(X_pred)
            if out is female:
                out[:] = proba[:, 1]
            else:
                out[:, model.classes_] = proba
    return pd.DataFrame({"female_proba": female, **dict(zip(AGE_COLUMNS, ages.T))})


def video_tfidf(ws: Workspace):
    """TF-IDF of each known user's video ids (label-free: idf over every user), rows by interactions.rows."""
    counts, _ = ws.interactions.matrix("rutube_video_id")
    return TfidfTransformer().fit_transform(counts)


def plain_baseline(ws: Workspace, uids, y, age) -> dict:
    """TF-IDF of video ids -> logistic regression, C by 5-fold CV, out of fold on the saved folds."""
    folds = load_or_make_folds(ws).set_index("viewer_uid").loc[uids, "fold"].to_numpy()
    X = video_tfidf(ws)[ws.interactions.rows(uids)]
    frame = pd.DataFrame(index=pd.Index(uids), columns=["female_proba", *AGE_COLUMNS], dtype=np.float64)
    for k in np.unique(folds):
        train, valid = folds != k, folds == k
        predicted = plain_fit_predict(X[train], y[train], age[train], X[valid], ws.exp.threads)
        frame.iloc[np.flatnonzero(valid)] = predicted.to_numpy()
    return scores(frame, uids, y, age)


def run_family(family: str, exp_name: str, overrides: str, log, users: int | None = None) -> dict:
    data = family_data(family, log, users)
    exp = load_experiment(exp_name, overrides=overrides or None)
    ws = Workspace(data, exp, root=data.parent / "home", log=log)
    results, blended = blend_experiment(ws)
    targets = ws.contest.targets.set_index("viewer_uid")
    uids = blended.oof.index.to_numpy()
    y, age = targets.loc[uids, "female"].to_numpy(), targets.loc[uids, "age_class"].to_numpy()
    table = {name: scores(oof, uids, y, age) for name, (oof, _, _) in results.items()}
    table["blend"] = scores(blended.oof, uids, y, age)
    table["oracle"] = scores(
        pd.read_parquet(data / "oracle" / "posterior.parquet").set_index("viewer_uid"), uids, y, age
    )
    table["plain_tfidf_lr"] = plain_baseline(ws, uids, y, age)
    chosen = {t: f"{info['chosen']}({'+'.join(info['inputs'])})" for t, info in blended.summary.items()}
    return {"labelled_users": int(len(uids)), "run": exp.run, "scores": table, "blend": chosen}


def real_data(source: str, split: int, log) -> Path:
    out = paths().artifacts / "bench" / "families" / f"{source}_split{split}" / "data"
    if find_table(out, "train_events") is None:
        log(f"families: writing {source} split {split} in {out}")
        SOURCES[source](out, seed=split, cache_dir=paths().wheels, log=log)
    return out


def run_split(source: str, split: int, exp_name: str, overrides: str, log) -> dict:
    """Test-user scores of every model, the blend and the plain baseline on one split of a real data set."""
    data = real_data(source, split, log)
    exp = load_experiment(exp_name, overrides=overrides or None)
    ws = Workspace(data, exp, root=data.parent / "home", log=log)
    results, blended = blend_experiment(ws)
    truth = pd.read_csv(data / "truth" / "test_truth.csv").set_index("viewer_uid")
    uids = truth.index.to_numpy()
    y, age = (truth.loc[uids, "sex"] == "female").to_numpy(np.int64), truth.loc[uids, "age_class"].to_numpy()
    table = {name: scores(test, uids, y, age) for name, (_, test, _) in results.items()}
    table["blend"] = scores(blended.test, uids, y, age)
    labelled = ws.contest.targets
    X, rows = video_tfidf(ws), ws.interactions.rows
    plain = plain_fit_predict(
        X[rows(labelled["viewer_uid"])], labelled["female"].to_numpy(), labelled["age_class"].to_numpy(),
        X[rows(uids)], ws.exp.threads,
    ).set_index(pd.Index(uids))  # fmt: skip
    table["plain_tfidf_lr"] = scores(plain, uids, y, age)
    return table


def paired_to_plain(splits: list[dict]) -> dict:
    """Per model and metric: the mean over splits, and the mean difference to the plain baseline with its
    standard error (the splits' differences: paired, since both are scored on the same test users)."""
    out = {}
    for name in splits[0]:
        out[name] = {}
        for metric in ("roc_auc", "age_f1_weighted"):
            values = np.array([split[name][metric] for split in splits])
            diff = values - np.array([split["plain_tfidf_lr"][metric] for split in splits])
            se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
            out[name][metric] = round(float(values.mean()), 4)
            out[name][f"{metric}_vs_plain"] = round(float(diff.mean()), 4)
            out[name][f"{metric}_vs_plain_se"] = round(se, 4)
    return out


def run_real(source: str, exp_name: str, overrides: str, log, splits: int = SPLITS) -> dict:
    per_split = [run_split(source, k, exp_name, overrides, log) for k in range(splits)]
    exp = load_experiment(exp_name, overrides=overrides or None)
    return {"splits": splits, "run": exp.run, "scores": paired_to_plain(per_split), "per_split": per_split}


def markdown(results: dict) -> str:
    lines = []
    for family, result in results.items():
        if "splits" in result:
            lines += real_markdown(family, result)
            continue
        lines += [
            f"### {family} ({result['labelled_users']:,} labelled users)",
            "",
            "| | ROC-AUC | age wF1 |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {name} | {s['roc_auc']:.4f} | {s['age_f1_weighted']:.4f} |" for name, s in result["scores"].items()
        ]
        lines.append("")
    return "\n".join(lines)


def real_markdown(source: str, result: dict) -> list[str]:
    lines = [
        f"### {source} (test users of {result['splits']} random splits; real data)",
        "",
        "| | ROC-AUC | vs plain (± se) | age wF1 | vs plain (± se) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s in result["scores"].items():
        cells = [
            f"{s[m]:.4f} | {s[f'{m}_vs_plain']:+.4f} ± {s[f'{m}_vs_plain_se']:.4f}"
            for m in ("roc_auc", "age_f1_weighted")
        ]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return [*lines, ""]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m socdem.bench.families", description=__doc__.splitlines()[0])
    parser.add_argument("--exp", default="default")
    parser.add_argument("--set", default="", help="overrides, as SET= (e.g. 'linear.block_weighting=false')")
    parser.add_argument("--families", default=",".join([*FAMILIES, *SOURCES]), help="synthetic families, real sources")
    parser.add_argument("--splits", type=int, default=SPLITS, help="random splits of each real data set")
    parser.add_argument("--label", default="", help="a name for this variant in bench/families.json")
    parser.add_argument("--users", type=int, default=None, help="default: each family's own size")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    families = args.families.split(",")
    results = {
        family: run_real(family, args.exp, args.set, log, args.splits)
        if family in SOURCES
        else run_family(family, args.exp, args.set, log, args.users)
        for family in families
    }
    path = paths().root / "bench" / "families.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[args.label or args.set or args.exp] = results
    write_json_atomic(path, saved)
    print(markdown(results))


if __name__ == "__main__":
    main()
