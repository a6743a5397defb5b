"""How a :class:`~ai_connect.bridge.store.base.WriteBatch` is written to PostgreSQL: one
statement per table per commit (the messages and their mailbox entries: one per
``ROWS_PER_STATEMENT`` new messages), inside the caller's transaction.

Each statement takes the batch's rows as one array per column and ``unnest``s them: a
batch of any size is the same handful of prepared statements and round trips, sent on
libpq's pipeline (``pipeline.py``). The arrays go in PostgreSQL's binary
format (``%b``): no per-element quoting or escaping, which in text format cost the bridge
more CPU than the rest of the commit. The numbering is every store's
(``rules.numbered``): the last ``n`` and the recipients' tips are read once, under the
cluster-wide write lock (``schema.WRITE_LOCK``), and the batch numbers after them.
"""

from __future__ import annotations

import json
from typing import Any

from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    AppendResult,
    PeerRecord,
    ProposalRecord,
    PruneOp,
    WriteBatch,
)
from ai_connect.bridge.store.postgres.pipeline import Pipeline
from ai_connect.bridge.store.postgres.schema import COLUMNS, DELIVERED, SHOWN, WRITE_LOCK
from ai_connect.bridge.store.rules import (
    encoded,
    from_floor,
    numbered,
    rebased,
    search_words,
    split_address,
    work_encoded,
)
from ai_connect.bridge.store.sqlite.schema import checksum, stored_message

__all__ = ["BatchWriter", "lexemes"]

_LOCK = f"SELECT pg_advisory_xact_lock({WRITE_LOCK})"
_UPSERT_PEERS = """
    INSERT INTO peers (address, name, project, first_seen, last_seen)
    SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::float8[], %b::float8[])
    ON CONFLICT (address) DO UPDATE
    SET name = excluded.name, project = excluded.project, last_seen = excluded.last_seen"""
# The batch start: the last n, the tips of the batch's recipients, and the n of each
# (sender, cid) stored already. Each key is looked up on its own (LATERAL ... LIMIT 1, a
# unique key): as a join, the writer's generic plan, made for a hundred keys, scanned the
# whole messages table on every commit until it held tens of thousands (issue 14).
_START = """
    SELECT (SELECT coalesce(max(n), 0) FROM messages),
           (SELECT coalesce(json_object_agg(address, tip), '{}') FROM peers
            WHERE address = ANY(%b::text[])),
           (SELECT coalesce(array_agg(m.n), '{}')
            FROM unnest(%b::text[], %b::text[]) AS k (sender, cid)
            CROSS JOIN LATERAL (SELECT n FROM messages
                                WHERE sender = k.sender AND cid = k.cid LIMIT 1) AS m)"""
_MESSAGE = f"SELECT {COLUMNS} FROM messages m WHERE m.n = %s"
_SEQS = "SELECT recipient, seq FROM mailbox WHERE n = %s"
_INSERT_MESSAGES = """
    INSERT INTO messages (n, id, sender, cid, target, body, context, thread, reply_to, ts,
                          checksum, words, human, receipt)
    SELECT n, id, sender, cid, target, body, context, thread, reply_to, ts, crc,
           array_to_tsvector(string_to_array(words, ' ')), human, receipt
    FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::bytea[],
                %b::bytea[], %b::text[], %b::text[], %b::float8[], %b::bigint[], %b::text[],
                %b::bool[], %b::bool[])
         AS r (n, id, sender, cid, target, body, context, thread, reply_to, ts, crc, words,
               human, receipt)"""
_INSERT_MAILBOX = """
    INSERT INTO mailbox (recipient, seq, n)
    SELECT * FROM unnest(%b::text[], %b::bigint[], %b::bigint[])"""
_UPSERT_TIPS = """
    INSERT INTO peers (address, name, project, first_seen, last_seen, tip)
    SELECT a, nm, pr, ts, ts, tip
    FROM unnest(%b::text[], %b::text[], %b::text[], %b::float8[], %b::bigint[])
         AS r (a, nm, pr, ts, tip)
    ON CONFLICT (address) DO UPDATE SET tip = excluded.tip"""
