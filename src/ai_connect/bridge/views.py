"""The bridge's records in their wire shapes: the only place a stored message becomes a frame.

A :class:`~ai_connect.bridge.store.base.StoredMessage` reaches a client in two shapes: a
``deliver`` frame (its mailbox entry, pushed to the recipient, §3.2) and a
``MessageView`` (history and search results, §3.4). Both carry the same eight fields,
mapped once in :func:`_message_fields`: ``sender`` is ``from`` on the wire, and the
sender's client id ``cid`` stays in the bridge. Message ids come from
:func:`new_message_id`; the router takes them as an injected iterator, so tests number
them instead.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

from ai_connect.bridge.state import Peer
from ai_connect.bridge.store.base import MailboxEntry, StoredMessage, message_bytes
from ai_connect.protocol import Deliver, MessageView, PeerView
from ai_connect.protocol.hot import deliver_tail as _deliver_tail

__all__ = ["deliver", "deliver_tail", "message_view", "new_message_id", "peer_view", "prepare"]


def new_message_id() -> Iterator[str]:
    """Message ids: 12 random hex digits plus a counter, unique per bridge run."""
    prefix = secrets.token_hex(6)
    for n in itertools.count(1):
        yield f"{prefix}{n:x}"


def _message_fields(m: StoredMessage) -> dict[str, Any]:
    """What a client sees of a stored message, by the frames' field names."""
    return {
        "id": m.id,
        "from_": m.sender,
        "to": m.to,
        "body": m.body,
        "context": m.context,
        "thread": m.thread,
        "reply_to": m.reply_to,
        "ts": m.ts,
        "human": True if m.human else None,  # on the wire only when true
    }


def message_view(m: StoredMessage) -> MessageView:
    """A stored message as history and search show it (§3.4)."""
    return MessageView(**_message_fields(m))


def deliver(entry: MailboxEntry, paused: str | None = None) -> Deliver:
    """A mailbox entry as the ``deliver`` frame that pushes it to its recipient (§3.2);
    ``paused``: why it must wake nobody (the loop brake, §3.6)."""
    return Deliver(seq=entry.seq, paused=paused, **_message_fields(entry.message))


def deliver_tail(m: StoredMessage, paused: str | None = None) -> bytes:
    """What :func:`deliver` encodes alike for every recipient of ``m``, encoded once
    (``protocol.hot.deliver_data`` puts each recipient's ``seq`` in front)."""
    return _deliver_tail(
        m.id, m.sender, m.to, m.body, m.context, m.thread, m.reply_to, m.ts, paused, m.human
    )


def prepare(entries: Iterable[MailboxEntry]) -> tuple[tuple[bytes, int] | None, ...]:
    """Each entry's ``deliver`` tail (not paused) and flow size, made where the page was
    read (a reader thread), so the event loop only puts each recipient's ``seq`` in front
    (issue 13, backlog drain); ``None`` for a damaged entry, which is never delivered."""
    return tuple(
        None if e.damaged is not None else (deliver_tail(e.message), message_bytes(e.message))
        for e in entries
    )


def peer_view(peer: Peer, now: float) -> PeerView:
    """A peer as ``peers`` and ``presence`` show it: an online peer is seen ``now`` (§4)."""
    online = peer.online
    return PeerView(
        address=peer.address,
        name=peer.name,
        project=peer.project,
        online=online,
        last_seen=now if online else peer.last_seen,
        work=peer.work,
    )
