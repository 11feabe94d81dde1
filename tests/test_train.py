"""fit, evaluate, History, early stopping and the NaN stop (tinyconv.train)."""

import math

import numpy as np
import pytest

import tinyconv
import tinyconv.functional as F
from tinyconv import nn
from tinyconv.data import DataLoader
from tinyconv.train import (
    Callback,
    EarlyStopping,
    History,
    StopTraining,
    TrainingDiverged,
    evaluate,
    fit,
    latest_checkpoint,
)
from tinyconv.train.batches import ArrayBatches


class MLP(nn.Module):
    def __init__(self, d_in=4, hidden=16, classes=3):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def blobs(n=300, seed=0):
    """Three Gaussian blobs in 4-D, well separated: a problem an MLP solves in a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    x = (centres[y] + 0.5 * rng.normal(size=(n, 4))).astype(np.float32)
    return x, y.astype(np.int64)


def weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


class Identity(nn.Module):
    """A 'model' whose output is its input: evaluate() then sees the logits we choose."""

    def forward(self, x):
        return x


def test_fit_reduces_loss_and_returns_history(capsys):
    tinyconv.manual_seed(0)
    x, y = blobs()
    model = MLP()
    h = fit(model, (x, y), val=blobs(150, seed=1), epochs=5, lr=0.01, seed=0, batch_size=32)
    assert isinstance(h, History)
    assert h.history["epoch"] == [1, 2, 3, 4, 5]
    for key in ("loss", "acc", "val_loss", "val_acc", "lr", "time"):
        assert len(h.history[key]) == 5, key
    loss = h.history["loss"]
    assert loss[-1] < 0.3 * loss[0]
    assert all(b < a for a, b in zip(loss, loss[1:], strict=False))
    assert h.history["val_acc"][-1] > 0.95
    assert h.history["lr"] == [0.01] * 5
    assert all(t > 0 for t in h.history["time"])
    out = capsys.readouterr().out
    assert "Epoch 5/5" in out and "val_acc" in out and "img/s" in out


def test_fit_verbose_false_prints_nothing(capsys):
    tinyconv.manual_seed(0)
    fit(MLP(), blobs(64), epochs=1, verbose=False, seed=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_fit_with_dataloader_and_conv_model():
    """A small CNN on 8x8 images through tinyconv.data.DataLoader: the loss drops."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    x = rng.integers(0, 60, (200, 1, 8, 8)).astype(np.uint8)
    x[y == 1, :, 2:6, 2:6] += 150  # class 1 has a bright square
    tinyconv.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 2)
    )
    loader = DataLoader(x, y, batch_size=20, shuffle=True, seed=0)
    h = fit(model, loader, val=DataLoader(x, y, batch_size=100), epochs=4, lr=0.01, verbose=False)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
    assert h.history["val_acc"][-1] >= 0.95


def test_array_batches_order_depends_on_seed_and_epoch_only():
    x = np.arange(10)
    a = ArrayBatches(x, x, batch_size=4, shuffle=True, seed=3)
    a.set_epoch(2)
    first = np.concatenate([b for b, _ in a])
    b = ArrayBatches(x, x, batch_size=4, shuffle=True, seed=3)
    b.set_epoch(0)
    list(b)
    b.set_epoch(2)
    again = np.concatenate([v for v, _ in b])
    assert sorted(first.tolist()) == list(range(10))
    np.testing.assert_array_equal(first, again)
    a.set_epoch(1)
    assert not np.array_equal(np.concatenate([v for v, _ in a]), first)


def test_evaluate_known_confusion_matrix():
    # true labels and the logits' arg-max: 0 0 1 1 2 2 2  ->  0 1 1 1 2 0 2
    true = np.array([0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0, 2])
    logits = np.full((7, 4), -1.0, dtype=np.float32)
    logits[np.arange(7), pred] = 2.0
    model = Identity()
    model.train()
    res = evaluate(model, (logits, true), batch_size=3)  # 3 batches: 3 + 3 + 1
    np.testing.assert_array_equal(
        res["confusion_matrix"],
        [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]],
    )
    assert res["accuracy"] == pytest.approx(5 / 7)
    np.testing.assert_allclose(res["per_class_accuracy"][:3], [0.5, 1.0, 2 / 3])
    assert math.isnan(res["per_class_accuracy"][3])  # class 3 has no sample
    # cross-entropy of one row: log(e^2 + 3 e^-1) - (2 if right else -1)
    lse = math.log(math.exp(2) + 3 * math.exp(-1))
    expected = (5 * (lse - 2) + 2 * (lse + 1)) / 7
    assert res["loss"] == pytest.approx(expected, rel=1e-5)
    assert res["num_samples"] == 7
    assert model.training  # the mode is restored


def test_evaluate_runs_in_eval_mode_without_graph():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append((self.training, tinyconv.is_grad_enabled()))
            return x

    evaluate(Probe(), (np.eye(3, dtype=np.float32), np.arange(3)))
    assert seen == [(False, False)]


