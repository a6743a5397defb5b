"""The storage protocol of the bridge and the records it keeps.

A store is synchronous and single-threaded: the server owns it from one worker thread and
hands it one :class:`WriteBatch` per loop turn (group commit, DESIGN.md "Delivery
guarantees"). ``commit`` is atomic: after it returns, everything in the batch is durable;
if it raises :class:`~ai_connect.errors.StoreError`, nothing of it is.

Two implementations keep the same contract (tests/bridge/store/test_contract.py):
``MemoryStore`` for tests, ``SqliteStore`` as the default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "AckOp",
    "AppendOp",
    "AppendResult",
    "CommitResult",
    "MailboxEntry",
    "PeerRecord",
    "ProposalRecord",
    "Store",
    "StoredMessage",
    "TokenRecord",
    "WriteBatch",
    "message_bytes",
]


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as accepted by the bridge."""

    id: str
    sender: str
    """The sender's address, ``Name (Project)``."""
    to: str
    """The resolved target: one address, or ``*`` for a broadcast."""
    body: str
    context: dict[str, Any] | None
    thread: str | None
    reply_to: str | None
    ts: float
    cid: str
    """The sender's client message id; (sender, cid) is unique."""


@dataclass(frozen=True, slots=True)
class MailboxEntry:
    """One message in one recipient's mailbox, numbered per recipient from 1."""

    recipient: str
    seq: int
    message: StoredMessage


@dataclass(frozen=True, slots=True)
class PeerRecord:
    """A peer the bridge has seen, with its mailbox cursors."""

    address: str
    name: str
    project: str
    first_seen: float
    last_seen: float
    tip: int = 0
    """Highest mailbox sequence number given out (0: empty mailbox)."""
    acked: int = 0
    """Highest sequence number the peer acknowledged (cumulative)."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An auth token as the bridge keeps it: never the token itself, only its hash.

    docs/security.md: a token owns the names its ``names`` patterns match, and ``admin``
    tokens may use the observer requests (docs/protocol.md §3.5).
    """

    id: str
    """Short public id, part of the token text: how a token is found and revoked."""
    name: str
    """The operator's label (``ai-connect token create NAME``)."""
    hash: str
    """SHA-256 (hex) of the whole token text."""
    names: tuple[str, ...]
    """Patterns of the peer names (or ``Name (Project)`` addresses) it may register."""
    admin: bool
    created: float
    expires: float | None = None
    revoked: float | None = None


@dataclass(frozen=True, slots=True)
class AppendOp:
    """Store ``message`` once, with one mailbox entry per recipient.

    If ``(message.sender, message.cid)`` is already stored, nothing is written and the
    result carries the stored message and its original sequence numbers.
    """

    message: StoredMessage
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AckOp:
    """Raise ``recipient``'s acked cursor to ``seq`` (never lowers it)."""

    recipient: str
    seq: int


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    """A consensus proposal with its ballots (``bridge/consensus.py``), as JSON data.

    Stored by ``id``: a later record of the same id replaces the earlier one.
    """

    id: str
    data: dict[str, Any]


@dataclass(slots=True)
class WriteBatch:
    """Everything one loop turn wants written, committed in one transaction."""

    peers: list[PeerRecord] = field(default_factory=list)
    """Upserts: insert, or update ``name``, ``project`` and ``last_seen`` (cursors kept)."""
    appends: list[AppendOp] = field(default_factory=list)
    acks: list[AckOp] = field(default_factory=list)
    proposals: list[ProposalRecord] = field(default_factory=list)
    """Upserts by id, after the appends (docs/protocol.md §8)."""

    def __bool__(self) -> bool:
        return bool(self.peers or self.appends or self.acks or self.proposals)


@dataclass(frozen=True, slots=True)
class AppendResult:
    message: StoredMessage
    """The stored message: the original one when ``duplicate``."""
    seqs: dict[str, int]
    """Recipient address -> its mailbox sequence number for this message."""
    duplicate: bool


@dataclass(frozen=True, slots=True)
class CommitResult:
    appends: list[AppendResult]
    """One result per ``AppendOp``, in the batch's order."""


class Store(Protocol):
    """What the bridge needs from storage. SQL lives only in ``store/sqlite/``."""

    kind: str
    """Short name shown in status reports: ``memory``, ``sqlite``."""

    def commit(self, batch: WriteBatch) -> CommitResult:
        """Writes the batch atomically and durably, in order: peers, appends, acks.

        Sequence numbers are given per recipient in the order of the appends. Raises
        ``StoreError`` (and writes nothing) on failure.
        """
        ...

    def peers(self) -> list[PeerRecord]:
        """Every known peer with its current cursors."""
        ...

    def pending(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int
    ) -> list[MailboxEntry]:
        """Entries of ``recipient`` with ``seq > after_seq`` in order.

        At most ``limit`` entries, and stops before the total body+context size passes
        ``max_bytes`` -- but always returns at least one entry if any is pending.
        """
        ...

    def history(
        self, viewer: str, peer: str | None, limit: int, before: int | None
    ) -> tuple[list[StoredMessage], int | None]:
        """The newest ``limit`` messages ``viewer`` may see, oldest first.

        ``viewer`` may see a message it sent or one in its mailbox. With ``peer``, only
        the conversation between the two: messages from ``viewer`` with ``peer`` among
        the recipients, and messages from ``peer`` in ``viewer``'s mailbox (broadcasts
        included). ``before`` is a cursor from an earlier page. Returns the page and the
        cursor for the next older page (``None`` when there is none).
        """
        ...

    def search(self, viewer: str, query: str, limit: int) -> list[StoredMessage]:
        """Messages ``viewer`` may see whose body matches every word of ``query``.

        Newest first. ``query`` is plain words, never a query language: quotes and
        operators in it are searched as text.
        """
        ...

    def proposals(self) -> list[ProposalRecord]:
        """Every stored consensus proposal, by id (docs/protocol.md §8)."""
        ...

    # Tokens (docs/security.md): few, written by ``ai-connect token`` from another
    # process, re-read by a running bridge; outside the group commit.

    def tokens(self) -> list[TokenRecord]:
        """Every token, revoked and expired ones included, oldest first."""
        ...

    def put_token(self, token: TokenRecord) -> None:
        """Stores a new token; ``StoreError`` if its id or hash is already stored."""
        ...

    def revoke_token(self, token_id: str, when: float) -> bool:
        """Marks the token revoked at ``when``; ``False`` if unknown or already revoked."""
        ...

    def close(self) -> None: ...


def message_bytes(message: StoredMessage) -> int:
    """The size used for flow control: UTF-8 body plus serialised context."""
    size = len(message.body.encode())
    if message.context:
        size += len(json.dumps(message.context, separators=(",", ":")).encode())
    return size
