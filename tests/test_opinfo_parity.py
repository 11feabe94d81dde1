"""tinyconv on PyTorch's own OpInfo sample and error inputs (see opinfo_runner.py).

The full run is marked slow (it still runs in CI: about 3,300 samples, well under a
minute on 2 cores). The other tests check the runner itself (that it notices a wrong
forward, a wrong gradient, a refusal and an error input that is accepted) and that the
table keeps up with tinyconv.functional.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from opinfo_runner import Op, markdown, op_infos, run
from opinfo_table import KNOWN_DIFFERENCES, NOT_RUN, OPS

import tinyconv
import tinyconv.functional as F
from tinyconv import Function

README = Path(__file__).resolve().parents[1] / "README.md"

pytest.importorskip("expecttest")  # torch.testing._internal needs it (the test extra has it)


def _known(key: str, message: str) -> bool:
    return any(k == key and part in message for k, part, _ in KNOWN_DIFFERENCES)


@pytest.mark.slow
def test_opinfo_parity(capsys):
    report = run(OPS)
    summary = report.summary()
    with capsys.disabled():  # the numbers, in CI's log too
        print("\n" + markdown(summary).split("\n\n")[0])
    if os.environ.get("TINYCONV_PARITY_REPORT"):
        Path(os.environ["TINYCONV_PARITY_REPORT"]).write_text(json.dumps(summary, indent=1))
    assert summary["samples"] > 3000
    assert summary["wrong"] == 0, "\n".join(summary["wrong_samples"][:20])
    unexplained = [
        f"{key}: {message} ({sample})"
        for (key, _), samples in report.refused.items()
        for sample, message in samples
        if not _known(key, message)
    ]
    assert not unexplained, "refused without a known difference:\n" + "\n".join(unexplained)
    assert summary["error_inputs_raised"] == summary["error_inputs"] > 70, "\n".join(
        summary["error_inputs_not_raised"]
    )
    stale = [
        (key, part)
        for key, part, _ in KNOWN_DIFFERENCES
        if not any(
            k == key and part in message
            for (k, _), samples in report.refused.items()
            for _, message in samples
        )
    ]
    assert not stale, f"known differences that no sample shows any more (remove them): {stale}"


def test_known_differences_are_in_the_readme():
    text = README.read_text()
    assert "### Known differences from PyTorch" in text
    table = text.split("### Known differences from PyTorch", 1)[1].split("\n## ", 1)[0]
    for key, _, _ in KNOWN_DIFFERENCES:
        assert f"`{key}`" in table, f"{key} is refused but not in the README's table"


def test_the_table_covers_every_functional_function_that_has_an_opinfo():
    from torch.testing._internal.common_methods_invocations import op_db

    # torch.X and torch.nn.functional.X (not torch.masked.X, torch.special.X, ...)
    keys = {(o.name + "." + o.variant_test_name).rstrip("."): o.name for o in op_db}
    missing = []
    for name in F.__all__:
        for key, op_name in keys.items():
            if op_name in (name, "nn.functional." + name) and key not in OPS and key not in NOT_RUN:
                missing.append(key)
    assert not missing, f"OpInfos of tinyconv.functional functions without a line in OPS: {missing}"
    assert len(list(op_infos(OPS))) == len(OPS)  # every key is an OpInfo of this torch


# ------------------------------------------------------------ the runner itself
class _DoubledGradient(Function):
    """relu with a backward twice too large: the runner must notice."""

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, dout):
        return 2 * dout


def test_the_runner_notices_wrong_results_refusals_and_accepted_errors():
    def refuse(*args, **kwargs):
        raise ValueError("not today")

    def crash(*args, **kwargs):
        raise IndexError("a bug")

    bad = {
        "sigmoid": Op(F.tanh),  # wrong forward
        "nn.functional.relu": Op(lambda x, *a, **k: _DoubledGradient.apply(x)),
        "nn.functional.softplus": Op(refuse),
        "nn.functional.logsigmoid": Op(crash),
        "nn.functional.l1_loss": Op(lambda *a, **k: tinyconv.tensor(0.0)),  # raises nothing
    }
    summary = run(bad).summary()["per_op"]
    assert summary["sigmoid"] == {"ok": 1, "wrong": 2}  # (the third sample is empty)
    assert summary["nn.functional.relu"] == {"wrong": 4}
    assert summary["nn.functional.softplus"] == {"refused": 3}
    assert summary["nn.functional.logsigmoid"] == {"wrong": 3}
    assert summary["nn.functional.l1_loss"]["error_inputs_accepted"] == 2
    report = run(bad, ["nn.functional.relu", "nn.functional.softplus"])
    assert all(re.match(r"gradient of differentiable input 0", w) for _, _, w in report.wrong)
    assert list(report.refused) == [("nn.functional.softplus", "not today")]
