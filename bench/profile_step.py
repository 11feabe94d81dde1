"""Where the time of one training step goes, layer by layer (tinyconv only).

    python bench/profile_step.py                         # SimpleConvNet, batch 100
    python bench/profile_step.py --model deep_convnet --threads 1
    python bench/profile_step.py --parts                 # split each conv into its pieces

Every Function's forward and backward is timed (wall clock) for ``--steps`` steps after a
warm-up; the table gives the minimum over the steps of each row (the least disturbed run on
a shared machine), the layer's output shape, and its share of the step. With ``--parts``
each convolution is also split into its pieces: the padded copy of a block, the im2col
copy, the matrix products and the gradient's copy onto the output grid.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

import tinyconv  # noqa: E402
import tinyconv.functional as F  # noqa: E402
from tinyconv import models, optim  # noqa: E402
from tinyconv.ops import conv_blocks as conv_ops  # noqa: E402
from tinyconv.ops.parallel import set_num_threads  # noqa: E402
from tinyconv.tensor import Function  # noqa: E402

TIMES: dict[tuple[str, str, tuple], float] = collections.defaultdict(float)


def _subclasses(cls: type) -> list[type]:
    out = []
    for s in cls.__subclasses__():
        out += [s, *_subclasses(s)]
    return out


def instrument() -> None:
    """Wrap forward/backward of every Function subclass with a timer keyed by op and shape."""
    for cls in _subclasses(Function):
        fwd, bwd = cls.forward, cls.backward

        def forward(self: Any, *a: Any, _f: Any = fwd, _n: str = cls.__name__, **k: Any) -> Any:
            t0 = time.perf_counter()
            y = _f(self, *a, **k)
            self._profile_key = (_n, tuple(y.shape))
            TIMES[(_n, "forward", tuple(y.shape))] += time.perf_counter() - t0
            return y

        def backward(self: Any, dout: Any, _b: Any = bwd, _n: str = cls.__name__) -> Any:
            t0 = time.perf_counter()
            g = _b(self, dout)
            TIMES[(_n, "backward", tuple(dout.shape))] += time.perf_counter() - t0
            return g

        cls.forward, cls.backward = forward, backward


def instrument_conv_parts() -> None:
    """Time the pieces of the blocked convolution (summed over blocks and threads)."""
    g = conv_ops._Geometry
    for name in ("padded_block", "im2col_block"):
        orig = getattr(g, name)

        def timed(self: Any, *a: Any, _o: Any = orig, _n: str = name) -> Any:
            t0 = time.perf_counter()
            r = _o(self, *a)
            TIMES[("  conv part", _n, ())] += time.perf_counter() - t0
            return r

        setattr(g, name, timed)
    orig_grid = conv_ops._grid_block

    def grid_block(*a: Any) -> Any:
        t0 = time.perf_counter()
        r = orig_grid(*a)
        TIMES[("  conv part", "dout onto the grid", ())] += time.perf_counter() - t0
        return r

    conv_ops._grid_block = grid_block
    xp_matmul = np.matmul

    class _TimedNumpy:  # conv.py calls xp.matmul through the xp module object
        def __getattr__(self, item: str) -> Any:
            return getattr(np, item)

        @staticmethod
        def matmul(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            r = xp_matmul(*a, **k)
            TIMES[("  conv part", "matmul (GEMM)", ())] += time.perf_counter() - t0
            return r

    timed_np = _TimedNumpy()
    timed_np.__name__ = "numpy"  # type: ignore[attr-defined]
    orig_init = g.__init__

    def init(self: Any, *a: Any, **k: Any) -> None:
        orig_init(self, *a, **k)
        self.xp = timed_np

    g.__init__ = init  # type: ignore[method-assign]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="simple_convnet", help="a zoo model or fast_mnist")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--parts", action="store_true", help="split the convolutions into pieces")
    args = ap.parse_args()
    set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        pass
    instrument()
    if args.parts:
        instrument_conv_parts()
    tinyconv.manual_seed(0)
    from time_to_99 import RECIPES

    model = RECIPES[args.model]() if args.model in RECIPES else models.get(args.model)
    rng = np.random.default_rng(0)
    x = tinyconv.tensor(rng.random((args.batch, 1, 28, 28), dtype=np.float32))
    y = tinyconv.tensor(rng.integers(0, 10, args.batch))
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        t0 = time.perf_counter()
        opt.step()
        TIMES[("Adam", "step", ())] += time.perf_counter() - t0

    for _ in range(3):
        step()
    per_step: list[dict] = []
    totals = []
    for _ in range(args.steps):
        TIMES.clear()
        t0 = time.perf_counter()
        step()
        totals.append(time.perf_counter() - t0)
        per_step.append(dict(TIMES))
    rows = {k: min(s.get(k, 0.0) for s in per_step) for k in per_step[0]}
    step_ms = 1000 * float(np.median(totals))
    print(
        f"{args.model}, batch {args.batch}, float32, {args.threads} thread(s): median step "
        f"{step_ms:.2f} ms (min {1000 * min(totals):.2f}); per op: min over {args.steps} steps"
    )
    ops = sum(v for k, v in rows.items() if not k[0].startswith("  "))
    for (op, phase, shape), v in sorted(rows.items(), key=lambda kv: -kv[1]):
        if v * 1000 < 0.02:
            continue
        share = "" if op.startswith("  ") else f"{100 * v * 1000 / step_ms:5.1f} %"
        print(f"  {1000 * v:7.2f} ms {share:>8}  {op:<14} {phase:<20} {shape}")
    print(f"  {1000 * ops:7.2f} ms in ops; the rest ({step_ms - 1000 * ops:.2f} ms) is Python, "
          "autograd bookkeeping and allocation")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
