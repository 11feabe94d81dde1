"""Held-out splits: a validation set out of the training images, a test set out of a folder.

``tinyconv train`` trains on ``train`` minus a validation split (``hold_out``, ``--val N``,
measured after every epoch as ``val_*``) and reads the test split once, at the end
(``test_*``). A folder of images has no test split of its own: ``folder_split`` takes one at
random (10 %, by the seed), and ``tinyconv evaluate`` on the same folder recomputes it, so that
the images a model was trained on are never counted as test images.
"""

from __future__ import annotations

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
