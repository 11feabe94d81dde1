"""The complete op table: ``run_ops`` and ``run_ops_modern`` together (``SUPPORTED``)."""

from __future__ import annotations

from . import run_ops_modern  # noqa: F401  (adds its ops to OPS)
from .run_ops import OPS, run_node

SUPPORTED = frozenset(OPS)

__all__ = ["OPS", "SUPPORTED", "run_node"]
