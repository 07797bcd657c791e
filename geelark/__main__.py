"""``python -m geelark``: see :mod:`geelark.cli`."""

import sys

from geelark.cli import main

if __name__ == "__main__":
    sys.exit(main())
