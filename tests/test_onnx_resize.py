"""ONNX Resize and Upsample in (against onnxruntime and PyTorch), interpolate and pads out as
Resize and Pad (onnxruntime at the traced size and at other sizes).

The ONNX backend node cases of Resize and Upsample run in tests/test_onnx_node_cases.py; here
random inputs go through single-node graphs in onnxruntime and tinyconv, PyTorch's exported
``F.interpolate`` is loaded and compared with PyTorch forward and backward, and tinyconv's
exported resizing and padding models run in onnxruntime at a second input size.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinyconv
import tinyconv.functional as F
from tinyconv import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
tox = pytest.importorskip("tinyconv.onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SHAPE = (2, 3, 5, 7)


def resize_model(attrs, scales=None, sizes=None, roi=None, opset=19, op="Resize"):
    inits, ins = [], ["x"]
    if op == "Resize" and opset >= 11:
        ins.append("roi" if roi is not None else "")
        if roi is not None:
            inits.append(numpy_helper.from_array(np.array(roi, np.float32), "roi"))
    if scales is not None:
        ins.append("scales")
        inits.append(numpy_helper.from_array(np.array(scales, np.float32), "scales"))
    elif opset >= 11:
        ins += ["", "sizes"]
        inits.append(numpy_helper.from_array(np.array(sizes, np.int64), "sizes"))
    node = helper.make_node(op, ins, ["y"], name="resize_1", **attrs)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * 4)], initializer=inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 8)
    return model


def both(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, {"x": x})[0]
    with tinyconv.no_grad():
        got = tox.from_proto(model, "resize.onnx").eval()(tinyconv.tensor(x)).numpy()
    return got, want


# scales whose output lengths are whole (onnxruntime takes align_corners' and tf_crop's
# length from the rounded size, ONNX's reference from n * scale: they agree on these)
TARGETS = [
    ("scales", [1, 1, 2.0, 3.0]),
    ("scales", [1, 1, 0.4, 4 / 7]),
    ("scales", [1, 1, 1.6, 3 / 7]),
    ("sizes", [2, 3, 3, 11]),
    ("sizes", [2, 3, 9, 4]),
]
TRANSFORMS = ["half_pixel", "pytorch_half_pixel", "half_pixel_symmetric", "align_corners",
              "asymmetric", "tf_crop_and_resize"]  # fmt: skip


def configs():
    for mode in ("nearest", "linear", "cubic"):
        for transform in TRANSFORMS:
            # nearest: the rounding modes whose ties these sizes do not meet in float32
            # (onnxruntime computes positions in float32, the reference in float64)
            for nm in ("round_prefer_floor",) if mode == "nearest" else ("",):
                for aa in (0,) if mode == "nearest" else (0, 1):
                    for ex in (0, 1) if mode == "cubic" else (0,):
                        for kind, value in TARGETS:
                            yield mode, transform, nm, aa, ex, kind, value


CASES = list(configs())


@pytest.mark.parametrize(
    "mode,transform,nearest_mode,antialias,exclude,kind,value",
    CASES,
    ids=[f"{m}-{t}-aa{a}-ex{e}-{k}{i % len(TARGETS)}" for i, (m, t, _, a, e, k, _) in
         enumerate(CASES)],
)  # fmt: skip
def test_resize_matches_onnxruntime(mode, transform, nearest_mode, antialias, exclude, kind, value):
    attrs = {"mode": mode, "coordinate_transformation_mode": transform, "antialias": antialias}
    if mode == "nearest":
        attrs["nearest_mode"] = nearest_mode
    if mode == "cubic":
        attrs.update(exclude_outside=exclude, cubic_coeff_a=-0.5)
    roi = None
    if transform == "tf_crop_and_resize":
        roi, attrs["extrapolation_value"] = [0, 0, 0.2, 0.1, 1, 1, 0.9, 1.2], 2.5
    model = resize_model(attrs, roi=roi, **{kind: value})
    if (mode, transform, kind, value) == ("nearest", "tf_crop_and_resize", "sizes", [2, 3, 9, 4]):
        pytest.skip("a float32 tie in onnxruntime (position 2.5000001 vs 2.5)")
    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    got, want = both(model, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("nearest_mode", ["round_prefer_ceil", "floor", "ceil"])
@pytest.mark.parametrize("transform", ["half_pixel", "align_corners", "asymmetric"])
def test_resize_nearest_modes_match_onnxruntime(nearest_mode, transform):
    attrs = {"mode": "nearest", "coordinate_transformation_mode": transform,
             "nearest_mode": nearest_mode}  # fmt: skip
    x = np.random.default_rng(1).standard_normal(SHAPE).astype(np.float32)
    # scales whose source positions meet no rounding tie (and, for align_corners, whose
    # output lengths are whole): onnxruntime's float32 and the reference's float64 agree
    targets = [("scales", [1, 1, 2.0, 3.0]), ("sizes", [2, 3, 3, 11]), ("sizes", [2, 3, 9, 4])]
    if transform != "align_corners":
        targets += [("scales", [1, 1, 0.45, 0.55]), ("scales", [1, 1, 2.7, 1.3])]
    for kind, value in targets:
        got, want = both(resize_model(attrs, **{kind: value}), x)
        np.testing.assert_array_equal(got, want, err_msg=f"{kind} {value}")


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
def test_keep_aspect_ratio_policy_and_axes_match_onnxruntime(policy):
    attrs = {"mode": "linear", "keep_aspect_ratio_policy": policy, "axes": [2, 3]}
    x = np.random.default_rng(2).standard_normal(SHAPE).astype(np.float32)
    got, want = both(resize_model(attrs, sizes=[8, 9]), x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("opset,op", [(7, "Upsample"), (9, "Upsample"), (10, "Resize")])
def test_upsample_and_opset10_resize_match_onnxruntime(mode, opset, op):
    x = np.random.default_rng(3).standard_normal(SHAPE).astype(np.float32)
    values = ([1, 1, 2.0, 3.0], [1, 1, 1.5, 2.5]) + (([1, 1, 0.5, 0.6],) if op == "Resize" else ())
    for value in values:
        if opset == 7:
            model = resize_model({"mode": mode, "scales": value}, scales=None, sizes=None,
                                 opset=7, op=op)  # fmt: skip
        else:
            model = resize_model({"mode": mode}, scales=value, opset=opset, op=op)
        got, want = both(model, x)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_resize_errors_name_the_node():
    x = tinyconv.tensor(np.ones(SHAPE, np.float32))
    bad = {
        "antialias is not defined for mode 'nearest'": ({"mode": "nearest", "antialias": 1}, {}),
        "mode 'area' is not supported": ({"mode": "area"}, {}),
        "nearest_mode 'up'": ({"nearest_mode": "up"}, {}),
        "coordinate_transformation_mode 'corner'": (
            {"coordinate_transformation_mode": "corner"},
            {},
        ),  # fmt: skip
        "scales .* do not fit 2 axes": ({"axes": [2, 3]}, {"scales": [1, 1, 2, 2]}),
    }
    for message, (attrs, inputs) in bad.items():
        model = resize_model(attrs, **(inputs or {"scales": [1, 1, 2, 2]}))
        with pytest.raises(ValueError, match=f"ONNX node 'resize_1 \\(Resize\\)': {message}"):
            tox.from_proto(model, "r.onnx")(x)
    up = resize_model({"mode": "nearest"}, scales=[1, 1, 0.5, 1], opset=9, op="Upsample")
    with pytest.raises(ValueError, match=r"resize_1 \(Upsample\)': Upsample scales must be at"):
        tox.from_proto(up, "u.onnx")(x)


class Interp(nn.Module):
    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.kwargs = kwargs

    def forward(self, x):
        return F.interpolate(x, **self.kwargs)


TORCH_RESIZES = {
    "nearest_2": {"scale_factor": 2},
    "nearest_size": {"size": (13, 11)},
    "bilinear": {"scale_factor": 2, "mode": "bilinear"},
    "bilinear_corners": {"size": (13, 11), "mode": "bilinear", "align_corners": True},
    "bilinear_down": {"scale_factor": 0.5, "mode": "bilinear"},
    "bicubic": {"scale_factor": 1.5, "mode": "bicubic"},
    "bicubic_corners": {"size": (9, 10), "mode": "bicubic", "align_corners": True},
}


@pytest.mark.parametrize("name", list(TORCH_RESIZES))
def test_torch_exported_interpolate_loads_and_matches_pytorch_forward_and_backward(name, tmp_path):
    torch = pytest.importorskip("torch")
    kwargs = TORCH_RESIZES[name]

    class TorchInterp(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)

        def forward(self, x):
            return torch.nn.functional.interpolate(self.conv(x), **kwargs)

    torch.manual_seed(0)
    tm = TorchInterp().eval()
    x = torch.randn(2, 2, 8, 8)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tm, (x,), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"])  # fmt: skip
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Resize" in ops
    loaded = tox.load(path)
    xt = x.clone().requires_grad_(True)
    want = tm(xt)
    xc = tinyconv.tensor(x.numpy(), requires_grad=True)
    got = loaded(xc)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = torch.randn(*want.shape)
    want.backward(g)
    got.backward(tinyconv.tensor(g.numpy()))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    weight = next(p for n, p in loaded.named_parameters() if n.endswith("weight"))
    np.testing.assert_allclose(weight.grad.numpy(), tm.conv.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-4)  # fmt: skip


class Padded(nn.Module):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x):
        return F.pad(x, (1, 2, 2, 1), mode=self.mode)


EXPORTS = {
    **{f"interpolate_{k}": (lambda kw=v: Interp(**kw)) for k, v in TORCH_RESIZES.items()},
    "nearest_exact": lambda: Interp(scale_factor=3, mode="nearest-exact"),
    "bilinear_corners_2": lambda: Interp(scale_factor=2, mode="bilinear", align_corners=True),
    "bilinear_1.7": lambda: Interp(scale_factor=1.7, mode="bilinear"),
    "upsample": lambda: nn.Upsample(scale_factor=2, mode="bilinear"),
    "pad_reflect": lambda: Padded("reflect"),
    "pad_replicate": lambda: Padded("replicate"),
}


@pytest.mark.parametrize("name", list(EXPORTS))
def test_exported_resize_and_pad_run_in_onnxruntime_at_other_sizes(name, tmp_path):
    model = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), EXPORTS[name]()).eval()
    path = tox.export(model, tmp_path / f"{name}.onnx", (2, 8, 8), dynamic_size=True)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ("Pad" if name.startswith("pad") else "Resize") in ops and "Gather" not in ops
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    loaded = tox.load(path).eval()
    for shape in [(1, 2, 8, 8), (3, 2, 12, 16)]:
        x = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
        with tinyconv.no_grad():
            want = model(tinyconv.tensor(x)).numpy()
            back = loaded(tinyconv.tensor(x)).numpy()
        got = sess.run(None, {"input": x})[0]
        assert got.shape == want.shape, f"{name} at {shape}: {got.shape} vs {want.shape}"
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(back, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "layer,op",
    [(lambda: Interp(scale_factor=1.7), "Gather"), (lambda: Padded("circular"), "Gather")],
)
def test_what_resize_and_pad_cannot_say_stays_exact_gathers(layer, op, tmp_path):
    model = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), layer()).eval()
    path = tox.export(model, tmp_path / "m.onnx", (2, 8, 8))
    assert op in {n.op_type for n in onnx.load(str(path)).graph.node}
    x = np.random.default_rng(0).standard_normal((3, 2, 8, 8)).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with tinyconv.no_grad():
        want = model(tinyconv.tensor(x)).numpy()
    np.testing.assert_allclose(sess.run(None, {"input": x})[0], want, rtol=1e-5, atol=1e-6)


def test_cli_export_dynamic_size_runs_a_fully_convolutional_model_at_another_size(tmp_path, capsys):
    from tinyconv.cli import main

    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2, mode="bilinear")
    ).eval()
    src, out = tmp_path / "fcn.safetensors", tmp_path / "fcn.onnx"
    tinyconv.save(model, src, metadata={"input_shape": [1, 16, 16]})
    assert main(["export", str(src), "-o", str(out), "--dynamic-size"]) == 0
    assert "input (N, 1, 16, 16), H and W symbolic" in capsys.readouterr().out
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 1, "H", "W"]
    x = np.random.default_rng(0).standard_normal((2, 1, 10, 24)).astype(np.float32)
    with tinyconv.no_grad():
        want = model(tinyconv.tensor(x)).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    assert got[0].shape == (2, 3, 20, 48)
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)
