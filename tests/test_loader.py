"""DataLoader (seeded shuffling, drop_last, normalisation) and the vectorised augmentations."""

import time

import numpy as np
import pytest

import tinyconv
from tinyconv.data import (
    Compose,
    DataLoader,
    RandomCrop,
    RandomHorizontalFlip,
    cifar_augment,
    normalization,
)


def _data(n=10, c=1, h=4, w=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, c, h, w), dtype=np.uint8), np.arange(n)


def _labels_per_batch(loader):
    return [y.tolist() for _, y in loader]


# ------------------------------------------------------------------ batching
@pytest.mark.parametrize(
    "n, batch_size, drop_last, sizes",
    [(10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]), (8, 4, True, [4, 4]), (3, 5, False, [3]),
     (3, 5, True, [])],
)  # fmt: skip
def test_len_and_batch_sizes(n, batch_size, drop_last, sizes):
    x, y = _data(n)
    loader = DataLoader(x, y, batch_size, shuffle=True, drop_last=drop_last, seed=1)
    assert len(loader) == len(sizes)
    batches = list(loader)
    assert [len(xb) for xb, _ in batches] == sizes
    assert [len(yb) for _, yb in batches] == sizes


def test_unshuffled_order_and_dtypes():
    x, y = _data(10)
    loader = DataLoader(x, y.astype(np.uint8), batch_size=4)
    assert _labels_per_batch(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    xb, yb = next(iter(loader))
    assert xb.dtype == np.float32 and xb.shape == (4, 1, 4, 4)
    assert yb.dtype == np.int64 and isinstance(xb, np.ndarray)
    np.testing.assert_allclose(xb, x[:4] / 255.0, rtol=1e-6, atol=1e-7)


def test_each_epoch_is_a_permutation():
    x, y = _data(23)
    loader = DataLoader(x, y, batch_size=5, shuffle=True, seed=7)
    seen = []
    for _ in range(3):
        order = np.concatenate([yb for _, yb in loader])
        assert sorted(order.tolist()) == list(range(23))
        seen.append(order.tolist())
    assert seen[0] != seen[1] != seen[2] != seen[0]  # a new order every epoch


def test_images_follow_their_labels():
    x, y = _data(17)
    for xb, yb in DataLoader(x, y, batch_size=4, shuffle=True, seed=3):
        np.testing.assert_allclose(xb, x[yb] / 255.0, rtol=1e-6, atol=1e-7)


def test_shuffling_is_seeded_and_resumable():
    x, y = _data(30)
    a = DataLoader(x, y, batch_size=8, shuffle=True, seed=42)
    b = DataLoader(x, y, batch_size=8, shuffle=True, seed=42)
    epochs_a = [_labels_per_batch(a) for _ in range(3)]
    assert epochs_a == [_labels_per_batch(b) for _ in range(3)]
    # a resumed run: a fresh loader set to epoch 2 gives epoch 2's order
    c = DataLoader(x, y, batch_size=8, shuffle=True, seed=42)
    c.set_epoch(2)
    assert _labels_per_batch(c) == epochs_a[2]
    assert c.state_dict() == {"seed": 42, "epoch": 3}
    d = DataLoader(x, y, batch_size=8, shuffle=True, seed=0)
    d.load_state_dict({"seed": 42, "epoch": 1})
    assert _labels_per_batch(d) == epochs_a[1]
    other = DataLoader(x, y, batch_size=8, shuffle=True, seed=43)
    assert _labels_per_batch(other) != epochs_a[0]


def test_seed_none_follows_manual_seed():
    x, y = _data(30)
    tinyconv.manual_seed(5)
    first = _labels_per_batch(DataLoader(x, y, batch_size=10, shuffle=True))
    tinyconv.manual_seed(5)
    again = DataLoader(x, y, batch_size=10, shuffle=True)
    assert _labels_per_batch(again) == first and again.seed is not None
    assert DataLoader(x, y, batch_size=10).seed is None  # no randomness: no seed drawn


# ------------------------------------------------------------------ normalisation
def test_normalisation_per_channel():
    x = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16).repeat(3, axis=1).repeat(2, axis=0)
    y = np.zeros(2, np.int64)
    mean, std = normalization("cifar10")
    xb, _ = next(iter(DataLoader(x, y, batch_size=2, mean=mean, std=std)))
    expected = (x / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    assert xb.dtype == np.float32 and xb.shape == (2, 3, 16, 16)
    np.testing.assert_allclose(xb, expected, rtol=0, atol=2e-6)
    # pixel 0 and 255 of the red channel, by hand
    assert xb[0, 0, 0, 0] == pytest.approx((0 - 0.4914) / 0.2470, abs=1e-6)
    assert xb[0, 0, 15, 15] == pytest.approx((1 - 0.4914) / 0.2470, abs=1e-6)


def test_normalisation_mnist_constants_and_float_images():
    x, y = _data(6, h=28, w=28)
    xb, _ = next(iter(DataLoader(x, y, batch_size=6, mean=0.1307, std=0.3081)))
    np.testing.assert_allclose(xb, (x / 255.0 - 0.1307) / 0.3081, atol=2e-6)
    floats = (x / 255.0).astype(np.float32)
    fb, _ = next(iter(DataLoader(floats, y, batch_size=6, mean=0.1307, std=0.3081)))
    np.testing.assert_allclose(fb, xb, atol=2e-6)
    assert fb.dtype == np.float32
    before = x.copy()
    list(DataLoader(x, y, batch_size=4, transform=cifar_augment_small(), seed=0, mean=0.5))
    np.testing.assert_array_equal(x, before)  # the dataset is never changed


def cifar_augment_small():
    return Compose([RandomCrop(28, padding=2), RandomHorizontalFlip()])


def test_loader_argument_errors():
    x, y = _data(10)
    with pytest.raises(
        ValueError, match=r"expected images \(N, C, H, W\), got shape \(10, 4, 4\) \(add"
    ):
        DataLoader(x[:, 0], y, 4)
    with pytest.raises(
        ValueError, match=r"expected labels \(10,\) for 10 images, got shape \(9,\)"
    ):
        DataLoader(x, y[:9], 4)
    with pytest.raises(ValueError, match=r"batch_size must be >= 1, got 0"):
        DataLoader(x, y, 0)
    with pytest.raises(TypeError, match=r"batch_size must be an int"):
        DataLoader(x, y, 2.5)
    with pytest.raises(ValueError, match=r"mean must be one number or 1 \(one per channel\)"):
        DataLoader(x, y, 4, mean=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match=r"std must be > 0"):
        DataLoader(x, y, 4, std=0.0)
    with pytest.raises(ValueError, match=r"seed must be an int >= 0"):
        DataLoader(x, y, 4, shuffle=True, seed=-1)
    with pytest.raises(TypeError, match=r"labels must be integers"):
        DataLoader(x, y.astype(np.float32), 4)


# ------------------------------------------------------------------ augmentation
def _pad_crop_reference(x, p, top, left, h, w):
    """Per-image loop reference: pad with zeros, then crop at (top, left)."""
    out = []
    for img, t, l in zip(x, top, left, strict=True):
        padded = np.pad(img, ((0, 0), (p, p), (p, p)))
        out.append(padded[:, t : t + h, l : l + w])
    return np.stack(out)


def test_random_crop_matches_a_loop():
    x, _ = _data(50, c=3, h=32, w=32)
    out = RandomCrop(32, padding=4)(x, np.random.default_rng(11))
    rng = np.random.default_rng(11)  # the same draws, in the same order
    top, left = rng.integers(0, 9, 50), rng.integers(0, 9, 50)
    assert out.shape == (50, 3, 32, 32) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, _pad_crop_reference(x, 4, top, left, 32, 32))
    assert len(set(zip(top.tolist(), left.tolist(), strict=True))) > 20  # offsets vary
    assert top.min() == 0 and top.max() == 8  # the whole range 0..2p is used


