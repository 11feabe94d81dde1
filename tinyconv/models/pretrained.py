"""``models.get(name, pretrained=True)``: torchvision's published ImageNet weights.

The first call fetches torchvision's ``.pth`` file, reads it without unpickling
(``models.pth``), checks it against the hash in its name, and keeps it as safetensors in the
user cache; every later call reads that file alone. The cache is ``$TINYCONV_WEIGHTS`` when
set, else ``<user cache>/tinyconv/weights`` (``~/.cache/tinyconv/weights`` on Linux). A
``.pth`` already in that folder or in PyTorch's own cache (``$TORCH_HOME/hub/checkpoints``,
``~/.cache/torch/hub/checkpoints``) is converted without downloading: offline, copy the file
there.

    model = models.get("resnet18", pretrained=True)     # 1000 ImageNet classes, eval() mode
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..nn.module import Module

BASE_URL = "https://download.pytorch.org/models/"

# tinyconv name -> torchvision's file (IMAGENET1K_V1 weights; the name ends in the first
# hex digits of the file's SHA-256, as torch.hub checks them). Not googlenet: torchvision's file
# carries the auxiliary heads and expects transform_input, which tinyconv's googlenet lacks.
# The newer models' files are torchvision's IMAGENET1K_V1 too (mobilenet_v2 and
# mobilenet_v3_large also have V2 files, same names inside); a file PyTorch wrote before 1.6
# (not a zip archive) is refused by ``models.pth`` with a message saying so.
TORCHVISION_FILES = {
    "alexnet": "alexnet-owt-7be5be79.pth",
    "resnet18": "resnet18-f37072fd.pth",
    "resnet34": "resnet34-b627a593.pth",
    "resnet50": "resnet50-0676ba61.pth",
    "vgg11": "vgg11-8a719046.pth",
    "vgg13": "vgg13-19584684.pth",
    "vgg16": "vgg16-397923af.pth",
    "vgg19": "vgg19-dcbb9e9d.pth",
    "vgg11_bn": "vgg11_bn-6002323d.pth",
    "vgg13_bn": "vgg13_bn-abd245e5.pth",
    "vgg16_bn": "vgg16_bn-6c64b313.pth",
    "vgg19_bn": "vgg19_bn-c79401a0.pth",
    "mobilenet_v2": "mobilenet_v2-b0353104.pth",
    "mobilenet_v3_small": "mobilenet_v3_small-047dcff4.pth",
    "mobilenet_v3_large": "mobilenet_v3_large-8738ca79.pth",
    "efficientnet_b0": "efficientnet_b0_rwightman-7f5810bc.pth",
    "shufflenet_v2_x1_0": "shufflenetv2_x1-5666bf0f80.pth",
    "convnext_tiny": "convnext_tiny-983f1562.pth",
}


def weights_dir() -> Path:
    """Where converted weights are kept: ``$TINYCONV_WEIGHTS``, else the user cache."""
    env = os.environ.get("TINYCONV_WEIGHTS")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs  # noqa: PLC0415

        base = Path(platformdirs.user_cache_dir("tinyconv", appauthor=False))
    except ImportError:
        base = Path.home() / ".cache" / "tinyconv"
    return base / "weights"


def _torch_cache() -> Path:
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "torch"
    )
    return Path(home).expanduser() / "hub" / "checkpoints"


def _check_hash(path: Path, filename: str) -> None:
    """The file's SHA-256 must start with the hex digits after the last "-" of its name."""
    expected = filename.rsplit("-", 1)[-1].removesuffix(".pth")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if not h.hexdigest().startswith(expected):
        raise OSError(
            f"{path}: its SHA-256 starts {h.hexdigest()[:8]}, not {expected} as its name says "
            "(a damaged or different file): delete it and try again"
        )


def pretrained_file(name: str) -> Path:
    """The safetensors file of torchvision's weights for ``name``, converted once if needed.

    Raises:
        ValueError: torchvision publishes no weights for ``name``.
        OSError: no copy here and the download failed (offline: the message says where to
            put the file), or the file does not match its hash.
    """
    if name not in TORCHVISION_FILES:
        raise ValueError(
            f"models.get({name!r}, pretrained=True): no published weights for {name!r}; "
            f"models with weights: {', '.join(sorted(TORCHVISION_FILES))}"
        )
    filename = TORCHVISION_FILES[name]
    folder = weights_dir()
    converted = folder / filename.replace(".pth", ".safetensors")
    if converted.is_file():
        return converted
    from .pth import convert_pth  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    for candidate in (folder / filename, _torch_cache() / filename):
        if candidate.is_file():
            _check_hash(candidate, filename)
            convert_pth(candidate, converted)
            return converted
    url = BASE_URL + filename
    part = folder / (filename + ".part")
    try:
        from ..data.download import fetch_url  # noqa: PLC0415

        fetch_url(url, part)
    except Exception as e:  # no network, HTTP error, pooch missing ...
        part.unlink(missing_ok=True)
        from ..data.download import _why  # noqa: PLC0415

        raise OSError(
            f"models.get({name!r}, pretrained=True): cannot download {url} ({_why(e)}); "
            f"offline, copy that file into {folder} (or {_torch_cache()}) and call again"
        ) from None
    try:
        _check_hash(part, filename)
        convert_pth(part, converted)
    finally:
        part.unlink(missing_ok=True)
    return converted


def load_pretrained(model: Module, name: str, path: Path | None = None) -> Module:
    """Copy torchvision's weights for ``name`` (from ``path``, default ``pretrained_file``)
    into ``model``, built for 1000 classes and 3 channels; returns it in eval() mode."""
    from .torch_weights import load_torch_state_dict  # noqa: PLC0415

    load_torch_state_dict(model, path or pretrained_file(name))
    return model.eval()
