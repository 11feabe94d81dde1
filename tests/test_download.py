"""Downloading missing dataset files, without the network: file:// URLs and a local HTTP server.

The registry entry of a dataset is replaced (monkeypatch) by one whose URLs point at a mirror
folder in tmp_path holding small synthetic files, and whose checksums are theirs.
"""

import functools
import gzip
import hashlib
import http.server
import io
import sys
import tarfile
import threading

import numpy as np
import pytest

import tinyconv.data as data
from tinyconv.data import registry
from tinyconv.data.idx import write_idx


def _sha256_content(path):
    return "sha256:" + hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A mirror folder with a small synthetic MNIST, and the registry pointing at it."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = {}
    splits = {}
    for split, prefix, n in (("train", "train", 50), ("test", "t10k", 20)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        arrays[split] = (images, labels)
        files = []
        for role, kind, a in (("images", "idx3", images), ("labels", "idx1", labels)):
            name = f"{prefix}-{role}-{kind}-ubyte.gz"
            write_idx(folder / name, a, compress=True)
            files.append(registry.FileSpec(name, _sha256_content(folder / name), role))
        splits[split] = tuple(files)
    spec = registry.DATASETS["mnist"].replace(splits=splits, urls=(folder.as_uri() + "/",))
    monkeypatch.setitem(registry.DATASETS, "mnist", spec)
    return folder, arrays, spec


def test_download_from_file_url(mirror, tmp_path):
    folder, arrays, spec = mirror
    root = tmp_path / "data"
    x, y = data.load("mnist", "train", data_dir=root)
    assert x.shape == (50, 1, 28, 28) and y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 0], arrays["train"][0])
    np.testing.assert_array_equal(y, arrays["train"][1])
    stored = sorted(p.name for p in (root / "mnist").iterdir())
    assert stored == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]  # no .part left
    # now present: loads with download=False
    x2, _ = data.load("mnist", "train", data_dir=root, download=False)
    np.testing.assert_array_equal(x, x2)
    assert not data.available("mnist", root)  # the test split is still missing
    data.load("mnist", "test", data_dir=root)
    assert data.available("mnist", root) and data.default_dataset(root) == "mnist"


def test_next_mirror_is_tried(mirror, tmp_path, monkeypatch):
    folder, _, spec = mirror
    urls = ((tmp_path / "no-such-mirror").as_uri() + "/", folder.as_uri() + "/")
    monkeypatch.setitem(registry.DATASETS, "mnist", spec.replace(urls=urls))
    x, _ = data.load("mnist", "test", data_dir=tmp_path / "data")
    assert x.shape == (20, 1, 28, 28)


def test_corrupt_download_is_rejected(mirror, tmp_path):
    folder, _, spec = mirror
    good = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    bad = bytearray(good)
    bad[-1] ^= 1
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(bad)))
    root = tmp_path / "data"
    with pytest.raises(data.ChecksumError, match=r"t10k-labels-idx1-ubyte\.gz") as err:
        data.load("mnist", "test", data_dir=root)
    msg = str(err.value)
    assert spec.splits["test"][1].checksum.split(":")[1] in msg  # expected
    assert hashlib.sha256(bytes(bad)).hexdigest() in msg  # actual
    assert "rejected" in msg and folder.as_uri() in msg
    assert sorted(p.name for p in (root / "mnist").iterdir()) == ["t10k-images-idx3-ubyte.gz"]


def test_truncated_download_is_rejected(mirror, tmp_path):
    folder, _, spec = mirror
    raw = (folder / "t10k-images-idx3-ubyte.gz").read_bytes()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(data.ChecksumError, match=r"t10k-images-idx3-ubyte\.gz.*truncated") as err:
        data.load("mnist", "test", data_dir=tmp_path / "data")
    assert spec.splits["test"][0].checksum in str(err.value)
    assert list((tmp_path / "data" / "mnist").iterdir()) == []


def test_offline_message(mirror, tmp_path, monkeypatch):
    _, _, spec = mirror
    # port 9 on the loopback: nothing listens, the connection is refused at once
    monkeypatch.setitem(
        registry.DATASETS, "mnist", spec.replace(urls=("http://127.0.0.1:9/mnist/",))
    )
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    root = tmp_path / "data"
    pytest.importorskip("pooch")
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load("mnist", "train", data_dir=root)
    msg = str(err.value)
    for part in (
        "dataset 'mnist' (train) not found",
        "missing train-images-idx3-ubyte.gz",  # the first file; the download stops there
        f"in {root / 'mnist'}",
        "download failed (127.0.0.1:9: connection refused)",
        "download them from http://127.0.0.1:9/mnist/ into",
        "set TINYCONV_DATA",
        "'mnist-sample'",
    ):
        assert part in msg
    assert "\n" not in msg  # one line, for the command line
    assert isinstance(err.value, FileNotFoundError)


