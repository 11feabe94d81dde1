"""Segmentation and detection models (FCN, U-Net, CenterNet, sliding windows) vs PyTorch twins."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import tinyconv
import tinyconv.functional as F
from tinyconv import models, nn
from tinyconv.models import (
    FCN,
    CenterNet,
    UNet,
    bilinear_kernel,
    centernet_decode,
    centernet_loss,
    centernet_targets,
    convolutionize,
    mnist_cnn,
    sliding_window_detect,
)


def _copy_to_torch(tc_model, t_model):
    """Copy tinyconv's state dict into the torch twin by name; every name must match."""
    src = {k: torch.tensor(np.array(v.data)) for k, v in tc_model.state_dict().items()}
    assert sorted(src) == sorted(t_model.state_dict())
    t_model.load_state_dict(src, strict=True)


def _randomise(model, seed=0, scale=0.1):
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = (rng.standard_normal(p.shape) * scale).astype(np.float32)


def _compare(tc_model, t_model, x, seed=1, rtol=1e-4, atol=1e-5, grad_atol=1e-4):
    """Forward output and the gradients of the input and of every parameter, float32."""
    xt = tinyconv.tensor(x, requires_grad=True)
    out = tc_model(xt)
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    (out * tinyconv.tensor(g)).sum().backward()
    X = torch.tensor(x, requires_grad=True)
    OUT = t_model(X)
    (OUT * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.numpy(), OUT.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(xt.grad.numpy(), X.grad.numpy(), rtol=1e-3, atol=grad_atol)
    tparams = dict(t_model.named_parameters())
    for name, p in tc_model.named_parameters():
        ref = tparams[name].grad.numpy()
        scale = max(1.0, float(np.abs(ref).max()))
        np.testing.assert_allclose(
            p.grad.numpy(), ref, rtol=1e-3, atol=grad_atol * scale, err_msg=name
        )


# ------------------------------------------------------------------------------ FCN
class TorchFCN(tnn.Module):
    """mnist_cnn(11, hidden) convolutionized ("same") with skips at pool1 (and relu1)."""

    def __init__(self, hidden, two_skips=False, k=11):
        super().__init__()
        conv1 = [("conv1", tnn.Conv2d(1, 32, 5, padding=2)), ("relu1", tnn.ReLU())]
        pool1 = [("pool1", tnn.MaxPool2d(2))]
        stages = [conv1, pool1] if two_skips else [conv1 + pool1]
        self.stages = tnn.ModuleList([tnn.Sequential(OrderedDict(s)) for s in stages])
        self.head = tnn.Sequential(
            OrderedDict(
                conv2=tnn.Conv2d(32, 64, 5, padding=2),
                relu2=tnn.ReLU(),
                pool2=tnn.MaxPool2d(2),
                flatten=tnn.Identity(),
                fc1=tnn.Conv2d(64, hidden, 7, padding=3),
                relu3=tnn.ReLU(),
                fc2=tnn.Conv2d(hidden, k, 1),
            )
        )
        self.score_skips = tnn.ModuleList([tnn.Conv2d(32, k, 1) for _ in stages])
        self.ups = tnn.ModuleList(
            [tnn.ConvTranspose2d(k, k, 4, stride=2, padding=1, bias=False) for _ in stages]
        )
        self.up_final = (
            tnn.Identity() if two_skips else tnn.ConvTranspose2d(k, k, 4, stride=2, padding=1)
        )

    def forward(self, x):
        feats = []
        for st in self.stages:
            x = st(x)
            feats.append(x)
        s = self.head(x)
        for i in reversed(range(len(feats))):
            s = self.ups[i](s) + self.score_skips[i](feats[i])
        return self.up_final(s)


@pytest.mark.parametrize("skip", ["pool1", ("relu1", "pool1")])
def test_fcn_matches_pytorch_forward_and_backward(skip):
    tinyconv.manual_seed(0)
    fcn = FCN(mnist_cnn(num_classes=11, hidden=16), skip=skip)
    _randomise(fcn)  # skip scores non-zero, upsamplers no longer bilinear: every path counts
    twin = TorchFCN(16, two_skips=skip != "pool1")
    _copy_to_torch(fcn, twin)
    x = np.random.default_rng(2).random((2, 1, 32, 48), dtype=np.float32)
    _compare(fcn, twin, x)


def test_untrained_fcn_is_the_classifier_score_map_upsampled_bilinearly():
    tinyconv.manual_seed(0)
    clf = mnist_cnn(num_classes=11, hidden=16)
    fcn = FCN(clf)
    x = np.random.default_rng(0).random((1, 1, 64, 64), dtype=np.float32)
    coarse = convolutionize(clf, padding="same")(tinyconv.tensor(x)).numpy()  # (1, 11, 16, 16)
    assert coarse.shape == (1, 11, 16, 16)
    ref = torch.tensor(coarse)
    for _ in range(2):  # bilinear x2 twice, as two transposed convs with bilinear kernels
        w = torch.tensor(bilinear_kernel(11, 2))
        ref = TF.conv_transpose2d(ref, w, stride=2, padding=1)
    out = fcn(tinyconv.tensor(x)).numpy()
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-5, atol=1e-5)
    # and away from the border that is bilinear interpolation itself (align_corners=False)
    up = TF.interpolate(torch.tensor(coarse), scale_factor=2, mode="bilinear", align_corners=False)
    half = TF.conv_transpose2d(
        torch.tensor(coarse), torch.tensor(bilinear_kernel(11, 2)), stride=2, padding=1
    )
    np.testing.assert_allclose(
        half[..., 1:-1, 1:-1].numpy(), up[..., 1:-1, 1:-1].numpy(), atol=1e-5
    )


