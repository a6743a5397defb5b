"""Requests in flight, matched to their replies by ``rid`` (docs/protocol.md §1).

Every request a client sends carries a fresh ``rid`` and the bridge echoes it in the
reply, so a reply is found by its id, never by waiting (STYLE #5). A waiting request is
a future in ``rid -> future``, popped in ``finally`` whatever happens; its timeout names
the frame and the seconds; a link that goes down fails every one of them at once.

A ``send`` is not waited for here: its outcome belongs to the client's outbox, which
outlives a disconnect. Its ``rid`` is only looked up in ``rid -> cid``, so that its reply
(``accepted`` or ``error``) finds the outbox entry.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from ai_connect.errors import BridgeError, RequestRejected, RequestTimeout
from ai_connect.protocol import Error, Rid, ServerFrame
from ai_connect.waiting import bounded

__all__ = ["Pending", "Request", "Requester"]

_R = TypeVar("_R")


class Request(Protocol):
    """What the tracker reads of a request frame: its ``type`` and ``rid``."""

    @property
    def type(self) -> str: ...

    @property
    def rid(self) -> Rid | None: ...


class Requester(Protocol):
    """What the request groups of :class:`~ai_connect.client.BridgeClient` (queries.py,
    admin.py, consensus.py, leases.py; observer.py and receiving.py build on it) use of
    it: their ``self`` type, so that each says what it needs and none reaches for more."""

    @property
    def connected(self) -> bool: ...

    def _rid(self) -> int: ...

    async def _request(self, frame: Any, expect: type[_R], timeout: float | None = None) -> _R: ...


class Pending:
    """The requests of one client waiting for a reply, and the rids of its sends."""

    def __init__(self) -> None:
        self._rids = itertools.count(1)
        self._waiting: dict[Rid, asyncio.Future[ServerFrame]] = {}
        self._sends: dict[Rid, str] = {}

    def __len__(self) -> int:
        """Requests waiting for their reply now."""
        return len(self._waiting)

    def rid(self) -> int:
        """A request id not used before by this client."""
        return next(self._rids)

    async def call(
        self,
        frame: Request,
        expect: type[_R],
        timeout: float,
        transmit: Callable[[], Awaitable[None]],
    ) -> _R:
        """Transmits ``frame`` and returns its reply, which must be an ``expect``.

        Raises :class:`RequestRejected` for an ``error`` reply, :class:`RequestTimeout`
        after ``timeout`` seconds, and whatever :meth:`fail` was given if the link drops.
        """
        rid = frame.rid
        if rid is None:
            raise ValueError(f"a {frame.type} frame without a rid gets no reply to wait for")
        future: asyncio.Future[ServerFrame] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        try:
            await transmit()
            reply = await bounded(future, timeout)
        except TimeoutError as exc:
            raise RequestTimeout(
                f"timed out waiting for the bridge to answer {frame.type}; waited {timeout:g} s"
            ) from exc
        finally:
            self._waiting.pop(rid, None)
        if not isinstance(reply, expect):
            raise BridgeError(f"unexpected reply {reply.type} to {frame.type}")
        return reply

    def answer(self, frame: ServerFrame) -> bool:
        """Hands a reply to the request waiting for its rid; ``False`` if none is."""
        rid = getattr(frame, "rid", None)
        future = self._waiting.get(rid) if rid is not None else None
        if future is None:
            return False
        if not future.done():
            if isinstance(frame, Error):
                future.set_exception(RequestRejected.from_frame(frame))
            else:
                future.set_result(frame)
        return True

    def fail(self, exc: BridgeError) -> None:
        """Fails every waiting request with ``exc`` (the link is gone, or closed)."""
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(exc)
        self._waiting.clear()

    # --- sends ------------------------------------------------------------------------

    def send_rid(self, cid: str) -> int:
        """A rid for the send of ``cid``: its reply will be found by :meth:`sent`."""
        rid = self.rid()
        self._sends[rid] = cid
        return rid

    def sent(self, frame: ServerFrame) -> str | None:
        """The cid of the send this frame answers (forgotten from now on), else ``None``."""
        rid = getattr(frame, "rid", None)
        return self._sends.pop(rid, None) if rid is not None else None

    def forget_send(self, rid: Rid) -> None:
        """The send of ``rid`` is no longer awaited (it timed out): drop its reply."""
        self._sends.pop(rid, None)
