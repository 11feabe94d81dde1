"""ONNX export and load: every zoo model through onnxruntime, round trips, a PyTorch ResNet-18
imported and fine-tuned, and files that must be refused with the file named.

onnxruntime runs each exported graph at two batch sizes (the batch axis is dynamic); its
outputs must equal tinyconv's within 1e-4 relative to the largest output. ``load`` must
give back the same state dict (names, dtypes, values) and the same outputs.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import tinyconv
import tinyconv.models as models
from tinyconv import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
tox = pytest.importorskip("tinyconv.onnx")

RTOL = 1e-4


def randomize(model: nn.Module, seed: int = 0) -> None:
    """He-normal weights and non-trivial BatchNorm statistics, so every layer matters."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.weight.shape[0]
            m.weight.data = rng.uniform(0.5, 1.5, n).astype(np.float32)
            m.bias.data = rng.normal(0, 0.1, n).astype(np.float32)
            m.running_mean.data = rng.normal(0, 0.1, n).astype(np.float32)
            m.running_var.data = rng.uniform(0.5, 1.5, n).astype(np.float32)
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=rng)


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))


def session(path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3  # unused initializers (GoogLeNet's aux heads) are not news
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def outputs(model, x: np.ndarray) -> list[np.ndarray]:
    with tinyconv.no_grad():
        out = model(tinyconv.tensor(x))
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


class VAEMean(nn.Module):
    """ConvVAE decoding its mean: the VAE's own forward draws noise, which ONNX cannot hold."""

    def __init__(self) -> None:
        super().__init__()
        self.vae = models.conv_vae()
        self.input_shape = self.vae.input_shape

    def forward(self, x):
        mu, logvar = self.vae.encode(x)
        return self.vae.decode(mu), mu, logvar


# name -> (input shape, slow); small inputs where the model takes them
ZOO = {
    "simple_convnet": (None, False),
    "deep_convnet": (None, False),
    "lenet5": (None, False),
    "lenet5_modern": (None, False),
    "mnist_cnn": (None, False),
    "cifar10_cnn": (None, False),
    "resnet20": (None, False),
    "resnet32": (None, True),
    "resnet56": (None, True),
    "resnet18": ((3, 64, 64), False),
    "resnet34": ((3, 64, 64), True),
    "resnet50": ((3, 64, 64), True),
    "googlenet": ((3, 64, 64), True),
    "alexnet": (None, True),
    "alexnet_lrn": (None, True),
    "vgg11": (None, True),
    "vgg11_bn": (None, True),
    "vgg13": (None, True),
    "vgg13_bn": (None, True),
    "vgg16": (None, True),
    "vgg16_bn": (None, True),
    "vgg19": (None, True),
    "vgg19_bn": (None, True),
    "mobilenet_v2": ((3, 64, 64), True),
    "mobilenet_v3_small": ((3, 64, 64), False),
    "mobilenet_v3_large": ((3, 64, 64), True),
    "efficientnet_b0": ((3, 64, 64), True),
    "shufflenet_v2_x1_0": ((3, 64, 64), True),
    "convnext_tiny": ((3, 64, 64), True),
    "conv_autoencoder": (None, False),
    "conv_vae": (None, False),
    "dcgan_generator": (None, False),
    "dcgan_discriminator": (None, False),
    "centernet": ((1, 64, 64), False),
    "fcn": ((1, 64, 64), False),
    "unet": ((1, 64, 64), False),
}


def test_the_zoo_table_names_every_model():
    assert sorted(ZOO) == sorted(models.list_models())


def build(name: str) -> nn.Module:
    model = VAEMean() if name == "conv_vae" else models.get(name)
    randomize(model)
    return model.eval()


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if slow else n for n, (_, slow) in ZOO.items()],
)
def test_zoo_model_exports_checks_runs_in_onnxruntime_and_loads_back(name, tmp_path):
    model = build(name)
    shape = ZOO[name][0] or model.input_shape
    path = tox.export(model, tmp_path / f"{name}.onnx", shape)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == 17
    assert {t.name for t in proto.graph.initializer} == set(model.state_dict())
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    sess = session(path)
    loaded = tox.load(path).eval()
    rng = np.random.default_rng(1)
    for n in (1, 3):
        x = rng.standard_normal((n, *shape)).astype(np.float32)
        want = outputs(model, x)
        got = sess.run(None, {"input": x})
        assert len(got) == len(want)
        for w, g in zip(want, got, strict=True):
            assert g.shape == w.shape
            assert rel_diff(w, g) < RTOL, (
                f"{name} batch {n}: onnxruntime differs by {rel_diff(w, g):.2e}"
            )
        for w, g in zip(want, outputs(loaded, x), strict=True):
            assert rel_diff(w, g) < RTOL, (
                f"{name} batch {n}: loaded model differs by {rel_diff(w, g):.2e}"
            )
    mine, back = model.state_dict(), loaded.state_dict()
    assert list(back) == list(mine)
    for k in mine:
        a, b = mine[k].numpy(), back[k].numpy()
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), k
    assert loaded.num_parameters(True) == model.num_parameters(True)


