""".pth files read without unpickling (tinyconv.models.pth), `tinyconv convert`, and
``models.get(name, pretrained=True)`` from a local copy of torchvision's file (issue 23)."""

import hashlib
import os

import numpy as np
import pytest

import tinyconv
from tinyconv import models
from tinyconv.cli import main
from tinyconv.models import pretrained
from tinyconv.models.pth import PthError, read_pth

torch = pytest.importorskip("torch")


def test_read_pth_gives_torch_load_values_for_every_dtype_and_layout(tmp_path):
    g = torch.Generator().manual_seed(0)
    state = {
        "w": torch.randn(3, 4, generator=g),
        "t": torch.randn(4, 5, generator=g).t(),  # strided: a transposed view
        "s": torch.arange(10.0)[2:8:2],  # an offset and a step into a larger storage
        "h": torch.randn(6, generator=g).half(),
        "bf": torch.randn(2, 3, generator=g).bfloat16(),
        "d": torch.randn(2, generator=g).double(),
        "i": torch.arange(5, dtype=torch.int32),
        "n": torch.tensor(7),  # 0-d: BatchNorm's num_batches_tracked
        "b": torch.tensor([True, False]),
        "e": torch.zeros(0, 3),
        "p": torch.nn.Parameter(torch.ones(2)),
    }
    path = tmp_path / "all.pth"
    torch.save({"model": state, "epoch": 3, "lr": 0.5, "tags": ["a", "b"], "none": None}, path)
    ours = read_pth(path)
    ref = torch.load(path, weights_only=True)
    assert ours["epoch"] == 3 and ours["lr"] == 0.5 and ours["tags"] == ["a", "b"]
    assert ours["none"] is None
    for k, v in ref["model"].items():
        want = v.detach().float().numpy() if v.dtype == torch.bfloat16 else v.detach().numpy()
        got = ours["model"][k]
        assert got.shape == want.shape and got.dtype == want.dtype, k
        np.testing.assert_array_equal(got, want, err_msg=k)
        assert got.flags.c_contiguous and got.flags.writeable


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_hostile_pth_is_refused_and_runs_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.ones(2), "x": Evil()}, path)
    with pytest.raises(PthError, match=r"evil.pth: data.pkl asks for posix.system.*refused"):
        read_pth(path)
    assert main(["convert", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tinyconv convert: error:" in err and "posix.system" in err
    assert not (tmp_path / "pwned.txt").exists() and not (tmp_path / "evil.safetensors").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a zip at all", "not a zip archive from torch.save"),
        (b"PK\x03\x04" + b"\x00" * 40, "not a zip archive"),
    ],
)
def test_damaged_pth_files_say_what_is_wrong(tmp_path, content, message, capsys):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(PthError, match=message):
        read_pth(path)
    assert main(["convert", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinyconv convert: error: ") and "Traceback" not in err


def test_a_truncated_storage_is_named(tmp_path):
    import zipfile

    good = tmp_path / "good.pth"
    torch.save({"w": torch.ones(100)}, good)
    bad = tmp_path / "cut.pth"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[:40] if item.filename.endswith("data/0") else data)
    with pytest.raises(PthError, match=r"cut.pth: .*storage 0 holds 100 float32 values"):
        read_pth(bad)


# ------------------------------------------------------------------------ pretrained
def fake_torchvision_file(folder, name="resnet18"):
    """A .pth in torchvision's layout, named with its own hash (as torch.hub names files)."""
    tinyconv.manual_seed(1)
    model = models.get(name)
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    tmp = folder / "tmp.pth"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    path = folder / f"{name}-{digest}.pth"
    tmp.rename(path)
    return model, path


def test_pretrained_converts_a_local_torchvision_file_once(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TINYCONV_WEIGHTS", str(cache))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    want, pth = fake_torchvision_file(tmp_path / "torch" / "hub" / "checkpoints")
    monkeypatch.setitem(pretrained.TORCHVISION_FILES, "resnet18", pth.name)
    net = models.get("resnet18", pretrained=True)
    assert not net.training
    converted = cache / pth.name.replace(".pth", ".safetensors")
    assert converted.is_file()
    for k, v in want.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    pth.unlink()  # the second time reads the converted file alone
    again = models.get("resnet18", pretrained=True)
    np.testing.assert_array_equal(again.fc.weight.numpy(), want.fc.weight.numpy())


def test_pretrained_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYCONV_WEIGHTS", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(pretrained, "BASE_URL", "http://127.0.0.1:9/models/")  # refused
    with pytest.raises(OSError) as info:
        models.get("resnet18", pretrained=True)
    text = str(info.value)
    assert "cannot download http://127.0.0.1:9/models/resnet18-f37072fd.pth" in text
    assert f"copy that file into {tmp_path / 'cache'}" in text
    assert not list((tmp_path / "cache").glob("*.part"))


def test_a_local_file_with_the_wrong_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYCONV_WEIGHTS", str(tmp_path))
    torch.save({"w": torch.ones(1)}, tmp_path / "resnet18-f37072fd.pth")
    with pytest.raises(OSError, match="resnet18-f37072fd.pth: its SHA-256 starts .*, not f37072fd"):
        models.get("resnet18", pretrained=True)


def test_pretrained_refuses_other_heads_and_models_without_weights():
    with pytest.raises(ValueError, match="weights are for 1000 classes and 3 channels, not num"):
        models.get("resnet18", pretrained=True, num_classes=10)
    with pytest.raises(ValueError, match="no published weights for 'simple_convnet'"):
        models.get("simple_convnet", pretrained=True)
