"""Data-parallel training on MPI (tinyconv.distributed).

The multi-process tests start ``mpiexec -n K`` on the scripts in tests/mpi_scripts/ (2 and 4
ranks; 4 oversubscribe a 2-core machine, which MPICH allows) and read the JSON each writes.
They skip, with the reason, where mpi4py or mpiexec is missing; the two-machine test also
needs root, ``ip`` and ``unshare``. The pytest process itself never starts MPI.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest

from tinyconv.distributed import DistributedSampler, ShardedLoader, shard_bounds
from tinyconv.distributed.launch import build_command, find_mpiexec, mpi_flavour

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "mpi_scripts"
NETNS = ROOT / "scripts" / "netns_two_hosts.sh"


def _mpiexec() -> tuple[str | None, str]:
    if importlib.util.find_spec("mpi4py") is None:
        return None, "mpi4py is not installed (pip install 'tinyconv[mpi]')"
    try:
        return find_mpiexec(), ""
    except FileNotFoundError as e:
        return None, str(e)


MPIEXEC, WHY_NO_MPI = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason=WHY_NO_MPI)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"  # K ranks share 2 cores: no BLAS threads on top
    env["MPLBACKEND"] = "Agg"
    return env


def run_mpi(
    n: int, args: list[str], timeout: float = 120, mpi4py: bool = True
) -> subprocess.CompletedProcess:
    assert MPIEXEC is not None
    cmd = build_command(n, args, MPIEXEC, mpi_flavour(MPIEXEC))
    if not mpi4py:
        cmd.remove("-m")
        cmd.remove("mpi4py")
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT
    )


def run_script(n: int, name: str, *args: str, tmp_path: Path) -> dict:
    out = tmp_path / f"{name}-{n}.json"
    proc = run_mpi(n, [str(SCRIPTS / name), *args, str(out)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


# ------------------------------------------------------------ no MPI needed
def test_importing_and_single_process_use_do_not_start_mpi() -> None:
    code = (
        "import sys, numpy\n"
        "import tinyconv.distributed as d\n"
        "s = d.DistributedSampler(10, num_replicas=2, rank=0)\n"
        "list(d.ShardedLoader([(numpy.arange(4), numpy.arange(4))], num_replicas=2, rank=1))\n"
        "print(d.size(), d.rank(), d.is_initialized(), 'mpi4py' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env()
    )
    assert out.stdout.split() == ["1", "0", "False", "False"]


def test_shard_bounds_split_every_row_once() -> None:
    for n in (1, 7, 10, 64):
        for K in (1, 2, 3, 4):
            bounds = [shard_bounds(n, K, k) for k in range(K)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
            sizes = [hi - lo for lo, hi in bounds]
            assert max(sizes) - min(sizes) <= 1


def test_distributed_sampler_partitions_a_seeded_permutation() -> None:
    samplers = [DistributedSampler(12, num_replicas=4, rank=k, seed=3) for k in range(4)]
    parts = [s.indices() for s in samplers]
    assert sorted(numpy.concatenate(parts).tolist()) == list(range(12))
    assert [len(s) for s in samplers] == [3, 3, 3, 3]
    expected = numpy.random.default_rng([3, 0]).permutation(12)
    assert parts[1].tolist() == expected[1::4].tolist()
    for s in samplers:
        s.set_epoch(1)
    again = [s.indices() for s in samplers]
    assert sorted(numpy.concatenate(again).tolist()) == list(range(12))
    assert any((a != b).any() for a, b in zip(parts, again, strict=True))
    samplers[0].set_epoch(0)
    assert samplers[0].indices().tolist() == parts[0].tolist()  # the same epoch, the same order


def test_distributed_sampler_pads_or_drops_the_tail() -> None:
    padded = [DistributedSampler(10, 4, k, shuffle=False).indices().tolist() for k in range(4)]
    assert padded == [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]  # 2 indices repeated
    dropped = [
        DistributedSampler(10, 4, k, shuffle=False, drop_last=True).indices().tolist()
        for k in range(4)
    ]
    assert dropped == [[0, 4], [1, 5], [2, 6], [3, 7]]
    x = numpy.arange(20).reshape(10, 2)
    (rows,) = DistributedSampler(10, 4, 2, shuffle=False).take(x)
    assert rows.tolist() == [[4, 5], [12, 13], [0, 1]]
    with pytest.raises(ValueError, match=r"rank must be in \[0, 3\], got 4"):
        DistributedSampler(10, num_replicas=4, rank=4)


def test_sharded_loader_slices_and_weights_the_gradient() -> None:
    class Opt:
        grad_weight = 1.0

    batches = [(numpy.arange(10), numpy.arange(10) * 2), (numpy.arange(3), numpy.arange(3))]
    seen = []
    for k in range(4):
        opt = Opt()
        loader = ShardedLoader(batches, opt, num_replicas=4, rank=k)
        for x, y in loader:
            seen.append((k, x.tolist(), opt.grad_weight))
            assert (y == 2 * x).all()
        assert loader.seen == len(seen[-1][1])
        assert opt.grad_weight == 1.0  # reset after the epoch
    # 10 rows over 4 ranks: 2, 3, 2, 3 rows, weights K n_k / N; the batch of 3 < 4 is skipped
    assert seen == [
        (0, [0, 1], 0.8),
        (1, [2, 3, 4], 1.2),
        (2, [5, 6], 0.8),
        (3, [7, 8, 9], 1.2),
    ]
    ev = ShardedLoader(batches, num_replicas=4, rank=3, drop_small=False)
    assert [x.tolist() for x, _ in ev] == [[7, 8, 9], [2]]


def test_launch_builds_the_mpiexec_command() -> None:
    cmd = build_command(4, ["train", "--epochs", "1"], "mpiexec", "mpich", python="py")
    assert cmd == ["mpiexec", "-n", "4", "py", "-m", "mpi4py", "-m", "tinyconv", "train",
                   "--epochs", "1"]  # fmt: skip
    cmd = build_command(2, ["s.py", "-x"], "mpirun", "openmpi", hosts="a,b", python="py")
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    over = ["--oversubscribe"] if 2 > (os.cpu_count() or 1) else []
    assert cmd == ["mpirun", "-n", "2", *root, *over, "--host", "a,b", "py", "-m", "mpi4py",
                   "s.py", "-x"]  # fmt: skip
    assert "-hosts" in build_command(2, ["train"], "mpiexec", "mpich", hosts="a,b")


def test_launch_dry_run_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from tinyconv.cli import main

    if MPIEXEC is None and shutil.which("mpiexec") is None:
        pytest.skip("no mpiexec to name in the command")
    assert main(["launch", "-n", "3", "--dry-run", "train", "--epochs", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert " -n 3 " in line and line.endswith("-m mpi4py -m tinyconv train --epochs 2")


# --------------------------------------------------------------- under mpiexec
@needs_mpi
@pytest.mark.parametrize("ranks", [2, 4])
def test_data_parallel_sgd_equals_one_process_on_the_full_batch(ranks: int, tmp_path) -> None:
    r = run_script(ranks, "sgd_equivalence.py", "30", "10", "25", tmp_path=tmp_path)
    assert r["ranks"] == ranks and r["steps"] == 30
    assert r["moved"] > 0.05  # the weights really trained
    assert r["max_diff_vs_single"] < 1e-6
    assert r["max_diff_between_ranks"] == 0.0  # bit for bit the same weights on every rank
    assert r["buckets"] == 1 and r["allreduce_calls"] == 30  # all 6 gradients fused


@needs_mpi
def test_one_allreduce_per_parameter_without_fusion(tmp_path) -> None:
    r = run_script(4, "sgd_equivalence.py", "30", "10", "0", tmp_path=tmp_path)
    assert r["buckets"] == 6 and r["allreduce_calls"] == 6 * 30
    assert r["max_diff_vs_single"] < 1e-6 and r["max_diff_between_ranks"] == 0.0


@needs_mpi
def test_fit_distributed_equals_fit_alone(tmp_path) -> None:
    r = run_script(4, "fit_equivalence.py", tmp_path=tmp_path)
    assert r["max_diff_vs_single"] < 1e-6
    assert r["max_diff_between_ranks"] == 0.0
    assert r["history_diff"] < 1e-9
    assert r["loss"][1] < r["loss"][0]


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 4])
def test_batchnorm_running_statistics_agree_across_ranks(ranks: int, tmp_path) -> None:
    r = run_script(ranks, "bn_sync.py", tmp_path=tmp_path)
    assert r["buffers_averaged"] == 38  # running mean and variance of resnet20's 19 BatchNorms
    assert r["stats_diff_before_average"] > 1e-3  # each rank saw its own slice
    assert r["stats_diff_after_average"] == 0.0
    assert r["bn1_running_mean_moved"] > 1e-3
    assert r["bn1_running_mean_vs_single"] < 1e-12
    assert r["fit_state_diff_between_ranks"] == 0.0
    assert r["fit_history_diff_between_ranks"] == 0.0
    assert numpy.isfinite(r["fit_val_loss"])


@needs_mpi
@pytest.mark.parametrize(
    ("mode", "mpi4py", "message", "code"),
    [
        # the one-line summary the excepthook prints before the traceback (MPI_Abort can end
        # the job before mpiexec forwards the end of a rank's stderr; the hook also waits 1 s)
        ("fit", False, "[rank 1/2] RuntimeError: rank 1 fails on purpose at batch 3", None),
        ("fit", True, "[rank 1/2] RuntimeError: rank 1 fails on purpose at batch 3", None),
        ("fail_fast", False, "[rank 1/2] fail.py: ValueError: bad value on rank 1", 2),
    ],
    ids=["fit-excepthook", "fit-m-mpi4py", "fail_fast"],
)
def test_a_failing_rank_ends_the_job_within_seconds(mode, mpi4py, message, code) -> None:
    t0 = time.perf_counter()
    proc = run_mpi(2, [str(SCRIPTS / "fail.py"), mode], timeout=60, mpi4py=mpi4py)
    elapsed = time.perf_counter() - t0
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    if code is not None:
        assert proc.returncode == code
    assert message in output
    assert "Traceback" in output or code is not None
    assert "finished: the job was not aborted" not in output
    assert elapsed < 20, f"took {elapsed:.1f} s"


@needs_mpi
def test_without_the_abort_the_job_hangs() -> None:
    """The control: rank 1 dies and exits normally; rank 0 stays in the allreduce."""
    assert MPIEXEC is not None
    cmd = build_command(2, [str(SCRIPTS / "fail.py"), "fit_no_abort"], MPIEXEC,
                        mpi_flavour(MPIEXEC))  # fmt: skip
    cmd.remove("-m")
    cmd.remove("mpi4py")
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env(),
        cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=8)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert "fails on purpose" in proc.stderr.read()


@needs_mpi
@pytest.mark.slow
def test_tinyconv_train_on_two_ranks_reaches_the_same_accuracy(tmp_path) -> None:
    """`tinyconv train` alone and under `tinyconv launch -n 2`, on 2,000 sample images."""
    common = ["train", "--data", "mnist-sample", "--limit", "2000", "--epochs", "2", "--quiet"]
    single = subprocess.run(
        [sys.executable, "-m", "tinyconv", *common, "--out", str(tmp_path / "one")],
        capture_output=True, text=True, timeout=300, env=_env(),
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-2000:]
    two = subprocess.run(
        [sys.executable, "-m", "tinyconv", "launch", "-n", "2", *common,
         "--out", str(tmp_path / "two")],
        capture_output=True, text=True, timeout=300, env=_env(), cwd=ROOT,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr[-2000:]
    assert two.stdout.count("Test accuracy") == 1  # rank 0 alone reports
    acc = {}
    for name in ("one", "two"):
        history = json.loads((tmp_path / name / "history.json").read_text())["history"]
        acc[name] = 100 * history["val_acc"][-1]
    assert acc["one"] > 70
    assert abs(acc["one"] - acc["two"]) <= 0.2, acc
    settings = json.loads((tmp_path / "two" / "run.json").read_text())["settings"]
    assert settings["ranks"] == 2 and settings["batch_size"] == 100
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()) == [
        "epoch-0001",
        "epoch-0002",
    ]


# ------------------------------------------------------- two machines in namespaces
def _netns_reason() -> str | None:
    if MPIEXEC is None:
        return WHY_NO_MPI
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "unshare"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    if mpi_flavour(MPIEXEC) != "mpich":
        return "the namespace launcher drives MPICH's hydra mpiexec"
    return None


@pytest.fixture
def two_hosts():
    reason = _netns_reason()
    if reason:
        pytest.skip(reason)
    prefix = f"t{os.getpid() % 10000}"
    env = dict(_env(), TC_NETNS_PREFIX=prefix, MPIEXEC=MPIEXEC)
    up = subprocess.run(["bash", str(NETNS), "up"], capture_output=True, text=True, env=env)
    try:
        if up.returncode != 0:
            pytest.skip(f"cannot create network namespaces here: {up.stderr.strip()[-300:]}")
        yield prefix, env
    finally:
        subprocess.run(["bash", str(NETNS), "down"], capture_output=True, env=env)


def _rx_bytes(ns: str, dev: str) -> int:
    out = subprocess.run(
        ["ip", "-n", ns, "-s", "-j", "link", "show", dev], capture_output=True, text=True
    )
    return int(json.loads(out.stdout)[0]["stats64"]["rx"]["bytes"])


def test_two_hosts_over_tcp_train_like_one_process(two_hosts, tmp_path) -> None:
    prefix, env = two_hosts
    out = tmp_path / "two-hosts.json"
    before = _rx_bytes(f"{prefix}a", f"{prefix}eth0")
    proc = subprocess.run(
        ["bash", str(NETNS), "mpirun", "2", sys.executable, "-m", "mpi4py",
         str(SCRIPTS / "sgd_equivalence.py"), "30", "10", "25", str(out)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["hosts"] == [f"{prefix}host-a", f"{prefix}host-b"]  # one rank on each machine
    assert r["max_diff_vs_single"] < 1e-6
    assert r["max_diff_between_ranks"] == 0.0
    # 30 allreduces of SimpleConvNet's 433,890 float64 gradients went over the veth link
    received = _rx_bytes(f"{prefix}a", f"{prefix}eth0") - before
    assert received > 30 * 433_890 * 8 / 2, received


def test_two_hosts_script_cleans_up_after_a_failure() -> None:
    reason = _netns_reason()
    if reason:
        pytest.skip(reason)
    prefix = f"u{os.getpid() % 10000}"
    env = dict(_env(), TC_NETNS_PREFIX=prefix, MPIEXEC=MPIEXEC)
    try:
        proc = subprocess.run(
            ["bash", str(NETNS), "run", "2", sys.executable, "-c", "import sys; sys.exit(4)"],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        if "cannot" in proc.stderr or "Operation not permitted" in proc.stderr:
            pytest.skip(f"cannot create network namespaces here: {proc.stderr.strip()[-300:]}")
        assert proc.returncode != 0
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert f"{prefix}a" not in names and f"{prefix}b" not in names
        assert not Path(f"/etc/netns/{prefix}a").exists()
    finally:
        subprocess.run(["bash", str(NETNS), "down"], capture_output=True, env=env)
