"""The storage protocol of the bridge and the records it keeps.

A store is synchronous. The server writes from one worker thread, handing it one
:class:`WriteBatch` per loop turn (group commit, DESIGN.md "Delivery guarantees"), and
reads (mailboxes, history, search, peers, tokens) from other threads, beside the writes
and each other: a query never waits for a commit, nor a commit for a query (issue 11).
Each read sees a committed state, and everything committed before it started. ``commit``
is atomic: after it returns, everything in the batch is durable; if it raises
:class:`~ai_connect.errors.StoreError`, nothing of it is.

Two implementations keep the same contract (tests/bridge/store/test_contract.py):
``MemoryStore`` for tests, ``SqliteStore`` as the default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import msgspec

from ai_connect.protocol import flow_bytes

__all__ = [
    "AckOp",
    "AppendOp",
    "AppendResult",
    "BuryOp",
    "CommitResult",
    "DeadLetter",
    "DeliveredOp",
    "ForgetOp",
    "LeaseDrop",
    "LeaseRecord",
    "MailboxEntry",
    "PeerRecord",
    "ProposalRecord",
    "PruneOp",
    "Receipts",
    "RecipientMarks",
    "Store",
    "StoredMessage",
    "Supervised",
    "TokenRecord",
    "Upkept",
    "Watched",
    "WorkRecord",
    "WriteBatch",
    "commits_elsewhere",
    "message_bytes",
]


class StoredMessage(msgspec.Struct, frozen=True):
    """A message as accepted by the bridge.

    Immutable, compared by value, as a frozen dataclass; a msgspec Struct because one is
    made for every message sent and every mailbox row read, and a Struct is made ten
    times faster (issue 13: 1.4 µs per frozen dataclass of eleven fields here).
    """

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
    human: bool = False
    """Sent by a person through an observer connection (docs/protocol.md §9.3)."""
    receipt: bool = False
    """Its sender asked to be told when each recipient was shown it (§3.7)."""


class MailboxEntry(msgspec.Struct, frozen=True):
    """One message in one recipient's mailbox, numbered per recipient from 1 (a Struct,
    as :class:`StoredMessage`: one is made for each delivery)."""

    recipient: str
    seq: int
    message: StoredMessage
    damaged: str | None = None
    """Why the message cannot be delivered as it was stored (damaged on disk), if so:
    then ``message`` holds only what could be read, and a :class:`BuryOp` with ``key``
    moves it to the dead letters (issue 11)."""
    key: int = 0
    """The store's own number for the message (SQLite: its rowid), for :class:`BuryOp`."""


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
    """Raise ``recipient``'s acked cursor to ``seq`` (never lowers it).

    With ``ts``, the entries it newly covers are marked shown at ``ts`` through ``path``
    (hook, tool, channel, cli; docs/protocol.md §3.7): a receipt keeps the first mark.
    """

    recipient: str
    seq: int
    path: str | None = None
    ts: float | None = None


@dataclass(frozen=True, slots=True)
class DeliveredOp:
    """Mark ``recipient``'s entries above its acked cursor and up to ``seq`` delivered at
    ``ts``, where not marked yet (docs/protocol.md §3.7). Cheap: it rides along in the
    next group commit; written before the batch's acks."""

    recipient: str
    seq: int
    ts: float


@dataclass(frozen=True, slots=True)
class ForgetOp:
    """Forget ``address``: its peer record and its mailbox (docs/protocol.md §2.5).

    The messages it sent stay in their recipients' mailboxes and history; a message
    only it held stays stored, visible to nobody, until retention removes it.
    """

    address: str


