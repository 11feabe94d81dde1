#!/usr/bin/env python3
"""Moved into the package: ``tinyconv convert SRC.pth [DST.safetensors] [--key K]``.

This script only forwards to it (``tinyconv.models.pth``), which reads the .pth archive's
pickle opcodes without unpickling anything and needs neither torch nor safetensors.
"""

from __future__ import annotations

import sys

from tinyconv.cli import main as tinyconv_main


def main(argv: list[str] | None = None) -> int:
    return tinyconv_main(["convert", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
