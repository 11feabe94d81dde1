"""The generative zoo (tinyconv/models/generative.py): shapes, counts, and PyTorch twins.

Each model is written again below in plain PyTorch with the same state-dict names; tinyconv's
random weights are copied into the twin by name, and the forward outputs (float32, 1e-4
relative) and the gradients of the input and of every parameter (1e-3 relative, as in
tests/test_models.py) must agree. BatchNorm is checked in train mode (batch statistics,
running-statistic updates) and in eval mode (randomised running statistics).
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict

import numpy as np
import pytest

import tinyconv
import tinyconv.functional as F
from tinyconv import nn
from tinyconv.models import _base
from tinyconv.models.generative import (
    ConvAutoencoder,
    ConvVAE,
    DCGANDiscriminator,
    DCGANGenerator,
    conv_autoencoder,
    conv_vae,
    dcgan_discriminator,
    dcgan_generator,
    vae_loss,
)

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

COUNTER = "num_batches_tracked"


# --------------------------------------------------------------------- the PyTorch twins
class TorchAutoencoder(tnn.Module):
    def __init__(self, c: int = 1, latent: int = 16, w: int = 32) -> None:
        super().__init__()
        self.w = w
        self.encoder = tnn.Sequential(
            OrderedDict(
                conv1=tnn.Conv2d(c, w, 4, 2, 1),
                relu1=tnn.ReLU(),
                conv2=tnn.Conv2d(w, 2 * w, 4, 2, 1),
                relu2=tnn.ReLU(),
                flatten=tnn.Flatten(),
                fc=tnn.Linear(2 * w * 49, latent),
            )
        )
        self.project = tnn.Linear(latent, 2 * w * 49)
        self.decoder = torch_decoder(c, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.project(self.encoder(x)).view(-1, 2 * self.w, 7, 7))


def torch_decoder(c: int, w: int) -> tnn.Sequential:
    return tnn.Sequential(
        OrderedDict(
            relu0=tnn.ReLU(),
            deconv1=tnn.ConvTranspose2d(2 * w, w, 4, 2, 1),
            relu1=tnn.ReLU(),
            deconv2=tnn.ConvTranspose2d(w, c, 4, 2, 1),
        )
    )


class TorchVAE(tnn.Module):
    def __init__(self, c: int = 1, latent: int = 16, w: int = 32) -> None:
        super().__init__()
        self.w = w
        self.encoder = tnn.Sequential(
            OrderedDict(
                conv1=tnn.Conv2d(c, w, 4, 2, 1),
                relu1=tnn.ReLU(),
                conv2=tnn.Conv2d(w, 2 * w, 4, 2, 1),
                relu2=tnn.ReLU(),
                flatten=tnn.Flatten(),
            )
        )
        self.fc_mu = tnn.Linear(2 * w * 49, latent)
        self.fc_logvar = tnn.Linear(2 * w * 49, latent)
        self.project = tnn.Linear(latent, 2 * w * 49)
        self.decoder = torch_decoder(c, w)

    def forward(self, x: torch.Tensor, eps: torch.Tensor):
        h = self.encoder(x)
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decoder(self.project(z).view(-1, 2 * self.w, 7, 7)), mu, logvar


def torch_vae_loss(logits, x, mu, logvar):
    n = logits.shape[0]
    recon = TF.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return recon + kl, recon, kl


class TorchGenerator(tnn.Module):
    def __init__(self, latent: int = 64, w: int = 64, c: int = 1) -> None:
        super().__init__()
        self.w = w
        self.project = tnn.Sequential(
            OrderedDict(
                fc=tnn.Linear(latent, 2 * w * 49, bias=False),
                bn=tnn.BatchNorm1d(2 * w * 49),
                relu=tnn.ReLU(),
            )
        )
        self.upsample = tnn.Sequential(
            OrderedDict(
                deconv1=tnn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),
                bn1=tnn.BatchNorm2d(w),
                relu1=tnn.ReLU(),
                deconv2=tnn.ConvTranspose2d(w, c, 4, 2, 1),
                tanh=tnn.Tanh(),
            )
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z).view(-1, 2 * self.w, 7, 7))


def torch_discriminator(w: int = 64, c: int = 1, outputs: int = 1) -> tnn.Module:
    return tnn.Sequential(
        OrderedDict(
            conv1=tnn.Conv2d(c, w, 4, 2, 1),
            lrelu1=tnn.LeakyReLU(0.2),
            conv2=tnn.Conv2d(w, 2 * w, 4, 2, 1, bias=False),
            bn2=tnn.BatchNorm2d(2 * w),
            lrelu2=tnn.LeakyReLU(0.2),
            flatten=tnn.Flatten(),
            fc=tnn.Linear(2 * w * 49, outputs),
        )
    )


# ---------------------------------------------------------------------------- helpers
def randomize_bn(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BatchNorm affine parameters and running statistics, so that they matter."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.weight.shape[0]
            m.weight.data = rng.uniform(0.5, 1.5, n).astype(np.float32)
            m.bias.data = rng.normal(0, 0.1, n).astype(np.float32)
            m.running_mean.data = rng.normal(0, 0.1, n).astype(np.float32)
            m.running_var.data = rng.uniform(0.5, 1.5, n).astype(np.float32)


def copy_to_torch(model: nn.Module, tmodel: torch.nn.Module) -> None:
    """Copy every tinyconv parameter and buffer into the twin; names and order must match."""
    mine = [(k, v) for k, v in model.state_dict().items() if not k.endswith(COUNTER)]
    theirs = [(k, v) for k, v in tmodel.state_dict().items() if not k.endswith(COUNTER)]
    assert [k for k, _ in mine] == [k for k, _ in theirs]
    with torch.no_grad():
        for (k, v), (_, t) in zip(mine, theirs, strict=True):
            assert tuple(t.shape) == v.shape, k
            t.copy_(torch.from_numpy(v.numpy()))


def assert_close(a, b, rtol: float = 1e-4, what: str = "") -> None:
    """Equal within rtol, relative to each element and to the array's scale."""
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(
        a, b, rtol=rtol, atol=rtol * float(np.abs(b).max() + 1e-30), err_msg=what
    )


