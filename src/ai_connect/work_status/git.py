"""The checkout's branch, HEAD and dirty-file count: one ``git status`` (I/O).

``git status --porcelain=v2 --branch -z -uall`` gives all three at once: ``# branch.oid``
and ``# branch.head`` headers, then one entry per changed or untracked file (``-uall``:
each file of a new folder counts, not the folder once; ignored files never do). Optional locks
are off (``GIT_OPTIONAL_LOCKS=0``): a status never competes with the user's own git.
Synchronous with a timeout, like :mod:`ai_connect.repo_identity`; asyncio callers use
``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ai_connect.repo_identity import GIT_TIMEOUT_S
from ai_connect.work_status.tracker import GitState

__all__ = ["SHORT", "parse_status", "read_git"]

SHORT = 7
"""Characters of the HEAD commit shown."""


def parse_status(text: str) -> GitState:
    """The GitState in the output of ``git status --porcelain=v2 --branch -z``."""
    branch: str | None = None
    head: str | None = None
    dirty = 0
    fields = iter(text.split("\0"))
    for entry in fields:
        if entry.startswith("# branch.oid "):
            oid = entry.removeprefix("# branch.oid ").strip()
            head = None if oid == "(initial)" else oid[:SHORT]
        elif entry.startswith("# branch.head "):
            name = entry.removeprefix("# branch.head ").strip()
            branch = None if name == "(detached)" else name
        elif entry[:2] in ("1 ", "u ", "? "):
            dirty += 1
        elif entry.startswith("2 "):  # a rename: its original path follows
            dirty += 1
            next(fields, None)
    return GitState(branch, head, dirty)


def read_git(root: Path) -> GitState | None:
    """The GitState of the checkout at ``root``; ``None`` if git cannot tell."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    argv = ["git", "-C", str(root), "status", "--porcelain=v2", "--branch", "-z", "-uall"]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_status(done.stdout) if done.returncode == 0 else None
