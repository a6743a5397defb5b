"""How a :class:`~ai_connect.bridge.store.base.WriteBatch` is written: a few multi-row
statements per commit, inside the caller's transaction.

Never ``executemany`` (see :mod:`ai_connect.bridge.store.sqlite`): each table gets one
statement whose rows are bound to one padded ``VALUES`` list. The new bodies are indexed
for search later, mostly in transactions of their own (search_index.py).
"""

from __future__ import annotations

import functools
import itertools
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    AppendResult,
    PeerRecord,
    PruneOp,
    WriteBatch,
)
from ai_connect.bridge.store.rules import from_floor, numbered, split_address
from ai_connect.bridge.store.sqlite import consensus, leases, work
from ai_connect.bridge.store.sqlite.schema import COLUMNS, TIP, checksum, stored_message

__all__ = ["CACHED_STATEMENTS", "BatchWriter"]

# Writes. Each writes a batch's rows into one table in one statement: "{values}" is a
# multi-row VALUES list, padded with rows of NULLs to one of a few sizes (_padded_size),
# so that a few prepared statements serve every batch size. "column1 IS NOT NULL" drops
# the padding (and keeps an upsert clause from being parsed as a join constraint:
# lang_upsert.html). Rows are unique by key within a statement (see _upsert, _ack), so
# their order does not matter.
_UPSERT_PEERS = """
    INSERT INTO peers (address, name, project, first_seen, last_seen)
    SELECT * FROM ({values}) WHERE column1 IS NOT NULL
    ON CONFLICT (address) DO UPDATE
    SET name = excluded.name, project = excluded.project, last_seen = excluded.last_seen"""
_INSERT_MESSAGES = """
    INSERT INTO messages (n, id, sender, cid, target, body, context, thread, reply_to, ts,
                          checksum, human, receipt)
    SELECT * FROM ({values}) WHERE column1 IS NOT NULL"""
_INSERT_MAILBOX = """
    INSERT INTO mailbox (recipient, seq, n) SELECT * FROM ({values}) WHERE column1 IS NOT NULL"""
# A recipient without a peers row gets one (named from its address); for the others the
# column only rises: it is a floor (TIP below), raised before their entries may go.
_UPSERT_TIPS = """
    INSERT INTO peers (address, name, project, first_seen, last_seen, tip)
    SELECT column1, column2, column3, column4, column4, column5 FROM ({values})
    WHERE column1 IS NOT NULL
    ON CONFLICT (address) DO UPDATE SET tip = max(tip, excluded.tip)"""
# Rows: (recipient, seq). Never past the tip: a stale client cursor must not skip future
# mail. An upsert that never inserts (unknown recipients are left out), so that each ack
# finds its peer by primary key; excluded.tip carries the seq. (UPDATE ... FROM would say
# it directly but needs SQLite 3.33.)
_ACK = f"""
    INSERT INTO peers (address, name, project, first_seen, last_seen, tip)
    SELECT column1, '', '', 0, 0, column2 FROM ({{values}})
    WHERE EXISTS (SELECT 1 FROM peers p WHERE p.address = column1)
    ON CONFLICT (address) DO UPDATE
    SET acked = max(acked, min(excluded.tip, {TIP.format(address="address")}))"""
# Receipts (docs/protocol.md §3.7): the entries an op newly covers -- above the acked
# cursor, up to its seq, by the (recipient, seq) key -- keep their first mark. Run before
# the acked cursors move. ?5 (?4 for delivered) is where the batch's earlier ops of the
# recipient stopped: every entry up to it is marked already, so each op visits only the
# entries it marks (issue 13: a drain's acks each rescanned the window from the cursor).
_MARK_DELIVERED = """
    UPDATE mailbox SET delivered = ?1 WHERE recipient = ?2 AND delivered IS NULL
    AND seq <= ?3 AND seq > max(?4, coalesce((SELECT acked FROM peers WHERE address = ?2), 0))"""
