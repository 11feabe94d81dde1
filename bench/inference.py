"""Inference throughput: tinyconv on its Numba kernels, tinyconv on the NumPy reference,
PyTorch and onnxruntime, side by side in one process.

    python bench/inference.py --threads 2     # SimpleConvNet, DeepConvNet b100, resnet18 b8
    python bench/inference.py --threads 1 --steps 5
    python bench/inference.py --models resnet18:8,resnet50:4 --no-onnxruntime

Every system runs the same architecture with the same weights, in eval mode, float32,
without autograd (``tinyconv.no_grad`` / ``torch.inference_mode``):

* PyTorch: for the MNIST models the PyTorch twin of the tinyconv model (``common.torch_twin``);
  for the zoo torchvision's model if installed, else the plain-PyTorch one of
  tests/torch_reference_models.py, tinyconv's random weights copied in by name.
* onnxruntime: that PyTorch model exported by ``torch.onnx.export`` (TorchScript exporter,
  ``dynamo=False``, opset 17, the benchmark's fixed shape) into a temporary directory, run by
  the CPU provider with all graph optimisations.
* ort (tinyconv.onnx): the tinyconv model itself exported by ``tinyconv.onnx.export``
  (opset 17, dynamic batch), run by onnxruntime with the same session options; its output is
  also compared with tinyconv's own (NumPy path), which it must equal within 1e-4 relative.

``--threads`` sets PyTorch's threads, onnxruntime's intra-op threads, tinyconv's, Numba's and
NumPy's BLAS threads alike. Reported: the median time per batch in alternating rounds
(``common.alternate``), images/s, the ratio PyTorch time / system time (> 1: faster than
PyTorch) and the largest difference of each system's output from PyTorch's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import (  # noqa: E402  (common sets the thread environment before NumPy loads)
    TORCH,
    alternate,
    kernel_paths,
    load_line,
    machine_line,
    ort_session,
    print_table,
    set_threads,
    system_name,
    timings,
    torch_twin,
    under_kernels,
)

# isort: split
import numpy as np  # noqa: E402

ORT = "onnxruntime"
ORT_TC = "ort (tinyconv.onnx)"  # onnxruntime on the file tinyconv.onnx.export wrote
DEFAULT_MODELS = "simple_convnet:100,deep_convnet:100,resnet18:8"


def zoo_torch_model(name: str) -> tuple[object, str]:
    """The PyTorch network of the same name: torchvision's, else the tests' plain-PyTorch twin."""
    try:
        import torchvision

        kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
        return getattr(torchvision.models, name)(weights=None, **kwargs), "torchvision"
    except ImportError:
        sys.path.insert(0, str(HERE.parent / "tests"))
        import torch_reference_models as ref

        builders = {
            "resnet18": ref.resnet18,
            "resnet50": ref.resnet50,
            "googlenet": ref.GoogLeNet,
            "alexnet": ref.AlexNet,
            "vgg11": lambda: ref.VGG("A"),
            "vgg16": lambda: ref.VGG("D"),
            "vgg16_bn": lambda: ref.VGG("D", True),
        }
        if name not in builders:
            raise SystemExit(f"no plain-PyTorch twin of {name}; install torchvision") from None
        return builders[name](), "tests/torch_reference_models.py"


def torch_model_for(model: object, name: str) -> tuple[object, str]:
    """PyTorch's copy of the tinyconv ``model``: its Sequential twin, else the zoo's network."""
    import torch

    from tinyconv import models

    try:
        return torch_twin(model), "common.torch_twin"
    except NotImplementedError:
        twin, source = zoo_torch_model(name)
        state = {k: torch.from_numpy(v) for k, v in models.torch_state_dict(model).items()}
        twin.load_state_dict(state, strict=True)
        return twin, source


def ort_tinyconv_session(model: object, threads: int, workdir: str) -> object:
    """onnxruntime running ``model`` as ``tinyconv.onnx.export`` writes it (input "input")."""
    import onnxruntime as ort

    from tinyconv.onnx import export

    path = export(model, os.path.join(workdir, f"tinyconv{len(os.listdir(workdir))}.onnx"))
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # BatchNorm's num_batches_tracked initializers are unused: no news
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def bench_model(
    name: str, batch: int, paths: list[str], args: argparse.Namespace, workdir: str
) -> dict[str, object]:
    import torch

    import tinyconv
    from tinyconv import models

    tinyconv.manual_seed(0)
    model = models.get(name).eval()
    twin, source = torch_model_for(model, name)
    twin.eval()
    shape = (batch, *model.input_shape)
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    xc, xt = tinyconv.tensor(x), torch.from_numpy(x)

    def run_tc() -> np.ndarray:
        with tinyconv.no_grad():
            return model(xc).numpy()

    def run_torch() -> np.ndarray:
        with torch.inference_mode():
            return twin(xt).numpy()

    fns = {system_name(p): under_kernels(p, run_tc) for p in paths}
    fns[TORCH] = run_torch
    if not args.no_onnxruntime:
        session = ort_session(twin, x, args.threads, workdir)
        fns[ORT] = lambda: session.run(None, {"x": x})[0]
        tc_session = ort_tinyconv_session(model, args.threads, workdir)
        fns[ORT_TC] = lambda: tc_session.run(None, {"input": x})[0]
    ref = run_torch()
    scale = float(np.abs(ref).max()) + 1e-30
    err = {k: float(np.abs(np.asarray(f()) - ref).max()) / scale for k, f in fns.items()}
    if ORT_TC in fns:  # the exported file against tinyconv itself
        mine = under_kernels("numpy", run_tc)()
        gap = float(np.abs(fns[ORT_TC]() - mine).max()) / (float(np.abs(mine).max()) + 1e-30)
        if gap > 1e-4:
            raise SystemExit(f"{name}: onnxruntime on tinyconv.onnx.export differs by {gap:.1e}")
        err["ort (tinyconv.onnx) vs tinyconv (numpy)"] = gap
    t = alternate(fns, args.steps, args.warmup, round_steps=3)
    return {
        "name": f"{name} {'x'.join(map(str, model.input_shape))}",
        "batch": batch,
        **timings(t),
        "err": err,
        "source": source,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--models", default=DEFAULT_MODELS, help="name:batch, comma separated")
    ap.add_argument("--steps", type=int, default=12, help="timed batches per system (median)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--kernels", choices=("both", "numba", "numpy"), default="both")
    ap.add_argument("--no-onnxruntime", action="store_true", help="leave onnxruntime out")
    args = ap.parse_args()
    set_threads(args.threads)
    paths = kernel_paths(args.kernels)
    systems = [system_name(p) for p in paths] + [TORCH]
    systems += [] if args.no_onnxruntime else [ORT, ORT_TC]
    print(machine_line(args.threads))
    print(
        f"dtype: float32 | eval mode, no autograd | median of {args.steps} batches per system "
        f"in alternating rounds of 3 ({', '.join(systems)}), after {args.warmup} warm-up "
        "batches | ratio = PyTorch time / system time"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyconv-bench-onnx-") as workdir:
        for item in args.models.split(","):
            name, _, batch_text = item.partition(":")
            r = bench_model(name, int(batch_text or 1), paths, args, workdir)
            rows.append(r)
            diffs = ", ".join(f"{k} {v:.1e}" for k, v in r["err"].items() if k != TORCH)
            print(f"  {r['name']}: PyTorch model {r['source']}; max rel diff from it: {diffs}")
    print_table("inference", rows, systems)
    print_table("the same, fastest batch (min)", rows, systems, key="ms_min")
    print(f"\nafter: {load_line()}")


if __name__ == "__main__":
    main()
