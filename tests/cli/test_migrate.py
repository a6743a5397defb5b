"""``ai-connect admin migrate --from sqlite:PATH --to postgresql://...``: everything an
SQLite bridge stored, moved into PostgreSQL as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    BuryOp,
    DeliveredOp,
    LeaseRecord,
    PeerRecord,
    ProposalRecord,
    StoredMessage,
    TokenRecord,
    WorkRecord,
    WriteBatch,
)
from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.lock import DatabaseLock
from ai_connect.cli import main

ALICE, BOB, CAROL = "Alice (p)", "Bob (p)", "Carol (q)"


def fill(path: Path) -> SqliteStore:
    """An SQLite bridge database with something of everything in it."""
    store = SqliteStore(path)

    def message(n: int, to: str, body: str, **extra: object) -> AppendOp:
        m = StoredMessage(f"m{n}", ALICE, to, body, extra.get("context"),  # type: ignore[arg-type]
                          "t1", None, 100.0 + n, f"c{n}", human=n == 2, receipt=n == 1)  # fmt: skip
        return AppendOp(m, (BOB, CAROL) if to == "*" else (to,))

    store.commit(WriteBatch(peers=[PeerRecord(ALICE, "Alice", "p", 1.0, 2.0)]))
    store.commit(
        WriteBatch(
            appends=[
                message(1, BOB, "hello bob ünï"),
                message(2, "*", "to everyone", context={"files": ["a.py"]}),
                message(3, BOB, "lost one"),
                message(4, CAROL, "for carol \x00 only"),
            ],
            proposals=[ProposalRecord("p1", {"question": "ship?", "votes": {"Bob (p)": "yes"}})],
        )
    )
    store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 2, 160.0), DeliveredOp(CAROL, 1, 161.0)]))
    store.commit(
        WriteBatch(
            acks=[AckOp(BOB, 1, "hook", 170.0), AckOp(BOB, 2)],
            buries=[BuryOp(3, "test damage", 150.0)],
            works=[WorkRecord(BOB, {"task": "review", "files": ["a.py"]}, 171.0)],
            leases=[LeaseRecord("l1", "repo", "src/a.py", BOB, "editing", 172.0, 9e9, 600.0)],
        )
    )
    store.put_token(TokenRecord("tid1", "ops", "h" * 64, ("alice", "ci-*"), True, 5.0))
    return store


def snapshot(store: SqliteStore | PostgresStore) -> tuple[object, ...]:
    """Everything the store contract can read back."""
    return (
        store.peers(),
        store.pending(BOB, 0, 100, 1 << 20),
        store.pending(CAROL, 0, 100, 1 << 20),
        store.history(ALICE, None, 100, None),
        store.history(BOB, CAROL, 100, None),
        store.search(BOB, "HELLO", 10),
        store.search(CAROL, "everyone", 10),
        store.proposals(),
        store.tokens(),
        store.dead_letters(10),
        store.receipts("m1"),
        store.receipts("m2"),
        store.receipts("m4"),
        store.leases(),
        store.works(),
    )


def test_migrate_copies_everything_as_stored(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """After migrate, every read gives the same answer on PostgreSQL as on SQLite (receipt
    marks, who sent as a person, leases and work status included), and a new message
    continues each mailbox's numbering and the dedup by cid."""
    path = tmp_path / "bridge.db"
    source = fill(path)
    before = snapshot(source)
    m1, m2 = source.receipts("m1"), source.receipts("m2")
    source.close()
    assert m1 is not None and m2 is not None  # the marks, the flags: something to move
    receipts = {r.recipient: r for r in m2.recipients}
    assert (receipts[BOB].delivered, receipts[BOB].shown) == (160.0, None)
    assert m1.recipients[0].path == "hook" and m2.message.human and m1.message.receipt
    assert main(["admin", "migrate", "--from", f"sqlite:{path}", "--to", pg_url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["copied"] == {"peers": 3, "messages": 3, "mailbox": 4, "tokens": 1,
                                "dead_letters": 1, "proposals": 1, "leases": 1,
                                "work_status": 1}  # fmt: skip
    with PostgresStore(pg_url) as target:
        assert snapshot(target) == before
        again = StoredMessage("m1", ALICE, BOB, "hello bob ünï", None, "t1", None, 101.0, "c1")
        resent = target.commit(WriteBatch(appends=[AppendOp(again, (BOB,))])).appends[0]
        assert resent.duplicate and resent.seqs == {BOB: 1}
        new = StoredMessage("m9", ALICE, BOB, "next", None, None, None, 200.0, "c9")
        assert target.commit(WriteBatch(appends=[AppendOp(new, (BOB,))])).appends[0].seqs == {
            BOB: 4
        }


def test_migrate_refuses_a_target_with_data_and_changes_nothing(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second migrate into the same database fails saying why; the data stays once."""
    path = tmp_path / "bridge.db"
    fill(path).close()
    assert main(["admin", "migrate", "--from", str(path), "--to", pg_url]) == 0
    assert "start the nodes with" in capsys.readouterr().out
    assert main(["admin", "migrate", "--from", str(path), "--to", pg_url]) == 1
    assert "already holds bridge data" in capsys.readouterr().err
    with PostgresStore(pg_url) as target:
        assert target.counts()["messages"] == 3


def test_migrate_refuses_while_a_bridge_runs_on_the_file(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bridge's lock on the file: migrate refuses, copying nothing."""
    path = tmp_path / "bridge.db"
    fill(path).close()
    with DatabaseLock(path):
        assert main(["admin", "migrate", "--from", str(path), "--to", pg_url]) == 1
    assert "pid" in capsys.readouterr().err
    with PostgresStore(pg_url) as target:
        assert set(target.counts().values()) == {0}


@pytest.mark.parametrize(
    ("source", "target", "says"),
    [
        ("postgresql://h/a", "postgresql://h/b", "--from sqlite:PATH"),
        ("sqlite:/nonexistent/b.db", "postgresql://h/b", "no such file"),
        ("{db}", "/tmp/x.db", "--to must be a PostgreSQL URL"),
    ],
)
def test_migrate_says_what_to_give(
    tmp_path: Path, source: str, target: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Wrong --from or --to: exit 1 with what to give instead."""
    db = tmp_path / "b.db"
    SqliteStore(db).close()
    assert main(["admin", "migrate", "--from", source.format(db=db), "--to", target]) == 1
    assert says in capsys.readouterr().err
