"""``python -m ai_connect``: the ``ai-connect`` command."""

import sys

from ai_connect.launch import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
