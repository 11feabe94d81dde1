"""PLACEHOLDER: optimizers being written."""
