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
    DeliveredOp,
    MailboxEntry,
    PeerRecord,
    ProposalRecord,
    PruneOp,
    StoredMessage,
    WriteBatch,
)
from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.bridge.store.postgres.plans import MAX_AGE_S, PlanAges
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
    acked cursors, and the new mailbox entries when they fit (the woken node reads
    nothing); entries too large for NOTIFY's 8000 bytes are left out (read them), a
    notice whose tips would not fit, or a commit that changed peers, says only
    "changed": re-read."""
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    notes: queue.Queue[tuple[str, object]] = queue.Queue()
    listening = threading.Event()

    def changed() -> None:
        notes.put(("changed", None))
        listening.set()

    def moved(
        tips: dict[str, int], acked: dict[str, int], entries: tuple[MailboxEntry, ...]
    ) -> None:
        notes.put(("moved", (tips, acked, entries)))

    unwatch = b.watch(changed, moved=moved)
    try:
        assert listening.wait(10)
        assert notes.get(timeout=10) == ("changed", None)  # the first read, on listening
        both = [
            append(ALICE, "1", BOB),
            append(ALICE, "2", BOB, 'ünïcode "quoted" {json} \\ and all'),
        ]
        a.commit(WriteBatch(appends=both))
        carried = tuple(MailboxEntry(BOB, i + 1, op.message) for i, op in enumerate(both))
        assert notes.get(timeout=10) == ("moved", ({BOB: 2}, {}, carried))
        assert [(e.seq, e.message) for e in b.pending(BOB, 0, 10, 1 << 20)] == [
            (e.seq, e.message) for e in carried
        ]  # what a read gives
        a.commit(WriteBatch(appends=both[:1]))  # sent again: nothing new to carry
        assert notes.get(timeout=10) == ("moved", ({}, {}, ()))
        a.commit(WriteBatch(acks=[AckOp(BOB, 2)]))
        assert notes.get(timeout=10) == ("moved", ({}, {BOB: 2}, ()))
        with psycopg.connect(pg_url, autocommit=True) as raw:  # not a notice we can read
            raw.execute("SELECT pg_notify('ai_connect', 'tips:{\"node\": 5')")
        assert notes.get(timeout=10) == ("changed", None)  # re-read; still listening
        b.commit(WriteBatch(appends=[append(ALICE, "own", BOB)]))  # b's own: no notice
        a.commit(WriteBatch(acks=[AckOp(BOB, 3)]))
        assert notes.get(timeout=10) == ("moved", ({}, {BOB: 3}, ()))
        large = append(ALICE, "3", BOB, "x" * 8000)
        a.commit(WriteBatch(appends=[large]))
        assert notes.get(timeout=10) == ("moved", ({BOB: 4}, {}, ()))  # read it
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


def _plan_of_key_lookup(store: PostgresStore) -> str:
    """The plan the writer's prepared batch start runs now (its lookup of the batch's
    (sender, cid) keys in ``messages``), for 50 keys."""
    db = store._db  # the writer's own connection: prepared statements are per session
    names = [
        name
        for name, sql in db.execute("SELECT name, statement FROM pg_prepared_statements")
        if "max(n)" in sql
    ]
    assert names, "the batch start was not prepared: it ran fewer times than psycopg's threshold"
    keys = ([BOB], [ALICE] * 50, [f"missing-{i}" for i in range(50)])
    rows = psycopg.ClientCursor(db).execute(f"EXPLAIN EXECUTE {names[0]}(%s, %s, %s)", keys)
    return "\n".join(str(row[0]) for row in rows)


def test_plans_made_on_a_small_table_are_made_again_as_it_grows(pg_url: str) -> None:
    """A node starts on an empty database, so psycopg prepares its statements while the
    tables are small and PostgreSQL keeps one plan for each: the lookup of a batch's keys
    became a scan of the whole messages table, every commit, until autovacuum happened to
    analyse it. The store plans again each time the table doubled: the lookup uses the
    (sender, cid) index once the table is large."""
    with PostgresStore(pg_url) as store:
        for i in range(8):  # prepared (psycopg's threshold is 5) while the table is tiny
            store.commit(WriteBatch(appends=[append(ALICE, f"small-{i}", BOB)]))
        for start in range(0, 12_000, 1_000):
            ops = [append(ALICE, str(i), BOB, "words") for i in range(start, start + 1_000)]
            store.commit(WriteBatch(appends=ops))
        store.commit(WriteBatch(appends=[append(ALICE, "last", BOB)]))  # plans again
        plan = _plan_of_key_lookup(store)
    assert "Seq Scan on messages" not in plan, plan
    assert "messages_sender_cid_key" in plan, plan


@pytest.mark.parametrize("messages", [40, 3_000])
def test_the_key_lookup_never_scans_the_messages(pg_url: str, messages: int) -> None:
    """The generic plan of the batch start took a batch for a hundred keys: a hash join
    over a scan of the whole messages table, chosen up to tens of thousands of messages,
    ran on every commit (a one-message commit: 1.3 ms more of the server's CPU at 3,000
    messages). Each key is now looked up on its own by an index (the (sender, cid)
    one once the table is not tiny), whatever the table's size and whether or not it
    was analysed."""
    with PostgresStore(pg_url) as store:
        for start in range(0, messages, 1_000):
            ops = [append(ALICE, str(i), BOB) for i in range(start, min(messages, start + 1_000))]
            store.commit(WriteBatch(appends=ops))
        for i in range(8):  # planned now, at this size (psycopg prepares after 5 runs)
            store.commit(WriteBatch(appends=[append(ALICE, f"one-{i}", BOB)]))
        plan = _plan_of_key_lookup(store)
    assert "Seq Scan on messages" not in plan, plan
    if messages >= 1_000:  # on a tiny table the sender's index is as good
        assert "messages_sender_cid_key" in plan, plan


def test_plans_are_made_again_when_the_messages_doubled_or_a_minute_passed() -> None:
    """A generation per doubling of the messages table or per ``MAX_AGE_S``, whichever
    comes first; a commit without appends (0 messages known) counts only for the age."""
    now = [0.0]
    ages = PlanAges(clock=lambda: now[0])
    ages.saw(100)
    assert ages.generation == 0
    ages.saw(128)
    assert ages.generation == 1
    ages.saw(200)
    ages.saw(0)
    assert ages.generation == 1
    now[0] = MAX_AGE_S
    ages.saw(0)
    assert ages.generation == 2
    ages.saw(255)
    assert ages.generation == 2  # still planned at 128
    ages.saw(256)
    assert ages.generation == 3


def _custom_plans(store: PostgresStore) -> dict[str, int]:
    rows = store._db.execute("SELECT statement, custom_plans FROM pg_prepared_statements")
    return {" ".join(sql.split())[:40]: int(n) for sql, n in rows}


def test_the_writer_plans_each_statement_once(pg_url: str) -> None:
    """A commit of one message, and its marks and ack, do not plan their statements
    again (PostgreSQL chose to for most of them: a third of the server's CPU). Set by a
    statement, not a startup option, which connection poolers refuse."""
    with PostgresStore(pg_url) as store:
        store.commit(WriteBatch(peers=[PeerRecord(BOB, "Bob", "alpha", 1.0, 1.0)]))
        for i in range(1, 13):
            store.commit(WriteBatch(appends=[append(ALICE, str(i), BOB)]))
            marks = WriteBatch(
                delivered=[DeliveredOp(BOB, i, 2.0)], acks=[AckOp(BOB, i, "hook", 3.0)]
            )
            store.commit(marks)
        plans = _custom_plans(store)
        store._db.close()  # a writer connected again keeps its plans too
        store.commit(WriteBatch(acks=[AckOp(BOB, 12)]))
        setting = "SELECT setting, source FROM pg_settings WHERE name = 'plan_cache_mode'"
        assert store._db.execute(setting).fetchone() == ("force_generic_plan", "session")
    assert len(plans) >= 6, plans  # the lock, the start, 2 inserts, the marks, the ack...
    assert set(plans.values()) == {0}, plans


def test_a_plan_made_for_few_peers_is_made_again_after_a_while(pg_url: str) -> None:
    """The ack's plan, made while two peers existed, scans them all; ten thousand peers
    later (and no message more) it is made again once it is ``MAX_AGE_S`` old. (An
    ANALYZE of the table, autovacuum's, would make it again too: not here.)"""
    with PostgresStore(pg_url) as store:
        with psycopg.connect(pg_url, autocommit=True) as db:
            db.execute("ALTER TABLE peers SET (autovacuum_enabled = false)")
        now = [0.0]
        store._plans = PlanAges(clock=lambda: now[0])
        store.commit(WriteBatch(peers=[PeerRecord(BOB, "Bob", "alpha", 1.0, 1.0)]))
        for i in range(1, 8):
            store.commit(WriteBatch(appends=[append(ALICE, str(i), BOB)], acks=[AckOp(BOB, i)]))
        assert "Seq Scan on peers" in _plan_of_ack(store)
        peers = [PeerRecord(f"P{i} (x)", f"P{i}", "x", 1.0, 1.0) for i in range(10_000)]
        store.commit(WriteBatch(peers=peers))
        store.commit(WriteBatch(acks=[AckOp(BOB, 7)]))
        assert "Seq Scan on peers" in _plan_of_ack(store)  # kept: younger than the limit
        now[0] = MAX_AGE_S
        for _ in range(2):  # the first commit sees the age, the next plans again
            store.commit(WriteBatch(acks=[AckOp(BOB, 7)]))
        plan = _plan_of_ack(store)
    assert "Seq Scan on peers" not in plan and "peers_pkey" in plan, plan


def _plan_of_ack(store: PostgresStore) -> str:
    db = store._db
    names = [n for n, sql in db.execute("SELECT name, statement FROM pg_prepared_statements")
             if "SET acked" in sql]  # fmt: skip
    assert names, "the ack was not prepared"
    rows = psycopg.ClientCursor(db).execute(f"EXPLAIN EXECUTE {names[0]}(%s, %s)", ([BOB], [1]))
    return "\n".join(str(row[0]) for row in rows)


def test_normal_turns_off_synchronous_commit_and_keeps_the_url_options(pg_url: str) -> None:
    """``synchronous="NORMAL"`` turns synchronous_commit off for the writer's commits (it
    was accepted and ignored), after the URL's own ``options`` and by a statement (a
    pooler refuses startup options); FULL keeps the server's."""
    url = f"{pg_url}{'&' if '?' in pg_url else '?'}options=-c%20application_name%3Dmine"
    with PostgresStore(url, synchronous="NORMAL") as store:
        db = store._db
        assert db.execute("SHOW synchronous_commit").fetchone() == ("off",)
        assert db.execute("SHOW application_name").fetchone() == ("mine",)
    with PostgresStore(pg_url) as store:
        assert store._db.execute("SHOW synchronous_commit").fetchone() == ("on",)


def _marks(store: PostgresStore, message_id: str) -> tuple[Any, ...]:
    found = store.receipts(message_id)
    assert found is not None
    ((r,),) = [found.recipients]
    return (r.seq, r.delivered, r.shown, r.path, r.acked)


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as db:
        row = db.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_receipt_marks_are_ranges_not_a_write_of_every_entry(pg_url: str) -> None:
    """A commit's marks write one row per recipient and mark, whatever they cover (each
    entry covered was a second and a third row version: 40 % of the server's work on a
    stream); every entry still reads its first marks."""
    with PostgresStore(pg_url) as store:
        store.commit(WriteBatch(appends=[append(ALICE, str(i), BOB) for i in range(200)]))
        delivered = [DeliveredOp(BOB, 100, 5.0), DeliveredOp(BOB, 200, 6.0)]
        store.commit(WriteBatch(delivered=delivered, acks=[AckOp(BOB, 150, "tool", 7.0)]))
        store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 200, 8.0)]))  # nothing new
        assert _marks(store, f"{ALICE}/0") == (1, 5.0, 7.0, "tool", True)
        assert _marks(store, f"{ALICE}/149") == (150, 6.0, 7.0, "tool", True)
        assert _marks(store, f"{ALICE}/150") == (151, 6.0, None, None, False)
    assert _count(pg_url, "SELECT count(*) FROM marks") == 3
    assert _count(pg_url, "SELECT count(*) FROM mailbox WHERE delivered IS NOT NULL") == 0


