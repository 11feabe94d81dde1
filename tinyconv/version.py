"""The package version, in a module of its own so that ``io`` can write it into files."""

__version__ = "0.1.0"
