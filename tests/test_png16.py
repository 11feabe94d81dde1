"""16-bit colour PNGs read at full precision (images.decode through pypng): Pillow keeps 8 bits.

The files are written here by a small encoder (every scanline filter, Adam7 interlacing, a tRNS
colour key, an eXIf orientation); Pillow, an independent decoder, must agree on the high bytes.
Without pypng they are read at 8 bits with a warning.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from tinyconv import data
from tinyconv.data import images

PIL = pytest.importorskip("PIL")
pytest.importorskip("png", reason="pypng is not installed (pip install 'tinyconv[data]')")
from PIL import Image, ImageOps  # noqa: E402

SIGNATURE = b"\x89PNG\r\n\x1a\n"
ADAM7 = (
    (0, 0, 8, 8),
    (0, 4, 8, 8),
    (4, 0, 8, 4),
    (0, 2, 4, 4),
    (2, 0, 4, 2),
    (0, 1, 2, 2),
    (1, 0, 2, 1),
)  # fmt: skip  (first row, first column, row step, column step)

CTYPE = {3: 2, 4: 6, 2: 4}  # channels -> PNG colour type


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _filtered(rows: np.ndarray, bpp: int, kinds: list[int]) -> bytes:
    """Scanlines (h, w * bpp) uint8, row r filtered with kinds[r % len(kinds)]."""
    out = []
    prev = np.zeros(rows.shape[1], np.int16)
    for r, line in enumerate(rows.astype(np.int16)):
        k = kinds[r % len(kinds)]
        left = np.concatenate([np.zeros(bpp, np.int16), line[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int16), prev[:-bpp]])
        p = left + prev - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        pred = [0 * line, left, prev, (left + prev) // 2, paeth][k]
        out.append(bytes([k]) + ((line - pred) % 256).astype(np.uint8).tobytes())
        prev = line
    return b"".join(out)


def encode(samples, kinds=(0, 1, 2, 3, 4), interlace=False, trns=None, orientation=None):
    """PNG bytes of uint16 (H, W, C) samples, C = 2, 3 or 4, at bit depth 16."""
    H, W, C = samples.shape
    bpp = 2 * C
    passes = ADAM7 if interlace else ((0, 0, 1, 1),)
    raw = b""
    for r0, c0, dr, dc in passes:
        sub = samples[r0::dr, c0::dc]
        if sub.size:
            rows = np.frombuffer(sub.astype(">u2").tobytes(), np.uint8).reshape(sub.shape[0], -1)
            raw += _filtered(rows, bpp, list(kinds))
    ihdr = struct.pack(">IIBBBBB", W, H, 16, CTYPE[C], 0, 0, int(interlace))
    extra = b""
    if trns is not None:
        extra += _chunk(b"tRNS", np.asarray(trns, ">u2").tobytes())
    if orientation is not None:  # a TIFF header and one IFD entry: 0x0112 SHORT = orientation
        tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">HHHIHHI", 1, 0x0112, 3, 1,
                                                           orientation, 0, 0)  # fmt: skip
        extra += _chunk(b"eXIf", tiff)
    idat = zlib.compress(raw)
    half = len(idat) // 2  # two IDAT chunks: the stream is their concatenation
    return (SIGNATURE + _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", idat[:half])
            + _chunk(b"IDAT", idat[half:]) + _chunk(b"IEND", b""))  # fmt: skip


def random_samples(shape, seed=0, top=65536):
    return np.random.default_rng(seed).integers(0, top, shape, dtype=np.uint32).astype(np.uint16)


@pytest.mark.parametrize("channels", [3, 4, 2])
@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize("shape", [(13, 17), (1, 9), (9, 1), (40, 3)])
def test_every_filter_and_adam7_decode_exactly_and_agree_with_pillows_high_byte(
    tmp_path, channels, interlace, shape
):
    samples = random_samples((*shape, channels), seed=sum(shape) + channels)
    path = tmp_path / "deep.png"
    path.write_bytes(encode(samples, interlace=interlace))
    got = images.decode(path)
    px = got.pixels if channels != 2 else got.pixels[..., :1]
    want = samples[..., : 3 if channels >= 3 else 1] * np.float32(255 / 65535)
    np.testing.assert_array_equal(px, want.astype(np.float32))
    if channels in (2, 4):
        a = samples[..., -1] * np.float32(255 / 65535)
        np.testing.assert_array_equal(got.alpha, a.astype(np.float32))
    with Image.open(path) as img:  # 8 bits: the high byte of each sample (grey+alpha as RGBA)
        pil = np.asarray(img.convert("LA") if channels == 2 else img)
    np.testing.assert_array_equal(pil.reshape(samples.shape), samples >> 8)


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_each_filter_alone(kind):
    samples = random_samples((7, 11, 3), seed=kind)
    got = images.decode(encode(samples, kinds=(kind,))).pixels
    np.testing.assert_allclose(got, samples * (255 / 65535), rtol=1e-6, atol=1e-4)
    assert len(np.unique(got)) > 200  # not 8-bit levels


def test_a_dim_16_bit_rgb_png_keeps_its_levels_through_decode_and_load_image(tmp_path):
    ramp = np.linspace(0, 1000, 64 * 64).reshape(64, 64).round().astype(np.uint16)
    samples = np.stack([ramp, ramp // 2, 1000 - ramp], axis=-1)  # a dim image: 0..1000 of 65535
    path = tmp_path / "dim.png"
    path.write_bytes(encode(samples))
    assert len(np.unique(np.asarray(Image.open(path))[..., 0])) == 4  # Pillow: 4 levels
    px = images.decode(path).pixels
    assert px.shape == (64, 64, 3) and px.dtype == np.float32
    np.testing.assert_allclose(px, samples * (255 / 65535), rtol=1e-6, atol=1e-5)
    assert len(np.unique(px[..., 0])) == 1001
    from_bytes = images.decode(path.read_bytes()).pixels  # the playground's payloads
    np.testing.assert_array_equal(from_bytes, px)
    seen, blank = images.prepare(images.decode(path), (3, 32, 32), "resize")  # predict's path
    want = samples.reshape(32, 2, 32, 2, 3).mean(axis=(1, 3)).transpose(2, 0, 1) * (255 / 65535)
    assert not blank
    np.testing.assert_allclose(seen, want, rtol=1e-5, atol=1e-4)
    assert data.load_image(path, size=(64, 64), channels=3).max() == 4  # uint8 out: 0..4


def test_alpha_of_rgba_grey_alpha_and_a_trns_colour_key(tmp_path):
    rgba = random_samples((6, 8, 4), seed=3)
    rgba[0, 0, 3] = 0
    got = images.decode(encode(rgba))
    np.testing.assert_allclose(got.pixels, rgba[..., :3] * (255 / 65535), atol=1e-4)
    np.testing.assert_allclose(got.alpha, rgba[..., 3] * (255 / 65535), atol=1e-4)
    la = random_samples((6, 8, 2), seed=4)
    got = images.decode(encode(la))
    assert got.pixels.shape == (6, 8, 1)
    np.testing.assert_allclose(got.pixels[..., 0], la[..., 0] * (255 / 65535), atol=1e-4)
    rgb = random_samples((6, 8, 3), seed=5)
    key = rgb[2, 5].copy()
    got = images.decode(encode(rgb, trns=key))
    assert got.alpha is not None and got.alpha[2, 5] == 0
    assert (np.delete(got.alpha.ravel(), 2 * 8 + 5) == 255).all()
    assert images.decode(encode(rgb)).alpha is None  # opaque: no alpha


@pytest.mark.parametrize("orientation", range(1, 9))
def test_the_exif_orientation_turns_the_image_as_pillow_does(orientation):
    v = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint16)
    blob = encode(v * 257, orientation=orientation)  # each sample = its high byte * 257
    import io

    with Image.open(io.BytesIO(blob)) as img:
        img.load()
        assert img.getexif().get(0x0112) == orientation
        want = np.asarray(ImageOps.exif_transpose(img), np.float32)
    np.testing.assert_allclose(images.decode(blob).pixels, want, atol=1e-4)


def test_a_damaged_or_truncated_16_bit_png_is_a_value_error_naming_the_file(tmp_path):
    blob = bytearray(encode(random_samples((8, 8, 3))))
    bad = tmp_path / "flipped.png"
    at = blob.index(b"IDAT") + 10
    blob[at] ^= 0xFF
    bad.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="flipped.png"):
        images.decode(bad)
    short = tmp_path / "short.png"
    short.write_bytes(encode(random_samples((8, 8, 3)))[:-40])
    with pytest.raises(ValueError, match="short.png"):
        images.decode(short)


def test_without_pypng_a_16_bit_colour_png_is_read_at_8_bits_with_a_warning(tmp_path, monkeypatch):
    import sys

    samples = random_samples((6, 8, 3), seed=9)
    path = tmp_path / "deep.png"
    path.write_bytes(encode(samples))
    monkeypatch.setitem(sys.modules, "png", None)  # as if not installed
    with pytest.warns(UserWarning, match="deep.png: a 16-bit colour PNG, read at 8 bits.*pypng"):
        px = images.decode(path).pixels
    np.testing.assert_array_equal(px, (samples >> 8).astype(np.float32))