def randn(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def pixels(shape: tuple[int, ...], seed: int = 2) -> np.ndarray:
    """Grayscale images in [0, 1]."""
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def check_grads(model: nn.Module, tmodel: torch.nn.Module, xc, xt) -> None:
    """Every parameter's gradient and the input's, after backward of the same scalar."""
    tgrads = dict(tmodel.named_parameters())
    names = [name for name, _ in model.named_parameters()]
    assert names == list(tgrads)
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} has no gradient"
        assert_close(p.grad.numpy(), tgrads[name].grad.numpy(), rtol=1e-3, what=f"grad of {name}")
    assert_close(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-3, what="grad of the input")


def forward_backward(model, tmodel, x: np.ndarray, train: bool) -> None:
    """Forward against the twin, then backward of sum(y * R) for a fixed random R."""
    model.train(train)
    tmodel.train(train)
    xc = tinyconv.tensor(x, requires_grad=True)
    xt = torch.from_numpy(x).requires_grad_(True)
    y, yt = model(xc), tmodel(xt)
    assert y.shape == tuple(yt.shape) and y.dtype == np.float32
    assert_close(y.numpy(), yt.detach().numpy(), what=f"forward (train={train})")
    R = randn(y.shape, seed=7)
    (y * tinyconv.tensor(R)).sum().backward()
    (yt * torch.from_numpy(R)).sum().backward()
    check_grads(model, tmodel, xc, xt)


def running_stats_match(model: nn.Module, tmodel: torch.nn.Module) -> None:
    theirs = tmodel.state_dict()
    checked = 0
    for k, v in model.state_dict().items():
        if "running" in k:
            assert_close(v.numpy(), theirs[k].numpy(), what=k)
            checked += 1
        elif k.endswith(COUNTER):
            assert int(v.item()) == int(theirs[k].item()), k
    assert checked > 0


def train_then_eval_match(model, tmodel, x: np.ndarray) -> None:
    """Against the twin: a training pass (batch statistics, running statistics updated and
    compared), then an eval pass that uses the running statistics just updated."""
    forward_backward(model, tmodel, x, train=True)
    running_stats_match(model, tmodel)
    model.zero_grad()
    tmodel.zero_grad()
    forward_backward(model, tmodel, x, train=False)


