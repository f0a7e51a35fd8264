"""A fold task of the Airflow DAG (`socdem train --models M --folds K`): only that fold's files, which a later
`make train` finds cached and gathers."""

from __future__ import annotations

from socdem.__main__ import main
from socdem.config import load_experiment

ONE_MODEL = "models=['top_class']"


def test_a_fold_task_writes_its_fold_and_train_gathers_it(tiny_contest, socdem_home, capsys):
    args = ["--exp", "fast", "--data", str(tiny_contest), "--set", ONE_MODEL]
    out = socdem_home / "artifacts" / load_experiment("fast", overrides=ONE_MODEL).run / "models" / "top_class"
    assert main(["train", *args, "--models", "top_class", "--folds", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fold1.json", "fold1.parquet", "fold1.pkl"]
    inode = (out / "fold1.parquet").stat().st_ino
    assert main(["train", *args]) == 0
    assert (out / "fold1.parquet").stat().st_ino == inode  # cached, not trained again
    assert (out / "scores.json").exists() and (out / "fold2.json").exists()
    capsys.readouterr()
    assert main(["train", *args, "--models", "top_class", "--folds", "3"]) == 2  # fast has folds 0..2
    assert main(["train", *args, "--folds", "0"]) == 2  # a fold task names its model
    assert capsys.readouterr().err.count("error: --folds") == 2