def test_export_names_an_operation_it_cannot_convert(tmp_path):
    class Odd(nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, np.array([0, 2])]

    with pytest.raises(ValueError, match="indexing with ndarray"):
        tox.export(Odd(), tmp_path / "odd.onnx", (1, 2, 2))


def test_export_refuses_batch_sized_noise(tmp_path):
    with pytest.raises(ValueError, match="batch-sized array"):
        tox.export(models.conv_vae(), tmp_path / "vae.onnx")


def test_export_needs_an_input_shape(tmp_path):
    with pytest.raises(ValueError, match="pass input_shape"):
        tox.export(nn.Sequential(nn.ReLU()), tmp_path / "r.onnx")


def test_export_writes_atomically_and_keeps_metadata(tmp_path):
    model = models.simple_convnet()
    path = tox.export(model, tmp_path / "m.onnx", metadata={"classes": ["a", "b"]})
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]
    loaded = tox.load(path)
    assert loaded.metadata["tinyconv.metadata"] == '{"classes": ["a", "b"]}'
    assert loaded.input_shape == (1, 28, 28)


def test_min_pool_exports_as_negated_max_pool(tmp_path):
    model = nn.Sequential(nn.MinPool2d(2), nn.Flatten())
    path = tox.export(model, tmp_path / "min.onnx", (2, 4, 4))
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops[:3] == ["Neg", "MaxPool", "Neg"]
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(session(path).run(None, {"input": x})[0], outputs(model, x)[0])


class Padded(nn.Module):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x):
        return tinyconv.functional.pad(x, (1, 2, 2, 1), mode=self.mode)


MODERN = {
    "layer_norm": lambda: nn.LayerNorm([8, 8]),
    "layer_norm2d": lambda: nn.LayerNorm2d(4),
    "group_norm": lambda: nn.GroupNorm(2, 4),
    "instance_norm": lambda: nn.InstanceNorm2d(4, affine=True),
    "upsample_nearest": lambda: nn.Upsample(scale_factor=2),
    "upsample_bilinear": lambda: nn.Upsample(scale_factor=2, mode="bilinear"),
    "upsample_bilinear_corners": lambda: nn.Upsample(
        size=(13, 11), mode="bilinear", align_corners=True
    ),
    "pixel_shuffle": lambda: nn.PixelShuffle(2),
    "pixel_unshuffle": lambda: nn.PixelUnshuffle(2),
    "prelu": lambda: nn.PReLU(4),
    "prelu_one": lambda: nn.PReLU(),
    "relu6": lambda: nn.ReLU6(),
    "hardtanh": lambda: nn.Hardtanh(-0.5, 0.3),
    "hardswish": lambda: nn.Hardswish(),
    "hardsigmoid": lambda: nn.Hardsigmoid(),
    "silu": lambda: nn.SiLU(),
    "gelu": lambda: nn.GELU(),
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "elu": lambda: nn.ELU(0.7),
    "selu": lambda: nn.SELU(),
    "mish": lambda: nn.Mish(),
    "pad_reflect": lambda: Padded("reflect"),
    "pad_replicate": lambda: Padded("replicate"),
    "pad_circular": lambda: Padded("circular"),
}


