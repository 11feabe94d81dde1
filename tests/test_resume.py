"""Resuming an interrupted run reaches exactly the weights of an uninterrupted one.

Both models contain Dropout, so the masks (drawn from tinyconv's global generator) differ
unless the checkpoint restores that generator; the data is shuffled every epoch.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinyconv
import tinyconv.functional as F
from tinyconv import nn
from tinyconv.data import DataLoader
from tinyconv.io import load_state_dict
from tinyconv.optim import Adam, StepLR
from tinyconv.train import Callback, fit, latest_checkpoint, load_checkpoint
from tinyconv.train import trainer as trainer_module

ROOT = Path(__file__).resolve().parents[1]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 32)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)  # (N, 4) or (N, 1, 2, 2) from the DataLoader
        return self.fc2(self.drop(F.relu(self.fc1(x))))


def data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (np.eye(3, 4, dtype=np.float32)[y] * 2 + 0.7 * rng.normal(size=(n, 4))).astype(np.float32)
    return x, y.astype(np.int64)


class InterruptAt(Callback):
    """Simulate Ctrl-C in the middle of an epoch."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, batch, logs):
        if logs["epoch"] == self.epoch and batch == self.batch:
            raise KeyboardInterrupt


def weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def run(ckpt, *, loader=False, callbacks=(), resume=False, init_seed=0):
    """A fresh model and optimizer each time; with resume, the checkpoint replaces the weights."""
    tinyconv.manual_seed(init_seed)
    model = Net()
    opt = Adam(model.parameters(), lr=0.01)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    x, y = data()
    train = (
        DataLoader(x.reshape(-1, 1, 2, 2), y, batch_size=16, shuffle=True, seed=11)
        if loader
        else (x, y)
    )
    fit(
        model,
        train,
        val=data(60, seed=1),
        epochs=3,
        optimizer=opt,
        scheduler=sched,
        checkpoint_dir=ckpt,
        resume=resume,
        callbacks=list(callbacks),
        seed=5,
        batch_size=16,
        verbose=False,
    )
    return model, opt


@pytest.mark.parametrize("loader", [False, True], ids=["arrays", "dataloader"])
def test_interrupt_in_epoch_2_then_resume_gives_identical_weights(tmp_path, loader):
    full, full_opt = run(tmp_path / "full", loader=loader)

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", loader=loader, callbacks=[InterruptAt(epoch=2, batch=4)])
    assert latest_checkpoint(tmp_path / "cut").name == "epoch-0001"

    tinyconv.manual_seed(999)  # disturb the global generator: the checkpoint must restore it
    resumed, resumed_opt = run(tmp_path / "cut", loader=loader, resume=True, init_seed=123)

    a, b = weights(full), weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert resumed_opt.param_groups[0]["lr"] == full_opt.param_groups[0]["lr"] == 0.01 / 8
    ha = json.loads((tmp_path / "full" / "epoch-0003" / "state.json").read_text())["history"]
    hb = json.loads((tmp_path / "cut" / "epoch-0003" / "state.json").read_text())["history"]
    assert ha["history"]["loss"] == hb["history"]["loss"]
    assert ha["history"]["val_loss"] == hb["history"]["val_loss"]


def test_resume_needs_the_rng_state(tmp_path, monkeypatch):
    """Without restoring the generator the dropout masks change: the test above can fail."""
    full, _ = run(tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", callbacks=[InterruptAt(epoch=2, batch=4)])
    monkeypatch.setattr(trainer_module, "set_rng_state", lambda state: None)
    tinyconv.manual_seed(999)
    resumed, _ = run(tmp_path / "cut", resume=True)
    assert any(not np.array_equal(v, weights(resumed)[k]) for k, v in weights(full).items())


def test_resume_history_continues(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, callbacks=[InterruptAt(epoch=3, batch=0)])
    tinyconv.manual_seed(0)
    model = Net()
    opt = Adam(model.parameters(), lr=0.01)
    h = fit(
        model,
        data(),
        epochs=3,
        optimizer=opt,
        checkpoint_dir=tmp_path,
        resume=True,
        verbose=False,
        batch_size=16,
    )
    assert h.history["epoch"] == [1, 2, 3]
    assert len(h.history["val_loss"]) == 3


def test_resume_from_an_explicit_checkpoint_folder_and_finished_run(tmp_path):
    run(tmp_path)
    tinyconv.manual_seed(1)
    model = Net()
    assert load_checkpoint(tmp_path / "epoch-0003", model)["epoch"] == 3
    model = Net()
    opt = Adam(model.parameters(), lr=0.01)
    h = fit(model, data(), epochs=3, optimizer=opt, resume=tmp_path / "epoch-0003", verbose=False)
    assert h.epochs == 3  # nothing left to do
    saved = load_state_dict(tmp_path / "epoch-0003" / "model.safetensors")
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, saved[k])
    first = opt.state[next(iter(model.parameters()))]  # Adam's moments are back
    assert first["step"] == 3 * 15  # 240 samples / batch 16 = 15 steps per epoch
    assert float(np.abs(first["exp_avg_sq"]).sum()) > 0


def test_missing_resume_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        fit(Net(), data(), resume=tmp_path / "nothing", verbose=False)


def test_checkpoints_are_pruned_and_temporary_folders_ignored(tmp_path):
    (tmp_path / "epoch-0009.tmp").mkdir(parents=True)  # a save killed half-way
    assert latest_checkpoint(tmp_path) is None
    run(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["epoch-0002", "epoch-0003"]  # keep_checkpoints=2, .tmp cleaned
    files = sorted(p.name for p in (tmp_path / "epoch-0003").iterdir())
    assert files == ["model.safetensors", "optimizer.safetensors", "state.json"]


# ----------------------------------------------------------------------------- real kill
def _cli(args, env, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "tinyconv", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.mark.slow
def test_sigkill_during_epoch_2_then_resume_matches_uninterrupted(tmp_path):
    env = dict(os.environ, TINYCONV_DATA=str(tmp_path / "no-data"), PYTHONPATH=str(ROOT))
    tinyconv.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(4 * 12 * 12, 10),
    )
    start = tmp_path / "start.safetensors"
    tinyconv.save(net, start)
    common = [
        "train",
        "--model",
        str(start),
        "--data",
        "mnist-sample",
        "--epochs",
        "3",
        "--limit",
        "3000",
        "--batch-size",
        "50",
        "--seed",
        "3",
        "--quiet",
    ]

    full = _cli([*common, "--out", str(tmp_path / "full")], env)
    out, err = full.communicate(timeout=300)
    assert full.returncode == 0, err

    cut_dir = tmp_path / "cut"
    cut = _cli([*common, "--out", str(cut_dir)], env)
    first = cut_dir / "checkpoints" / "epoch-0001"
    deadline = time.monotonic() + 300
    while not first.is_dir():
        assert cut.poll() is None, cut.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    cut.send_signal(signal.SIGKILL)  # during epoch 2: no chance to clean up
    cut.communicate(timeout=60)
    assert cut.returncode == -signal.SIGKILL
    assert not (cut_dir / "checkpoints" / "epoch-0002").exists(), "the kill came too late"
    assert not (cut_dir / "model.safetensors").exists()

    again = _cli(["train", "--resume", str(cut_dir), "--quiet"], env)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    a = load_state_dict(tmp_path / "full" / "model.safetensors")
    b = load_state_dict(cut_dir / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    ha = json.loads((tmp_path / "full" / "history.json").read_text())["history"]
    hb = json.loads((cut_dir / "history.json").read_text())["history"]
    assert ha["loss"] == hb["loss"] and ha["val_acc"] == hb["val_acc"]
