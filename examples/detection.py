"""Digit detection in 96x96 scenes: sliding windows first, then a one-stage CenterNet.

    python examples/detection.py            # full run (about 12 minutes on one core)
    python examples/detection.py --smoke    # seconds

1. **Sliding windows** (the seeds' idea): the window classifier of ``examples/common.py``
   (``mnist_cnn`` with a "no digit" class), convolutionized, scores every 28x28 window of the
   scene at four scales in one pass each; windows whose digit probability passes a threshold
   become boxes, and non-maximum suppression keeps the best of overlapping ones.
2. **CenterNet** ("objects as points"): a small stride-4 network with dilated convolutions
   predicts a heatmap of digit centres per class, the box size and the centre offset; trained
   end to end with the focal loss + L1 (``tinyconv.models.centernet_loss``).
3. Both are measured by mAP@0.5 (PASCAL VOC, all-point interpolation) over the ten digits on
   1,000 test scenes made from MNIST's test digits.

Writes ``runs/examples/detection/``: ``boxes.png`` (truth, sliding windows, CenterNet),
``centernet.safetensors``, ``results.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from common import figure, log, parser, save_figure, save_json, setup, window_classifier

import tinyconv
from tinyconv import models, optim
from tinyconv.data.scenes import detection_scenes
from tinyconv.metrics import mean_average_precision
from tinyconv.optim import CosineAnnealingLR
from tinyconv.train import fit

NUM_CLASSES = 10


def centernet_detect(model: tinyconv.nn.Module, images: np.ndarray, batch: int = 50) -> list:
    model.eval()
    dets: list = []
    with tinyconv.no_grad():
        for i in range(0, len(images), batch):
            x = tinyconv.tensor(images[i : i + batch].astype(np.float32) / 255)
            dets += model.decode(model(x), k=20, threshold=0.05)
    return dets


def score(name: str, dets: list, gt: tuple, seconds: float) -> dict:
    res = mean_average_precision(dets, list(zip(*gt, strict=True)), NUM_CLASSES, iou_threshold=0.5)
    log(
        f"{name}: mAP@0.5 {res.map:.4f} over {NUM_CLASSES} classes on {len(dets)} test scenes "
        f"({seconds:.1f} s) | AP per class " + " ".join(f"{a:.2f}" for a in res.ap)
    )
    return {
        "map50": res.map,
        "ap_per_class": [float(a) for a in res.ap],
        "seconds": seconds,
        "detections": int(res.num_detections.sum()),
    }


def boxes_figure(x: np.ndarray, gt: tuple, rows: dict, path: Path, n: int = 6) -> None:
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    fig = figure(1.9 * n, 2.0 * len(rows) + 0.2)
    for r, (name, dets) in enumerate(rows.items()):
        for i in range(n):
            ax = fig.add_subplot(len(rows), n, r * n + i + 1)
            ax.imshow(x[i, 0], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(name, fontsize=9)
            for x0, y0, x1, y1 in gt[0][i]:
                ax.add_patch(
                    Rectangle(
                        (x0 - 0.5, y0 - 0.5),
                        x1 - x0,
                        y1 - y0,
                        fill=False,
                        edgecolor="#33cc33",
                        linewidth=1.0,
                        linestyle=":",
                    )
                )
            if dets is None:
                continue
            boxes, scores, labels = dets[i]
            for (x0, y0, x1, y1), s, c in zip(boxes, scores, labels, strict=True):
                if s < 0.3:
                    continue
                ax.add_patch(
                    Rectangle(
                        (x0 - 0.5, y0 - 0.5),
                        x1 - x0,
                        y1 - y0,
                        fill=False,
                        edgecolor="#ff4040",
                        linewidth=1.2,
                    )
                )
                ax.text(x0, y0 - 1, f"{c} {s:.2f}", color="#ffdd33", fontsize=6, va="bottom")
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--train-scenes", type=int, default=4000)
    p.add_argument("--test-scenes", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--window-threshold", type=float, default=0.2)
    args = p.parse_args(argv)
    if args.smoke:
        args.train_scenes, args.test_scenes, args.epochs, args.width = 64, 32, 1, 8
    out = setup(args, "detection")
    clf = window_classifier(args, out.parent)

    log(
        f"scenes: {args.train_scenes:,} training, {args.test_scenes:,} test, 96x96, "
        "1-5 digits of height 20-40"
    )
    x_train, b_train, l_train = detection_scenes(args.train_scenes, "train", seed=args.seed)
    x_test, b_test, l_test = detection_scenes(args.test_scenes, "test", seed=args.seed)
    gt = (b_test, l_test)
    results: dict = {"train_scenes": args.train_scenes, "test_scenes": args.test_scenes}

    t = time.perf_counter()
    sw = models.sliding_window_detect(clf, x_test, threshold=args.window_threshold)
    results["sliding_window"] = score("sliding windows", sw, gt, time.perf_counter() - t)

    tinyconv.manual_seed(args.seed)
    net = models.centernet(width=args.width)
    K, R = NUM_CLASSES, net.stride
    targets = models.centernet_targets(b_train, l_train, K, (96 // R, 96 // R), R)
    val_targets = models.centernet_targets(b_test[:100], l_test[:100], K, (96 // R, 96 // R), R)
    log(
        f"CenterNet: {sum(p.numel() for p in net.parameters()):,} parameters, {args.epochs} "
        f"epochs, Adam lr {args.lr} with cosine decay, batch {args.batch_size}"
    )
    opt = optim.Adam(net.parameters(), lr=args.lr)
    t = time.perf_counter()
    fit(
        net,
        (x_train, targets),
        (x_test[:100], val_targets),
        epochs=args.epochs,
        optimizer=opt,
        loss=lambda out, tgt: models.centernet_loss(out, tgt, K)[0],
        batch_size=args.batch_size,
        scheduler=CosineAnnealingLR(opt, T_max=args.epochs),
        seed=args.seed,
        verbose=not args.quiet,
    )
    results["centernet_train_seconds"] = time.perf_counter() - t
    log(f"CenterNet: trained in {results['centernet_train_seconds'] / 60:.1f} min")
    tinyconv.save(net, out / "centernet.safetensors")
    t = time.perf_counter()
    cn = centernet_detect(net, x_test)
    results["centernet"] = score("CenterNet", cn, gt, time.perf_counter() - t)

    boxes_figure(x_test, gt, {"sliding windows": sw, "CenterNet": cn}, out / "boxes.png")
    save_json(out / "results.json", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
