"""BridgeClient: the one client library every surface (CLI, MCP, hooks) stands on.

It registers with ``hello``, matches replies to requests by ``rid`` (never by waiting),
reconnects with backoff and jitter, resumes after the last handled message, keeps an
outbox so a send made during an outage goes out after reconnect (same ``cid``, so the
bridge stores it once), and hands each delivered message to the agent exactly once.

Given a :class:`~ai_connect.client.keep.Keep` (the long-running surfaces pass one), the
sends it answered ``queued`` for and the ids of the messages shown outlive the process:
the next client of the same bridge, name and project sends what is left, and a message
shown before a restart is not shown again (docs/protocol.md §7).

Its state is held by parts (composition), and its methods are grouped by what they do
(mixins, whose ``self`` types name the parts each uses)::

    BridgeClient   this module: the parts, connect and close, what the link calls back
     ├── Link      the WebSocket: connect, hello, read loop, heartbeat, reconnect, TLS pin
     ├── Pending   requests in flight: rid -> future, and rid -> cid for sends
     ├── Outbox    sends not yet confirmed, kept across outages (cid -> receipt future)
     ├── Inbox     deliveries: duplicates dropped, the cumulative ack (mailbox.py)
     ├── Notices   receipts the bridge pushed, until taken (notices.py)
     └── Keep      optional: queued sends and shown ids on disk (keep.py)

    sending.py send          receiving.py wait, drain, unread, ack, add_listener
    queries.py peers, history, search, status, receipts, find_message
    admin.py   admin_*       consensus.py, leases.py, observer.py: §8, §10, §9

Every surface builds its client with :meth:`BridgeClient.from_settings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl as ssl_module
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

from pydantic import ValidationError
from websockets.asyncio.client import connect as websockets_connect

from ai_connect import __version__, tls
from ai_connect.client.admin import AdminMixin
from ai_connect.client.consensus import ConsensusMixin
from ai_connect.client.durable import Durable
from ai_connect.client.keep import Keep
from ai_connect.client.leases import LeaseMixin
from ai_connect.client.link import Connect, Link, LinkState, backoff
from ai_connect.client.mailbox import Inbox
from ai_connect.client.notices import Notices
from ai_connect.client.observer import ObserverMixin
from ai_connect.client.outbox import Outbox, Receipt
from ai_connect.client.pending import Pending, Request
from ai_connect.client.queries import QueryMixin
from ai_connect.client.receiving import Listener, ReceivingMixin
from ai_connect.client.sending import SendingMixin
from ai_connect.config import ClientSettings
from ai_connect.errors import LocalProtocolError, NotConnected
from ai_connect.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Acked,
    Brakes,
    ClientInfo,
    Deliver,
    Error,
    FeedEvent,
    FeedSnapshot,
    Forget,
    Forgotten,
    Hello,
    Human,
    Presence,
    ReceiptNotice,
    ServerFrame,
    Welcome,
    Work,
    WorkFields,
)

__all__ = ["BridgeClient", "LinkState", "Receipt", "backoff"]

log = logging.getLogger("ai_connect.client")

_R = TypeVar("_R")


class BridgeClient(
    SendingMixin,
    ReceivingMixin,
    QueryMixin,
    AdminMixin,
    ConsensusMixin,
    LeaseMixin,
    ObserverMixin,
):
    """An asyncio client of one bridge, as one peer. Use ``async with``.

    ``connect`` is the transport seam: it opens the WebSocket (websockets' ``connect`` by
    default; tests pass one over ``socket.socketpair()``, with no port).
    """

    def __init__(
        self,
        url: str,
        name: str,
        project: str,
        *,
        token: str | None = None,
        session: str | None = None,
        kind: str = "library",
        presence: bool = False,
        receipts: bool = False,
        attach: bool = False,
        mode: Literal["peer", "attach", "query", "observe"] | None = None,
        request_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        heartbeat_s: float = 20.0,
        keepalive_s: float = 5.0,
        reconnect: bool = True,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
        clock: Callable[[], float] = time.time,
        ssl: ssl_module.SSLContext | None = None,
        fingerprint: str | None = None,
        connect: Connect = websockets_connect,
        keep: Keep | None = None,
    ) -> None:
        self.url, self.name, self.project = url, name, project
        self.session = session or secrets.token_hex(8)
        self.request_timeout, self.connect_timeout = request_timeout, connect_timeout
        self._token, self._kind, self._presence = token, kind, presence
        self._attach = attach
        """Act for this session's live address beside its owner (protocol §2.2)."""
        self._receipts = receipts
        """Ask for a receipt on every send (protocol §3.7)."""
        self._notices = Notices()
        self._mode = mode
        """``query``: ask without becoming a peer (protocol §2.4); ``observe``: that, plus
        the bridge's event feed (:meth:`observe`, protocol §9)."""
        self._feed_init()
        pin = tls.normalise_fingerprint(fingerprint) if fingerprint else None
        if ssl is None and (pin is not None or url.lower().startswith("wss://")):
            ssl = tls.client_context(url, None, pin)  # default: the system's store
        self.address: str | None = None
        self.welcome: Welcome | None = None
        self.inbox = Inbox()
        self._pending = Pending()
        self._outbox = Outbox()
        self._arrived = asyncio.Event()
        self._listeners: list[Listener] = []
        self._durable = Durable(keep, url, name, project) if keep is not None else None
        """Queued sends and shown ids on disk (``None``: in memory only)."""
        self._catching_up: asyncio.Task[None] | None = None
        self._link = Link(
            url,
            self._pending,
            hello=self._hello,
            on_welcome=self._welcomed,
            on_frame=self._on_frame,
            connect=connect,
            ssl=ssl,
            pin=pin,
            connect_timeout=connect_timeout,
            heartbeat_s=heartbeat_s,
            keepalive_s=keepalive_s,
            reconnect=reconnect,
            reconnect_delays=reconnect_delays,
            clock=clock,
        )

    @classmethod
    def from_settings(cls, settings: ClientSettings, *, kind: str, **options: Any) -> BridgeClient:
        """The client of ``settings`` (flags > env > config file, :mod:`ai_connect.config`),
        with its TLS verification (``--ca``/``--fingerprint``): how every surface builds one.

        ``options`` are the other keyword arguments of :class:`BridgeClient`.
        """
        secure = tls.client_options(settings.url, settings.ca, settings.fingerprint)
        return cls(
            settings.url,
            settings.name,
            settings.project,
            token=settings.token,
            kind=kind,
            **(secure | options),
        )

    # --- lifecycle --------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        return self._link.state

    @property
    def state_since(self) -> float:
        """When the link entered its current state (the ``clock`` given)."""
        return self._link.state_since

    @property
    def last_error(self) -> str | None:
        """Why the link is down, or the bridge's last unsolicited error; ``None`` when fine."""
        return self._link.last_error

    @last_error.setter
    def last_error(self, text: str | None) -> None:
        self._link.last_error = text

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code of the last link that closed (``CLOSE_AUTH``: the
        bridge no longer accepts the token); ``None`` while connected."""
        return self._link.close_code

    @property
    def connected(self) -> bool:
        return self._link.connected

    @property
    def queued(self) -> int:
        """Sends the bridge has not confirmed yet (the outbox)."""
        return len(self._outbox)

    @property
    def kept_in(self) -> str | None:
        """The file that keeps queued sends and shown ids (``None``: in memory only)."""
        return self._durable.path if self._durable is not None else None

    @property
    def node_url(self) -> str:
        """The URL in use: ``url`` itself, or one of its comma-separated nodes (the link
        moves to the next when one refuses or dies; docs/deploy.md)."""
        return self._link.url

    async def connect(self, *, wait: bool = True) -> None:
        """Opens the link. ``wait=False`` returns at once and keeps trying in the background."""
        self._adopt()
        await self._link.open(wait=wait)

    async def close(self) -> None:
        if self._catching_up is not None:
            with contextlib.suppress(NotConnected):
                await self._catching_up  # an ack frame already being written
        await self._link.close()
        self._feed_close()
        self._outbox.fail(NotConnected("the client was closed before sending"))
        if self._durable is not None:
            self._durable.close()

    async def __aenter__(self) -> BridgeClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def wait_connected(self, timeout: float) -> None:
        await self._link.wait_connected(timeout)

    async def wait_disconnected(self) -> None:
        """Returns once the link is down (at once if it is); with ``reconnect=False``, for good."""
        await self._link.wait_disconnected()

    async def wait_state(self, state: LinkState, timeout: float) -> None:
        """Returns once the link is (or has passed through) ``state``; else RequestTimeout."""
        await self._link.wait_state(state, timeout)

    # --- this address ------------------------------------------------------------------

    @property
    def notices(self) -> list[ReceiptNotice]:
        """Receipts that came (:meth:`take_receipts`), oldest first, at most 1000."""
        return self._notices.items

    def take_receipts(self) -> list[ReceiptNotice]:
        """The receipts that came since the last call (sends with ``receipt=True``)."""
        return self._notices.take()

    async def wait_receipts(self, timeout: float) -> list[ReceiptNotice]:
        """Waits up to ``timeout`` for a receipt, then takes them (``[]`` on timeout)."""
        return await self._notices.wait(timeout)

    async def forget(self) -> Forgotten:
        """Asks the bridge to forget this address: its peer record and mailbox (protocol
        §2.5). The bridge closes the link once that is committed."""
        return await self._request(Forget(rid=self._rid()), Forgotten)

    async def human(self) -> Brakes:
        """Tells the bridge a person spoke in this address's session: its paused
        conversations resume (the loop brake, protocol §3.6)."""
        return await self._request(Human(rid=self._rid()), Brakes)

    async def publish_work(self, status: WorkFields) -> None:
        """Publishes this address's work status (protocol §11): one ``work`` frame, no
        reply (a refusal comes back as an ``error``). Raises NotConnected while the link
        is down: the caller publishes again once it is back."""
        if not self.connected:
            raise self._link.not_connected()
        await self._link.transmit(Work(**status.model_dump()))

    # --- requests: what every request group stands on ---------------------------------

    def _rid(self) -> int:
        return self._pending.rid()

    async def _request(self, frame: Any, expect: type[_R], timeout: float | None = None) -> _R:
        """Sends a request and returns its reply (``frame``: any client frame with a rid)."""
        if not self.connected:
            raise self._link.not_connected()
        request: Request = frame
        wait = self.request_timeout if timeout is None else timeout
        return await self._pending.call(request, expect, wait, lambda: self._link.transmit(frame))

    # --- internals: what the link calls -----------------------------------------------

    def _hello(self) -> Hello:
        try:
            return Hello(
                rid=self._rid(),
                protocol=PROTOCOL_VERSION,
                name=self.name,
                project=self.project,
                token=self._token,
                session=self.session,
                address=self.address,
                resume=(self.inbox.ack_target() or None) if self.address else None,
                presence=self._presence,
                receipts=self._receipts or None,
                attach=self._attach or None,
                mode=self._mode,
                client=ClientInfo(kind=self._kind, version=__version__),
            )
        except ValidationError as exc:
            why = "; ".join(
                str(e["msg"]).removeprefix("Value error, ") for e in exc.errors(include_url=False)
            )
            raise LocalProtocolError(
                f"cannot register as {self.name!r} in project {self.project!r}: {why}; "
                "choose another name (--name, AI_CONNECT_PEER_NAME) or project (--project)"
            ) from exc

    async def _welcomed(self, welcome: Welcome) -> None:
        """Registered: take the mailbox's cursor, resend the outbox, send the ack we owe."""
        if self.address is not None and welcome.address != self.address:
            self.inbox = Inbox()  # another mailbox: our cursor means nothing there
        self.welcome, self.address = welcome, welcome.address
        self.inbox.reset(welcome.acked)
        if self._durable is not None and welcome.unread:
            # Only unacked mail can repeat. It may have come in with the welcome already:
            # drop what was shown before (§7.1).
            self.inbox.remember(self._durable.seen(welcome.address))
        # Resend the outbox before anyone may send anew, so per-sender order holds (§7).
        resent: set[str] = set()
        while backlog := [f for f in self._outbox.frames() if f.cid not in resent]:
            for frame in backlog:
                await self._link.transmit(frame)
                resent.add(frame.cid)
        target = self.inbox.ack_target()
        if target > welcome.acked:
            await self._link.transmit(Ack(seq=target))

    def _on_frame(self, frame: ServerFrame) -> None:
        if isinstance(frame, Deliver | Presence):
            self._received(frame)
            return
        if isinstance(frame, FeedEvent | FeedSnapshot):
            self._feed_put(frame)
            if isinstance(frame, FeedSnapshot) and frame.rid is not None:
                self._pending.answer(frame)  # the reply to feed_sync
            return
        if isinstance(frame, ReceiptNotice):
            self._notices.add(frame)
            return
        if isinstance(frame, Acked) and frame.rid is None:
            self.inbox.acked_elsewhere(frame.seq)  # shown through another connection
            return
        if (cid := self._pending.sent(frame)) is not None:
            if (error := self._outbox.settle(cid, frame)) is not None:
                self.last_error = f"{error.code}: {error.message}"
            if self._durable is not None:
                self._durable.settled(cid, frame, error)
            return
        if self._pending.answer(frame):
            return
        if isinstance(frame, Error):
            self.last_error = f"{frame.code}: {frame.message}"
            hint = f"; {frame.hint}" if frame.hint else ""
            log.warning("bridge error: %s%s", frame.message, hint)
