"""Two checkouts of one repository, as two agents on two machines have them: alice's with
an ssh remote, bob's cloned into another folder with the https spelling of the same remote
(one repository for :mod:`ai_connect.repo_identity`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["APP", "git", "two_clones"]

APP = "".join(f"def f{n}():\n    return {n}\n" for n in range(1, 201))
"""``src/app.py``: 400 lines, function ``fN`` at lines 2N-1 and 2N."""


def git(repo: Path, *args: str) -> str:
    """Runs git in ``repo`` (with an identity for commits); its stdout, stripped."""
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    )
    return done.stdout.strip()


def two_clones(base: Path) -> tuple[Path, Path]:
    """``base/alice/App`` (remote ``git@github.com:Org/App.git``) and its clone
    ``base/bob/work-copy`` (remote ``https://github.com/org/app``)."""
    alice = base / "alice" / "App"
    (alice / "src").mkdir(parents=True)
    (alice / "src" / "app.py").write_text(APP)
    (alice / "README.md").write_text("app\n")
    git(alice, "init", "-q", "-b", "main")
    git(alice, "add", ".")
    git(alice, "commit", "-q", "-m", "first")
    git(alice, "remote", "add", "origin", "git@github.com:Org/App.git")
    bob = base / "bob" / "work-copy"
    bob.parent.mkdir()
    git(bob.parent, "clone", "-q", str(alice), str(bob))
    git(bob, "remote", "set-url", "origin", "https://github.com/org/app")
    return alice, bob
