"""The model zoo: parameter counts, output shapes, and forward/backward against PyTorch.

Every comparison builds the tinyconv model with random weights, copies them by name into the
same architecture written in plain PyTorch (tests/torch_reference_models.py, torchvision's
names), and compares in float32 within 1e-4 relative. BatchNorm statistics and affine
parameters are randomised first so that they matter. Models with BN or dropout are compared
in eval mode, except the train-mode checks that say so.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import tinyconv
import tinyconv.models as models
from tinyconv import nn

torch = pytest.importorskip("torch")

import torch_reference_models as ref  # noqa: E402

COUNTER = "num_batches_tracked"


# ----------------------------------------------------------------------------- helpers
def randomize_bn(model: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial running statistics and affine parameters."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.weight.shape[0]
            m.weight.data = rng.uniform(0.5, 1.5, n).astype(np.float32)
            m.bias.data = rng.normal(0, 0.1, n).astype(np.float32)
            m.running_mean.data = rng.normal(0, 0.1, n).astype(np.float32)
            m.running_var.data = rng.uniform(0.5, 1.5, n).astype(np.float32)


def he_init(model: nn.Module, seed: int = 0) -> None:
    """He-normal (fan_in) weights, so that activations and gradients keep an O(1) scale.

    GoogLeNet's own N(0, 0.01^2) init shrinks the signal by ~100x per layer; after 20 layers
    float32 gradients of 1e-12 are mostly rounding noise, which no comparison can check.
    """
    gen = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=gen)


def copy_to_torch(model: nn.Module, tmodel: torch.nn.Module) -> None:
    """Copy every tinyconv parameter and buffer into the torch model; the names must match."""
    mine = {k: v for k, v in model.state_dict().items() if not k.endswith(COUNTER)}
    theirs = {k: v for k, v in tmodel.state_dict().items() if not k.endswith(COUNTER)}
    assert sorted(mine) == sorted(theirs), (
        f"names differ: only tinyconv {sorted(set(mine) - set(theirs))[:5]}, "
        f"only torch {sorted(set(theirs) - set(mine))[:5]}"
    )
    with torch.no_grad():
        for k, v in mine.items():
            assert tuple(theirs[k].shape) == v.shape, k
            theirs[k].copy_(torch.from_numpy(v.numpy()))


def assert_close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-4, what: str = "") -> None:
    """Equal within rtol, relative to each element and to the array's scale."""
    b = np.asarray(b)
    np.testing.assert_allclose(
        a, b, rtol=rtol, atol=rtol * float(np.abs(b).max() + 1e-30), err_msg=what
    )


def inputs(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def forward_both(model, tmodel, x: np.ndarray, train: bool = False):
    model.train(train)
    tmodel.train(train)
    y = model(tinyconv.tensor(x))
    with torch.no_grad():
        yt = tmodel(torch.from_numpy(x))
    return y, yt


def check_forward(model, tmodel, x: np.ndarray, out_shape: tuple[int, ...]) -> None:
    randomize_bn(model)
    copy_to_torch(model, tmodel)
    with tinyconv.no_grad():
        y, yt = forward_both(model, tmodel, x)
    assert y.shape == out_shape
    assert y.dtype == np.float32
    assert_close(y.numpy(), yt.numpy(), what="forward")


def check_backward(model, tmodel, x: np.ndarray) -> None:
    """Forward and every parameter's gradient (and the input's) against PyTorch, in eval mode."""
    randomize_bn(model)
    copy_to_torch(model, tmodel)
    model.eval()
    tmodel.eval()
    xt = torch.from_numpy(x).requires_grad_(True)
    xc = tinyconv.tensor(x, requires_grad=True)
    y, yt = model(xc), tmodel(xt)
    assert_close(y.numpy(), yt.detach().numpy(), what="forward")
    R = inputs(y.shape, seed=7)
    (y * tinyconv.tensor(R)).sum().backward()
    (yt * torch.from_numpy(R)).sum().backward()
    tgrads = dict(tmodel.named_parameters())
    checked = 0
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} has no gradient"
        assert_close(p.grad.numpy(), tgrads[name].grad.numpy(), rtol=1e-3, what=f"grad of {name}")
        checked += 1
    assert checked == len(tgrads)
    assert_close(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-3, what="grad of the input")


