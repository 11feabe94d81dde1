"""Generative models for 1x28x28 images (MNIST): an autoencoder, a VAE and a DCGAN.

All four downsample or upsample by 4x4 convolutions with stride 2 and padding 1, which halve
(or, transposed, double) the map exactly: (28 - 4 + 2*1)/2 + 1 = 14, (14 - 4 + 2)/2 + 1 = 7,
and back (7 - 1)*2 - 2*1 + 4 = 14, (14 - 1)*2 - 2 + 4 = 28.

Encoder (``ConvAutoencoder``, ``ConvVAE``), ``w = width``::

    conv1 4x4/2/1 C -> w        (N, C, 28, 28) -> (N, w, 14, 14)    relu1
    conv2 4x4/2/1 w -> 2w       -> (N, 2w, 7, 7)                   relu2
    flatten                     -> (N, 2w*49)
    fc (autoencoder) or fc_mu and fc_logvar (VAE)  -> (N, latent_dim)

Decoder (both)::

    project (Linear)            (N, latent_dim) -> (N, 2w*49), reshaped to (N, 2w, 7, 7)
    relu0, deconv1 4x4/2/1      -> (N, w, 14, 14)                  relu1
    deconv2 4x4/2/1 w -> C      -> (N, C, 28, 28)  logits (sigmoid gives pixel probabilities)

DCGAN (Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", ICLR 2016), sized for 28x28 as the common
MNIST variant: the generator projects and reshapes z, then two fractionally-strided
convolutions with BatchNorm and ReLU, Tanh at the output; the discriminator mirrors it with
strided convolutions and LeakyReLU(0.2), BatchNorm everywhere but the input layer, and one
logit (the paper's rules). Weights N(0, 0.02^2), BatchNorm weights N(1, 0.02^2), biases 0.
With ``categories=K`` both take InfoGAN's categorical code (Chen et al., "InfoGAN:
Interpretable Representation Learning by Information Maximizing Generative Adversarial
Nets", NeurIPS 2016): the generator reads a one-hot code of K categories after the noise, and
the discriminator has K more outputs, the logits of Q(c | x) that guess the code back from the
image. No labels are involved: training maximises the mutual information between the code and
the image, and the code, drawn uniformly, comes to pick the kind of image (for MNIST, a digit).

The VAE (Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014) trains on
``vae_loss``: the negative ELBO with a Bernoulli decoder and a standard normal prior.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy

from .. import nn
from ..backend import default_rng, get_array_module, to_device
from ..nn import init
from ..nn.linear import check_positive_int
from ..tensor import Tensor, no_grad
from ._base import ZooSequential, register_model

IMAGE_SIZE = 28  # every model here maps 28x28 <-> 7x7 with two stride-2 layers
FEATURE_SIZE = 7


def _check_image(name: str, x: Tensor, channels: int) -> None:
    if x.ndim != 4 or x.shape[1] != channels or x.shape[2:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(
            f"{name}: expected input (N, {channels}, {IMAGE_SIZE}, {IMAGE_SIZE}), "
            f"got {tuple(x.shape)}"
        )


def _check_latent(name: str, z: Tensor, latent_dim: int) -> None:
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"{name}: expected latent codes (N, {latent_dim}), got {tuple(z.shape)}")


def _check_categories(name: str, categories: Any) -> int:
    """0 (no categorical code) or a positive int."""
    if isinstance(categories, (int, numpy.integer)) and not isinstance(categories, bool):
        if categories == 0:
            return 0
    return check_positive_int(name, "categories", categories)


def _encoder(in_channels: int, width: int) -> nn.Sequential:
    """conv 4x4/2/1 - relu - conv 4x4/2/1 - relu - flatten: (N, C, 28, 28) -> (N, 2w*49)."""
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(in_channels, width, 4, stride=2, padding=1),  # -> (N, w, 14, 14)
            relu1=nn.ReLU(),
            conv2=nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),  # -> (N, 2w, 7, 7)
            relu2=nn.ReLU(),
            flatten=nn.Flatten(),  # -> (N, 2w*7*7)
        )
    )


def _decoder(out_channels: int, width: int) -> nn.Sequential:
    """relu - deconv 4x4/2/1 - relu - deconv 4x4/2/1: (N, 2w, 7, 7) -> (N, C, 28, 28) logits."""
    return nn.Sequential(
        OrderedDict(
            relu0=nn.ReLU(),
            deconv1=nn.ConvTranspose2d(2 * width, width, 4, 2, 1),  # (N, w, 14, 14)
            relu1=nn.ReLU(),
            deconv2=nn.ConvTranspose2d(width, out_channels, 4, 2, 1),  # (N, C, 28, 28)
        )
    )


class ConvAutoencoder(nn.Module):
    """A convolutional autoencoder: 28x28 image -> ``latent_dim`` code -> 28x28 logits.

    Encoder: conv 4x4/2/1 (28 -> 14) - ReLU - conv 4x4/2/1 (14 -> 7) - ReLU - Flatten -
    Linear. Decoder: Linear - reshape to (2*width, 7, 7) - ReLU - ConvTranspose2d 4x4/2/1
    (7 -> 14) - ReLU - ConvTranspose2d 4x4/2/1 (14 -> 28). The output is logits: train with
    binary cross-entropy with logits (targets in [0, 1]) and apply a sigmoid to view it.

    Args:
        in_channels (int): image channels C (and output channels). Default: 1.
        latent_dim (int): size of the code. Default: 16.
        width (int): w, channels of the first conv; the second has 2w. Default: 32.

    Shape:
        Input (N, C, 28, 28) -> (N, w, 14, 14) -> (N, 2w, 7, 7) -> (N, 2w*49) -> code
        (N, latent_dim) -> (N, 2w*49) -> (N, 2w, 7, 7) -> (N, w, 14, 14) -> Output
        (N, C, 28, 28).

    Attributes:
        encoder: Sequential conv1, relu1, conv2, relu2, flatten, fc.
        project: the decoder's Linear(latent_dim, 2w*49).
        decoder: Sequential relu0, deconv1, relu1, deconv2.
        Weights have PyTorch's default initialisation.

    Raises:
        TypeError, ValueError: for an argument that is not a positive int.

    Example:
        >>> import numpy, tinyconv
        >>> ae = ConvAutoencoder(latent_dim=8)
        >>> x = tinyconv.tensor(numpy.zeros((2, 1, 28, 28), numpy.float32))
        >>> ae.encode(x).shape, ae(x).shape
        ((2, 8), (2, 1, 28, 28))
    """

    def __init__(self, in_channels: int = 1, latent_dim: int = 16, width: int = 32) -> None:
        super().__init__()
        name = "ConvAutoencoder"
        self.in_channels = check_positive_int(name, "in_channels", in_channels)
        self.latent_dim = check_positive_int(name, "latent_dim", latent_dim)
        self.width = check_positive_int(name, "width", width)
        features = 2 * width * FEATURE_SIZE * FEATURE_SIZE
        self.encoder = _encoder(in_channels, width)
        self.encoder.add_module("fc", nn.Linear(features, latent_dim))  # -> (N, latent_dim)
        self.project = nn.Linear(latent_dim, features)
        self.decoder = _decoder(in_channels, width)
        self.input_shape = (in_channels, IMAGE_SIZE, IMAGE_SIZE)

    def encode(self, x: Tensor) -> Tensor:
        """(N, C, 28, 28) images -> (N, latent_dim) codes."""
        _check_image("ConvAutoencoder", x, self.in_channels)
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """(N, latent_dim) codes -> (N, C, 28, 28) logits."""
        _check_latent("ConvAutoencoder", z, self.latent_dim)
        h = self.project(z).reshape(z.shape[0], 2 * self.width, FEATURE_SIZE, FEATURE_SIZE)
        return self.decoder(h)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


class ConvVAE(nn.Module):
    """A convolutional variational autoencoder (Kingma and Welling, 2014) for 28x28 images.

    The encoder is ``ConvAutoencoder``'s (28 -> 14 -> 7, flatten) with two heads, ``fc_mu``
    and ``fc_logvar``, giving the mean and log-variance of q(z|x) = N(mu, diag(exp(logvar))).
    A code is drawn by the reparameterisation z = mu + exp(logvar/2) * eps, eps ~ N(0, I),
    so the gradient reaches mu and logvar; the decoder is ``ConvAutoencoder``'s and returns
    the logits of Bernoulli pixel means p(x|z). Train on ``vae_loss``.

    Args:
        in_channels (int): image channels C. Default: 1.
        latent_dim (int): size of z. Default: 16.
        width (int): w, channels of the first conv; the second has 2w. Default: 32.

    Shape:
        Input (N, C, 28, 28) -> (N, w, 14, 14) -> (N, 2w, 7, 7) -> (N, 2w*49) -> mu and
        logvar (N, latent_dim) -> z (N, latent_dim) -> (N, 2w, 7, 7) -> (N, w, 14, 14) ->
        logits (N, C, 28, 28).

    Attributes:
        encoder: Sequential conv1, relu1, conv2, relu2, flatten.
        fc_mu, fc_logvar: Linear(2w*49, latent_dim).
        project: Linear(latent_dim, 2w*49); decoder: Sequential relu0, deconv1, relu1, deconv2.
        Weights have PyTorch's default initialisation.

    Raises:
        TypeError, ValueError: for an argument that is not a positive int.

    Example:
        >>> import numpy, tinyconv
        >>> vae = ConvVAE(latent_dim=8)
        >>> logits, mu, logvar = vae(tinyconv.tensor(numpy.zeros((2, 1, 28, 28), numpy.float32)))
        >>> logits.shape, mu.shape, logvar.shape
        ((2, 1, 28, 28), (2, 8), (2, 8))
        >>> vae.sample(3, rng=0).shape
        (3, 1, 28, 28)
    """

    def __init__(self, in_channels: int = 1, latent_dim: int = 16, width: int = 32) -> None:
        super().__init__()
        name = "ConvVAE"
        self.in_channels = check_positive_int(name, "in_channels", in_channels)
        self.latent_dim = check_positive_int(name, "latent_dim", latent_dim)
        self.width = check_positive_int(name, "width", width)
        features = 2 * width * FEATURE_SIZE * FEATURE_SIZE
        self.encoder = _encoder(in_channels, width)
        self.fc_mu = nn.Linear(features, latent_dim)
        self.fc_logvar = nn.Linear(features, latent_dim)
        self.project = nn.Linear(latent_dim, features)
        self.decoder = _decoder(in_channels, width)
        self.input_shape = (in_channels, IMAGE_SIZE, IMAGE_SIZE)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(N, C, 28, 28) images -> (mu, logvar), each (N, latent_dim)."""
        _check_image("ConvVAE", x, self.in_channels)
        h = self.encoder(x)  # (N, 2w*49)
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu: Tensor, logvar: Tensor, eps: Any = None) -> Tensor:
        """z = mu + exp(0.5 * logvar) * eps, differentiable in mu and logvar.

        Args:
            mu, logvar (Tensor): (N, latent_dim).
            eps (Tensor or array, optional): the standard normal noise, of mu's shape; a
                constant (an array is cast to mu's dtype and moved to its device). Default:
                None, drawn from tinyconv's seeded generator (``tinyconv.manual_seed``) in
                mu's dtype, on mu's device.
        """
        if mu.shape != logvar.shape:
            raise ValueError(
                f"ConvVAE.reparameterize: mu {mu.shape} and logvar {logvar.shape} differ"
            )
        eps = _noise(mu.shape, mu, default_rng()) if eps is None else _as_like(eps, mu)
        if eps.shape != mu.shape:
            raise ValueError(
                f"ConvVAE.reparameterize: eps has shape {eps.shape}, expected mu's {mu.shape}"
            )
        return mu + (logvar * 0.5).exp() * eps

    def decode(self, z: Tensor) -> Tensor:
        """(N, latent_dim) codes -> (N, C, 28, 28) logits."""
        _check_latent("ConvVAE", z, self.latent_dim)
        h = self.project(z).reshape(z.shape[0], 2 * self.width, FEATURE_SIZE, FEATURE_SIZE)
        return self.decoder(h)

    def forward(self, x: Tensor, eps: Any = None) -> tuple[Tensor, Tensor, Tensor]:
        """(logits, mu, logvar) of x, decoding one sampled z per image (in eval mode too).

        ``eps`` (optional) fixes the noise, as in ``reparameterize``. For a deterministic
        reconstruction decode the mean: ``model.decode(model.encode(x)[0])``.
        """
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar

    def sample(self, n: int, rng: numpy.random.Generator | int | None = None) -> Tensor:
        """``n`` images from the prior: sigmoid(decode(z)), z ~ N(0, I), without gradients.

        Args:
            n (int): number of images.
            rng (numpy Generator or int, optional): the generator (or a seed for a new one)
                that draws z. Default: None, tinyconv's global generator.

        Returns:
            Pixel probabilities in (0, 1), shape (n, C, 28, 28).
        """
        check_positive_int("ConvVAE.sample", "n", n)
        if rng is None:
            rng = default_rng()
        elif not isinstance(rng, numpy.random.Generator):
            rng = numpy.random.default_rng(rng)
        with no_grad():
            z = _noise((n, self.latent_dim), self.project.weight, rng)
            return self.decode(z).sigmoid()