def test_fcn_copies_the_classifier_and_leaves_it_alone():
    clf = mnist_cnn(num_classes=11, hidden=16)
    before = {k: v.data.copy() for k, v in clf.state_dict().items()}
    fcn = FCN(clf)
    np.testing.assert_array_equal(
        fcn.head.fc1.weight.numpy(), clf.fc1.weight.numpy().reshape(16, 64, 7, 7)
    )
    fcn.head.fc1.weight.data += 1
    for k, v in clf.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])
    # a 10-class classifier gets a new, zero 1x1 layer for 11 classes
    fcn10 = FCN(mnist_cnn(num_classes=10, hidden=16), num_classes=11)
    assert fcn10.head.fc2.out_channels == 11 and not fcn10.head.fc2.weight.numpy().any()


def test_fcn_errors_and_save_load(tmp_path):
    with pytest.raises(
        ValueError, match="skip='nope' is not a layer of MnistCNN; its layers are conv1"
    ):
        FCN(mnist_cnn(hidden=8), skip="nope")
    fcn = FCN(mnist_cnn(num_classes=11, hidden=8))
    with pytest.raises(ValueError, match=r"multiples of the network's stride 4, got \(30, 32\)"):
        fcn(tinyconv.tensor(np.zeros((1, 1, 30, 32), np.float32)))
    with pytest.raises(
        ValueError, match=r"FCN: expected input \(N, 1, H, W\), got \(1, 3, 32, 32\)"
    ):
        fcn(tinyconv.tensor(np.zeros((1, 3, 32, 32), np.float32)))
    _randomise(fcn, 3)
    tinyconv.save(fcn, tmp_path / "fcn.safetensors")
    back = tinyconv.load(tmp_path / "fcn.safetensors")
    x = tinyconv.tensor(np.random.default_rng(0).random((1, 1, 32, 32), dtype=np.float32))
    fcn.eval()
    back.eval()
    np.testing.assert_array_equal(fcn(x).numpy(), back(x).numpy())


def test_convolutionize_same_padding_keeps_the_feature_map_size():
    clf = models.simple_convnet()
    same = convolutionize(clf, padding="same")
    valid = convolutionize(clf)
    x = tinyconv.tensor(np.random.default_rng(0).random((1, 1, 40, 40), dtype=np.float32))
    assert valid(x).shape == (1, 10, 7, 7)  # (18 - 12)/1 + 1 on the 18x18 pooled map
    assert same(x).shape == (1, 10, 18, 18)  # 12x12 kernel, padding 5 before and 6 after
    # the centre windows (wholly inside) agree with the valid map, shifted by the padding
    np.testing.assert_allclose(
        same(x).numpy()[..., 5:12, 5:12], valid(x).numpy(), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        convolutionize(clf, padding="full")


# ------------------------------------------------------------------------------ U-Net
class TorchUNet(tnn.Module):
    def __init__(self, width=4, depth=2, k=11):
        super().__init__()

        def block(a, b):
            return tnn.Sequential(
                OrderedDict(
                    conv1=tnn.Conv2d(a, b, 3, padding=1, bias=False),
                    bn1=tnn.BatchNorm2d(b),
                    relu1=tnn.ReLU(),
                    conv2=tnn.Conv2d(b, b, 3, padding=1, bias=False),
                    bn2=tnn.BatchNorm2d(b),
                    relu2=tnn.ReLU(),
                )
            )

        ch = [width * 2**i for i in range(depth + 1)]
        self.depth = depth
        self.encoders = tnn.ModuleList(
            [block(1 if i == 0 else ch[i - 1], ch[i]) for i in range(depth)]
        )
        self.bottom = block(ch[depth - 1], ch[depth])
        self.ups = tnn.ModuleList(
            [tnn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2) for i in range(depth)]
        )
        self.decoders = tnn.ModuleList([block(2 * ch[i], ch[i]) for i in range(depth)])
        self.classifier = tnn.Conv2d(ch[0], k, 1)

    def forward(self, x):
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = TF.max_pool2d(x, 2)
        x = self.bottom(x)
        for i in reversed(range(self.depth)):
            x = self.decoders[i](torch.cat([self.ups[i](x), skips[i]], 1))
        return self.classifier(x)


