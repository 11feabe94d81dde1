"""16-bit precision: float16/bfloat16 operations, half-size models, mixed-precision training.

Reference for a 16-bit operation: PyTorch in float32 on the same (16-bit) inputs, its result
rounded to the 16-bit dtype. tinyconv converts 16-bit inputs to float32, accumulates in
float32 and rounds once, so the two agree up to the float32 summation order: a result may sit
on the other side of a 16-bit rounding boundary, i.e. differ by one unit in the last place
(ulp) of the 16-bit format, relative 2^-10 for float16 and 2^-7 for bfloat16. The tests allow
exactly that, and require almost every element (>= 97 %) to be bit-identical.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import tinyconv
from tinyconv import amp, dtypes, nn
from tinyconv import functional as F

BF16 = dtypes.bfloat16()
DTYPES = [np.dtype(np.float16), BF16]
EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7}  # one ulp, relative (round to nearest: 1/2)


def _close_to_rounded(ours: np.ndarray, ref32: np.ndarray, dtype: np.dtype) -> None:
    """ours (16-bit) equals ref32 rounded to dtype, up to one ulp here and there."""
    assert ours.dtype == dtype
    ref = ref32.astype(dtype)
    a, b = ours.astype(np.float32), ref.astype(np.float32)
    tiny = float(np.abs(b).max()) * 2.0**-12  # sums that cancel to ~0 have no relative digits
    np.testing.assert_allclose(a, b, rtol=EPS[dtype.name], atol=tiny)
    assert np.mean(a == b) >= 0.97


def _rand(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0)])
def test_conv2d_16bit_is_float32_rounded(dtype: np.dtype, stride: int, padding: int) -> None:
    rng = np.random.default_rng(0)
    x, w, b = (
        _rand(rng, (3, 4, 9, 9), dtype),
        _rand(rng, (5, 4, 3, 3), dtype),
        _rand(rng, (5,), dtype),
    )
    xt, wt, bt = (tinyconv.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    dout = _rand(rng, y.shape, dtype)
    y.backward(tinyconv.tensor(dout))
    tx, tw, tb = (torch.tensor(a.astype(np.float32), requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding)
    ty.backward(torch.tensor(dout.astype(np.float32)))
    _close_to_rounded(y.numpy(), ty.detach().numpy(), dtype)
    _close_to_rounded(xt.grad.numpy(), tx.grad.numpy(), dtype)
    _close_to_rounded(wt.grad.numpy(), tw.grad.numpy(), dtype)
    _close_to_rounded(bt.grad.numpy(), tb.grad.numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_conv_transpose2d_16bit_is_float32_rounded(dtype: np.dtype) -> None:
    rng = np.random.default_rng(1)
    x, w, b = (
        _rand(rng, (2, 4, 5, 5), dtype),
        _rand(rng, (4, 3, 3, 3), dtype),
        _rand(rng, (3,), dtype),
    )
    xt, wt, bt = (tinyconv.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv_transpose2d(xt, wt, bt, stride=2, padding=1)
    dout = _rand(rng, y.shape, dtype)
    y.backward(tinyconv.tensor(dout))
    tx, tw, tb = (torch.tensor(a.astype(np.float32), requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, stride=2, padding=1)
    ty.backward(torch.tensor(dout.astype(np.float32)))
    for ours, ref in ((y, ty), (xt.grad, tx.grad), (wt.grad, tw.grad), (bt.grad, tb.grad)):
        _close_to_rounded(ours.numpy(), ref.detach().numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_linear_and_matmul_16bit_are_float32_rounded(dtype: np.dtype) -> None:
    rng = np.random.default_rng(2)
    # 600 rows: a bias gradient summed in 16 bits would be far off (bfloat16 stops at 256)
    x, w, b = _rand(rng, (600, 40), dtype), _rand(rng, (7, 40), dtype), _rand(rng, (7,), dtype)
    xt, wt, bt = (tinyconv.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.linear(xt, wt, bt)
    dout = _rand(rng, y.shape, dtype)
    y.backward(tinyconv.tensor(dout))
    tx, tw, tb = (torch.tensor(a.astype(np.float32), requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.linear(tx, tw, tb)
    ty.backward(torch.tensor(dout.astype(np.float32)))
    for ours, ref in ((y, ty), (xt.grad, tx.grad), (wt.grad, tw.grad), (bt.grad, tb.grad)):
        _close_to_rounded(ours.numpy(), ref.detach().numpy(), dtype)

    a, c = _rand(rng, (6, 300), dtype), _rand(rng, (300, 5), dtype)
    at, ct = tinyconv.tensor(a, requires_grad=True), tinyconv.tensor(c, requires_grad=True)
    p = at @ ct
    p.sum().backward()
    ta = torch.tensor(a.astype(np.float32), requires_grad=True)
    tc = torch.tensor(c.astype(np.float32), requires_grad=True)
    tp = ta @ tc
    tp.sum().backward()
    for ours, ref in ((p, tp), (at.grad, ta.grad), (ct.grad, tc.grad)):
        _close_to_rounded(ours.numpy(), ref.detach().numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1)])
def test_relu_and_max_pool_16bit_select_exactly(dtype, kernel, stride, padding) -> None:
    """Selections need no rounding: equal to PyTorch in float32, bit for bit, grads too
    (but for the sums where overlapping windows meet)."""
    rng = np.random.default_rng(4)
    x = _rand(rng, (2, 3, 8, 8), dtype)
    x[0, 0, :2, :2] = np.array([[-0.0, 0.0], [-np.inf, 1.5]]).astype(dtype)  # signed zeros, inf
    x[1, 1, :2, :2] = x[1, 1, 0, 0]  # a tie: the first element wins
    for layout in ("NCHW", "CNHW"):  # the channel-major layout a convolution returns
        xa = (
            x
            if layout == "NCHW"
            else np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
        )
        xt = tinyconv.tensor(xa, requires_grad=True)
        y = F.max_pool2d(F.relu(xt) - 0.25, kernel, stride, padding)  # negative values as well
        dout = _rand(rng, y.shape, dtype)
        y.backward(tinyconv.tensor(dout))
        tx = torch.tensor(x.astype(np.float32), requires_grad=True)
        ty = torch.nn.functional.max_pool2d(torch.relu(tx) - 0.25, kernel, stride, padding)
        ty.backward(torch.tensor(dout.astype(np.float32)))
        assert y.dtype == dtype and xt.grad.dtype == dtype
        np.testing.assert_array_equal(
            y.numpy().astype(np.float32), ty.detach().numpy().astype(dtype).astype(np.float32)
        )
        if kernel == stride:  # each input element gets one window's gradient: a selection
            np.testing.assert_array_equal(xt.grad.numpy().astype(np.float32), tx.grad.numpy())
        else:  # overlapping windows add their gradients up: rounded sums
            _close_to_rounded(xt.grad.numpy(), tx.grad.numpy(), dtype)


def test_16bit_sums_accumulate_in_float32() -> None:
    ones = np.ones((3072, 4), dtype=np.float32)  # 3072 is a float16 and a bfloat16 number
    for dt in DTYPES:
        t = tinyconv.tensor(ones.astype(dt), requires_grad=True)
        s = t.sum(dim=0)  # float16 alone stops at 2048 (+1 is lost), bfloat16 at 256
        assert s.dtype == dt and s.numpy().astype(np.float32).tolist() == [3072.0] * 4
        m = t.mean()
        assert m.dtype == dt and float(m.numpy().astype(np.float32)) == 1.0
    assert float(dtypes.sum32(np.ones(10_000, dtype=BF16))) == 9984.0  # 10^4 rounded to bf16
    assert float(np.ones(10_000, dtype=BF16).sum()) == 256.0  # what NumPy alone gives


def test_autocast_softmax_loss_and_batch_norm_run_in_float32() -> None:
    rng = np.random.default_rng(3)
    x = tinyconv.tensor(rng.standard_normal((8, 3, 4, 4)).astype(np.float16), requires_grad=True)
    bn = nn.BatchNorm2d(3)
    with amp.autocast("float16"):
        y = bn(x)
        z = F.relu(x)
        s = F.softmax(x.reshape(8, -1), dim=1)
    assert y.dtype == np.float32 and s.dtype == np.float32 and z.dtype == np.float16
    assert bn.running_mean.dtype == np.float32
    ref = torch.nn.functional.batch_norm(
        torch.tensor(x.numpy().astype(np.float32)), None, None, training=True
    )
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    assert x.grad.dtype == np.float16  # the gradient goes back in the input's dtype


def test_half_model_file_is_half_the_size_and_loads_back(tmp_path) -> None:
    tinyconv.manual_seed(0)
    model = tinyconv.models.get("simple_convnet")
    tinyconv.save(model, tmp_path / "fp32.safetensors")
    x = tinyconv.tensor(np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32))
    with tinyconv.no_grad():
        ref = model(x).numpy()
    model.half()
    assert all(p.dtype == np.float16 for p in model.parameters())
    tinyconv.save(model, tmp_path / "fp16.safetensors")
    model.to("bfloat16")
    tinyconv.save(model, tmp_path / "bf16.safetensors")
    size = {k: (tmp_path / f"{k}.safetensors").stat().st_size for k in ("fp32", "fp16", "bf16")}
    assert size["fp16"] <= 0.52 * size["fp32"] and size["bf16"] <= 0.52 * size["fp32"]
    for name, dt in (("fp16", np.float16), ("bf16", BF16)):
        loaded = tinyconv.load(tmp_path / f"{name}.safetensors")
        assert all(p.dtype == dt for p in loaded.parameters())
        with tinyconv.no_grad():
            out = loaded(x.to(dt))
        assert out.dtype == dt
        np.testing.assert_allclose(
            out.numpy().astype(np.float32), ref, rtol=0.05, atol=0.05 * np.abs(ref).max()
        )


def test_summary_reports_activation_memory_of_the_precision() -> None:
    model = tinyconv.models.get("simple_convnet")
    s32 = model.summary((1, 28, 28))
    s16 = model.summary((1, 28, 28), dtype="float16")
    sbf = model.summary((1, 28, 28), dtype="bfloat16")
    outputs = 30 * 24 * 24 * 2 + 30 * 12 * 12 + 4320 + 100 * 2 + 10  # conv, relu, pool, ...
    assert s32.activation_bytes == 4 * outputs
    assert s16.activation_bytes == sbf.activation_bytes == 2 * outputs
    assert "float16" in str(s16)


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of 1x6x6 images: a bright square in one of three places, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 1, 6, 6)).astype(np.float32)
    for i, c in enumerate(y):
        x[i, 0, 2 * c : 2 * c + 2, 1:3] += 2.0
    return x, y


@pytest.mark.parametrize("precision", ["fp16-mixed", "bf16-mixed"])
def test_fit_mixed_precision_learns_with_float32_master_weights(precision: str, tmp_path) -> None:
    x, y = _blobs(600, 0)
    xv, yv = _blobs(300, 1)
    tinyconv.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 3)
    )
    h = tinyconv.train.fit(
        model, (x, y), (xv, yv), epochs=3, lr=0.01, batch_size=32, seed=0, verbose=False,
        precision=precision, checkpoint_dir=tmp_path,
    )  # fmt: skip
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
    assert h.history["val_acc"][-1] >= 0.95
    meta = tinyconv.train.load_checkpoint(tinyconv.train.latest_checkpoint(tmp_path), model)
    if precision == "fp16-mixed":
        assert meta["scaler"]["scale"] > 0 and meta["scaler"]["growth_interval"] == 2000
    else:
        assert meta["scaler"] is None


def test_fit_precision_errors() -> None:
    x, y = _blobs(10, 0)
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        tinyconv.train.fit(nn.Linear(36, 3), (x.reshape(10, -1), y), precision="fp8", verbose=False)
    with pytest.raises(ValueError, match="keeps float32 master weights"):
        tinyconv.train.fit(
            nn.Linear(36, 3).half(), (x.reshape(10, -1), y), precision="fp16-mixed", verbose=False
        )


def test_fit_fp16_mixed_skips_overflowing_batches_instead_of_stopping() -> None:
    """A float16 forward overflow (an inf loss) skips that step; the run goes on and learns."""
    x, y = _blobs(320, 0)
    x[45] *= 1e5  # one image whose activations overflow float16 (but not float32)
    tinyconv.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 3))
    skipped = []

    class Watch(tinyconv.train.Callback):
        def on_batch_end(self, batch: int, logs: dict) -> None:
            skipped.append(not np.isfinite(logs["loss"]))

    with np.errstate(over="ignore", invalid="ignore"):
        h = tinyconv.train.fit(
            model, (x, y), epochs=2, lr=0.01, batch_size=32, seed=0, verbose=False,
            precision="fp16-mixed", callbacks=[Watch()],
        )  # fmt: skip
    assert sum(skipped) == 2  # the batch holding that image, in each epoch
    assert np.isfinite(h.history["loss"]).all()
    assert all(np.isfinite(p.numpy()).all() for p in model.parameters())
    with pytest.raises(tinyconv.train.TrainingDiverged):  # fp32: the same data is divergence
        with np.errstate(over="ignore", invalid="ignore"):
            x[:] = np.inf
            tinyconv.train.fit(model, (x, y), epochs=1, batch_size=32, verbose=False)


def test_bfloat16_without_ml_dtypes_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # import ml_dtypes now fails
    with pytest.raises(ImportError, match=r"tinyconv\[fp16\]"):
        dtypes.bfloat16()
    with pytest.raises(ImportError, match=r"tinyconv\[fp16\]"):
        nn.Linear(2, 2).to("bfloat16")
    with pytest.raises(ImportError, match=r"tinyconv\[fp16\]"):
        with amp.autocast("bfloat16"):
            pass
    nn.Linear(2, 2).half()  # float16 needs nothing


def test_cli_train_mixed_then_evaluate_and_predict_in_16_bits(
    tmp_path, capsys, monkeypatch
) -> None:
    """tinyconv train --precision fp16-mixed; evaluate/predict --precision fp16 | bf16."""
    import re

    from PIL import Image

    from tinyconv.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYCONV_DATA", str(tmp_path / "no-data"))  # the embedded sample
    argv = ["train", "--data", "mnist-sample", "--limit", "2000", "--epochs", "1", "--quiet",
            "--batch-size", "20", "--precision", "fp16-mixed", "--out", "run"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert json_settings(tmp_path / "run" / "run.json")["precision"] == "fp16-mixed"
    model = tinyconv.load(tmp_path / "run" / "model.safetensors")
    assert all(p.dtype == np.float32 for p in model.parameters())  # the master weights
    acc = {}
    for prec in ("fp32", "fp16", "bf16"):
        assert (
            main(["evaluate", "run/model.safetensors", "--precision", prec, "--limit", "500"]) == 0
        )
        out = capsys.readouterr().out
        acc[prec] = float(re.search(r"accuracy ([\d.]+)%", out).group(1))
        assert ("in " + prec in out) == (prec != "fp32")
    assert acc["fp32"] > 80
    assert (
        abs(acc["fp16"] - acc["fp32"]) <= 0.4 and abs(acc["bf16"] - acc["fp32"]) <= 0.8
    )  # 2, 4 images
    x, _ = tinyconv.data.load("mnist-sample", "test")
    Image.fromarray(x[0, 0]).save(tmp_path / "digit.png")
    tops = []
    for prec in ("fp32", "bf16"):
        assert main(["predict", "run/model.safetensors", "digit.png", "--precision", prec]) == 0
        tops.append(capsys.readouterr().out.split(":")[1].split("(")[0].strip())
    assert tops[0] == tops[1]


def json_settings(path) -> dict:
    import json

    return json.loads(path.read_text())["settings"]
