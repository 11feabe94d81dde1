"""The complete op table: ``run_ops``, ``run_ops_modern`` and ``run_resize`` (``SUPPORTED``)."""

from __future__ import annotations

from . import run_ops_modern, run_resize  # noqa: F401  (add their ops to OPS)
from .run_ops import OPS, run_node

SUPPORTED = frozenset(OPS)

__all__ = ["OPS", "SUPPORTED", "run_node"]