@pytest.mark.parametrize("train", [True, False])
def test_unet_matches_pytorch(train):
    tinyconv.manual_seed(0)
    u = UNet(width=4, depth=2)
    twin = TorchUNet(4, 2)
    _copy_to_torch(u, twin)
    u.train(train)
    twin.train(train)
    x = np.random.default_rng(0).random((3, 1, 16, 24), dtype=np.float32)
    _compare(u, twin, x, grad_atol=2e-4)
    if train:  # the running statistics moved the same way
        np.testing.assert_allclose(
            u.encoders[0].bn1.running_var.numpy(),
            twin.encoders[0].bn1.running_var.numpy(),
            rtol=1e-5,
        )


def test_unet_parameter_count_and_errors():
    # width 16, depth 3: blocks (3x3 convs without bias, BN 2 per channel), 2x2 up-convs, 1x1
    def block(a, b):
        return 9 * a * b + 2 * b + 9 * b * b + 2 * b

    enc = block(1, 16) + block(16, 32) + block(32, 64)
    bottom = block(64, 128)
    ups = (4 * 128 * 64 + 64) + (4 * 64 * 32 + 32) + (4 * 32 * 16 + 16)
    dec = block(128, 64) + block(64, 32) + block(32, 16)
    head = 16 * 11 + 11
    assert enc + bottom + ups + dec + head == 482_619
    assert sum(p.numel() for p in UNet().parameters()) == 482_619
    with pytest.raises(ValueError, match=r"multiples of 2\^depth = 8, got \(60, 64\)"):
        UNet()(tinyconv.tensor(np.zeros((1, 1, 60, 64), np.float32)))
    with pytest.raises(
        ValueError,
        match="UNet: invalid value for argument `width`. Expected a strictly positive value. Received width=0",
    ):
        UNet(width=0)


# -------------------------------------------------------------------------- CenterNet
class TorchCenterNet(tnn.Module):
    def __init__(self, width=8, k=10):
        super().__init__()
        w = width
        layers = []
        for i, (a, b, s, d) in enumerate(
            [
                (1, 16, 1, 1),
                (16, w, 2, 1),
                (w, w, 1, 1),
                (w, 2 * w, 2, 1),
                (2 * w, 2 * w, 1, 1),
                (2 * w, 2 * w, 1, 2),
                (2 * w, 2 * w, 1, 4),
            ]
        ):
            layers += [
                (f"conv{i}", tnn.Conv2d(a, b, 3, stride=s, padding=d, dilation=d, bias=False)),
                (f"bn{i}", tnn.BatchNorm2d(b)),
                (f"relu{i}", tnn.ReLU()),
            ]
        self.backbone = tnn.Sequential(OrderedDict(layers))

        def head(c):
            return tnn.Sequential(
                OrderedDict(
                    conv=tnn.Conv2d(2 * w, 2 * w, 3, padding=1),
                    relu=tnn.ReLU(),
                    out=tnn.Conv2d(2 * w, c, 1),
                )
            )

        self.heatmap, self.size, self.offset = head(k), head(2), head(2)

    def forward(self, x):
        f = self.backbone(x)
        return torch.cat([self.heatmap(f), self.size(f), self.offset(f)], 1)


@pytest.mark.parametrize("train", [True, False])
def test_centernet_matches_pytorch(train):
    tinyconv.manual_seed(0)
    m = CenterNet(width=8)
    twin = TorchCenterNet(8)
    _copy_to_torch(m, twin)
    m.train(train)
    twin.train(train)
    x = np.random.default_rng(0).random((2, 1, 32, 40), dtype=np.float32)
    _compare(m, twin, x, grad_atol=2e-4)
    assert m(tinyconv.tensor(x)).shape == (2, 14, 8, 10)


