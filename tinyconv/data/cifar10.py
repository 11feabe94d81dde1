"""The CIFAR-10 binary version (``cifar-10-batches-bin``): never the pickled Python version.

Each batch file is a sequence of 3073-byte records: one label byte (0-9), then the 32x32
image as three 1024-byte planes, red, green, blue, each row-major. A record is thus already
in channel-first order, and a batch of N records reshapes without copying to
``(N, 3073)`` -> labels ``[:, 0]`` and images ``[:, 1:].reshape(N, 3, 32, 32)`` (NCHW).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy

from .checksum import read_content

RECORD_BYTES = 1 + 3 * 32 * 32  # 3073
NUM_CLASSES = 10


def parse_cifar10(data: bytes, source: str = "<bytes>") -> tuple[numpy.ndarray, numpy.ndarray]:
    """Decode the records of one CIFAR-10 binary batch.

    Args:
        data: the file's bytes.
        source: the file name, for error messages.

    Returns:
        ``(images, labels)``: uint8 ``(N, 3, 32, 32)`` and int64 ``(N,)``.

    Raises:
        ValueError: the size is not a positive multiple of 3073 bytes, or a label is >= 10;
            the message names ``source``.

    Example:
        >>> rec = bytes([7]) + bytes(1024) + bytes([255]) * 1024 + bytes(1024)
        >>> images, labels = parse_cifar10(rec)
        >>> images.shape, labels.tolist(), images[0, :, 0, 0].tolist()
        ((1, 3, 32, 32), [7], [0, 255, 0])
    """
    if len(data) == 0 or len(data) % RECORD_BYTES:
        raise ValueError(
            f"{source}: {len(data):,} bytes is not a whole number of CIFAR-10 records of "
            f"{RECORD_BYTES} bytes (1 label + 3*32*32 pixels); truncated, or not a binary batch"
        )
    records = numpy.frombuffer(data, dtype=numpy.uint8).reshape(-1, RECORD_BYTES)  # (N, 3073)
    labels = records[:, 0].astype(numpy.int64)  # (N,)
    bad = numpy.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        raise ValueError(
            f"{source}: record {bad[0]} has label {labels[bad[0]]}, expected 0-{NUM_CLASSES - 1} "
            f"({bad.size} such records); not a CIFAR-10 binary batch"
        )
    images = records[:, 1:].reshape(-1, 3, 32, 32).copy()  # (N, 3, 32, 32), writable
    return images, labels


def read_cifar10(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    checksums: Sequence[str | None] | None = None,
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Read one or more CIFAR-10 binary batches and concatenate them in order.

    Args:
        paths: a batch file or a list of them (``data_batch_1.bin`` ... ``data_batch_5.bin``).
        checksums: one ``"md5:<hex>"`` (or sha256) per file, or None to skip the checks.

    Returns:
        ``(images, labels)``: uint8 ``(N, 3, 32, 32)`` and int64 ``(N,)``.

    Raises:
        ChecksumError: a file does not match its checksum (the message names it).
        ValueError: a file is not a whole number of valid records.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if checksums is None:
        checksums = [None] * len(paths)
    if len(checksums) != len(paths):
        raise ValueError(f"got {len(checksums)} checksums for {len(paths)} files")
    parts = [
        parse_cifar10(read_content(Path(p), c), str(p))
        for p, c in zip(paths, checksums, strict=True)
    ]
    if len(parts) == 1:
        return parts[0]
    return (
        numpy.concatenate([im for im, _ in parts]),
        numpy.concatenate([lb for _, lb in parts]),
    )
