"""tinyconv._openblas: OPENBLAS_CORETYPE=SkylakeX only on AMD CPUs with AVX-512, and
OPENBLAS_THREAD_TIMEOUT=20, only before NumPy loads and never over a value already set."""

from __future__ import annotations

import os
import subprocess
import sys

from tinyconv import _openblas

ZEN5 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16
"""
ZEN3 = ZEN5.replace("avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16", "")
INTEL = ZEN5.replace("AuthenticAMD", "GenuineIntel")


def test_only_amd_cpus_with_the_avx512_subsets_qualify():
    assert _openblas._amd_avx512(ZEN5)
    assert not _openblas._amd_avx512(ZEN3)  # AVX2 only: Haswell is right
    assert not _openblas._amd_avx512(INTEL)  # OpenBLAS detects Intel's own
    assert not _openblas._amd_avx512(ZEN5.replace(" avx512vl", ""))
    assert not _openblas._amd_avx512("")


def test_nothing_changes_once_numpy_is_loaded(monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    assert "numpy" in sys.modules
    assert _openblas.prefer_avx512_kernels() is None
    assert _openblas.short_thread_spin() is None
    assert "OPENBLAS_CORETYPE" not in os.environ
    assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ


def _fresh(env: dict) -> str:
    code = (
        "import os, tinyconv, numpy\n"
        "print(os.environ.get('OPENBLAS_CORETYPE', '-'))\n"
        "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT', '-'))\n"
        "p = '/proc/cpuinfo'\n"
        "print(os.path.exists(p) and tinyconv._openblas._amd_avx512(open(p).read()))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=env, check=True)  # fmt: skip
    return r.stdout


def test_a_value_set_before_wins_and_import_sets_it_on_such_cpus():
    unset = ("OPENBLAS_CORETYPE", "OPENBLAS_THREAD_TIMEOUT")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    out = _fresh(dict(env, OPENBLAS_CORETYPE="Haswell", OPENBLAS_THREAD_TIMEOUT="28")).split()
    assert out[:2] == ["Haswell", "28"]
    value, timeout, qualifies = _fresh(env).split()
    assert timeout == "20"
    if sys.platform.startswith("linux"):
        assert value == ("SkylakeX" if qualifies == "True" else "-")
