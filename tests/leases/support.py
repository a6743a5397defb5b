"""Two clones of one repository, with their remote spelt two ways (ssh and https)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["clones", "git"]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, timeout=30)


def clones(tmp: Path) -> tuple[Path, Path]:
    """``a`` (origin over ssh) and ``b`` (origin over https) of github.com/org/app, each
    with ``src/app.py``."""
    made = []
    for name, url in (("a", "git@github.com:Org/App.git"), ("b", "https://github.com/org/app")):
        root = tmp / name / "app"
        (root / "src").mkdir(parents=True)
        (root / "src" / "app.py").write_text("print('hello')\n", encoding="utf-8")
        git(root, "init", "-q")
        git(root, "remote", "add", "origin", url)
        made.append(root)
    return made[0], made[1]
