"""The MCP server's view of its link to the bridge: said in its log, and on ``/healthz``.

An MCP server whose bridge is unreachable answers every tool with an error; an operator
should not have to ask a model to find that out. :class:`LinkWatch` logs a warning as
soon as the link is down (the first failed attempt, within the client's connect timeout),
repeats it once per ``remind_s`` while it stays down, and logs when it is back;
:meth:`LinkWatch.health` is what ``GET /healthz`` answers (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from ai_connect.client import BridgeClient, LinkState

__all__ = ["LinkWatch"]

log = logging.getLogger("ai_connect.mcp")


class LinkWatch:
    """Watches one client's link; no polling: it waits for state changes."""

    def __init__(
        self,
        client: BridgeClient,
        *,
        remind_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.remind_s = remind_s
        self._clock = clock
        self._down_since: float | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="ai-connect link watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def health(self) -> tuple[bool, str]:
        """``(True, "ok")`` while the link is up, else ``(False, why)``."""
        client = self.client
        if client.connected:
            return True, "ok"
        since = ""
        if self._down_since is not None:
            since = f" for {self._clock() - self._down_since:.0f} s"
        why = client.last_error or "not connected yet"
        return False, f"no link to the bridge at {client.url} ({client.state}{since}): {why}"

    async def _until(self, states: tuple[LinkState, ...], timeout: float | None) -> None:
        """Returns once the link reaches one of ``states``, or after ``timeout``."""
        waits = [
            asyncio.ensure_future(self.client.wait_state(state, float("inf"))) for state in states
        ]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _watch(self) -> None:
        client, up, down = self.client, LinkState.CONNECTED, LinkState.RECONNECTING
        while True:
            if client.connected:
                if self._down_since is not None:
                    away = self._clock() - self._down_since
                    log.info("reached the bridge at %s again after %.0f s", client.url, away)
                    self._down_since = None
                await self._until((down, LinkState.CLOSED), None)
            elif client.state is LinkState.CLOSED:
                log.error("gave up on the bridge at %s: %s", client.url, client.last_error)
                return
            elif client.state is down:
                why = client.last_error or "not connected"
                if self._down_since is None:
                    self._down_since = self._clock()
                    log.warning(
                        "cannot reach the bridge at %s: %s; retrying (tools answer with an "
                        "error until it is back)",
                        client.url,
                        why,
                    )
                else:
                    away = self._clock() - self._down_since
                    log.warning(
                        "still no link to the bridge at %s after %.0f s: %s", client.url, away, why
                    )
                await self._until((up, LinkState.CLOSED), self.remind_s)
            else:  # connecting
                await self._until((up, down, LinkState.CLOSED), None)
