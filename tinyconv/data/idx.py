"""The IDX file format of MNIST and Fashion-MNIST, gzipped or not.

An IDX file is a big-endian header followed by the array's bytes in row-major order:

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4*d bytes   the dimensions, each a big-endian uint32
    the data    prod(dims) elements

MNIST images have magic number 2051 (0x00000803: uint8, 3 dims: N, 28, 28) and labels 2049
(0x00000801: uint8, 1 dim: N).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy

from .checksum import read_content

IDX_DTYPES = {
    0x08: numpy.dtype("u1"),
    0x09: numpy.dtype("i1"),
    0x0B: numpy.dtype(">i2"),
    0x0C: numpy.dtype(">i4"),
    0x0D: numpy.dtype(">f4"),
    0x0E: numpy.dtype(">f8"),
}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


class IdxFormatError(ValueError):
    """A file that is not a well-formed IDX file (bad magic number, dims or size)."""


def parse_idx(
    data: bytes, source: str = "<bytes>", expected_magic: int | None = None
) -> numpy.ndarray:
    """Decode the bytes of an IDX file into a writable array in native byte order.

    Args:
        data: the whole (decompressed) file content.
        source: the file name, used in error messages.
        expected_magic: e.g. 2051 for MNIST images; None accepts any valid IDX header.

    Returns:
        An array of shape ``dims`` and the dtype the header states.

    Raises:
        IdxFormatError: bad magic number, a dimension of 0, or a size that disagrees with
            the header; the message names ``source``.

    Example:
        >>> import struct
        >>> raw = struct.pack(">HBBII", 0, 0x08, 2, 2, 3) + bytes(range(6))
        >>> parse_idx(raw)
        array([[0, 1, 2],
               [3, 4, 5]], dtype=uint8)
    """
    if len(data) < 4:
        raise IdxFormatError(f"{source}: not an IDX file: only {len(data)} bytes")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    magic = int.from_bytes(data[:4], "big")
    if zero != 0 or type_code not in IDX_DTYPES or ndim == 0:
        raise IdxFormatError(
            f"{source}: not an IDX file: magic number 0x{magic:08x} (expected 0x0000TTDD with "
            f"type TT in {', '.join(f'{t:02x}' for t in IDX_DTYPES)} and DD >= 1 dimensions)"
        )
    if expected_magic is not None and magic != expected_magic:
        raise IdxFormatError(
            f"{source}: magic number {magic} (0x{magic:08x}), expected {expected_magic} "
            f"(0x{expected_magic:08x})"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(
            f"{source}: truncated header: {len(data)} bytes, {ndim} dims need {header}"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if 0 in dims:
        raise IdxFormatError(f"{source}: a dimension is 0: dims {dims}")
    dtype = IDX_DTYPES[type_code]
    expected = header + int(numpy.prod(dims, dtype=numpy.int64)) * dtype.itemsize
    if len(data) != expected:
        raise IdxFormatError(
            f"{source}: size {len(data):,} bytes does not match its header: dims {dims} of "
            f"{dtype.itemsize}-byte elements need {expected:,} bytes "
            f"({'truncated' if len(data) < expected else 'trailing bytes'})"
        )
    array = numpy.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)  # native order, writable


def read_idx(
    path: str | os.PathLike[str], checksum: str | None = None, expected_magic: int | None = None
) -> numpy.ndarray:
    """Read an IDX file (gzipped or raw), checking its content's checksum first when given.

    Args:
        path: the file; gzip is detected from its first bytes, not its name.
        checksum: ``"sha256:<hex>"`` or ``"md5:<hex>"`` of the decompressed content, or None.
        expected_magic: 2051 for images, 2049 for labels, or None.

    Returns:
        The array, e.g. ``(60000, 28, 28)`` uint8 for MNIST training images.

    Raises:
        ChecksumError: the content does not match ``checksum`` or cannot be decompressed.
        IdxFormatError: the content is not a well-formed IDX file.
    """
    path = Path(path)
    return parse_idx(read_content(path, checksum), str(path), expected_magic)


def write_idx(path: str | os.PathLike[str], array: numpy.ndarray, compress: bool = False) -> None:
    """Write ``array`` as an IDX file (gzipped, with mtime 0, when ``compress``).

    Used by the sample script and the tests; the inverse of ``read_idx``.
    """
    import gzip  # noqa: PLC0415

    array = numpy.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise TypeError(f"IDX cannot store dtype {array.dtype}")
    code = codes[native]
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    body = numpy.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress:
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f,
        ):
            f.write(header + body)
    else:
        Path(path).write_bytes(header + body)
