"""The DAG's shape and commands, checked without Airflow: a stub of `airflow.sdk` records the
tasks and edges the module declares. `make dag` runs it for real under Airflow 3."""

from __future__ import annotations

import importlib.util
import shlex
import sys
import types
from pathlib import Path

import pytest

from socdem.__main__ import parser
from socdem.config import load_experiment

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "socdem" / "dags" / "socdem_dag.py"
PARAMS = {"exp": "fast", "data": "artifacts/dag/raw", "users": 1500}


class Skip(Exception):
    pass


class Node:
    def __init__(self, graph, task_id, func, kind, options, upstream=(), mapped=None):
        self.graph, self.task_id, self.func, self.kind, self.options = graph, task_id, func, kind, options
        self.mapped = mapped
        graph.nodes[task_id] = self
        graph.edges |= {(u.task_id, task_id) for u in upstream}

    def __rshift__(self, other):
        self.graph.edges.add((self.task_id, other.task_id))
        return other


class Graph:
    def __init__(self, options):
        self.options, self.nodes, self.edges = options, {}, set()


def stub_sdk(graphs: list):
    def make_task(kind, options):
        def decorate(func):
            class Factory:
                def __call__(self, *args, **kwargs):
                    upstream = [a for a in (*args, *kwargs.values()) if isinstance(a, Node)]
                    return Node(graphs[-1], func.__name__, func, kind, options, upstream)

                def expand(self, **kwargs):
                    upstream = [a for a in kwargs.values() if isinstance(a, Node)]
                    return Node(graphs[-1], func.__name__, func, kind, options, upstream, mapped=kwargs)

                def expand_kwargs(self, arg):
                    upstream = [arg] if isinstance(arg, Node) else []
                    return Node(graphs[-1], func.__name__, func, kind, options, upstream, mapped={"kwargs": arg})

            return Factory()

        return decorate

    def task(func=None, **options):
        return make_task("python", options)(func) if func else make_task("python", options)

    task.bash = lambda **options: make_task("bash", options)

    def dag(**options):
        def decorate(func):
            def build():
                graphs.append(Graph(options))
                func()
                return graphs[-1]

            return build

        return decorate

    sdk = types.ModuleType("airflow.sdk")
    sdk.dag, sdk.task = dag, task
    sdk.Param = lambda default, **kw: {"default": default, **kw}
    exceptions = types.ModuleType("airflow.sdk.exceptions")
    exceptions.AirflowSkipException = Skip
    airflow = types.ModuleType("airflow")
    airflow.sdk = sdk
    sdk.exceptions = exceptions
    return {"airflow": airflow, "airflow.sdk": sdk, "airflow.sdk.exceptions": exceptions}


@pytest.fixture
def loaded(monkeypatch):
    graphs: list = []
    for name, module in stub_sdk(graphs).items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("socdem_dag_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert len(graphs) == 1, "the module must declare exactly one DAG"
    return module, graphs[0]


def command(node, *args, params=PARAMS):
    return shlex.split(node.func(*args, params=params))


def test_graph_is_data_features_plan_train_per_model_and_fold_submit_score(loaded):
    _, graph = loaded
    assert graph.options["dag_id"] == "socdem"
    assert set(graph.options["params"]) == {"exp", "data", "users"}
    assert set(graph.nodes) == {"data", "features", "plan", "train", "submit", "score"}
    assert graph.edges == {
        ("data", "features"),
        ("features", "plan"),
        ("plan", "train"),
        ("train", "submit"),
        ("submit", "score"),
    }
    train = graph.nodes["train"]
    assert train.mapped is not None and train.mapped["kwargs"] is graph.nodes["plan"]
    assert train.options["map_index_template"] == "{{ model }} fold {{ fold }}"


def test_plan_lists_every_model_and_fold_of_the_run(loaded, tiny_contest, socdem_home):
    _, graph = loaded
    tasks = graph.nodes["plan"].func(params={**PARAMS, "data": str(tiny_contest)})
    models = load_experiment("fast", REPO / "experiments").models
    assert tasks == [{"model": m, "fold": k} for m in models for k in range(3)]  # fast: n_folds = 3
    assert list((socdem_home / "artifacts" / "folds").glob("*.parquet"))  # saved before the fold tasks start


@pytest.mark.parametrize("stage", ["data", "features", "train", "submit"])
def test_each_task_runs_the_make_targets_cli_entry(loaded, stage):
    module, graph = loaded
    node = graph.nodes[stage]
    assert node.kind == "bash" and node.options["cwd"] == str(REPO)
    assert node.options["env"]["TRACKING_WAIT"] == "1"  # a task's MLflow logging ends with the task
    argv = command(node, "linear", 2) if stage == "train" else command(node)
    assert argv[:3] == [str(REPO / ".venv" / "bin" / "python"), "-m", "socdem"]
    args = parser().parse_args(argv[3:])
    assert args.command == stage and args.exp == "fast" and args.data == "artifacts/dag/raw"
    if stage == "train":
        assert args.models == "linear" and args.folds == "2"
    if stage == "data":
        assert args.users == 1500


def test_stage_environment_is_the_makefiles(loaded):
    module, _ = loaded
    run_line = next(line for line in (REPO / "Makefile").read_text().splitlines() if line.startswith("RUN :="))
    for key, value in module.STAGE_ENV.items():
        assert f"{key}={value}" in run_line


def test_score_skips_without_truth_and_scores_with_it(loaded, tmp_path):
    _, graph = loaded
    params = {**PARAMS, "data": str(tmp_path)}
    with pytest.raises(Skip, match="no truth file"):
        graph.nodes["score"].func(params=params)
    truth = tmp_path / "oracle" / "test_truth.csv"
    truth.parent.mkdir()
    truth.write_text("viewer_uid\n")
    args = parser().parse_args(command(graph.nodes["score"], params=params)[3:])
    assert args.command == "score" and Path(args.truth) == truth and args.sub.endswith("submissions/fast.csv")
