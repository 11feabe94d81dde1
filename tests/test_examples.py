"""Each example in examples/ runs end to end (``--smoke``: a few hundred images) and writes its files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "segmentation": (["masks.png", "fcn.safetensors", "unet.safetensors"], ["fcn", "unet", "best"]),
    "detection": (["boxes.png", "centernet.safetensors"], ["sliding_window", "centernet"]),
    "autoencoder": (
        ["reconstructions.png"],
        ["test_bce_nats_per_image", "softmax_regression_accuracy"],
    ),
    "vae": (["samples.png", "interpolation.png"], ["test_neg_elbo_nats_per_image"]),
    "gan": (["samples.png", "generator.safetensors"], ["confident_fraction", "class_entropy_nats"]),
}


def smoke(name: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), "--smoke", "--quiet"]
        + ["--out", str(out), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=out.parent,
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_smoke_run(name, tmp_path):
    out = tmp_path / name
    r = smoke(name, out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "machine:" in r.stdout  # the run states where it ran
    files, keys = EXAMPLES[name]
    for f in files:
        assert (out / f).stat().st_size > 1000, f
    results = json.loads((out / "results.json").read_text())
    for k in keys:
        assert k in results, k


@pytest.mark.slow
@pytest.mark.parametrize(("code", "categories"), [("labels", 10), ("learned", 10), ("none", 0)])
def test_gan_smoke_run_with_each_code(code, categories, tmp_path):
    """AC-GAN (the default), InfoGAN and the plain DCGAN train, save and judge again."""
    out = tmp_path / "gan"
    r = smoke("gan", out, "--code", code)
    assert r.returncode == 0, r.stdout + r.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["code"] == code and results["categories"] == categories
    assert results["labels"] == (code == "labels")
    assert ("by_code" in results) == (categories > 0)
    if categories:
        assert 0 <= results["by_code"]["agreement"] <= 1
        assert len(results["by_code"]["top_digit_share"]) == categories
    import tinyconv  # noqa: PLC0415

    gen = tinyconv.load(out / "generator.safetensors")
    assert gen.categories == categories and gen.code_size == 64 + categories
    again = smoke("gan", out, "--judge-only")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads((out / "results.json").read_text())["code"] == code


def test_gan_learning_rate_schedule():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from gan import lr_scale
    finally:
        sys.path.remove(str(ROOT / "examples"))
    # 10 epochs, decay from epoch 6: full rate through epoch 5, then linear over 5 epochs to 0
    assert lr_scale(1, 0.0, 6, 10) == 1.0
    assert lr_scale(5, 0.99, 6, 10) == 1.0
    assert lr_scale(6, 0.0, 6, 10) == pytest.approx(1.0)
    assert lr_scale(6, 0.5, 6, 10) == pytest.approx(0.9)
    assert lr_scale(8, 0.5, 6, 10) == pytest.approx(0.5)
    assert lr_scale(10, 0.5, 6, 10) == pytest.approx(0.1)
    assert lr_scale(10, 1.0, 6, 10) == pytest.approx(0.0)
