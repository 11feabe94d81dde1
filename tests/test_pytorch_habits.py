"""PyTorch habits that work in tinyconv too: DataLoader(dataset), tinyconv.nn.functional,
tinyconv.from_numpy (issue 23)."""

import numpy as np
import pytest
import torch

import tinyconv
from tinyconv.data import DataLoader, Dataset, TensorDataset


class Squares(Dataset):
    """Sample i: a (1, 4, 4) float image of value i, label i % 3."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return np.full((1, 4, 4), i, np.float32), i % 3


class NoBase:
    """Not a Dataset subclass: __len__ and __getitem__ are enough, as in PyTorch."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return tinyconv.tensor(np.full((2, 3, 3), i, np.float32)), np.int64(i)


def test_dataloader_of_a_dataset_batches_like_torch():
    ours = [(x, y) for x, y in DataLoader(Squares(), batch_size=4)]

    class TorchSquares(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return torch.full((1, 4, 4), float(i)), i % 3

    theirs = list(torch.utils.data.DataLoader(TorchSquares(), batch_size=4))
    assert len(ours) == len(theirs) == 3
    for (x, y), (tx, ty) in zip(ours, theirs, strict=True):
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x, tx.numpy())
        np.testing.assert_array_equal(y, ty.numpy())


def test_dataloader_of_a_dataset_shuffles_every_sample_once_per_epoch():
    loader = DataLoader(Squares(), batch_size=3, shuffle=True, seed=1)
    assert len(loader) == 4
    for _ in range(2):
        seen = np.concatenate([x[:, 0, 0, 0] for x, _ in loader])
        assert sorted(seen.tolist()) == list(range(10))
    first, second = ([x[:, 0, 0, 0].tolist() for x, _ in loader] for _ in range(2))
    assert first != second  # a new order each epoch


def test_dataloader_takes_any_object_with_len_and_getitem_and_tensors_inside():
    xs, ys = zip(*DataLoader(NoBase(), batch_size=2), strict=True)
    assert [x.shape for x in xs] == [(2, 2, 3, 3), (2, 2, 3, 3), (1, 2, 3, 3)]
    assert np.concatenate(ys).tolist() == [0, 1, 2, 3, 4]


def test_tensor_dataset_and_dataloader_train_a_model():
    x = np.random.default_rng(0).integers(0, 255, (8, 1, 6, 6)).astype(np.uint8)
    ds = TensorDataset(x, np.arange(8) % 2)
    xb, yb = next(iter(DataLoader(ds, batch_size=8)))
    np.testing.assert_allclose(xb, x / np.float32(255), rtol=1e-6)  # uint8: pixel/255, as arrays
    assert yb.tolist() == [0, 1] * 4


def test_dataloader_errors_name_what_is_wrong():
    with pytest.raises(TypeError, match="DataLoader: expected images and labels arrays, or one"):
        DataLoader(np.zeros((2, 1, 3, 3)))

    class Bad(Squares):
        def __getitem__(self, i):
            return np.zeros((1, 2, 2))

    with pytest.raises(TypeError, match="a dataset item must be a pair"):
        DataLoader(Bad())

    class Ragged(Squares):
        def __getitem__(self, i):
            return np.zeros((1, 2 + i, 2 + i), np.float32), 0

    with pytest.raises(ValueError, match="differ in shape"):
        list(DataLoader(Ragged(), batch_size=3))
    with pytest.raises(ValueError, match="TensorDataset: the arrays differ in length"):
        TensorDataset(np.zeros(3), np.zeros(4))
