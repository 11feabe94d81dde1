"""tinyconv.viz and `tinyconv viz`: every picture has its tiles, its numbers and real content.

Headless (Agg canvas, no pyplot). The pictures' numbers are checked against independent
computations: the seeds' 5x5 diagonal-filter example, Grad-CAM against PyTorch autograd,
bilinear resizing against torch.nn.functional.interpolate, neighbour correlation against
numpy.corrcoef, feature maps against F.conv2d.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tinyconv  # noqa: E402
import tinyconv.functional as F  # noqa: E402
from tinyconv import models, nn  # noqa: E402
from tinyconv.cli import main  # noqa: E402
from tinyconv.train import History  # noqa: E402
from tinyconv.viz import (  # noqa: E402
    KERNELS,
    apply_kernel,
    arithmetic_text,
    feature_maps,
    filter_tiles,
    find_mistakes,
    grad_cam,
    neighbour_correlation,
    plot_confusion,
    plot_conv_arithmetic,
    plot_curves,
    plot_feature_maps,
    plot_filter_comparison,
    plot_filters,
    plot_grad_cam,
    plot_kernels,
    plot_mistakes,
    resize_bilinear,
    shapes_image,
)

ROOT = Path(__file__).resolve().parents[1]

try:
    import matplotlib  # noqa: F401

    HAS_MPL = True
except ImportError:
    HAS_MPL = False
needs_mpl = pytest.mark.skipif(
    not HAS_MPL, reason="matplotlib is not installed (pip install 'tinyconv[viz]')"
)

SEED_IMAGE = np.array(
    [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]],
    dtype=np.float32,
)


# ----------------------------------------------------------------------------- helpers
def tile_arrays(fig):
    """The image array of every axes that shows one (the figure's tiles)."""
    return [np.asarray(ax.images[0].get_array(), dtype=np.float64) for ax in fig.axes if ax.images]


def assert_real_content(fig, min_std=1e-3, fraction=1.0):
    """At least ``fraction`` of the tiles vary (pixel std > min_std); none is NaN."""
    tiles = tile_arrays(fig)
    assert tiles, "the figure shows no image"
    for t in tiles:
        assert np.isfinite(t).all()
    varied = sum(t.std() > min_std for t in tiles)
    assert varied >= fraction * len(tiles), f"{varied} of {len(tiles)} tiles vary"


def png_pixels(path):
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float64)


def run_main(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """`tinyconv train` for 4 steps on 200 images of the embedded sample: model + history."""
    out = tmp_path_factory.mktemp("run")
    argv = ["train", "--data", "mnist-sample", "--limit", "200", "--epochs", "2"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    return out


def tiny_cnn(seed=0):
    tinyconv.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 3),
    )


# ------------------------------------------------------------------- neighbour correlation
def test_neighbour_correlation_matches_corrcoef_and_known_patterns():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(7, 2, 5, 5))
    per = neighbour_correlation(w, reduce=False)
    assert per.shape == (7, 2)
    for f in range(7):
        for c in range(2):
            k = w[f, c]
            a = np.concatenate([k[:, :-1].ravel(), k[:-1, :].ravel()])
            b = np.concatenate([k[:, 1:].ravel(), k[1:, :].ravel()])
            assert per[f, c] == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    assert neighbour_correlation(w) == pytest.approx(per.mean())
    checker = (-1.0) ** np.add.outer(np.arange(5), np.arange(5))
    assert neighbour_correlation(checker[None, None]) == pytest.approx(-1.0)
    yy, xx = np.mgrid[0:5, 0:5]
    blob = np.exp(-((yy - 2) ** 2 + (xx - 2) ** 2) / 4.0)[None, None]
    assert neighbour_correlation(blob) > 0.4
    # 1000 random 5x5 kernels: r is about -1/24 (centring), nowhere near a smooth filter
    assert neighbour_correlation(rng.normal(size=(1000, 1, 5, 5))) == pytest.approx(-0.04, abs=0.02)


