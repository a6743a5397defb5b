"""A Router wired to a real MemoryStore the way bridge/server.py wires it, turn by turn.

``Bridge`` plays the server's part without an event loop: frames are decoded as
``BridgeServer._handle`` decodes them, ``Persist`` actions wait in a batch until
``commit()`` runs them through ``MemoryStore.commit`` with the server's own
``bridge.batch.write_batch`` and ``committed``, and ``LoadPending`` actions wait until
``load()`` serves them from ``MemoryStore.pending``. Tests decide when each happens.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from ai_connect.bridge.answers import mailbox_page
from ai_connect.bridge.batch import committed, write_batch
from ai_connect.bridge.brake import BrakeLimits
from ai_connect.bridge.core import Router, RouterConfig
from ai_connect.bridge.events import (
    Action,
    BadFrame,
    Close,
    CommitFailed,
    Connected,
    Disconnected,
    Event,
    FrameReceived,
    LoadPending,
    PendingLoaded,
    Persist,
    QueryReceipts,
    ReceiptsLoaded,
    Send,
    Tick,
)
from ai_connect.bridge.store.base import PeerRecord, TokenRecord, WriteBatch
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.errors import FrameError, StoreError
from ai_connect.protocol import (
    PROTOCOL_VERSION,
    Deliver,
    Error,
    Limits,
    ServerFrame,
    encode,
)
from ai_connect.protocol.hot import decode_hot

__all__ = [
    "PROJECT",
    "START",
    "Bridge",
    "addr",
    "closes",
    "delivers",
    "errors",
    "frames",
    "message_ids",
    "one",
    "pair",
    "peer_record",
    "persists",
]

PROJECT = "proj"
START = 1_000.0
"""The clock of every test bridge starts here (``started_at`` too)."""

F = TypeVar("F", bound=ServerFrame)


def addr(name: str, project: str = PROJECT) -> str:
    return f"{name} ({project})"


def peer_record(name: str, last_seen: float = START, project: str = PROJECT) -> PeerRecord:
    """A known, offline peer with an empty mailbox."""
    return PeerRecord(addr(name, project), name, project, last_seen, last_seen)


def message_ids() -> Iterator[str]:
    return (f"m{i}" for i in itertools.count(1))


class Bridge:
    """A Router plus a MemoryStore, with the server's plumbing run by hand."""

    def __init__(
        self,
        *,
        peers: Iterable[PeerRecord] = (),
        limits: Limits | None = None,
        presence_timeout_s: float = 60.0,
        retention_s: float = 30 * 86400.0,
        tokens: Iterable[TokenRecord] = (),
        require_auth: bool = False,
        brake: BrakeLimits | None = None,
    ) -> None:
        self.now = START
        self.tokens = tuple(tokens)
        self.store = MemoryStore()
        known = list(peers)
        if known:
            self.store.commit(WriteBatch(peers=known))
        self.config = RouterConfig(
            server_version="t",
            storage="memory",
            started_at=START,
            limits=limits or Limits(),
            presence_timeout_s=presence_timeout_s,
            retention_s=retention_s,
            require_auth=require_auth,
            brake=brake or BrakeLimits(),
        )
        self.ids = message_ids()
        self.router = Router(self.config, known, self.ids, self.tokens)
        self.batch: list[Persist] = []
        """Persist actions waiting for the next group commit."""
        self.loads: list[LoadPending] = []
        """LoadPending actions the store has not served yet."""
        self.reads: list[QueryReceipts] = []
        """QueryReceipts actions the store has not served yet (served with the loads)."""
        self._connected: set[int] = set()
        self._cids = itertools.count(1)

    # --- the server's part ----------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        """Feeds one event; queues the Persist and LoadPending actions it returns."""
        actions = self.router.handle(event)
        for action in actions:
            if isinstance(action, Send):
                encode(action.frame)  # the server encodes every frame it sends: must not raise
            elif isinstance(action, Persist):
                self.batch.append(action)
            elif isinstance(action, QueryReceipts):
                self.reads.append(action)
            elif isinstance(action, LoadPending):
                waiting = [x for x in self.loads if x.conn == action.conn]
                assert not waiting, f"a second load for conn {action.conn}: {waiting}"
                self.loads.append(action)
        return actions

    def commit(self) -> list[Action]:
        """Runs the waiting batch through the store, as ``BridgeServer._commit_once`` does."""
        persists, self.batch = self.batch, []
        if not persists:
            return []
        try:
            result = self.store.commit(write_batch(persists))
        except StoreError as exc:
            return self.handle(CommitFailed(tuple(persists), str(exc)))
        return self.handle(committed(persists, result, self.now))

    def fail_commit(self, reason: str = "disk full") -> list[Action]:
        """Rolls the waiting batch back, as the server does when the store raises."""
        persists, self.batch = self.batch, []
        return self.handle(CommitFailed(tuple(persists), reason))

    def load(self) -> list[Action]:
        """Serves the waiting loads from the store (new loads wait for the next call)."""
        loads, self.loads = self.loads, []
        reads, self.reads = self.reads, []
        out: list[Action] = []
        for read in reads:
            found = self.store.receipts(read.message_id)
            out += self.handle(
                ReceiptsLoaded(read.conn, read.rid, read.message_id, found, self.now)
            )
        for action in loads:
            entries, prepared = mailbox_page(  # as the server's reader thread does
                self.store, action.recipient, action.after_seq, action.limit, action.max_bytes
            )
            loaded = PendingLoaded(action.conn, action.after_seq, entries, self.now, prepared)
            out += self.handle(loaded)
        return out

    def settle(self, rounds: int = 1_000) -> list[Action]:
        """Commits and loads until nothing waits; returns every action on the way."""
        out: list[Action] = []
        for _ in range(rounds):
            if not self.batch and not self.loads and not self.reads:
                return out
            out += self.commit()
            out += self.load()
        raise AssertionError(f"the bridge did not settle within {rounds} rounds")

    def restart(self) -> None:
        """A crash: uncommitted writes and connections are lost, the store survives."""
        self.batch, self.loads = [], []
        self._connected.clear()
        peers, proposals, works = self.store.peers(), self.store.proposals(), self.store.works()
        self.config = dataclasses.replace(self.config, started_at=self.now)
        self.router = Router(
            self.config, peers, self.ids, self.tokens, proposals, self.store.leases(), works
        )

    # --- a client's part ------------------------------------------------------------

    def connect(self, conn: int, remote: str | None = None) -> list[Action]:
        self._connected.add(conn)
        return self.handle(Connected(conn, self.now, remote or f"127.0.0.1:{40000 + conn}"))

    def raw(self, conn: int, data: str | bytes) -> list[Action]:
        """Decodes a frame as the server does: a bad one becomes ``BadFrame``."""
        try:
            frame = decode_hot(data, self.config.limits.max_frame_bytes)
        except FrameError as exc:
            return self.handle(BadFrame(conn, exc, self.now))
        return self.handle(FrameReceived(conn, frame, self.now))

    def frame(self, conn: int, **fields: Any) -> list[Action]:
        return self.raw(conn, json.dumps(fields))

    def hello(self, conn: int, name: str, project: str = PROJECT, **fields: Any) -> list[Action]:
        """Connects ``conn`` if needed and says hello (``rid`` defaults to ``"h"``)."""
        out = [] if conn in self._connected else self.connect(conn)
        fields.setdefault("rid", "h")
        fields.setdefault("protocol", PROTOCOL_VERSION)
        return out + self.frame(conn, type="hello", name=name, project=project, **fields)

    def join(self, conn: int, name: str, project: str = PROJECT, **fields: Any) -> str:
        """Says hello and commits the registration; returns the assigned address."""
        self.hello(conn, name, project, **fields)
        self.settle()
        address = self.router.address_of(conn)
        assert address is not None, f"{name} was not registered"
        return address

    def send(
        self, conn: int, to: str, body: str = "hi", *, cid: str | None = None, **fields: Any
    ) -> list[Action]:
        """Sends a message (``cid`` and ``rid`` numbered automatically)."""
        cid = cid or f"c{next(self._cids)}"
        fields.setdefault("rid", f"r-{cid}")
        return self.frame(conn, type="send", cid=cid, to=to, body=body, **fields)

    def ack(self, conn: int, seq: int, **fields: Any) -> list[Action]:
        return self.frame(conn, type="ack", seq=seq, **fields)

    def disconnect(self, conn: int) -> list[Action]:
        self._connected.discard(conn)
        return self.handle(Disconnected(conn, self.now))

    def tick(self, now: float | None = None) -> list[Action]:
        if now is not None:
            self.now = now
        return self.handle(Tick(self.now))


