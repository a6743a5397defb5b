"""Publishing a session's work status: coalesced, only when it changed (asyncio).

:class:`Publisher` runs in the session's MCP server. Hooks hand it Observations over the
local link (:mod:`.link`); it applies them to its :class:`~.tracker.Tracker`, reads git
(in a thread: off the hook's path and off the event loop) and sends one ``work`` frame on
the server's own bridge connection when the status differs from the last one sent. While
a round runs, further Observations wait and are taken together in the next: at most one
frame per hook run, none when nothing changed. It publishes nothing until a hook has
spoken (no hooks, or a user who turned publishing off: no status at all).

:func:`publish_once` is the same round for a hook without such a server: the tracker
lives in a small file between hook runs, and the frame goes on the hook's own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from ai_connect.client import BridgeClient
from ai_connect.errors import BridgeError
from ai_connect.protocol import WorkFields
from ai_connect.repo_identity import RepoIdentity, repo_identity
from ai_connect.waiting import wait_event
from ai_connect.work_status import link
from ai_connect.work_status.git import read_git
from ai_connect.work_status.observe import Observation
from ai_connect.work_status.settings import StatusSettings
from ai_connect.work_status.tracker import GitState, Tracker

__all__ = ["Publisher", "publish_once", "publishing"]

log = logging.getLogger("ai_connect.mcp")

RETRY_S = 30.0
"""While the bridge is unreachable, how often the publisher looks whether it is back."""

ReadGit = Callable[[Path], GitState | None]
Identify = Callable[[Path], RepoIdentity | None]


class Publisher:
    """One session's status, published on ``client`` whenever it changes."""

    def __init__(
        self,
        client: BridgeClient,
        settings: StatusSettings,
        cwd: Path,
        *,
        read: ReadGit = read_git,
        identify: Identify = repo_identity,
    ) -> None:
        self.client = client
        self.settings = settings
        self.tracker = Tracker()
        self.sent: WorkFields | None = None
        """The last status the bridge was sent."""
        self.frames = 0
        """``work`` frames sent (bench/status_bench.py reads it)."""
        self._cwd = cwd
        self._read, self._identify = read, identify
        self._repos: dict[Path, RepoIdentity | None] = {}
        self._pending: list[Observation] = []
        self._heard = False
        self._due = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def take(self, observation: Observation) -> None:
        """A hook's Observation (the local link calls this): published soon."""
        if not self.settings.publish:
            return
        if not self._heard:  # once: from here on this server publishes its session's status
            log.info("work status: a hook reported (%s); published on changes from now on",
                     observation.activity or "files")  # fmt: skip
        self._pending.append(observation)
        self._heard = True
        self._due.set()
        self._idle.clear()

    def waiting(self, on: bool) -> None:
        """The model waits for a peer (``peer_wait``), or stopped waiting."""
        self.tracker.waiting = on
        if self._heard:
            self._due.set()
            self._idle.clear()

    async def settled(self, timeout: float) -> None:
        """Returns once everything taken so far has been published (while the bridge is
        unreachable, not before it is back); raises TimeoutError after ``timeout``."""
        if not await wait_event(self._idle, timeout):
            raise TimeoutError(f"not everything was published within {timeout:g} s")

    async def run(self) -> None:
        """Publishes until cancelled."""
        await asyncio.gather(self._publish(), self._relink())

    async def _publish(self) -> None:
        while True:
            await self._due.wait()
            try:
                await self._round()
            except Exception:  # a round that breaks must not end the publishing, unsaid
                log.exception("work status: a round failed; the next hook report tries again")
                if not self._due.is_set():
                    self._idle.set()

    async def _relink(self) -> None:
        """After each reconnect, the last status once more (the bridge drops a repeat):
        one that could not be sent, or was lost with the link (or with a bridge's
        database), goes out now."""
        while True:
            await self.client.wait_disconnected()
            with contextlib.suppress(BridgeError):  # not back within RETRY_S: wait on
                await self.client.wait_connected(RETRY_S)
                if self._heard:
                    self.sent = None
                    self._due.set()
                    self._idle.clear()

    async def _repo(self, cwd: Path) -> RepoIdentity | None:
        if cwd not in self._repos:
            self._repos[cwd] = await asyncio.to_thread(self._identify, cwd)
        return self._repos[cwd]

    async def _round(self) -> None:
        self._due.clear()
        pending, self._pending = self._pending, []
        for observation in pending:
            if observation.cwd:
                self._cwd = Path(observation.cwd)
        repo = await self._repo(self._cwd)
        for observation in pending:
            self.tracker.apply(observation, repo.root if repo else None)
        git = await asyncio.to_thread(self._read, repo.root) if repo else None
        status = self.tracker.status(repo.key if repo else None, git, self.settings.task_summary)
        if status != self.sent:
            try:
                await self.client.publish_work(status)
            except BridgeError as exc:
                log.info(
                    "work status %s not published (%s); sent once the link is back",
                    status.activity, exc,
                )  # fmt: skip
                return  # settled() waits on: _relink sends it once the link is back
            self.sent = status
            self.frames += 1
        if not self._due.is_set():
            self._idle.set()


FLUSH_S = 1.0
"""At the end, how long the server waits for what its hooks handed it to go out."""


@contextlib.asynccontextmanager
async def publishing(
    client: BridgeClient, settings: StatusSettings, sock: Path | None, cwd: Path
) -> AsyncIterator[Publisher | None]:
    """A Publisher on ``client`` taking Observations on the socket ``sock`` while open
    (``None`` and nothing listens when ``sock`` is ``None``: publishing is off)."""
    if sock is None or not settings.publish:
        yield None
        return
    publisher = Publisher(client, settings, cwd)
    async with contextlib.AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(link.serving(sock, publisher.take))
        except OSError as exc:  # a socket path too long, a full disk: no status, no harm
            log.warning("work status is off: cannot listen on %s (%s)", sock, exc)
            yield None
            return
        task = asyncio.create_task(publisher.run())
        try:
            yield publisher
        finally:
            with contextlib.suppress(TimeoutError):
                await publisher.settled(FLUSH_S)  # what the last hooks said goes out
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _load(path: Path) -> tuple[Tracker, dict[str, object] | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Tracker(), None
    if not isinstance(data, dict):
        return Tracker(), None
    sent = data.get("sent")
    return Tracker.from_dict(data), sent if isinstance(sent, dict) else None


def _save(path: Path, tracker: Tracker, sent: WorkFields | None) -> None:
    data = {**tracker.as_dict(), "sent": sent.model_dump() if sent is not None else None}
    tmp = path.with_suffix(".tmp")
    with contextlib.suppress(OSError):
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)


async def publish_once(
    client: BridgeClient,
    observation: Observation,
    settings: StatusSettings,
    state: Path,
    *,
    read: ReadGit = read_git,
    identify: Identify = repo_identity,
) -> bool:
    """A hook without an MCP server to hand to: one round, its tracker kept in ``state``
    (a file of the session's own) between hook runs. ``True`` if a frame went out."""
    if not settings.publish:
        return False
    tracker, sent = _load(state)
    cwd = Path(observation.cwd) if observation.cwd else Path.cwd()
    repo = await asyncio.to_thread(identify, cwd)
    tracker.apply(observation, repo.root if repo else None)
    git = await asyncio.to_thread(read, repo.root) if repo else None
    status = tracker.status(repo.key if repo else None, git, settings.task_summary)
    published = sent is None or status.model_dump() != sent
    if published:
        await client.publish_work(status)
    _save(state, tracker, status)
    return published
