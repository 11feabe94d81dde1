"""PyTorch weights in and out through safetensors, and the .pth converter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinyconv
import tinyconv.models as models
from tinyconv.cli import main
from tinyconv.models.torch_weights import export_torch_state_dict, load_torch_state_dict

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

import torch_reference_models as ref  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def randomize_torch_bn(tmodel: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in tmodel.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.num_batches_tracked.fill_(123)


def outputs_match(model, tmodel, shape=(2, 3, 32, 32)) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with tinyconv.no_grad():
        y = model.eval()(tinyconv.tensor(x)).numpy()
    with torch.no_grad():
        yt = tmodel.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, yt, rtol=1e-4, atol=1e-4 * np.abs(yt).max())


@pytest.fixture
def torch_resnet20(tmp_path):
    torch.manual_seed(0)
    t = ref.resnet20()
    randomize_torch_bn(t)
    path = tmp_path / "r20.safetensors"
    safetensors_torch.save_file(t.state_dict(), str(path))
    return t, path


def test_load_a_torch_safetensors_file(torch_resnet20):
    t, path = torch_resnet20
    m = models.resnet20()
    missing, unexpected = load_torch_state_dict(m, path)
    assert missing == [] and unexpected == []
    outputs_match(m, t)


def test_load_from_a_dict_of_torch_tensors_with_dataparallel_prefix():
    torch.manual_seed(1)
    t = ref.resnet18(num_classes=10)
    randomize_torch_bn(t)
    m = models.resnet18(num_classes=10)
    load_torch_state_dict(m, {f"module.{k}": v for k, v in t.state_dict().items()})
    outputs_match(m, t, (1, 3, 64, 64))


def test_one_error_lists_missing_unexpected_and_mismatched(torch_resnet20):
    t, _ = torch_resnet20
    sd = dict(t.state_dict())
    del sd["layer1.0.conv1.weight"]
    sd["extra.weight"] = torch.zeros(3)
    m = models.resnet20(num_classes=7)
    before = m.fc.weight.numpy().copy()
    with pytest.raises(ValueError) as err:
        load_torch_state_dict(m, sd)
    text = str(err.value)
    assert "does not fit ResNet" in text
    assert "missing (in the model, not in the state dict): layer1.0.conv1.weight" in text
    assert "unexpected (in the state dict, not in the model): extra.weight" in text
    assert "fc.weight: the state dict has (10, 64), the model (7, 64)" in text
    assert "fc.bias: the state dict has (10,), the model (7,)" in text
    assert "num_batches_tracked" not in text
    np.testing.assert_array_equal(m.fc.weight.numpy(), before)  # nothing was half-loaded


def test_exclude_keeps_a_new_head(torch_resnet20):
    t, path = torch_resnet20
    m = models.resnet20(num_classes=3)
    head = m.fc.weight.numpy().copy()
    load_torch_state_dict(m, path, exclude=["fc"])
    np.testing.assert_array_equal(m.fc.weight.numpy(), head)
    np.testing.assert_array_equal(m.conv1.weight.numpy(), t.conv1.weight.detach().numpy())


def test_non_strict_returns_the_differences():
    t = ref.resnet20()
    sd = {k: v for k, v in t.state_dict().items() if not k.startswith("fc.")}
    missing, unexpected = load_torch_state_dict(models.resnet20(), sd, strict=False)
    assert missing == ["fc.weight", "fc.bias"] and unexpected == []


def test_export_loads_into_torch_strictly(tmp_path):
    m = models.googlenet(num_classes=10)
    path = tmp_path / "g.safetensors"
    state = export_torch_state_dict(m, path)
    assert state["conv1.bn.num_batches_tracked"].dtype == np.int64
    t = ref.GoogLeNet(10)
    t.load_state_dict(safetensors_torch.load_file(str(path)), strict=True)
    outputs_match(m, t, (1, 3, 64, 64))


def test_round_trip_through_torch_names(tmp_path, torch_resnet20):
    t, path = torch_resnet20
    m = models.resnet20()
    load_torch_state_dict(m, path)
    export_torch_state_dict(m, tmp_path / "back.safetensors")
    back = safetensors_torch.load_file(str(tmp_path / "back.safetensors"))
    for k, v in t.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            torch.testing.assert_close(back[k], v, rtol=0, atol=0)


def test_pth_converter(tmp_path, capsys):
    """``tinyconv convert`` (and the old tools/ script, which forwards to it)."""
    t = ref.lenet5()
    pth = tmp_path / "lenet.pth"
    torch.save({"epoch": 3, "state_dict": t.state_dict()}, pth)
    assert main(["convert", str(pth), str(tmp_path / "x.safetensors")]) == 2
    assert "try --key state_dict" in capsys.readouterr().err
    assert main(["convert", str(pth), "--key", "state_dict"]) == 0
    assert f"wrote {tmp_path / 'lenet.safetensors'}" in capsys.readouterr().out
    m = models.lenet5()
    load_torch_state_dict(m, tmp_path / "lenet.safetensors")
    outputs_match(m, t, (2, 1, 32, 32))
    script = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "pth_to_safetensors.py"), str(pth),
         str(tmp_path / "y.safetensors"), "--key", "state_dict"],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    assert (tmp_path / "y.safetensors").read_bytes() == (
        tmp_path / "lenet.safetensors"
    ).read_bytes()


def test_against_torchvision(tmp_path):
    """Weights made by tinyconv, saved as safetensors, loaded into torchvision's own models."""
    torchvision = pytest.importorskip("torchvision")
    for name, size in (
        ("resnet18", 64),
        ("resnet50", 64),
        ("googlenet", 64),
        ("vgg11_bn", 32),
        ("alexnet", 224),
    ):
        m = getattr(models, name)()
        for mod in m.modules():  # non-trivial BatchNorm statistics
            if isinstance(mod, tinyconv.nn.BatchNorm2d):
                rng = np.random.default_rng(0)
                mod.running_mean.data = rng.normal(0, 0.1, mod.num_features).astype(np.float32)
                mod.running_var.data = rng.uniform(0.5, 1.5, mod.num_features).astype(np.float32)
        path = tmp_path / f"{name}.safetensors"
        export_torch_state_dict(m, path)
        kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
        t = getattr(torchvision.models, name)(weights=None, **kwargs)
        t.load_state_dict(safetensors_torch.load_file(str(path)), strict=True)
        outputs_match(m, t, (1, 3, size, size))
        print(f"{name}: tinyconv weights load into torchvision.models.{name}; outputs match")
