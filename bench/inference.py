"""Inference throughput of the model zoo: tinyconv and PyTorch side by side in one process.

    python bench/inference.py                       # resnet18 batch 8 and vgg16 batch 1
    python bench/inference.py --threads 1 --steps 5
    python bench/inference.py --models resnet18:8,resnet50:4,googlenet:8

Both systems run the same architecture with the same weights (tinyconv's random weights,
copied by name into the PyTorch model: torchvision's if it is installed, otherwise the
plain-PyTorch twin from tests/torch_reference_models.py), in eval mode, float32, 3x224x224,
without autograd (``tinyconv.no_grad`` / ``torch.inference_mode``), with the same number of
threads (``torch.set_num_threads`` and threadpoolctl for NumPy's BLAS). Reported: the median
time per batch, images/s for both, and the ratio tinyconv / PyTorch (> 1: tinyconv faster).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import alternate, machine_line, median_ms, set_threads  # noqa: E402


def torch_model(name: str) -> tuple[object, str]:
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


def bench_model(name: str, batch: int, steps: int, warmup: int) -> dict[str, float | str]:
    import torch

    import tinyconv
    from tinyconv import models

    tinyconv.manual_seed(0)
    model = models.get(name).eval()
    twin, source = torch_model(name)
    state = {k: torch.from_numpy(v) for k, v in models.torch_state_dict(model).items()}
    twin.load_state_dict(state, strict=True)
    twin.eval()
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    xc, xt = tinyconv.tensor(x), torch.from_numpy(x)

    def run_tc() -> np.ndarray:
        with tinyconv.no_grad():
            return model(xc).numpy()

    def run_torch() -> np.ndarray:
        with torch.inference_mode():
            return twin(xt).numpy()

    a, b = run_tc(), run_torch()
    err = float(np.abs(a - b).max() / (np.abs(b).max() + 1e-30))
    t = alternate({"tinyconv": run_tc, "torch": run_torch}, steps, warmup)
    ms_tc, ms_torch = median_ms(t["tinyconv"]), median_ms(t["torch"])
    return {"tc": ms_tc, "torch": ms_torch, "err": err, "source": source}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--models", default="resnet18:8,vgg16:1", help="name:batch, comma separated")
    ap.add_argument(
        "--steps", type=int, default=10, help="timed batches per system (median reported)"
    )
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    set_threads(args.threads)
    print(machine_line(args.threads))
    print(
        f"dtype: float32 | input 3x224x224 | eval mode, no autograd | median of {args.steps} "
        f"batches, alternating tinyconv/torch, after {args.warmup} warm-up batches"
    )
    head = (
        f"{'model':<12}{'batch':>6}{'tinyconv':>12}{'torch':>12}{'tc img/s':>10}{'torch img/s':>13}"
    )
    print(f"\n{head}{'ratio':>8}{'max rel diff':>14}  torch model")
    for item in args.models.split(","):
        name, _, batch_text = item.partition(":")
        batch = int(batch_text or 1)
        r = bench_model(name, batch, args.steps, args.warmup)
        ia, ib = batch / r["tc"] * 1000, batch / r["torch"] * 1000
        print(
            f"{name:<12}{batch:>6}{r['tc']:>10.1f}ms{r['torch']:>10.1f}ms{ia:>10.2f}{ib:>13.2f}"
            f"{ia / ib:>7.2f}x{r['err']:>14.1e}  {r['source']}"
        )


if __name__ == "__main__":
    main()