def test_filter_smoothness_script_fast_version():
    """The seeds' claim on a short run: 20 Adam steps already make conv1 smoother."""
    spec = importlib.util.spec_from_file_location(
        "filter_smoothness", ROOT / "scripts" / "filter_smoothness.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    res = script.train_and_measure("mnist-sample", steps=20, batch_size=50, test_images=0)
    assert res["steps"] == 20
    assert abs(res["before"]) < 0.1  # random N(0, 0.01^2) filters
    assert res["after"] > res["before"] + 0.15
    assert res["positive_after"] > res["positive_before"]


# --------------------------------------------------------------------------------- filters
def test_filter_tiles_are_scaled_per_filter():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(5, 1, 3, 3)) * np.arange(1, 6)[:, None, None, None]
    tiles, what = filter_tiles(w)
    assert what == "grey" and tiles.shape == (5, 3, 3)
    assert np.allclose(tiles.min(axis=(1, 2)), 0) and np.allclose(tiles.max(axis=(1, 2)), 1)
    rgb, what = filter_tiles(rng.normal(size=(4, 3, 3, 3)))
    assert what == "RGB" and rgb.shape == (4, 3, 3, 3)
    assert np.allclose(rgb.reshape(4, -1).min(axis=1), 0)
    assert np.allclose(rgb.reshape(4, -1).max(axis=1), 1)
    _, what = filter_tiles(rng.normal(size=(2, 8, 3, 3)), channel=5)
    assert what == "input channel 5 of 8"
    with pytest.raises(ValueError, match=r"channel must be in \[0, 7\]"):
        filter_tiles(rng.normal(size=(2, 8, 3, 3)), channel=8)


@needs_mpl
def test_plot_filters_grey_and_rgb_tiles(tmp_path):
    tinyconv.manual_seed(0)
    model = models.get("simple_convnet")
    fig = plot_filters(model)
    tiles = tile_arrays(fig)
    assert len(fig.axes) == len(tiles) == 30
    assert all(t.shape == (5, 5) for t in tiles)
    w = model.conv1.weight.numpy()
    assert np.allclose(tiles[7], (w[7, 0] - w[7, 0].min()) / np.ptp(w[7, 0]))
    assert_real_content(fig, min_std=0.1)
    assert "conv1" in fig._suptitle.get_text() and "(30, 1, 5, 5)" in fig._suptitle.get_text()
    path = tmp_path / "f.png"
    fig.savefig(path)
    px = png_pixels(path)
    size = np.array([fig.get_figheight(), fig.get_figwidth()]) * 100
    assert np.abs(np.array(px.shape[:2]) - size).max() <= 1
    assert px.std() > 20
    rgb = plot_filters(nn.Conv2d(3, 8, 3))
    assert [t.shape for t in tile_arrays(rgb)] == [(3, 3, 3)] * 8
    few = plot_filters(model, max_filters=12)
    assert len(few.axes) == 12 and "first 12 of 30" in few._suptitle.get_text()


@needs_mpl
def test_filters_layer_by_name_or_index_and_errors():
    model = models.get("mnist_cnn")
    assert plot_filters(model, layer="conv2").axes[0].images[0].get_array().shape == (5, 5)
    fig = plot_filters(model, layer=1, max_filters=3)
    assert "conv2" in fig._suptitle.get_text() and "(64, 32, 5, 5)" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match=r"no layer named 'conv9'; conv layers: 0=conv1, 1=conv2"):
        plot_filters(model, layer="conv9")
    with pytest.raises(ValueError, match=r"'pool1' is not a conv layer"):
        plot_filters(model, layer="pool1")
    with pytest.raises(ValueError, match=r"has 2 conv layers, no index 5"):
        plot_filters(model, layer=5)
    with pytest.raises(ValueError, match="has no conv layer"):
        plot_filters(nn.Sequential(nn.Linear(2, 2)))


