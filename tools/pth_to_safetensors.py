#!/usr/bin/env python3
"""Convert a PyTorch ``.pth``/``.pt`` state dict into a ``.safetensors`` file for tinyconv.

Run this inside your own PyTorch environment; tinyconv itself never unpickles anything::

    python tools/pth_to_safetensors.py resnet18-f37072fd.pth resnet18.safetensors
    python -c "import tinyconv.models as m; net = m.resnet18(); \
        m.load_torch_state_dict(net, 'resnet18.safetensors')"

The file is read with ``torch.load(path, map_location="cpu", weights_only=True)``, which
refuses arbitrary pickled objects and keeps only tensors and plain containers. A checkpoint
that wraps the weights (``{"state_dict": {...}}`` or ``{"model": {...}}``) is unwrapped with
``--key``. Tensors are made contiguous and written with ``safetensors.torch.save_file``;
tensors that share memory are copied apart (safetensors stores each one on its own).

Needs: torch and safetensors (``pip install torch safetensors``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def extract_state_dict(obj: Any, key: str | None = None) -> dict[str, Any]:
    """The name -> tensor mapping inside ``obj`` (a state dict or a checkpoint holding one)."""
    import torch  # noqa: PLC0415

    if key is not None:
        for part in key.split("."):
            if not isinstance(obj, dict) or part not in obj:
                raise SystemExit(f"error: the checkpoint has no entry {key!r}")
            obj = obj[part]
    if not isinstance(obj, dict):
        raise SystemExit(
            f"error: expected a state dict (a dict of tensors), found {type(obj).__name__}"
        )
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        inner = [k for k, v in obj.items() if isinstance(v, dict)]
        hint = f"; try --key {inner[0]}" if inner else ""
        raise SystemExit(f"error: no tensors at the top level of the file{hint}")
    skipped = sorted(set(obj) - set(tensors))
    if skipped:
        print(f"skipping non-tensor entries: {', '.join(skipped)}", file=sys.stderr)
    return {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}


def convert(
    src: str | Path, dst: str | Path, key: str | None = None, strip_prefix: str = ""
) -> int:
    """Read ``src`` safely, write ``dst`` as safetensors; return the number of tensors."""
    import torch  # noqa: PLC0415
    from safetensors.torch import save_file  # noqa: PLC0415

    obj = torch.load(str(src), map_location="cpu", weights_only=True)
    state = extract_state_dict(obj, key)
    if strip_prefix:
        state = {k.removeprefix(strip_prefix): v for k, v in state.items()}
    save_file(state, str(dst), metadata={"format": "pt", "source": Path(src).name})
    return len(state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", help="the .pth / .pt file (a state dict)")
    parser.add_argument(
        "dst", nargs="?", help="output .safetensors (default: src with that suffix)"
    )
    parser.add_argument("--key", help="entry holding the state dict, e.g. state_dict or model")
    parser.add_argument("--strip-prefix", default="", help='remove this prefix, e.g. "module."')
    args = parser.parse_args(argv)
    dst = args.dst or str(Path(args.src).with_suffix(".safetensors"))
    n = convert(args.src, dst, args.key, args.strip_prefix)
    print(f"wrote {n} tensors to {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