def torch_centernet_loss(out, t, k):
    heat_t, reg_t, mask = t[:, :k], t[:, k : k + 4], t[:, k + 4 : k + 5]
    pos = (heat_t == 1).float()
    m = max(float(mask.sum()), 1.0)
    p = torch.sigmoid(out[:, :k])
    pos_term = (1 - p) ** 2 * TF.logsigmoid(out[:, :k]) * pos
    neg_term = (1 - heat_t) ** 4 * p**2 * TF.logsigmoid(-out[:, :k]) * (1 - pos)
    heat = -(pos_term.sum() + neg_term.sum()) / m
    diff = (out[:, k:] - reg_t).abs() * mask
    return heat + 0.1 * diff[:, :2].sum() / m + diff[:, 2:].sum() / m


def test_centernet_targets_loss_and_decode():
    boxes = [
        np.array([[10, 20, 30, 44], [50, 8, 70, 32]], np.float32),
        np.zeros((0, 4), np.float32),
    ]
    labels = [np.array([3, 7]), np.array([], np.int64)]
    t = centernet_targets(boxes, labels, 10, (24, 24), stride=4)
    assert t.shape == (2, 15, 24, 24)
    # first box: centre (20, 32) px -> (5.0, 8.0) cells; size (20/4, 24/4) = (5, 6); offset 0
    assert t[0, 3, 8, 5] == 1.0 and t[0, 10:15, 8, 5].tolist() == [5.0, 6.0, 0.0, 0.0, 1.0]
    # second: centre (60, 20) -> (15, 5), size (5, 6)
    assert t[0, 7, 5, 15] == 1.0 and t[0, 14].sum() == 2 and t[1].sum() == 0
    assert 0 < t[0, 3, 8, 6] < 1 and t[0, 3, 8, 9] == 0  # a Gaussian of small radius
    # the loss vs the same formula in torch, with its gradient
    out = np.random.default_rng(0).standard_normal((2, 14, 24, 24)).astype(np.float32)
    o = tinyconv.tensor(out, requires_grad=True)
    loss, parts = centernet_loss(o, t, 10)
    loss.backward()
    O = torch.tensor(out, requires_grad=True)
    ref = torch_centernet_loss(O, torch.tensor(t), 10)
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-5)
    np.testing.assert_allclose(o.grad.numpy(), O.grad.numpy(), rtol=1e-4, atol=1e-7)
    assert set(parts) == {"heat", "size", "offset"}
    # a perfect output decodes to the boxes
    perfect = np.concatenate([np.where(t[:, :10] == 1, 10.0, -10.0), t[:, 10:14]], axis=1)
    dets = centernet_decode(perfect.astype(np.float32), 10, stride=4, threshold=0.5)
    order = np.argsort(dets[0][2])
    np.testing.assert_allclose(dets[0][0][order], boxes[0], atol=1e-5)
    assert dets[0][2][order].tolist() == [3, 7] and len(dets[1][0]) == 0


def test_sliding_window_boxes_follow_the_score_map():
    tinyconv.manual_seed(0)
    clf = mnist_cnn(num_classes=11, hidden=8)
    images = np.random.default_rng(0).integers(0, 255, (1, 1, 36, 44), dtype=np.uint8)
    dets = sliding_window_detect(clf, images, scales=(1.0,), threshold=0.0, iou_threshold=1.0)
    fcn = convolutionize(clf)
    fcn.eval()
    scores = F.softmax(fcn(tinyconv.tensor(images.astype(np.float32) / 255)), dim=1).numpy()[0]
    assert scores.shape == (11, 3, 5)  # (36 - 28)/4 + 1, (44 - 28)/4 + 1
    boxes, s, lab = dets[0]
    assert len(boxes) == 15
    i = int(np.argmax(s))
    y, x = np.unravel_index(np.argmax(scores[:10].max(0)), (3, 5))
    np.testing.assert_allclose(boxes[i], [4 * x + 4, 4 * y + 4, 4 * x + 24, 4 * y + 24])
    assert lab[i] == scores[:10, y, x].argmax() and s[i] == pytest.approx(scores[:10, y, x].max())


def test_models_registry_builds_dense_models():
    assert isinstance(models.get("unet", width=4), UNet)
    assert isinstance(models.get("centernet", width=4), CenterNet)
    assert isinstance(models.get("fcn", classifier=mnist_cnn(num_classes=11, hidden=8)), FCN)
    assert isinstance(models.get("fcn"), nn.Module)
