"""Differentiable operations: one family per file, forward and backward side by side.

Importing this package binds Tensor's operators and math methods (``tensor_methods.py``).
"""

from . import tensor_methods  # noqa: F401  (binds a + b, t.sum(), t.reshape()... to Tensor)
