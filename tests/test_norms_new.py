"""layer_norm, LayerNorm2d (channels), group_norm and instance_norm: forward and gradients
vs PyTorch (float32), finite differences (float64), running statistics, modules, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from helpers import check_vs_torch, gradcheck

import tinyconv
import tinyconv.functional as F
from tinyconv import nn

RNG = np.random.default_rng(5)


@pytest.mark.parametrize(
    "shape,norm", [((4, 6), (6,)), ((2, 3, 4, 5), (4, 5)), ((2, 3, 4), (2, 3, 4))]
)
def test_layer_norm(shape, norm):
    x = RNG.standard_normal(shape) * 2 + 1
    w = RNG.standard_normal(norm)
    b = RNG.standard_normal(norm)
    check_vs_torch(
        lambda a, w, b: F.layer_norm(a, norm, w, b),
        lambda a, w, b: TF.layer_norm(a, norm, w, b), [x, w, b],
    )  # fmt: skip
    check_vs_torch(lambda a: F.layer_norm(a, norm), lambda a: TF.layer_norm(a, norm), [x])
    small = RNG.standard_normal((2, *norm))
    gradcheck(lambda a, w, b: F.layer_norm(a, norm, w, b, eps=1e-3), [small, w, b])


def test_channel_layer_norm_is_torchvision_layernorm2d():
    x = RNG.standard_normal((2, 5, 3, 4)) * 3
    w, b = RNG.standard_normal(5), RNG.standard_normal(5)

    def torch_ln2d(a, w, b):  # torchvision.models.convnext.LayerNorm2d
        return TF.layer_norm(a.permute(0, 2, 3, 1), (5,), w, b, 1e-6).permute(0, 3, 1, 2)

    check_vs_torch(F.channel_layer_norm, torch_ln2d, [x, w, b])
    gradcheck(
        lambda a, w, b: F.channel_layer_norm(a, w, b, eps=1e-3),
        [np.ascontiguousarray(x[:1, :, :2]), w, b],
    )
    m = nn.LayerNorm2d(5)
    assert m.eps == 1e-6 and [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    m.weight.data[...] = w
    m.bias.data[...] = b
    check_vs_torch(m, lambda a: torch_ln2d(a, torch.tensor(w, dtype=torch.float32),
                                           torch.tensor(b, dtype=torch.float32)), [x])  # fmt: skip


@pytest.mark.parametrize("shape,groups", [((2, 6, 3, 4), 3), ((3, 4, 5), 2), ((3, 6), 2)])
def test_group_norm(shape, groups):
    x = RNG.standard_normal(shape) * 2 + 0.5
    C = shape[1]
    w, b = RNG.standard_normal(C), RNG.standard_normal(C)
    check_vs_torch(
        lambda a, w, b: F.group_norm(a, groups, w, b),
        lambda a, w, b: TF.group_norm(a, groups, w, b), [x, w, b],
    )  # fmt: skip
    if x.size <= 60:
        gradcheck(lambda a, w, b: F.group_norm(a, groups, w, b, eps=1e-3), [x, w, b])
    else:
        gradcheck(
            lambda a, w, b: F.group_norm(a, groups, w, b, eps=1e-3),
            [np.ascontiguousarray(x[:1, :, :2]), w, b],
        )


def test_instance_norm_training_updates_running_stats_as_torch():
    x = RNG.standard_normal((3, 4, 5, 6)).astype(np.float32) * 2 + 1
    w, b = RNG.standard_normal(4), RNG.standard_normal(4)
    check_vs_torch(
        lambda a, w, b: F.instance_norm(a, weight=w, bias=b),
        lambda a, w, b: TF.instance_norm(a, weight=w, bias=b), [x, w, b],
    )  # fmt: skip
    gradcheck(
        lambda a, w, b: F.instance_norm(a, weight=w, bias=b, eps=1e-3),
        [np.ascontiguousarray(x[:2, :, :2, :3]), w, b],
    )
    rm, rv = tinyconv.tensor(np.zeros(4, np.float32)), tinyconv.tensor(np.ones(4, np.float32))
    trm, trv = torch.zeros(4), torch.ones(4)
    F.instance_norm(tinyconv.tensor(x), rm, rv, momentum=0.3)
    TF.instance_norm(torch.tensor(x), trm, trv, momentum=0.3)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-5, atol=1e-6)
    y = F.instance_norm(tinyconv.tensor(x), rm, rv, use_input_stats=False)
    yt = TF.instance_norm(torch.tensor(x), trm, trv, use_input_stats=False)
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("track", [False, True])
@pytest.mark.parametrize("dims", [1, 2])
def test_instance_norm_modules_match_torch_in_train_and_eval(dims, track):
    shape = (2, 3, 7) if dims == 1 else (2, 3, 4, 5)
    x = RNG.standard_normal(shape).astype(np.float32)
    ours = (nn.InstanceNorm1d if dims == 1 else nn.InstanceNorm2d)(
        3, affine=True, track_running_stats=track
    )
    theirs = (torch.nn.InstanceNorm1d if dims == 1 else torch.nn.InstanceNorm2d)(
        3, affine=True, track_running_stats=track
    )
    for _ in range(2):
        np.testing.assert_allclose(
            ours(tinyconv.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
            rtol=1e-4, atol=1e-5,
        )  # fmt: skip
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(
        ours(tinyconv.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-4, atol=1e-5,
    )  # fmt: skip
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert ours(tinyconv.tensor(x[0])).shape == x[0].shape  # unbatched


def test_modules_state_dicts_and_values_match_torch():
    x = RNG.standard_normal((2, 6, 3, 4)).astype(np.float32)
    pairs = [
        (nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4))),
        (
            nn.LayerNorm(4, elementwise_affine=False),
            torch.nn.LayerNorm(4, elementwise_affine=False),
        ),
        (nn.LayerNorm(4, bias=False), torch.nn.LayerNorm(4, bias=False)),
        (nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6)),
        (nn.GroupNorm(2, 6, affine=False), torch.nn.GroupNorm(2, 6, affine=False)),
        (nn.GroupNorm(2, 6, bias=False), torch.nn.GroupNorm(2, 6, bias=False)),
    ]
    for ours, theirs in pairs:
        assert list(ours.state_dict()) == list(theirs.state_dict()), repr(ours)
        assert repr(ours) == repr(theirs)
        for v in theirs.parameters():
            torch.nn.init.normal_(v)
        ours.load_state_dict(
            {k: tinyconv.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
        )
        np.testing.assert_allclose(
            ours(tinyconv.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
            rtol=1e-4, atol=1e-5,
        )  # fmt: skip
        assert repr(nn.build_module(ours.config())) == repr(ours)


@pytest.mark.parametrize(
    "call,text",
    [
        (lambda x: F.layer_norm(x, (5,)), r"expected an input of shape \(\*, 5\)"),
        (lambda x: F.layer_norm(x, (4,), tinyconv.tensor(np.ones(3))), "expected weight of shape"),
        (lambda x: F.group_norm(x, 3), "do not split into num_groups=3"),
        (lambda x: F.instance_norm(x[0, 0]), "at least one spatial dimension"),
        (lambda x: F.instance_norm(x[:, :, :1, :1]), "more than 1 position"),
        (lambda x: F.instance_norm(x, use_input_stats=False), "expected running_mean"),
        (lambda x: nn.GroupNorm(4, 6), "Expected a divisor of num_channels=6"),
        (lambda x: nn.LayerNorm2d(3)(x), r"expected input \(N, 3, \*\) with 3 channels"),
        (lambda x: nn.InstanceNorm2d(3)(x), r"expected input \(N, 3, H, W\)"),
    ],
)
def test_errors(call, text):
    with pytest.raises(ValueError, match=text):
        call(tinyconv.tensor(np.ones((2, 4, 3, 4), np.float32)))


def test_empty_batch():
    x = tinyconv.tensor(np.zeros((0, 4, 3, 3), np.float32), requires_grad=True)
    w = tinyconv.tensor(np.ones(4, np.float32), requires_grad=True)
    y = F.group_norm(x, 2, w) + F.instance_norm(x) + F.channel_layer_norm(x)
    assert y.shape == (0, 4, 3, 3)
    y.sum().backward()
    assert x.grad.shape == x.shape and w.grad.tolist() == [0, 0, 0, 0]
