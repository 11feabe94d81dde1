"""Datasets, the embedded MNIST sample, a batch loader with augmentation, and your own images.

    import tinyconv.data as data
    x, y = data.load("mnist", "train")          # uint8 (60000, 1, 28, 28), int64 (60000,)
    loader = data.DataLoader(x, y, batch_size=100, shuffle=True, seed=0,
                             mean=data.MNIST_MEAN, std=data.MNIST_STD)
    for xb, yb in loader:                       # float32 (100, 1, 28, 28), int64 (100,)
        ...

Your own images: ``ImageFolder(root)`` / ``load_folder(root)`` (class subfolders of PNG/JPEG),
``load_image(path)``, and ``prepare_for_model(path, metadata)``: an image as a saved model wants
it, by the recipe in its metadata (``images``: MNIST's crop/fit/centre for digits, else resize),
the one path of ``tinyconv predict``, ``evaluate``, ``viz`` and ``serve``. Held-out splits:
``split``.

Datasets: ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"`` (files in ``data_dir()``, downloaded
when missing) and ``"mnist-sample"`` (inside the package; works offline).
"""

from . import images, split
from .checksum import ChecksumError, DatasetNotFoundError
from .cifar10 import parse_cifar10, read_cifar10
from .dataset import Dataset, TensorDataset
from .datasets import available, classes, default_dataset, info, load, normalization
from .download import data_dir
from .folder import ImageFolder, load_folder, load_image
from .idx import IdxFormatError, parse_idx, read_idx, write_idx
from .images import prepare_for_model
from .loader import DataLoader
from .registry import names
from .transforms import Compose, RandomCrop, RandomHorizontalFlip, cifar_augment

__all__ = [
    "ChecksumError",
    "Compose",
    "DataLoader",
    "Dataset",
    "TensorDataset",
    "RandomCrop",
    "RandomHorizontalFlip",
    "cifar_augment",
    "DatasetNotFoundError",
    "IdxFormatError",
    "ImageFolder",
    "available",
    "classes",
    "data_dir",
    "default_dataset",
    "info",
    "load",
    "load_folder",
    "load_image",
    "names",
    "normalization",
    "images",
    "parse_cifar10",
    "prepare_for_model",
    "split",
    "parse_idx",
    "read_cifar10",
    "read_idx",
    "write_idx",
]
