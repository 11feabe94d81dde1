"""``load(name, split)``: a dataset as uint8 NCHW images and int64 labels, plus its facts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy

from .cifar10 import read_cifar10
from .download import ensure_files, missing_files, resolve_root
from .idx import IMAGES_MAGIC, LABELS_MAGIC, IdxFormatError, read_idx
from .registry import DatasetSpec, check_split, get_spec
from .sample import load_sample


def load(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Load a dataset split, downloading missing files when allowed; every file is checksummed.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"`` or ``"mnist-sample"`` (embedded,
            needs no files).
        split: ``"train"`` or ``"test"``.
        data_dir: the data directory; default ``data_dir()`` (``$TINYCONV_DATA`` or a per-user
            cache). Files are looked up in ``<data_dir>/<folder>/`` with their standard names.
        download: fetch missing files (needs pooch and the network).

    Returns:
        ``(images, labels)``: uint8 ``(N, C, H, W)`` and int64 ``(N,)``.

    Shape:
        MNIST, Fashion-MNIST: ``(60000, 1, 28, 28)`` train, ``(10000, 1, 28, 28)`` test.
        CIFAR-10: ``(50000, 3, 32, 32)`` train, ``(10000, 3, 32, 32)`` test.
        mnist-sample: ``(5000, 1, 28, 28)`` train, ``(1000, 1, 28, 28)`` test.

    Raises:
        ValueError: unknown dataset or split.
        DatasetNotFoundError: files missing and not downloadable; the message names the files,
            the folder and the URLs.
        ChecksumError: a file is altered, truncated or corrupt (names the file and the
            expected checksum).

    Example:
        >>> images, labels = load("mnist-sample", "test")
        >>> images.shape, images.dtype, labels[:5].dtype
        ((1000, 1, 28, 28), dtype('uint8'), dtype('int64'))
    """
    spec = get_spec(name)
    check_split(spec, split)
    files = spec.splits[split]
    if spec.fmt == "sample-npz":
        images, labels = load_sample(split, files[0].checksum)
        return images, labels
    paths = ensure_files(spec, split, data_dir, download)
    if spec.fmt == "cifar10-bin":
        return read_cifar10(paths, [f.checksum for f in files])
    if spec.fmt == "idx":
        return _load_idx(spec, paths[0], paths[1], files[0].checksum, files[1].checksum)
    raise AssertionError(f"unknown format {spec.fmt!r}")  # registry invariant


def _load_idx(
    spec: DatasetSpec, images_path: Path, labels_path: Path, images_sum: str, labels_sum: str
) -> tuple[numpy.ndarray, numpy.ndarray]:
    images = read_idx(images_path, images_sum, IMAGES_MAGIC)  # (N, H, W)
    labels = read_idx(labels_path, labels_sum, LABELS_MAGIC).astype(numpy.int64)  # (N,)
    if images.shape[1:] != spec.shape[1:]:
        raise IdxFormatError(
            f"{images_path}: images are {images.shape[1:]}, expected {spec.shape[1:]}"
        )
    if len(images) != len(labels):
        raise IdxFormatError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
        )
    return images.reshape(len(images), *spec.shape), labels  # (N, 1, H, W)


def classes(name: str) -> list[str]:
    """Class names of dataset ``name``, indexed by label.

    Example:
        >>> classes("cifar10")[:3]
        ['airplane', 'automobile', 'bird']
    """
    return list(get_spec(name).classes)


def normalization(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel ``(mean, std)`` of the training pixels (x/255) of ``name``.

    Example:
        >>> normalization("mnist")
        ((0.1307,), (0.3081,))
    """
    spec = get_spec(name)
    return spec.mean, spec.std


def info(name: str) -> DatasetSpec:
    """The registry entry of ``name``: files, checksums, URLs, classes, shape, mean/std, sizes."""
    return get_spec(name)


def available(name: str, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when every file of every split of ``name`` is present (not verified) in the data dir."""
    spec = get_spec(name)
    if spec.fmt == "sample-npz":
        return True
    root = resolve_root(data_dir)
    return not any(missing_files(spec, split, root) for split in spec.splits)


def default_dataset(data_dir: str | os.PathLike[str] | None = None) -> str:
    """``"mnist"`` when full MNIST is in the data directory, else the embedded sample."""
    return "mnist" if available("mnist", data_dir) else "mnist-sample"
