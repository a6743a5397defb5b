"""``python -m ai_connect.cli``: the ``ai-connect`` command, as when cli was one module."""

import sys

from ai_connect.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
