"""16-bit colour PNG files at full precision: Pillow keeps only the high byte of each sample.

Pillow has no 16-bit RGB mode: it opens a 16-bit RGB, RGBA or grey+alpha PNG as 8-bit "RGB",
"RGBA" or "LA", so 0..65535 becomes 0..255 in steps of 257 and a dim image (say 0..1000)
keeps 4 levels. ``decode`` reads these files itself (16-bit grey Pillow reads in full, as
"I;16"). A PNG (ISO/IEC 15948) is chunks ``length, type, data, CRC-32``; IHDR gives
``width, height, bit depth, colour type, interlace``, the IDAT chunks together are one zlib
stream of scanlines, each a filter byte then ``width * bpp`` bytes (bpp = channels * 2 bytes,
big-endian samples). A scanline's bytes are differences from a predictor of its neighbours
``a`` (the sample one pixel left), ``b`` (above) and ``c`` (above left), 0 outside the image::

    0 None: 0    1 Sub: a    2 Up: b    3 Average: (a + b) // 2
    4 Paeth: whichever of a, b, c is nearest p = a + b - c (ties: a, then b)

    Recon(x) = (Filt(x) + predictor) mod 256

Each byte depends on its left, upper and upper-left neighbours only, so every anti-diagonal
``row + column = d`` of the image depends only on the two before it: ``unfilter`` works one
diagonal at a time (H + W - 1 NumPy steps, each over up to min(H, W) pixels), a strided slice
of the padded image since the pixels of a diagonal are ``W`` apart in it. Interlaced files
(Adam7) are seven such sub-images of the pixels at rows ``r0 + k * dr``, columns ``c0 + j * dc``.
A colour key (tRNS) of an RGB file becomes an alpha channel.
"""

from __future__ import annotations

import struct
import zlib

import numpy

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {2: 3, 4: 2, 6: 4}  # colour types read here: RGB, grey+alpha, RGBA (16-bit)
ADAM7 = (
    (0, 0, 8, 8),
    (0, 4, 8, 8),
    (4, 0, 8, 4),
    (0, 2, 4, 4),
    (2, 0, 4, 2),
    (0, 1, 2, 2),
    (1, 0, 2, 1),
)  # (first row, first column, row step, column step) of each pass


def is_16bit_colour(head: bytes) -> bool:
    """Whether the first 26 bytes of a file are a PNG's 16-bit RGB, RGBA or grey+alpha IHDR.

    Example:
        >>> is_16bit_colour(SIGNATURE + bytes(4) + b"IHDR" + bytes(8) + bytes([16, 2]))
        True
    """
    return (
        len(head) >= 26 and head.startswith(SIGNATURE) and head[12:16] == b"IHDR"
        and head[24] == 16 and head[25] in CHANNELS
    )  # fmt: skip


