"""Dense -> Conv (FCN): the converted model computes the same numbers, and slides."""

from __future__ import annotations

import numpy as np
import pytest

import tinyconv
import tinyconv.models as models
from tinyconv import nn
from tinyconv.models import convolutionize


def rand(shape: tuple[int, ...], seed: int = 0) -> tinyconv.Tensor:
    return tinyconv.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def run(model: nn.Module, x: tinyconv.Tensor) -> np.ndarray:
    with tinyconv.no_grad():
        return model.eval()(x).numpy()


def test_simple_convnet_head_becomes_convolutions():
    m = models.simple_convnet()
    fcn = convolutionize(m)
    assert isinstance(m.affine1, nn.Linear), "the original is left alone by default"
    assert isinstance(fcn.flatten, nn.Identity)
    assert isinstance(fcn.affine1, nn.Conv2d) and fcn.affine1.kernel_size == (12, 12)
    assert fcn.affine1.weight.shape == (100, 30, 12, 12)
    assert isinstance(fcn.affine2, nn.Conv2d) and fcn.affine2.kernel_size == (1, 1)
    assert list(fcn._modules) == list(m._modules), "the stages keep their order and names"
    assert fcn.num_parameters() == m.num_parameters()


def test_same_output_on_the_training_size():
    m = models.simple_convnet()
    fcn = convolutionize(m)
    x = rand((3, 1, 28, 28))
    y, y_fcn = run(m, x), run(fcn, x)
    assert y_fcn.shape == (3, 10, 1, 1)
    np.testing.assert_allclose(y_fcn[:, :, 0, 0], y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "size", "big", "stride"), [("simple_convnet", 28, 36, 2), ("lenet5", 32, 44, 4)]
)
def test_larger_input_gives_a_score_map_of_crops(name, size, big, stride):
    m = models.get(name)
    fcn = convolutionize(m)
    x = rand((2, 1, big, big), seed=1)
    scores = run(fcn, x)
    n = (big - size) // stride + 1
    assert scores.shape == (2, 10, n, n)
    # top-left: the original model on the top-left crop
    np.testing.assert_allclose(
        scores[:, :, 0, 0], run(m, x[:, :, :size, :size]), rtol=1e-4, atol=1e-5
    )
    # and any position (i, j): the crop that starts stride*(i, j) pixels in
    i, j = n - 1, 1
    crop = x[:, :, stride * i : stride * i + size, stride * j : stride * j + size]
    np.testing.assert_allclose(scores[:, :, i, j], run(m, crop), rtol=1e-4, atol=1e-5)


def test_global_average_pool_becomes_a_sliding_average():
    m = models.resnet20(num_classes=5)
    fcn = convolutionize(m)
    assert isinstance(fcn.avgpool, nn.AvgPool2d)
    assert isinstance(fcn.fc, nn.Conv2d) and fcn.fc.kernel_size == (1, 1)
    x = rand((2, 3, 32, 32), seed=2)
    np.testing.assert_allclose(run(fcn, x)[:, :, 0, 0], run(m, x), rtol=1e-4, atol=1e-5)
    assert run(fcn, rand((1, 3, 48, 48))).shape == (1, 5, 5, 5)  # 12x12 map, 8x8 window


def test_keras_cifar_cnn_with_dropout_in_the_head():
    m = models.cifar10_cnn()
    fcn = convolutionize(m)
    assert isinstance(fcn.fc1, nn.Conv2d) and fcn.fc1.kernel_size == (7, 7)
    assert isinstance(fcn.dropout, nn.Dropout)
    x = rand((2, 3, 32, 32), seed=3)
    np.testing.assert_allclose(run(fcn, x)[:, :, 0, 0], run(m, x), rtol=1e-4, atol=1e-5)


def test_inplace_and_saved_architecture(tmp_path):
    m = models.lenet5()
    fcn = convolutionize(m, inplace=True)
    assert fcn is m and isinstance(m.f6, nn.Conv2d)
    tinyconv.save(fcn, tmp_path / "fcn.safetensors")
    again = tinyconv.load(tmp_path / "fcn.safetensors")
    assert isinstance(again.f6, nn.Conv2d) and isinstance(again.flatten, nn.Identity)
    x = rand((1, 1, 40, 40))
    np.testing.assert_array_equal(run(again, x), run(fcn, x))


def test_errors():
    with pytest.raises(ValueError, match="calls no nn.Flatten module"):
        convolutionize(nn.Sequential(nn.Conv2d(1, 2, 3)), input_shape=(1, 5, 5))
    with pytest.raises(ValueError, match="no input_shape attribute"):
        convolutionize(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    head = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(18, 4), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match=r"cannot convert 3 = BatchNorm1d"):
        convolutionize(head, input_shape=(1, 5, 5))
