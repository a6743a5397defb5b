"""The receiving side of :class:`~ai_connect.client.BridgeClient`: waiting for mail,
handing it over, and the cumulative ``ack`` that retires it (docs/protocol.md §3.3).

The inbox (mailbox.py) does the pure bookkeeping: duplicates dropped, which ``ack`` may
go. This mixin adds the waiting and the sending: ``unread``, ``wait``, ``drain``,
``ack``, the listeners, and the catch-up ack for a repeat of a message shown before.
Its ``self`` type, :class:`Receiver`, names every part of the client it uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from ai_connect.client.mailbox import Message
from ai_connect.client.pending import Requester
from ai_connect.errors import NotConnected
from ai_connect.protocol import Ack, Acked, AckPath, Deliver, Presence, Welcome, flow_bytes
from ai_connect.waiting import wait_event

if TYPE_CHECKING:  # the client's parts, named in Receiver: this module never builds one
    from ai_connect.client.durable import Durable
    from ai_connect.client.link import Link
    from ai_connect.client.mailbox import Inbox

__all__ = ["Listener", "Receiver", "ReceivingMixin"]

log = logging.getLogger("ai_connect.client")

Listener = Callable[[Message | Presence], None]


class Receiver(Requester, Protocol):
    """What the receiving side uses of the client."""

    inbox: Inbox
    address: str | None
    welcome: Welcome | None
    _arrived: asyncio.Event
    """Set when a new message is in the inbox."""
    _listeners: list[Listener]
    _catching_up: asyncio.Task[None] | None
    _link: Link
    _durable: Durable | None


class ReceivingMixin:
    """``add_listener``, ``unread``, ``wait``, ``drain``, ``ack``; ``_received`` for the
    frames the link reads."""

    def add_listener(self: Receiver, callback: Listener) -> None:
        """Calls ``callback`` with each new message (and presence event) as it arrives."""
        self._listeners.append(callback)

    def unread(self: Receiver, sender: str | None = None) -> list[Message]:
        """Delivered messages not yet handled, oldest first."""
        return self.inbox.unhandled(sender)

    async def wait(
        self: Receiver, timeout: float, sender: str | None = None, *, waking: bool = False
    ) -> list[Message]:
        """Blocks until at least one unread message (from ``sender``) is here; ``[]`` on timeout.

        ``waking``: only messages that may wake an agent count (not those of a conversation
        the loop brake paused, protocol §3.6)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not (found := [m for m in self.inbox.unhandled(sender) if not (waking and m.paused)]):
            self._arrived.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return []
            await wait_event(self._arrived, remaining)
        return found

    async def drain(self: Receiver, timeout: float) -> list[Message]:
        """Waits until every message that was waiting at connect time has arrived.

        Returns the unread messages. Stops early when the bridge's flow-control window
        is full (handle and ``ack`` them, then call again) or when ``timeout`` passes.
        """
        welcome = self.welcome
        window = int(welcome.limits.get("window_messages", 256)) if welcome else 256
        window_bytes = int(welcome.limits.get("window_bytes", 1 << 20)) if welcome else 1 << 20
        goal = welcome.tip if welcome else 0
        deadline = asyncio.get_running_loop().time() + timeout
        while (
            self.inbox.received < goal
            and len(self.inbox) < window
            # The window also closes on bytes (§3.3): then nothing more comes until an ack.
            and sum(flow_bytes(m.body, m.context) for m in self.inbox.unhandled()) < window_bytes
        ):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._arrived.clear()
            await wait_event(self._arrived, min(remaining, 0.5))
            if self.inbox.received >= goal:
                break
        return self.inbox.unhandled()

    async def ack(
        self: Receiver,
        messages: Iterable[Message],
        *,
        wait: bool = True,
        path: AckPath | None = None,
    ) -> None:
        """Marks messages as shown to the agent; the bridge will not deliver them again.

        With ``wait`` returns only once the bridge has stored the ack. ``path`` says what
        showed them (hook, tool, channel, cli): their senders' receipts name it (§3.7).
        """
        messages = list(messages)
        self.inbox.mark_handled(messages)
        if self._durable is not None and self.address is not None and messages:
            # Before the ack: a restart from here on cannot show them again (§7).
            self._durable.see(self.address, (m.id for m in messages))
        target = self.inbox.ack_target()
        if target <= self.inbox.acked:
            return
        if not self.connected:
            if wait:
                raise self._link.not_connected()
            return  # sent as the resume cursor of the next hello
        if wait:
            reply = await self._request(Ack(seq=target, rid=self._rid(), path=path), Acked)
            self.inbox.acked = max(self.inbox.acked, reply.seq)
        else:
            await self._link.transmit(Ack(seq=target, path=path))
            self.inbox.acked = target

    def _received(self: Receiver, frame: Deliver | Presence) -> None:
        """What the link read for this side: a ``deliver`` goes into the inbox and to
        the listeners, once per message; a ``presence`` event to the listeners."""
        if isinstance(frame, Presence):
            _notify(self, frame)
            return
        message = Message.from_frame(frame)
        if self.inbox.add(message):
            self._arrived.set()
            _notify(self, message)
        else:
            _catch_up(self)


def _notify(client: Receiver, item: Message | Presence) -> None:
    for callback in client._listeners:
        try:
            callback(item)
        except Exception:  # a listener's bug must not break delivery to the rest
            log.exception("message listener failed")


def _catch_up(client: Receiver) -> None:
    """A repeat of a message shown before was dropped: ack it, or the bridge keeps it in
    the window and delivers it at every connect (§3.3)."""
    if client.inbox.ack_target() <= client.inbox.acked:
        return
    if client._catching_up is None or client._catching_up.done():
        client._catching_up = asyncio.ensure_future(_send_catch_up(client))


async def _send_catch_up(client: Receiver) -> None:
    target = client.inbox.ack_target()
    if target > client.inbox.acked:
        with contextlib.suppress(NotConnected):
            await client._link.transmit(Ack(seq=target))
            client.inbox.acked = max(client.inbox.acked, target)