def _chunks(data: bytes, name: str) -> dict[bytes, bytes]:
    """IHDR, the IDAT stream joined, and tRNS; each chunk's CRC-32 checked."""
    found: dict[bytes, bytes] = {}
    pos = len(SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise ValueError(f"{name}: the PNG file is truncated (no IEND chunk)")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise ValueError(f"{name}: the PNG file is truncated inside a {kind!r} chunk")
        if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            raise ValueError(f"{name}: the PNG {kind.decode('latin-1')} chunk is damaged (CRC)")
        if kind == b"IEND":
            return found
        if kind == b"IDAT":
            found[kind] = found.get(kind, b"") + body
        elif kind in (b"IHDR", b"tRNS"):
            found[kind] = body
        pos += 12 + length


def unfilter(lines: numpy.ndarray, bpp: int) -> numpy.ndarray:
    """The bytes of a filtered image: (rows, 1 + cols * bpp) uint8 -> (rows, cols * bpp) uint8.

    Raises:
        ValueError: a filter byte above 4.
    """
    rows, width = lines.shape
    cols = (width - 1) // bpp
    kinds = lines[:, 0]
    if rows and int(kinds.max()) > 4:
        raise ValueError(f"PNG filter type {int(kinds.max())} (types are 0..4)")
    filt = numpy.ascontiguousarray(lines[:, 1:]).reshape(rows * cols, bpp)
    out = numpy.zeros(((rows + 1) * (cols + 1), bpp), numpy.uint8)  # a zero row and column first
    zero = numpy.zeros((1, bpp), numpy.int16)
    for d in range(rows + cols - 1):
        lo, hi = max(0, d - cols + 1), min(rows - 1, d)
        n = hi - lo + 1
        s = (lo + 1) * (cols + 1) + d - lo + 1  # pixel (lo, d - lo) in the padded image
        f = lo * cols + d - lo
        on = slice(s, s + (n - 1) * cols + 1, cols) if n > 1 else slice(s, s + 1)
        fx = slice(f, f + (n - 1) * (cols - 1) + 1, cols - 1) if n > 1 else slice(f, f + 1)
        a = out[on.start - 1 : on.stop - 1 : on.step].astype(numpy.int16)
        b = out[on.start - cols - 1 : on.stop - cols - 1 : on.step].astype(numpy.int16)
        c = out[on.start - cols - 2 : on.stop - cols - 2 : on.step].astype(numpy.int16)
        p = a + b - c
        pa, pb, pc = numpy.abs(p - a), numpy.abs(p - b), numpy.abs(p - c)
        paeth = numpy.where((pa <= pb) & (pa <= pc), a, numpy.where(pb <= pc, b, c))
        k = kinds[lo : hi + 1, None]
        pred = numpy.choose(k, (zero, a, b, (a + b) >> 1, paeth))
        out[on] = (filt[fx] + pred).astype(numpy.uint8)  # mod 256
    return out.reshape(rows + 1, (cols + 1) * bpp)[1:, bpp:]


def decode(data: bytes, name: str = "image") -> numpy.ndarray:
    """The samples of a 16-bit RGB, RGBA or grey+alpha PNG file: uint16 (H, W, C).

    C is 3 (RGB), 4 (RGBA, or RGB with a tRNS colour key as alpha) or 2 (grey, alpha).

    Raises:
        ValueError: not such a PNG, or a damaged one (the message names ``name``).
    """
    if not is_16bit_colour(data[:26]):
        raise ValueError(f"{name}: not a 16-bit RGB, RGBA or grey+alpha PNG file")
    chunks = _chunks(data, name)
    if len(chunks.get(b"IHDR", b"")) != 13 or b"IDAT" not in chunks:
        raise ValueError(f"{name}: the PNG file has no valid IHDR or no IDAT chunk")
    W, H, _, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    C = CHANNELS[ctype]
    bpp = 2 * C
    passes = ADAM7 if interlace == 1 else ((0, 0, 1, 1),)
    shapes = [(-(-(H - r0) // dr), -(-(W - c0) // dc)) for r0, c0, dr, dc in passes]
    need = sum(h * (1 + w * bpp) for h, w in shapes if h > 0 and w > 0)
    z = zlib.decompressobj()
    try:
        raw = z.decompress(chunks[b"IDAT"], need)
    except zlib.error as e:
        raise ValueError(f"{name}: the PNG image data is damaged ({e})") from None
    if len(raw) < need:
        raise ValueError(f"{name}: the PNG image data is truncated ({len(raw)} of {need} bytes)")
    samples = numpy.zeros((H, W, C), numpy.uint16)
    pos = 0
    for (r0, c0, dr, dc), (h, w) in zip(passes, shapes, strict=True):
        if h <= 0 or w <= 0:
            continue
        lines = numpy.frombuffer(raw, numpy.uint8, h * (1 + w * bpp), pos).reshape(h, -1)
        pos += lines.size
        try:
            pixels = unfilter(lines, bpp)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
        samples[r0::dr, c0::dc] = pixels.view(">u2").reshape(h, w, C)
    key = chunks.get(b"tRNS")
    if ctype == 2 and key is not None and len(key) == 6:
        opaque = (samples != numpy.frombuffer(key, ">u2")).any(axis=-1)
        samples = numpy.concatenate([samples, (opaque * 65535).astype(numpy.uint16)[..., None]], -1)
    return samples


def orient(a: numpy.ndarray, orientation: int) -> numpy.ndarray:
    """An (H, W, ...) image turned upright by its EXIF orientation (1..8), as Pillow's
    ``ImageOps.exif_transpose``: 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90
    clockwise, 7 transverse, 8 rotate 90 counter-clockwise."""
    if orientation in (5, 6, 7, 8):
        a = numpy.swapaxes(a, 0, 1)  # transpose; then 6 mirrors it, 8 flips it, 7 both
        orientation = {5: 1, 6: 2, 7: 3, 8: 4}[orientation]
    if orientation in (2, 3):
        a = a[:, ::-1]
    if orientation in (3, 4):
        a = a[::-1]
    return numpy.ascontiguousarray(a)
