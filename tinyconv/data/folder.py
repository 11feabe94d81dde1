"""Your own images: single files for prediction, or a folder of class subfolders for training.

    root/
        cat/  1.png  2.jpg ...
        dog/  a.jpeg ...

Images are read with Pillow (the optional extra ``tinyconv[data]``) by ``images.decode`` (full
range: 16-bit, palette, alpha, CMYK, EXIF orientation), put on a white background if they have
transparency, converted to grey (``channels=1``) or RGB (``channels=3``), resized to ``size``
(area averaging; the aspect ratio is not kept) or prepared by MNIST's recipe
(``preprocess="mnist"``), and returned as uint8 NCHW arrays, the layout of ``load``.

MNIST digits are white on black; a photo or scan of a digit is usually dark on light.
``invert=True`` flips the pixels (``255 - x``); ``invert="auto"`` does so when the image's
border is bright (mean above 127).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy

from . import images

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _check_args(size: int | Sequence[int], channels: int) -> tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    if len(size) != 2 or not all(isinstance(s, int) and s >= 1 for s in size):
        raise ValueError(f"size must be (height, width) of ints >= 1, got {size!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    return int(size[0]), int(size[1])


def load_image(
    path: str | os.PathLike[str],
    size: int | Sequence[int] = (28, 28),
    channels: int = 1,
    invert: bool | str = False,
    preprocess: str = "resize",
) -> numpy.ndarray:
    """Read one image file as a uint8 ``(channels, H, W)`` array (``images.decode`` then
    ``images.prepare``, rounded).

    Args:
        path: the image file (PNG, JPEG, or anything Pillow reads).
        size (int or (int, int)): output ``(height, width)``. Default: (28, 28).
        channels (int): 1 for grey, 3 for RGB. Default: 1.
        invert (bool or "auto"): ``255 - x`` (see the module docstring). Default: False.
        preprocess (str): "resize" (default) or "mnist" (crop to the ink, fit 20x20, centre;
            see ``tinyconv.data.images``).

    Returns:
        uint8 ``(channels, height, width)``; stack several with ``numpy.stack`` for a batch.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable image, or bad ``size``/``channels``/``invert``.
        ImportError: Pillow is not installed.
    """
    H, W = _check_args(size, channels)
    if invert != "auto" and not isinstance(invert, bool):
        raise ValueError(f"invert must be True, False or 'auto', got {invert!r}")
    x, _ = images.prepare(images.decode(path), (channels, H, W), preprocess, invert)
    return numpy.clip(numpy.rint(x), 0, 255).astype(numpy.uint8)


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )


class ImageFolder:
    """A dataset read from a folder of class subfolders of PNG/JPEG images.

    Class names are the subfolder names, sorted (label 0 is the first), unless ``classes``
    gives them (for instance a trained model's classes, so labels match its outputs); a class
    in ``classes`` may have no folder. Files whose extension is not .png/.jpg/.jpeg, and hidden
    files, are ignored.

    Args:
        root: the folder.
        size (int or (int, int)): ``(height, width)`` of every image. Default: (28, 28).
        channels (int): 1 (grey) or 3 (RGB). Default: 1.
        classes (sequence of str, optional): class names in label order.
        invert (bool or "auto"): see ``load_image``. Default: False.
        preprocess (str): "resize" (default) or "mnist", see ``load_image``.

    Attributes:
        images: uint8 ``(N, channels, H, W)``.
        labels: int64 ``(N,)``.
        classes: list of class names.
        paths: the file of each image.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: no images, a subfolder not in ``classes``, an unreadable image.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("cat", "dog"):
        ...     (root / name).mkdir()
        ...     Image.new("L", (40, 30), 200).save(root / name / "1.png")
        >>> ds = ImageFolder(root, size=(28, 28))
        >>> ds.images.shape, ds.labels.tolist(), ds.classes
        ((2, 1, 28, 28), [0, 1], ['cat', 'dog'])
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        size: int | Sequence[int] = (28, 28),
        channels: int = 1,
        classes: Sequence[str] | None = None,
        invert: bool | str = False,
        preprocess: str = "resize",
    ) -> None:
        H, W = _check_args(size, channels)
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"image folder not found: {root}")
        folders = sorted(
            p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        if classes is None:
            classes = folders
        else:
            classes = [str(c) for c in classes]
            unknown = sorted(set(folders) - set(classes))
            if unknown:
                raise ValueError(
                    f"{root}: subfolders {unknown} are not among the classes {classes}"
                )
        self.root = root
        self.classes = list(classes)
        self.paths: list[Path] = []
        labels: list[int] = []
        for label, name in enumerate(self.classes):
            if (root / name).is_dir():
                files = _image_files(root / name)
                self.paths += files
                labels += [label] * len(files)
        if not self.paths:
            raise ValueError(
                f"{root}: no images found: expected class subfolders holding "
                f"{'/'.join(e[1:].upper() for e in IMAGE_EXTENSIONS)} files"
            )
        self.images = numpy.empty((len(self.paths), channels, H, W), dtype=numpy.uint8)
        for i, p in enumerate(self.paths):  # one file each: decoding is per image anyway
            self.images[i] = load_image(p, (H, W), channels, invert, preprocess)
        self.labels = numpy.asarray(labels, dtype=numpy.int64)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[numpy.ndarray, int]:
        return self.images[i], int(self.labels[i])

    def __repr__(self) -> str:
        return (
            f"ImageFolder({str(self.root)!r}, images={self.images.shape}, classes={self.classes})"
        )


def load_folder(
    root: str | os.PathLike[str],
    size: int | Sequence[int] = (28, 28),
    channels: int = 1,
    classes: Sequence[str] | None = None,
    invert: bool | str = False,
    preprocess: str = "resize",
) -> tuple[numpy.ndarray, numpy.ndarray, list[str]]:
    """``(images, labels, classes)`` of an ``ImageFolder``: uint8 NCHW, int64, class names."""
    ds = ImageFolder(root, size, channels, classes, invert, preprocess)
    return ds.images, ds.labels, ds.classes