@pytest.mark.parametrize("name", list(MODERN))
def test_newer_layers_export_run_in_onnxruntime_and_load_back(name, tmp_path):
    model = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), MODERN[name]()).eval()
    path = tox.export(model, tmp_path / f"{name}.onnx", (4, 8, 8))
    sess, loaded = session(path), tox.load(path).eval()
    for n in (1, 3):
        x = np.random.default_rng(n).standard_normal((n, 4, 8, 8)).astype(np.float32)
        want = outputs(model, x)[0]
        assert rel_diff(want, sess.run(None, {"input": x})[0]) < RTOL
        assert rel_diff(want, outputs(loaded, x)[0]) < RTOL
    assert {k: v.shape for k, v in loaded.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }


def test_erf_matches_torch_forward_and_backward():
    torch = pytest.importorskip("torch")
    from tinyconv.onnx.run_ops_modern import Erf

    x = np.linspace(-4, 4, 101).astype(np.float32)
    t = tinyconv.tensor(x, requires_grad=True)
    y = Erf.apply(t)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.erf(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, atol=2e-7)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-7)
    # float64: the gradient against finite differences of the exact erf (math.erf)
    import math

    x64 = np.random.default_rng(0).standard_normal(7)
    t64 = tinyconv.tensor(x64, requires_grad=True)
    Erf.apply(t64).sum().backward()
    h = 1e-6
    fd = np.array([(math.erf(v + h) - math.erf(v - h)) / (2 * h) for v in x64])
    np.testing.assert_allclose(t64.grad.numpy(), fd, rtol=1e-7)


# ----------------------------------------------------------------------------- loaded models
def test_loaded_model_trains_summarises_and_saves_as_safetensors(tmp_path):
    model = build("resnet20")
    loaded = tox.load(tox.export(model, tmp_path / "r20.onnx"))
    s = loaded.summary((3, 32, 32))
    assert s.total_params == model.num_parameters()
    convs = [r for r in s.rows if r.layer == "OnnxConv"]
    assert len(convs) == sum(n["op"] == "Conv" for n in loaded.graph["nodes"]) == 19
    assert convs[0].params == 3 * 16 * 9  # resnet20's first 3x3 conv, no bias
    tinyconv.save(loaded, tmp_path / "r20.safetensors")
    again = tinyconv.load(tmp_path / "r20.safetensors")
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(outputs(again.eval(), x)[0], outputs(loaded.eval(), x)[0])
    # a training step through the interpreter changes every parameter that has a gradient
    loaded.train()
    opt = tinyconv.optim.SGD(loaded.parameters(), lr=0.1)
    y = tinyconv.tensor(np.array([1, 2]))
    before = {k: v.numpy().copy() for k, v in loaded.state_dict().items()}
    loss = tinyconv.functional.cross_entropy(loaded(tinyconv.tensor(x)), y)
    loss.backward()
    assert all(p.grad is not None for p in loaded.parameters())
    opt.step()
    changed = [
        k for k, v in loaded.state_dict().items() if not np.array_equal(before[k], v.numpy())
    ]
    trainable = {k for k, _ in loaded.named_parameters()}
    assert trainable <= set(changed)
    assert {k for k in changed if k.endswith("running_mean")}  # train-mode BN statistics moved


