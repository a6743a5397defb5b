"""Writes every (module, name) pair of every ``__all__`` at a commit: test data for old paths.

Usage: ``.venv/bin/python scripts/public_names.py COMMIT > tests/data/public_names_COMMIT.txt``

The commit's ``src/`` is exported with ``git archive`` into a temporary directory and
walked in a fresh interpreter, so the names come from that commit, not the work tree.
Each line is ``module name``; a module with an empty ``__all__`` gets a line of its own
(``module``), so that importing it is checked too.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

WALK = """
import importlib, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import ai_connect
assert ai_connect.__file__.startswith(sys.argv[1]), ai_connect.__file__
names = [ai_connect.__name__]
names += [i.name for i in pkgutil.walk_packages(ai_connect.__path__, prefix="ai_connect.")]
for name in sorted(names):
    exported = list(getattr(importlib.import_module(name), "__all__", []))
    print(name) if not exported else [print(name, item) for item in sorted(exported)]
"""


def main(commit: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", commit, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        src = str(Path(tmp) / "src")
        out = subprocess.run(
            [sys.executable, "-c", WALK, src], check=True, capture_output=True, text=True
        )
    print(f"# every public name at {commit}: scripts/public_names.py {commit}")
    sys.stdout.write(out.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
