"""tinyconv.save / tinyconv.load: safetensors files, bit-exact round trips, damaged files refused."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import tinyconv
import tinyconv.io as tio
from tinyconv import nn, optim
from tinyconv.io import ModelFileError


def mlp(seed: int = 0) -> nn.Sequential:
    tinyconv.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 4))


def x_batch(shape: tuple[int, ...], seed: int = 1, dtype: type = np.float32) -> tinyconv.Tensor:
    return tinyconv.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def outputs(model: nn.Module, x: tinyconv.Tensor) -> np.ndarray:
    with tinyconv.no_grad():
        return model(x).numpy()


class Scaled(nn.Module):
    """A user-defined module with a persistent buffer and a replaceable head."""

    def __init__(self, n_in: int, n_out: int, scale: float = 2.0) -> None:
        super().__init__()
        self.body = nn.Linear(n_in, 8)
        self.fc = nn.Linear(8, n_out)
        self.register_buffer("scale", tinyconv.tensor(np.full(8, scale, dtype=np.float32)))

    def forward(self, x: tinyconv.Tensor) -> tinyconv.Tensor:
        return self.fc(self.body(x) * self.scale)


# ------------------------------------------------------------------------------ round trips
def test_model_round_trip_is_bit_exact(tmp_path: Path) -> None:
    model = mlp()
    path = tmp_path / "mlp.safetensors"
    tinyconv.save(model, path, metadata={"epoch": 7, "note": "unit test"})
    loaded = tinyconv.load(path)
    assert type(loaded) is nn.Sequential and repr(loaded) == repr(model)
    x = x_batch((5, 8))
    np.testing.assert_array_equal(outputs(loaded, x), outputs(model, x))
    for (k, a), (k2, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k == k2 and a.dtype == b.dtype
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert tio.read_metadata(path) == {"epoch": 7, "note": "unit test"}


def test_cnn_round_trip_is_bit_exact(tmp_path: Path) -> None:
    tinyconv.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=3, padding=1),
        nn.Conv2d(4, 6, kernel_size=(1, 3), stride=2, bias=False),
        nn.Flatten(),
        nn.Linear(6 * 3 * 2, 3),
    )
    path = tmp_path / "cnn.safetensors"
    tinyconv.save(model, path)
    loaded = tinyconv.load(path)
    assert repr(loaded) == repr(model)
    x = x_batch((2, 1, 6, 6))
    np.testing.assert_array_equal(outputs(loaded, x), outputs(model, x))
    assert list(tio.load_state_dict(path)) == list(model.state_dict())


def test_cnn_with_batchnorm_keeps_running_statistics(tmp_path: Path) -> None:
    tinyconv.manual_seed(4)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 2 * 2, 2)
    )
    model.train()
    for s in range(3):  # move the running statistics away from their initial values
        model(x_batch((4, 2, 4, 4), seed=s))
    model.eval()
    path = tmp_path / "bn.safetensors"
    tinyconv.save(model, path)
    loaded = tinyconv.load(path)
    assert not loaded.training
    sd = loaded.state_dict()
    assert "1.running_mean" in sd and "1.running_var" in sd
    assert not np.allclose(sd["1.running_mean"].numpy(), 0.0)
    x = x_batch((3, 2, 4, 4), seed=9)
    np.testing.assert_array_equal(outputs(loaded, x), outputs(model, x))


def test_user_module_with_buffer_needs_custom_objects(tmp_path: Path) -> None:
    tinyconv.manual_seed(5)
    model = Scaled(4, 3, scale=0.5)
    model.scale.data[:] = np.arange(
        8, dtype=np.float32
    )  # buffer differs from its constructed value
    path = tmp_path / "scaled.safetensors"
    tinyconv.save(model, path)
    with pytest.raises(
        ModelFileError, match=r"scaled\.safetensors: cannot rebuild the model: unknown module class"
    ):
        tinyconv.load(path)
    loaded = tinyconv.load(path, custom_objects={"Scaled": Scaled})
    assert isinstance(loaded, Scaled)
    np.testing.assert_array_equal(loaded.scale.numpy(), np.arange(8, dtype=np.float32))
    x = x_batch((2, 4))
    np.testing.assert_array_equal(outputs(loaded, x), outputs(model, x))


def test_children_replaced_after_construction_round_trip(tmp_path: Path) -> None:
    tinyconv.manual_seed(6)
    seq = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    seq.add_module("1", nn.Linear(8, 5))  # model[1] replaced by a wider head
    net = Scaled(4, 3)
    net.fc = nn.Linear(8, 7)  # model.fc = nn.Linear(...)
    for name, model, width in (("seq", seq, 5), ("net", net, 7)):
        path = tmp_path / f"{name}.safetensors"
        tinyconv.save(model, path)
        loaded = tinyconv.load(path, custom_objects={"Scaled": Scaled})
        x = x_batch((3, 4))
        out = outputs(loaded, x)
        assert out.shape == (3, width)
        np.testing.assert_array_equal(out, outputs(model, x))


def test_state_dict_round_trip(tmp_path: Path) -> None:
    sd = OrderedDict(
        [
            ("w", np.random.default_rng(0).standard_normal((3, 4))),  # float64
            ("b", tinyconv.tensor(np.arange(4, dtype=np.float32))),
            ("steps", np.array(12, dtype=np.int64)),  # 0-d
            ("mask", np.array([True, False, True])),
            ("empty", np.zeros((0, 5), dtype=np.float16)),
            ("codes", np.arange(-3, 3, dtype=np.int8)),
            ("transposed", np.arange(6, dtype=np.int32).reshape(2, 3).T),  # not C-contiguous
        ]
    )
    path = tmp_path / "sd.safetensors"
    tinyconv.save(sd, path)
    loaded = tinyconv.load(path)
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(sd)
    for k, v in sd.items():
        expected = v.numpy() if isinstance(v, tinyconv.Tensor) else v
        assert isinstance(loaded[k], tinyconv.Tensor)
        assert loaded[k].dtype == expected.dtype and loaded[k].shape == expected.shape
        np.testing.assert_array_equal(loaded[k].numpy(), expected)
    arrays = tio.load_state_dict(path)
    assert arrays["w"].flags.writeable and arrays["transposed"].tolist() == [[0, 3], [1, 4], [2, 5]]


def test_module_state_dict_file_loads_into_a_fresh_model(tmp_path: Path) -> None:
    model, other = mlp(0), mlp(1)
    path = tmp_path / "weights.safetensors"
    tio.save_state_dict(model.state_dict(), path)
    other.load_state_dict(tinyconv.load(path))
    x = x_batch((2, 8))
    np.testing.assert_array_equal(outputs(other, x), outputs(model, x))


def test_float16_file_is_about_half_and_keeps_its_dtype(tmp_path: Path) -> None:
    tinyconv.manual_seed(8)
    model = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 32))
    p32, p16 = tmp_path / "f32.safetensors", tmp_path / "f16.safetensors"
    tinyconv.save(model, p32)
    model.half()
    tinyconv.save(model, p16)
    ratio = p16.stat().st_size / p32.stat().st_size
    assert 0.45 < ratio < 0.55, ratio
    loaded = tinyconv.load(p16)
    assert all(p.dtype == np.float16 for p in loaded.parameters())
    for a, b in zip(model.parameters(), loaded.parameters(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert tio.read_safetensors(p16)[1]["tinyconv.dtype"] == "float16"


def test_load_does_not_disturb_the_global_generator(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    tinyconv.save(mlp(), path)
    tinyconv.manual_seed(123)
    expected = tinyconv.default_rng().random(3)
    tinyconv.manual_seed(123)
    tinyconv.load(path)
    np.testing.assert_array_equal(tinyconv.default_rng().random(3), expected)


def test_optimizer_checkpoint_through_a_safetensors_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 2)) for _ in range(6)]

    def run(params: list, opt: optim.Optimizer, gs: list) -> None:
        for g in gs:
            params[0].grad = tinyconv.tensor(g, dtype=np.float64)
            opt.step()

    w = nn.Parameter(np.ones((3, 2)))
    opt = optim.Adam([w], lr=0.01, betas=(0.8, 0.9), amsgrad=True)
    run([w], opt, grads[:3])
    arrays, meta = optim.flatten_state_dict(opt.state_dict())
    path = tmp_path / "ckpt.safetensors"
    tio.save_state_dict({"w": w, **arrays}, path, metadata={"optimizer": meta})

    saved = tio.load_state_dict(path)
    w2 = nn.Parameter(saved.pop("w"))
    opt2 = optim.Adam([w2])
    opt2.load_state_dict(optim.unflatten_state_dict(saved, tio.read_metadata(path)["optimizer"]))
    assert opt2.param_groups[0]["betas"] == (0.8, 0.9) and opt2.state[w2]["step"] == 3
    run([w], opt, grads[3:])
    run([w2], opt2, grads[3:])
    np.testing.assert_array_equal(w.numpy(), w2.numpy())


# ---------------------------------------------------------------- interop with `safetensors`
def test_our_files_load_with_the_safetensors_package(tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.numpy import load_file

    model = mlp()
    path = tmp_path / "ours.safetensors"
    tinyconv.save(model, path, metadata={"acc": 0.5})
    theirs = load_file(str(path))
    assert set(theirs) == set(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(theirs[k], v.numpy())
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
    assert meta["tinyconv.kind"] == "module" and json.loads(meta["tinyconv.metadata"]) == {
        "acc": 0.5
    }
    assert json.loads(meta["tinyconv.architecture"])["class"] == "tinyconv.nn.module.Sequential"
    # a 0-d array stays 0-d, a float16 one float16
    tinyconv.save({"step": np.array(3), "h": np.ones(2, np.float16)}, tmp_path / "sd.safetensors")
    again = load_file(str(tmp_path / "sd.safetensors"))
    assert again["step"].shape == () and again["step"] == 3 and again["h"].dtype == np.float16


def test_safetensors_package_files_load_with_ours(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    arrays = {
        "a": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b": np.array([1, -2], dtype=np.int64),
        "c": np.array([[True]]),
        "d": np.ones((2, 2), dtype=np.float16),
        "e": np.zeros((0,), dtype=np.float64),
    }
    path = tmp_path / "theirs.safetensors"
    save_file(arrays, str(path), metadata={"author": "safetensors"})
    loaded = tinyconv.load(path)
    assert set(loaded) == set(arrays)
    for k, v in arrays.items():
        assert loaded[k].dtype == v.dtype
        np.testing.assert_array_equal(loaded[k].numpy(), v)
    assert tio.read_safetensors(path)[1] == {"author": "safetensors"}


def test_torch_weights_saved_with_safetensors_run_in_tinyconv(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.Linear(16, 16), torch.nn.Linear(16, 4)
    )
    path = tmp_path / "torch.safetensors"
    save_file(tmodel.state_dict(), str(path))
    model = mlp(1)
    model.load_state_dict(tio.load_state_dict(path))
    x = np.random.default_rng(2).standard_normal((5, 8)).astype(np.float32)
    expected = tmodel(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(outputs(model, tinyconv.tensor(x)), expected, rtol=1e-5, atol=1e-6)


def test_bfloat16_needs_ml_dtypes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from safetensors.torch import save_file

    values = torch.tensor([1.0, -2.5, 3.140625, 0.0078125], dtype=torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    save_file({"w": values}, str(path))
    if tio._bfloat16() is not None:
        arr = tio.load_state_dict(path)["w"]
        assert arr.dtype.name == "bfloat16"
        np.testing.assert_array_equal(arr.astype(np.float32), values.float().numpy())
        out = tmp_path / "bf16-again.safetensors"
        tio.save_state_dict({"w": arr}, out)  # and back: torch reads our bfloat16 bytes
        from safetensors.torch import load_file

        assert torch.equal(load_file(str(out))["w"], values)
    monkeypatch.setattr(tio, "_bfloat16", lambda: None)
    with pytest.raises(
        ModelFileError, match=r"bf16\.safetensors: tensor 'w' is bfloat16 .*pip install ml_dtypes"
    ):
        tio.load_state_dict(path)


# ------------------------------------------------------------------------ damaged files
@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "model.safetensors"
    tinyconv.save(mlp(), path)
    return path, path.read_bytes()


def header_length(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "little")


def craft(path: Path, header: dict, data: bytes, length: int | None = None) -> Path:
    text = json.dumps(header).encode()
    path.write_bytes((len(text) if length is None else length).to_bytes(8, "little") + text + data)
    return path


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        tinyconv.load(missing)
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        tio.load_state_dict(str(missing))


def test_truncated_files_are_refused(saved: tuple[Path, bytes], tmp_path: Path) -> None:
    _, raw = saved
    n = header_length(raw)
    for cut in (0, 3, 8, 8 + n // 2, 8 + n, 8 + n + 10, len(raw) - 1):
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(raw[:cut])
        with pytest.raises(ModelFileError, match=rf"cut{cut}\.safetensors: "):
            tinyconv.load(bad)
    bad = tmp_path / "short.safetensors"
    bad.write_bytes(raw[: len(raw) - 4])
    with pytest.raises(ModelFileError, match="only .* bytes follow the header .*truncated"):
        tinyconv.load(bad)


def test_a_flipped_data_byte_fails_the_checksum(saved: tuple[Path, bytes], tmp_path: Path) -> None:
    _, raw = saved
    bad = tmp_path / "flipped.safetensors"
    b = bytearray(raw)
    b[len(raw) - 5] ^= 0x01  # one bit of one weight
    bad.write_bytes(bytes(b))
    with pytest.raises(ModelFileError, match=r"flipped\.safetensors: checksum mismatch"):
        tinyconv.load(bad)


@pytest.mark.parametrize("kind", ["module", "state_dict"])
def test_every_single_flipped_byte_is_detected(tmp_path: Path, kind: str) -> None:
    tinyconv.manual_seed(0)
    small = nn.Sequential(nn.Linear(2, 2))
    path = tmp_path / "small.safetensors"
    tinyconv.save(small if kind == "module" else small.state_dict(), path)
    raw = path.read_bytes()
    bad = tmp_path / "bad.safetensors"
    for i in range(len(raw)):
        b = bytearray(raw)
        b[i] ^= 0x01
        bad.write_bytes(bytes(b))
        with pytest.raises(ModelFileError, match="bad.safetensors: "):
            tinyconv.load(bad)


def test_an_edited_architecture_fails_the_checksum(
    saved: tuple[Path, bytes], tmp_path: Path
) -> None:
    _, raw = saved
    n = header_length(raw)
    header = json.loads(raw[8 : 8 + n])
    arch = json.loads(header["__metadata__"]["tinyconv.architecture"])
    arch["modules"]["2"]["args"]["out_features"] = 5
    header["__metadata__"]["tinyconv.architecture"] = json.dumps(arch)
    bad = craft(tmp_path / "edited.safetensors", header, raw[8 + n :])
    with pytest.raises(ModelFileError, match=r"edited\.safetensors: checksum mismatch"):
        tinyconv.load(bad)
    del header["__metadata__"]["tinyconv.sha256"]
    bad = craft(tmp_path / "unsigned.safetensors", header, raw[8 + n :])
    with pytest.raises(
        ModelFileError, match=r"unsigned\.safetensors: the tinyconv checksum .* is missing"
    ):
        tinyconv.load(bad)


F32x4 = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}


@pytest.mark.parametrize(
    ("header", "data", "length", "message"),
    [
        (
            {"w": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 40]}},
            bytes(40),
            None,
            r"tensor 'w': shape \[3, 4\] of F32 needs 48 bytes, but its data_offsets \[0, 40\] span 40",
        ),
        (
            {"w": F32x4},
            bytes(8),
            None,
            r"tensor 'w': its bytes end at 16 but only 8 bytes follow the header",
        ),
        (
            {"a": F32x4, "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}},
            bytes(24),
            None,
            r"tensor 'b': data_offsets start at 8, expected 16 \(they overlap the previous tensor\)",
        ),
        (
            {"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}},
            bytes(16),
            None,
            r"tensor 'a': data_offsets start at 8, expected 0 \(they leave a gap\)",
        ),
        ({"w": F32x4}, bytes(20), None, r"4 stray bytes follow the last tensor"),
        (
            {"w": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}},
            bytes(4),
            None,
            r"tensor 'w': unknown dtype 'F8_E4M3'",
        ),
        (
            {"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}},
            bytes(16),
            None,
            r"tensor 'w': shape \[-4\] is not a list of non-negative integers",
        ),
        (
            {"w": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}},
            bytes(16),
            None,
            r"tensor 'w': data_offsets \[16, 0\] are not \[begin, end\]",
        ),
        (
            {"w": {"dtype": "F32", "shape": [4]}},
            bytes(16),
            None,
            r"tensor 'w': expected the keys dtype, shape and data_offsets",
        ),
        (
            {"__metadata__": {"epoch": 3}, "w": F32x4},
            bytes(16),
            None,
            r"__metadata__ must map strings to strings",
        ),
        ({"w": F32x4}, bytes(16), 10**6, r"header length of 1000000 bytes, but the file has only"),
        ({"w": F32x4}, bytes(16), 10, r"the header is not valid JSON"),
    ],
)
def test_header_lies_are_refused(
    tmp_path: Path, header: dict, data: bytes, length: int | None, message: str
) -> None:
    bad = craft(tmp_path / "lie.safetensors", header, data, length)
    with pytest.raises(ModelFileError, match=r"lie\.safetensors: (.* )?" + message):
        tinyconv.load(bad)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    bad = tmp_path / "dup.safetensors"
    bad.write_bytes(len(text).to_bytes(8, "little") + text + bytes(4))
    with pytest.raises(
        ModelFileError,
        match=r"dup\.safetensors: the header is not valid JSON \(duplicate key 'w'\)",
    ):
        tio.load_state_dict(bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, this is a plain text file and not a model at all\n", "header length of"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "header length of"),
        (
            b"\x08\x00\x00\x00\x00\x00\x00\x00[1, 2]  ",
            "not a safetensors file: the header is not a JSON object",
        ),
        (b"abc", "the file has 3 bytes, too few"),
    ],
)
def test_foreign_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "foreign.bin"
    bad.write_bytes(content)
    with pytest.raises(ModelFileError, match=r"foreign\.bin: .*" + message):
        tinyconv.load(bad)


def test_numpy_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "weights.npy"
    np.save(bad, np.ones(3))
    with pytest.raises(ValueError, match=r"weights\.npy: the first 8 bytes give a header length"):
        tinyconv.load(bad)


# ------------------------------------------------------------------------- atomic writes
def test_a_failed_write_leaves_the_old_file_intact(
    saved: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, raw = saved

    def write_half_then_fail(f, chunks) -> None:
        chunks = list(chunks)
        for chunk in chunks[: len(chunks) // 2]:
            f.write(chunk)
        raise OSError("No space left on device (simulated)")

    monkeypatch.setattr(tio, "_write_chunks", write_half_then_fail)
    with pytest.raises(OSError, match="simulated"):
        tinyconv.save(mlp(seed=99), path)
    assert path.read_bytes() == raw
    assert os.listdir(path.parent) == [path.name]  # no temporary file left behind
    fresh = path.parent / "fresh.safetensors"
    with pytest.raises(OSError, match="simulated"):
        tinyconv.save(mlp(seed=99), fresh)
    assert not fresh.exists() and os.listdir(path.parent) == [path.name]
    np.testing.assert_array_equal(
        outputs(tinyconv.load(path), x_batch((1, 8))), outputs(mlp(), x_batch((1, 8)))
    )


def test_a_failed_fsync_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.safetensors"

    def broken_fsync(fd: int) -> None:
        raise OSError("I/O error (simulated)")

    monkeypatch.setattr(tio.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="simulated"):
        tinyconv.save(mlp(), path)
    assert os.listdir(tmp_path) == []


def test_saved_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    tinyconv.save(mlp(), path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_errors(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="tinyconv.save expects a Module or a state dict"):
        tinyconv.save([np.ones(2)], tmp_path / "x.safetensors")
    with pytest.raises(
        TypeError, match="cannot save 'c': dtype complex128 has no safetensors code"
    ):
        tinyconv.save({"c": np.ones(2, dtype=complex)}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="metadata must be JSON-serialisable"):
        tinyconv.save(mlp(), tmp_path / "x.safetensors", metadata={"f": object()})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tinyconv.save(mlp(), tmp_path / "no" / "dir" / "x.safetensors")
    assert os.listdir(tmp_path) == []


@pytest.mark.gpu
def test_cupy_model_is_saved_from_the_gpu(tmp_path: Path) -> None:
    model = mlp().to("cuda")
    path = tmp_path / "gpu.safetensors"
    tinyconv.save(model, path)
    cpu = tinyconv.load(path)
    gpu = tinyconv.load(path, device="cuda")
    assert all(p.device == "cuda" for p in gpu.parameters())
    for a, b in zip(model.parameters(), cpu.parameters(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
