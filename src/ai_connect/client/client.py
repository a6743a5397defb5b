"""BridgeClient: the one client library every surface (CLI, MCP, hooks) stands on.

It registers with ``hello``, matches replies to requests by ``rid`` (never by waiting),
reconnects with backoff and jitter, resumes after the last handled message, keeps an
outbox so a send made during an outage goes out after reconnect (same ``cid``, so the
bridge stores it once), and hands each delivered message to the agent exactly once.

Given a :class:`~ai_connect.client.keep.Keep` (the long-running surfaces pass one), the
sends it answered ``queued`` for and the ids of the messages shown outlive the process:
the next client of the same bridge, name and project sends what is left, and a message
shown before a restart is not shown again (docs/protocol.md §7).

It is built from parts (composition, not a class hierarchy)::

    BridgeClient   the public requests, the outbox (sends) and the inbox (deliveries)
     ├── Link      the WebSocket: connect, hello, read loop, heartbeat, reconnect, TLS pin
     ├── Pending   requests in flight: rid -> future, and rid -> cid for sends
     ├── Outbox    sends not yet confirmed, kept across outages (cid -> receipt future)
     ├── Inbox     deliveries: duplicates dropped, the cumulative ack (mailbox.py)
     └── Keep      optional: queued sends and shown ids on disk (keep.py)

Every surface builds its client with :meth:`BridgeClient.from_settings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl as ssl_module
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, TypeVar

from pydantic import ValidationError
from websockets.asyncio.client import connect as websockets_connect

from ai_connect import __version__, message_ids, tls
from ai_connect.client.consensus import ConsensusMixin
from ai_connect.client.durable import Durable
from ai_connect.client.keep import Keep
from ai_connect.client.leases import LeaseMixin
from ai_connect.client.link import Connect, Link, LinkState, backoff
from ai_connect.client.mailbox import Inbox, Message
from ai_connect.client.observer import ObserverMixin
from ai_connect.client.outbox import Outbox, Receipt
from ai_connect.client.pending import Pending, Request
from ai_connect.config import ClientSettings
from ai_connect.errors import (
    LocalProtocolError,
    NotConnected,
    RequestTimeout,
    UnknownMessage,
)
from ai_connect.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Acked,
    AckPath,
    AdminBrakes,
    AdminForget,
    AdminHistory,
    AdminResume,
    AdminStatus,
    Brakes,
    BridgeReport,
    ClientInfo,
    Deliver,
    Error,
    FeedEvent,
    FeedSnapshot,
    Forget,
    Forgotten,
    Hello,
    History,
    HistoryPage,
    Human,
    PeerList,
    Peers,
    PeerView,
    Presence,
    ReceiptNotice,
    ReceiptReport,
    Receipts,
    Search,
    SearchResults,
    Send,
    ServerFrame,
    Status,
    StatusReport,
    Welcome,
    Work,
    WorkFields,
    encode,
    flow_bytes,
)
from ai_connect.waiting import wait_event

__all__ = ["BridgeClient", "LinkState", "Receipt", "backoff"]

log = logging.getLogger("ai_connect.client")

_R = TypeVar("_R")

FIND_PAGES = 10
"""History pages (of up to 500 messages) :meth:`BridgeClient.find_message` looks through."""


class BridgeClient(ConsensusMixin, LeaseMixin, ObserverMixin):
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
        self.notices: list[ReceiptNotice] = []
        """Receipts that came (:meth:`take_receipts`), oldest first, at most 1000."""
        self._noticed = asyncio.Event()
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
        self._listeners: list[Callable[[Message | Presence], None]] = []
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

    def add_listener(self, callback: Callable[[Message | Presence], None]) -> None:
        """Calls ``callback`` with each new message (and presence event) as it arrives."""
        self._listeners.append(callback)

    async def wait_connected(self, timeout: float) -> None:
        await self._link.wait_connected(timeout)

    async def wait_disconnected(self) -> None:
        """Returns once the link is down (at once if it is); with ``reconnect=False``, for good."""
        await self._link.wait_disconnected()

    async def wait_state(self, state: LinkState, timeout: float) -> None:
        """Returns once the link is (or has passed through) ``state``; else RequestTimeout."""
        await self._link.wait_state(state, timeout)

    # --- requests ---------------------------------------------------------------------

    async def send(
        self,
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
                    self._forget(cid, frame)
                    raise
        if queue and not self.connected:
            return self._hold(frame)
        wait = self.request_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(stored), wait)
        except TimeoutError as exc:
            if queue:
                return self._hold(frame)
            self._forget(cid, frame)
            raise RequestTimeout(
                f"the bridge did not confirm message {cid} within {wait:g} s; it may or may "
                f"not have been stored: sending again with cid={cid} is safe"
            ) from exc

    async def find_message(self, given: str, *, how: str) -> str:
        """The full id of the message ``given`` names: a full id, its short form
        (:func:`ai_connect.message_ids.short`) or a unique prefix, among the messages this
        peer can see (its inbox, then its history, newest first). Raises
        :class:`UnknownMessage` ending with ``how``: how the surface's user finds ids."""
        found = message_ids.match(given, self.inbox.known_ids())
        before: int | None = None
        for _ in range(FIND_PAGES if not found and self.connected else 0):
            page = await self.history(None, 500, before)
            found = message_ids.match(given, (m.id for m in page.messages))
            if found or page.before is None:
                break
            before = page.before
        if len(found) == 1:
            return found[0]
        if found:
            shown = ", ".join(found[:5]) + (" …" if len(found) > 5 else "")
            raise UnknownMessage(
                f"{given!r} matches {len(found)} messages ({shown}); give more of the id. {how}",
                tuple(found),
            )
        where = "" if self.connected else " (the bridge is unreachable: only this session's"
        where += " messages were checked)" if where else ""
        raise UnknownMessage(f"no message you can see has the id {given!r}{where}. {how}")

    async def peers(self, include_offline: bool = True) -> list[PeerView]:
        reply = await self._request(
            Peers(rid=self._rid(), include_offline=include_offline), PeerList
        )
        return reply.peers

    async def history(
        self, peer: str | None = None, limit: int = 50, before: int | None = None
    ) -> HistoryPage:
        return await self._request(
            History(rid=self._rid(), peer=peer, limit=limit, before=before), HistoryPage
        )

    async def search(self, query: str, limit: int = 20, before: int | None = None) -> SearchResults:
        """Matches newest first; ``before`` is the cursor of an earlier page (its
        ``SearchResults.before``), for the older matches."""
        frame = Search(rid=self._rid(), query=query, limit=limit, before=before)
        return await self._request(frame, SearchResults)

    async def status(self) -> StatusReport:
        return await self._request(Status(rid=self._rid()), StatusReport)

    async def receipts(
        self, message_id: str, *, how: str = "peer_history shows message ids."
    ) -> ReceiptReport:
        """Where a message this address sent stands, per recipient: waiting, delivered or
        shown (with when and through which path); any message for an admin or observer
        (protocol §3.7). A short form (``…0e42f1a3``, as receipts and read show ids) is
        first resolved among the messages this peer can see (:meth:`find_message`)."""
        given = message_id.strip()
        if given.startswith(message_ids.ELLIPSIS) or len(given) <= message_ids.SHORT + 1:
            given = await self.find_message(given, how=how)
        return await self._request(Receipts(rid=self._rid(), id=given), ReceiptReport)

    def take_receipts(self) -> list[ReceiptNotice]:
        """The receipts that came since the last call (sends with ``receipt=True``)."""
        taken, self.notices = self.notices, []
        self._noticed.clear()
        return taken

    async def wait_receipts(self, timeout: float) -> list[ReceiptNotice]:
        """Waits up to ``timeout`` for a receipt, then takes them (``[]`` on timeout)."""
        if not self.notices:
            await wait_event(self._noticed, timeout)
        return self.take_receipts()

    async def forget(self) -> Forgotten:
        """Asks the bridge to forget this address: its peer record and mailbox (protocol
        §2.5). The bridge closes the link once that is committed."""
        return await self._request(Forget(rid=self._rid()), Forgotten)

    async def admin_forget(self, peer: str) -> Forgotten:
        """The operator's forget: ``peer``'s record and mailbox go, its live connections
        are closed (an admin token where auth is on; protocol §2.5)."""
        return await self._request(AdminForget(rid=self._rid(), peer=peer), Forgotten)

    async def admin_status(self) -> BridgeReport:
        """Every peer's cursors and connections; needs an admin token (protocol §3.5)."""
        return await self._request(AdminStatus(rid=self._rid()), BridgeReport)

    async def admin_history(
        self, viewer: str, peer: str | None = None, limit: int = 50, before: int | None = None
    ) -> HistoryPage:
        """The history ``viewer`` sees (with ``peer``, one conversation); admin tokens only."""
        frame = AdminHistory(rid=self._rid(), viewer=viewer, peer=peer, limit=limit, before=before)
        return await self._request(frame, HistoryPage)

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

    async def admin_brakes(self) -> Brakes:
        """The conversations the loop brake paused (admin tokens, where auth is on)."""
        return await self._request(AdminBrakes(rid=self._rid()), Brakes)

    async def admin_resume(self, conversation: str | None = None) -> Brakes:
        """Lifts the pause of ``conversation`` (``None``: of every paused one)."""
        return await self._request(AdminResume(rid=self._rid(), conversation=conversation), Brakes)

    # --- receiving --------------------------------------------------------------------

    def unread(self, sender: str | None = None) -> list[Message]:
        """Delivered messages not yet handled, oldest first."""
        return self.inbox.unhandled(sender)

    async def wait(
        self, timeout: float, sender: str | None = None, *, waking: bool = False
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

    async def drain(self, timeout: float) -> list[Message]:
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
        self, messages: Iterable[Message], *, wait: bool = True, path: AckPath | None = None
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

    # --- internals: requests ----------------------------------------------------------

    def _rid(self) -> int:
        return self._pending.rid()

    async def _request(self, frame: Any, expect: type[_R], timeout: float | None = None) -> _R:
        """Sends a request and returns its reply (``frame``: any client frame with a rid)."""
        if not self.connected:
            raise self._link.not_connected()
        request: Request = frame
        wait = self.request_timeout if timeout is None else timeout
        return await self._pending.call(request, expect, wait, lambda: self._link.transmit(frame))

    def _hold(self, frame: Send) -> Receipt:
        """A send we answer ``queued`` for: on disk first, if this client keeps state."""
        if self._durable is None:
            log.warning(
                "queued message %s to %s is held in this process's memory only (no keep): "
                "it is lost if the process stops before the bridge %s is back",
                frame.cid,
                frame.to,
                self.url,
            )
            return Receipt(frame.cid, "queued")
        return self._durable.hold(frame)

    def _adopt(self) -> None:
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

    def _catch_up(self) -> None:
        """A repeat of a message shown before was dropped: ack it, or the bridge keeps
        it in the window and delivers it at every connect (§3.3)."""
        if self.inbox.ack_target() <= self.inbox.acked:
            return
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.ensure_future(self._send_catch_up())

    async def _send_catch_up(self) -> None:
        target = self.inbox.ack_target()
        if target > self.inbox.acked:
            with contextlib.suppress(NotConnected):
                await self._link.transmit(Ack(seq=target))
                self.inbox.acked = max(self.inbox.acked, target)

    def _forget(self, cid: str, frame: Send) -> None:
        """A send nobody waits for any more: out of the outbox, its reply dropped."""
        for sent in (frame, self._outbox.forget(cid)):
            if sent is not None:
                self._pending.forget_send(sent.rid)

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
                "choose another name (--name, AI_CONNECT_PEER_NAME, peer.name) or project "
                "(--project, AI_CONNECT_PROJECT, peer.project)"
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
        if isinstance(frame, Deliver):
            message = Message.from_frame(frame)
            if self.inbox.add(message):
                self._arrived.set()
                self._notify(message)
            else:
                self._catch_up()
            return
        if isinstance(frame, Presence):
            self._notify(frame)
            return
        if isinstance(frame, FeedEvent | FeedSnapshot):
            self._feed_put(frame)
            if isinstance(frame, FeedSnapshot) and frame.rid is not None:
                self._pending.answer(frame)  # the reply to feed_sync
            return
        if isinstance(frame, ReceiptNotice):
            self.notices = [*self.notices[-999:], frame]
            self._noticed.set()
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

    def _notify(self, item: Message | Presence) -> None:
        for callback in self._listeners:
            try:
                callback(item)
            except Exception:  # a listener's bug must not break delivery to the rest
                log.exception("message listener failed")
