"""The sending side of :class:`~ai_connect.client.BridgeClient`: ``send``, and the
outbox that outlives an outage (docs/protocol.md §3.1, §7).

A send is answered once the bridge has stored it (``accepted``), matched by its ``cid``
(outbox.py). A send made while the link is down, with ``queue=True``, waits in the
outbox (and, with a ``keep``, on disk: durable.py) and goes out after the next
``welcome``, with the same ``cid``, so that the bridge stores it once. The mixin's
``self`` type, :class:`Sender`, names every part of the client it uses.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from ai_connect.client.outbox import Receipt
from ai_connect.errors import NotConnected, RequestTimeout
from ai_connect.protocol import Send, encode
from ai_connect.waiting import bounded

if TYPE_CHECKING:  # the client's parts, named in Sender: this module never builds one
    from ai_connect.client.durable import Durable
    from ai_connect.client.link import Link
    from ai_connect.client.outbox import Outbox
    from ai_connect.client.pending import Pending

__all__ = ["Sender", "SendingMixin"]

log = logging.getLogger("ai_connect.client")


class Sender(Protocol):
    """What the sending side uses of the client."""

    url: str
    request_timeout: float
    _link: Link
    _pending: Pending
    _outbox: Outbox
    _durable: Durable | None

    @property
    def connected(self) -> bool: ...


class SendingMixin:
    """``send``, and ``_adopt``: the queued sends an earlier client left on disk."""

    async def send(
        self: Sender,
        to: str,
        body: str,
        *,
        context: dict[str, Any] | None = None,
        thread: str | None = None,
        reply_to: str | None = None,
        cid: str | None = None,
        timeout: float | None = None,
        queue: bool = False,
        as_: str | None = None,
        receipt: bool = False,
    ) -> Receipt:
        """Sends a message and returns once the bridge has durably stored it.

        Not connected: raises :class:`NotConnected`, or with ``queue=True`` keeps the
        message in the outbox, sends it after reconnect and returns a ``queued`` receipt.
        ``as_``: an observer sends as this person (protocol §9.3). ``receipt``: the
        bridge tells this client when each recipient was shown it (protocol §3.7).
        With a ``keep`` the queued message is on disk (fsync'd) before the receipt is
        returned (``Receipt.kept`` says where); without one it lives in this process only.
        """
        if not self.connected and not queue:
            raise self._link.not_connected()
        cid = cid or secrets.token_hex(12)
        frame = Send(
            rid=self._pending.send_rid(cid),
            cid=cid,
            to=to,
            body=body,
            context=context,
            thread=thread,
            reply_to=reply_to,
            as_=as_,
            receipt=receipt or None,
        )
        texts = (body, to, thread or "", reply_to or "", as_ or "")
        if context is not None or not all(t.isascii() for t in texts):
            encode(frame)  # not Unicode text: refused here, never kept in the outbox
        stored = self._outbox.add(frame)
        if self.connected:
            try:
                await self._link.transmit(frame)
            except NotConnected:
                if not queue:
                    _forget(self, cid, frame)
                    raise
        if queue and not self.connected:
            return _hold(self, frame)
        wait = self.request_timeout if timeout is None else timeout
        try:
            return await bounded(asyncio.shield(stored), wait)
        except TimeoutError as exc:
            if queue:
                return _hold(self, frame)
            _forget(self, cid, frame)
            raise RequestTimeout(
                f"the bridge did not confirm message {cid} within {wait:g} s; it may or may "
                f"not have been stored: sending again with cid={cid} is safe"
            ) from exc

    def _adopt(self: Sender) -> None:
        """Takes over the queued sends an earlier client of this identity left on disk."""
        if self._durable is None:
            return
        for raw in self._durable.adopt(f.cid for f in self._outbox.frames()):
            cid = str(raw.get("cid"))
            try:
                frame = Send.model_validate(raw | {"rid": self._pending.send_rid(cid)})
            except ValidationError as exc:
                log.warning("cannot resend kept message %s: %s", cid, exc)
                continue
            self._outbox.add(frame)


def _hold(client: Sender, frame: Send) -> Receipt:
    """A send we answer ``queued`` for: on disk first, if this client keeps state."""
    if client._durable is None:
        log.warning(
            "queued message %s to %s is held in this process's memory only (no keep): "
            "it is lost if the process stops before the bridge %s is back",
            frame.cid,
            frame.to,
            client.url,
        )
        return Receipt(frame.cid, "queued")
    return client._durable.hold(frame)


def _forget(client: Sender, cid: str, frame: Send) -> None:
    """A send nobody waits for any more: out of the outbox, its reply dropped."""
    for sent in (frame, client._outbox.forget(cid)):
        if sent is not None:
            client._pending.forget_send(sent.rid)