def conv_params(c_in: int, c_out: int, k: int = 4, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


# ----------------------------------------------------------------------------- shapes
def test_output_shapes():
    x = tinyconv.tensor(pixels((2, 1, 28, 28)))
    with tinyconv.no_grad():
        ae = ConvAutoencoder()
        assert ae.encode(x).shape == (2, 16) and ae(x).shape == (2, 1, 28, 28)
        vae = ConvVAE(latent_dim=5, width=8)
        logits, mu, logvar = vae(x)
        assert (logits.shape, mu.shape, logvar.shape) == ((2, 1, 28, 28), (2, 5), (2, 5))
        assert vae.decode(mu).shape == (2, 1, 28, 28)
        g = DCGANGenerator().eval()
        img = g(tinyconv.tensor(randn((3, 64))))
        assert img.shape == (3, 1, 28, 28)
        assert np.abs(img.numpy()).max() <= 1.0  # tanh
        assert DCGANDiscriminator()(x).shape == (2, 1)
        # three channels (e.g. colour 28x28) pass through every model
        x3 = tinyconv.tensor(pixels((2, 3, 28, 28)))
        assert ConvAutoencoder(in_channels=3, width=4)(x3).shape == (2, 3, 28, 28)
        assert ConvVAE(in_channels=3, width=4)(x3)[0].shape == (2, 3, 28, 28)
        assert DCGANGenerator(8, 4, out_channels=3)(tinyconv.tensor(randn((2, 8)))).shape == (
            2, 3, 28, 28,
        )  # fmt: skip
        assert DCGANDiscriminator(4, in_channels=3)(x3).shape == (2, 1)
    assert ae.input_shape == vae.input_shape == (1, 28, 28) and g.input_shape == (64,)


def test_summary_shows_the_halving_and_doubling():
    s = ConvAutoencoder().summary((1, 28, 28))
    shapes = {r.name: r.output_shape for r in s.rows}
    assert shapes["encoder.conv1"] == (32, 14, 14) and shapes["encoder.conv2"] == (64, 7, 7)
    assert shapes["encoder.fc"] == (16,) and shapes["project"] == (64 * 49,)
    assert shapes["decoder.deconv1"] == (32, 14, 14) and shapes["decoder.deconv2"] == (1, 28, 28)
    g = DCGANGenerator().summary((64,))
    assert {r.name: r.output_shape for r in g.rows}["upsample.bn1"] == (64, 14, 14)


# ------------------------------------------------------------------- parameter counts
def test_parameter_counts_by_hand():
    # Autoencoder (C=1, latent=16, w=32): conv 4x4 weights are C_in*C_out*16 (+ C_out bias).
    #   encoder.conv1   1*32*16 + 32                 =     544
    #   encoder.conv2   32*64*16 + 64                =  32,832
    #   encoder.fc      (64*7*7 = 3,136)*16 + 16     =  50,192
    #   project         16*3,136 + 3,136             =  53,312
    #   decoder.deconv1 64*32*16 + 32                =  32,800
    #   decoder.deconv2 32*1*16 + 1                  =     513
    #                                                  170,193
    ae = 544 + 32_832 + 50_192 + 53_312 + 32_800 + 513
    assert ae == 170_193
    assert conv_params(1, 32) + conv_params(32, 64) == 544 + 32_832
    assert ConvAutoencoder().num_parameters() == ae
    # VAE: the fc head becomes fc_mu and fc_logvar, 2 * 50,192: 170,193 + 50,192 = 220,385
    assert ConvVAE().num_parameters() == ae + 50_192 == 220_385
    # Generator (latent=64, w=64): 2w*7*7 = 128*49 = 6,272 projected features
    #   project.fc       64*6,272 (no bias)          = 401,408
    #   project.bn       2*6,272 (gamma, beta)       =  12,544
    #   upsample.deconv1 128*64*16 (no bias)         = 131,072
    #   upsample.bn1     2*64                        =     128
    #   upsample.deconv2 64*1*16 + 1                 =   1,025
    #                                                  546,177
    assert DCGANGenerator().num_parameters() == 401_408 + 12_544 + 131_072 + 128 + 1_025 == 546_177
    # Discriminator (w=64):
    #   conv1 1*64*16 + 64 = 1,088; conv2 64*128*16 (no bias) = 131,072; bn2 2*128 = 256;
    #   fc 6,272*1 + 1 = 6,273                       -> 138,689
    assert DCGANDiscriminator().num_parameters() == 1_088 + 131_072 + 256 + 6_273 == 138_689
    # BatchNorm buffers are not parameters: 2 running statistics per feature + a counter
    assert len([k for k in DCGANGenerator().state_dict() if "running" in k]) == 4


# --------------------------------------------------------------------- against PyTorch
def test_autoencoder_forward_and_gradients_match_torch():
    m, t = ConvAutoencoder(latent_dim=8, width=8), TorchAutoencoder(1, 8, 8)
    copy_to_torch(m, t)
    forward_backward(m, t, pixels((3, 1, 28, 28)), train=True)
    x, z = pixels((2, 1, 28, 28)), randn((2, 8))
    with tinyconv.no_grad(), torch.no_grad():
        code = t.encoder(torch.from_numpy(x)).numpy()
        assert_close(m.encode(tinyconv.tensor(x)).numpy(), code, what="encode")
        assert_close(
            m.decode(tinyconv.tensor(z)).numpy(),
            t.decoder(t.project(torch.from_numpy(z)).view(-1, 16, 7, 7)).numpy(),
            what="decode",
        )


def test_vae_loss_forward_and_gradients_match_torch():
    m, t = ConvVAE(latent_dim=6, width=8), TorchVAE(1, 6, 8)
    copy_to_torch(m, t)
    x = pixels((3, 1, 28, 28))
    eps = randn((3, 6), seed=5)
    xc = tinyconv.tensor(x, requires_grad=True)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    logits, mu, logvar = m(xc, eps=eps)
    tlogits, tmu, tlogvar = t(xt, torch.from_numpy(eps))
    for a, b, what in ((logits, tlogits, "logits"), (mu, tmu, "mu"), (logvar, tlogvar, "logvar")):
        assert_close(a.numpy(), b.detach().numpy(), what=what)
    total, recon, kl = vae_loss(logits, x, mu, logvar)  # target: the images, as a constant
    ttotal, trecon, tkl = torch_vae_loss(tlogits, torch.from_numpy(x), tmu, tlogvar)
    for a, b, what in ((total, ttotal, "total"), (recon, trecon, "recon"), (kl, tkl, "kl")):
        assert a.shape == () and a.dtype == np.float32
        assert_close(a.item(), b.item(), rtol=1e-5, what=what)
    assert total.item() > 0 and kl.item() >= 0
    total.backward()
    ttotal.backward()
    check_grads(m, t, xc, xt)


def test_generator_matches_torch_in_train_and_eval_mode():
    m, t = DCGANGenerator(latent_dim=10, width=8), TorchGenerator(10, 8)
    randomize_bn(m)
    copy_to_torch(m, t)
    z = randn((4, 10))
    train_then_eval_match(m, t, z)


def test_discriminator_matches_torch_in_train_and_eval_mode():
    m, t = DCGANDiscriminator(width=8), torch_discriminator(8)
    randomize_bn(m)
    copy_to_torch(m, t)
    x = pixels((4, 1, 28, 28)) * 2 - 1  # images scaled to [-1, 1] as the generator's
    train_then_eval_match(m, t, x)


def test_dcgan_pair_backward_through_generator_and_discriminator():
    """D(G(z)): the discriminator's input gradient reaches the generator's parameters."""
    g, d = DCGANGenerator(latent_dim=10, width=8), DCGANDiscriminator(width=8)
    tg, td = TorchGenerator(10, 8), torch_discriminator(8)
    copy_to_torch(g, tg)
    copy_to_torch(d, td)
    z = randn((4, 10))
    zc = tinyconv.tensor(z, requires_grad=True)
    zt = torch.from_numpy(z).requires_grad_(True)
    out, tout = d(g(zc)), td(tg(zt))
    assert_close(out.numpy(), tout.detach().numpy(), what="D(G(z))")
    out.sum().backward()
    tout.sum().backward()
    check_grads(g, tg, zc, zt)


# ------------------------------------------------------- InfoGAN's categorical code
def test_generator_with_a_categorical_code_matches_torch():
    """categories=K: the projection reads latent_dim + K inputs (noise, then the one-hot)."""
    m, t = DCGANGenerator(latent_dim=6, width=8, categories=4), TorchGenerator(6 + 4, 8)
    assert m.code_size == 10 and m.input_shape == (10,)
    randomize_bn(m)
    copy_to_torch(m, t)
    codes, cats = m.sample_codes(5, np.random.default_rng(3))
    z = codes.numpy()
    train_then_eval_match(m, t, z)


def test_discriminator_q_head_matches_torch():
    m, t = DCGANDiscriminator(width=8, categories=4), torch_discriminator(8, outputs=1 + 4)
    randomize_bn(m)
    copy_to_torch(m, t)
    x = pixels((4, 1, 28, 28)) * 2 - 1
    forward_backward(m, t, x, train=True)
    assert m(tinyconv.tensor(x)).shape == (4, 5)


def test_sample_codes_noise_then_one_hot():
    g = DCGANGenerator(latent_dim=6, width=2, categories=4)
    codes, cats = g.sample_codes(400, 7)
    c = codes.numpy()
    assert c.shape == (400, 10) and c.dtype == np.float32 and cats.shape == (400,)
    np.testing.assert_array_equal(c[:, 6:], np.eye(4, dtype=np.float32)[cats])  # one-hot
    assert set(cats.tolist()) == {0, 1, 2, 3}
    assert 70 < np.bincount(cats).min() and np.bincount(cats).max() < 130  # uniform: 100 each
    assert abs(c[:, :6].std() - 1) < 0.05 and abs(c[:, :6].mean()) < 0.05  # z ~ N(0, I)
    again, cats2 = g.sample_codes(400, 7)
    np.testing.assert_array_equal(again.numpy(), c)  # seeded
    np.testing.assert_array_equal(cats2, cats)
    half, same = g.sample_codes(400, 7, psi=0.5)  # truncation scales z, not the code
    np.testing.assert_allclose(half.numpy()[:, :6], 0.5 * c[:, :6], rtol=1e-6)
    np.testing.assert_array_equal(half.numpy()[:, 6:], c[:, 6:])
    fixed, cats3 = g.sample_codes(3, 0, category=[2, 0, 3])
    assert cats3.tolist() == [2, 0, 3]
    np.testing.assert_array_equal(fixed.numpy()[:, 6:], np.eye(4, dtype=np.float32)[[2, 0, 3]])
    assert g.sample_codes(2, 0, category=1)[1].tolist() == [1, 1]
    with pytest.raises(ValueError, match=r"DCGANGenerator.sample_codes: categories must be in"):
        g.sample_codes(2, 0, category=4)
    plain, none = DCGANGenerator(latent_dim=5, width=2).sample_codes(3, 0)
    assert plain.shape == (3, 5) and none is None


def test_infogan_losses_backward_through_both_players():
    """BCE on column 0 plus the code's cross-entropy on columns 1..K, as gan.py trains G."""
    g, d = DCGANGenerator(latent_dim=6, width=8, categories=3), DCGANDiscriminator(8, categories=3)
    tg, td = TorchGenerator(9, 8), torch_discriminator(8, outputs=4)
    copy_to_torch(g, tg)
    copy_to_torch(d, td)
    codes, cats = g.sample_codes(4, 5)
    zc = tinyconv.tensor(codes.numpy(), requires_grad=True)
    zt = torch.from_numpy(codes.numpy()).requires_grad_(True)
    out, tout = d(g(zc)), td(tg(zt))
    ones = np.ones((4, 1), np.float32)
    loss = F.binary_cross_entropy_with_logits(out[:, :1], tinyconv.tensor(ones))
    loss = loss + 0.5 * F.cross_entropy(out[:, 1:], tinyconv.tensor(cats))
    tloss = torch.nn.functional.binary_cross_entropy_with_logits(tout[:, :1], torch.ones(4, 1))
    tloss = tloss + 0.5 * torch.nn.functional.cross_entropy(tout[:, 1:], torch.from_numpy(cats))
    assert_close(loss.item(), tloss.item(), rtol=1e-5, what="loss")
    loss.backward()
    tloss.backward()
    check_grads(g, tg, zc, zt)
    for name, p in d.named_parameters():
        assert_close(
            p.grad.numpy(), dict(td.named_parameters())[name].grad.numpy(), rtol=1e-3, what=name
        )


def test_categories_survive_save_and_load(tmp_path):
    g = DCGANGenerator(latent_dim=5, width=3, categories=7)
    tinyconv.save(g, tmp_path / "g.safetensors")
    again = tinyconv.load(tmp_path / "g.safetensors")
    assert (again.latent_dim, again.categories, again.code_size) == (5, 7, 12)
    codes, _ = g.sample_codes(2, 1)
    g.eval()
    again.eval()
    with tinyconv.no_grad():
        np.testing.assert_array_equal(again(codes).numpy(), g(codes).numpy())
    d = nn.build_module(json.loads(json.dumps(DCGANDiscriminator(4, categories=7).config())))
    assert d.categories == 7 and d.fc.out_features == 8


# ------------------------------------------------------------------------ the VAE loss
def test_vae_loss_against_a_hand_computation():
    # Two images of two pixels each, a 2-D code.
    logits = np.array([[[[0.0, 2.0]]], [[[-1.0, 3.0]]]], np.float32)  # (2, 1, 1, 2)
    x = np.array([[[[1.0, 0.5]]], [[[0.0, 1.0]]]], np.float32)
    mu = np.array([[1.0, 0.0], [0.5, -2.0]], np.float32)
    logvar = np.array([[0.0, math.log(2.0)], [-1.0, 0.0]], np.float32)

    def bce(l: float, t: float) -> float:  # -[t log s(l) + (1 - t) log(1 - s(l))]
        s = 1 / (1 + math.exp(-l))
        return -(t * math.log(s) + (1 - t) * math.log(1 - s))

    # BCE(0, 1) = log 2; BCE(2, 0.5) = 2 - 1 + log(1 + e^-2); BCE(-1, 0) = log(1 + e^-1);
    # BCE(3, 1) = log(1 + e^-3)
    recon = (bce(0, 1) + bce(2, 0.5) + bce(-1, 0) + bce(3, 1)) / 2
    assert math.isclose(bce(2, 0.5), 1 + math.log(1 + math.exp(-2)))
    # KL per dimension: -1/2 (1 + logvar - mu^2 - exp(logvar))
    #   image 1: -1/2 (1 + 0 - 1 - 1) + -1/2 (1 + log 2 - 0 - 2) = 1/2 + 1/2 - log(2)/2
    #   image 2: -1/2 (1 - 1 - 0.25 - e^-1) + -1/2 (1 + 0 - 4 - 1) = (0.25 + e^-1)/2 + 2
    kl = ((1 - math.log(2) / 2) + ((0.25 + math.exp(-1)) / 2 + 2)) / 2
    total, r, k = vae_loss(tinyconv.tensor(logits), x, tinyconv.tensor(mu), tinyconv.tensor(logvar))
    assert math.isclose(r.item(), recon, rel_tol=1e-6)
    assert math.isclose(k.item(), kl, rel_tol=1e-6)
    assert math.isclose(total.item(), recon + kl, rel_tol=1e-6)


def test_vae_loss_is_stable_for_large_logits():
    logits = tinyconv.tensor(np.array([[[[100.0, -100.0, 100.0, -100.0]]]], np.float32))
    x = np.array([[[[1.0, 0.0, 0.0, 1.0]]]], np.float32)  # right, right, wrong, wrong
    code = tinyconv.tensor(np.zeros((1, 1), np.float32))
    total, recon, kl = vae_loss(logits, x, code, code)
    assert np.isfinite(total.item()) and kl.item() == 0.0
    assert math.isclose(recon.item(), 200.0, rel_tol=1e-6)  # two confident mistakes of 100
    # the gradient is sigmoid(l) - x, finite even there
    logits.requires_grad = True
    vae_loss(logits, x, code, code)[0].backward()
    np.testing.assert_allclose(logits.grad.numpy().ravel(), [0, 0, 1, -1], atol=1e-6)


def test_vae_loss_checks_shapes():
    code = tinyconv.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"vae_loss: logits \(2, 1, 28, 28\) and targets"):
        vae_loss(tinyconv.tensor(np.zeros((2, 1, 28, 28))), np.zeros((2, 1, 14, 14)), code, code)
    with pytest.raises(ValueError, match="N = 4 images"):
        vae_loss(tinyconv.tensor(np.zeros((4, 1, 2, 2))), np.zeros((4, 1, 2, 2)), code, code)