def test_marks_stored_before_schema_7_stay_and_come_first(pg_url: str) -> None:
    """A database of schema 6 kept its marks in the mailbox entries: after the upgrade
    they read as before, and a later mark covering them too changes nothing."""
    with PostgresStore(pg_url) as store:
        store.commit(WriteBatch(appends=[append(ALICE, str(i), BOB) for i in range(3)]))
    with psycopg.connect(pg_url) as db:  # as schema 6 left it
        db.execute("DROP TABLE marks")
        db.execute("UPDATE ai_connect_schema SET version = 6")
        db.execute(
            "UPDATE mailbox SET delivered = 2.0, shown = 2.5, shown_path = 'hook' WHERE seq <= 2"
        )
    with PostgresStore(pg_url) as store:
        store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 3, 5.0)]))
        store.commit(WriteBatch(acks=[AckOp(BOB, 3, "tool", 6.0)]))
        assert [_marks(store, f"{ALICE}/{i}") for i in range(3)] == [
            (1, 2.0, 2.5, "hook", True),
            (2, 2.0, 2.5, "hook", True),
            (3, 5.0, 6.0, "tool", True),
        ]


def test_retention_takes_the_marks_of_what_it_pruned(pg_url: str) -> None:
    """Messages pruned take the marks that covered only them; the next ones are marked
    as before."""
    with PostgresStore(pg_url) as store:
        store.commit(WriteBatch(peers=[PeerRecord(BOB, "Bob", "alpha", 1.0, 1e12)]))
        store.commit(WriteBatch(appends=[append(ALICE, str(i), BOB) for i in range(4)]))
        store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 2, 5.0), DeliveredOp(BOB, 4, 5.5)]))
        store.commit(WriteBatch(acks=[AckOp(BOB, 2, "hook", 6.0)]))
        assert store.commit(WriteBatch(prunes=[PruneOp(100.0, limit=2)])).pruned == 2
        assert _count(pg_url, "SELECT count(*) FROM marks") == 1  # delivered (2, 4]
        store.commit(WriteBatch(acks=[AckOp(BOB, 4, "tool", 7.0)]))
        assert store.commit(WriteBatch(prunes=[PruneOp(100.0)])).pruned == 2
        assert _count(pg_url, "SELECT count(*) FROM marks") == 0
        store.commit(WriteBatch(appends=[append(ALICE, "next", BOB)]))
        store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 5, 9.0)]))
        assert _marks(store, f"{ALICE}/next") == (5, 9.0, None, None, False)
