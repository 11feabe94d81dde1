"""A convolutional variational autoencoder on MNIST: negative ELBO, samples, interpolation.

    python examples/vae.py            # full run (about 8 minutes on 2 cores)
    python examples/vae.py --smoke    # seconds

The encoder gives, for each digit, the mean and log-variance of a Gaussian over 16 latent
numbers; a sample z = mu + sigma * eps (the reparameterisation trick, so gradients reach mu
and sigma) is decoded back into pixel probabilities. The loss is the negative evidence lower
bound (ELBO) per image, in nats:

    -ELBO = sum over pixels of BCE(decoder(z), x)  +  KL( N(mu, sigma^2) || N(0, I) )

With the pixels' grey levels taken as Bernoulli means this is a bound for binary images and a
figure to compare models by, not the likelihood of grey images. The test figure is the mean
over the 10,000 test digits, one draw of eps each (seeded).

Writes ``runs/examples/vae/``: ``samples.png`` (decoded from z ~ N(0, I)), ``interpolation.png``
(decoded along straight lines between the codes of two test digits), ``vae.safetensors``,
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
from tinyconv import data, models, optim


def test_elbo(model: models.ConvVAE, x: np.ndarray, seed: int, batch: int = 500) -> dict:
    """Mean negative ELBO, reconstruction and KL per test image (nats), one eps draw each."""
    model.eval()
    rng = np.random.default_rng([seed, 7])
    sums = np.zeros(3)
    with tinyconv.no_grad():
        for i in range(0, len(x), batch):
            xb = tinyconv.tensor(x[i : i + batch].astype(np.float32) / 255)
            mu, logvar = model.encode(xb)
            eps = rng.standard_normal(mu.shape, dtype=np.float32)
            logits = model.decode(model.reparameterize(mu, logvar, eps))
            parts = models.vae_loss(logits, xb, mu, logvar)
            sums += np.array([p.item() for p in parts]) * len(xb)
    total, recon, kl = sums / len(x)
    return {"neg_elbo": total, "recon": recon, "kl": kl}


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--latent", type=int, default=16)
    args = p.parse_args(argv)
    out = setup(args, "vae")
    x, _ = data.load(digits_source(), "train")
    xt, _ = data.load(digits_source(), "test")
    if args.smoke:
        x, xt, args.epochs = x[:512], xt[:256], 1

    model = models.conv_vae(latent_dim=args.latent)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    log(
        f"VAE: {sum(p.numel() for p in model.parameters()):,} parameters, latent {args.latent}, "
        f"{args.epochs} epochs of {len(x):,} digits, Adam lr {args.lr}, batch {args.batch_size}"
    )
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        train_loss = train_epoch(
            model, opt, x, lambda m, xb: models.vae_loss(*_forward(m, xb))[0],
            args.batch_size, rng, f"Epoch {epoch}/{args.epochs}", args.quiet,
        )  # fmt: skip
        res = test_elbo(model, xt, args.seed)
        log(
            f"epoch {epoch}: train -ELBO {train_loss:.2f} | test -ELBO {res['neg_elbo']:.2f} "
            f"nats/image (reconstruction {res['recon']:.2f} + KL {res['kl']:.2f})"
        )
    seconds = time.perf_counter() - t0
    tinyconv.save(model, out / "vae.safetensors")

    samples = model.sample(64, rng=args.seed).numpy()[:, 0]
    fig = figure(4.2, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(image_grid(samples, 8), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(f"64 samples: decoder(z), z ~ N(0, I) in {args.latent} dimensions", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "samples.png")

    # interpolation: straight lines between the means of pairs of test digits
    model.eval()
    pairs = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)]
    with tinyconv.no_grad():
        mu, _ = model.encode(tinyconv.tensor(xt[:12].astype(np.float32) / 255))
        mu = mu.numpy()
        t = np.linspace(0, 1, 10, dtype=np.float32)[:, None]
        z = np.concatenate([(1 - t) * mu[a] + t * mu[b] for a, b in pairs])
        frames = tinyconv.functional.sigmoid(model.decode(tinyconv.tensor(z))).numpy()[:, 0]
    fig = figure(5.0, 3.3)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(image_grid(frames, 10), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title("decoded along straight lines between two test digits' codes", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "interpolation.png")
    res = test_elbo(model, xt, args.seed)
    save_json(
        out / "results.json",
        {
            "epochs": args.epochs,
            "latent_dim": args.latent,
            "train_seconds": seconds,
            "test_neg_elbo_nats_per_image": res["neg_elbo"],
            "test_reconstruction_nats": res["recon"],
            "test_kl_nats": res["kl"],
            "train_images": len(x),
            "test_images": len(xt),
        },
    )
    return 0


def _forward(model: models.ConvVAE, xb: tinyconv.Tensor) -> tuple:
    logits, mu, logvar = model(xb)
    return logits, xb, mu, logvar


if __name__ == "__main__":
    raise SystemExit(main())
