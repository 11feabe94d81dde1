"""``models.get(name, pretrained=True)`` for the newer zoo models (issue 20), offline.

torchvision's download host is out of reach here, so each model gets a stand-in file in
torchvision's layout (``torch.save`` of the state dict under torchvision's names), named with
its own hash as torch.hub names files, in PyTorch's cache: it must be checked, converted once
to safetensors and loaded with every value in place. Without the file the error names the URL
of torchvision's file and the folder to copy it into.
"""

import hashlib

import numpy as np
import pytest

import tinyconv
from tinyconv import models
from tinyconv.models import pretrained

torch = pytest.importorskip("torch")

NEW = {
    "mobilenet_v2": "mobilenet_v2-b0353104.pth",
    "mobilenet_v3_small": "mobilenet_v3_small-047dcff4.pth",
    "mobilenet_v3_large": "mobilenet_v3_large-8738ca79.pth",
    "efficientnet_b0": "efficientnet_b0_rwightman-7f5810bc.pth",
    "shufflenet_v2_x1_0": "shufflenetv2_x1-5666bf0f80.pth",
    "convnext_tiny": "convnext_tiny-983f1562.pth",
}


def test_the_newer_models_name_torchvisions_v1_files():
    for name, filename in NEW.items():
        assert pretrained.TORCHVISION_FILES[name] == filename


def stand_in_file(folder, name):
    """A .pth of a randomly initialised model under torchvision's names, named by its hash."""
    tinyconv.manual_seed(3)
    model = models.get(name)
    rng = np.random.default_rng(3)
    state = {}
    for k, v in models.torch_state_dict(model).items():
        arr = np.asarray(v)
        if k.endswith("running_var"):  # values unlike any default initialisation
            arr = rng.uniform(0.5, 1.5, arr.shape).astype(arr.dtype)
        elif arr.dtype.kind == "f":
            arr = (0.1 * rng.standard_normal(arr.shape)).astype(arr.dtype)
        state[k] = torch.from_numpy(arr.copy())
    tmp = folder / "tmp.pth"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    stem = NEW[name].rsplit("-", 1)[0]
    path = folder / f"{stem}-{digest}.pth"
    tmp.rename(path)
    return state, path


@pytest.mark.parametrize("name", list(NEW))
def test_pretrained_reads_a_local_torchvision_file(name, tmp_path, monkeypatch):
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    monkeypatch.setenv("TINYCONV_WEIGHTS", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    state, pth = stand_in_file(checkpoints, name)
    monkeypatch.setitem(pretrained.TORCHVISION_FILES, name, pth.name)
    net = models.get(name, pretrained=True)
    assert not net.training
    assert (tmp_path / "cache" / pth.name.replace(".pth", ".safetensors")).is_file()
    mine = models.torch_state_dict(net)
    assert sorted(mine) == sorted(state)
    for k, v in state.items():
        np.testing.assert_array_equal(np.asarray(mine[k]), v.numpy(), err_msg=k)
    x = tinyconv.tensor(np.random.default_rng(0).standard_normal((1, 3, 64, 64), np.float32))
    with tinyconv.no_grad():
        y = net(x).numpy()
    assert y.shape == (1, 1000) and np.isfinite(y).all() and y.std() > 0


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "convnext_tiny"])
def test_pretrained_offline_names_torchvisions_url_and_the_folder(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYCONV_WEIGHTS", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(pretrained, "BASE_URL", "http://127.0.0.1:9/models/")  # refused
    with pytest.raises(OSError) as info:
        models.get(name, pretrained=True)
    text = str(info.value)
    assert f"cannot download http://127.0.0.1:9/models/{NEW[name]}" in text
    assert f"copy that file into {tmp_path / 'cache'}" in text


def test_a_local_file_with_the_wrong_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYCONV_WEIGHTS", str(tmp_path))
    torch.save({"w": torch.ones(1)}, tmp_path / NEW["efficientnet_b0"])
    with pytest.raises(OSError, match="efficientnet_b0_rwightman-7f5810bc.pth: its SHA-256 starts"):
        models.get("efficientnet_b0", pretrained=True)