# ----------------------------------------------------------------------------- registry
CLASSIFIERS = [
    "alexnet", "alexnet_lrn", "cifar10_cnn", "deep_convnet", "efficientnet_b0", "googlenet",
    "lenet5", "lenet5_modern", "mnist_cnn", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
    "resnet18", "resnet20", "resnet32", "resnet34", "resnet50", "resnet56",
    "shufflenet_v2_x1_0", "simple_convnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
]  # fmt: skip
DENSE = ["centernet", "unet"]  # segmentation and detection (fcn takes a classifier instead)
GENERATIVE = ["conv_autoencoder", "conv_vae", "dcgan_discriminator", "dcgan_generator"]
ALL = sorted(CLASSIFIERS + DENSE + GENERATIVE + ["fcn"])


def test_list_models_names_every_model():
    assert models.list_models() == ALL
    assert models.available() == ALL


def test_get_builds_by_name_with_kwargs():
    m = models.get("simple_convnet", num_classes=5)
    assert isinstance(m, models.SimpleConvNet)
    assert m.affine2.out_features == 5
    assert isinstance(models.get("ResNet-20"), models.ResNet)


def test_get_unknown_name_suggests_and_lists():
    with pytest.raises(
        ValueError, match=r"unknown model 'resnet19'. Did you mean 'resnet18'\?.*vgg16"
    ):
        models.get("resnet19")


def test_get_unknown_argument_lists_the_accepted_ones():
    with pytest.raises(
        TypeError, match=r"takes no argument\(s\) classes; it takes: num_classes=10"
    ):
        models.get("simple_convnet", classes=3)


def test_every_model_takes_num_classes_and_in_channels():
    import inspect

    for name in CLASSIFIERS + DENSE:
        params = inspect.signature(getattr(models, name)).parameters
        assert "num_classes" in params and "in_channels" in params, name


# ------------------------------------------------------------------ the seeds' arithmetic
def test_stacked_3x3_convs_need_fewer_weights_for_the_same_receptive_field():
    def stack(n: int) -> nn.Sequential:
        return nn.Sequential(*[nn.Conv2d(1, 1, 3, bias=False) for _ in range(n)])

    two, four = stack(2), stack(4)
    assert two.num_parameters() == 18 and nn.Conv2d(1, 1, 5, bias=False).num_parameters() == 25
    assert four.num_parameters() == 36 and nn.Conv2d(1, 1, 9, bias=False).num_parameters() == 81
    # Same receptive field: a 5x5 (9x9) patch gives exactly one output pixel.
    assert two(tinyconv.tensor(np.zeros((1, 1, 5, 5), np.float32))).shape == (1, 1, 1, 1)
    assert four(tinyconv.tensor(np.zeros((1, 1, 9, 9), np.float32))).shape == (1, 1, 1, 1)
    # ...and that pixel depends on every input pixel.
    x = tinyconv.tensor(np.zeros((1, 1, 9, 9), np.float32), requires_grad=True)
    for p in four.parameters():
        p.data = np.ones_like(p.data)
    four(x).sum().backward()
    assert (x.grad.numpy() > 0).all()


