"""The registry of datasets: official files, where to download them, their checksums, facts.

Each dataset lives in one folder of the data directory, with the standard file names:

    <data_dir>/mnist/train-images-idx3-ubyte.gz          (or the same name without .gz)
    <data_dir>/fashion-mnist/t10k-labels-idx1-ubyte.gz
    <data_dir>/cifar-10-batches-bin/data_batch_1.bin ... test_batch.bin

Checksums are of the *content*: for a gzipped IDX file, the sha256 of the decompressed bytes.
The official MNIST and Fashion-MNIST downloads, a re-gzipped copy and an already decompressed
file therefore all pass the same check. The values were computed from copies whose raw MD5s
equal the published official MD5s.

CIFAR-10 has no published sha256: its binary batches are checked against the official MD5s
(from the dataset's distribution), and the archive ``cifar-10-binary.tar.gz`` by its MD5 too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


@dataclass(frozen=True)
class FileSpec:
    """One stored file of a dataset.

    Attributes:
        name: file name inside the dataset folder, e.g. ``"train-images-idx3-ubyte.gz"``.
        checksum: ``"sha256:<hex>"`` or ``"md5:<hex>"`` of the file's content (decompressed
            when the file is gzipped).
        role: ``"images"``, ``"labels"`` or ``"records"`` (CIFAR-10 binary batches).
    """

    name: str
    checksum: str
    role: str


@dataclass(frozen=True)
class DatasetSpec:
    """Everything tinyconv knows about one dataset.

    Attributes:
        name: the name ``load`` accepts.
        folder: folder inside the data directory (``""`` for the embedded sample).
        fmt: ``"idx"``, ``"cifar10-bin"`` or ``"sample-npz"``.
        splits: split name -> the files of that split.
        urls: base URLs (mirrors, tried in order) under which each file name can be fetched;
            empty when the files come from an archive.
        archive: ``(file name, "md5:<hex>", (urls...))`` of an archive that holds the files.
        classes: class names, by label.
        shape: one image's shape ``(C, H, W)``.
        mean, std: per-channel statistics of the training pixels scaled to [0, 1], used to
            normalise: ``(x/255 - mean)/std``.
        sizes: number of images per split.
        citation: who made the data, and its licence.
    """

    name: str
    folder: str
    fmt: str
    splits: dict[str, tuple[FileSpec, ...]]
    urls: tuple[str, ...]
    classes: tuple[str, ...]
    shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    sizes: dict[str, int]
    citation: str
    archive: tuple[str, str, tuple[str, ...]] | None = None

    def replace(self, **changes: object) -> DatasetSpec:
        """A copy with some fields changed (tests point ``urls`` at local files this way)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _idx_split(prefix: str, images_sha: str, labels_sha: str) -> tuple[FileSpec, ...]:
    return (
        FileSpec(f"{prefix}-images-idx3-ubyte.gz", f"sha256:{images_sha}", "images"),
        FileSpec(f"{prefix}-labels-idx1-ubyte.gz", f"sha256:{labels_sha}", "labels"),
    )


_MNIST_CITATION = (
    "MNIST database by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, "
    "licensed CC BY-SA 3.0."
)

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        folder="mnist",
        fmt="idx",
        splits={
            "train": _idx_split(
                "train",
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
            "test": _idx_split(
                "t10k",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        },
        urls=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        classes=DIGITS,
        shape=(1, 28, 28),
        mean=(0.1307,),
        std=(0.3081,),
        sizes={"train": 60000, "test": 10000},
        citation=_MNIST_CITATION,
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        folder="fashion-mnist",
        fmt="idx",
        splits={
            "train": _idx_split(
                "train",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
            "test": _idx_split(
                "t10k",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        },
        urls=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ),
        classes=FASHION_CLASSES,
        shape=(1, 28, 28),
        mean=(0.2860,),
        std=(0.3530,),
        sizes={"train": 60000, "test": 10000},
        citation=(
            "Fashion-MNIST by Han Xiao, Kashif Rasul and Roland Vollgraf (Zalando Research, "
            "2017), MIT License."
        ),
    ),
    "cifar10": DatasetSpec(
        name="cifar10",
        folder="cifar-10-batches-bin",
        fmt="cifar10-bin",
        # No sha256 of these files is published: they are checked by their official MD5s.
        splits={
            "train": (
                FileSpec("data_batch_1.bin", "md5:5dd7e06a14cb22eb9f671a540d1b7c25", "records"),
                FileSpec("data_batch_2.bin", "md5:5ea93a67294ea407fff1d09f752e9692", "records"),
                FileSpec("data_batch_3.bin", "md5:942cd6a4bcdd0dd3c604fbe906cb4421", "records"),
                FileSpec("data_batch_4.bin", "md5:ae636b3ba5c66a11e91e8cb52e771fcb", "records"),
                FileSpec("data_batch_5.bin", "md5:53f37980c15c3d472c316c40844f3f0d", "records"),
            ),
            "test": (
                FileSpec("test_batch.bin", "md5:803d5f7f4d78ea53de84dbe85f74fb6d", "records"),
            ),
        },
        urls=(),
        archive=(
            "cifar-10-binary.tar.gz",
            "md5:c32a1d4ab5d03f1284b67883e8d87530",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
        ),
        classes=CIFAR10_CLASSES,
        shape=(3, 32, 32),
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
        sizes={"train": 50000, "test": 10000},
        citation=(
            "CIFAR-10 by Alex Krizhevsky, Vinod Nair and Geoffrey Hinton; Alex Krizhevsky, "
            "Learning Multiple Layers of Features from Tiny Images, 2009."
        ),
    ),
    "mnist-sample": DatasetSpec(
        name="mnist-sample",
        folder="",
        fmt="sample-npz",
        # Both splits live in one file shipped inside the package (tinyconv/data/sample/).
        splits={
            split: (
                FileSpec(
                    "mnist_sample.npz",
                    "sha256:e40ba62d98a3e03d50ebb9ac16cbe6d0f999770bd5cdef74a89b5d911ce5decf",
                    "npz",
                ),
            )
            for split in ("train", "test")
        },
        urls=(),
        classes=DIGITS,
        shape=(1, 28, 28),
        mean=(0.1307,),
        std=(0.3081,),
        sizes={"train": 5000, "test": 1000},
        citation=_MNIST_CITATION + " Subset of 5,000 training and 1,000 test images.",
    ),
}

ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
    "mnist_sample": "mnist-sample",
    "sample": "mnist-sample",
}


def names() -> list[str]:
    """The dataset names ``load`` accepts."""
    return list(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    """The registry entry of dataset ``name`` (case-insensitive, a few aliases accepted).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}")
    return DATASETS[key]


def check_split(spec: DatasetSpec, split: str) -> str:
    """Return ``split`` if ``spec`` has it, else raise ValueError listing the splits."""
    if split not in spec.splits:
        raise ValueError(
            f"unknown split {split!r} for dataset {spec.name!r}: expected one of "
            f"{', '.join(spec.splits)}"
        )
    return split