def _noise(shape: tuple[int, ...], like: Tensor, rng: numpy.random.Generator) -> Tensor:
    """N(0, 1) of ``shape`` in the dtype and on the device of ``like``."""
    dt = like.dtype
    draw = dt if dt.kind == "f" and dt.itemsize >= 4 else numpy.float32  # 16-bit: draw float32
    values = rng.standard_normal(shape, dtype=draw).astype(dt, copy=False)
    return Tensor(to_device(values, like.device))


def _as_like(value: Any, like: Tensor) -> Tensor:
    """``value`` as a Tensor with the dtype and device of ``like`` (a Tensor already so: as is)."""
    if isinstance(value, Tensor) and value.dtype == like.dtype and value.device == like.device:
        return value
    arr = value.data if isinstance(value, Tensor) else value
    xp = get_array_module(like.data)
    return Tensor(xp.asarray(to_device(arr, like.device)).astype(like.dtype, copy=False))


def vae_loss(logits: Tensor, x: Any, mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""The VAE's negative ELBO, per image: (total, recon, kl), each a scalar Tensor.

    With a Bernoulli decoder and the prior N(0, I), for a batch of N images:

        recon = (1/N) sum_{n, pixels} BCE(l, x),  BCE(l, x) = relu(l) - l*x + log(1 + exp(-|l|))
        kl    = (1/N) sum_{n, j} -1/2 (1 + logvar - mu^2 - exp(logvar))
        total = recon + kl

    ``BCE`` is -[x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))] written so that exp never
    overflows, for any logit l. ``kl`` is KL(N(mu, exp(logvar)) || N(0, I)) in closed form.
    ``total`` is the negative evidence lower bound (-ELBO) in nats per image, an upper bound
    on -log p(x), estimated with the one z per image that the forward pass drew. It is a
    bound for binary images; grayscale targets in [0, 1] are treated as Bernoulli means, for
    which the Bernoulli "likelihood" is not a normalised density (even a perfect decoder pays
    recon > 0 for x = 0.5), so those nats compare models trained the same way, not with
    published -log p(x) on binarised MNIST. 16-bit inputs are computed in float32.

    Args:
        logits (Tensor): decoder output (N, C, H, W).
        x (Tensor or array): targets in [0, 1], same shape (no gradient is needed).
        mu, logvar (Tensor): (N, latent_dim) from the encoder.

    Returns:
        (total, recon, kl): scalar Tensors; backpropagate ``total``.

    Raises:
        ValueError: when the shapes disagree.

    Example:
        >>> import numpy, tinyconv
        >>> zeros = tinyconv.tensor(numpy.zeros((2, 1, 2, 2), numpy.float32))
        >>> code = tinyconv.tensor(numpy.zeros((2, 3), numpy.float32))
        >>> total, recon, kl = vae_loss(zeros, numpy.ones((2, 1, 2, 2)), code, code)
        >>> round(recon.item(), 4), kl.item()  # 4 pixels * log 2, and q = prior
        (2.7726, 0.0)
    """
    logits, mu, logvar = (t.float() if t.dtype.itemsize < 4 else t for t in (logits, mu, logvar))
    x = _as_like(x, logits)  # a constant in logits' dtype and device
    if logits.shape != x.shape:
        raise ValueError(f"vae_loss: logits {logits.shape} and targets {x.shape} differ")
    if mu.shape != logvar.shape or mu.ndim != 2 or mu.shape[0] != logits.shape[0]:
        raise ValueError(
            f"vae_loss: expected mu and logvar (N, latent_dim) with N = {logits.shape[0]} "
            f"images, got mu {mu.shape}, logvar {logvar.shape}"
        )
    n = logits.shape[0]
    bce = logits.relu() - logits * x + (1 + (-logits.abs()).exp()).log()  # (N, C, H, W)
    recon = bce.sum() / n
    # -1/2 (1 + logvar - mu^2 - exp(logvar)), summed over the latent dimensions and the batch
    kl = (mu * mu + logvar.exp() - logvar - 1).sum() * 0.5 / n
    return recon + kl, recon, kl


def _dcgan_init(model: nn.Module) -> None:
    """Radford et al.: conv and linear weights N(0, 0.02^2), BN weights N(1, 0.02^2), biases 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            init.normal_(m.weight, 1.0, 0.02)
            init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """DCGAN's generator (Radford et al., 2016) for 28x28 images: z -> image in [-1, 1].

    Project and reshape, then two fractionally-strided convolutions::

        fc Linear(latent_dim + K, 2w*49, no bias) - bn BatchNorm1d - relu    (N, 2w*49)
        reshape                                   -> (N, 2w, 7, 7)
        deconv1 ConvTranspose2d(2w, w, 4, 2, 1, no bias) - bn1 BatchNorm2d - relu1
                                                  -> (N, w, 14, 14)
        deconv2 ConvTranspose2d(w, C, 4, 2, 1) - tanh  -> (N, C, 28, 28)

    Scale real images to [-1, 1] to match (x * 2 - 1 for pixels in [0, 1]). The input is
    the noise z, then (with ``categories = K > 0``) InfoGAN's one-hot categorical code;
    ``sample_codes`` draws both.

    Args:
        latent_dim (int): size of the noise z. Default: 64.
        width (int): w, channels at 14x14; 7x7 has 2w. Default: 64.
        out_channels (int): image channels C. Default: 1.
        categories (int): K, size of the one-hot code after z; 0: none (plain DCGAN).
            Default: 0.

    Shape:
        Input (N, latent_dim + K) -> (N, 2w*49) -> (N, 2w, 7, 7) -> (N, w, 14, 14) -> Output
        (N, C, 28, 28).

    Attributes:
        project: Sequential fc, bn, relu. upsample: Sequential deconv1, bn1, relu1,
        deconv2, tanh. Weights N(0, 0.02^2), BatchNorm weights N(1, 0.02^2), biases 0.

    Raises:
        TypeError, ValueError: for an argument that is not a positive int.

    Example:
        >>> import numpy, tinyconv
        >>> g = DCGANGenerator(latent_dim=10, width=8)
        >>> g(tinyconv.tensor(numpy.zeros((2, 10), numpy.float32))).shape
        (2, 1, 28, 28)
    """

    def __init__(
        self, latent_dim: int = 64, width: int = 64, out_channels: int = 1, categories: int = 0
    ) -> None:
        super().__init__()
        name = "DCGANGenerator"
        self.latent_dim = check_positive_int(name, "latent_dim", latent_dim)
        self.width = check_positive_int(name, "width", width)
        self.out_channels = check_positive_int(name, "out_channels", out_channels)
        self.categories = _check_categories(name, categories)
        self.code_size = self.latent_dim + self.categories
        features = 2 * width * FEATURE_SIZE * FEATURE_SIZE
        self.project = nn.Sequential(
            OrderedDict(
                fc=nn.Linear(self.code_size, features, bias=False),  # (N, 2w*49)
                bn=nn.BatchNorm1d(features),
                relu=nn.ReLU(),
            )
        )
        self.upsample = nn.Sequential(
            OrderedDict(
                deconv1=nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),  # (N, w, 14, 14)
                bn1=nn.BatchNorm2d(width),
                relu1=nn.ReLU(),
                deconv2=nn.ConvTranspose2d(width, out_channels, 4, 2, 1),  # (N, C, 28, 28)
                tanh=nn.Tanh(),
            )
        )
        self.input_shape = (self.code_size,)
        _dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        _check_latent("DCGANGenerator", z, self.code_size)
        h = self.project(z).reshape(z.shape[0], 2 * self.width, FEATURE_SIZE, FEATURE_SIZE)
        return self.upsample(h)

    def sample_codes(
        self,
        n: int,
        rng: numpy.random.Generator | int | None = None,
        psi: float = 1.0,
        category: Any = None,
    ) -> tuple[Tensor, Any]:
        """Inputs for ``n`` images: z ~ psi N(0, I), then a one-hot code (if K > 0).

        Args:
            n (int): number of codes.
            rng (numpy Generator or int, optional): draws z, then the categories. Default:
                None, tinyconv's global generator.
            psi (float): scale of z; below 1 it is the truncation trick (Brock et al.,
                2019). The categorical code is not truncated. Default: 1.
            category (int or int array, optional): the categories to use instead of uniform
                draws (a NumPy int array of n, or one int for all).

        Returns:
            (codes, categories): a Tensor (n, latent_dim + K) in the generator's dtype and
            on its device, and the NumPy int64 array (n,) of categories (None when K = 0).
        """
        check_positive_int("DCGANGenerator.sample_codes", "n", n)
        if rng is None:
            rng = default_rng()
        elif not isinstance(rng, numpy.random.Generator):
            rng = numpy.random.default_rng(rng)
        like = self.project.fc.weight
        z = _noise((n, self.latent_dim), like, rng).data
        if psi != 1:
            z = z * z.dtype.type(psi)
        if self.categories == 0:
            return Tensor(z), None
        if category is None:
            cats = rng.integers(0, self.categories, n)
        else:
            cats = numpy.broadcast_to(numpy.asarray(category, numpy.int64), (n,)).copy()
            if cats.min() < 0 or cats.max() >= self.categories:
                raise ValueError(
                    f"DCGANGenerator.sample_codes: categories must be in [0, {self.categories}), "
                    f"got {cats.min()}..{cats.max()}"
                )
        onehot = numpy.eye(self.categories, dtype=numpy.float32)[cats].astype(like.dtype)
        onehot = to_device(onehot, like.device)
        return Tensor(get_array_module(z).concatenate([z, onehot], axis=1)), cats


