"""The command line's small promises (issue 23): one clean line per error, files named, logs
without redraws, and `serve` saying truthfully what it trains."""

import errno
import io as stdio
import json

import pytest

import tinyconv
from tinyconv import io, nn
from tinyconv.cli import main
from tinyconv.train.progress import ProgressBar


def run_main(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "internal error" not in err and "Traceback" not in err and "[" not in lines[0][:40]
    return lines[0]


# ------------------------------------------------------------------------ files
def test_a_corrupt_run_json_on_resume_names_the_file(tmp_path, capsys):
    (tmp_path / "run.json").write_text('{"settings": {"model": ', encoding="utf-8")
    code, _, err = run_main(["train", "--resume", str(tmp_path)], capsys)
    line = one_line(err)
    assert code == 2 and f"{tmp_path / 'run.json'} is not valid JSON" in line


def test_a_run_json_without_settings_names_the_file(tmp_path, capsys):
    (tmp_path / "run.json").write_text(json.dumps({"settings": {"model": "x"}}), encoding="utf-8")
    code, _, err = run_main(["train", "--resume", str(tmp_path)], capsys)
    assert code == 2 and f"{tmp_path / 'run.json'} has no settings data, epochs" in one_line(err)


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_saving_names_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "_write_chunks", full_disk)
    path = tmp_path / "m.safetensors"
    with pytest.raises(OSError) as info:
        tinyconv.save(nn.Linear(2, 2), path)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


def test_a_full_disk_during_train_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(io, "_write_chunks", full_disk)
    argv = ["train", "--data", "mnist-sample", "--limit", "200", "--epochs", "1", "--quiet",
            "--out", str(tmp_path / "run")]  # fmt: skip
    code, _, err = run_main(argv, capsys)
    line = one_line(err)
    assert code == 2 and "No space left on device: " in line
    assert str(tmp_path / "run") in line and ".safetensors" in line


def test_a_full_disk_writing_the_history_names_it(tmp_path, monkeypatch):
    from pathlib import Path

    from tinyconv.train.history import History

    def no_space(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", no_space)
    with pytest.raises(OSError, match=r"No space left on device: .*history.json"):
        History().to_json(tmp_path / "history.json")


# -------------------------------------------------------------------- messages
def test_launch_without_mpiexec_is_one_line_without_a_python_list(monkeypatch, capsys):
    from tinyconv.distributed import launch

    def missing(given=None):
        raise FileNotFoundError("no mpiexec found: pip install 'tinyconv[mpi]'")

    monkeypatch.setattr(launch, "find_mpiexec", missing)
    code, _, err = run_main(["launch", "-n", "2", "train", "--epochs", "1"], capsys)
    assert code == 2
    assert one_line(err).startswith("tinyconv launch: error: no mpiexec found")


def test_device_cuda_without_cupy_is_one_clean_line(monkeypatch, capsys):
    from tinyconv import backend

    def no_cupy():
        raise RuntimeError("tinyconv: the GPU backend needs CuPy, which failed to import")

    monkeypatch.setattr(backend, "check_cuda_available", no_cupy)
    code, _, err = run_main(["train", "--device", "cuda", "--epochs", "1"], capsys)
    line = one_line(err)
    assert code == 2 and line.startswith("tinyconv train: error: the GPU backend needs CuPy")
    assert "tinyconv: " not in line.removeprefix("tinyconv train: ")


@pytest.mark.parametrize("full", [True, False])
def test_serve_without_runs_says_what_it_trains_on(full, monkeypatch):
    from tinyconv.serve import server

    monkeypatch.setattr(
        "tinyconv.data.default_dataset", lambda: "mnist" if full else "mnist-sample"
    )
    text = server._what_default_training_uses()
    assert text.startswith("training the default model first: SimpleConvNet on ")
    assert ("SimpleConvNet on full MNIST" in text) == full
    assert ("SimpleConvNet on the MNIST sample inside the package" in text) != full


# ------------------------------------------------------------------ the bar
class Terminal(stdio.StringIO):
    def isatty(self):
        return True


def test_the_progress_bar_redraws_only_on_a_terminal(monkeypatch):
    log, tty = stdio.StringIO(), Terminal()
    for stream in (log, tty):
        bar = ProgressBar(50, "Epoch 1/1", stream=stream, use_tqdm=False)
        for _ in range(50):
            bar.update(10, 0.5, 0.9)
        bar.close()
    assert "\r" in tty.getvalue() and "50/50" in tty.getvalue()
    assert "\r" not in log.getvalue()


def test_a_log_gets_a_plain_line_now_and_then(monkeypatch):
    from tinyconv.train import progress

    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    log = stdio.StringIO()
    bar = ProgressBar(3, "Epoch 2/5", stream=log)  # tqdm, if installed, is not used for a log
    for _ in range(3):
        bar.update(10, 0.25, None)
    bar.close()
    lines = log.getvalue().splitlines()
    assert [line.split(" loss")[0] for line in lines] == [f"Epoch 2/5 {i}/3" for i in (1, 2, 3)]
    assert "\r" not in log.getvalue()
