"""End-to-end parity: SimpleConvNet trained 20 steps with Adam equals PyTorch's run (issue 2)."""

import numpy as np
import torch

import tinyconv
import tinyconv.functional as F
from tests import torch_reference_models as ref
from tinyconv import models, nn, optim


def test_simple_convnet_adam_20_steps_same_losses_as_torch():
    tinyconv.manual_seed(0)
    model = models.simple_convnet()
    twin = ref.simple_convnet()
    twin.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    )
    rng = np.random.default_rng(0)
    # A small synthetic problem: class c has a bright c-th 7x4 stripe plus noise.
    y = rng.integers(0, 10, 200)
    x = rng.random((200, 1, 28, 28), dtype=np.float32) * 0.3
    for i, c in enumerate(y):
        x[i, 0, (c % 4) * 7 : (c % 4) * 7 + 7, (c // 4) * 9 : (c // 4) * 9 + 4] += 1.0
    opt = optim.Adam(model.parameters(), lr=1e-3)
    opt_t = torch.optim.Adam(twin.parameters(), lr=1e-3)
    losses, losses_t = [], []
    for step in range(20):
        sl = slice((step * 50) % 200, (step * 50) % 200 + 50)
        xb, yb = x[sl], y[sl]
        opt.zero_grad()
        loss = F.cross_entropy(model(tinyconv.tensor(xb)), tinyconv.tensor(yb))
        loss.backward()
        opt.step()
        losses.append(loss.item())
        opt_t.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(twin(torch.from_numpy(xb)), torch.from_numpy(yb))
        loss_t.backward()
        opt_t.step()
        losses_t.append(loss_t.item())
    np.testing.assert_allclose(losses, losses_t, atol=1e-4, rtol=0)
    assert losses[-1] < 0.8 * losses[0]  # it really learned (2.30 -> about 1.56)
    for (k, v), vt in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
        np.testing.assert_allclose(v.numpy(), vt.numpy(), atol=2e-4, err_msg=k)


def test_summary_of_the_seeds_mnist_conv_gives_64x14x14():
    conv = nn.Conv2d(1, 64, kernel_size=4, stride=2, padding=1)
    s = nn.Sequential(conv).summary((1, 28, 28))
    assert s.rows[0].output_shape == (64, 14, 14)
    assert s.rows[0].formula_shape == (64, 14, 14)
    assert s.total_params == 64 * 1 * 4 * 4 + 64
    assert "(64, 14, 14)" in str(s)


def test_summary_shapes_equal_forward_on_simple_convnet():
    model = models.simple_convnet()
    s = model.summary((1, 28, 28))
    shapes = [r.output_shape for r in s.rows]
    assert shapes == [(30, 24, 24), (30, 24, 24), (30, 12, 12), (4320,), (100,), (100,), (10,)]
    assert (
        s.total_params == model.num_parameters() == 30 * 25 + 30 + 4320 * 100 + 100 + 100 * 10 + 10
    )
    assert s.activation_bytes == 4 * sum(int(np.prod(t)) for t in shapes)