def test_random_crop_black_border_and_smaller_crop():
    x = np.full((200, 1, 6, 6), 9, np.uint8)
    out = RandomCrop(6, padding=2)(x, np.random.default_rng(0))
    # an image shifted by (dy, dx) shows |dy| zero rows and |dx| zero columns
    zeros = (out == 0).sum(axis=(1, 2, 3))
    assert zeros.min() == 0 and zeros.max() == 36 - 4 * 4  # shifted by 2 and 2: a 4x4 window left
    assert set(np.unique(out)) == {0, 9}
    small = RandomCrop((3, 5))(x[:4], np.random.default_rng(0))
    assert small.shape == (4, 1, 3, 5) and np.all(small == 9)
    assert np.array_equal(RandomCrop(6)(x[:3], np.random.default_rng(0)), x[:3])  # no padding


def test_random_flip():
    x, _ = _data(64, c=3, h=5, w=7)
    np.testing.assert_array_equal(
        RandomHorizontalFlip(1.0)(x, np.random.default_rng(0)), x[..., ::-1]
    )
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0)(x, np.random.default_rng(0)), x)
    out = RandomHorizontalFlip()(x, np.random.default_rng(3))
    flipped = np.random.default_rng(3).random(64) < 0.5
    assert 16 < flipped.sum() < 48
    np.testing.assert_array_equal(out[flipped], x[flipped][..., ::-1])
    np.testing.assert_array_equal(out[~flipped], x[~flipped])


def test_augmentation_is_deterministic_per_seed_and_epoch():
    x, y = _data(40, c=3, h=32, w=32)
    kw = dict(batch_size=16, shuffle=True, transform=cifar_augment())
    a = [xb for xb, _ in DataLoader(x, y, seed=9, **kw)]
    b = [xb for xb, _ in DataLoader(x, y, seed=9, **kw)]
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    c = DataLoader(x, y, seed=9, **kw)
    list(c)
    second = [xb for xb, _ in c]
    assert not np.array_equal(a[0], second[0])  # a new epoch: new order and new augmentation
    c.set_epoch(1)
    np.testing.assert_array_equal([xb for xb, _ in c][0], second[0])
    other = [xb for xb, _ in DataLoader(x, y, seed=10, **kw)]
    assert not np.array_equal(a[0], other[0])


def test_augmentation_errors_and_repr():
    x, _ = _data(2, c=3, h=8, w=8)
    with pytest.raises(
        ValueError,
        match=r"RandomCrop\(12, padding=1\): crop 12x12 is larger than the padded image 10x10",
    ):
        RandomCrop(12, padding=1)(x, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"expected a batch \(N, C, H, W\), got \(3, 8, 8\)"):
        RandomHorizontalFlip()(x[0], np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"padding must be an int >= 0"):
        RandomCrop(8, padding=-1)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        RandomHorizontalFlip(1.5)
    assert (
        repr(cifar_augment()) == "Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(p=0.5)])"
    )


def test_loader_is_fast():
    """One CIFAR-size batch of 128 with crop+flip+normalisation: well under a training step."""
    x, y = _data(2048, c=3, h=32, w=32)
    mean, std = normalization("cifar10")
    loader = DataLoader(
        x, y, 128, shuffle=True, seed=0, transform=cifar_augment(), mean=mean, std=std
    )
    times = []
    it = iter(loader)
    for _ in range(len(loader)):
        t = time.perf_counter()
        next(it)
        times.append(time.perf_counter() - t)
    assert np.median(times) < 0.02  # measured ~0.6 ms on 2 cores; a step takes 100s of ms