# Receipts (docs/protocol.md §3.7): one row per mark (schema.SCHEMA_V7), for the entries
# it newly covers -- above the acked cursor, above where the recipient's earlier marks of
# the batch stopped (k.floor), above the highest mark of its kind stored (each entry keeps
# its first mark), up to its seq. Run before the acked cursors move.
_MARK = """
    INSERT INTO marks (recipient, kind, lo, hi, ts, path)
    SELECT recipient, %s, lo, seq, ts, path FROM (
        SELECT k.recipient, k.seq, k.ts, k.path, greatest(k.floor,
            coalesce((SELECT acked FROM peers WHERE address = k.recipient), 0),
            coalesce((SELECT max(hi) FROM marks
                      WHERE recipient = k.recipient AND kind = %s), 0)) AS lo
        FROM unnest(%b::text[], %b::bigint[], %b::float8[], %b::text[], %b::bigint[])
             AS k (recipient, seq, ts, path, floor)) AS k
    WHERE seq > lo"""
# Never past the tip: a stale client cursor must not skip future mail.
_ACK = """
    UPDATE peers p SET acked = greatest(p.acked, least(k.seq, p.tip))
    FROM unnest(%b::text[], %b::bigint[]) AS k (address, seq) WHERE p.address = k.address"""
_UPSERT_PROPOSALS = """
    INSERT INTO proposals (id, data) SELECT * FROM unnest(%s::text[], %s::text[])
    ON CONFLICT (id) DO UPDATE SET data = excluded.data"""
_STORED_PROPOSALS = "SELECT id, data FROM proposals WHERE id = ANY(%s::text[])"
_UPSERT_LEASE = """
    INSERT INTO leases (id, repo, path, holder, reason, created, expires, ttl, bound)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET repo = excluded.repo, path = excluded.path,
        holder = excluded.holder, reason = excluded.reason, created = excluded.created,
        expires = excluded.expires, ttl = excluded.ttl, bound = excluded.bound"""
_DROP_LEASE = "DELETE FROM leases WHERE id = %s"
_UPSERT_WORK = """
    INSERT INTO work_status (address, data, ts)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::double precision[])
    ON CONFLICT (address) DO UPDATE SET data = excluded.data, ts = excluded.ts"""
_FORGET_WORK = "DELETE FROM work_status WHERE address = %s"
_FORGET_MAILBOX = "DELETE FROM mailbox WHERE recipient = %s"
_FORGET_MARKS = "DELETE FROM marks WHERE recipient = %s"
_FORGET_PEER = "DELETE FROM peers WHERE address = %s"
_BURY = """
    INSERT INTO dead_letters
        (n, id, sender, target, recipients, body, context, thread, reply_to, ts, cid,
         checksum, reason, moved)
    SELECT k.n, m.id, m.sender, m.target,
           (SELECT coalesce(json_agg(recipient ORDER BY recipient), '[]')::text
            FROM mailbox WHERE n = k.n),
           m.body, m.context, m.thread, m.reply_to, m.ts, m.cid, m.checksum, %s, %s
    FROM (SELECT %s::bigint AS n) k LEFT JOIN messages m ON m.n = k.n
    ON CONFLICT (n) DO NOTHING"""
_BURY_MAILBOX = "DELETE FROM mailbox WHERE n = %s"
_BURY_MESSAGE = "DELETE FROM messages WHERE n = %s"
# Retention: the oldest messages stored before the horizon that no recipient still has to
# ack (an entry of a peer that no longer exists has nobody to ack it), by the ts index.
_DUE = """
    SELECT coalesce(array_agg(n), '{}') FROM (
        SELECT m.n FROM messages m WHERE m.ts < %s AND NOT EXISTS (
            SELECT 1 FROM mailbox b JOIN peers p ON p.address = b.recipient
            WHERE b.n = m.n AND b.seq > p.acked)
        ORDER BY m.ts LIMIT %s) AS due"""
_PRUNE_MAILBOX = "DELETE FROM mailbox WHERE n = ANY(%s::bigint[]) RETURNING recipient"
# The marks that cover only entries gone (below each recipient's lowest entry left; all of
# them when none is left: its later entries are numbered above every mark).
_PRUNE_MARKS = """
    DELETE FROM marks k WHERE k.recipient = ANY(%s::text[]) AND k.hi < coalesce(
        (SELECT min(seq) FROM mailbox b WHERE b.recipient = k.recipient), 9223372036854775807)"""
_PRUNE_MESSAGES = "DELETE FROM messages WHERE n = ANY(%s::bigint[])"
_PRUNE_DEAD = "DELETE FROM dead_letters WHERE moved < %s"
_PRUNE_PEER = "DELETE FROM peers WHERE address = %s AND last_seen < %s RETURNING address"
ROWS_PER_STATEMENT = 64
"""New messages per insert: each part is sent as soon as it is built, and PostgreSQL
stores it while the writer builds the next (the server's part of a large commit was
waiting for all of the writer's, ~75 µs per message; bench/RESULTS.md)."""
_MAX_LEXEME_BYTES = 2046
"""PostgreSQL refuses a longer word in a tsvector: such a word is not indexed."""