@needs_mpl
def test_filter_comparison_side_by_side():
    tinyconv.manual_seed(0)
    before = models.get("simple_convnet")
    after = models.get("simple_convnet")
    smooth = np.ones((30, 1, 5, 5), np.float32) * np.linspace(-1, 1, 5, dtype=np.float32)
    after.conv1.weight.data = smooth + 0.05 * before.conv1.weight.numpy()
    fig = plot_filter_comparison(before, after)
    assert len(tile_arrays(fig)) == 60
    assert_real_content(fig, min_std=0.1)
    titles = [sf._suptitle.get_text() for sf in fig.subfigs]
    r_before = neighbour_correlation(before.conv1.weight)
    assert f"{r_before:.3f}" in titles[0]
    assert f"{neighbour_correlation(after.conv1.weight):.3f}" in titles[1]
    with pytest.raises(ValueError, match="different shapes"):
        plot_filter_comparison(before, models.get("mnist_cnn"))


# ---------------------------------------------------------------------------- feature maps
def test_feature_maps_values_shapes_and_hooks_removed():
    tinyconv.manual_seed(0)
    model = models.get("simple_convnet")
    model.train()
    x = np.random.default_rng(0).random((1, 28, 28)).astype(np.float32)
    found = feature_maps(model, x, activations=True)
    assert [(m.name, m.shape) for m in found] == [
        ("conv1", (30, 24, 24)),
        ("relu1", (30, 24, 24)),
        ("pool1", (30, 12, 12)),
    ]
    conv = F.conv2d(tinyconv.tensor(x[None]), model.conv1.weight, model.conv1.bias).numpy()[0]
    np.testing.assert_allclose(found[0].maps, conv, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(found[1].maps, np.maximum(conv, 0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        found[2].maps,
        np.maximum(conv, 0).reshape(30, 12, 2, 12, 2).max((2, 4)),
        rtol=1e-6,
        atol=1e-7,
    )
    assert model.training and all(not m._forward_hooks for m in model.modules())
    deeper = feature_maps(models.get("mnist_cnn"), np.zeros((1, 1, 28, 28), np.float32))
    assert [m.shape for m in deeper] == [(32, 28, 28), (32, 14, 14), (64, 14, 14), (64, 7, 7)]
    with pytest.raises(ValueError, match="no conv/pool layer named 'relu1'"):
        feature_maps(model, x, layers=["relu1"])


@needs_mpl
def test_plot_feature_maps_rows_to_scale():
    from tinyconv.data import load

    images, _ = load("mnist-sample", "test")
    tinyconv.manual_seed(0)
    model = models.get("simple_convnet")
    x = images[0].astype(np.float32) / 255
    fig = plot_feature_maps(model, x, activations=True, input_image=images[0])
    tiles = tile_arrays(fig)
    assert len(tiles) == 1 + 30 * 3
    assert tiles[0].shape == (28, 28) and tiles[1].shape == (24, 24) and tiles[-1].shape == (12, 12)
    assert_real_content(fig, min_std=1e-4, fraction=0.8)
    conv_w = fig.axes[1].get_position().width
    pool_w = fig.axes[-1].get_position().width
    assert conv_w / pool_w == pytest.approx(2.0, rel=1e-6)  # 24 vs 12: drawn to scale
    labels = " ".join(t.get_text() for t in fig.texts)
    for shape in ("(30, 24, 24)", "(30, 12, 12)"):
        assert shape in labels
    assert "relu1" in labels and "pool1" in labels
    few = plot_feature_maps(models.get("mnist_cnn"), np.ones((1, 28, 28), np.float32), max_maps=8)
    assert len(few.axes) == 1 + 4 * 8
    assert "64 maps of 7x7, first 8 shown" in " ".join(t.get_text() for t in few.texts)


# ------------------------------------------------------------------------------- kernels
def test_diagonal_kernel_gives_the_seeds_numbers():
    conv, relu, pooled = apply_kernel(SEED_IMAGE, KERNELS["diagonal"], padding=0, pool=1)
    assert conv.tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    img = shapes_image(64)
    conv, relu, pooled = apply_kernel(img, KERNELS["edge"])
    assert conv.shape == relu.shape == (64, 64) and pooled.shape == (32, 32)
    assert relu.min() == 0 and np.allclose(relu, np.maximum(conv, 0))
    np.testing.assert_allclose(pooled, relu.reshape(32, 2, 32, 2).max(axis=(1, 3)))
    # the zero-mean diagonal kernel answers most on the one-pixel X (lower right)
    _, relu, _ = apply_kernel(img, KERNELS["diagonal zero-mean"])
    i, j = np.unravel_index(relu.argmax(), relu.shape)
    assert i >= 0.55 * 64 and j >= 0.55 * 64


@needs_mpl
def test_plot_kernels_tiles():
    fig = plot_kernels(kernels=["edge", "sharpen", "blur", "diagonal"])
    assert len(fig.axes) == 1 + 4 * 4
    maps = [t for t in tile_arrays(fig) if t.shape != (3, 3)]  # the blur kernel itself is flat
    assert len(maps) == 1 + 3 * 4 and all(t.std() > 1e-3 for t in maps)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "input 64x64" and "diagonal 3x3" in titles
    assert "ReLU + max pool 2x2 32x32" in titles
    assert tile_arrays(fig)[1].tolist() == KERNELS["edge"].tolist()
    custom = plot_kernels(SEED_IMAGE[None], {"seed": KERNELS["diagonal"]}, padding=0, pool=1)
    assert tile_arrays(custom)[2].tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    with pytest.raises(ValueError, match="unknown kernel 'emboss'"):
        plot_kernels(kernels=["emboss"])


# -------------------------------------------------------------------------------- curves
@needs_mpl
def test_plot_curves_from_history_and_files(tmp_path):
    h = History()
    for e, (loss, acc, vl, va) in enumerate([(0.9, 0.7, 0.6, 0.8), (0.4, 0.88, 0.5, 0.85)], 1):
        h.append(epoch=e, loss=loss, acc=acc, val_loss=vl, val_acc=va, lr=0.001, time=1.0)
    fig = plot_curves(h)
    loss_ax, acc_ax = fig.axes
    assert [line.get_ydata().tolist() for line in loss_ax.lines[:2]] == [[0.9, 0.4], [0.6, 0.5]]
    assert acc_ax.lines[1].get_ydata().tolist() == pytest.approx([80.0, 85.0])
    assert "best validation accuracy 85.00% (epoch 2)" in fig._suptitle.get_text()
    h.to_json(tmp_path / "history.json")
    assert plot_curves(tmp_path).axes[0].lines[0].get_ydata().tolist() == [0.9, 0.4]
    h.to_csv(tmp_path / "h.csv")
    acc = plot_curves(tmp_path / "h.csv").axes[1].lines[0].get_ydata().tolist()
    assert acc == pytest.approx([70.0, 88.0])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no history.json or history.csv"):
        plot_curves(tmp_path / "empty")
    (tmp_path / "bad.json").write_text('{"history": {}}')
    with pytest.raises(ValueError, match="the history has no epochs"):
        plot_curves(tmp_path / "bad.json")


# ----------------------------------------------------------------- confusion and mistakes
@needs_mpl
def test_plot_confusion_colours_are_row_fractions_and_texts_are_counts():
    cm = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 6]])
    fig = plot_confusion(cm, ["cat", "dog", "owl"])
    frac = tile_arrays(fig)[0]
    np.testing.assert_allclose(frac, cm / cm.sum(axis=1, keepdims=True))
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == sorted(["8", "2", "1", "3", "6"])
    assert ax.get_title() == "accuracy 85.00% (17 of 20 images)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "owl"]
    with pytest.raises(ValueError, match="must be square"):
        plot_confusion(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 class names for a 3x3"):
        plot_confusion(cm, ["a", "b"])


@needs_mpl
def test_find_and_plot_mistakes_most_confident_first():
    # a "model" that reads its logits from the two pixels of a 1x1x2 image
    model = nn.Sequential(nn.Flatten())
    logits = np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 4.0], [2.0, 0.0], [0.0, 0.5]])
    images = logits.reshape(5, 1, 1, 2).astype(np.float32)
    labels = np.array([0, 0, 0, 1, 1])
    found = find_mistakes(model, images, labels)
    assert found["index"].tolist() == [2, 3, 1]  # wrong ones by decreasing confidence
    assert found["pred"].tolist() == [1, 0, 1] and found["true"].tolist() == [0, 1, 0]
    p = 1 / (1 + np.exp(-4.0))
    assert found["confidence"][0] == pytest.approx(p) and found["true_prob"][0] == pytest.approx(
        1 - p
    )
    pics = np.random.default_rng(0).integers(0, 256, (5, 1, 8, 8), dtype=np.uint8)
    fig = plot_mistakes(pics, found, ["zero", "one"])
    assert len(fig.axes) == 3
    assert fig.axes[0].get_title() == f"true zero\npred one ({100 * p:.0f}%)"
    np.testing.assert_allclose(tile_arrays(fig)[0], pics[2, 0] / 255.0)
    assert "3 mistakes among 5 images" in fig._suptitle.get_text()
    none = find_mistakes(model, images[:1], labels[:1])
    assert (
        plot_mistakes(images[:1], none).axes[0].texts[0].get_text() == "no mistakes among 1 images"
    )


