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


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_smoke_run(name, tmp_path):
    out = tmp_path / name
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / f"{name}.py"),
            "--smoke",
            "--quiet",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "machine:" in r.stdout  # the run states where it ran
    files, keys = EXAMPLES[name]
    for f in files:
        assert (out / f).stat().st_size > 1000, f
    results = json.loads((out / "results.json").read_text())
    for k in keys:
        assert k in results, k
