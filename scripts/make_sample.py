"""Build tinyconv/data/sample/mnist_sample.npz, the embedded ``mnist-sample`` dataset.

The sample is a class-balanced, seeded subset of real MNIST: 500 training images of each
digit (5,000) drawn from the 60,000 official training images, and 100 test images of each
digit (1,000) from the 10,000 official test images. Within each split the chosen images keep
their original order, and their positions in the official files are stored next to them
(``train_index``, ``test_index``), so anyone can check the sample against the real files.

The file is a NumPy ``.npz`` (zip of ``.npy`` arrays, deflate-compressed) written with fixed
timestamps, so that running this script again writes the same bytes. Its arrays:

    train_images (5000, 1, 28, 28) uint8    train_labels (5000,) uint8    train_index (5000,) int32
    test_images  (1000, 1, 28, 28) uint8    test_labels  (1000,) uint8    test_index  (1000,) int32

Usage:
    python scripts/make_sample.py [--data-dir ../shared/data] [--out tinyconv/data/sample]

After running it, put the printed sha256 into tinyconv/data/registry.py ("mnist-sample").
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import numpy

from tinyconv.data import load

SEED = 20240503
PER_CLASS = {"train": 500, "test": 100}


def balanced_indices(labels: numpy.ndarray, per_class: int, rng: numpy.random.Generator):
    """``per_class`` positions of each label 0-9, drawn without replacement, sorted."""
    chosen = [
        rng.choice(numpy.flatnonzero(labels == c), per_class, replace=False) for c in range(10)
    ]
    return numpy.sort(numpy.concatenate(chosen)).astype(numpy.int32)


def write_npz(path: Path, arrays: dict[str, numpy.ndarray]) -> None:
    """Like numpy.savez_compressed, with fixed zip timestamps (same arrays -> same bytes)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            numpy.lib.format.write_array(buf, numpy.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="holds mnist/ (default: TINYCONV_DATA)")
    parser.add_argument(
        "--out", default=Path(__file__).resolve().parents[1] / "tinyconv/data/sample"
    )
    args = parser.parse_args()
    rng = numpy.random.default_rng(SEED)
    arrays = {}
    for split in ("train", "test"):
        images, labels = load("mnist", split, data_dir=args.data_dir, download=False)
        index = balanced_indices(labels, PER_CLASS[split], rng)
        arrays[f"{split}_images"] = images[index]
        arrays[f"{split}_labels"] = labels[index].astype(numpy.uint8)
        arrays[f"{split}_index"] = index
    out = Path(args.out) / "mnist_sample.npz"
    write_npz(out, arrays)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size:,} bytes) sha256:{digest}")


if __name__ == "__main__":
    main()
