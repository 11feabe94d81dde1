"""tinyconv.data: the IDX and CIFAR-10 readers, the real datasets' known facts, checksums,
the embedded sample, and ImageFolder."""

import functools
import gzip
import hashlib
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

import tinyconv.data as data
from tinyconv.data import registry
from tinyconv.data.idx import parse_idx, read_idx, write_idx
from tinyconv.data.sample import sample_path

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@functools.lru_cache(maxsize=4)
def _load(name, split, root):
    """Real datasets are read once per test session (each read decompresses up to 47 MB)."""
    return data.load(name, split, data_dir=root, download=False)


# ------------------------------------------------------------------ real MNIST / Fashion-MNIST
def test_mnist_train_facts(data_dir):
    x, y = _load("mnist", "train", str(data_dir))
    assert x.shape == (60000, 1, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.int64
    assert np.bincount(y, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert round(float((x / 255.0).mean()), 4) == 0.1307
    assert round(float((x / 255.0).std()), 4) == 0.3081
    assert x.flags.writeable and x.flags.c_contiguous


def test_mnist_test_facts(data_dir):
    x, y = _load("mnist", "test", str(data_dir))
    assert x.shape == (10000, 1, 28, 28)
    assert np.bincount(y, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert round(float((x / 255.0).mean()), 4) == 0.1325


def test_fashion_mnist_facts(data_dir):
    x, y = _load("fashion-mnist", "train", str(data_dir))
    assert x.shape == (60000, 1, 28, 28) and y.shape == (60000,)
    assert y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert np.bincount(y).tolist() == [6000] * 10
    assert round(float((x / 255.0).mean()), 4) == 0.2860
    xt, yt = data.load("fashion-mnist", "test", data_dir=data_dir, download=False)
    assert xt.shape == (10000, 1, 28, 28)
    assert np.bincount(yt).tolist() == [1000] * 10
    assert yt[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]


def test_data_dir_from_environment(data_dir, monkeypatch):
    monkeypatch.setenv("TINYCONV_DATA", str(data_dir))
    assert data.data_dir() == Path(data_dir)
    x, y = data.load("mnist", "test", download=False)
    assert len(x) == 10000 and data.default_dataset() == "mnist"


def test_registry_checksums_match_the_shared_files(data_dir):
    """The registry's sha256 values are those of the real files' decompressed content."""
    for name in ("mnist", "fashion-mnist"):
        spec = registry.DATASETS[name]
        for files in spec.splits.values():
            for f in files:
                content = gzip.decompress((data_dir / spec.folder / f.name).read_bytes())
                assert f.checksum == "sha256:" + hashlib.sha256(content).hexdigest()


def test_raw_decompressed_files_load_the_same(data_dir, tmp_path):
    """An IDX file may be stored decompressed (name without .gz): same arrays, same checksum."""
    (tmp_path / "mnist").mkdir()
    for f in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        raw = gzip.decompress((data_dir / "mnist" / f"{f}.gz").read_bytes())
        (tmp_path / "mnist" / f).write_bytes(raw)
    x, y = data.load("mnist", "test", data_dir=tmp_path, download=False)
    x0, y0 = _load("mnist", "test", str(data_dir))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


def test_truncated_and_altered_real_files(data_dir, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    images = (data_dir / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()
    labels = gzip.decompress((data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    expected_images = registry.DATASETS["mnist"].splits["test"][0].checksum.split(":")[1]
    expected_labels = registry.DATASETS["mnist"].splits["test"][1].checksum.split(":")[1]
    # a truncated download of the images
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(images[: len(images) // 2])
    (folder / "t10k-labels-idx1-ubyte").write_bytes(labels)
    with pytest.raises(data.ChecksumError, match="t10k-images-idx3-ubyte.gz") as err:
        data.load("mnist", "test", data_dir=tmp_path, download=False)
    assert expected_images in str(err.value) and "truncated" in str(err.value)
    # intact images, one label changed
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(images)
    altered = bytearray(labels)
    altered[8] = (altered[8] + 1) % 10
    (folder / "t10k-labels-idx1-ubyte").write_bytes(bytes(altered))
    with pytest.raises(data.ChecksumError, match="t10k-labels-idx1-ubyte") as err:
        data.load("mnist", "test", data_dir=tmp_path, download=False)
    msg = str(err.value)
    assert expected_labels in msg
    assert hashlib.sha256(bytes(altered)).hexdigest() in msg  # the actual checksum too


# ------------------------------------------------------------------ IDX reader
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, compress):
    a = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype == "uint8":
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, a, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_idx_header_layout():
    raw = struct.pack(">HBBIII", 0, 0x08, 3, 2, 2, 3) + bytes(range(12))
    a = parse_idx(raw, expected_magic=2051)
    assert a.shape == (2, 2, 3) and a[1, 1, 2] == 11
    assert int.from_bytes(raw[:4], "big") == 2051


def test_idx_gzip_detected_by_content_not_name(tmp_path):
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    write_idx(tmp_path / "plain-name", a, compress=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-name"), a)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"PK\x03\x04" + bytes(12), r"not an IDX file: magic number 0x504b0304"),
        (struct.pack(">HBBI", 0, 0x07, 1, 3) + bytes(3), r"not an IDX file"),
        (struct.pack(">HBBI", 0, 0x08, 1, 5) + bytes(3), r"size 11 bytes .* need 13 .*truncated"),
        (struct.pack(">HBBI", 0, 0x08, 1, 3) + bytes(4), r"need 11 .*trailing bytes"),
        (struct.pack(">HBBII", 0, 0x08, 2, 3, 0), r"a dimension is 0"),
        (struct.pack(">HBB", 0, 0x08, 3) + bytes(4), r"truncated header"),
        (b"\x00\x00", r"only 2 bytes"),
    ],
)
def test_idx_errors_name_the_file(tmp_path, raw, message):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(data.IdxFormatError, match=message) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_idx_expected_magic(tmp_path):
    path = tmp_path / "labels"
    write_idx(path, np.zeros(3, np.uint8))
    with pytest.raises(
        data.IdxFormatError, match=r"magic number 2049 \(0x00000801\), expected 2051"
    ):
        read_idx(path, expected_magic=2051)


def test_idx_checksum_checked_before_parsing(tmp_path):
    path = tmp_path / "x.gz"
    write_idx(path, np.arange(10, dtype=np.uint8), compress=True)
    good = "sha256:" + hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
    assert read_idx(path, good).tolist() == list(range(10))
    bad = "sha256:" + "0" * 64
    with pytest.raises(
        data.ChecksumError, match=r"x\.gz: checksum mismatch.*expected sha256 0{64}"
    ):
        read_idx(path, bad)


# ------------------------------------------------------------------ CIFAR-10 binary reader
def cifar_records(n, start=0):
    """n synthetic CIFAR-10 records: label (i % 10), pixel (c, h, w) = (i + 50c + 3h + w) % 256."""
    i = np.arange(start, start + n)[:, None, None, None]
    c, h, w = np.ogrid[:3, :32, :32]
    images = ((i + 50 * c + 3 * h + w) % 256).astype(np.uint8)  # (n, 3, 32, 32)
    labels = (np.arange(start, start + n) % 10).astype(np.uint8)
    records = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1)  # (n, 3073)
    return records.tobytes(), images, labels


def test_cifar_record_layout():
    """One record: label byte, then the R, G and B planes, each 32 rows of 32 bytes."""
    rec = bytearray(3073)
    rec[0] = 3
    rec[1 + 0 * 1024 + 5 * 32 + 7] = 11  # R at row 5, col 7
    rec[1 + 1 * 1024 + 0 * 32 + 31] = 22  # G at row 0, col 31
    rec[1 + 2 * 1024 + 31 * 32 + 0] = 33  # B at row 31, col 0
    images, labels = data.parse_cifar10(bytes(rec))
    assert images.shape == (1, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [3] and labels.dtype == np.int64
    assert images[0, 0, 5, 7] == 11 and images[0, 1, 0, 31] == 22 and images[0, 2, 31, 0] == 33
    assert int(images.sum()) == 66


def test_cifar_full_size_batch(tmp_path):
    """A full-size synthetic batch (10,000 records, 30.7 MB) parses record for record."""
    raw, images, labels = cifar_records(10000)
    path = tmp_path / "test_batch.bin"
    path.write_bytes(raw)
    assert path.stat().st_size == 30_730_000
    x, y = data.read_cifar10(path)
    assert x.shape == (10000, 3, 32, 32) and y.shape == (10000,)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert np.bincount(y).tolist() == [1000] * 10


def _cifar_spec(tmp_path, per_batch):
    """Write 5 small training batches and a test batch; a registry entry with their MD5s."""
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    spec = registry.DATASETS["cifar10"]
    splits = {}
    for split, files in spec.splits.items():
        new = []
        for k, f in enumerate(files):
            raw, _, _ = cifar_records(per_batch[split], start=1000 * k)
            (folder / f.name).write_bytes(raw)
            new.append(registry.FileSpec(f.name, "md5:" + hashlib.md5(raw).hexdigest(), f.role))
        splits[split] = tuple(new)
    return spec.replace(splits=splits)


def test_cifar_load_concatenates_batches_in_order(tmp_path, monkeypatch):
    monkeypatch.setitem(
        registry.DATASETS, "cifar10", _cifar_spec(tmp_path, {"train": 40, "test": 30})
    )
    x, y = data.load("cifar10", "train", data_dir=tmp_path, download=False)
    assert x.shape == (200, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    expected = np.concatenate([cifar_records(40, start=1000 * k)[1] for k in range(5)])
    np.testing.assert_array_equal(x, expected)
    assert y[40:45].tolist() == [0, 1, 2, 3, 4]  # batch 2 starts at record 1000
    xt, yt = data.load("cifar-10", "test", data_dir=tmp_path, download=False)
    assert xt.shape == (30, 3, 32, 32)
    assert data.classes("cifar10")[6] == "frog" and len(data.classes("cifar10")) == 10


def test_cifar_official_sizes_and_md5_check(tmp_path):
    spec = registry.DATASETS["cifar10"]
    assert spec.sizes == {"train": 50000, "test": 10000}
    assert len(spec.splits["train"]) * 10000 == 50000  # five batches of 10,000 records
    # a synthetic file fails the official MD5; the error names file and expected MD5
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    (folder / "test_batch.bin").write_bytes(cifar_records(10)[0])
    with pytest.raises(data.ChecksumError, match=r"test_batch\.bin") as err:
        data.load("cifar10", "test", data_dir=tmp_path, download=False)
    assert "md5 803d5f7f4d78ea53de84dbe85f74fb6d" in str(err.value)


def test_cifar_malformed_files(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(cifar_records(3)[0][:-1])
    with pytest.raises(ValueError, match=r"data_batch_1\.bin: 9,218 bytes is not a whole number"):
        data.read_cifar10(path)
    raw = bytearray(cifar_records(3)[0])
    raw[3073] = 12  # label of record 1
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"data_batch_1\.bin: record 1 has label 12"):
        data.read_cifar10(path)


# ------------------------------------------------------------------ names, classes, data_dir
def test_names_and_classes():
    assert data.names() == ["mnist", "fashion-mnist", "cifar10", "mnist-sample"]
    assert data.classes("mnist") == [str(d) for d in range(10)]
    assert data.classes("Fashion_MNIST")[0] == "T-shirt/top"
    assert data.classes("fashion-mnist")[9] == "Ankle boot"
    assert data.normalization("cifar10") == ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet': expected one of mnist, "):
        data.load("imagenet")
    with pytest.raises(ValueError, match=r"unknown split 'val' for dataset 'mnist'"):
        data.load("mnist", "val")


def test_data_dir_defaults(monkeypatch):
    monkeypatch.setenv("TINYCONV_DATA", "/somewhere/data")
    assert data.data_dir() == Path("/somewhere/data")
    monkeypatch.delenv("TINYCONV_DATA")
    platformdirs = pytest.importorskip("platformdirs")
    assert data.data_dir() == Path(platformdirs.user_cache_dir("tinyconv", appauthor=False))
    monkeypatch.setitem(sys.modules, "platformdirs", None)  # as if not installed
    assert data.data_dir() == Path.home() / ".cache" / "tinyconv"


# ------------------------------------------------------------------ the embedded sample
def test_sample_loads_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYCONV_DATA", str(tmp_path / "nothing-here"))

    def no_network(*args, **kwargs):
        raise AssertionError("the sample must not download anything")

    monkeypatch.setattr("tinyconv.data.download.fetch_url", no_network)
    x, y = data.load("mnist-sample", "train")
    assert x.shape == (5000, 1, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [500] * 10
    xt, yt = data.load("mnist-sample", "test")
    assert xt.shape == (1000, 1, 28, 28) and np.bincount(yt).tolist() == [100] * 10
    assert data.classes("mnist-sample") == data.classes("mnist")
    assert data.default_dataset() == "mnist-sample"
    assert 0.10 < (x / 255).mean() < 0.16  # MNIST-like: mostly black background
    assert not (tmp_path / "nothing-here").exists()


def test_sample_file_and_attribution():
    path = sample_path()
    assert path.stat().st_size < 2_000_000
    expected = registry.DATASETS["mnist-sample"].splits["train"][0].checksum
    assert expected == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    text = (path.parent / "ATTRIBUTION").read_text()
    for words in ("Yann LeCun", "Corinna Cortes", "Burges", "CC BY-SA 3.0"):
        assert words in text
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(
            f"{s}_{k}" for s in ("train", "test") for k in ("images", "labels", "index")
        )


def test_sample_is_real_mnist(data_dir):
    from tinyconv.data.sample import load_sample

    for split in ("train", "test"):
        x, y, index = load_sample(split, with_index=True)
        full_x, full_y = _load("mnist", split, str(data_dir))
        assert np.all(np.diff(index) > 0)  # original order kept, no repeats
        np.testing.assert_array_equal(x, full_x[index])
        np.testing.assert_array_equal(y, full_y[index])


def test_default_dataset(data_dir, tmp_path):
    assert data.default_dataset(data_dir) == "mnist"
    assert data.default_dataset(tmp_path) == "mnist-sample"
    (tmp_path / "mnist").mkdir()
    for f in list((data_dir / "mnist").glob("t10k-*"))[:1]:  # incomplete: one file only
        shutil.copy(f, tmp_path / "mnist")
    assert data.default_dataset(tmp_path) == "mnist-sample"
    assert data.available("mnist-sample", tmp_path) and data.available("mnist", data_dir)


# ------------------------------------------------------------------ your own images
def _png(path, mode, size, color):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_image_folder(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    _png(tmp_path / "b_cat" / "1.png", "L", (50, 40), 200)
    _png(tmp_path / "b_cat" / "2.PNG", "RGB", (28, 28), (255, 0, 0))
    _png(tmp_path / "a_dog" / "x.png", "RGBA", (10, 10), (0, 0, 0, 0))  # transparent
    Image.new("RGB", (30, 30), (0, 0, 255)).save(tmp_path / "a_dog" / "y.jpg", quality=95)
    (tmp_path / "a_dog" / "notes.txt").write_text("not an image")
    _png(tmp_path / "a_dog" / ".hidden.png", "L", (5, 5), 0)
    ds = data.ImageFolder(tmp_path, size=(28, 28), channels=1)
    assert ds.classes == ["a_dog", "b_cat"]
    assert ds.labels.tolist() == [0, 0, 1, 1] and ds.labels.dtype == np.int64
    assert ds.images.shape == (4, 1, 28, 28) and ds.images.dtype == np.uint8
    assert [p.name for p in ds.paths] == ["x.png", "y.jpg", "1.png", "2.PNG"]
    assert np.all(ds.images[0] == 255)  # transparent -> white background
    assert abs(int(ds.images[1].mean()) - 29) <= 2  # blue -> grey 0.114 * 255 = 29 (JPEG)
    assert np.all(ds.images[2] == 200)  # grey 200 survives resizing 50x40 -> 28x28
    assert np.all(ds.images[3] == 76)  # red -> grey: 0.299 * 255 = 76
    rgb, labels, classes = data.load_folder(tmp_path, size=32, channels=3)
    assert rgb.shape == (4, 3, 32, 32) and classes == ["a_dog", "b_cat"]
    assert rgb[3, :, 0, 0].tolist() == [255, 0, 0]  # channel order R, G, B
    x, y = ds[2]
    assert x.shape == (1, 28, 28) and y == 1 and len(ds) == 4


def test_image_folder_classes_and_errors(tmp_path):
    pytest.importorskip("PIL")
    _png(tmp_path / "3" / "a.png", "L", (28, 28), 0)
    _png(tmp_path / "7" / "b.png", "L", (28, 28), 0)
    ds = data.ImageFolder(tmp_path, classes=data.classes("mnist"))
    assert ds.labels.tolist() == [3, 7] and len(ds.classes) == 10
    with pytest.raises(ValueError, match=r"subfolders \['7'\] are not among the classes"):
        data.ImageFolder(tmp_path, classes=["3"])
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        data.ImageFolder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no images found"):
        data.ImageFolder(tmp_path / "empty")
    (tmp_path / "7" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"broken\.png: cannot read the image"):
        data.ImageFolder(tmp_path)
    with pytest.raises(ValueError, match=r"channels must be 1 \(grey\) or 3 \(RGB\), got 2"):
        data.ImageFolder(tmp_path, channels=2)


def test_load_image_resize_and_invert(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    # dark digit-like bar on a white page, 60 wide x 30 high: left half black, right half white
    a = np.full((30, 60), 255, np.uint8)
    a[:, :30] = 0
    Image.fromarray(a).save(tmp_path / "half.png")
    x = data.load_image(tmp_path / "half.png", size=(28, 28))
    assert x.shape == (1, 28, 28) and x.dtype == np.uint8
    assert np.all(x[0, :, :12] == 0) and np.all(x[0, :, -12:] == 255)
    np.testing.assert_array_equal(data.load_image(tmp_path / "half.png", 28, invert=True), 255 - x)
    page = np.full((28, 28), 250, np.uint8)
    page[8:20, 12:16] = 10  # a dark stroke on a light page
    Image.fromarray(page).save(tmp_path / "page.png")
    auto = data.load_image(tmp_path / "page.png", invert="auto")
    assert auto[0, 0, 0] == 5 and auto[0, 10, 13] == 245  # now light on dark, like MNIST
    with pytest.raises(FileNotFoundError, match="image file not found"):
        data.load_image(tmp_path / "nope.png")
    with pytest.raises(ValueError, match="invert must be True, False or 'auto'"):
        data.load_image(tmp_path / "page.png", invert="yes")
