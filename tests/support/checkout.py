"""A throwaway git checkout for the tests of work status (tests/hooks, tests/claude_e2e)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["git_checkout"]


def git_checkout(root: Path, remote: str = "git@github.com:Org/App.git") -> Path:
    """``root`` as a git checkout on ``main`` with one commit, remote ``origin`` and one
    untracked file (``src/app.py``)."""
    root.mkdir(parents=True)
    for argv in (
        ["init", "-q", "-b", "main"],
        ["remote", "add", "origin", remote],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(["git", "-C", str(root), *argv], check=True, capture_output=True)
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print(1)\n")
    return root