def lexemes(text: str) -> list[str]:
    """The distinct search words of ``text`` (``rules.search_words``) that a tsvector
    holds, in first-seen order."""
    short = _MAX_LEXEME_BYTES // 4  # so many characters are at most so many bytes
    return [
        w
        for w in dict.fromkeys(search_words(text))
        if len(w) <= short or len(w.encode()) <= _MAX_LEXEME_BYTES
    ]


def _dump(context: dict[str, Any] | None) -> bytes | None:
    if context is None:
        return None
    return json.dumps(context, separators=(",", ":"), ensure_ascii=False).encode()


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows -> one list per column (what ``unnest`` takes)."""
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


class BatchWriter:
    """Writes a batch into the transaction the caller holds."""

    def __init__(self, db: Pipeline) -> None:
        self._db = db
        self.tips: dict[str, int] = {}
        """Each recipient of a message this batch stored -> its new tip (the notice)."""
        self.last_n = 0
        """The highest message number after this batch's appends (0 without appends):
        about the size of the messages table (``plans.PlanAges``)."""
        self.rebased: dict[str, dict[str, Any]] = {}
        """Id -> the data written, for each proposal another node had changed meanwhile
        (``ProposalRecord.rebase``): ``CommitResult.proposals``."""

    def write(self, batch: WriteBatch) -> tuple[list[AppendResult], int]:
        """Peers, appends, proposals, work status, delivery marks, acks (with their shown marks),
        forgets, buries, prunes (``Store.commit``'s order); the results of the appends, in
        order, and the number of messages pruned."""
        db = self._db
        proposals = encoded(batch.proposals)  # refuses bad data before anything is written
        works = work_encoded(batch.works)
        db.send(_LOCK, ())
        if batch.peers:
            self._upsert(batch.peers)
        results = self._append(batch.appends) if batch.appends else []
        if proposals:
            self.rebased = self._rebase(batch.proposals)
            proposals.update(encoded(ProposalRecord(i, d) for i, d in self.rebased.items()))
            db.send(_UPSERT_PROPOSALS, [list(proposals), list(proposals.values())])
        for x in batch.leases:  # few: a claim, a renewal (issue 15)
            row = (x.id, x.repo, x.path, x.holder, x.reason, x.created, x.expires, x.ttl, x.bound)
            db.send(_UPSERT_LEASE, row)
        for drop in batch.lease_drops:
            db.send(_DROP_LEASE, (drop.id,))
        if works:
            rows = list(works.items())
            db.send(
                _UPSERT_WORK, [[a for a, _ in rows], [t for _, (t, _) in rows],
                               [ts for _, (_, ts) in rows]]
            )  # fmt: skip
        if batch.delivered:
            self._mark(DELIVERED, [(d.recipient, d.seq, d.ts, None) for d in batch.delivered])
        if batch.acks:
            shown = [(a.recipient, a.seq, a.ts, a.path) for a in batch.acks if a.ts is not None]
            self._mark(SHOWN, shown)
            self._ack(batch.acks)
        for forget in batch.forgets:
            db.send(_FORGET_MAILBOX, (forget.address,))
            db.send(_FORGET_MARKS, (forget.address,))
            db.send(_FORGET_PEER, (forget.address,))
            db.send(_FORGET_WORK, (forget.address,))
        for bury in batch.buries:
            db.send(_BURY, (bury.reason, bury.moved, bury.key))
            db.send(_BURY_MAILBOX, (bury.key,))
            db.send(_BURY_MESSAGE, (bury.key,))
        pruned = sum(self._prune(prune) for prune in batch.prunes)
        return results, pruned

    def _rebase(self, records: list[ProposalRecord]) -> dict[str, dict[str, Any]]:
        """The batch's proposal changes applied to the versions stored now, read under the
        write lock (no other node changes them before this commit): two votes cast
        through two nodes at once both count (``rules.rebased``)."""
        ids = sorted({r.id for r in records if r.rebase is not None})
        if not ids:
            return {}
        rows = self._db.rows(_STORED_PROPOSALS, (ids,))
        return rebased({str(i): json.loads(text) for i, text in rows}, records)

    def _upsert(self, peers: list[PeerRecord]) -> None:
        merged: dict[str, tuple[str, str, str, float, float]] = {}
        for p in peers:  # one row per address, as the same upserts in a row would leave it
            first_seen = merged[p.address][3] if p.address in merged else p.first_seen
            merged[p.address] = (p.address, p.name, p.project, first_seen, p.last_seen)
        self._db.send(_UPSERT_PEERS, _columns(list(merged.values()), 5))

    def _append(self, ops: list[AppendOp]) -> list[AppendResult]:
        last_n, tips, stored = self._start(ops)
        plan = numbered(ops, last_n, tips, stored)
        self.tips = plan.tips
        self.last_n = plan.new[-1][0] if plan.new else last_n
        db = self._db
        for start in range(0, len(plan.new), ROWS_PER_STATEMENT):
            message_rows: list[tuple[Any, ...]] = []
            mailbox_rows: list[tuple[Any, ...]] = []
            for n, m, seqs in plan.new[start : start + ROWS_PER_STATEMENT]:
                mailbox_rows += [(recipient, seq, n) for recipient, seq in seqs.items()]
                body, context = m.body.encode(), _dump(m.context)
                words = " ".join(lexemes(m.body))
                message_rows.append(
                    (n, m.id, m.sender, m.cid, m.to, body, context, m.thread, m.reply_to, m.ts,
                     checksum(body, context), words, bool(m.human), bool(m.receipt))
                )  # fmt: skip
            db.send(_INSERT_MESSAGES, _columns(message_rows, 14))
            if mailbox_rows:
                db.send(_INSERT_MAILBOX, _columns(mailbox_rows, 3))
            if start + ROWS_PER_STATEMENT < len(plan.new):  # (the last goes with the rest)
                db.flush()
        if plan.first_ts:
            tip_rows = [(r, *split_address(r), ts, plan.tips[r]) for r, ts in plan.first_ts.items()]
            db.send(_UPSERT_TIPS, _columns(tip_rows, 5))
        return plan.results

    def _start(
        self, ops: list[AppendOp]
    ) -> tuple[int, dict[str, int], dict[tuple[str, str], AppendResult]]:
        """The last n, the current tips of the batch's recipients, and the messages
        already stored under the batch's (sender, cid), with their original seqs."""
        recipients = sorted({r for op in ops for r in op.recipients})
        keys = sorted({(op.message.sender, op.message.cid) for op in ops})
        senders, cids = _columns(keys, 2)
        [(last_n, tips, found)] = self._db.rows(_START, (recipients, senders, cids))
        stored: dict[tuple[str, str], AppendResult] = {}
        for n in found:  # a resent message: rare, so one query each
            [columns] = self._db.rows(_MESSAGE, (n,))
            message = stored_message(columns)
            seqs = dict(self._db.rows(_SEQS, (n,)))
            stored[message.sender, message.cid] = AppendResult(message, seqs, True)
        return int(last_n), {str(a): int(t) for a, t in tips.items()}, stored

    def _mark(self, kind: str, rows: list[tuple[Any, ...]]) -> None:
        """Receipt marks ``(recipient, seq, ts, path)`` of one kind in the batch's order,
        each with where the recipient's earlier ones stopped: the first mark to cover an
        entry is kept."""
        marks = from_floor(rows)
        if marks:
            self._db.send(_MARK, [kind, kind, *_columns(marks, 5)])

    def _ack(self, acks: list[AckOp]) -> None:
        highest: dict[str, int] = {}  # acks are cumulative: the highest per recipient
        for ack in acks:
            highest[ack.recipient] = max(ack.seq, highest.get(ack.recipient, ack.seq))
        self._db.send(_ACK, [list(highest), list(highest.values())])

    def _prune(self, prune: PruneOp) -> int:
        """Retention (store/base.py ``PruneOp``): peers, then the messages that are due."""
        db = self._db
        for address in prune.peers:  # unless it came back since the router chose it
            if db.rows(_PRUNE_PEER, (address, prune.horizon)):
                db.send(_FORGET_MAILBOX, (address,))
                db.send(_FORGET_MARKS, (address,))
                db.send(_FORGET_WORK, (address,))
        [(due,)] = db.rows(_DUE, (prune.horizon, prune.limit))
        if due:
            touched = {r for (r,) in db.rows(_PRUNE_MAILBOX, (due,))}
            db.send(_PRUNE_MARKS, (sorted(touched),))
            db.send(_PRUNE_MESSAGES, (due,))
        db.send(_PRUNE_DEAD, (prune.horizon,))
        return len(due)
