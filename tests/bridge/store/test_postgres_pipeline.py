"""The PostgreSQL writer's transactions on libpq's pipeline (store/postgres/pipeline.py):
statements prepared once per connection, answers read where the commit needs them, and
a failed transaction that leaves nothing behind -- not a row, not a statement the next
commit counts on."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.adapt import PyFormat

from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    PeerRecord,
    StoredMessage,
    WriteBatch,
)
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.bridge.store.postgres.arrays import array_type
from ai_connect.bridge.store.postgres.batch import (
    _INSERT_MAILBOX,
    _INSERT_MESSAGES,
    ROWS_PER_STATEMENT,
)
from ai_connect.bridge.store.postgres.pipeline import Pipeline, parsed
from ai_connect.errors import StoreError

ALICE = "Alice (alpha)"
BOB = "Bob (alpha)"
CAROL = "Carol (alpha)"


def append(mid: str, cid: str, to: str = BOB) -> AppendOp:
    message = StoredMessage(mid, ALICE, to, f"body of {cid}", None, None, None, 1.0, cid)
    return AppendOp(message, (to,))


def test_placeholders_become_numbered_parameters_with_what_they_are() -> None:
    query = parsed("SELECT %s, %b::bigint[], '100%%', %t, %b::int[], %s::text[]")
    assert query.sql == b"SELECT $1, $2::bigint[], '100%', $3, $4::int[], $5::text[]"
    assert query.formats == [PyFormat.AUTO, PyFormat.BINARY, PyFormat.TEXT, PyFormat.BINARY,
                             PyFormat.AUTO]  # fmt: skip
    assert query.arrays == [None, array_type("bigint"), None, None, None]
    assert parsed("SELECT 1") == (b"SELECT 1", [], [])


def test_a_failed_commit_writes_nothing_and_the_next_one_does(pg_url: str) -> None:
    """The first commit of a new writer fails at its third statement (a message id used
    twice): the statements queued behind the error were never prepared, and the next
    commit, which runs them, must not count on them. Nothing of the failed one stays."""
    with PostgresStore(pg_url) as store:
        store.commit(WriteBatch(appends=[append("m1", "c1")]))
    with PostgresStore(pg_url) as store:
        failing = WriteBatch(
            peers=[PeerRecord(CAROL, "Carol", "alpha", 1.0, 1.0)],
            appends=[append("m2", "c2", CAROL), append("m1", "c3", CAROL)],
        )
        with pytest.raises(StoreError, match="Nothing of it was written") as refused:
            store.commit(failing)
        assert "message id used twice" in str(refused.value)
        assert [p.address for p in store.peers()] == [BOB]
        done = store.commit(WriteBatch(appends=[append("m2", "c2", CAROL)], acks=[AckOp(BOB, 1)]))
        assert [(r.message.id, r.seqs) for r in done.appends] == [("m2", {CAROL: 1})]
        assert [(p.address, p.tip, p.acked) for p in store.peers()] == [
            (BOB, 1, 1),
            (CAROL, 1, 0),
        ]
        assert [e.message.id for e in store.pending(CAROL, 0, 10, 1 << 20)] == ["m2"]


def test_a_connection_that_broke_between_commits_is_replaced(pg_url: str) -> None:
    """The writer's backend is terminated (a restart, a failover): the next commit is
    refused with what to do, the one after it runs on a new connection."""
    with PostgresStore(pg_url) as store:
        store.commit(WriteBatch(appends=[append("m1", "c1")]))
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (store._db.info.backend_pid,))
        with pytest.raises(StoreError, match="cannot be reached"):
            store.commit(WriteBatch(appends=[append("m2", "c2")]))
        again = store.commit(WriteBatch(appends=[append("m2", "c2")]))
        assert [(r.seqs, r.duplicate) for r in again.appends] == [({BOB: 2}, False)]


def test_a_statement_is_prepared_once_per_parameter_types(pg_url: str) -> None:
    """A column array is always its declared type; psycopg picks a scalar integer's type
    by its value (smallint, bigint): one SQL is prepared once per parameter types, and
    each call is read right."""
    with psycopg.connect(pg_url, autocommit=True) as db:
        pipeline = Pipeline(db)
        sql = "SELECT %b::bigint[], %s::bigint, %s::text"
        calls = [
            ([1, 2], 1, "a"),
            ([2**40, None], 2**40, "b"),
            ([], 3, None),
            ([-(2**63)], -(2**62), "d"),
        ]
        with pipeline.transaction():
            got = [pipeline.rows(sql, params) for params in calls]
        assert got == [[params] for params in calls]
        with pipeline.transaction():  # the same statements, prepared already
            assert pipeline.rows(sql, ([7], 7, "e")) == [([7], 7, "e")]
        types = "SELECT parameter_types::text[] FROM pg_prepared_statements ORDER BY name"
        assert [t for (t,) in db.execute(types)] == [
            ["bigint[]", "smallint", "text"],
            ["bigint[]", "bigint", "text"],
        ]


_ARRAYS = "SELECT %b::text[], %b::bytea[], %b::bigint[], %b::float8[], %b::bool[]"


def test_column_arrays_round_trip_every_value(pg_url: str) -> None:
    """What the writer stores goes in as it was: any Unicode, empty strings, zero bytes,
    bigint's extremes, infinities, NULL anywhere, empty arrays."""
    columns: tuple[list[Any], ...] = (
        ["", "héllo wörld ✓ 𝄞", None, "a" * 70_000],
        [b"", b"\x00\xff" * 3, None],
        [0, -(2**63), 2**63 - 1, None],
        [0.0, -1.5, float("inf"), 1.7e308, None],
        [True, None, False],
    )
    with psycopg.connect(pg_url, autocommit=True) as db:
        pipeline = Pipeline(db)
        with pipeline.transaction():
            assert pipeline.rows(_ARRAYS, columns) == [columns]
            assert pipeline.rows(_ARRAYS, ([], [], [], [], [])) == [([], [], [], [], [])]
            nan = pipeline.rows("SELECT (%b::float8[])[1] = 'NaN'", ([float("nan")],))
        assert nan == [(True,)]


