"""Which repository a checkout is, the same answer on every machine.

Two clones of one repository (on two machines, in two folders, one cloned over ssh and
one over https) must name the same repository, so that work status, file leases and
context references can be matched across them. The identity is the checkout's remote URL,
normalised: scheme, user, password, port and a trailing ``.git`` dropped, host and path
lower-cased — ``git@github.com:Org/App.git`` and ``https://github.com/org/app`` are both
``github.com/org/app``. A checkout without a remote is named by its folder name
(``local/<name>``), which only matches a clone of the same name.

Credentials in a remote URL never leave this module. Synchronous (runs ``git`` with a
timeout); callers on an event loop use ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "GIT_TIMEOUT_S",
    "RepoIdentity",
    "git",
    "normalise_remote",
    "repo_identity",
    "repo_root",
]

GIT_TIMEOUT_S = 3.0

_SCP_RE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>(?!//).*)$")


@dataclass(frozen=True, slots=True)
class RepoIdentity:
    """A checkout: its root on this machine and the key it shares with its clones."""

    root: Path
    key: str
    """``host/path`` of the normalised remote, or ``local/<folder name>``."""
    name: str
    """The repository's short name (the last part of ``key``)."""


def normalise_remote(url: str) -> str | None:
    """``host/path`` for a remote URL, lower-case, without credentials, port or ``.git``.

    ``None`` when ``url`` names no repository. Local paths (``/srv/git/app.git``,
    ``file:///srv/git/app``) become ``local/<path>``.
    """
    url = url.strip()
    if not url:
        return None
    host: str
    path: str
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme.lower() == "file":
            host, path = "local", parts.path
        else:
            host, path = parts.hostname or "", parts.path
    elif (scp := _SCP_RE.match(url)) is not None and not url.startswith(("/", ".")):
        host, path = scp.group("host"), scp.group("path")
    else:
        host, path = "local", url
    path = path.strip().strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")].rstrip("/")
    if path.startswith("~"):  # ssh://host/~user/repo
        path = path[1:]
    host = host.strip().lower()
    if not host or not path:
        return None
    return f"{host}/{path.lower()}"


def git(cwd: Path, *args: str, strip: bool = False) -> str | None:
    """Runs ``git ARGS`` in ``cwd``: its stdout (``strip``: without the white space around
    it), or ``None`` if git failed, timed out or is missing. Never locks the index."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() if strip else done.stdout


def repo_root(cwd: Path) -> Path | None:
    """The top of the git work tree holding ``cwd``; ``None`` outside git."""
    top = git(cwd, "rev-parse", "--show-toplevel", strip=True)
    return Path(top).resolve() if top else None


def _remote_url(root: Path) -> str | None:
    url = git(root, "remote", "get-url", "origin", strip=True)
    if url:
        return url
    names = git(root, "remote", strip=True)
    if not names:
        return None
    first = sorted(names.split())[0]
    return git(root, "remote", "get-url", first, strip=True)


def repo_identity(cwd: Path) -> RepoIdentity | None:
    """The identity of the checkout holding ``cwd``; ``None`` outside git."""
    root = repo_root(cwd)
    if root is None:
        return None
    remote = _remote_url(root)
    key = normalise_remote(remote) if remote else None
    if key is None:
        key = f"local/{root.name.lower()}"
    return RepoIdentity(root=root, key=key, name=key.rsplit("/", 1)[-1])
