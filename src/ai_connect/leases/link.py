"""The MCP server's side of the pre-edit hook: a Unix socket that answers lease checks.

An agent runs its pre-edit hook before every edit, so the check must cost milliseconds:
the hook (:mod:`ai_connect.leases.front`, standard library only) does not load the client
library or open a connection of its own. It asks the session's running MCP server over
this socket (one JSON line each way); the server, already on the bridge, asks the bridge
(``lease_check``, which also renews this session's own leases on the files) and answers
with a decision: ``allow``, ``warn`` (the model is told who holds the file; the edit goes
ahead) or ``deny`` (by configuration, ``leases.on_conflict``).

It never blocks an edit because something is down: a bridge that cannot be reached, or
does not answer within :data:`CHECK_TIMEOUT_S`, gives ``allow`` — with a note for the
model the first time (once per outage), so that it knows leases are not being checked.

Socket: :func:`ai_connect.hooks.agent_link.lease_socket` of the agent's pid (mode 0600,
in the user's private runtime folder).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from ai_connect.client import BridgeClient
from ai_connect.config import lease_settings
from ai_connect.errors import BridgeError
from ai_connect.hooks import agent_link
from ai_connect.protocol import LeaseConflict
from ai_connect.repo_identity import RepoIdentity, repo_identity
from ai_connect.text.leases import edit_conflict_text

__all__ = ["CHECK_TIMEOUT_S", "LeaseLink", "find_root", "serving"]

log = logging.getLogger("ai_connect.leases")

CHECK_TIMEOUT_S = 1.5
"""The bridge's answer is awaited this long; then the edit goes ahead (fail open)."""
_MAX_REQUEST = 256 * 1024


def find_root(path: Path) -> Path | None:
    """The work tree holding ``path``: the nearest folder with a ``.git`` (stat calls
    only, no ``git``: this runs on every edit)."""
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _unicode(text: str) -> bool:
    """Whether ``text`` is Unicode text (a file name of bytes that are not UTF-8 comes as
    lone surrogates, which no frame can carry)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _locate(cwd: Path, items: list[Any]) -> list[tuple[Path, str]]:
    """(work tree, repo-relative POSIX path) of each path in a repository; the others
    (outside any repository: nothing can be leased there) are left out."""
    found = []
    for item in items:
        if not isinstance(item, str) or not item or not _unicode(item):
            continue  # a name of bytes that are not UTF-8: no lease can name it
        full = Path(os.path.normpath(cwd / item))
        root = find_root(full.parent)
        if root is not None:
            found.append((root, full.relative_to(root).as_posix()))
    return found


class LeaseLink:
    """Answers ``{"paths": [...], "cwd": ...}`` with ``{"decision": ..., "text": ...}``."""

    def __init__(
        self,
        client: BridgeClient,
        *,
        env: Mapping[str, str] | None = None,
        identify: Callable[[Path], RepoIdentity | None] = repo_identity,
        now: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.client = client
        self._env = os.environ if env is None else env
        self._identify = identify
        self._now = now or time.time
        self._repos: dict[Path, RepoIdentity | None] = {}
        self._said_down = False

    async def repo_of(self, root: Path) -> RepoIdentity | None:
        if root not in self._repos:
            self._repos[root] = await asyncio.to_thread(self._identify, root)
        return self._repos[root]

    async def answer(self, request: Mapping[str, Any]) -> dict[str, str]:
        """The decision for one check (never raises: a bad request is allowed)."""
        raw = request.get("paths")
        cwd = Path(str(request.get("cwd") or os.getcwd()))
        if not isinstance(raw, list) or not raw:
            return {"decision": "allow", "text": ""}
        by_repo: dict[str, list[str]] = {}
        for root, relative in _locate(cwd, raw[:64]):
            repo = await self.repo_of(root)
            if repo is not None:
                by_repo.setdefault(repo.key, []).append(relative)
        if not by_repo:
            return {"decision": "allow", "text": ""}
        conflicts: list[LeaseConflict] = []
        try:
            if not self.client.connected:
                raise BridgeError(self.client.last_error or "not connected")
            for key, paths in by_repo.items():
                report = await self.client.lease_check(key, paths, timeout=CHECK_TIMEOUT_S)
                conflicts += report.conflicts
        except BridgeError as exc:
            return self._down(str(exc))
        self._said_down = False
        if not conflicts:
            return {"decision": "allow", "text": ""}
        try:
            deny = lease_settings(self._env).on_conflict == "deny"
        except BridgeError as exc:  # a bad setting must not stop the warning
            log.warning("%s; warning instead", exc)
            deny = False
        text = edit_conflict_text(conflicts, self._now(), deny=deny)
        return {"decision": "deny" if deny else "warn", "text": text}

    def _down(self, why: str) -> dict[str, str]:
        """Fail open; tell the model once per outage."""
        if self._said_down:
            return {"decision": "allow", "text": ""}
        self._said_down = True
        return {
            "decision": "allow",
            "text": f"ai-connect: file leases are not checked right now (the bridge: {why}); "
            "edits go ahead. peer_status shows when it is back.",
        }

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            try:
                request = json.loads(line[:_MAX_REQUEST]) if line else {}
            except ValueError:
                request = {}
            answer = await self.answer(request if isinstance(request, dict) else {})
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (OSError, TimeoutError) as exc:  # the hook gave up or went away
            log.debug("lease link: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def serving(
    client: BridgeClient, *, env: Mapping[str, str] | None = None, agent: int | None = None
) -> AsyncIterator[Path | None]:
    """Serves this MCP server's lease link while open; yields its socket (``None`` when it
    cannot be made: hooks then take their slow path)."""
    agent = os.getppid() if agent is None else agent
    try:
        path = agent_link.lease_socket(agent, env)
        agent_link.private_dir(path.parent.parent)
        agent_link.private_dir(path.parent)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        link = LeaseLink(client, env=env)
        server = await asyncio.start_unix_server(link.handle, path)
        os.chmod(path, 0o600)
    except (OSError, BridgeError) as exc:
        log.warning("no lease link for pre-edit hooks (%s): they will be slower", exc)
        yield None
        return
    try:
        yield path
    finally:
        server.close()
        with contextlib.suppress(OSError):
            path.unlink()