# --------------------------------------------------------------- sampling and the noise
def test_reparameterize_with_and_without_eps():
    vae = ConvVAE(latent_dim=4, width=2)
    mu = tinyconv.tensor(randn((3, 4), seed=3))
    logvar = tinyconv.tensor(randn((3, 4), seed=4))
    eps = randn((3, 4), seed=5)
    z = vae.reparameterize(mu, logvar, eps)
    expected = mu.numpy() + np.exp(0.5 * logvar.numpy()) * eps
    np.testing.assert_allclose(z.numpy(), expected, rtol=1e-6)
    # drawn from tinyconv's seeded generator, in mu's dtype
    tinyconv.manual_seed(123)
    a = vae.reparameterize(mu, logvar).numpy()
    tinyconv.manual_seed(123)
    b = vae.reparameterize(mu, logvar).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and not np.allclose(a, mu.numpy())
    mu64 = tinyconv.tensor(np.zeros((2000, 4)), dtype="float64")
    z64 = vae.reparameterize(mu64, mu64).numpy()  # eps itself: N(0, 1)
    assert z64.dtype == np.float64 and abs(z64.std() - 1) < 0.03 and abs(z64.mean()) < 0.03
    with pytest.raises(ValueError, match=r"eps has shape \(2, 4\), expected mu's \(3, 4\)"):
        vae.reparameterize(mu, logvar, np.zeros((2, 4), np.float32))