# ----------------------------------------------------------------------------- PyTorch's exporter
def test_torch_resnet18_loads_matches_pytorch_and_fine_tunes(tmp_path):
    torch = pytest.importorskip("torch")
    sys.path.insert(0, os.path.dirname(__file__))
    import torch_reference_models as ref

    torch.manual_seed(0)
    tm = ref.resnet18(num_classes=10)
    for m in tm.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    tm.eval()
    x = torch.randn(2, 3, 64, 64)
    path = tmp_path / "torch_resnet18.onnx"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            tm, (x,), str(path), dynamo=False, opset_version=17, input_names=["x"],
            output_names=["logits"], dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}},
            training=torch.onnx.TrainingMode.PRESERVE,  # eval mode without fusing BN into conv
        )  # fmt: skip
    loaded = tox.load(path).eval()
    trainable = sum(p.numel() for p in tm.parameters() if p.requires_grad)
    assert loaded.num_parameters(trainable_only=True) == trainable == 11_181_642
    for n in (2, 3):
        xn = torch.randn(n, 3, 64, 64)
        with torch.no_grad():
            want = tm(xn).numpy()
        got = outputs(loaded, xn.numpy())[0]
        assert rel_diff(want, got) < RTOL
    # one fine-tuning step, in train mode, against PyTorch's
    y = np.array([3, 7])
    tm.train()
    loaded.train()
    tloss = torch.nn.functional.cross_entropy(tm(x), torch.tensor(y))
    tloss.backward()
    loss = tinyconv.functional.cross_entropy(loaded(tinyconv.tensor(x.numpy())), tinyconv.tensor(y))
    loss.backward()
    assert abs(loss.item() - tloss.item()) < 1e-4 * abs(tloss.item())
    params = dict(loaded.named_parameters())
    for name, p in tm.named_parameters():
        assert rel_diff(p.grad.numpy(), params[name].grad.numpy()) < 1e-3, name
    opt = tinyconv.optim.SGD(loaded.parameters(), lr=0.01)
    w0 = params["fc.weight"].numpy().copy()
    opt.step()
    np.testing.assert_allclose(
        params["fc.weight"].numpy(), w0 - 0.01 * params["fc.weight"].grad.numpy(), rtol=1e-6
    )


# ----------------------------------------------------------------------------- refused files
@pytest.fixture
def small_onnx(tmp_path):
    return tox.export(models.lenet5(), tmp_path / "lenet.onnx")


def test_truncated_file_is_named(small_onnx):
    data = small_onnx.read_bytes()
    small_onnx.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=f"{small_onnx}"):
        tox.load(small_onnx)


def test_not_an_onnx_file_is_named(tmp_path):
    p = tmp_path / "x.onnx"
    p.write_text("hello, I am a text file")
    with pytest.raises(ValueError, match=f"{p}"):
        tox.load(p)
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        tox.load(tmp_path / "nope.onnx")


def _rewrite(path, edit):
    proto = onnx.load(str(path))
    edit(proto)
    path.write_bytes(proto.SerializeToString())
    return path


def test_huge_dims_are_refused_before_any_allocation(small_onnx):
    def edit(proto):
        t = proto.graph.initializer[0]
        del t.dims[:]
        t.dims.extend([2**20, 2**20, 16])

    _rewrite(small_onnx, edit)
    with pytest.raises(ValueError, match=rf"{small_onnx}.*elements, limit"):
        tox.load(small_onnx)


def test_data_shorter_than_its_dims_is_refused(small_onnx):
    def edit(proto):
        t = proto.graph.initializer[0]
        t.dims[0] += 1

    _rewrite(small_onnx, edit)
    with pytest.raises(ValueError, match=rf"{small_onnx}.*needs \d+ bytes of data"):
        tox.load(small_onnx)


def test_wrong_weight_shape_is_refused(small_onnx):
    # a conv weight of the right byte size but the wrong channel count
    def edit(proto):
        t = next(t for t in proto.graph.initializer if t.name == "c1.weight")
        dims = list(t.dims)  # (6, 1, 5, 5)
        del t.dims[:]
        t.dims.extend([3, 2, 5, 5])
        assert np.prod(dims) == 150

    _rewrite(small_onnx, edit)
    with pytest.raises(ValueError, match=f"{small_onnx}"):
        tox.load(small_onnx)


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 4096)
    path = tox.export(models.lenet5(), folder / "lenet.onnx")

    def edit(proto):
        t = proto.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = onnx.TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", "0"), ("length", str(4 * 150))):
            e = t.external_data.add()
            e.key, e.value = k, v

    _rewrite(path, edit)
    with pytest.raises(ValueError, match=rf"{path}.*external data"):
        tox.load(path)


