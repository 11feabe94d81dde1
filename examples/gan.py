"""A DCGAN on MNIST, its samples judged by a trained MNIST classifier.

    python examples/gan.py                  # AC-GAN: 8 epochs, about 50 min on 2 cores
    python examples/gan.py --code none --epochs 10 --decay-from 6   # the plain DCGAN, ~64 min
    python examples/gan.py --smoke          # seconds

The generator draws a 28x28 digit from 64 random numbers z and a one-hot code c of 10
values (Linear, then two 4x4 stride-2 transposed convolutions with BatchNorm and ReLU, tanh
out); the discriminator (two 4x4 stride-2 convolutions with LeakyReLU 0.2 and BatchNorm, a
Linear layer) gives a logit "real or drawn" and 10 logits for the code. ``--code`` says what
the code is:

- ``labels`` (the default): AC-GAN (Odena, Olah and Shlens, "Conditional Image Synthesis
  with Auxiliary Classifier GANs", ICML 2017; "use labels" in the usual GAN training tricks).
  The code is the digit to draw; the discriminator's 10 extra outputs learn to classify real
  digits by their labels and drawn ones by their code, and the generator is trained to draw
  digits that this classifier reads as the code. At sampling the code is drawn uniformly,
  so the generator is a model of all of MNIST, one tenth per digit.
- ``learned``: InfoGAN (Chen et al., NeurIPS 2016): no labels; the 10 outputs guess the code
  back from drawn digits only, and both players maximise the mutual information between code
  and image, so that the code may come to pick the digit (whether it does is luck: on our run
  it picked a style instead).
- ``none``: the plain DCGAN, noise only.

The usual tricks of Radford et al.: weights N(0, 0.02), Adam lr 2e-4 with beta1 = 0.5, no
pooling, BatchNorm in both; plus one-sided label smoothing (real = 0.9) and the non-saturating
generator loss -log D(G(z)); samples come from an exponential moving average of the
generator's weights (decay 0.999), which smooths out the oscillation of GAN training, and from
epoch ``--decay-from`` both learning rates fall linearly to 0 at the end. Samples are judged as
drawn (z ~ N(0, I), the code uniform) and, separately, with the truncation trick
(z ~ 0.7 N(0, I)).

Judging: 1,000 samples go through a separately trained MNIST classifier (``mnist_cnn``, 6 epochs,
cached by ``examples/common.py``), which is first shown 1,000 real test digits for reference.
Good samples look like one digit (confidence above 0.9), and a generator that covers every
digit gives a predicted-class histogram of entropy close to ln 10 = 2.30 nats.

Writes ``runs/examples/gan/`` (the weights and ``history.json`` after every epoch):
``samples.png`` (100 samples of each kind, with the classifier's labels, and one row per value
of the code), ``generator.safetensors`` (the average), ``generator_last.safetensors``,
``discriminator.safetensors``, ``results.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
from common import (
    digits_source,
    figure,
    image_grid,
    log,
    mnist_classifier,
    parser,
    save_figure,
    save_json,
    setup,
)

import tinyconv
import tinyconv.functional as F
from tinyconv import data, models, nn, optim
from tinyconv.train.progress import ProgressBar


def judge(classifier: tinyconv.nn.Module, images: np.ndarray) -> dict:
    """Confidence and class histogram of generated images in [0, 1], (N, 1, 28, 28)."""
    classifier.eval()
    with tinyconv.no_grad():
        probs = F.softmax(classifier(tinyconv.tensor(images.astype(np.float32))), dim=1).numpy()
    conf, cls = probs.max(1), probs.argmax(1)
    hist = np.bincount(cls, minlength=10) / len(cls)
    nz = hist[hist > 0]
    return {
        "confident_fraction": float((conf > 0.9).mean()),
        "class_entropy_nats": float(-(nz * np.log(nz)).sum()) + 0.0,  # no -0.0
        "class_histogram": hist.tolist(),
        "mean_confidence": float(conf.mean()),
        "labels": cls,
        "confidence": conf,
    }


def generate(
    gen: models.DCGANGenerator, n: int, seed: int, psi: float = 1.0, category=None
) -> np.ndarray:
    """n samples in [0, 1] from z = psi * N(0, I) and a uniform code (seeded), in eval mode.

    psi < 1 is the truncation trick (Brock et al., "Large Scale GAN Training", 2019): codes
    nearer the centre of the latent distribution give more typical, cleaner samples, at the
    price of variety. psi = 1 is the generator's own distribution. ``category``: fixed code
    values instead of uniform draws.
    """
    gen.eval()
    codes, _ = gen.sample_codes(n, np.random.default_rng([seed, 11]), psi, category)
    with tinyconv.no_grad():
        return (gen(codes).numpy() + 1) / 2


class EMA:
    """An exponential moving average of a model's weights and buffers (a copy of the model).

    After every step, w_ema <- d * w_ema + (1 - d) * w. Sampling from the average of the last
    ~1/(1 - d) generators smooths out the oscillation of GAN training (Yazici et al., "The
    Unusual Effectiveness of Averaging in GAN Training", ICLR 2019).
    """

    def __init__(self, model: tinyconv.nn.Module, decay: float) -> None:
        self.model, self.decay = copy.deepcopy(model), decay
        self._pairs = [
            (mine.data, theirs.data)
            for mine, theirs in zip(
                self.model.state_dict().values(), model.state_dict().values(), strict=True
            )
            if mine.data.dtype.kind == "f"
        ]

    def update(self) -> None:
        d = np.float32(self.decay)
        for mine, theirs in self._pairs:
            mine *= d
            mine += (1 - d) * theirs

    def refresh_batch_norm(self, seed: int, batches: int = 20) -> None:
        """Measure the BatchNorm statistics of the averaged generator itself.

        Averaged running statistics belong to the many generators averaged, not to the
        averaged weights; so, as BigGAN's "standing statistics", reset them and take their
        plain average over ``batches`` batches of 100 codes in training mode.
        """
        norms = [m for m in self.model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
        saved = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        rng = np.random.default_rng([seed, 13])
        self.model.train()
        with tinyconv.no_grad():
            for _ in range(batches):
                self.model(self.model.sample_codes(100, rng)[0])
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum


CODES = ("labels", "learned", "none")
TRAINING_KEYS = (
    "epochs",
    "decay_from",
    "width",
    "categories",
    "info_weight",
    "labels",
    "code",
    "train_seconds",
    "train_images",
)


def lr_scale(epoch: int, progress: float, decay_from: int, epochs: int) -> float:
    """Learning-rate factor: 1 before epoch ``decay_from``, then linear to 0 at the end.

    ``progress`` in [0, 1) is how far into ``epoch`` (1-based) training is. Annealing the
    learning rate of both players is, like the weight average, a way to stop GAN training
    at a point instead of in an orbit.
    """
    if epoch < decay_from:
        return 1.0
    span = epochs - decay_from + 1
    return max(0.0, 1.0 - (epoch - decay_from + progress) / span)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument(
        "--decay-from",
        type=int,
        default=5,
        help="from this epoch on, both learning rates fall linearly to 0 at the end",
    )
    p.add_argument(
        "--truncation",
        type=float,
        default=0.7,
        help="psi of the truncated samples reported beside the untruncated ones",
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--width", type=int, default=64)
    p.add_argument(
        "--code",
        choices=CODES,
        default="labels",
        help="the 10-valued code: the digit's label (AC-GAN), learnt without labels "
        "(InfoGAN), or none (plain DCGAN)",
    )
    p.add_argument(
        "--info-weight",
        type=float,
        default=1.0,
        help="weight of the code's cross-entropy (InfoGAN's lambda) in the G and D losses",
    )
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument(
        "--judge-only",
        action="store_true",
        help="no training: judge the generator saved in the output folder again",
    )
    p.add_argument(
        "--ema", type=float, default=0.999, help="decay of the generator's weight average"
    )
    args = p.parse_args(argv)
    out = setup(args, "gan")
    if args.smoke:
        args.epochs, args.samples, args.width, args.decay_from = 2, 100, 16, 2
    classifier = mnist_classifier(args, out.parent)
    xt, _ = data.load(digits_source(), "test")
    reference = judge(classifier, xt[: args.samples].astype(np.float32) / 255)
    log(
        f"the judge on {args.samples} real test digits: "
        f"{100 * reference['confident_fraction']:.1f} % with confidence > 0.9, class entropy "
        f"{reference['class_entropy_nats']:.3f} nats (what a perfect generator would score)"
    )

    if args.judge_only:
        gen = tinyconv.load(out / "generator.safetensors")
        saved = json.loads((out / "results.json").read_text())
        saved.setdefault("categories", 0)  # results written before the code existed
        saved.setdefault("info_weight", 0.0)
        saved.setdefault("labels", False)
        saved.setdefault(
            "code", "labels" if saved["labels"] else "learned" if saved["categories"] else "none"
        )
        log(f"judging {out / 'generator.safetensors'} (trained {saved['epochs']} epochs)")
        report(args, out, gen, classifier, reference, saved)
        return 0
    args.categories = 0 if args.code == "none" else 10
    args.labels = args.code == "labels"
    x, y = data.load(digits_source(), "train")  # not needed to judge
    if args.smoke:
        x, y = x[:256], y[:256]
    gen, seconds, history = train(args, out, x, y, classifier)
    training = {
        "epochs": args.epochs,
        "decay_from": args.decay_from,
        "width": args.width,
        "categories": args.categories,
        "info_weight": args.info_weight if args.categories else 0.0,
        "labels": args.labels,
        "code": args.code,
        "train_seconds": seconds,
        "train_images": len(x),
        "history": history,
    }
    report(args, out, gen, classifier, reference, training)
    return 0


def train(
    args: argparse.Namespace,
    out: Path,
    x: np.ndarray,
    y: np.ndarray,
    classifier: tinyconv.nn.Module,
) -> tuple[tinyconv.nn.Module, float, list]:
    """Train G and D; return the averaged generator, the seconds taken and the history.

    ``y``: the digits' labels, used only with ``--code labels`` (AC-GAN).
    """
    tinyconv.manual_seed(args.seed)
    K = args.categories
    gen = models.dcgan_generator(latent_dim=64, width=args.width, categories=K)
    disc = models.dcgan_discriminator(width=args.width, categories=K)
    opt_g = optim.Adam(gen.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(disc.parameters(), lr=args.lr, betas=(0.5, 0.999))
    log(
        f"DCGAN: generator {sum(p.numel() for p in gen.parameters()):,} and discriminator "
        f"{sum(p.numel() for p in disc.parameters()):,} parameters, {args.epochs} epochs of "
        f"{len(x):,} digits, Adam lr {args.lr} betas (0.5, 0.999), batch {args.batch_size}, "
        + (
            f"the label as code (AC-GAN, weight {args.info_weight})"
            if args.labels
            else f"a categorical code of {K} (InfoGAN, weight {args.info_weight})"
            if K
            else "no code"
        )
    )
    ema = EMA(gen, args.ema)
    rng = np.random.default_rng(args.seed)
    history = []
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        gen.train()
        disc.train()
        order = rng.permutation(len(x))
        n_steps = len(x) // args.batch_size
        bar = ProgressBar(n_steps, f"Epoch {epoch}/{args.epochs}", enabled=not args.quiet)
        d_sum = g_sum = q_sum = 0.0
        for s in range(n_steps):
            scale = lr_scale(epoch, s / n_steps, args.decay_from, args.epochs)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = args.lr * scale
            idx = order[s * args.batch_size : (s + 1) * args.batch_size]
            real = tinyconv.tensor(x[idx].astype(np.float32) / 127.5 - 1)  # [-1, 1], as tanh
            codes, cats = gen.sample_codes(len(idx), rng)
            fake = gen(codes)
            ones = tinyconv.tensor(np.full((len(idx), 1), 0.9, np.float32))  # one-sided smoothing
            zeros = tinyconv.tensor(np.zeros((len(idx), 1), np.float32))
            # discriminator: real -> 0.9, fake (detached: no gradient into G) -> 0; Q guesses
            # the code of the fakes
            out_real, out_fake = disc(real), disc(fake.detach())
            d_loss = F.binary_cross_entropy_with_logits(
                out_real[:, :1], ones
            ) + F.binary_cross_entropy_with_logits(out_fake[:, :1], zeros)
            if K:
                code = tinyconv.tensor(cats)  # the targets of Q, for D's step and G's
                q_loss = F.cross_entropy(out_fake[:, 1:], code)
                if args.labels:  # AC-GAN: D also learns to classify the real digits
                    labels = tinyconv.tensor(y[idx].astype(np.int64))
                    q_loss = q_loss + F.cross_entropy(out_real[:, 1:], labels)
                d_loss = d_loss + args.info_weight * q_loss
                q_sum += q_loss.item()
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            # generator: make D call the fakes real (non-saturating loss), and Q find the code
            scores = disc(fake)
            g_loss = F.binary_cross_entropy_with_logits(
                scores[:, :1], tinyconv.tensor(np.ones((len(idx), 1), np.float32))
            )
            if K:
                g_loss = g_loss + args.info_weight * F.cross_entropy(scores[:, 1:], code)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            ema.update()
            d_sum += d_loss.item()
            g_sum += g_loss.item()
            bar.update(len(idx), g_sum / (s + 1), None)
        bar.close()
        raw = judge(classifier, generate(gen, args.samples, args.seed))
        ema.refresh_batch_norm(args.seed)
        j = judge(classifier, generate(ema.model, args.samples, args.seed))
        jt = judge(classifier, generate(ema.model, args.samples, args.seed, args.truncation))
        history.append(
            {
                "epoch": epoch,
                "d_loss": d_sum / n_steps,
                "g_loss": g_sum / n_steps,
                "q_loss": q_sum / n_steps,
                "confident_fraction": j["confident_fraction"],
                "class_entropy_nats": j["class_entropy_nats"],
                "raw_confident_fraction": raw["confident_fraction"],
                "raw_class_entropy_nats": raw["class_entropy_nats"],
                "truncated_confident_fraction": jt["confident_fraction"],
                "truncated_class_entropy_nats": jt["class_entropy_nats"],
                "lr": args.lr * scale,
            }
        )
        log(
            f"epoch {epoch}: D loss {d_sum / n_steps:.3f}, G loss {g_sum / n_steps:.3f}, "
            f"Q loss {q_sum / n_steps:.3f} | "
            f"{args.samples} samples of the averaged generator: "
            f"{100 * j['confident_fraction']:.1f} % with confidence > 0.9, class entropy "
            f"{j['class_entropy_nats']:.3f} nats (ln 10 = 2.303) | last generator: "
            f"{100 * raw['confident_fraction']:.1f} %, {raw['class_entropy_nats']:.3f} nats | "
            f"averaged, truncated at psi {args.truncation}: "
            f"{100 * jt['confident_fraction']:.1f} %, {jt['class_entropy_nats']:.3f} nats"
        )
        # a checkpoint per epoch: a stopped run keeps what it has learnt
        tinyconv.save(ema.model, out / "generator.safetensors")
        tinyconv.save(gen, out / "generator_last.safetensors")
        tinyconv.save(disc, out / "discriminator.safetensors")
        save_json(out / "history.json", history)
    return ema.model, time.perf_counter() - t0, history


def code_report(
    gen: models.DCGANGenerator, classifier: tinyconv.nn.Module, n: int, seed: int
) -> dict:
    """What the judge reads in samples of each code value (n in all, each value n / K times).

    ``agreement``: how often the judge's digit is the code value itself (for AC-GAN, the
    digit asked for); ``top_digit`` and ``top_digit_share``: per value, the digit the judge
    reads most and how often (for InfoGAN, whether the value picked one digit at all).
    """
    K = gen.categories
    codes = np.arange(n) % K
    labels = judge(classifier, generate(gen, n, seed + 2, 1.0, codes))["labels"]
    top, share = [], []
    for k in range(K):
        counts = np.bincount(labels[codes == k], minlength=10)
        top.append(int(counts.argmax()))
        share.append(float(counts.max() / counts.sum()))
    return {
        "agreement": float((labels == codes).mean()),
        "top_digit": top,
        "top_digit_share": share,
    }


def report(
    args: argparse.Namespace,
    out: Path,
    gen: tinyconv.nn.Module,
    classifier: tinyconv.nn.Module,
    reference: dict,
    training: dict,
) -> None:
    """Judge 1,000 samples untruncated and truncated; write samples.png and results.json.

    ``training``: how the generator was trained (epochs, decay_from, width, train_seconds,
    train_images, history), copied into results.json.
    """
    K = getattr(gen, "categories", 0)
    panels = 3 if K else 2
    fig = figure(5.2 * panels, 5.6)
    results = {}
    for k, psi in enumerate((1.0, args.truncation)):
        images = generate(gen, args.samples, args.seed, psi)
        j = judge(classifier, images)
        results[f"psi={psi:g}"] = {
            key: j[key]
            for key in (
                "confident_fraction",
                "class_entropy_nats",
                "class_histogram",
                "mean_confidence",
            )
        }
        ax = fig.add_subplot(1, panels, k + 1)
        ax.imshow(image_grid(images[:100, 0], 10), cmap="gray", vmin=0, vmax=1)
        for i in range(min(100, len(images))):
            r, c = divmod(i, 10)
            ax.text(2 + c * 30, 2 + r * 30 + 7, str(j["labels"][i]), color="#ffdd33", fontsize=5)
        ax.set_axis_off()
        ax.set_title(
            f"{'z ~ N(0, I)' if psi == 1 else f'truncated: z ~ {psi:g} N(0, I)'}: "
            f"{100 * j['confident_fraction']:.1f} % confident, class entropy "
            f"{j['class_entropy_nats']:.2f} nats",
            fontsize=7,
        )
        log(
            f"final, psi {psi:g}: {100 * j['confident_fraction']:.1f} % of {args.samples} "
            f"samples with confidence > 0.9, class entropy {j['class_entropy_nats']:.3f} nats, "
            f"histogram {np.round(j['class_histogram'], 3).tolist()}"
        )
    if K:  # what each value of the code draws, judged
        results["code"] = code_report(gen, classifier, args.samples, args.seed)
        c = results["code"]
        log(
            f"by code value ({args.samples} samples, each value equally often): the judge's "
            f"most frequent digit per value {c['top_digit']}, its share "
            f"{np.round(c['top_digit_share'], 2).tolist()}; the judge's digit equals the code "
            f"in {100 * c['agreement']:.1f} %"
        )
    if K:  # one row per value of the code: what InfoGAN made of each
        rows = min(K, 10)
        images = generate(gen, 10 * rows, args.seed + 1, 1.0, np.repeat(np.arange(rows), 10))
        labels = judge(classifier, images)["labels"]
        ax = fig.add_subplot(1, panels, panels)
        ax.imshow(image_grid(images[:, 0], 10), cmap="gray", vmin=0, vmax=1)
        for i in range(len(images)):
            r, c = divmod(i, 10)
            ax.text(2 + c * 30, 2 + r * 30 + 7, str(labels[i]), color="#ffdd33", fontsize=5)
        ax.set_axis_off()
        ax.set_title(
            "one row per digit asked for (the code)"
            if training["code"] == "labels"
            else "one row per value of the learnt code",
            fontsize=7,
        )
    kind = {"labels": "AC-GAN", "learned": "InfoGAN", "none": "DCGAN"}[training["code"]]
    fig.suptitle(f"{kind} samples, the MNIST classifier's label in yellow", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "samples.png")
    save_json(
        out / "results.json",
        {
            **{k: training[k] for k in TRAINING_KEYS},
            "samples": args.samples,
            **results["psi=1"],
            "samples_by_psi": results,
            **({"by_code": results["code"]} if K else {}),
            "real_test_digits": {
                k: reference[k] for k in ("confident_fraction", "class_entropy_nats")
            },
            "history": training["history"],
        },
    )


if __name__ == "__main__":
    raise SystemExit(main())
