"""The tinyconv command: help, one-line errors, and train -> evaluate -> predict end to end."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinyconv
import tinyconv.train
from tinyconv import data, models
from tinyconv.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_main(argv, capsys):
    """Call the CLI in-process; returns (exit status, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as e:  # argparse: --help, usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(args, env=None, cwd=None, timeout=300):
    env = dict(os.environ if env is None else env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "tinyconv", *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def model_file(tmp_path):
    tinyconv.manual_seed(0)
    path = tmp_path / "m.safetensors"
    meta = {
        "classes": [str(i) for i in range(10)],
        "mean": [0.1307],
        "std": [0.3081],
        "input_shape": [1, 28, 28],
        "dataset": "mnist-sample",
    }
    tinyconv.save(models.get("simple_convnet"), path, metadata=meta)
    return path


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["predict"], ["summary"]])
def test_every_command_has_help(command, capsys):
    code, out, err = run_main([*command, "--help"], capsys)
    assert code == 0
    assert out.startswith("usage: tinyconv")
    assert "--help" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "choose a command"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["evaluate", "missing.safetensors"], "model file not found: missing.safetensors"),
        (["predict", "{model}", "missing.png"], "image file not found: missing.png"),
        (["predict", "{model}", "{model}"], "cannot read the image"),
        (["train", "--model", "nosuch", "--data", "mnist-sample"], "unknown model 'nosuch'"),
        (["train", "--model", "absent.safetensors"], "model file not found: absent.safetensors"),
        (["train", "--data", "nosuch"], "unknown dataset 'nosuch'"),
        (["train", "--epochs", "-1"], "argument --epochs: expected a positive integer, got '-1'"),
        (["train", "--batch-size", "ten"], "argument --batch-size: expected a positive integer"),
        (["train", "--lr", "abc"], "argument --lr: expected a positive number, got 'abc'"),
        (
            ["train", "--optimizer", "adamm", "--data", "mnist-sample", "--limit", "10"],
            "unknown optimizer 'adamm'",
        ),
        (["train", "--resume", "nowhere"], "cannot resume: nowhere/run.json not found"),
        (["train", "--resume", "{tmp}", "--lr", "0.1"], "only --epochs may be changed"),
        (["summary", "nosuch"], "unknown model 'nosuch'"),
        (["summary", "simple_convnet", "--input-shape", "1,x"], "expected C,H,W"),
        (["summary", "simple_convnet", "--input-shape", "1,4,4"], "input_size=4 is too small"),
    ],
)
def test_user_mistakes_print_one_line_and_exit_nonzero(
    argv, expected, capsys, tmp_path, model_file
):
    (tmp_path / "run.json").write_text("{}")
    argv = [a.replace("{model}", str(model_file)).replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = run_main(argv, capsys)
    assert code not in (0, None)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert lines[0].startswith("tinyconv")
    assert "Traceback" not in err + out


def test_real_process_error_has_no_traceback(tmp_path):
    r = run_cli(["evaluate", str(tmp_path / "none.safetensors")], timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert "model file not found" in r.stderr


def test_damaged_model_file_is_one_line(tmp_path, capsys, model_file):
    raw = bytearray(model_file.read_bytes())
    raw[-5] ^= 0xFF
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(raw))
    code, _, err = run_main(["evaluate", str(bad)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "checksum" in err


def test_summary_prints_the_table(capsys):
    code, out, _ = run_main(["summary", "simple_convnet"], capsys)
    assert code == 0
    assert "conv1 (Conv2d)" in out and "(30, 24, 24)" in out
    assert "Total params: 433,890" in out


def test_summary_of_a_model_with_another_input_shape(capsys):
    code, out, _ = run_main(["summary", "cifar10_cnn", "--input-shape", "1,28,28"], capsys)
    assert code == 0
    assert "(128, 6, 6)" in out  # 28 -> pool 13 -> pool 6


def test_diverging_training_exits_3_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TINYCONV_DATA", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    argv = [
        "train",
        "--data",
        "mnist-sample",
        "--limit",
        "200",
        "--epochs",
        "1",
        "--optimizer",
        "sgd",
        "--lr",
        "1e30",
        "--quiet",
        "--out",
        "run",
    ]
    code, out, err = run_main(argv, capsys)
    assert code == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "training diverged" in lines[0]
    assert str(Path("run") / "checkpoints" / "epoch-0000") in lines[0]
    assert not (tmp_path / "run" / "model.safetensors").exists()


def _digit_png(path, image, invert):
    from PIL import Image

    pixels = 255 - image[0] if invert else image[0]
    Image.fromarray(pixels.astype(np.uint8), mode="L").resize((56, 56)).save(path)


@pytest.mark.slow
def test_train_on_the_embedded_sample_then_evaluate_and_predict(tmp_path):
    env = dict(os.environ, TINYCONV_DATA=str(tmp_path / "empty-data-dir"))
    os.makedirs(env["TINYCONV_DATA"])
    r = run_cli(["train", "--epochs", "2", "--limit", "2000"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "on mnist-sample (1800 train / 200 validation / 1000 test images" in r.stdout
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and re.fullmatch(r"simple_convnet-mnist-sample-\d{8}-\d{6}", runs[0].name)
    run = runs[0]
    assert f"model        runs/{run.name}/model.safetensors" in r.stdout
    model_path = run / "model.safetensors"
    for name in ("model.safetensors", "history.json", "history.csv", "curves.png", "run.json"):
        assert (run / name).is_file(), name
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    hist = json.loads((run / "history.json").read_text())["history"]
    assert hist["epoch"] == [1, 2] and hist["val_acc"][-1] > 0.8
    assert (run / "history.csv").read_text().splitlines()[0].startswith("epoch,loss,acc")

    # evaluate prints what tinyconv.train.evaluate computes
    model = tinyconv.load(model_path)
    meta = tinyconv.io.read_metadata(model_path)
    x, y = data.load("mnist-sample", "test")
    loader = data.DataLoader(x, y, batch_size=250, mean=meta["mean"], std=meta["std"])
    res = tinyconv.train.evaluate(model, loader)
    e = run_cli(["evaluate", str(model_path)], env=env, cwd=tmp_path)
    assert e.returncode == 0, e.stderr
    assert f"accuracy {100 * res['accuracy']:.2f}%" in e.stdout
    assert "confusion matrix" in e.stdout

    # predict: a test digit the model is sure about, as MNIST has it and as a dark-on-light scan
    xs = (x / 255.0 - meta["mean"][0]) / meta["std"][0]
    with tinyconv.no_grad():
        logits = model.eval()(tinyconv.tensor(xs.astype(np.float32))).numpy()
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    right = np.flatnonzero(p.argmax(1) == y)
    i = right[np.argmax(p[right].max(1))]
    assert p[i].max() > 0.9
    _digit_png(tmp_path / "digit.png", x[i], invert=False)
    _digit_png(tmp_path / "scan.png", x[i], invert=True)
    out = run_cli(
        ["predict", str(model_path), "digit.png", "scan.png", "--top-k", "2"], env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, name in zip(lines, ("digit.png", "scan.png"), strict=True):
        m = re.fullmatch(rf"{name}: (\d) \(([\d.]+)%\), (\d) \(([\d.]+)%\)", line)
        assert m, line
        assert int(m.group(1)) == y[i]
        assert float(m.group(2)) > 50


def test_train_on_an_image_folder_then_evaluate_and_predict(tmp_path, capsys, monkeypatch):
    """A user's own images: class subfolders of PNG files (here 3 digits of the sample)."""
    from PIL import Image

    x, y = data.load("mnist-sample", "test")
    for c in range(3):
        (tmp_path / "digits" / f"digit{c}").mkdir(parents=True)
        for k, i in enumerate(np.flatnonzero(y == c)[:20]):
            Image.fromarray(x[i, 0]).save(tmp_path / "digits" / f"digit{c}" / f"{k}.png")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(
        [
            "train",
            "--data",
            "digits",
            "--epochs",
            "2",
            "--batch-size",
            "9",
            "--quiet",
            "--out",
            "run",
        ],
        capsys,
    )
    assert code == 0, err
    assert "Saved in run/" in out
    meta = tinyconv.io.read_metadata(tmp_path / "run" / "model.safetensors")
    assert meta["classes"] == ["digit0", "digit1", "digit2"] and meta["input_shape"] == [1, 28, 28]
    code, out, err = run_main(["evaluate", "run/model.safetensors", "--data", "digits"], capsys)
    assert code == 0, err
    assert "on digits test (6 images)" in out and "2 digit2" in out  # only the held-out 6
    assert "testing the 6 images held out when the model was trained on this folder" in out
    assert re.search(r"^\s+2\s+(\d+\s+){2}\d+$", out, re.M)  # the confusion matrix's last row
    code, out, err = run_main(["predict", "run/model.safetensors", "digits/digit1/0.png"], capsys)
    assert code == 0, err
    assert re.fullmatch(r"digits/digit1/0\.png: (digit\d \([\d.]+%\)(, )?){3}\n", out)
