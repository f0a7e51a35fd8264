"""The package's imports flow one way, bottom to top, and never in a cycle:

config, paths, schema, metrics, io, selection -> contest -> synthetic, real -> features -> models
-> pipeline -> evaluate -> bench, dags, the command line
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "socdem"
LAYERS = [
    {"config", "paths", "schema", "metrics", "io", "hashing", "resources", "selection"},
    {"contest"},
    {"synthetic", "real"},
    {"features"},
    {"models"},
    {"pipeline"},
    {"evaluate"},
    {"bench", "dags", "__main__"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    return next(i for i, names in enumerate(LAYERS) if top in names)


def internal_imports(path: Path) -> list[tuple[str, int]]:
    """(imported socdem module, line) for every import in the file, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name.startswith("socdem")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("socdem"):
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import; use socdem.<module>")
    return found


def import_graph() -> dict[str, list[tuple[str, int]]]:
    return {module_name(p): internal_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer():
    for module in import_graph():
        if module != "socdem":
            layer(module)  # raises StopIteration for a top-level package no layer names


def test_imports_never_point_upward():
    upward = [
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)}) at line {line}"
        for module, targets in import_graph().items()
        if module != "socdem"
        for target, line in targets
        if target != "socdem" and layer(target) > layer(module)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    graph = {
        module: {target for target, _ in targets if target != module} for module, targets in import_graph().items()
    }
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(target) :] + [target]))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_checks_catch_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
    """The walker itself: an upward import and a two-module cycle are both seen."""
    package = tmp_path / "socdem"
    (package / "contest").mkdir(parents=True)
    (package / "config.py").write_text("from socdem.contest import load\n")
    (package / "contest" / "__init__.py").write_text("")
    (package / "contest" / "load.py").write_text("from socdem.contest.checks import x\n")
    (package / "contest" / "checks.py").write_text("from socdem.contest.load import y\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", package)
    for check in (test_imports_never_point_upward, test_no_import_cycle):
        try:
            check()
        except AssertionError:
            continue
        raise AssertionError(f"{check.__name__} missed the planted fault")


def test_the_config_imports_with_the_standard_library_alone():
    """The Airflow DAG reads the experiment's models in Airflow's own virtualenv (no numpy, no pandas)."""
    import subprocess
    import sys

    blocked = "import sys; [sys.modules.__setitem__(m, None) for m in ('numpy', 'pandas', 'pyarrow', 'scipy')]; "
    run = subprocess.run(
        [sys.executable, "-c", blocked + "import socdem.config as c; print(c.load_experiment('default').models)"],
        cwd=PACKAGE.parent, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
