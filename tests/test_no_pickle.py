"""No model, data or user file is ever unpickled.

Three proofs: the package's source has no pickle import and no ``allow_pickle`` other than
False; importing and using tinyconv on the NumPy path adds no pickle module (and not Numba);
and with the compiled kernels on, every unpickling in the process, traced through patched
``pickle.load``/``loads``/``Unpickler``, is Numba reading its own compile cache (the index
of ``$NUMBA_CACHE_DIR``, tinyconv's user cache directory by default), like a ``.pyc``.
"""

from __future__ import annotations

import ast
import json
import os
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
    """On the NumPy path (``TINYCONV_KERNELS=numpy``): no pickle module, and no Numba either."""
    env = {**os.environ, "TINYCONV_KERNELS": "numpy"}
    out = subprocess.run(
        [sys.executable, "-c", IMPORTS],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
        timeout=120,
        env=env,
    )
    added = json.loads(out.stdout.strip().splitlines()[-1])
    assert "tinyconv" in added["import"]  # the probe really imported the package
    assert [m for m in added["import"] + added["use"] if m.split(".")[0] == "numba"] == []
    for stage in ("import", "use"):
        picklish = [
            m for m in added[stage] if m.split(".")[0] in BANNED | {"_compat_pickle", "copyreg"}
        ]
        assert picklish == [], f"tinyconv ({stage}) imported {picklish}"
    # When NumPy alone does not pull pickle in, tinyconv must leave it out of sys.modules entirely.
    if "pickle" not in added["numpy"]:
        assert "pickle" not in added["import"] + added["use"]


# Runs with the compiled kernels on: patches pickle's readers before anything imports them
# (Numba's vendored cloudpickle keeps a reference to pickle.loads), then uses tinyconv the
# way a user does and prints every unpickling with the file of its caller.
TRACE = r"""
import json, os, pickle, sys, tempfile
records = []

def traced(kind, fn):
    def reader(*args, **kwargs):
        src = args[0] if args else None
        records.append({
            "kind": kind,
            "caller": sys._getframe(1).f_code.co_filename,
            "file": getattr(src, "name", None) if kind == "load" else None,
        })
        return fn(*args, **kwargs)
    return reader

class TracedUnpickler(pickle.Unpickler):
    def __init__(self, file, *args, **kwargs):
        records.append({"kind": "Unpickler", "caller": sys._getframe(1).f_code.co_filename,
                        "file": getattr(file, "name", None)})
        super().__init__(file, *args, **kwargs)

pickle.load = traced("load", pickle.load)
pickle.loads = traced("loads", pickle.loads)
pickle.Unpickler = TracedUnpickler

import numpy as np
import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K
from tinyconv import data, nn, optim
from tinyconv.kernels._jit import njit

assert K.name() == "numba", K.name()
# A kernel compiled with the project's njit (cache=True) from a module file, so that the first
# process writes the cache and the second reads its index back.
sys.path.insert(0, os.environ["PROBE_MODULE_DIR"])
import probe_kernel
assert probe_kernel.twice(np.arange(4.0))[-1] == 6.0

# What a user does: train a few steps (every kernel that runs is compiled or loaded from the
# cache), save and load the model, read the embedded data and an .npz.
x, y = data.load("mnist-sample", "train")
x = (x[:32].astype(np.float32) / 255).reshape(32, 1, 28, 28)
tinyconv.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(4 * 14 * 14, 10))
opt = optim.Adam(model.parameters(), lr=1e-3)
for _ in range(2):
    opt.zero_grad()
    F.cross_entropy(model(tinyconv.tensor(x)), tinyconv.tensor(y[:32].astype(np.int64))).backward()
    opt.step()
tmp = tempfile.mkdtemp()
tinyconv.save(model, os.path.join(tmp, "m.safetensors"))
tinyconv.load(os.path.join(tmp, "m.safetensors"))
np.savez(os.path.join(tmp, "a.npz"), a=np.arange(3))
np.load(os.path.join(tmp, "a.npz"), allow_pickle=False)["a"]
print(json.dumps(records))
"""

PROBE_KERNEL = """
import numpy as np
from tinyconv.kernels._jit import njit


@njit
def twice(a):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = 2.0 * a[i]
    return out
"""


def not_numba_cache_reads(
    records: list[dict[str, str | None]], numba_dir: Path, cache_dir: Path
) -> list[dict[str, str | None]]:
    """The unpicklings that are NOT Numba reading a file of its cache (or bytes it read)."""
    bad = []
    for r in records:
        caller = Path(str(r["caller"])).resolve()
        by_numba = caller.is_relative_to(numba_dir)
        file_ok = r["file"] is None or Path(str(r["file"])).resolve().is_relative_to(cache_dir)
        if not (by_numba and file_ok) or r["kind"] == "Unpickler" and r["file"] is None:
            bad.append(r)
    return bad


def test_the_unpickling_check_flags_what_is_not_numbas_cache(tmp_path: Path) -> None:
    numba_dir, cache = tmp_path / "site" / "numba", tmp_path / "cache"
    ok_load = {"kind": "load", "caller": str(numba_dir / "core/caching.py"), "file": str(cache)}
    ok_loads = {"kind": "loads", "caller": str(numba_dir / "core/serialize.py"), "file": None}
    model = {"kind": "load", "caller": str(numba_dir / "core/caching.py"), "file": "/m.pkl"}
    user = {"kind": "loads", "caller": str(tmp_path / "tinyconv/io.py"), "file": None}
    npy = {"kind": "load", "caller": "/numpy/lib/format.py", "file": str(tmp_path / "x.npy")}
    found = not_numba_cache_reads([ok_load, ok_loads, model, user, npy], numba_dir, cache)
    assert found == [model, user, npy]


@pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import numba"], capture_output=True).returncode != 0,
    reason="Numba is not installed: the NumPy path is checked above",
)
def test_with_compiled_kernels_only_numbas_cache_is_unpickled(tmp_path: Path) -> None:
    """Two processes share an empty cache: the first compiles and writes it, the second reads."""
    cache = tmp_path / "numba-cache"
    (tmp_path / "probe_kernel.py").write_text(PROBE_KERNEL, encoding="utf-8")
    env = {
        **os.environ,
        "TINYCONV_KERNELS": "numba",
        "NUMBA_CACHE_DIR": str(cache),
        "PROBE_MODULE_DIR": str(tmp_path),
    }
    runs = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", TRACE],
            capture_output=True,
            text=True,
            cwd=PACKAGE.parent,
            timeout=600,
            env=env,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    numba_dir = Path(
        subprocess.run(
            [sys.executable, "-c", "import numba, os; print(os.path.dirname(numba.__file__))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    ).resolve()
    assert any(cache.rglob("*.nbi")), f"Numba wrote no cache index into {cache}"
    # The trace sees Numba's own reads (so it would see any other): the second process loaded
    # the index of the probe's kernel from the cache directory.
    index_reads = [r for r in runs[1] if r["kind"] == "load" and str(r["file"]).endswith(".nbi")]
    assert index_reads, f"the second process read no cache index: {runs[1]}"
    for records in runs:
        bad = not_numba_cache_reads(records, numba_dir, cache.resolve())
        assert bad == [], f"unpickled outside Numba's compile cache: {bad}"