def test_external_data_inside_the_folder_loads(tmp_path):
    model = build("lenet5")
    path = tox.export(model, tmp_path / "lenet.onnx")
    proto = onnx.load(str(path))
    onnx.save_model(
        proto, str(path), save_as_external_data=True, location="weights.bin", size_threshold=0
    )
    loaded = tox.load(path).eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(outputs(loaded, x)[0], outputs(model, x)[0], rtol=1e-6)


def test_unsupported_op_names_op_node_and_the_supported_list(tmp_path):
    from onnx import TensorProto, helper

    node = helper.make_node("Hardmax", ["x"], ["y"], name="the_hardmax")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )  # fmt: skip
    path = tmp_path / "hardmax.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(ValueError, match=r"unsupported op Hardmax \(node 'the_hardmax'\).*Conv"):
        tox.load(path)


def test_missing_onnx_package_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'tinyconv\[onnx\]'"):
        tox.export(models.lenet5(), tmp_path / "x.onnx")


# ----------------------------------------------------------------------------- the commands
def test_cli_export_then_predict_evaluate_summary_viz_serve_read_the_onnx_file(tmp_path, capsys):
    from PIL import Image

    from tinyconv import data
    from tinyconv.cli import main
    from tinyconv.serve.server import load_playground

    model = build("simple_convnet")
    src = tmp_path / "m.safetensors"
    meta = {"classes": [str(i) for i in range(10)], "mean": [0.1307], "std": [0.3081],
            "input_shape": [1, 28, 28], "dataset": "mnist-sample"}  # fmt: skip
    tinyconv.save(model, src, metadata=meta)
    out = tmp_path / "m.onnx"
    assert main(["export", str(src), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    x, y = data.load("mnist-sample", "test")
    Image.fromarray(x[0, 0].astype(np.uint8), mode="L").save(tmp_path / "d.png")
    for f in (src, out):
        assert main(["predict", str(f), str(tmp_path / "d.png"), "--top-k", "2"]) == 0
    a, b = capsys.readouterr().out.strip().splitlines()
    assert a == b  # the same classes and probabilities from either file
    assert main(["summary", str(out)]) == 0
    table = capsys.readouterr().out
    assert f"Total params: {model.num_parameters():,}" in table and "OnnxConv" in table
    assert main(["evaluate", str(out), "--data", "mnist-sample", "--limit", "200"]) == 0
    onnx_eval = capsys.readouterr().out
    assert main(["evaluate", str(src), "--data", "mnist-sample", "--limit", "200"]) == 0
    st_eval = capsys.readouterr().out
    assert "accuracy" in onnx_eval
    assert st_eval.splitlines()[1:] == onnx_eval.splitlines()[1:]  # line 0 names the file
    assert main(["viz", "filters", str(out), "-o", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["viz", "features", str(out), "-o", str(tmp_path / "m.png")]) == 0
    play = load_playground(out)
    assert play.classes == meta["classes"]


def test_fused_conv_relu_max_pool_exports_as_three_nodes(tmp_path):
    pytest.importorskip("numba")
    from tinyconv.ops.fused import ConvReluMaxPool

    class Fused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3)

        def forward(self, x):
            w, b = self.conv.weight, self.conv.bias
            return ConvReluMaxPool.apply(x, w, b, padding=(1, 1), pool=2)

    model = Fused().eval()
    path = tox.export(model, tmp_path / "fused.onnx", (2, 8, 8))
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops == ["Conv", "Relu", "MaxPool", "Identity"]
    x = np.random.default_rng(0).standard_normal((3, 2, 8, 8)).astype(np.float32)
    assert rel_diff(outputs(model, x)[0], session(path).run(None, {"input": x})[0]) < RTOL
