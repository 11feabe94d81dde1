"""The 2018-2022 zoo models (MobileNet V2/V3, EfficientNet-B0, ConvNeXt-T, ShuffleNetV2).

Always run: parameter counts and state-dict sizes equal torchvision 0.28's (measured there, at
1000 classes), output shapes at small inputs, one training step, the architecture as JSON.
With torchvision installed (a throwaway venv; it is not a tinyconv dependency): the state-dict
names and shapes are torchvision's, and torchvision's weights loaded through the torch_weights
path give torchvision's outputs within 1e-4 relative, in eval mode, at batch 2.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import tinyconv
import tinyconv.models as models
from tinyconv import nn

# name: (parameters, state-dict entries with BatchNorm counters), from torchvision 0.28.0.
TORCHVISION = {
    "mobilenet_v2": (3_504_872, 314),
    "mobilenet_v3_small": (2_542_856, 244),
    "mobilenet_v3_large": (5_483_032, 312),
    "efficientnet_b0": (5_288_548, 360),
    "shufflenet_v2_x1_0": (2_278_604, 338),
}
# Smallest input each model takes without a map dropping below 1x1 (all stride 32 here).
SMALL = {name: 32 for name in TORCHVISION}


def inputs(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_parameter_count_and_state_dict_size_are_torchvisions(name):
    params, entries = TORCHVISION[name]
    m = models.get(name)
    assert m.num_parameters() == params
    assert len(models.torch_state_dict(m)) == entries  # BatchNorm counters included


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_forward_shapes_at_small_inputs(name):
    m = models.get(name, num_classes=7).eval()
    for size in (SMALL[name], 64):
        with tinyconv.no_grad():
            y = m(tinyconv.tensor(inputs((2, 3, size, size))))
        assert y.shape == (2, 7)
        assert y.dtype == np.float32
        assert np.isfinite(y.numpy()).all()


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_one_training_step_changes_every_parameter(name):
    tinyconv.manual_seed(0)
    m = models.get(name, num_classes=5, in_channels=1)
    before = {k: p.numpy().copy() for k, p in m.named_parameters()}
    opt = tinyconv.optim.SGD(m.parameters(), lr=0.1)
    x = tinyconv.tensor(inputs((4, 1, 64, 64)))
    y = tinyconv.tensor(np.array([0, 1, 2, 3]))
    loss = nn.CrossEntropyLoss()(m(x), y)
    assert np.isfinite(loss.item())
    opt.zero_grad()
    loss.backward()
    missing = [k for k, p in m.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    opt.step()
    unchanged = [k for k, p in m.named_parameters() if np.array_equal(p.numpy(), before[k])]
    assert not unchanged, f"not updated: {unchanged[:5]}"


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_architecture_is_json_and_rebuilds(name):
    m = models.get(name, num_classes=4)
    again = nn.build_module(json.loads(json.dumps(m.config())))
    assert type(again) is type(m)
    again.load_state_dict(m.state_dict())
    x = tinyconv.tensor(inputs((1, 3, 64, 64)))
    with tinyconv.no_grad():
        np.testing.assert_array_equal(again.eval()(x).numpy(), m.eval()(x).numpy())


# ------------------------------------------------------------------ against torchvision
def randomize_torch_norms(tmodel, seed: int = 0) -> None:
    """Non-trivial BatchNorm statistics and norm affines, so that they matter in the check."""
    import torch  # noqa: PLC0415

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in tmodel.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def compare_with_torchvision(name: str, size: int, tmp_path) -> float:
    """Load torchvision's weights into tinyconv's model by name; max relative output difference."""
    tv = pytest.importorskip("torchvision")
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    tmodel = getattr(tv.models, name)().eval()
    randomize_torch_norms(tmodel)
    m = models.get(name).eval()
    theirs = {k: tuple(v.shape) for k, v in tmodel.state_dict().items()}
    mine = {k: tuple(v.shape) for k, v in models.torch_state_dict(m).items()}
    assert sorted(mine) == sorted(theirs)
    counter = "num_batches_tracked"  # a scalar in torch, one element in tinyconv
    assert {k: v for k, v in mine.items() if not k.endswith(counter)} == {
        k: v for k, v in theirs.items() if not k.endswith(counter)
    }
    path = tmp_path / f"{name}.safetensors"
    safetensors_torch.save_file(tmodel.state_dict(), str(path))
    models.load_torch_state_dict(m, path)
    x = inputs((2, 3, size, size))
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    with tinyconv.no_grad():
        got = m(tinyconv.tensor(x)).numpy()
    scale = float(np.abs(expected).max())
    rel = float(np.abs(got - expected).max() / scale)
    print(f"{name} at {size}x{size}: max |tinyconv - torchvision| / max |torchvision| = {rel:.2e}")
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)
    return rel


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_weights_give_torchvisions_outputs(name, tmp_path):
    compare_with_torchvision(name, 64, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_weights_give_torchvisions_outputs_at_224(name, tmp_path):
    compare_with_torchvision(name, 224, tmp_path)
