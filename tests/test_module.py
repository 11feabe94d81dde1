"""Module registration, state dicts, modes, config rebuild, summary."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import tinyconv
from tinyconv import nn


class Net(nn.Module):
    def __init__(self, hidden: int = 5):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, hidden), nn.Linear(hidden, 3))
        self.head = nn.Linear(3, 2, bias=False)
        self.register_buffer("steps", tinyconv.tensor(np.zeros(1)))

    def forward(self, x):
        return self.head(self.body(x))


def test_registration_and_names_match_torch_convention():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias", "head.weight"]
    assert list(net.state_dict()) == ["steps"] + names  # torch order: own tensors first
    assert net.num_parameters() == 4 * 5 + 5 + 5 * 3 + 3 + 3 * 2


def test_linear_matches_torch_with_copied_weights():
    tc, tt = nn.Linear(6, 4), torch.nn.Linear(6, 4)
    tc.load_state_dict({k: v.detach().numpy() for k, v in tt.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(
        tc(tinyconv.tensor(x)).numpy(), tt(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_default_linear_init_bounds():
    tinyconv.manual_seed(0)
    lin = nn.Linear(100, 50)
    bound = 1 / np.sqrt(100)
    assert np.abs(lin.weight.numpy()).max() <= bound and np.abs(lin.bias.numpy()).max() <= bound
    assert np.abs(lin.weight.numpy()).std() > bound / 5  # not all zeros


def test_load_state_dict_strict_errors():
    net = Net()
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    sd.pop("head.weight")
    sd["extra"] = np.zeros(1)
    sd["body.0.weight"] = np.zeros((9, 9))
    with pytest.raises(ValueError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    assert 'Missing key(s) in state_dict: "head.weight"' in msg
    assert 'Unexpected key(s) in state_dict: "extra"' in msg
    assert (
        "size mismatch for body.0.weight: copying a param with shape (9, 9) from checkpoint, "
        "the shape in current model is (5, 4)." in msg
    )
    sd2 = {k: v.numpy() for k, v in net.state_dict().items() if k != "head.weight"}
    missing, unexpected = net.load_state_dict(sd2, strict=False)
    assert missing == ["head.weight"] and unexpected == []


def test_train_eval_recurse_and_zero_grad():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(tinyconv.tensor(np.ones((2, 4)))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_repr_shows_hyperparameters():
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"
    assert "(0): Linear(in_features=4, out_features=5)" in repr(Net())


def test_config_rebuilds_and_replaced_child_survives():
    net = nn.Sequential(OrderedDict(fc1=nn.Linear(4, 8), fc2=nn.Linear(8, 2)))
    net.fc2 = nn.Linear(8, 7)  # replaced after construction (fine-tuning a head)
    rebuilt = nn.build_module(net.config())
    assert [n for n, _ in rebuilt.named_parameters()] == [n for n, _ in net.named_parameters()]
    assert rebuilt.fc2.out_features == 7


def test_unknown_class_is_refused():
    cfg = Net().config()
    with pytest.raises(ValueError, match="unknown module class"):
        nn.build_module(cfg)
    assert isinstance(nn.build_module(cfg, custom_objects={"Net": Net}), Net)


def test_linear_errors():
    with pytest.raises(
        ValueError, match=r"invalid value for argument `out_features`.*Received out_features=0"
    ):
        nn.Linear(3, 0)
    with pytest.raises(TypeError, match="Expected an int"):
        nn.Linear(3.5, 2)
    with pytest.raises(
        ValueError, match=r"Linear\(in_features=3, out_features=2\): expected input \(N, 3\)"
    ):
        nn.Linear(3, 2)(tinyconv.tensor(np.zeros((2, 4))))
    with pytest.raises(TypeError, match="floating-point"):
        nn.Linear(3, 2)(tinyconv.tensor(np.zeros((2, 3), dtype=np.uint8)))


def test_summary_linear_stack():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Linear(5, 2))
    s = model.summary((3, 2, 2))
    assert [r.output_shape for r in s.rows] == [(12,), (5,), (2,)]
    assert s.total_params == 12 * 5 + 5 + 5 * 2 + 2 == s.trainable_params
    assert s.activation_bytes == (12 + 5 + 2) * 4
    text = str(s)
    assert "Total params: 77" in text and "Linear" in text
