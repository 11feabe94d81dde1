"""``python -m tinyconv ...``: the same as the ``tinyconv`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
