"""The in-memory twin of the SQLite store, for tests and throwaway bridges.

It keeps the contract of :mod:`ai_connect.bridge.store.base` to the letter, with the same
semantics as ``SqliteStore`` (tests/bridge/store/test_contract.py runs on both): a commit is
checked in full before anything is applied, so a failing batch leaves no trace.

The rules both stores share (addresses, search words, proposal JSON) are in
:mod:`ai_connect.bridge.store.rules`.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import json
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

from ai_connect.errors import StoreError

from . import rules
from .base import (
    AppendResult,
    BuryOp,
    CommitResult,
    DeadLetter,
    LeaseRecord,
    MailboxEntry,
    PeerRecord,
    ProposalRecord,
    PruneOp,
    Receipts,
    RecipientMarks,
    StoredMessage,
    TokenRecord,
    WorkRecord,
    WriteBatch,
    message_bytes,
)

__all__ = ["MemoryStore"]

P = ParamSpec("P")
R = TypeVar("R")


def _locked(method: Callable[P, R]) -> Callable[P, R]:
    """Runs ``method`` under the store's lock: the server reads from other threads than
    the one that commits (store/base.py), and plain dicts and lists are not a snapshot."""

    @functools.wraps(method)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        store: Any = args[0]
        with store._lock:
            return method(*args, **kwargs)

    return locked


def _check_message(message: StoredMessage, recipients: tuple[str, ...]) -> None:
    """Raises ``TypeError``/``ValueError`` for what a database could not store."""
    texts = [message.id, message.sender, message.cid, message.to, message.body, *recipients]
    texts += [t for t in (message.thread, message.reply_to) if t is not None]
    for text in texts:
        text.encode()
    if message.context is not None:
        json.dumps(message.context, separators=(",", ":"), ensure_ascii=False).encode()


class MemoryStore:
    """A :class:`~ai_connect.bridge.store.base.Store` in plain dicts and lists.

    Messages are numbered ``n`` from 1 in the order they are stored; ``n`` is the
    history cursor, as the rowid is in SQLite. Reads may come from other threads than
    commits (store/base.py): one lock serialises them.
    """

    kind = "memory"

    def __init__(self) -> None:
        self._messages: dict[int, StoredMessage] = {}  # n -> message
        self._seqs: dict[int, dict[str, int]] = {}  # n -> {recipient: seq}
        self._last_n = 0
        self._by_cid: dict[tuple[str, str], int] = {}  # (sender, cid) -> n
        self._ids: set[str] = set()
        self._mailboxes: dict[str, list[tuple[int, int]]] = {}  # recipient -> [(seq, n)]
        self._tips: dict[str, int] = {}  # recipient -> last seq given out
        self._peers: dict[str, PeerRecord] = {}
        self._tokens: dict[str, TokenRecord] = {}  # id -> token, in creation order
        self._proposals: dict[str, str] = {}  # id -> JSON text, as SQLite keeps it
        self._works: dict[str, tuple[str, float]] = {}  # address -> (JSON text, ts)
        self._dead: dict[int, DeadLetter] = {}  # n -> dead letter (none arise in memory)
        self._marks: dict[tuple[str, int], tuple[float | None, float | None, str | None]] = {}
        """(recipient, seq) -> (delivered, shown, path): receipts (§3.7)."""
        self._by_id: dict[str, int] = {}  # message id -> n
        self._leases: dict[str, LeaseRecord] = {}  # id -> lease (issue 15)
        self._closed = False
        self._lock = threading.RLock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def size_bytes(self) -> int | None:
        """None: memory has no file, and counting its objects is not worth a scrape."""
        return None

    def close(self) -> None:
        """Forgets nothing, but refuses any further use, as a closed database would."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("The store is closed. Open a new one to keep using storage.")

    # -- writing ---------------------------------------------------------------------

    @_locked
    def commit(self, batch: WriteBatch) -> CommitResult:
        """Writes the batch atomically: everything is checked before anything changes."""
        self._check_open()
        keys = {(op.message.sender, op.message.cid) for op in batch.appends}
        stored = {
            key: AppendResult(self._messages[n], dict(self._seqs[n]), True)
            for key in keys
            if (n := self._by_cid.get(key)) is not None
        }
        tips = {r: self._tips.get(r, 0) for op in batch.appends for r in op.recipients}
        plan = rules.numbered(batch.appends, self._last_n, tips, stored)
        ids: set[str] = set()
        for _, message, seqs in plan.new:
            if message.id in self._ids or message.id in ids:
                raise StoreError(
                    f"Message id {message.id!r} is already taken by another message; "
                    "nothing of this batch was stored. Give every message a unique id."
                )
            try:
                _check_message(message, tuple(seqs))
            except (TypeError, ValueError) as exc:
                raise StoreError(
                    f"Message {message.id!r} cannot be stored ({exc}); nothing of this "
                    "batch was stored. Send text and JSON-serialisable context only."
                ) from exc
            ids.add(message.id)
        results = plan.results
        new = [(message, seqs) for _, message, seqs in plan.new]
        proposals = rules.encoded(batch.proposals)
        works = rules.work_encoded(batch.works)
        for lease in batch.leases:
            try:
                for text in (lease.id, lease.repo, lease.path, lease.holder, lease.reason):
                    text.encode()
            except (UnicodeError, AttributeError) as exc:
                raise StoreError(
                    f"Lease {lease.id!r} cannot be stored ({exc}); nothing of this batch "
                    "was stored. Store text leases only."
                ) from exc
        self._works.update(works)  # before the forgets of the same batch (they win)
        pruned = self._apply(batch, new)
        self._proposals.update(proposals)
        self._leases.update((lease.id, lease) for lease in batch.leases)
        for drop in batch.lease_drops:
            self._leases.pop(drop.id, None)
        return CommitResult(results, pruned)

    def _apply(self, batch: WriteBatch, new: list[tuple[StoredMessage, dict[str, int]]]) -> int:
        """Applies a checked batch; plain dict and list updates, so it cannot fail.
        Returns the number of messages pruned."""
        for peer in batch.peers:
            old = self._peers.get(peer.address)
            if old is None:
                self._peers[peer.address] = dataclasses.replace(peer, tip=0, acked=0)
            else:
                self._peers[peer.address] = dataclasses.replace(
                    old, name=peer.name, project=peer.project, last_seen=peer.last_seen
                )
        for message, seqs in new:
            self._last_n += 1
            n = self._last_n
            self._messages[n] = message
            self._seqs[n] = dict(seqs)
            self._by_cid[message.sender, message.cid] = n
            self._ids.add(message.id)
            self._by_id[message.id] = n
            for recipient, seq in seqs.items():
                self._mailboxes.setdefault(recipient, []).append((seq, n))
                self._tips[recipient] = seq
                if recipient not in self._peers:
                    name, project = rules.split_address(recipient)
                    self._peers[recipient] = PeerRecord(
                        recipient, name, project, message.ts, message.ts
                    )
        for mark in batch.delivered:
            for seq in self._unacked(mark.recipient, mark.seq):
                delivered, shown, path = self._marks.get((mark.recipient, seq), (None, None, None))
                if delivered is None:
                    self._marks[mark.recipient, seq] = (mark.ts, shown, path)
        for ack in batch.acks:
            acker = self._peers.get(ack.recipient)
            if acker is None:
                continue
            if ack.ts is not None:
                for seq in self._unacked(ack.recipient, ack.seq):
                    key = (ack.recipient, seq)
                    delivered, shown, _ = self._marks.get(key, (None, None, None))
                    if shown is None:
                        self._marks[key] = (delivered, ack.ts, ack.path)
            # Never past the tip: a stale client cursor must not skip future mail.
            acked = max(acker.acked, min(ack.seq, self._tips.get(ack.recipient, 0)))
            self._peers[ack.recipient] = dataclasses.replace(acker, acked=acked)
        for forget in batch.forgets:
            self._forget(forget.address)
        for bury in batch.buries:
            self._bury(bury)
        return sum(self._prune(prune) for prune in batch.prunes)

    def _unacked(self, recipient: str, upto: int) -> list[int]:
        """The seqs of ``recipient``'s entries above its acked cursor, up to ``upto``."""
        peer = self._peers.get(recipient)
        mailbox = self._mailboxes.get(recipient, [])
        start = bisect.bisect_right(mailbox, peer.acked if peer else 0, key=lambda e: e[0])
        return [seq for seq, _ in mailbox[start:] if seq <= upto]

    def _forget(self, address: str) -> None:
        for seq, n in self._mailboxes.pop(address, []):
            self._seqs[n].pop(address, None)
            self._marks.pop((address, seq), None)
        self._tips.pop(address, None)
        self._peers.pop(address, None)
        self._works.pop(address, None)

    def _drop(self, n: int) -> StoredMessage:
        """Removes message ``n`` and its mailbox entries (tips stay)."""
        message = self._messages.pop(n)
        seqs = self._seqs.pop(n)
        self._by_cid.pop((message.sender, message.cid), None)
        self._ids.discard(message.id)
        self._by_id.pop(message.id, None)
        for recipient, seq in seqs.items():
            self._marks.pop((recipient, seq), None)
            mailbox = self._mailboxes.get(recipient, [])
            at = bisect.bisect_left(mailbox, seq, key=lambda entry: entry[0])
            if at < len(mailbox) and mailbox[at] == (seq, n):
                del mailbox[at]
        return message

    def _bury(self, op: BuryOp) -> None:
        if op.key not in self._messages or op.key in self._dead:
            return
        recipients = tuple(self._seqs[op.key])
        m = self._drop(op.key)
        self._dead[op.key] = DeadLetter(
            op.key, m.id, m.sender, m.to, recipients, m.body, m.ts, op.reason, op.moved
        )

    def _prune(self, op: PruneOp) -> int:
        for address in op.peers:  # unless it came back since the router chose it
            peer = self._peers.get(address)
            if peer is not None and peer.last_seen < op.horizon:
                self._forget(address)
        due = sorted(
            (m.ts, n)
            for n, m in self._messages.items()
            if m.ts < op.horizon and all(self._read(r, seq) for r, seq in self._seqs[n].items())
        )
        for _, n in due[: op.limit]:
            self._drop(n)
        for n in [n for n, d in self._dead.items() if d.moved < op.horizon]:
            del self._dead[n]
        return min(len(due), op.limit)

    def _read(self, recipient: str, seq: int) -> bool:
        """Whether ``recipient`` no longer has to ack its entry ``seq``."""
        peer = self._peers.get(recipient)
        return peer is None or seq <= peer.acked

    # -- reading ---------------------------------------------------------------------

    @_locked
    def leases(self) -> list[LeaseRecord]:
        """Every stored lease, by repository, path and id."""
        self._check_open()
        return sorted(self._leases.values(), key=lambda x: (x.repo, x.path, x.id))

    @_locked
    def proposals(self) -> list[ProposalRecord]:
        """Every stored proposal, by id."""
        self._check_open()
        return [rules.decoded(i, text) for i, text in sorted(self._proposals.items())]

    @_locked
    def works(self) -> list[WorkRecord]:
        """Every stored work status, by address."""
        self._check_open()
        return [rules.work_decoded(a, text, ts) for a, (text, ts) in sorted(self._works.items())]

    @_locked
    def receipts(self, message_id: str) -> Receipts | None:
        """The message and each recipient's marks, by recipient."""
        self._check_open()
        n = self._by_id.get(message_id)
        if n is None:
            return None
        marks = []
        for recipient, seq in sorted(self._seqs[n].items()):
            delivered, shown, path = self._marks.get((recipient, seq), (None, None, None))
            acked = self._read(recipient, seq) and recipient in self._peers
            marks.append(RecipientMarks(recipient, seq, delivered, shown, path, acked))
        return Receipts(self._messages[n], tuple(marks))

    @_locked
    def dead_letters(self, limit: int) -> list[DeadLetter]:
        """The newest ``limit`` messages moved aside, newest first."""
        self._check_open()
        dead = sorted(self._dead.values(), key=lambda d: (d.moved, d.key), reverse=True)
        return dead[:limit]

    @_locked
    def peers(self) -> list[PeerRecord]:
        """Every known peer with its current cursors, by address."""
        self._check_open()
        return [
            dataclasses.replace(peer, tip=self._tips.get(address, 0))
            for address, peer in sorted(self._peers.items())
        ]

    @_locked
    def pending(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int
    ) -> list[MailboxEntry]:
        """Entries with ``seq > after_seq``, at most ``limit`` and about ``max_bytes``."""
        self._check_open()
        mailbox = self._mailboxes.get(recipient, [])
        entries: list[MailboxEntry] = []
        total = 0
        start = bisect.bisect_right(mailbox, after_seq, key=lambda entry: entry[0])
        for seq, n in mailbox[start:]:
            if len(entries) >= limit:
                break
            message = self._messages[n]
            total += message_bytes(message)
            if entries and total > max_bytes:
                break
            entries.append(MailboxEntry(recipient, seq, message, None, n))
        return entries

    def _visible(self, n: int, viewer: str, peer: str | None) -> bool:
        sender = self._messages[n].sender
        seqs = self._seqs[n]
        if peer is None:
            return sender == viewer or viewer in seqs
        return (sender == viewer and peer in seqs) or (sender == peer and viewer in seqs)

    @_locked
    def history(
        self,
        viewer: str,
        peer: str | None,
        limit: int,
        before: int | None,
        max_bytes: int | None = None,
    ) -> tuple[list[StoredMessage], int | None]:
        """The newest ``limit`` visible messages before the cursor, oldest first."""
        self._check_open()
        found = (n for n in self._newest(before) if self._visible(n, viewer, peer))
        page, cursor = self._page(found, limit, max_bytes)
        page.reverse()
        return page, cursor

    @_locked
    def search(
        self,
        viewer: str,
        query: str,
        limit: int,
        before: int | None = None,
        max_bytes: int | None = None,
    ) -> tuple[list[StoredMessage], int | None]:
        """Visible messages whose body holds every word of ``query``, newest first."""
        self._check_open()
        words = rules.search_words(query)
        if not words:
            return [], None
        holds = rules.holds_words(words)
        found = (
            n
            for n in self._newest(before)
            if self._visible(n, viewer, None) and holds(self._messages[n].body)
        )
        return self._page(found, limit, max_bytes)

    def _newest(self, before: int | None) -> Iterator[int]:
        """Numbers of the stored messages below the cursor, newest first."""
        start = self._last_n if before is None else min(before - 1, self._last_n)
        return (n for n in range(start, 0, -1) if n in self._messages)

    def _page(
        self, found: Iterator[int], limit: int, max_bytes: int | None
    ) -> tuple[list[StoredMessage], int | None]:
        """The first of ``found`` up to ``limit`` and ``max_bytes`` (at least one), newest
        first, and the cursor of the rest (``None``: nothing is left)."""
        page: list[StoredMessage] = []
        total, last = 0, 0
        if limit <= 0:
            return page, None
        for n in found:
            message = self._messages[n]
            total += message_bytes(message)
            if len(page) == limit or (page and max_bytes is not None and total > max_bytes):
                return page, last
            page.append(message)
            last = n
        return page, None

    # -- tokens ----------------------------------------------------------------------

    @_locked
    def tokens(self) -> list[TokenRecord]:
        """Every token, oldest first."""
        self._check_open()
        return sorted(self._tokens.values(), key=lambda t: (t.created, t.id))

    @_locked
    def put_token(self, token: TokenRecord) -> None:
        """Stores a new token; its id and hash must be new."""
        self._check_open()
        if token.id in self._tokens or any(t.hash == token.hash for t in self._tokens.values()):
            raise StoreError(
                f"A token with id {token.id!r} (or the same hash) is already stored; "
                "nothing was written. Create the token again: it gets a new id."
            )
        self._tokens[token.id] = token

    @_locked
    def revoke_token(self, token_id: str, when: float) -> bool:
        """Marks the token revoked; ``False`` if unknown or already revoked."""
        self._check_open()
        token = self._tokens.get(token_id)
        if token is None or token.revoked is not None:
            return False
        self._tokens[token_id] = dataclasses.replace(token, revoked=when)
        return True
