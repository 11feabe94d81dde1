"""No pickle anywhere in the package: neither in the source nor among the modules it imports."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tinyconv"
BANNED = {"pickle", "cPickle", "_pickle", "dill", "joblib", "shelve", "cloudpickle", "marshal"}


def python_files() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10, f"expected the package sources under {PACKAGE}"
    return files


def violations(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every pickle import, dynamic import of one, and allow_pickle not False."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, f"import {a.name}")
                for a in node.names
                if a.name.split(".")[0] in BANNED
            ]
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in BANNED
        ):
            found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    found.append((node.lineno, f"allow_pickle={ast.unparse(kw.value)}"))
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("__import__", "import_module") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and str(arg.value).split(".")[0] in BANNED:
                    found.append((node.lineno, f"{name}({arg.value!r})"))
    return found


def test_the_scanner_finds_what_it_looks_for() -> None:
    source = (
        "import pickle\nfrom dill import dumps\nimport numpy as np\n"
        "np.load('x.npy', allow_pickle=True)\nnp.load('y.npy', allow_pickle=False)\n"
        "importlib.import_module('joblib')\nimport os.path\n"
    )
    assert [line for line, _ in violations(ast.parse(source))] == [1, 2, 4, 6]


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_source_has_no_pickle(path: Path) -> None:
    found = violations(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    assert not found, f"{path}: " + "; ".join(f"line {n}: {what}" for n, what in found)


IMPORTS = r"""
import json, sys
before = set(sys.modules)
import numpy, numpy.random  # what tinyconv stands on, with what it imports itself
after_numpy = set(sys.modules)
import tinyconv, tinyconv.io, tinyconv.optim
after_import = set(sys.modules)
import os, tempfile
model = tinyconv.nn.Sequential(tinyconv.nn.Linear(3, 2))
path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
tinyconv.save(model, path)
tinyconv.load(path)
after_use = set(sys.modules)
print(json.dumps({
    "numpy": sorted(after_numpy - before),
    "import": sorted(after_import - after_numpy),
    "use": sorted(after_use - after_import),
}))
"""


def test_importing_and_using_tinyconv_adds_no_pickle_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", IMPORTS],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
        timeout=120,
    )
    added = json.loads(out.stdout.strip().splitlines()[-1])
    assert "tinyconv" in added["import"]  # the probe really imported the package
    for stage in ("import", "use"):
        picklish = [
            m for m in added[stage] if m.split(".")[0] in BANNED | {"_compat_pickle", "copyreg"}
        ]
        assert picklish == [], f"tinyconv ({stage}) imported {picklish}"
    # When NumPy alone does not pull pickle in, tinyconv must leave it out of sys.modules entirely.
    if "pickle" not in added["numpy"]:
        assert "pickle" not in added["import"] + added["use"]