def test_sample_gives_probabilities_without_gradients():
    vae = ConvVAE(latent_dim=4, width=4)
    p = vae.sample(5, rng=np.random.default_rng(0))
    assert p.shape == (5, 1, 28, 28) and p.dtype == np.float32 and not p.requires_grad
    assert p.numpy().min() > 0 and p.numpy().max() < 1
    np.testing.assert_array_equal(vae.sample(5, rng=0).numpy(), p.numpy())  # a seed works too
    z = np.random.default_rng(0).standard_normal((5, 4), dtype=np.float32)
    with tinyconv.no_grad():
        np.testing.assert_allclose(
            p.numpy(), vae.decode(tinyconv.tensor(z)).sigmoid().numpy(), rtol=1e-6
        )
    with pytest.raises(ValueError, match="Received n=0"):
        vae.sample(0)


# -------------------------------------------------------------------- DCGAN initialisation
def test_dcgan_initialisation_as_the_paper():
    tinyconv.manual_seed(0)
    g, d = DCGANGenerator(), DCGANDiscriminator()
    for w in (g.project.fc.weight, g.upsample.deconv1.weight, d.conv2.weight, d.fc.weight):
        v = w.numpy()
        assert abs(v.std() - 0.02) < 0.001 and abs(v.mean()) < 0.001, w.shape
    bn = np.concatenate([g.project.bn.weight.numpy(), d.bn2.weight.numpy()])  # 6,272 + 128
    assert abs(bn.mean() - 1) < 0.002 and abs(bn.std() - 0.02) < 0.002
    for b in (g.project.bn.bias, g.upsample.deconv2.bias, d.conv1.bias, d.bn2.bias, d.fc.bias):
        assert not b.numpy().any()
    assert g.project.fc.bias is None and g.upsample.deconv1.bias is None and d.conv2.bias is None


