"""What only the PostgreSQL store does: a schema version of its own, several nodes on one
database, connections that come back after the database was away."""

from __future__ import annotations

import queue
import threading
from typing import Any

import psycopg
import pytest

from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    PeerRecord,
    ProposalRecord,
    StoredMessage,
    WriteBatch,
)
from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.bridge.store.postgres.schema import SCHEMA_VERSION
from ai_connect.config import is_postgres_url, redacted
from ai_connect.errors import StoreError
from tests.pg import PgServer

ALICE = "Alice (alpha)"
BOB = "Bob (alpha)"


def append(sender: str, cid: str, to: str, body: str = "hello") -> AppendOp:
    message = StoredMessage(f"{sender}/{cid}", sender, to, body, None, None, None, 1.0, cid)
    return AppendOp(message, (to,))


def test_urls_name_postgres_and_hide_passwords() -> None:
    """postgresql:// and postgres:// URLs select PostgreSQL; a path never does; a password
    never shows in what the store prints."""
    assert is_postgres_url("postgresql://u@h/db") and is_postgres_url("POSTGRES://h/db")
    assert not is_postgres_url("postgresql:") and not is_postgres_url("/var/lib/bridge.db")
    assert not is_postgres_url("sqlite:/x.db")
    assert redacted("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redacted("postgresql://u@h/db") == "postgresql://u@h/db"


def test_data_survives_reopen_and_schema_version_is_recorded(pg_url: str) -> None:
    """After close and reopen, cursors, dedup, tips and search carry on; the schema
    version is kept in ai_connect_schema."""
    with PostgresStore(pg_url) as first:
        original = first.commit(WriteBatch(appends=[append(ALICE, "1", BOB, "durable words")]))
        first.commit(WriteBatch(appends=[append(ALICE, "2", BOB)], acks=[AckOp(BOB, 1)]))
    with PostgresStore(pg_url) as second:
        assert [(p.tip, p.acked) for p in second.peers()] == [(2, 1)]
        again = second.commit(WriteBatch(appends=[append(ALICE, "1", BOB, "durable words")]))
        assert again.appends[0].duplicate
        assert again.appends[0].message == original.appends[0].message
        assert [m.body for m in second.search(BOB, "DURABLE", 10)[0]] == ["durable words"]
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT version FROM ai_connect_schema").fetchall() == [(SCHEMA_VERSION,)]


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    """A database written by a newer ai-connect is refused with StoreError, untouched."""
    PostgresStore(pg_url).close()
    with psycopg.connect(pg_url) as db:
        db.execute("UPDATE ai_connect_schema SET version = 99")
    with pytest.raises(StoreError, match="Upgrade ai-connect"):
        PostgresStore(pg_url)


def test_any_text_round_trips_nul_included(pg_url: str) -> None:
    """Bodies are stored as sent, a NUL character and any Unicode included."""
    body = "a\x00b ünï 🎉 \u2028 end"
    with PostgresStore(pg_url) as store:
        store.commit(WriteBatch(appends=[append(ALICE, "1", BOB, body)]))
        (entry,) = store.pending(BOB, 0, 10, 1 << 20)
        assert entry.message.body == body
        assert [m.body for m in store.search(BOB, "unï", 10)[0]] == [body]


def test_nodes_opening_an_empty_database_together_migrate_once(pg_url: str) -> None:
    """Several nodes starting at once on a new database all open it."""
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            stores.append(PostgresStore(pg_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert errors == [] and len(stores) == 4
    finally:
        for s in stores:
            s.close()


def test_two_nodes_number_one_mailbox_without_clash_or_gap(pg_url: str) -> None:
    """Two stores (two nodes) committing at once to one recipient give its mailbox
    1..N, each message once."""
    nodes = [PostgresStore(pg_url), PostgresStore(pg_url)]
    seqs: list[int] = []
    lock = threading.Lock()

    def run(node: PostgresStore, sender: str) -> None:
        for i in range(40):
            batch = WriteBatch(appends=[append(sender, f"{i}.{j}", BOB) for j in range(3)])
            result = node.commit(batch)
            with lock:
                seqs.extend(r.seqs[BOB] for r in result.appends)

    threads = [
        threading.Thread(target=run, args=(node, sender))
        for node, sender in zip(nodes, (ALICE, "Carol (beta)"), strict=True)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(seqs) == list(range(1, 241))
        entries = nodes[1].pending(BOB, 0, 1000, 1 << 30)
        assert [e.seq for e in entries] == list(range(1, 241))
    finally:
        for node in nodes:
            node.close()


def test_the_store_refuses_while_the_database_is_down_and_recovers(
    own_pg_server: PgServer,
) -> None:
    """While PostgreSQL is down, commits and reads raise StoreError saying so (nothing is
    accepted); once it is back, the same store works again without being reopened."""
    with PostgresStore(own_pg_server.new_database()) as store:
        store.commit(WriteBatch(appends=[append(ALICE, "1", BOB, "before")]))
        assert store.pending(BOB, 0, 10, 1 << 20)  # a reader connection is open too
        own_pg_server.stop()
        with pytest.raises(StoreError, match="cannot be reached"):
            store.commit(WriteBatch(appends=[append(ALICE, "2", BOB, "during")]))
        with pytest.raises(StoreError, match="PostgreSQL could not"):
            store.pending(BOB, 0, 10, 1 << 20)
        own_pg_server.start()
        result = store.commit(WriteBatch(appends=[append(ALICE, "2", BOB, "after")]))
        assert result.appends[0].seqs == {BOB: 2}
        assert [e.message.body for e in store.pending(BOB, 0, 10, 1 << 20)] == [
            "before",
            "after",
        ]


def test_a_commit_of_mail_tells_the_other_nodes_where_the_mailboxes_are(pg_url: str) -> None:
    """A commit that only appends and acks notifies the recipients' new tips and the
    acked cursors (the woken node reads nothing); one whose notice would not fit in
    NOTIFY's 8000 bytes, or that changed peers, says only "changed": re-read."""
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    notes: queue.Queue[tuple[str, object]] = queue.Queue()
    listening = threading.Event()

    def changed() -> None:
        notes.put(("changed", None))
        listening.set()

    unwatch = b.watch(changed, moved=lambda tips, acked: notes.put(("moved", (tips, acked))))
    try:
        assert listening.wait(10)
        assert notes.get(timeout=10) == ("changed", None)  # the first read, on listening
        a.commit(WriteBatch(appends=[append(ALICE, "1", BOB), append(ALICE, "2", BOB)]))
        assert notes.get(timeout=10) == ("moved", ({BOB: 2}, {}))
        a.commit(WriteBatch(acks=[AckOp(BOB, 2)]))
        assert notes.get(timeout=10) == ("moved", ({}, {BOB: 2}))
        crowd = [f"Someone with a rather long name number {i} (project)" for i in range(200)]
        message = StoredMessage("wide", ALICE, "*", "hi", None, None, None, 1.0, "wide")
        a.commit(WriteBatch(appends=[AppendOp(message, tuple(crowd))]))
        assert notes.get(timeout=10) == ("changed", None)  # too long a notice: re-read
        a.commit(WriteBatch(peers=[PeerRecord("Dan (alpha)", "Dan", "alpha", 1.0, 1.0)]))
        assert notes.get(timeout=10) == ("changed", None)
        assert notes.empty()
    finally:
        unwatch()
        a.close()
        b.close()


def test_a_proposal_change_is_applied_to_what_another_node_stored(pg_url: str) -> None:
    """Under the write lock the commit reads the stored proposal and applies the record's
    ``rebase`` to it (another node's ballot a moment before is kept), reporting what it
    wrote; a rebase that refuses rolls the whole batch back, and the store goes on."""
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        b.commit(WriteBatch(proposals=[ProposalRecord("p1", {"ballots": ["carol"]})]))

        def add_bob(stored: dict[str, Any]) -> dict[str, Any]:
            return {"ballots": [*stored["ballots"], "bob"]}

        mine = ProposalRecord("p1", {"ballots": ["bob"]}, add_bob)  # made from an older read
        result = a.commit(WriteBatch(proposals=[mine]))
        assert result.proposals == {"p1": {"ballots": ["carol", "bob"]}}
        assert [p.data for p in b.proposals()] == [{"ballots": ["carol", "bob"]}]

        def refuse(stored: dict[str, Any]) -> dict[str, Any]:
            raise StoreError("changed on another node: send it again")

        refused = ProposalRecord("p1", {"ballots": []}, refuse)
        with pytest.raises(StoreError, match="send it again"):
            a.commit(WriteBatch(appends=[append(ALICE, "x", BOB)], proposals=[refused]))
        assert a.pending(BOB, 0, 10, 1 << 20) == []  # the batch's message is not stored
        assert a.commit(WriteBatch(appends=[append(ALICE, "y", BOB)])).appends[0].seqs == {BOB: 1}
    finally:
        a.close()
        b.close()