@dataclass(frozen=True, slots=True)
class PruneOp:
    """Retention (``--retention-days``, docs/operations.md): forget ``peers`` (as
    :class:`ForgetOp` does), then delete at most ``limit`` messages stored before
    ``horizon`` that no recipient still has to ack, and the dead letters moved before it.

    A message that someone has not acked yet is kept, however old: retention never takes
    mail before it was read. The commit's :attr:`CommitResult.pruned` says how many
    messages went; ``limit`` keeps each transaction short (the router asks again).
    """

    horizon: float
    peers: tuple[str, ...] = ()
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class BuryOp:
    """Move the damaged message ``key`` (:attr:`MailboxEntry.key`) aside: into the dead
    letters, as far as it can be read, with ``reason`` and the time ``moved``; out of
    the messages and out of every mailbox, so that it blocks none. Idempotent."""

    key: int
    reason: str
    moved: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message moved aside because it could not be read back as stored (issue 11)."""

    key: int
    id: str
    sender: str
    to: str
    recipients: tuple[str, ...]
    body: str
    """As far as it can be read (undecodable bytes replaced)."""
    ts: float | None
    reason: str
    moved: float


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    """A consensus proposal with its ballots (``bridge/consensus.py``), as JSON data.

    Stored by ``id``: a later record of the same id replaces the earlier one.

    ``rebase``: the change this record makes, for a store shared by several bridge nodes
    (PostgreSQL): another node may have stored a newer version of the proposal since
    this node read it (a vote cast there at the same moment). Such a store reads the
    stored version under its write lock and writes ``rebase(stored)`` instead of ``data``,
    so that neither change is lost (``CommitResult.proposals`` says what it wrote).
    ``rebase`` may raise ``StoreError`` to refuse the whole batch. A store only one node
    writes (memory, SQLite) holds what its node read: it writes ``data``.
    """

    id: str
    data: dict[str, Any]
    rebase: Callable[[dict[str, Any]], dict[str, Any]] | None = field(
        default=None, compare=False, repr=False
    )


@dataclass(frozen=True, slots=True)
class WorkRecord:
    """A peer's last published work status (docs/protocol.md §11), as JSON data.

    Stored by ``address``: a later record replaces the earlier one; forgetting the
    address (``ForgetOp``, retention) removes it.
    """

    address: str
    data: dict[str, Any]
    """The status fields (``protocol.WorkFields``)."""
    ts: float
    """When the bridge got it."""


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """An advisory file lease (issue 15, docs/leases.md): ``holder`` claims ``path`` (a
    normalised pattern, :mod:`ai_connect.leases.rules`) of repository ``repo`` until
    ``expires``. Stored by ``id``: a later record of the same id replaces the earlier one
    (a renewal)."""

    id: str
    repo: str
    """The repository's identity key (:func:`ai_connect.repo_identity.repo_identity`)."""
    path: str
    holder: str
    """The holder's address, ``Name (Project)``."""
    reason: str
    created: float
    expires: float
    ttl: float
    """The duration it was claimed for: an edit of the path renews it by as much."""
    bound: bool = True
    """It also ends when its holder has been offline for longer than the presence timeout
    (an agent session's claim); ``False``: only at ``expires`` (a person's command line)."""


@dataclass(frozen=True, slots=True)
class LeaseDrop:
    """Remove the lease ``id`` (released, expired, or its holder gone); idempotent."""

    id: str


@dataclass(slots=True)
class WriteBatch:
    """Everything one loop turn wants written, committed in one transaction."""

    peers: list[PeerRecord] = field(default_factory=list)
    """Upserts: insert, or update ``name``, ``project`` and ``last_seen`` (cursors kept)."""
    appends: list[AppendOp] = field(default_factory=list)
    acks: list[AckOp] = field(default_factory=list)
    proposals: list[ProposalRecord] = field(default_factory=list)
    """Upserts by id, after the appends (docs/protocol.md §8)."""
    forgets: list[ForgetOp] = field(default_factory=list)
    """Last: peers and their mailboxes removed (docs/protocol.md §2.5)."""
    buries: list[BuryOp] = field(default_factory=list)
    """Damaged messages moved to the dead letters."""
    prunes: list[PruneOp] = field(default_factory=list)
    """Retention, after everything else."""
    delivered: list[DeliveredOp] = field(default_factory=list)
    """Delivery marks, written after the appends and before the acks."""
    works: list[WorkRecord] = field(default_factory=list)
    """Work status upserts by address, before the forgets (docs/protocol.md §11)."""
    leases: list[LeaseRecord] = field(default_factory=list)
    """Lease upserts by id, after the proposals (issue 15)."""
    lease_drops: list[LeaseDrop] = field(default_factory=list)
    """Leases removed, after the upserts."""

    def __bool__(self) -> bool:
        return bool(
            self.works
            or self.leases
            or self.lease_drops
            or self.delivered
            or self.peers
            or self.appends
            or self.acks
            or self.proposals
            or self.forgets
            or self.buries
            or self.prunes
        )