# ---------------------------------------------------------------- saving and the registry
def test_save_and_load_round_trip_bit_for_bit(tmp_path):
    x = tinyconv.tensor(pixels((2, 1, 28, 28)))
    z = tinyconv.tensor(randn((2, 10)))
    eps = randn((2, 3), seed=9)
    cases = [
        (ConvAutoencoder(latent_dim=3, width=4), lambda m: m(x)),
        (ConvVAE(latent_dim=3, width=4), lambda m: m(x, eps=eps)[0]),
        (DCGANGenerator(latent_dim=10, width=4), lambda m: m(z)),
        (DCGANDiscriminator(width=4), lambda m: m(x)),
    ]
    for i, (m, run) in enumerate(cases):
        randomize_bn(m)
        m.eval()
        path = tmp_path / f"model{i}.safetensors"
        tinyconv.save(m, path)
        again = tinyconv.load(path)
        assert type(again) is type(m) and not again.training
        assert json.loads(json.dumps(m.config())) == again.config()
        with tinyconv.no_grad():
            np.testing.assert_array_equal(run(again).numpy(), run(m).numpy())


def test_architecture_rebuilds_from_json_with_its_arguments():
    m = ConvVAE(in_channels=3, latent_dim=7, width=5)
    again = nn.build_module(json.loads(json.dumps(m.config())))
    assert (again.in_channels, again.latent_dim, again.width) == (3, 7, 5)
    assert {k: v.shape for k, v in again.state_dict().items()} == {
        k: v.shape for k, v in m.state_dict().items()
    }
    d = nn.build_module(json.loads(json.dumps(DCGANDiscriminator(6, 2).config())))
    assert d.conv1.weight.shape == (6, 2, 4, 4) and d.input_shape == (2, 28, 28)