_MARK_SHOWN = """
    UPDATE mailbox SET shown = ?1, shown_path = ?4 WHERE recipient = ?2 AND shown IS NULL
    AND seq <= ?3 AND seq > max(?5, coalesce((SELECT acked FROM peers WHERE address = ?2), 0))"""
# The same for one recipient, the usual ack-only commit: a plain UPDATE is cheaper.
_ACK_ONE = (
    f"UPDATE peers SET acked = max(acked, min(?1, {TIP.format(address='?2')})) WHERE address = ?2"
)
# Where a batch starts: the tips of some recipients (rows: address) as a JSON object, and
# the n of the messages stored under some (sender, cid) rows as a JSON array (the pairs
# drive the lookup in UNIQUE (sender, cid)). _START asks both and the last n at once.
_TIPS = f"""
    SELECT json_group_object(address, {TIP.format(address="address")}) FROM peers
    WHERE address IN (SELECT column1 FROM ({{values}}))"""
_STORED = """
    SELECT json_group_array(m.n) FROM ({values}) AS k CROSS JOIN messages m
    WHERE m.sender = k.column1 AND m.cid = k.column2"""
_LAST_N = "SELECT max(n) FROM messages"
_START = f"SELECT ({_LAST_N}), ({_TIPS}), ({_STORED.replace('{values}', '{pairs}')})"
_MESSAGE = f"SELECT {COLUMNS} FROM messages m WHERE m.n = ?"
_FORGET_MAILBOX = "DELETE FROM mailbox WHERE recipient = ?"
# A damaged message, as far as it reads, into the dead letters (a missing row: NULLs);
# then out of every mailbox and out of the messages (docs/operations.md, dead letters).
_BURY = """
    INSERT OR IGNORE INTO dead_letters
        (n, id, sender, target, recipients, body, context, thread, reply_to, ts, cid,
         checksum, reason, moved)
    SELECT k.n, m.id, m.sender, m.target,
           (SELECT json_group_array(recipient) FROM mailbox WHERE n = k.n),
           CAST(m.body AS BLOB), CAST(m.context AS BLOB), m.thread, m.reply_to, m.ts, m.cid,
           m.checksum, ?, ?
    FROM (SELECT ? AS n) k LEFT JOIN messages m ON m.n = k.n"""
# Before entries leave a mailbox, its floor rises to its tip (schema.py TIP): the tip of
# a mailbox whose last entries go stays where it was.
_RAISE_FLOORS = f"""
    UPDATE peers SET tip = {TIP.format(address="address")}
    WHERE address IN (SELECT recipient FROM mailbox WHERE n IN (SELECT value FROM json_each(?)))"""
_BURY_MAILBOX = "DELETE FROM mailbox WHERE n = ?"
_BURY_MESSAGE = "DELETE FROM messages WHERE n = ?"
# Retention: the oldest messages stored before the horizon that no recipient still has to
# ack (an entry of a peer that no longer exists has nobody to ack it), by the ts index.
_DUE = """
    SELECT json_group_array(n) FROM (
        SELECT m.n FROM messages m WHERE m.ts < ? AND NOT EXISTS (
            SELECT 1 FROM mailbox b JOIN peers p ON p.address = b.recipient
            WHERE b.n = m.n AND b.seq > p.acked)
        ORDER BY m.ts LIMIT ?)"""