# ------------------------------------------------------------------------------- Grad-CAM
def test_resize_bilinear_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).random((5, 7))
    for h, w in [(28, 28), (9, 3), (5, 7), (12, 20)]:
        ref = torch.nn.functional.interpolate(
            torch.tensor(a)[None, None], size=(h, w), mode="bilinear", align_corners=False
        )[0, 0].numpy()
        np.testing.assert_allclose(resize_bilinear(a, h, w), ref, atol=1e-12)


def test_grad_cam_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    model = tiny_cnn()
    x = np.random.default_rng(2).normal(size=(1, 1, 8, 8)).astype(np.float32)
    conv1, conv2, lin = model[0], model[2], model[5]
    tw = {k: torch.tensor(v.numpy().astype(np.float64)) for k, v in model.state_dict().items()}
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    a = torch.relu(
        torch.nn.functional.conv2d(
            torch.relu(torch.nn.functional.conv2d(xt, tw["0.weight"], tw["0.bias"])),
            tw["2.weight"],
            tw["2.bias"],
        )
    )
    a.retain_grad()
    logits = a.flatten(1) @ tw["5.weight"].T + tw["5.bias"]
    for target in range(3):
        a.grad = None
        logits[0, target].backward(retain_graph=True)
        alpha = a.grad.mean(dim=(2, 3))[0]
        ref = torch.relu((alpha[:, None, None] * a[0]).sum(0)).detach().numpy()
        res = grad_cam(model, x, target=target)  # default: the ReLU after the last conv
        assert res.layer == "3" and res.layer_shape == (6, 4, 4)
        np.testing.assert_allclose(res.raw, ref, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(res.weights, alpha.numpy(), rtol=1e-4, atol=1e-7)
        assert res.cam.shape == (8, 8) and res.cam.max() in (0.0, pytest.approx(1.0))
    np.testing.assert_allclose(res.probs, torch.softmax(logits[0], 0).detach().numpy(), rtol=1e-5)
    # the model is left as it was: parameters still trainable, no gradient written
    assert all(p.requires_grad and p.grad is None for p in (conv1.weight, conv2.weight, lin.weight))
    assert not any(m._forward_hooks for m in model.modules())
    assert grad_cam(model, x, layer="2").layer == "2"  # the conv itself, by name
    with pytest.raises(ValueError, match="class 3 out of range: the model has 3 classes"):
        grad_cam(model, x, target=3)
    with pytest.raises(ValueError, match="not feature maps"):
        grad_cam(model, x, layer="4")


def test_grad_cam_finds_the_evidence():
    """Class 0 is 'bright somewhere': its CAM peaks on the bright blob; class 1's is empty."""
    model = nn.Sequential(
        nn.Conv2d(1, 1, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1, 2)
    )
    model[0].weight.data[...] = 1.0
    model[0].bias.data[...] = 0.0
    model[4].weight.data[...] = np.array([[1.0], [-1.0]], np.float32)
    model[4].bias.data[...] = 0.0
    x = np.zeros((1, 12, 12), np.float32)
    x[0, 2:5, 7:10] = 1.0
    res = grad_cam(model, x, target=0)
    assert res.target == 0 and res.cam[3, 8] == 1.0 and res.cam[9, 2] == 0.0
    assert grad_cam(model, x, target=1).cam.max() == 0.0


@needs_mpl
def test_plot_grad_cam_tiles():
    model = tiny_cnn()
    x = np.random.default_rng(3).normal(size=(1, 8, 8)).astype(np.float32)
    fig = plot_grad_cam(model, x, targets=[0, 2], classes=["a", "b", "c"])
    assert len(fig.axes) == 6
    assert "Grad-CAM of class c" in fig.axes[4].get_title()
    assert tile_arrays(fig)[1].shape == (8, 8)
    assert_real_content(fig, min_std=1e-3, fraction=0.5)


# ----------------------------------------------------------------------- conv arithmetic
def test_arithmetic_text_uses_the_layers_formula():
    assert arithmetic_text(28, 4, stride=2, padding=1).endswith("(28 - 4 + 2*1)/2 + 1 = 14")
    assert arithmetic_text(5, 3).endswith("(5 - 3 + 2*0)/1 + 1 = 3")  # the seeds' 5x5 example
    assert arithmetic_text(32, 3, stride=2).endswith("floor(14.5) + 1 = 15")
    dil = arithmetic_text(7, 3, dilation=3)
    assert "F_eff = d*(F - 1) + 1 = 3*(3 - 1) + 1 = 7" in dil and dil.endswith("= 1")
    with pytest.raises(ValueError, match=r"\(3 - 5 \+ 2\*0\)/1 \+ 1"):
        arithmetic_text(3, 5)


@needs_mpl
def test_plot_conv_arithmetic_grid_and_receptive_field():
    from matplotlib.patches import Rectangle

    fig = plot_conv_arithmetic(5, 3, stride=2, padding=1, output=(1, 1))
    ax_in, ax_out = fig.axes
    cells = [p for p in ax_in.patches if isinstance(p, Rectangle) and p.get_fill()]
    assert len(cells) == 7 * 7
    orange = {
        (int(p.get_y()), int(p.get_x()))
        for p in cells
        if p.get_facecolor()[:3] != (1, 1, 1)
        and p.get_facecolor()[0] > 0.9
        and p.get_facecolor()[2] < 0.5
    }
    assert orange == {(r, c) for r in range(2, 5) for c in range(2, 5)}  # window at (1*2, 1*2)
    grey = [p for p in cells if np.allclose(p.get_facecolor()[:3], 0xD9 / 255)]
    assert len(grey) == 7 * 7 - 5 * 5  # the padding ring
    assert len([p for p in ax_out.patches if p.get_fill()]) == 3 * 3
    assert "= (5 - 3 + 2*1)/2 + 1 = 3" in fig._suptitle.get_text()
    dil = plot_conv_arithmetic(7, 3, dilation=2)
    taps = [p for p in dil.axes[0].patches if p.get_fill() and p.get_facecolor()[2] < 0.5]
    assert {(int(p.get_y()), int(p.get_x())) for p in taps} == {
        (r, c) for r in (0, 2, 4) for c in (0, 2, 4)
    }
    rgba = tinyconv.viz.render(fig)
    assert rgba.shape[2] == 4 and rgba[..., :3].std() > 20
    with pytest.raises(ValueError, match=r"output cell \(3, 0\) is outside the 3x3 output"):
        plot_conv_arithmetic(5, 3, stride=2, padding=1, output=(3, 0))
    with pytest.raises(ValueError, match="too many to draw"):
        plot_conv_arithmetic(100, 3)
    with pytest.raises(ValueError, match="stride must be an integer >= 1"):
        plot_conv_arithmetic(5, 3, stride=0)


# ------------------------------------------------------------------------------------ CLI
@needs_mpl
@pytest.mark.parametrize(
    "args, tiles",
    [
        (["filters", "{model}"], 30),
        (["filters", "--compare", "simple_convnet", "{model}", "--max-filters", "10"], 20),
        (["features", "{model}", "--index", "2", "--relu"], 91),
        (["kernels", "--kernels", "edge,diagonal", "--kernel", "0,1,0;1,-4,1;0,1,0"], 13),
        (["kernels", "--data", "mnist-sample", "--index", "1", "--kernels", "blur"], 5),
        (["curves", "{run}"], 0),
        (["confusion", "{model}", "--limit", "100"], 1),
        (["mistakes", "{model}", "--limit", "100", "--max-images", "6"], 6),
        (["saliency", "{model}", "--index", "1", "--class", "1,7"], 6),
        (
            ["arithmetic", "--input-size", "6", "--kernel", "3", "--stride", "2", "--padding", "1"],
            0,
        ),
    ],
)
def test_cli_pictures_write_pngs(args, tiles, run_dir, tmp_path, capsys, monkeypatch):
    import tinyconv.viz._figure as figure_module

    drawn = []
    real_save = figure_module.save_png
    monkeypatch.setattr(
        figure_module,
        "save_png",
        lambda fig, path, dpi=None: drawn.append(fig) or real_save(fig, path, dpi),
    )
    out = tmp_path / "pic.png"
    argv = [
        "viz",
        *[a.format(model=run_dir / "model.safetensors", run=run_dir) for a in args],
        "-o",
        str(out),
        "--dpi",
        "60",
    ]
    code, stdout, err = run_main(argv, capsys)
    assert code == 0, err
    assert stdout.startswith(f"Saved {out}: ") and err == ""
    px = png_pixels(out)
    fig = drawn[0]
    size = np.array([fig.get_figheight(), fig.get_figwidth()]) * 60
    assert np.abs(np.array(px.shape[:2]) - size).max() <= 1
    assert px.std() > 10
    if tiles:
        assert len(tile_arrays(fig)) == tiles
        assert_real_content(fig, min_std=1e-4, fraction=0.5)


@needs_mpl
@pytest.mark.parametrize(
    "args, message",
    [
        (["viz"], "choose a picture: filters, features"),
        (["viz", "filters", "nope.safetensors"], "model file not found: nope.safetensors"),
        (["viz", "filters", "simple_convnet", "--layer", "conv7"], "no layer named 'conv7'"),
        (["viz", "filters"], "give a MODEL, or --compare BEFORE AFTER"),
        (["viz", "features", "resnet9"], "unknown model 'resnet9'"),
        (["viz", "features", "simple_convnet", "--data", "cifar10-nope"], "cifar10-nope"),
        (
            ["viz", "features", "simple_convnet", "--index", "20000"],
            "--index 20000 is out of range",
        ),
        (["viz", "features", "resnet18"], "(1, 28, 28) but the model expects (3, 224, 224)"),
        (["viz", "kernels", "--kernels", "emboss"], "unknown kernel 'emboss'"),
        (["viz", "kernels", "--kernel", "1,2;3"], "is not a rectangle"),
        (["viz", "curves", "no/such/run"], "history file not found"),
        (["viz", "arithmetic", "--input-size", "3", "--kernel", "5"], "(3 - 5 + 2*0)/1 + 1"),
        (["viz", "arithmetic", "--stride", "0"], "expected a positive integer, got '0'"),
        (["viz", "saliency", "simple_convnet", "--class", "12"], "class 12 out of range"),
        (["viz", "filters", "simple_convnet", "-o", "f.jpg"], "output file must end in .png"),
    ],
)
def test_cli_errors_are_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(args, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.png"))


def test_cli_without_matplotlib_says_how_to_install(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, _, err = run_main(["viz", "arithmetic"], capsys)
    assert code == 2
    assert err.strip() == (
        "tinyconv viz: error: matplotlib is not installed: pip install 'tinyconv[viz]'"
    )
    code, out, _ = run_main(["viz", "filters", "--help"], capsys)  # help needs no matplotlib
    assert code == 0 and "--compare BEFORE AFTER" in out


@pytest.mark.parametrize(
    "picture",
    ["filters", "features", "kernels", "curves", "confusion", "mistakes", "saliency", "arithmetic"],
)
def test_cli_help(picture, capsys):
    code, out, _ = run_main(["viz", picture, "--help"], capsys)
    assert code == 0 and f"usage: tinyconv viz {picture}" in out and "--out" in out


@needs_mpl
def test_drawing_never_imports_pyplot():
    code = (
        "import sys, tinyconv.viz as v, tinyconv.models as m\n"
        "v.plot_filters(m.get('simple_convnet')); v.plot_conv_arithmetic(5, 3)\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(env, PYTHONPATH=str(ROOT)),
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
