"""The embedded ``mnist-sample``: 5,000 training and 1,000 test images of real MNIST.

It ships inside the package (``tinyconv/data/sample/mnist_sample.npz``, about 1 MB, with its
ATTRIBUTION file), so tinyconv trains with no network and no data directory. The subset is
class-balanced (500 training and 100 test images per digit), drawn with a fixed seed by
``scripts/make_sample.py``; ``train_index``/``test_index`` in the file give each image's
position in the official MNIST files.

MNIST database by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import numpy

from .checksum import digest_of, parse_checksum, verify_bytes

SAMPLE_FILE = "mnist_sample.npz"


def sample_path() -> Path:
    """Where the embedded sample file is (inside the installed package)."""
    return Path(str(resources.files(__package__).joinpath("sample", SAMPLE_FILE)))


def load_sample(
    split: str = "train", checksum: str | None = None, with_index: bool = False
) -> tuple[numpy.ndarray, ...]:
    """Load one split of the embedded sample.

    Args:
        split: ``"train"`` (5,000 images) or ``"test"`` (1,000 images).
        checksum: ``"sha256:<hex>"`` of the .npz file, checked when given.
        with_index: also return each image's position in the official MNIST split.

    Returns:
        ``(images, labels)``: uint8 ``(N, 1, 28, 28)`` and int64 ``(N,)``; plus int64 ``(N,)``
        positions when ``with_index``.

    Raises:
        ChecksumError: the file does not match ``checksum``.
    """
    path = sample_path()
    data = path.read_bytes()
    if checksum is not None:
        verify_bytes(data, checksum, path)
    with numpy.load(io.BytesIO(data), allow_pickle=False) as npz:
        images = npz[f"{split}_images"]
        labels = npz[f"{split}_labels"].astype(numpy.int64)
        index = npz[f"{split}_index"].astype(numpy.int64)
    return (images, labels, index) if with_index else (images, labels)


def sample_digest(algo: str = "sha256") -> str:
    """``"<algo>:<hex>"`` of the embedded sample file as it is now."""
    parse_checksum(f"{algo}:0")
    return f"{algo}:{digest_of(sample_path().read_bytes(), algo)}"