_PRUNE_MAILBOX = "DELETE FROM mailbox WHERE n IN (SELECT value FROM json_each(?))"
_PRUNE_MESSAGES = "DELETE FROM messages WHERE n IN (SELECT value FROM json_each(?))"
_PRUNE_DEAD = "DELETE FROM dead_letters WHERE moved < ?"
_PRUNE_PEER = "DELETE FROM peers WHERE address = ? AND last_seen < ?"
# FTS5 keeps a deleted row's words as tombstones until its segments are merged: without a
# merge the index grows under steady traffic although the messages do not. A negative N
# merges every segment, incrementally: at most N pages of work per prune.
_MERGE_INDEX = "INSERT INTO messages_fts (messages_fts, rank) VALUES ('merge', -1000)"
_FREE_PAGES = "PRAGMA incremental_vacuum"
"""Returns free pages to the file system (a database made with auto_vacuum incremental;
elsewhere a no-op, and SQLite reuses them for new rows)."""
_FORGET_PEER = "DELETE FROM peers WHERE address = ?"
_MAX_ROWS = 1024
"""Rows bound to one statement, at most (fewer if SQLite allows fewer parameters)."""
CACHED_STATEMENTS = 256
"""Prepared statements kept: each padded size of each statement above is one."""


def _dump(context: dict[str, Any] | None) -> str | None:
    if context is None:
        return None
    return json.dumps(context, separators=(",", ":"), ensure_ascii=False)


@functools.cache
def _sql(template: str, rows: int, columns: int) -> str:
    """``template`` with ``{values}`` as ``VALUES (?, ?), (?, ?), ...``: ``rows`` rows of
    ``columns`` parameters each (for _START: ``{values}`` of 1, ``{pairs}`` of 2).

    Cached, so that the same statement is the same string object: the sqlite3 module then
    finds its prepared statement without hashing a long text again.
    """

    def values(columns: int) -> str:
        return "VALUES " + ", ".join(["(" + ", ".join("?" * columns) + ")"] * rows)

    if template is _START:
        return template.format(values=values(1), pairs=values(2))
    return template.format(values=values(columns))


def _padded_size(rows: int) -> int:
    """The size a VALUES list of ``rows`` rows is padded to: 1, 2, 3, 4, 6, 8, 12, 16, 24...

    Powers of two and 1.5 times them: at most half as many padding rows as real ones, and
    about 20 sizes (so prepared statements) up to ``_MAX_ROWS``.
    """
    power = 1 << max(rows - 1, 0).bit_length()  # the smallest power of two >= rows
    return power * 3 // 4 if power >= 4 and rows <= power * 3 // 4 else power


def _chunk_rows(limit: int) -> int:
    """The largest padded size (see above) that is at most ``limit`` (>= 1)."""
    power = 1 << (limit.bit_length() - 1)  # the largest power of two <= limit
    return power * 3 // 2 if power >= 2 and power * 3 // 2 <= limit else power


def _params(rows: Sequence[tuple[Any, ...]], columns: int, size: int) -> list[Any]:
    """The values of ``rows``, then NULLs up to ``size`` rows of ``columns``."""
    params = list(itertools.chain.from_iterable(rows))
    params += [None] * (size * columns - len(params))
    return params