def test_message_without_download(mirror, tmp_path):
    root = tmp_path / "data"
    with pytest.raises(data.DatasetNotFoundError, match=r"download=False") as err:
        data.load("mnist", "test", data_dir=root, download=False)
    msg = str(err.value)
    assert "missing t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in " in msg
    assert not root.exists()  # nothing created


def test_message_without_pooch(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)  # as if not installed
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load("fashion-mnist", "test", data_dir=tmp_path)
    msg = str(err.value)
    assert "pip install 'tinyconv[data]'" in msg
    assert "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" in msg
    assert str(tmp_path / "fashion-mnist") in msg


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_mirror(mirror, monkeypatch):
    """The mirror folder served over HTTP on 127.0.0.1 (no outside network)."""
    folder, arrays, spec = mirror
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    yield url, arrays, spec
    server.shutdown()
    server.server_close()


def test_download_over_http_with_pooch(http_mirror, tmp_path, monkeypatch, capsys):
    pytest.importorskip("pooch")
    url, arrays, spec = http_mirror
    monkeypatch.setitem(registry.DATASETS, "mnist", spec.replace(urls=(url + "missing/", url)))
    x, y = data.load("mnist", "test", data_dir=tmp_path / "data")
    np.testing.assert_array_equal(x[:, 0], arrays["test"][0])
    np.testing.assert_array_equal(y, arrays["test"][1])
    err = capsys.readouterr().err
    assert f"downloading {url}t10k-images-idx3-ubyte.gz -> {tmp_path / 'data' / 'mnist'}" in err


# ------------------------------------------------------------------ CIFAR-10: one archive
def _cifar_archive(tmp_path, n=8):
    """A cifar-10-binary.tar.gz with small synthetic batches; registry entry with their MD5s."""
    spec = registry.DATASETS["cifar10"]
    buf = io.BytesIO()
    splits = {}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        members = {"batches.meta.txt": "\n".join(spec.classes).encode()}
        for split, files in spec.splits.items():
            new = []
            for k, f in enumerate(files):
                labels = (np.arange(n) + k) % 10
                records = np.zeros((n, 3073), np.uint8)
                records[:, 0] = labels
                records[:, 1:] = 10 * k + 1
                raw = records.tobytes()
                members[f.name] = raw
                new.append(registry.FileSpec(f.name, "md5:" + hashlib.md5(raw).hexdigest(), f.role))
            splits[split] = tuple(new)
        for name, content in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(buf.getvalue())
    md5 = "md5:" + hashlib.md5(buf.getvalue()).hexdigest()
    return archive, spec.replace(splits=splits, archive=(archive.name, md5, (archive.as_uri(),)))


def test_cifar_archive_download(tmp_path, monkeypatch):
    archive, spec = _cifar_archive(tmp_path)
    monkeypatch.setitem(registry.DATASETS, "cifar10", spec)
    root = tmp_path / "data"
    x, y = data.load("cifar10", "train", data_dir=root)
    assert x.shape == (40, 3, 32, 32) and y.tolist()[8:12] == [1, 2, 3, 4]
    assert x[8].min() == x[8].max() == 11  # batch 2
    folder = root / "cifar-10-batches-bin"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin", "batches.meta.txt"]
    )
    assert not (root / archive.name).exists()  # the archive is removed after extraction
    xt, _ = data.load("cifar10", "test", data_dir=root, download=False)
    assert xt.shape == (8, 3, 32, 32)


def test_cifar_corrupt_archive_is_rejected(tmp_path, monkeypatch):
    archive, spec = _cifar_archive(tmp_path)
    name, md5, urls = spec.archive
    wrong = "md5:" + "0" * 32
    monkeypatch.setitem(registry.DATASETS, "cifar10", spec.replace(archive=(name, wrong, urls)))
    with pytest.raises(data.ChecksumError, match=r"cifar-10-binary\.tar\.gz") as err:
        data.load("cifar10", "test", data_dir=tmp_path / "data")
    assert "expected md5 " + "0" * 32 in str(err.value) and md5[4:] in str(err.value)
    assert not (tmp_path / "data" / name).exists()


# ------------------------------------------------------------------ the real registry
def test_registry_entries_are_well_formed():
    for spec in registry.DATASETS.values():
        assert set(spec.splits) == {"train", "test"} and len(spec.classes) == 10
        assert len(spec.mean) == len(spec.std) == spec.shape[0]
        for files in spec.splits.values():
            for f in files:
                algo, digest = f.checksum.split(":")
                assert (algo, len(digest)) in {("sha256", 64), ("md5", 32)}
                int(digest, 16)
        urls = list(spec.urls) + (list(spec.archive[2]) if spec.archive else [])
        assert all(u.startswith(("https://", "http://")) for u in urls)
        assert (spec.fmt == "sample-npz") == (not urls)
    assert registry.DATASETS["cifar10"].archive[1] == "md5:c32a1d4ab5d03f1284b67883e8d87530"
    assert registry.DATASETS["mnist"].urls[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
