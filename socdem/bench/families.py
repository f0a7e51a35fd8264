"""`python -m socdem.bench.families`: the experiment on every synthetic family beside its oracle.

Per family: each model's and the blend's out-of-fold ROC-AUC and age weighted F1 on the saved folds,
the exact oracle on the same labelled users, and a plain baseline: TF-IDF of the video ids and a
logistic regression with C chosen by 5-fold CV from 0.3 to 30 (what a competitor writes first).
Contests are generated once under artifacts/bench/families/<family>_<users>/ (50,000 users; reallike
its own 1,000), each with its own SOCDEM_HOME beside it; results go to bench/families.json and a Markdown table.

    python -m socdem.bench.families [--exp default] [--set "linear.block_weighting=false"] [--label before]
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
from socdem.paths import paths
from socdem.pipeline.blend import blend_experiment
from socdem.pipeline.folds import load_or_make_folds
from socdem.schema import AGE_COLUMNS
from socdem.synthetic import FAMILIES

PLAIN_CS = [0.3, 1.0, 3.0, 10.0, 30.0]
PLAIN_FOLDS = 5


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


def plain_baseline(ws: Workspace, uids, y, age) -> dict:
    """TF-IDF of video ids -> logistic regression, C by 5-fold CV, out of fold on the saved folds."""
    folds = load_or_make_folds(ws).set_index("viewer_uid").loc[uids, "fold"].to_numpy()
    counts, _ = ws.interactions.matrix("rutube_video_id")
    X = TfidfTransformer().fit_transform(counts)[ws.interactions.rows(uids)]
    female, ages = np.zeros(len(uids)), np.zeros((len(uids), len(AGE_COLUMNS)))
    with threadpool_limits(ws.exp.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in np.unique(folds):
            train, valid = folds != k, folds == k
            for target, out in ((y, female), (age, ages)):
                model = LogisticRegressionCV(Cs=PLAIN_CS, cv=PLAIN_FOLDS, scoring="neg_log_loss", max_iter=1000)
                proba = model.fit(X[train], target[train]).predict_proba(X[valid])
                if out is female:
                    out[valid] = proba[:, 1]
                else:
                    out[np.ix_(valid, model.classes_)] = proba
    frame = pd.DataFrame({"female_proba": female, **dict(zip(AGE_COLUMNS, ages.T))}, index=pd.Index(uids))
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


def markdown(results: dict) -> str:
    lines = []
    for family, result in results.items():
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m socdem.bench.families", description=__doc__.splitlines()[0])
    parser.add_argument("--exp", default="default")
    parser.add_argument("--set", default="", help="overrides, as SET= (e.g. 'linear.block_weighting=false')")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--label", default="", help="a name for this variant in bench/families.json")
    parser.add_argument("--users", type=int, default=None, help="default: each family's own size")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    families = args.families.split(",")
    results = {family: run_family(family, args.exp, args.set, log, args.users) for family in families}
    path = paths().root / "bench" / "families.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[args.label or args.set or args.exp] = results
    write_json_atomic(path, saved)
    print(markdown(results))


if __name__ == "__main__":
    main()