def test_factories_are_registered():
    for fn, cls in (
        (conv_autoencoder, ConvAutoencoder),
        (conv_vae, ConvVAE),
        (dcgan_generator, DCGANGenerator),
        (dcgan_discriminator, DCGANDiscriminator),
    ):
        assert _base._MODELS[fn.__name__] is fn
        assert isinstance(fn(), cls)
    assert _base.get("conv_vae", latent_dim=4).fc_mu.out_features == 4
    assert _base.get("DCGAN-generator", width=8).upsample.deconv1.out_channels == 8


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: ConvAutoencoder(latent_dim=0), ValueError,
         r"ConvAutoencoder: invalid value for argument `latent_dim`.*Received latent_dim=0"),
        (lambda: ConvVAE(width=2.5), TypeError,
         r"ConvVAE: invalid type for argument `width`. Expected an int. Received width=2.5"),
        (lambda: DCGANGenerator(latent_dim=True), TypeError, r"DCGANGenerator.*`latent_dim`"),
        (lambda: DCGANGenerator(out_channels=-1), ValueError, r"Received out_channels=-1"),
        (lambda: DCGANDiscriminator(width=0), ValueError, r"DCGANDiscriminator.*`width`"),
        (lambda: dcgan_discriminator(in_channels="1"), TypeError, r"`in_channels`"),
        (lambda: DCGANGenerator(categories=-1), ValueError,
         r"DCGANGenerator: invalid value for argument `categories`.*Received categories=-1"),
        (lambda: DCGANDiscriminator(categories=True), TypeError,
         r"DCGANDiscriminator: invalid type for argument `categories`"),
    ],
)  # fmt: skip
def test_bad_arguments_raise_clear_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_wrong_input_shapes_name_the_model():
    with pytest.raises(
        ValueError, match=r"ConvAutoencoder: expected input \(N, 1, 28, 28\), got \(2, 1, 32, 32\)"
    ):
        ConvAutoencoder(width=2)(tinyconv.tensor(np.zeros((2, 1, 32, 32), np.float32)))
    with pytest.raises(ValueError, match=r"ConvVAE: expected input \(N, 3, 28, 28\)"):
        ConvVAE(in_channels=3, width=2)(tinyconv.tensor(np.zeros((2, 1, 28, 28), np.float32)))
    with pytest.raises(ValueError, match=r"ConvVAE: expected latent codes \(N, 16\), got \(2, 8\)"):
        ConvVAE(width=2).decode(tinyconv.tensor(np.zeros((2, 8), np.float32)))
    with pytest.raises(ValueError, match=r"DCGANGenerator: expected latent codes \(N, 64\)"):
        DCGANGenerator(width=2)(tinyconv.tensor(np.zeros((2, 1, 28, 28), np.float32)))
    with pytest.raises(ValueError, match=r"DCGANGenerator: expected latent codes \(N, 74\)"):
        DCGANGenerator(width=2, categories=10)(tinyconv.tensor(np.zeros((2, 64), np.float32)))
    with pytest.raises(ValueError, match=r"DCGANDiscriminator: expected input \(N, 1, 28, 28\)"):
        DCGANDiscriminator(width=2)(tinyconv.tensor(np.zeros((2, 28, 28), np.float32)))