@dataclass(frozen=True, slots=True)
class AppendResult:
    message: StoredMessage
    """The stored message: the original one when ``duplicate``."""
    seqs: dict[str, int]
    """Recipient address -> its mailbox sequence number for this message."""
    duplicate: bool


@dataclass(frozen=True, slots=True)
class RecipientMarks:
    """One recipient's copy of a message, as the store knows it (§3.7)."""

    recipient: str
    seq: int
    delivered: float | None
    """When it was first delivered to a connection (``None``: not known to be)."""
    shown: float | None
    """When an ack covered it (``None``: not, or acked before marks were kept)."""
    path: str | None
    acked: bool
    """Its recipient's acked cursor covers it (shown, whether or not ``shown`` is known)."""


@dataclass(frozen=True, slots=True)
class Receipts:
    """A stored message and each recipient's marks, in recipient order."""

    message: StoredMessage
    recipients: tuple[RecipientMarks, ...]


@dataclass(frozen=True, slots=True)
class CommitResult:
    appends: list[AppendResult]
    """One result per ``AppendOp``, in the batch's order."""
    pruned: int = 0
    """Messages the batch's ``PruneOp`` deleted (its ``limit``: perhaps more are due)."""
    proposals: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Id -> the data stored, for each proposal whose stored data is not its last record's
    ``data`` (a shared store rebased it on another node's change: ``ProposalRecord``)."""


class Store(Protocol):
    """What the bridge needs from storage. SQL lives only in ``store/sqlite/``."""

    kind: str
    """Short name shown in status reports: ``memory``, ``sqlite``."""

    def commit(self, batch: WriteBatch) -> CommitResult:
        """Writes the batch atomically and durably, in order: peers, appends, acks,
        forgets.

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
        ``max_bytes`` -- but always returns at least one entry if any is pending. A
        message that cannot be read back as stored (damaged on disk, or its checksum does
        not match) comes back as an entry with ``damaged`` set, never as an error: one
        bad record must not block the mailbox. Sequence numbers may have gaps where
        damaged messages were moved aside.
        """
        ...

    def history(
        self,
        viewer: str,
        peer: str | None,
        limit: int,
        before: int | None,
        max_bytes: int | None = None,
    ) -> tuple[list[StoredMessage], int | None]:
        """The newest ``limit`` messages ``viewer`` may see, oldest first.

        ``viewer`` may see a message it sent or one in its mailbox. With ``peer``, only
        the conversation between the two: messages from ``viewer`` with ``peer`` among
        the recipients, and messages from ``peer`` in ``viewer``'s mailbox (broadcasts
        included). ``before`` is a cursor from an earlier page. The page stops before its
        body+context bytes (:func:`message_bytes`) pass ``max_bytes``, but holds at least
        one message if any is visible. Returns the page and the cursor for the next older
        page (``None`` when there is none).
        """
        ...

    def search(
        self,
        viewer: str,
        query: str,
        limit: int,
        before: int | None = None,
        max_bytes: int | None = None,
    ) -> tuple[list[StoredMessage], int | None]:
        """Messages ``viewer`` may see whose body matches every word of ``query``.

        Newest first, older than the cursor ``before``, at most ``limit`` and about
        ``max_bytes`` as :meth:`history`; returns them and the cursor of the next page
        (``None`` when there is none). ``query`` is plain words, never a query language:
        quotes and operators in it are searched as text.
        """
        ...

    def proposals(self) -> list[ProposalRecord]:
        """Every stored consensus proposal, by id (docs/protocol.md §8)."""
        ...

    def works(self) -> list[WorkRecord]:
        """Every stored work status, by address (docs/protocol.md §11)."""
        ...

    def receipts(self, message_id: str) -> Receipts | None:
        """The message ``message_id`` with its recipients' delivery and shown marks
        (docs/protocol.md §3.7), ``None`` if no such message is stored (or readable).
        A recipient that was forgotten is no longer listed."""
        ...

    def dead_letters(self, limit: int) -> list[DeadLetter]:
        """The newest ``limit`` messages moved aside as damaged, newest first."""
        ...

    def leases(self) -> list[LeaseRecord]:
        """Every stored file lease, expired ones included (the router drops those), by
        repository, path and id (issue 15)."""
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

    def size_bytes(self) -> int | None:
        """The storage's size in bytes (``/metrics``), ``None`` when it has no such
        figure. Cheap, and safe to call from any thread: it never waits for a commit."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Watched(Protocol):
    """A store that other bridge nodes write too (PostgreSQL): it tells when they
    committed, so that this node re-reads the peers (bridge/cluster.py)."""

    def watch(
        self,
        changed: Callable[[], None],
        tokens: Callable[[], None] | None = None,
        forgotten: Callable[[str], None] | None = None,
        proposals: Callable[[], None] | None = None,
        leases: Callable[[], None] | None = None,
        moved: Callable[[dict[str, int], dict[str, int], tuple[MailboxEntry, ...]], None]
        | None = None,
    ) -> Callable[[], None]:
        """Calls ``changed()`` (from a thread of its own) after another node's commit,
        and once whenever it may have missed some (it lost its connection) -- or
        ``moved(tips, acked, entries)`` after a commit that only moved mailboxes
        (recipient -> new tip, recipient -> acked seq: nothing to re-read; the new
        mailbox entries themselves when they fitted in the notice); ``tokens()``
        after a token was stored or revoked anywhere; ``forgotten(address)`` after
        another node committed the forgetting of an address; ``proposals()`` after
        another node committed a change to a proposal; ``leases()`` after another node
        committed a claim or release; returns the function that stops watching."""
        ...

    def beat(
        self,
        url: str,
        sessions: dict[str, str | None],
        notify: bool,
        since: Mapping[str, float] | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        """This node's heartbeat, with the sessions it holds (address -> session id).
        An address another live node (heartbeat younger than ``timeout_s``) holds stays
        that node's unless its connection here registered later (``since``: address ->
        wall-clock time of its hello): the latest hello holds it (bridge/cluster.py)."""
        ...

    def elsewhere(self, timeout_s: float) -> dict[str, tuple[str | None, float]]:
        """The sessions live on other nodes (address -> session id, when its hello
        registered it)."""
        ...

    def nodes(self) -> list[tuple[str, str, float, int, bool]]:
        """Every node: (id, URL, seconds since its heartbeat, sessions, this one)."""
        ...


@runtime_checkable
class Supervised(Protocol):
    """A store that runs in a process of its own (SQLite's writer: store/sqlite/process.py):
    it tells when that process ended before the store was closed, and the bridge stops."""

    def on_exit(self, callback: Callable[[str], None]) -> None:
        """Calls ``callback(why)`` (from a thread of its own) if the process ends early."""
        ...


@runtime_checkable
class Upkept(Protocol):
    """A store with writes that may wait (SQLite's search index: store/sqlite/
    search_index.py): the bridge's store thread calls ``upkeep()`` whenever it has no
    other call to run."""

    def upkeep(self) -> float | None:
        """Does what is due; seconds until more is due (``None``: not before the next
        commit). Errors are its own to log: it never raises for a failed write."""
        ...


def commits_elsewhere(store: object) -> bool:
    """Whether ``store``'s commits are worked by another process (``commits_elsewhere =
    True``: PostgreSQL, its server; SQLite's store process, its child), not under the
    bridge's GIL in its store thread. Then the bridge hands the next batch to the writer
    before it answers the last one (bridge/server.py): the two run at once. SQLite in the
    thread does not: its commit's Python would hold the GIL against the answers, and the
    batches come smaller (a loss in bench/RESULTS.md)."""
    return bool(getattr(store, "commits_elsewhere", False))


def message_bytes(message: StoredMessage) -> int:
    """The size used for flow control: :func:`ai_connect.protocol.flow_bytes`."""
    return flow_bytes(message.body, message.context)