@pytest.mark.parametrize(
    ("column", "value", "error"),
    [
        (0, "nul \x00 inside", psycopg.DataError),
        (0, 5, TypeError),
        (1, "not bytes", TypeError),
        (2, 2**63, psycopg.DataError),
        (2, 1.5, TypeError),
        (3, "1.5", TypeError),
        pytest.param(3, 10**400, psycopg.DataError, id="3-int-beyond-any-float-DataError"),
        (4, 1, TypeError),
    ],
)
def test_a_value_a_column_cannot_hold_is_refused_before_anything_is_sent(
    pg_url: str, column: int, value: Any, error: type[Exception]
) -> None:
    """As psycopg refuses it (a NUL in text, an integer out of bigint's range), or as
    the wrong type: the transaction fails, the connection is replaced, nothing stays."""
    columns: list[list[Any]] = [["x"], [b"x"], [1], [1.0], [True]]
    columns[column] = ["ok" if column == 0 else columns[column][0], value]
    with psycopg.connect(pg_url, autocommit=True) as db:
        pipeline = Pipeline(db)
        with pytest.raises(error), pipeline.transaction():
            pipeline.send("CREATE TABLE t (x int)", ())
            pipeline.send(_ARRAYS, columns)
        assert db.closed
    with psycopg.connect(pg_url, autocommit=True) as db:
        assert db.execute("SELECT to_regclass('t')").fetchone() == (None,)


def test_a_nul_in_a_sender_name_is_refused_with_what_to_do(pg_url: str) -> None:
    """Through the store: StoreError naming the cause and what to do; the store goes on."""
    with PostgresStore(pg_url) as store:
        bad = StoredMessage("m1", "Al\x00ice (alpha)", BOB, "hi", None, None, None, 1.0, "c1")
        with pytest.raises(StoreError, match=r"NUL.*Store text and JSON-serialisable"):
            store.commit(WriteBatch(appends=[AppendOp(bad, (BOB,))]))
        done = store.commit(WriteBatch(appends=[append("m1", "c1")]))
        assert [r.seqs for r in done.appends] == [{BOB: 1}]


def test_a_large_batch_leaves_in_parts_the_server_starts_on(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's messages go out ``ROWS_PER_STATEMENT`` at a time, each part sent to the
    server (flushed) before the next is built, so PostgreSQL stores the first while the
    writer builds the rest (the last part leaves with the commit's other statements: a
    lone message's commit is sent in one write, as before); the numbering, the
    duplicates and the mailboxes are what one statement gave (MemoryStore's)."""
    size = ROWS_PER_STATEMENT
    sent: list[str] = []
    send, flush = Pipeline.send, Pipeline.flush

    def spy_send(self: Pipeline, sql: str, params: Any) -> None:
        if sql in (_INSERT_MESSAGES, _INSERT_MAILBOX):
            table = "messages" if sql == _INSERT_MESSAGES else "mailbox"
            sent.append(f"{table} {len(params[0])}")
        send(self, sql, params)

    def spy_flush(self: Pipeline) -> None:
        sent.append("flush")
        flush(self)

    def batch() -> WriteBatch:
        ops = [append(f"m{i}", f"c{i}", BOB if i % 3 else CAROL) for i in range(2 * size + 3)]
        ops.insert(size // 2, append("m5", "c5", CAROL))  # a resend within the batch
        ops.append(append("m0", "c0"))  # ... and of the first commit's message
        return WriteBatch(appends=ops, acks=[AckOp(BOB, 1)])

    monkeypatch.setattr(Pipeline, "send", spy_send)
    monkeypatch.setattr(Pipeline, "flush", spy_flush)
    memory = MemoryStore()
    with PostgresStore(pg_url) as store:
        for s in (store, memory):
            s.commit(WriteBatch(appends=[append("m0", "c0")]))
        sent.clear()
        got, want = store.commit(batch()), memory.commit(batch())
        assert [(r.message.id, r.seqs, r.duplicate) for r in got.appends] == [
            (r.message.id, r.seqs, r.duplicate) for r in want.appends
        ]
        new = range(1, 2 * size + 3)  # m1 ... : m0 and m5 again are duplicates
        parts = [f"messages {size}", f"mailbox {size}", "flush"] * 2 + ["messages 2", "mailbox 2"]
        first = sent.index(f"messages {size}")  # (flushes before: the batch start's reads)
        assert sent[first:] == [*parts, "flush"]  # (the last one: the COMMIT's)
        bobs = 1 + sum(1 for i in new if i % 3)
        carols = sum(1 for i in new if i % 3 == 0)
        for recipient, count in ((BOB, bobs), (CAROL, carols)):
            entries = store.pending(recipient, 0, 1000, 1 << 30)
            assert [(e.seq, e.message.id) for e in entries] == [
                (e.seq, e.message.id) for e in memory.pending(recipient, 0, 1000, 1 << 30)
            ]
            assert len(entries) == count
