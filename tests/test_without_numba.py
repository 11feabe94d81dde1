"""Without Numba everything works, on the NumPy path.

Each test runs Python in a subprocess whose ``sitecustomize`` puts an import blocker first on
``sys.meta_path``: ``import numba`` (and ``llvmlite``) fail there as on a machine without
them, whatever this environment has installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BLOCKER = '''
import sys


class NoNumba:
    """Import blocker: Numba and llvmlite are "not installed" in this interpreter."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("numba", "llvmlite"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


sys.meta_path.insert(0, NoNumba())
'''

CHECK = r"""
import numpy as np
import tinyconv
import tinyconv.functional as F
import tinyconv.kernels as K

try:
    import numba
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("the blocker did not block numba")
assert K.name() == "numpy" and not K.enabled() and not K.numba_available(), K.name()
try:
    K.use("numba")
except ImportError as e:
    assert "tinyconv[fast]" in str(e), e
else:
    raise SystemExit("use('numba') without Numba did not raise")
K.use("auto")
assert K.name() == "numpy"
x = tinyconv.tensor(np.ones((2, 1, 6, 6), np.float32), requires_grad=True)
w = tinyconv.tensor(np.ones((3, 1, 3, 3), np.float32), requires_grad=True)
y = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
y.sum().backward()
assert float(y.numpy()[0, 0, 0, 0]) == 9.0, y.numpy()[0, 0]
# each of the 2 x 9 pooled outputs picks an interior position (9 taps of ones): dW = 18
assert (w.grad.numpy() == 18.0).all(), w.grad.numpy()
print("numpy path ok")
"""


def blocked_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a Python process in which Numba does not import."""
    site = tmp_path / "no-numba-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(site), str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, **extra}
    env.pop("TINYCONV_KERNELS", None)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 300) -> str:
    out = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )
    assert out.returncode == 0, (
        f"{args}: exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    )
    return out.stdout


def test_without_numba_the_numpy_path_runs_and_asking_for_numba_says_why(tmp_path: Path) -> None:
    env = blocked_env(tmp_path)
    assert "numpy path ok" in run(["-c", CHECK], env, tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", "import tinyconv, tinyconv.kernels"],
        capture_output=True,
        text=True,
        env={**env, "TINYCONV_KERNELS": "numba"},
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode != 0
    assert "Numba is not available" in out.stderr and "tinyconv[fast]" in out.stderr


def test_without_numba_tinyconv_train_and_evaluate(tmp_path: Path) -> None:
    env = blocked_env(tmp_path)
    run_dir = tmp_path / "run"
    args = ["-m", "tinyconv", "train", "--data", "mnist-sample", "--epochs", "1"]
    run([*args, "--limit", "600", "--quiet", "--out", str(run_dir)], env, tmp_path)
    assert (run_dir / "model.safetensors").stat().st_size > 0
    out = run(["-m", "tinyconv", "evaluate", str(run_dir / "model.safetensors")], env, tmp_path)
    assert "mnist-sample" in out


# Files of the suite that exercise every op, module, optimizer, loss, file format and the
# training loop, without the slow end-to-end tests: about 45 s of CPU on 2 cores.
SUBSET = [
    "tests/test_kernel_fixtures.py",
    "tests/test_conv_errors.py",
    "tests/test_pool.py",
    "tests/test_activation.py",
    "tests/test_norm.py",
    "tests/test_loss.py",
    "tests/test_optim.py",
    "tests/test_module.py",
    "tests/test_tensor.py",
    "tests/test_io.py",
    "tests/test_train.py",
]


@pytest.mark.slow
def test_without_numba_a_representative_part_of_the_suite_passes(tmp_path: Path) -> None:
    env = blocked_env(tmp_path)
    args = ["-m", "pytest", "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider", "-rs"]
    out = run([*args, *SUBSET], env, ROOT, timeout=1200)
    assert " passed" in out and " failed" not in out, out[-2000:]
    # The kernel-path fixture ran the NumPy cases and skipped the Numba ones, saying why.
    assert "Numba is not installed" in out, out[-2000:]
