"""Every ```python block of the README runs as written, each in a fresh interpreter (issue 23)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text("utf-8"), re.M | re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 2 and "tinyconv.save(model" in BLOCKS[0]


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_first_screen_commands_are_those_the_fresh_clone_check_runs():
    """scripts/fresh_clone_check.sh reads these lines from the README; the torch pin is the
    [test] extra's and the extras exist (a newcomer's first two commands)."""
    import tomllib

    text = (ROOT / "README.md").read_text("utf-8")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"][
        "optional-dependencies"
    ]
    torch_line = re.search(r"^python3 -m pip install torch==(\S+) --index-url (\S+)$", text, re.M)
    assert torch_line and torch_line[2].endswith("/whl/cpu")
    assert f"torch=={torch_line[1]}" in extras["test"]
    assert re.search(
        r'^python3 -m pip install -e "\.\[test\]" && python3 -m pytest -q$', text, re.M
    )
    assert re.search(r'^python3 -m pip install -e "\.\[all\]" && tinyconv train$', text, re.M)
    assert "all" in extras and "test" in extras
    assert text.index("[all]") < text.index("torch==") < text.index('".[test]"')
    script = (ROOT / "scripts" / "fresh_clone_check.sh").read_text("utf-8")
    for pattern in ("^python3 -m pip install torch==", r'\.\[test\]" && ', r'\.\[all\]" && '):
        assert pattern in script
