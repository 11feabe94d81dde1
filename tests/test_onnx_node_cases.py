"""ONNX's own backend node test cases, for every op tinyconv.onnx maps: all pass, or are listed.

Recent onnx wheels no longer ship the case data, so the cases are generated here from
``onnx.backend.test.case.node`` (``collect_testcases``: each case's model, inputs and expected
outputs, made by ONNX's reference code). A case is run when its graph is one node of an op in
``tinyconv.onnx.SUPPORTED``; float inputs go in as Tensors, integer ones as arrays. Each output
must match within the case's own rtol/atol and have the expected dtype.

``UNSUPPORTED`` lists the cases tinyconv refuses, each with the error it must give (the README
lists them too); any other case that raises or differs is a failure.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import tinyconv

onnx = pytest.importorskip("onnx")
tox = pytest.importorskip("tinyconv.onnx")

_EXOTIC = r"Cast to (FLOAT8\w*|FLOAT4E2M1|U?INT[24]) is not supported"
UNSUPPORTED = {
    "3-D pooling and transposed convolution": (
        r"test_(averagepool|maxpool)_3d_\w+|test_convtranspose_3d",
        r"a 3-D kernel on input|expected an input of rank 3 or 4",
    ),
    "AveragePool with dilations": (r"test_averagepool_2d_dilations", r"with dilations"),
    "sequence and optional inputs": (r"test_identity_(sequence|opt)", r"is not a tensor"),
    "8-, 4- and 2-bit number types": (r"test_cast(like)?_\w+", _EXOTIC),
}


def node_cases() -> list:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generators' own overflow warnings
        cases = collect_testcases(None)
    return [
        c
        for c in cases
        if len(c.model.graph.node) == 1 and c.model.graph.node[0].op_type in tox.SUPPORTED
    ]


def run_case(case) -> None:
    from onnx import numpy_helper

    model = tox.from_proto(case.model, case.name).eval()
    for inputs, expected in case.data_sets:
        arrays = [numpy_helper.to_array(a) if hasattr(a, "dims") else a for a in inputs]
        want = [numpy_helper.to_array(a) if hasattr(a, "dims") else a for a in expected]
        xs = [tinyconv.tensor(a) if a.dtype.kind == "f" else a for a in arrays]
        with tinyconv.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = model(*xs)
        got = got if isinstance(got, tuple) else (got,)
        assert len(got) >= len(want)
        for g, w in zip(got, want, strict=False):
            g = g.numpy() if hasattr(g, "numpy") else np.asarray(g)
            assert g.dtype == w.dtype, f"dtype {g.dtype}, expected {w.dtype}"
            np.testing.assert_allclose(g, w, rtol=case.rtol, atol=case.atol)


def expected_refusal(name: str) -> str | None:
    for pattern, message in UNSUPPORTED.values():
        if re.fullmatch(pattern, name):
            return message
    return None


def test_onnx_backend_node_cases_pass_or_are_listed_as_unsupported():
    cases = node_cases()
    ops = {c.model.graph.node[0].op_type for c in cases}
    assert {"Conv", "MaxPool", "AveragePool", "BatchNormalization", "Gemm", "Relu"} <= ops
    passed, refused, failures = [], [], []
    for case in cases:
        refusal = expected_refusal(case.name)
        try:
            run_case(case)
        except Exception as e:  # every failure is collected, then reported at once
            text = f"{type(e).__name__}: {e}"
            if refusal is not None and re.search(refusal, text):
                refused.append(case.name)
            else:
                failures.append(f"{case.name}: {text[:300]}")
            continue
        if refusal is not None and not re.fullmatch(r"test_cast(like)?_\w+", case.name):
            failures.append(f"{case.name}: listed as unsupported but passes")
        passed.append(case.name)
    print(
        f"ONNX node cases: {len(passed)} passed, {len(failures)} failed, {len(refused)} unsupported"
    )
    assert not failures, "\n".join(failures)
    assert len(passed) >= 400