class DCGANDiscriminator(ZooSequential):
    """DCGAN's discriminator (Radford et al., 2016) for 28x28 images: image -> one logit.

    Strided convolutions, LeakyReLU(0.2), BatchNorm on all but the input layer::

        conv1 Conv2d(C, w, 4, 2, 1) - lrelu1          (N, C, 28, 28) -> (N, w, 14, 14)
        conv2 Conv2d(w, 2w, 4, 2, 1, no bias) - bn2 BatchNorm2d - lrelu2  -> (N, 2w, 7, 7)
        flatten - fc Linear(2w*49, 1 + K)              -> (N, 2w*49) -> (N, 1 + K)

    Column 0 is a logit ("real" when positive): train it with binary cross-entropy with
    logits. With ``categories = K > 0``, columns 1..K are InfoGAN's Q head, the logits of the
    categorical code that drew the image (cross-entropy against that code).

    Args:
        width (int): w, channels at 14x14; 7x7 has 2w. Default: 64.
        in_channels (int): image channels C. Default: 1.
        categories (int): K, logits of the generator's categorical code; 0: none. Default: 0.

    Shape:
        Input (N, C, 28, 28) -> (N, w, 14, 14) -> (N, 2w, 7, 7) -> (N, 2w*49) -> Output
        (N, 1 + K).

    Attributes:
        Weights N(0, 0.02^2), BatchNorm weight N(1, 0.02^2), biases 0.

    Raises:
        TypeError, ValueError: for an argument that is not a positive int.

    Example:
        >>> import numpy, tinyconv
        >>> d = DCGANDiscriminator(width=8)
        >>> d(tinyconv.tensor(numpy.zeros((2, 1, 28, 28), numpy.float32))).shape
        (2, 1)
    """

    def __init__(self, width: int = 64, in_channels: int = 1, categories: int = 0) -> None:
        name = "DCGANDiscriminator"
        check_positive_int(name, "width", width)
        check_positive_int(name, "in_channels", in_channels)
        categories = _check_categories(name, categories)
        super().__init__(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, width, 4, 2, 1),  # (N, w, 14, 14)
                lrelu1=nn.LeakyReLU(0.2),
                conv2=nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),  # (N, 2w, 7, 7)
                bn2=nn.BatchNorm2d(2 * width),
                lrelu2=nn.LeakyReLU(0.2),
                flatten=nn.Flatten(),  # (N, 2w*49)
                fc=nn.Linear(2 * width * FEATURE_SIZE * FEATURE_SIZE, 1 + categories),  # (N, 1+K)
            )
        )
        self.width, self.in_channels, self.categories = width, in_channels, categories
        self.input_shape = (in_channels, IMAGE_SIZE, IMAGE_SIZE)
        _dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        _check_image("DCGANDiscriminator", x, self.in_channels)
        return super().forward(x)


