"""A convolutional autoencoder on MNIST, and softmax regression on its 16-number codes.

    python examples/autoencoder.py            # full run (about 4 minutes on 2 cores)
    python examples/autoencoder.py --smoke    # seconds

The encoder (two 4x4 stride-2 convolutions and a Linear layer) squeezes a 28x28 digit into 16
numbers; the decoder (Linear and two transposed convolutions) draws the digit back from them,
trained with per-pixel binary cross-entropy. The lecture's book then classifies digits from
such codes with softmax regression; so does this script, next to softmax regression on the
784 raw pixels.

Writes ``runs/examples/autoencoder/``: ``reconstructions.png``, ``autoencoder.safetensors``,
``results.json``.
"""

from __future__ import annotations

import time

import numpy as np
from common import (
    digits_source,
    figure,
    image_grid,
    log,
    parser,
    save_figure,
    save_json,
    setup,
    train_epoch,
)

import tinyconv
import tinyconv.functional as F
from tinyconv import data, models, nn, optim
from tinyconv.train import evaluate, fit


def encode(model: models.ConvAutoencoder, x: np.ndarray, batch: int = 500) -> np.ndarray:
    model.eval()
    with tinyconv.no_grad():
        return np.concatenate(
            [
                model.encode(tinyconv.tensor(x[i : i + batch].astype(np.float32) / 255)).numpy()
                for i in range(0, len(x), batch)
            ]
        )


def reconstruction_loss(model: models.ConvAutoencoder, x: np.ndarray, batch: int = 500) -> tuple:
    """Mean binary cross-entropy per image (nats, summed over pixels) and mean squared error."""
    model.eval()
    bce = mse = 0.0
    with tinyconv.no_grad():
        for i in range(0, len(x), batch):
            xb = tinyconv.tensor(x[i : i + batch].astype(np.float32) / 255)
            logits = model(xb)
            bce += F.binary_cross_entropy_with_logits(logits, xb, reduction="sum").item()
            mse += F.mse_loss(F.sigmoid(logits), xb, reduction="sum").item()
    return bce / len(x), mse / x[:, 0].size


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--latent", type=int, default=16)
    args = p.parse_args(argv)
    out = setup(args, "autoencoder")
    x, y = data.load(digits_source(), "train")
    xt, yt = data.load(digits_source(), "test")
    if args.smoke:
        x, y, xt, yt, args.epochs = x[:512], y[:512], xt[:256], yt[:256], 1

    model = models.conv_autoencoder(latent_dim=args.latent)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    log(
        f"autoencoder: {sum(p.numel() for p in model.parameters()):,} parameters, latent "
        f"{args.latent}, {args.epochs} epochs of {len(x):,} digits, Adam lr {args.lr}, "
        f"batch {args.batch_size}"
    )
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        train_bce = train_epoch(
            model, opt, x, lambda m, xb: F.binary_cross_entropy_with_logits(
                m(xb), xb, reduction="sum") / len(xb),
            args.batch_size, rng, f"Epoch {epoch}/{args.epochs}", args.quiet,
        )  # fmt: skip
        bce, mse = reconstruction_loss(model, xt)
        log(
            f"epoch {epoch}: train BCE {train_bce:.2f} nats/image | test BCE {bce:.2f} "
            f"nats/image, MSE {mse:.4f} per pixel"
        )
    seconds = time.perf_counter() - t0
    tinyconv.save(model, out / "autoencoder.safetensors")

    # softmax regression (one Linear layer + cross-entropy) on the codes, and on raw pixels
    codes, codes_t = encode(model, x), encode(model, xt)
    mu, sd = codes.mean(0), codes.std(0) + 1e-6
    accs = {}
    for name, (a, b) in {
        "codes": ((codes - mu) / sd, (codes_t - mu) / sd),
        "pixels": (x.reshape(len(x), -1) / 255, xt.reshape(len(xt), -1) / 255),
    }.items():
        a, b = a.astype(np.float32), b.astype(np.float32)
        tinyconv.manual_seed(args.seed)
        reg = nn.Linear(a.shape[1], 10)
        fit(
            reg,
            (a, y),
            epochs=1 if args.smoke else 10,
            batch_size=128,
            seed=args.seed,
            optimizer=optim.Adam(reg.parameters(), lr=1e-2 if name == "codes" else 1e-3),
            verbose=False,
        )
        accs[name] = evaluate(reg, (b, yt))["accuracy"]
        log(
            f"softmax regression on the {a.shape[1]} {name}: test accuracy {100 * accs[name]:.2f} %"
        )

    bce, mse = reconstruction_loss(model, xt)
    show = xt[:12, 0].astype(np.float32) / 255
    model.eval()
    with tinyconv.no_grad():
        rec = F.sigmoid(model(tinyconv.tensor(show[:, None]))).numpy()[:, 0]
    fig = figure(7.2, 1.5)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(image_grid(np.concatenate([show, rec]), 12), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(
        f"test digits (top) and their reconstructions from {args.latent} numbers (bottom)",
        fontsize=8,
    )
    fig.tight_layout()
    save_figure(fig, out / "reconstructions.png")
    save_json(
        out / "results.json",
        {
            "epochs": args.epochs,
            "latent_dim": args.latent,
            "train_seconds": seconds,
            "test_bce_nats_per_image": bce,
            "test_mse_per_pixel": mse,
            "softmax_regression_accuracy": accs,
            "train_images": len(x),
            "test_images": len(xt),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
