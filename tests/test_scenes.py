"""Scenes of MNIST digits for segmentation and detection: deterministic, consistent, split-pure."""

import numpy as np
import pytest

from tinyconv.data import scenes
from tinyconv.data.scenes import (
    BACKGROUND,
    INK,
    detection_scenes,
    ink_box,
    resize,
    segmentation_scenes,
    window_samples,
)


def test_segmentation_scenes_are_a_function_of_seed_and_split():
    a = segmentation_scenes(20, "test", seed=3, source="mnist-sample")
    b = segmentation_scenes(20, "test", seed=3, source="mnist-sample")
    c = segmentation_scenes(20, "test", seed=4, source="mnist-sample")
    d = segmentation_scenes(20, "train", seed=3, source="mnist-sample")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[0], d[0])


def test_segmentation_masks_label_exactly_the_ink():
    x, m = segmentation_scenes(200, "train", seed=0, source="mnist-sample")
    assert x.shape == (200, 1, 64, 64) and x.dtype == np.uint8
    assert m.shape == (200, 64, 64) and m.dtype == np.int64
    np.testing.assert_array_equal(m != BACKGROUND, x[:, 0] >= INK)  # ink never shared
    assert set(np.unique(m)) <= set(range(11)) and len(np.unique(m)) == 11
    # 1-3 digits per scene: count the distinct labels' blobs roughly by the label set size
    per_scene = [len(set(np.unique(mi)) - {BACKGROUND}) for mi in m]
    assert 1 <= min(per_scene) and max(per_scene) <= 3


def test_detection_boxes_hold_the_ink_and_never_touch():
    x, boxes, labels = detection_scenes(200, "train", seed=0, source="mnist-sample")
    assert x.shape == (200, 1, 96, 96)
    counts = [len(b) for b in boxes]
    assert min(counts) >= 1 and max(counts) == 5 and 2.7 < np.mean(counts) < 3.3
    for img, b, lab in zip(x[:, 0], boxes, labels, strict=True):
        assert b.dtype == np.float32 and lab.dtype == np.int64 and len(b) == len(lab)
        assert (b[:, :2] >= 0).all() and (b[:, 2:] <= 96).all()
        heights = b[:, 3] - b[:, 1]
        assert ((heights >= 20) & (heights <= 40)).all()
        inside = np.zeros(img.shape, bool)
        for x0, y0, x1, y1 in b.astype(int):
            assert not inside[max(y0 - 1, 0) : y1 + 1, max(x0 - 1, 0) : x1 + 1].any()  # a gap
            inside[y0:y1, x0:x1] = True
        assert not (img[~inside] > 0).any()  # every pixel of every digit lies in its box
        for x0, y0, x1, y1 in b.astype(int):  # and each box holds ink
            assert (img[y0:y1, x0:x1] >= INK).any()


def test_few_drawn_digits_are_left_out_for_want_of_room(monkeypatch):
    """A digit with no free place is dropped; with the defaults that is rare (2 % measured)."""
    drawn = []
    real_ink_box = scenes.ink_box

    def counting_ink_box(img):  # called once per digit drawn for a scene
        drawn.append(1)
        return real_ink_box(img)

    monkeypatch.setattr(scenes, "ink_box", counting_ink_box)
    _, boxes, _ = detection_scenes(300, "train", seed=0, source="mnist-sample")
    placed = sum(len(b) for b in boxes)
    assert 0 <= len(drawn) - placed < 0.05 * len(drawn)
    crowded = detection_scenes(50, "train", seed=0, digits=(12, 12), source="mnist-sample")[1]
    assert max(len(b) for b in crowded) < 12  # 12 boxes of 20-40 px do not fit in 96 x 96


def test_test_scenes_read_only_test_digits(monkeypatch):
    calls = []

    def fake_load(name, split, data_dir=None):
        calls.append((name, split))
        value = 50 if split == "train" else 250
        return np.full((10, 1, 28, 28), value, np.uint8), np.arange(10) % 10

    monkeypatch.setattr(scenes, "load", fake_load)
    x, _ = segmentation_scenes(5, "test", source="mnist")
    _, b, _ = detection_scenes(5, "test", source="mnist")
    assert calls == [("mnist", "test"), ("mnist", "test")]
    assert set(np.unique(x)) == {0, 250}
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        segmentation_scenes(2, "val")


def test_window_samples():
    x, y = window_samples(400, "train", seed=0, source="mnist-sample")
    assert x.shape == (400, 1, 28, 28) and y.dtype == np.int64
    assert 0.4 < (y == BACKGROUND).mean() < 0.6
    for img in x[y != BACKGROUND][:50, 0]:  # centred digits of height 17-23
        y0, y1, x0, x1 = ink_box(img)
        assert 14 <= y1 - y0 <= 24 and abs((y0 + y1) / 2 - 14) <= 3.5
    np.testing.assert_array_equal(x, window_samples(400, "train", seed=0, source="mnist-sample")[0])


def test_resize_and_ink_box():
    img = np.array([[0, 200]], np.uint8)
    assert resize(img, 1, 4).tolist() == [[0, 50, 150, 200]]  # centres at -0.25, 0.25, 0.75, 1.25
    up = resize(np.eye(3, dtype=np.uint8) * 255, 6, 6)
    assert up.shape == (6, 6) and up[0, 0] == 255 and up[5, 5] == 255 and up[0, 5] == 0
    d = np.zeros((28, 28), np.uint8)
    d[5:9, 10:12] = 200
    assert ink_box(d) == (5, 9, 10, 12)
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        detection_scenes(-1)
    with pytest.raises(
        ValueError, match=r"scale must satisfy 1 <= low <= high <= size, got \(30, 20\)"
    ):
        detection_scenes(1, scale=(30, 20), source="mnist-sample")
