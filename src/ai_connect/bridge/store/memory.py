"""The in-memory twin of the SQLite store, for tests and throwaway bridges.

It keeps the contract of :mod:`ai_connect.bridge.store.base` to the letter, with the same
semantics as ``SqliteStore`` (tests/bridge/store/test_contract.py runs on both): a commit is
checked in full before anything is applied, so a failing batch leaves no trace.

The rules both stores share (addresses, search words, proposal JSON) are in
:mod:`ai_connect.bridge.store.rules`.
"""

from __future__ import annotations

import dataclasses
import json
from types import TracebackType
from typing import Self

from ai_connect.errors import StoreError

from . import rules
from .base import (
    AppendResult,
    CommitResult,
    MailboxEntry,
    PeerRecord,
    ProposalRecord,
    StoredMessage,
    TokenRecord,
    WriteBatch,
    message_bytes,
)

__all__ = ["MemoryStore"]


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
    history cursor, as the rowid is in SQLite.
    """

    kind = "memory"

    def __init__(self) -> None:
        self._messages: list[StoredMessage] = []  # message n is at index n - 1
        self._seqs: list[dict[str, int]] = []  # recipient -> seq, per message
        self._by_cid: dict[tuple[str, str], int] = {}  # (sender, cid) -> n
        self._ids: set[str] = set()
        self._mailboxes: dict[str, list[int]] = {}  # recipient -> n of seq 1, 2, ...
        self._peers: dict[str, PeerRecord] = {}
        self._tokens: dict[str, TokenRecord] = {}  # id -> token, in creation order
        self._proposals: dict[str, str] = {}  # id -> JSON text, as SQLite keeps it
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Forgets nothing, but refuses any further use, as a closed database would."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("The store is closed. Open a new one to keep using storage.")

    # -- writing ---------------------------------------------------------------------

    def commit(self, batch: WriteBatch) -> CommitResult:
        """Writes the batch atomically: everything is checked before anything changes."""
        self._check_open()
        results: list[AppendResult] = []
        new: list[tuple[StoredMessage, dict[str, int]]] = []
        staged: dict[tuple[str, str], AppendResult] = {}
        tips: dict[str, int] = {}
        ids: set[str] = set()
        for op in batch.appends:
            message = op.message
            key = (message.sender, message.cid)
            if key in staged:
                first = staged[key]
                results.append(AppendResult(first.message, dict(first.seqs), True))
                continue
            if key in self._by_cid:
                n = self._by_cid[key]
                original = self._messages[n - 1]
                results.append(AppendResult(original, dict(self._seqs[n - 1]), True))
                continue
            if message.id in self._ids or message.id in ids:
                raise StoreError(
                    f"Message id {message.id!r} is already taken by another message; "
                    "nothing of this batch was stored. Give every message a unique id."
                )
            try:
                _check_message(message, op.recipients)
            except (TypeError, ValueError) as exc:
                raise StoreError(
                    f"Message {message.id!r} cannot be stored ({exc}); nothing of this "
                    "batch was stored. Send text and JSON-serialisable context only."
                ) from exc
            ids.add(message.id)
            seqs: dict[str, int] = {}
            for recipient in dict.fromkeys(op.recipients):
                if recipient not in tips:
                    tips[recipient] = len(self._mailboxes.get(recipient, ()))
                tips[recipient] += 1
                seqs[recipient] = tips[recipient]
            new.append((message, seqs))
            staged[key] = AppendResult(message, seqs, False)
            results.append(staged[key])
        proposals = rules.encoded(batch.proposals)
        self._apply(batch, new)
        self._proposals.update(proposals)
        return CommitResult(results)

    def _apply(self, batch: WriteBatch, new: list[tuple[StoredMessage, dict[str, int]]]) -> None:
        """Applies a checked batch; plain dict and list updates, so it cannot fail."""
        for peer in batch.peers:
            old = self._peers.get(peer.address)
            if old is None:
                self._peers[peer.address] = dataclasses.replace(peer, tip=0, acked=0)
            else:
                self._peers[peer.address] = dataclasses.replace(
                    old, name=peer.name, project=peer.project, last_seen=peer.last_seen
                )
        for message, seqs in new:
            self._messages.append(message)
            self._seqs.append(dict(seqs))
            n = len(self._messages)
            self._by_cid[message.sender, message.cid] = n
            self._ids.add(message.id)
            for recipient in seqs:
                self._mailboxes.setdefault(recipient, []).append(n)
                if recipient not in self._peers:
                    name, project = rules.split_address(recipient)
                    self._peers[recipient] = PeerRecord(
                        recipient, name, project, message.ts, message.ts
                    )
        for ack in batch.acks:
            acker = self._peers.get(ack.recipient)
            if acker is None:
                continue
            # Never past the tip: a stale client cursor must not skip future mail.
            acked = max(acker.acked, min(ack.seq, self._tip(ack.recipient)))
            self._peers[ack.recipient] = dataclasses.replace(acker, acked=acked)

    # -- reading ---------------------------------------------------------------------

    def _tip(self, recipient: str) -> int:
        return len(self._mailboxes.get(recipient, ()))

    def proposals(self) -> list[ProposalRecord]:
        """Every stored proposal, by id."""
        self._check_open()
        return [rules.decoded(i, text) for i, text in sorted(self._proposals.items())]

    def peers(self) -> list[PeerRecord]:
        """Every known peer with its current cursors, by address."""
        self._check_open()
        return [
            dataclasses.replace(peer, tip=self._tip(address))
            for address, peer in sorted(self._peers.items())
        ]

    def pending(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int
    ) -> list[MailboxEntry]:
        """Entries with ``seq > after_seq``, at most ``limit`` and about ``max_bytes``."""
        self._check_open()
        mailbox = self._mailboxes.get(recipient, [])
        entries: list[MailboxEntry] = []
        total = 0
        for seq in range(max(after_seq, 0) + 1, len(mailbox) + 1):
            if len(entries) >= limit:
                break
            message = self._messages[mailbox[seq - 1] - 1]
            total += message_bytes(message)
            if entries and total > max_bytes:
                break
            entries.append(MailboxEntry(recipient, seq, message))
        return entries

    def _visible(self, n: int, viewer: str, peer: str | None) -> bool:
        sender = self._messages[n - 1].sender
        seqs = self._seqs[n - 1]
        if peer is None:
            return sender == viewer or viewer in seqs
        return (sender == viewer and peer in seqs) or (sender == peer and viewer in seqs)

    def history(
        self, viewer: str, peer: str | None, limit: int, before: int | None
    ) -> tuple[list[StoredMessage], int | None]:
        """The newest ``limit`` visible messages before the cursor, oldest first."""
        self._check_open()
        if limit <= 0:
            return [], None
        start = len(self._messages) if before is None else min(before - 1, len(self._messages))
        found: list[int] = []
        for n in range(start, 0, -1):
            if self._visible(n, viewer, peer):
                if len(found) == limit:
                    return [self._messages[i - 1] for i in reversed(found)], found[-1]
                found.append(n)
        return [self._messages[i - 1] for i in reversed(found)], None

    def search(self, viewer: str, query: str, limit: int) -> list[StoredMessage]:
        """Visible messages whose body holds every word of ``query``, newest first."""
        self._check_open()
        words = set(rules.search_words(query))
        if not words or limit <= 0:
            return []
        found: list[StoredMessage] = []
        for n in range(len(self._messages), 0, -1):
            message = self._messages[n - 1]
            if self._visible(n, viewer, None) and words <= set(rules.search_words(message.body)):
                found.append(message)
                if len(found) == limit:
                    break
        return found

    # -- tokens ----------------------------------------------------------------------

    def tokens(self) -> list[TokenRecord]:
        """Every token, oldest first."""
        self._check_open()
        return sorted(self._tokens.values(), key=lambda t: (t.created, t.id))

    def put_token(self, token: TokenRecord) -> None:
        """Stores a new token; its id and hash must be new."""
        self._check_open()
        if token.id in self._tokens or any(t.hash == token.hash for t in self._tokens.values()):
            raise StoreError(
                f"A token with id {token.id!r} (or the same hash) is already stored; "
                "nothing was written. Create the token again: it gets a new id."
            )
        self._tokens[token.id] = token

    def revoke_token(self, token_id: str, when: float) -> bool:
        """Marks the token revoked; ``False`` if unknown or already revoked."""
        self._check_open()
        token = self._tokens.get(token_id)
        if token is None or token.revoked is not None:
            return False
        self._tokens[token_id] = dataclasses.replace(token, revoked=when)
        return True
