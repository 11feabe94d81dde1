"""Held-out splits: a validation set out of the training images, a test set out of a folder.

``tinyconv train`` trains on ``train`` minus a validation split (``hold_out``, ``--val N``,
measured after every epoch as ``val_*``) and reads the test split once, at the end
(``test_*``). A folder of images has no test split of its own: ``folder_split`` takes one at
random (10 %, by the seed), and ``tinyconv evaluate`` on the same folder recomputes it, so that
the images a model was trained on are never counted as test images.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy

MAX_DEFAULT_VAL = 5000  # the default validation split: 10 % of the training images, at most this
FOLDER_TEST_FRACTION = 10  # a folder keeps 1 image in this many for the test split


def default_val_size(n_train: int) -> int:
    """The default ``--val``: 10 % of ``n_train`` images, at most 5,000 (0 below 10 images).

    Example:
        >>> default_val_size(60000), default_val_size(5000), default_val_size(9)
        (5000, 500, 0)
    """
    return min(MAX_DEFAULT_VAL, int(n_train) // 10)


def hold_out(n: int, n_held: int, seed: int) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Indices ``(kept, held)`` of ``n`` items, ``n_held`` of them held out at random.

    Both are sorted; the same ``(n, n_held, seed)`` always gives the same split.

    Raises:
        ValueError: ``n_held`` is negative or leaves nothing to keep.

    Example:
        >>> kept, held = hold_out(10, 3, seed=0)
        >>> len(kept), len(held), sorted(set(kept) | set(held)) == list(range(10))
        (7, 3, True)
    """
    if n_held < 0 or (n_held and n_held >= n):
        raise ValueError(
            f"hold_out: cannot hold out {n_held} of {n} images (need 0 <= N < {n}: some must "
            "be left to train on)"
        )
    order = numpy.random.default_rng([int(seed), 11]).permutation(int(n))
    return numpy.sort(order[n_held:]), numpy.sort(order[:n_held])


def folder_split(n: int, seed: int) -> tuple[numpy.ndarray, numpy.ndarray]:
    """``(train, test)`` indices of a folder of ``n`` images: 1 in 10 (at least 1) for test.

    Example:
        >>> train, test = folder_split(25, seed=0)
        >>> len(train), len(test)
        (23, 2)
    """
    order = numpy.random.default_rng([int(seed), 7]).permutation(int(n))
    n_test = max(1, int(n) // FOLDER_TEST_FRACTION)
    return numpy.sort(order[n_test:]), numpy.sort(order[:n_test])


def folder_test_set(
    root: str | os.PathLike[str],
    metadata: Mapping[str, Any],
    shape: Sequence[int],
    limit: int | None = None,
) -> dict[str, Any]:
    """The test images of a folder for a saved model, prepared by the model's recipe.

    When the model was trained on this folder (its metadata's ``data_path``), only the split
    ``folder_split`` held out then (same seed); otherwise every image.

    Returns:
        dict with ``test`` (uint8 NCHW images, int64 labels), ``classes``, ``name``, ``mean``,
        ``std``, ``files`` (the tested files, relative to ``root``) and ``what`` (a sentence
        saying which images these are).
    """
    from .folder import ImageFolder  # noqa: PLC0415
    from .images import resolve_recipe  # noqa: PLC0415

    C, H, W = (int(s) for s in shape)
    meta = dict(metadata)
    recipe = resolve_recipe(meta)
    invert = meta.get("invert", "auto" if recipe == "mnist" else False)
    ds = ImageFolder(root, (H, W), C, meta.get("classes"), invert, recipe)
    path = str(Path(root).resolve())
    chosen = numpy.arange(len(ds))
    if meta.get("data_path") == path:
        seed = int(meta.get("seed", 0))
        _, chosen = folder_split(len(ds), seed)
        what = (
            f"the {len(chosen)} images held out when the model was trained on this folder "
            f"(seed {seed}); its other {len(ds) - len(chosen)} were training or validation images"
        )
    else:
        what = f"all its {len(ds)} images (the model was trained on {meta.get('dataset', '?')})"
    if limit is not None:
        chosen = chosen[:limit]
    return {
        "test": (ds.images[chosen], ds.labels[chosen]),
        "classes": ds.classes,
        "name": Path(path).name,
        "mean": tuple(meta.get("mean", (0.0,))),
        "std": tuple(meta.get("std", (1.0,))),
        "files": [str(ds.paths[i].relative_to(ds.root)) for i in chosen],
        "what": f"{what}, {recipe} recipe",
    }
