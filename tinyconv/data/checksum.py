"""Reading a dataset file's content (gzipped or not) and checking it against its checksum.

A checksum is written ``"<algorithm>:<hex digest>"`` (``"sha256:..."`` or ``"md5:..."``) and
covers the file's *content*: the decompressed bytes when the file is gzipped. Gzip is
recognised by its two magic bytes, not by the file name.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"


class ChecksumError(ValueError):
    """A dataset file whose content is not the expected one (altered, truncated, corrupt)."""


class DatasetNotFoundError(FileNotFoundError):
    """Dataset files that are neither in the data directory nor downloadable."""


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the gzip magic bytes ``1f 8b``."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def parse_checksum(checksum: str) -> tuple[str, str]:
    """Split ``"sha256:abc..."`` into ``("sha256", "abc...")``; check the algorithm exists."""
    algo, sep, digest = checksum.partition(":")
    algo = algo.lower()
    if not sep or algo not in hashlib.algorithms_available or not digest:
        raise ValueError(f"malformed checksum {checksum!r}: expected 'sha256:<hex>' or 'md5:<hex>'")
    return algo, digest.lower()


def read_content(path: str | os.PathLike[str], checksum: str | None = None) -> bytes:
    """Read a file's content, decompressing gzip, and check it against ``checksum``.

    Args:
        path: the file.
        checksum: ``"sha256:<hex>"`` / ``"md5:<hex>"`` of the content, or None to skip the check.

    Returns:
        The (decompressed) bytes.

    Raises:
        ChecksumError: the content does not match, or a gzip file cannot be decompressed
            (truncated or corrupt); the message names the file and the expected checksum.
    """
    path = Path(path)
    try:
        compressed = is_gzip(path)
        if compressed:
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        expected = f"; expected {checksum} of the decompressed content" if checksum else ""
        raise ChecksumError(
            f"{path}: cannot decompress, the gzip file is truncated or corrupt "
            f"({type(e).__name__}: {e}){expected}. Delete it and fetch it again."
        ) from e
    if checksum is not None:
        verify_bytes(data, checksum, path, compressed)
    return data


def digest_of(data: bytes, algo: str) -> str:
    """Hex digest of ``data`` with hashlib algorithm ``algo``."""
    h = hashlib.new(algo)
    h.update(data)
    return h.hexdigest()


def verify_bytes(
    data: bytes, checksum: str, path: str | os.PathLike[str], compressed: bool = False
) -> None:
    """Raise ChecksumError naming ``path``, the expected and the actual checksum on a mismatch.

    ``compressed`` only words the message (``data`` is the decompressed content of ``path``).
    """
    algo, expected = parse_checksum(checksum)
    actual = digest_of(data, algo)
    if actual != expected:
        what = "decompressed content" if compressed else "content"
        raise ChecksumError(
            f"{path}: checksum mismatch, the file is altered, truncated or corrupt: expected "
            f"{algo} {expected} of its {what}, got {actual} ({len(data):,} bytes). "
            "Delete it and fetch it again."
        )


def verify_file(path: str | os.PathLike[str], checksum: str, decompress: bool = True) -> None:
    """Check a file against ``checksum`` without holding it in memory.

    Args:
        path: the file.
        checksum: ``"sha256:<hex>"`` or ``"md5:<hex>"``.
        decompress: hash the decompressed content of a gzip file (dataset files); False hashes
            the bytes as stored (archives such as ``cifar-10-binary.tar.gz``).

    Raises:
        ChecksumError: a mismatch, or a gzip file that cannot be decompressed.
    """
    path = Path(path)
    algo, expected = parse_checksum(checksum)
    h = hashlib.new(algo)
    compressed = decompress and is_gzip(path)
    size = 0
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ChecksumError(
            f"{path}: cannot decompress, the gzip file is truncated or corrupt "
            f"({type(e).__name__}: {e}); expected {checksum} of the decompressed content. "
            "Delete it and fetch it again."
        ) from e
    if h.hexdigest() != expected:
        what = "decompressed content" if compressed else "content"
        raise ChecksumError(
            f"{path}: checksum mismatch, the file is altered, truncated or corrupt: expected "
            f"{algo} {expected} of its {what}, got {h.hexdigest()} ({size:,} bytes). "
            "Delete it and fetch it again."
        )
