"""Differentiable operations: one family per file, each Function's forward and backward side by side."""
