"""The layers of ARCHITECTURE.md hold: import-linter's contracts pass, an upward import breaks
them, and tinyconv's import graph has no cycle.

Every import counts, wherever it is written: at module level, inside a function ("lazy") or
under ``TYPE_CHECKING``. A package's ``__init__`` is a module like the others, so a submodule
that imports its own package (whose ``__init__`` imports that submodule back) is a cycle too.
"""

from __future__ import annotations

import ast
import inspect
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
LINT = [
    sys.executable,
    "-c",
    "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
    "--no-cache",
    "--no-logo",
    str(ROOT / "pyproject.toml"),
]


def _lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(package_parent))
    return subprocess.run(
        LINT, cwd=package_parent, env=env, capture_output=True, text=True, timeout=120
    )


# ------------------------------------------------------------------------- contracts
def test_import_contracts_are_kept() -> None:
    res = _lint(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout
    assert "layers: a module imports only from its own layer or below" in res.stdout


def _copy_package(dst: Path) -> Path:
    shutil.copytree(
        ROOT / "tinyconv",
        dst / "tinyconv",
        ignore=shutil.ignore_patterns("__pycache__", "*.npz", "static"),
    )
    return dst / "tinyconv"


def test_an_upward_import_breaks_the_contracts(tmp_path: Path) -> None:
    pkg = _copy_package(tmp_path)
    # tensor.py (low) reaching up to train, serve reaching sideways to viz, models to train,
    # ops importing CuPy itself, and a new top-level module no layer names
    with open(pkg / "tensor.py", "a", encoding="utf-8") as f:
        f.write("\n\ndef _upward():\n    from .train import fit  # noqa\n\n    return fit\n")
    with open(pkg / "serve" / "api.py", "a", encoding="utf-8") as f:
        f.write("\nfrom ..viz import filters  # noqa\n")
    with open(pkg / "models" / "lenet.py", "a", encoding="utf-8") as f:
        f.write("\nfrom ..train import History  # noqa\n")
    with open(pkg / "ops" / "pool.py", "a", encoding="utf-8") as f:
        f.write("\nimport cupy  # noqa\n")
    (pkg / "unplaced.py").write_text('"""In no layer."""\n', encoding="utf-8")
    res = _lint(tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "layers: a module imports only from its own layer or below" in out
    assert "tinyconv.tensor -> tinyconv.train" in out
    assert "tinyconv.serve.api -> tinyconv.viz.filters" in out
    assert "tinyconv.models.lenet -> tinyconv.train" in out
    assert "tinyconv.ops.pool -> cupy" in out
    assert "unplaced" in out  # the layers contract is exhaustive
    assert "BROKEN" in out


# ----------------------------------------------------------------------------- cycles
def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def _describe(graph: grimp.ImportGraph, cycle: list[str]) -> str:
    members = set(cycle)
    lines = []
    for a in cycle:
        for b in sorted(graph.find_modules_directly_imported_by(a) & members):
            for d in graph.get_import_details(importer=a, imported=b)[:1]:
                lines.append(f"  {a}:{d['line_number']}  {d['line_contents']}")
    return "\n".join(lines)


def test_the_cycle_finder_finds_cycles() -> None:
    g = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b", "p.c", "p.d"):
        g.add_module(m)
    g.add_import(importer="p", imported="p.a")  # the package's __init__ imports a submodule
    g.add_import(importer="p.a", imported="p.b")
    g.add_import(importer="p.b", imported="p")  # which imports the package back: a cycle
    g.add_import(importer="p.c", imported="p.d")
    g.add_import(importer="p.d", imported="p.c")
    assert import_cycles(g) == [["p", "p.a", "p.b"], ["p.c", "p.d"]]


def test_no_import_cycles_among_tinyconvs_modules() -> None:
    graph = grimp.build_graph("tinyconv", cache_dir=None)
    assert len(graph.modules) > 100  # the whole package was read
    assert graph.direct_import_exists(importer="tinyconv.ops.basic", imported="tinyconv.tensor")
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n\n".join(_describe(graph, c) for c in cycles)


# -------------------------------------------------------------------------------- fit
def _lines(fn: object) -> tuple[int, int]:
    """(lines from ``def`` to the end, of which the docstring) of a function's source."""
    node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]  # type: ignore[arg-type]
    assert isinstance(node, ast.FunctionDef)
    doc = node.body[0]
    assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
    total = node.end_lineno - node.lineno + 1  # type: ignore[operator]
    return total, doc.end_lineno - doc.lineno + 1  # type: ignore[operator]


def test_fit_is_a_short_loop_over_named_steps() -> None:
    from tinyconv.train import trainer

    total, doc = _lines(trainer.fit)
    assert total - doc < 80, f"fit has {total - doc} lines of code (docstring left out)"
    source = inspect.getsource(trainer.fit)
    for step in ("one_epoch(", "one_evaluation(", "checkpoints.save(", "hooks.on_epoch_end("):
        assert step in source