@register_model
def conv_autoencoder(
    in_channels: int = 1, latent_dim: int = 16, width: int = 32
) -> ConvAutoencoder:
    """Convolutional autoencoder for 28x28 images, logits out (see ``ConvAutoencoder``)."""
    return ConvAutoencoder(in_channels, latent_dim, width)


@register_model
def conv_vae(in_channels: int = 1, latent_dim: int = 16, width: int = 32) -> ConvVAE:
    """Convolutional VAE for 28x28 images; train on ``vae_loss`` (see ``ConvVAE``)."""
    return ConvVAE(in_channels, latent_dim, width)


@register_model
def dcgan_generator(
    latent_dim: int = 64, width: int = 64, out_channels: int = 1, categories: int = 0
) -> DCGANGenerator:
    """DCGAN generator, (N, latent_dim + K) -> (N, C, 28, 28) in [-1, 1] (``DCGANGenerator``)."""
    return DCGANGenerator(latent_dim, width, out_channels, categories)


@register_model
def dcgan_discriminator(
    width: int = 64, in_channels: int = 1, categories: int = 0
) -> DCGANDiscriminator:
    """DCGAN discriminator, (N, C, 28, 28) -> (N, 1 + K) logits (``DCGANDiscriminator``)."""
    return DCGANDiscriminator(width, in_channels, categories)