# ------------------------------------------------------------------------ small models
def conv_params(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def test_simple_convnet_matches_the_book():
    m = models.simple_convnet()
    assert m.conv1.weight.shape == (30, 1, 5, 5)
    assert m.affine1.weight.shape == (100, 30 * 12 * 12)
    assert m.num_parameters() == conv_params(1, 30, 5) + 4320 * 100 + 100 + 100 * 10 + 10 == 433_890
    # weight_init_std=0.01: normal weights, zero biases
    w = np.concatenate([m.conv1.weight.numpy().ravel(), m.affine1.weight.numpy().ravel()])
    assert abs(w.std() - 0.01) < 0.0005 and abs(w.mean()) < 0.0005
    assert not m.conv1.bias.numpy().any() and not m.affine2.bias.numpy().any()
    check_forward(m, ref.simple_convnet(), inputs((4, 1, 28, 28)), (4, 10))


def test_simple_convnet_other_sizes():
    m = models.simple_convnet(num_classes=3, in_channels=3, input_size=32)
    assert m.affine1.in_features == 30 * 14 * 14
    assert m(tinyconv.tensor(inputs((2, 3, 32, 32)))).shape == (2, 3)
    with pytest.raises(ValueError, match=r"\(4 - 5 \+ 2\*0\)/1 \+ 1 = 0"):
        models.simple_convnet(input_size=4)


def test_deep_convnet_matches_the_book():
    m = models.deep_convnet()
    convs = [(1, 16), (16, 16), (16, 32), (32, 32), (32, 64), (64, 64)]
    expected = sum(conv_params(a, b, 3) for a, b in convs) + 1024 * 50 + 50 + 50 * 10 + 10
    assert m.num_parameters() == expected == 123_552
    assert [m._modules[f"conv{i}"].padding for i in range(1, 7)] == [(1, 1)] * 3 + [(2, 2)] + [
        (1, 1)
    ] * 2
    # He init: std = sqrt(2 / fan_in)
    assert abs(m.conv6.weight.numpy().std() - math.sqrt(2 / (64 * 9))) < 0.005
    check_forward(m, ref.deep_convnet(), inputs((3, 1, 28, 28)), (3, 10))


@pytest.mark.parametrize(
    ("kwargs", "activation", "pool", "size"),
    [
        ({}, "tanh", "avg", 32),
        ({"activation": "sigmoid", "input_size": 28}, "sigmoid", "avg", 28),
    ],
)
def test_lenet5(kwargs, activation, pool, size):
    m = models.lenet5(**kwargs)
    # C1 156, C3 (full table) 2,416, C5 48,120, F6 10,164, output 850
    assert m.num_parameters() == 156 + 2416 + 48120 + 10164 + 850 == 61_706
    assert isinstance(m.s2, nn.AvgPool2d) and isinstance(
        m.act1, nn.Tanh if activation == "tanh" else nn.Sigmoid
    )
    check_forward(m, ref.lenet5(activation, pool, size), inputs((3, 1, size, size)), (3, 10))


def test_lenet5_modern():
    m = models.lenet5_modern(input_size=28)
    assert isinstance(m.s4, nn.MaxPool2d) and isinstance(m.act3, nn.ReLU)
    check_forward(m, ref.lenet5("relu", "max", 28), inputs((2, 1, 28, 28)), (2, 10))
    with pytest.raises(ValueError, match="lenet5: activation must be 'tanh' or 'sigmoid'"):
        models.lenet5(activation="relu")


def test_mnist_cnn_as_the_lecture():
    m = models.mnist_cnn()
    assert m.fc1.in_features == 7 * 7 * 64 == 3136
    assert (
        m.num_parameters()
        == conv_params(1, 32, 5) + conv_params(32, 64, 5) + 3136 * 1024 + 1024 + 10250
    )
    check_forward(m, ref.mnist_cnn(), inputs((2, 1, 28, 28)), (2, 10))


def test_cifar10_cnn_as_the_lecture():
    m = models.cifar10_cnn()
    assert m.fc1.in_features == 7 * 7 * 128 == 6272  # 32 -> 15 -> 7, not the comment's 8x8
    expected = (
        conv_params(3, 64, 5)
        + conv_params(64, 64, 5)
        + conv_params(64, 128, 3)
        + 2 * conv_params(128, 128, 3)
    )
    assert m.num_parameters() == expected + 6272 * 384 + 384 + 3850 == 2_889_034
    assert m.dropout.p == 0.2
    check_forward(m, ref.cifar10_cnn(), inputs((2, 3, 32, 32)), (2, 10))


# ------------------------------------------------------------------------------ ResNet
def cifar_resnet_params(n: int, classes: int = 10) -> int:
    """conv3x3 16 + BN, then 3 stages of n basic blocks (16, 32, 64), option A, then fc."""
    total = conv_params(3, 16, 3, bias=False) + 2 * 16
    c_in = 16
    for width in (16, 32, 64):
        for _ in range(n):
            total += (
                conv_params(c_in, width, 3, False) + conv_params(width, width, 3, False) + 4 * width
            )
            c_in = width
    return total + 64 * classes + classes


@pytest.mark.parametrize(("name", "n"), [("resnet20", 3), ("resnet32", 5), ("resnet56", 9)])
def test_cifar_resnet_parameter_counts(name, n):
    m = models.get(name)
    assert m.num_parameters() == cifar_resnet_params(n)
    assert len([c for c in m.modules() if isinstance(c, nn.Conv2d)]) + 1 == 6 * n + 2  # + fc
    assert not any("downsample" in k for k in m.state_dict())  # option A has no parameters


def test_resnet20_count_is_the_papers_027M():
    assert models.resnet20().num_parameters() == 269_722


def test_resnet20_forward_eval_and_shortcut_a():
    m = models.resnet20()
    assert isinstance(m.layer2[0].downsample, models.ShortcutA) and m.layer2[1].downsample is None
    check_forward(m, ref.resnet20(), inputs((2, 3, 32, 32)), (2, 10))


def test_resnet20_train_mode_batchnorm_matches_torch():
    m, t = models.resnet20(), ref.resnet20()
    randomize_bn(m)
    copy_to_torch(m, t)
    x = inputs((4, 3, 16, 16))
    y, yt = forward_both(m, t, x, train=True)
    assert_close(y.numpy(), yt.numpy(), what="train-mode forward")
    ts = t.state_dict()
    for k, v in m.state_dict().items():
        if "running" in k:
            assert_close(v.numpy(), ts[k].numpy(), what=k)


@pytest.mark.parametrize(
    ("name", "count"),
    [("resnet18", 11_689_512), ("resnet34", 21_797_672), ("resnet50", 25_557_032)],
)
def test_imagenet_resnet_parameter_counts(name, count):
    assert models.get(name).num_parameters() == count


def test_resnet18_forward_and_backward_match_torch():
    m, t = models.resnet18(num_classes=10), ref.resnet18(10)
    names = set(m.state_dict())
    assert {
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_var",
    } <= names
    check_backward(m, t, inputs((2, 3, 64, 64)))


@pytest.mark.slow
def test_resnet50_forward_matches_torch():
    m, t = models.resnet50(), ref.resnet50()
    assert m.layer1[0].conv2.stride == (1, 1) and m.layer2[0].conv2.stride == (2, 2)  # v1.5
    assert m.layer2[0].conv1.stride == (1, 1)
    check_forward(m, t, inputs((1, 3, 64, 64)), (1, 1000))


def test_resnet_shape_at_224_from_the_formulas():
    s = models.resnet18().summary((3, 224, 224))
    shapes = {r.name: r.output_shape for r in s.rows}
    assert shapes["maxpool"] == (64, 56, 56)
    assert shapes["layer4.1.bn2"] == (512, 7, 7)
    assert shapes["fc"] == (1000,)


# ----------------------------------------------------------------------------- GoogLeNet
def test_googlenet_parameter_counts():
    m = models.googlenet()
    assert m.num_parameters() == 6_624_904
    assert "inception3a.branch2.1.conv.weight" in m.state_dict()
    assert m.inception3a.branch3[1].conv.kernel_size == (3, 3)  # torchvision's "5x5" branch
    assert models.googlenet(aux_logits=True).num_parameters() == 13_004_888


def test_googlenet_forward_and_backward_match_torch():
    m, t = models.googlenet(num_classes=10), ref.GoogLeNet(10)
    he_init(m)
    check_backward(m, t, inputs((2, 3, 64, 64)))


def test_googlenet_aux_outputs_in_training_mode():
    m = models.GoogLeNet(num_classes=7, aux_logits=True, dropout=0.0, dropout_aux=0.0)
    t = ref.GoogLeNet(7, aux_logits=True)
    t.dropout.p = t.aux1.dropout.p = t.aux2.dropout.p = 0.0
    assert "aux1.conv.conv.weight" in m.state_dict()
    randomize_bn(m)
    copy_to_torch(m, t)
    x = inputs((2, 3, 96, 96))
    outs, touts = forward_both(m, t, x, train=True)
    assert len(outs) == 3
    for o, ot, what in zip(outs, touts, ("logits", "aux2", "aux1"), strict=True):
        assert o.shape == (2, 7)
        assert_close(o.numpy(), ot.numpy(), what=what)
    with tinyconv.no_grad():
        assert m.eval()(tinyconv.tensor(x)).shape == (2, 7)  # eval: logits only


def test_googlenet_ceil_pool_sizes():
    pool = models.MaxPool2dCeil(3, 2)
    assert pool.output_shape((1, 64, 112, 112)) == (1, 64, 56, 56)
    x = inputs((1, 2, 9, 9))
    y = pool(tinyconv.tensor(x))
    yt = torch.nn.functional.max_pool2d(torch.from_numpy(x), 3, 2, ceil_mode=True)
    assert_close(y.numpy(), yt.numpy())


# ------------------------------------------------------------------------ AlexNet, VGG
@pytest.mark.slow
def test_alexnet_forward_matches_torch():
    m = models.alexnet()
    assert m.num_parameters() == 61_100_840
    assert {"features.0.weight", "classifier.6.bias"} <= set(m.state_dict())
    check_forward(m, ref.AlexNet(), inputs((1, 3, 224, 224)), (1, 1000))


@pytest.mark.slow
def test_alexnet_lrn_forward_matches_torch():
    m = models.alexnet_lrn(num_classes=10)
    assert isinstance(m.features[2], nn.LocalResponseNorm) and m.features[0].out_channels == 96
    assert float(m.features[4].bias.numpy().mean()) == 1.0 and not m.features[0].bias.numpy().any()
    check_forward(m, ref.AlexNet(10, lrn=True), inputs((1, 3, 224, 224)), (1, 10))


VGG_COUNTS = {
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840,
    "vgg16_bn": 138_365_992,
}


@pytest.fixture
def skip_weight_init(monkeypatch):
    """Build without drawing random weights: the count does not depend on them (10x faster).

    The real initialisation is checked in test_vgg11_bn_init_and_forward_match_torch.
    """
    from tinyconv.models import vgg

    def nothing(*args, **kwargs):
        return None

    for name in ("default_init_", "kaiming_normal_", "normal_", "ones_", "zeros_"):
        monkeypatch.setattr(nn.init, name, nothing)
    monkeypatch.setattr(vgg, "normal_", nothing)


@pytest.mark.parametrize("name", list(VGG_COUNTS))
def test_vgg_parameter_counts(name, skip_weight_init):
    m = models.get(name)
    assert m.num_parameters() == VGG_COUNTS[name]
    convs = sum(isinstance(c, nn.Conv2d) for c in m.features)
    assert convs + 3 == int(name[3:5])  # vgg16: 13 conv + 3 dense layers


@pytest.mark.slow
def test_vgg11_bn_init_and_forward_match_torch():
    m = models.vgg11_bn()
    assert "features.1.running_mean" in m.state_dict()
    # torchvision's init: convs He-normal fan_out, linear N(0, 0.01^2), zero biases, BN 1 / 0
    conv, bn, fc = m.features[4], m.features[5], m.classifier[3]
    assert abs(conv.weight.numpy().std() - math.sqrt(2 / (128 * 9))) < 0.002  # fan_out
    assert abs(fc.weight.numpy().std() - 0.01) < 0.0002
    assert not conv.bias.numpy().any() and not fc.bias.numpy().any()
    assert (bn.weight.numpy() == 1).all() and not bn.bias.numpy().any()
    check_forward(m, ref.VGG("A", True, 1000), inputs((2, 3, 32, 32)), (2, 1000))


@pytest.mark.slow
def test_vgg16_summary_halves_to_7_then_dense():
    s = models.vgg16().summary((3, 224, 224))
    pools = [r.output_shape for r in s.rows if r.layer == "MaxPool2d"]
    assert [p[1] for p in pools] == [112, 56, 28, 14, 7]
    dense = [(r.output_shape, r.params) for r in s.rows if r.layer == "Linear"]
    assert [d[0] for d in dense] == [(4096,), (4096,), (1000,)]
    assert dense[0][1] == 512 * 7 * 7 * 4096 + 4096  # 25088 -> 4096
    assert s.total_params == 138_357_544
    text = str(s)
    assert "(512, 7, 7)" in text and "(25088,)" in text


# ------------------------------------------------------------------ architecture as JSON
@pytest.mark.parametrize(
    "name", ["simple_convnet", "lenet5", "resnet20", "googlenet", "cifar10_cnn"]
)
def test_architecture_is_json_and_rebuilds(name):
    m = models.get(name, num_classes=4)
    cfg = json.loads(json.dumps(m.config()))
    again = nn.build_module(cfg)
    assert type(again) is type(m)
    assert {k: v.shape for k, v in again.state_dict().items()} == {
        k: v.shape for k, v in m.state_dict().items()
    }
    again.load_state_dict(m.state_dict())
    x = tinyconv.tensor(inputs((1, *m.input_shape)))
    with tinyconv.no_grad():
        assert_close(again.eval()(x).numpy(), m.eval()(x).numpy())


def test_save_and_load_a_zoo_model(tmp_path):
    m = models.resnet20(num_classes=3)
    randomize_bn(m)
    tinyconv.save(m, tmp_path / "r20.safetensors")
    again = tinyconv.load(tmp_path / "r20.safetensors")
    x = tinyconv.tensor(inputs((2, 3, 32, 32)))
    with tinyconv.no_grad():
        np.testing.assert_array_equal(again.eval()(x).numpy(), m.eval()(x).numpy())


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="LeNet5: input_size must be 32"):
        models.lenet5(input_size=30)
    with pytest.raises(ValueError, match="block must be 'basic' or 'bottleneck'"):
        models.ResNet("wide", [1, 1, 1, 1])
    with pytest.raises(ValueError, match="VGG: config must be one of"):
        models.VGG("Z")
    with pytest.raises(ValueError, match="strictly positive.*num_classes=0"):
        models.resnet18(num_classes=0)
