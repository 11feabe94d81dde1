"""The ``onnx`` package, imported only when an ONNX function runs (extra ``tinyconv[onnx]``)."""

from __future__ import annotations

from typing import Any


def require_onnx(what: str) -> Any:
    """Return the ``onnx`` module, or raise ImportError saying how to install it.

    Raises:
        ImportError: naming ``what`` needed it and the pip command.
    """
    try:
        import onnx  # noqa: PLC0415 - the optional extra is imported when first needed
    except ImportError as e:
        raise ImportError(
            f"{what} needs the onnx package: pip install 'tinyconv[onnx]' (or pip install onnx)"
        ) from e
    return onnx