def test_history_json_and_csv_round_trip(tmp_path):
    h = History()
    h.append(epoch=1, loss=0.5, acc=0.75, lr=0.001, time=1.5)
    h.append(epoch=2, loss=0.25, acc=0.875, lr=0.0005, time=1.25)
    h.stopped_reason = "early stopping"
    j = History.from_json(h.to_json(tmp_path / "h.json"))
    assert j.history == h.history and j.stopped_reason == "early stopping"
    c = History.from_csv(h.to_csv(tmp_path / "h.csv"))
    assert c.history == h.history
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == "epoch,loss,acc,lr,time"


def test_history_nan_becomes_null():
    h = History()
    h.append(epoch=1, loss=float("nan"))
    assert h.history["loss"] == [None]


def test_absurd_learning_rate_stops_with_clear_message_and_last_good_checkpoint_loads(tmp_path):
    tinyconv.manual_seed(0)
    x, y = blobs()
    model = MLP()
    opt = tinyconv.optim.SGD(model.parameters(), lr=0.05)
    after_epoch_1 = {}

    class Explode(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                after_epoch_1.update(weights(model))
                opt.param_groups[0]["lr"] = 1e30  # absurd from epoch 2 on

    with pytest.raises(TrainingDiverged) as info:
        fit(
            model,
            (x, y),
            epochs=3,
            optimizer=opt,
            checkpoint_dir=tmp_path,
            callbacks=[Explode()],
            verbose=False,
            seed=0,
        )
    e = info.value
    msg = str(e)
    assert msg.startswith("training diverged: ")
    assert "epoch 2" in msg and "smaller learning rate" in msg
    assert "nan" in msg or "inf" in msg or "NaN" in msg
    assert str(tmp_path / "epoch-0001") in msg
    assert e.epoch == 2 and e.history.diverged and e.history.epochs == 1
    assert e.checkpoint == tmp_path / "epoch-0001"
    assert latest_checkpoint(tmp_path) == tmp_path / "epoch-0001"  # nothing written from NaN
    saved = tinyconv.load(
        tmp_path / "epoch-0001" / "model.safetensors", custom_objects={"MLP": MLP}
    )
    for k, v in saved.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), after_epoch_1[k])
    # the model in memory is given back its last good weights
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, after_epoch_1[k])


def test_absurd_learning_rate_from_the_start():
    tinyconv.manual_seed(0)
    model = MLP()
    before = weights(model)
    with pytest.raises(TrainingDiverged, match=r"training diverged: .*(nan|inf|NaN).* epoch 1"):
        fit(model, blobs(), epochs=2, optimizer="sgd", lr=1e30, verbose=False, seed=0)
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, before[k])


def test_early_stopping_restores_best_epoch():
    """Validation labels are the training labels shifted: better training = worse validation."""
    tinyconv.manual_seed(0)
    x, y = blobs()
    model = MLP()
    snaps = {}

    class Snap(Callback):
        def on_epoch_end(self, epoch, logs):
            snaps[epoch] = weights(model)

    h = fit(
        model,
        (x, y),
        val=(x, (y + 1) % 3),
        epochs=10,
        lr=0.01,
        verbose=False,
        seed=0,
        early_stopping=EarlyStopping(patience=2),
        callbacks=[Snap()],
    )
    vl = h.history["val_loss"]
    best = int(np.argmin(vl))
    assert h.epochs == best + 3 < 10  # stopped 2 epochs after the best one
    assert "early stopping" in h.stopped_reason
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, snaps[best + 1][k])


def test_early_stopping_status_and_validation():
    es = EarlyStopping(patience=2, min_delta=0.1)
    assert es.status([1.0, 0.95, 0.5, 0.45]) == (2, 1)  # 0.95 and 0.45 are not 0.1 better
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)


def test_callback_stop_training():
    class StopAfter2(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 2:
                raise StopTraining("enough")

    tinyconv.manual_seed(0)
    h = fit(MLP(), blobs(64), epochs=5, callbacks=[StopAfter2()], verbose=False, seed=0)
    assert h.epochs == 2 and h.stopped_reason == "enough"


def test_fit_argument_errors():
    model = MLP()
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(model, blobs(10), epochs=0)
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        fit(model, blobs(10), optimizer="adamm")
    with pytest.raises(ValueError, match="unknown loss"):
        fit(model, blobs(10), loss="hinge")
    with pytest.raises(ValueError, match="differ in length"):
        fit(model, (np.zeros((3, 4), np.float32), np.zeros(2, np.int64)))
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        fit(model, blobs(10), resume=True)


def test_fit_regression_with_mse_has_loss_but_no_accuracy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 3)).astype(np.float32)
    t = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)  # (128, 1)
    tinyconv.manual_seed(0)
    model = nn.Linear(3, 1)
    h = fit(
        model,
        (x, t),
        val=(x, t),
        epochs=8,
        loss="mse",
        lr=0.05,
        batch_size=8,
        verbose=False,
        seed=0,
    )
    assert h.history["loss"][-1] < 0.1 * h.history["loss"][0]
    assert h.history["acc"] == [None] * 8 and h.history["val_acc"] == [None] * 8
    res = evaluate(model, (x, t), loss="mse")
    assert res["loss"] == pytest.approx(h.history["val_loss"][-1], rel=1e-5)
    assert res["accuracy"] is None and res["confusion_matrix"] is None