class BatchWriter:
    """Writes batches into one connection, whose transaction the caller holds, and says
    when that transaction committed (:meth:`committed`) or rolled back (:meth:`rolled_back`).

    It keeps the tips it gave out (schema.py ``TIP``: ``peers.tip`` is only a floor), so
    numbering a recipient it wrote to before reads nothing and writes no ``peers`` row. It
    is the database's only writer (lock.py: one bridge per file)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._max_params = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self.stored: tuple[int, int] | None = None
        """After :meth:`write`: the highest ``n`` before and after the messages it stored
        (``None``: it stored none); the caller indexes them (search_index.py)."""
        self._tips: dict[str, int] = {}
        """Committed: each peer's tip, for the peers numbered since the store opened."""
        self._new_tips: dict[str, int] = {}
        """This transaction's tips, kept once it commits."""
        self._gone: set[str] = set()
        """Peers this transaction deleted (forgotten, retention): their tips go with them."""

    def committed(self) -> None:
        """The transaction of the last :meth:`write` committed."""
        self._tips.update(self._new_tips)
        for address in self._gone:
            self._tips.pop(address, None)
        self.rolled_back()

    def rolled_back(self) -> None:
        """The transaction of the last :meth:`write` rolled back: nothing of it holds."""
        self._new_tips.clear()
        self._gone.clear()

    def write(self, batch: WriteBatch) -> tuple[list[AppendResult], int]:
        """Peers, appends, proposals, work status, delivery marks, acks (with their shown marks),
        forgets, buries, prunes; the results of the
        appends, in order, and the number of messages pruned."""
        self.stored = None
        self.rolled_back()  # a transaction the caller ended without saying: nothing holds
        if batch.peers:
            self._upsert(batch.peers)
        results = self._append(batch.appends) if batch.appends else []
        if batch.proposals:
            consensus.write(self._db, batch.proposals)
        if batch.leases or batch.lease_drops:
            leases.write(self._db, batch.leases, batch.lease_drops)
        if batch.works:
            work.write(self._db, batch.works)
        if batch.delivered:
            marks = [(d.ts, d.recipient, d.seq) for d in batch.delivered]
            self._db.executemany(_MARK_DELIVERED, from_floor(marks, at=1))
        if batch.acks:
            shown = [(a.ts, a.recipient, a.seq, a.path) for a in batch.acks if a.ts is not None]
            if shown:
                self._db.executemany(_MARK_SHOWN, from_floor(shown, at=1))
            self._ack(batch.acks)
        for forget in batch.forgets:  # rare (docs/protocol.md §2.5): one address at a time
            self._db.execute(_FORGET_MAILBOX, (forget.address,))
            self._db.execute(_FORGET_PEER, (forget.address,))
            self._db.execute(work.FORGET, (forget.address,))
            self._gone.add(forget.address)  # back later: numbered afresh, from its row
        for bury in batch.buries:  # rarer still: a damaged record
            self._db.execute(_BURY, (bury.reason, bury.moved, bury.key))
            self._db.execute(_RAISE_FLOORS, (json.dumps([bury.key]),))
            self._db.execute(_BURY_MAILBOX, (bury.key,))
            self._db.execute(_BURY_MESSAGE, (bury.key,))
        pruned = sum(self._prune(prune) for prune in batch.prunes)
        return results, pruned

    def _prune(self, prune: PruneOp) -> int:
        """Retention (store/base.py ``PruneOp``): peers, then the messages that are due."""
        db = self._db
        for address in prune.peers:  # unless it came back since the router chose it
            if db.execute(_PRUNE_PEER, (address, prune.horizon)).rowcount:
                db.execute(_FORGET_MAILBOX, (address,))
                db.execute(work.FORGET, (address,))
                self._gone.add(address)
        (due,) = db.execute(_DUE, (prune.horizon, prune.limit)).fetchone()
        db.execute(_RAISE_FLOORS, (due,))
        db.execute(_PRUNE_MAILBOX, (due,))
        db.execute(_PRUNE_MESSAGES, (due,))
        db.execute(_PRUNE_DEAD, (prune.horizon,))
        pruned = len(json.loads(due))
        if pruned:
            db.execute(_MERGE_INDEX)
            db.execute(_FREE_PAGES).fetchall()  # one page per step: run it to the end
        return pruned

    def _statements(
        self, sql: str, columns: int, rows: Sequence[tuple[Any, ...]]
    ) -> list[sqlite3.Cursor]:
        """Runs ``sql`` (see "Writes" above) over ``rows``: one statement per chunk."""
        # A padded size itself, so that a padded chunk never has more rows than a full one.
        chunk = _chunk_rows(min(_MAX_ROWS, self._max_params // columns))
        if len(rows) <= chunk:  # the usual case
            size = _padded_size(len(rows))
            return [self._db.execute(_sql(sql, size, columns), _params(rows, columns, size))]
        cursors = []
        for start in range(0, len(rows), chunk):
            cursors += self._statements(sql, columns, rows[start : start + chunk])
        return cursors

    def _upsert(self, peers: list[PeerRecord]) -> None:
        # One row per address, as the same upserts one after another would leave it.
        merged: dict[str, tuple[str, str, str, float, float]] = {}
        for p in peers:
            first_seen = merged[p.address][3] if p.address in merged else p.first_seen
            merged[p.address] = (p.address, p.name, p.project, first_seen, p.last_seen)
        self._statements(_UPSERT_PEERS, 5, list(merged.values()))

    def _append(self, ops: list[AppendOp]) -> list[AppendResult]:
        last_n, tips, stored = self._start(ops)
        plan = numbered(ops, last_n, tips, stored)
        message_rows: list[tuple[Any, ...]] = []
        mailbox_rows: list[tuple[Any, ...]] = []
        for n, m, seqs in plan.new:
            mailbox_rows += [(recipient, seq, n) for recipient, seq in seqs.items()]
            context = _dump(m.context)
            crc = checksum(m.body.encode(), None if context is None else context.encode())
            row = (n, m.id, m.sender, m.cid, m.to, m.body, context, m.thread, m.reply_to, m.ts)
            message_rows.append((*row, crc, int(m.human), int(m.receipt)))
        if message_rows:
            self._statements(_INSERT_MESSAGES, 13, message_rows)
            self.stored = (last_n, message_rows[-1][0])
        if mailbox_rows:
            self._statements(_INSERT_MAILBOX, 3, mailbox_rows)
        if plan.first_ts:
            self._new_tips.update(plan.tips)
            rowless = [  # no peers row yet: made, named from the address
                (r, *split_address(r), ts, plan.tips[r])
                for r, ts in plan.first_ts.items()
                if r not in tips
            ]
            if rowless:
                self._statements(_UPSERT_TIPS, 5, rowless)
        return plan.results

    def _start(
        self, ops: list[AppendOp]
    ) -> tuple[int, dict[str, int], dict[tuple[str, str], AppendResult]]:
        """The last n, the current tips of the batch's recipients that have a peers row,
        and the messages already stored under the batch's (sender, cid), with their
        original seqs. The tips this writer gave out are not read again."""
        known = self._tips
        wanted = {r for op in ops for r in op.recipients}
        recipients = [(r,) for r in sorted(wanted - known.keys())]
        keys = sorted({(op.message.sender, op.message.cid) for op in ops})
        db = self._db
        size = _padded_size(max(len(recipients), len(keys)))
        if size <= _MAX_ROWS and size * 3 <= self._max_params:  # all in one statement
            params = _params(recipients, 1, size) + _params(keys, 2, size)
            last_n, tips_json, stored_json = db.execute(_sql(_START, size, 3), params).fetchone()
            tips: dict[str, int] = json.loads(tips_json)
            found: list[int] = json.loads(stored_json)
        else:
            (last_n,) = db.execute(_LAST_N).fetchone()
            tips, found = {}, []
            for cursor in self._statements(_TIPS, 1, recipients):
                tips.update(json.loads(cursor.fetchone()[0]))
            for cursor in self._statements(_STORED, 2, keys):
                found += json.loads(cursor.fetchone()[0])
        tips |= {r: known[r] for r in wanted if r in known}
        stored: dict[tuple[str, str], AppendResult] = {}
        for n in found:  # a resent message: rare, so one query each
            (row,) = db.execute(_MESSAGE, (n,)).fetchall()
            message = stored_message(row)
            seqs = dict(db.execute("SELECT recipient, seq FROM mailbox WHERE n = ?", (n,)))
            stored[message.sender, message.cid] = AppendResult(message, seqs, True)
        return last_n or 0, tips, stored

    def _ack(self, acks: list[AckOp]) -> None:
        highest: dict[str, int] = {}  # acks are cumulative: the highest per recipient
        for ack in acks:
            highest[ack.recipient] = max(ack.seq, highest.get(ack.recipient, ack.seq))
        if len(highest) == 1:
            ((recipient, seq),) = highest.items()
            self._db.execute(_ACK_ONE, (seq, recipient))
        else:
            self._statements(_ACK, 2, list(highest.items()))
