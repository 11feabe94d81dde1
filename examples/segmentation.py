"""Semantic segmentation of MNIST digit scenes: an FCN made from a classifier, and a U-Net.

    python examples/segmentation.py            # full run (about 1 hour on one core)
    python examples/segmentation.py --smoke    # seconds

1. A window classifier (``mnist_cnn``, 11 classes: ten digits and "no digit centred here") is
   trained on 28x28 windows (``examples/common.py``, cached).
2. ``FCN`` turns it into a fully convolutional network (``convolutionize``, "same" padding) with
   bilinear transposed-convolution upsampling and skips from pool1 and relu1 (FCN-8s style;
   ``--fcn-skip pool1`` is FCN-16s), and
   fine-tunes it on 64x64 scenes with per-pixel cross-entropy (background weighted 0.2: it is
   95 % of the pixels, and at weight 1 the U-Net learns ink against background long before it
   learns which digit the ink belongs to).
3. A small ``UNet`` is trained from scratch on the same scenes.
4. Both are measured on 1,000 test scenes (made from MNIST's test digits only): mean IoU over
   the 11 classes (ten digits and background) from the confusion matrix of all pixels.

Writes ``runs/examples/segmentation/``: ``masks.png`` (scene, truth, FCN, U-Net),
``fcn.safetensors``, ``unet.safetensors``, ``results.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from common import (
    figure,
    log,
    parser,
    save_figure,
    save_json,
    setup,
    window_classifier,
)

import tinyconv
import tinyconv.functional as F
from tinyconv import models, optim
from tinyconv.data.scenes import BACKGROUND, segmentation_scenes
from tinyconv.metrics import SegmentationMeter
from tinyconv.optim import CosineAnnealingLR
from tinyconv.train import fit

NUM_CLASSES = 11


def predict(model: tinyconv.nn.Module, images: np.ndarray, batch: int = 50) -> np.ndarray:
    """Per-pixel classes (N, H, W) of uint8 scenes (N, 1, H, W)."""
    model.eval()
    out = []
    with tinyconv.no_grad():
        for i in range(0, len(images), batch):
            x = tinyconv.tensor(images[i : i + batch].astype(np.float32) / 255)
            out.append(model(x).numpy().argmax(axis=1))
    return np.concatenate(out)


def measure(name: str, model: tinyconv.nn.Module, x: np.ndarray, m: np.ndarray) -> dict:
    t = time.perf_counter()
    pred = predict(model, x)
    meter = SegmentationMeter(NUM_CLASSES)
    meter.update(pred, m)
    res = {
        "mean_iou": meter.mean_iou,
        "pixel_accuracy": meter.pixel_accuracy,
        "iou_per_class": [float(v) for v in meter.iou],
        "predict_seconds": time.perf_counter() - t,
    }
    log(
        f"{name}: mean IoU {res['mean_iou']:.4f} over {NUM_CLASSES} classes | pixel accuracy "
        f"{100 * res['pixel_accuracy']:.2f} % | IoU per class "
        + " ".join(f"{v:.2f}" for v in meter.iou)
    )
    return res, pred


def train(
    name: str, model: tinyconv.nn.Module, scenes: tuple, val: tuple, args, epochs: int
) -> float:
    params = sum(p.numel() for p in model.parameters())
    log(
        f"{name}: {params:,} parameters, {epochs} epochs of {len(scenes[0]):,} scenes, "
        f"Adam lr {args.lr} with cosine decay, batch {args.batch_size}"
    )
    opt = optim.Adam(model.parameters(), lr=args.lr)
    weight = np.ones(NUM_CLASSES, np.float32)
    weight[BACKGROUND] = args.bg_weight
    t = time.perf_counter()
    fit(
        model,
        scenes,
        val,
        epochs=epochs,
        optimizer=opt,
        loss=lambda out, masks: F.cross_entropy(out, masks, weight=weight),
        batch_size=args.batch_size,
        scheduler=CosineAnnealingLR(opt, T_max=epochs),
        seed=args.seed,
        verbose=not args.quiet,
    )
    seconds = time.perf_counter() - t
    log(f"{name}: trained in {seconds / 60:.1f} min")
    return seconds


def colour(mask: np.ndarray) -> np.ndarray:
    """Label map -> RGB: a colour per digit, black background."""
    from matplotlib import colormaps  # noqa: PLC0415

    table = np.zeros((NUM_CLASSES, 3), np.float32)
    table[:10] = colormaps["tab10"](np.arange(10))[:, :3]
    return table[mask]


def masks_figure(x: np.ndarray, truth: np.ndarray, preds: dict, path: Path, n: int = 6) -> None:
    cols = 2 + len(preds)
    fig = figure(1.6 * cols, 1.6 * n + 0.6)
    titles = ["scene", "truth", *preds]
    for i in range(n):
        panels = [x[i, 0] / 255, colour(truth[i])] + [colour(p[i]) for p in preds.values()]
        for j, img in enumerate(panels):
            ax = fig.add_subplot(n, cols, i * cols + j + 1)
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=9)
    from matplotlib.patches import Patch  # noqa: PLC0415

    fig.legend(
        handles=[Patch(color=colour(np.array([d]))[0], label=str(d)) for d in range(10)],
        loc="lower center",
        ncol=10,
        fontsize=7,
        frameon=False,
        handlelength=1,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--train-scenes", type=int, default=8000)
    p.add_argument("--test-scenes", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--unet-width", type=int, default=16)
    p.add_argument("--fcn-skip", default="relu1,pool1", help="classifier layers that feed skips")
    p.add_argument(
        "--bg-weight", type=float, default=0.2, help="cross-entropy weight of the background class"
    )
    p.add_argument("--models", default="fcn,unet", help="which models to train")
    args = p.parse_args(argv)
    if args.smoke:
        args.train_scenes, args.test_scenes, args.epochs, args.unet_width = 64, 32, 1, 4
    out = setup(args, "segmentation")
    clf = window_classifier(args, out.parent)

    log(
        f"scenes: {args.train_scenes:,} training (training digits), {args.test_scenes:,} test "
        "(test digits), 64x64, 1-3 digits"
    )
    train_set = segmentation_scenes(args.train_scenes, "train", seed=args.seed)
    test_set = segmentation_scenes(args.test_scenes, "test", seed=args.seed)
    val = (test_set[0][:100], test_set[1][:100])  # per-epoch loss on a few test scenes
    log(f"background is {100 * np.mean(train_set[1] == BACKGROUND):.1f} % of the pixels")

    results: dict = {
        "train_scenes": args.train_scenes,
        "test_scenes": args.test_scenes,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "bg_weight": args.bg_weight,
        "fcn_skip": args.fcn_skip,
    }
    preds = {}
    chosen = args.models.split(",")
    if "fcn" in chosen:
        tinyconv.manual_seed(args.seed)
        skip = tuple(args.fcn_skip.split(","))
        fcn = models.FCN(clf, num_classes=NUM_CLASSES, skip=skip)
        results["fcn_untrained"], _ = measure("FCN before fine-tuning", fcn, *test_set)
        name = f"FCN (skips {skip})"
        results["fcn_seconds"] = train(name, fcn, train_set, val, args, args.epochs)
        results["fcn"], preds["FCN"] = measure("FCN", fcn, *test_set)
        tinyconv.save(fcn, out / "fcn.safetensors")
    if "unet" in chosen:
        tinyconv.manual_seed(args.seed)
        unet = models.unet(width=args.unet_width)
        results["unet_seconds"] = train("U-Net", unet, train_set, val, args, args.epochs)
        results["unet"], preds["U-Net"] = measure("U-Net", unet, *test_set)
        tinyconv.save(unet, out / "unet.safetensors")

    masks_figure(test_set[0], test_set[1], preds, out / "masks.png")
    best = max((k for k in ("fcn", "unet") if k in results), key=lambda k: results[k]["mean_iou"])
    results["best"] = best
    log(
        f"better model: {best}, mean IoU {results[best]['mean_iou']:.4f} on "
        f"{args.test_scenes} test scenes"
    )
    save_json(out / "results.json", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