def pair(**limits: int) -> Bridge:
    """Alice (conn 1) and Bob (conn 2) online, registrations committed."""
    bridge = Bridge(limits=Limits(**limits))
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    return bridge


# --- looking at actions ---------------------------------------------------------------


def frames(actions: Iterable[Action], conn: int | None = None) -> list[ServerFrame]:
    """The frames sent (to ``conn`` only, if given), in order."""
    return [a.frame for a in actions if isinstance(a, Send) and conn in (None, a.conn)]


def _of(kind: type[F], actions: Iterable[Action], conn: int | None) -> list[F]:
    return [f for f in frames(actions, conn) if isinstance(f, kind)]


def delivers(actions: Iterable[Action], conn: int | None = None) -> list[Deliver]:
    return _of(Deliver, actions, conn)


def errors(actions: Iterable[Action], conn: int | None = None) -> list[Error]:
    return _of(Error, actions, conn)


def one(kind: type[F], actions: Iterable[Action], conn: int | None = None) -> F:
    """The single frame of ``kind`` among the actions (fails if there are 0 or several)."""
    found = _of(kind, actions, conn)
    assert len(found) == 1, f"expected one {kind.__name__}, got {found!r}"
    return found[0]


def closes(actions: Iterable[Action]) -> list[Close]:
    return [a for a in actions if isinstance(a, Close)]


def persists(actions: Iterable[Action]) -> list[Persist]:
    return [a for a in actions if isinstance(a, Persist)]
