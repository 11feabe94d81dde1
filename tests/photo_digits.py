"""Photographed-looking digits for the tests: printed digits in the machine's fonts on paper.

Each photo: a digit rendered large with one of the DejaVu fonts (or Pillow's default font when
none is found), dark ink on light, grainy paper with a soft lighting gradient, the digit off
centre, rotated a few degrees, blurred, saved as PNG or JPEG. Deterministic for a seed.
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSerifCondensed-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
)


def fonts() -> list[str]:
    """Paths of the TrueType fonts found (DejaVu first), at most 8."""
    found = []
    for name in FONT_NAMES:
        hits = glob.glob(f"/usr/share/fonts/**/{name}", recursive=True)
        if hits:
            found.append(hits[0])
    if not found:
        found = sorted(glob.glob("/usr/share/fonts/**/*.ttf", recursive=True))[:8]
    return found


def photo(digit: int, seed: int, font: str | None, size: int = 160) -> np.ndarray:
    """One uint8 (size, size) grey photo of ``digit``: dark ink on light grainy paper."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = np.random.default_rng(seed)
    glyph = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(glyph)
    height = int(size * rng.uniform(0.45, 0.6))
    face = ImageFont.truetype(font, height) if font else ImageFont.load_default(height)
    x0, y0, x1, y1 = draw.textbbox((0, 0), str(digit), font=face)
    w, h = x1 - x0, y1 - y0
    cx = size / 2 + rng.uniform(-0.18, 0.18) * size  # off centre
    cy = size / 2 + rng.uniform(-0.15, 0.15) * size
    draw.text((cx - w / 2 - x0, cy - h / 2 - y0), str(digit), fill=255, font=face)
    glyph = glyph.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR, center=(cx, cy))
    glyph = glyph.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 2.0)))
    ink = np.asarray(glyph, np.float32) / 255.0
    yy, xx = np.mgrid[0:size, 0:size] / size
    paper = 215 + 25 * (rng.uniform(-1, 1) * xx + rng.uniform(-1, 1) * yy)  # lighting gradient
    paper = paper + rng.normal(0, 6, (size, size))  # paper grain
    ink_level = rng.uniform(20, 70)
    img = paper * (1 - ink) + ink_level * ink
    return np.clip(img, 0, 255).astype(np.uint8)


def write_photos(folder: Path, n: int = 20, seed: int = 0) -> list[tuple[Path, int]]:
    """``n`` photos (digits 0..9 in turn) as PNG and JPEG files; returns (path, digit) pairs."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    faces = fonts() or [None]
    out = []
    for i in range(n):
        digit = i % 10
        img = Image.fromarray(photo(digit, seed * 1000 + i, faces[i % len(faces)]))
        path = folder / f"photo{i:02d}_{digit}.{'png' if i % 2 == 0 else 'jpg'}"
        if path.suffix == ".jpg":
            img.save(path, quality=85)
        else:
            img.save(path)
        out.append((path, digit))
    return out
