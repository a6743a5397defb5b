"""A damaged record never blocks a mailbox (issue 11 item 5).

Rows are corrupted on disk -- a byte flipped in the file, a context that is no JSON, a
body that is no UTF-8, a message row gone -- and the store must say which entry is
damaged rather than fail the page; the bridge delivers the rest, moves the damaged one
to the dead letters and tells the operator once.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

from ai_connect.bridge.store.base import BuryOp, WriteBatch
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.schema import checksum
from tests.security.support import recording
from tests.support.bridge import bridge

from ...client.support import listen, make_client, run, take
from .test_contract import ALICE, BOB, peer, send


def stored(path: Path, bodies: list[str]) -> None:
    """Bob's mailbox holds ``bodies`` from Alice, in order; the file is checkpointed."""
    with SqliteStore(path) as store:
        store.commit(WriteBatch(peers=[peer(BOB)]))
        for i, body in enumerate(bodies):
            send(store, ALICE, str(i), BOB, body=body, context={"i": i})


def flip_on_disk(path: Path, marker: bytes) -> None:
    """Changes one byte of ``marker`` in the database file itself."""
    data = bytearray(path.read_bytes())
    at = data.index(marker)
    assert data.count(marker) == 1
    data[at + len(marker) - 1] ^= 0x01
    path.write_bytes(bytes(data))


def corrupt(path: Path, sql: str) -> None:
    db = sqlite3.connect(path)
    db.create_function("crc", 2, checksum)
    db.execute(sql)
    db.commit()
    db.close()


def test_a_flipped_byte_is_caught_by_the_checksum(tmp_path: Path) -> None:
    """A body altered on disk is reported damaged, never delivered altered; the others read."""
    path = tmp_path / "t.db"
    stored(path, ["first", "corrupt-me-please", "third"])
    flip_on_disk(path, b"corrupt-me-please")
    with SqliteStore(path) as store:
        entries = store.pending(BOB, 0, 10, 1 << 20)
    assert [(e.seq, e.damaged is None) for e in entries] == [(1, True), (2, False), (3, True)]
    assert "checksum" in (entries[1].damaged or "")
    assert [e.message.body for e in entries if e.damaged is None] == ["first", "third"]


def test_unreadable_rows_are_reported_not_raised(tmp_path: Path) -> None:
    """No JSON, no UTF-8 (checksums matching the damage), a missing row: each its entry."""
    path = tmp_path / "t.db"
    stored(path, ["a", "b", "c", "d", "e"])
    corrupt(path, "UPDATE messages SET context = '{broken', checksum = NULL WHERE cid = '1'")
    corrupt(
        path,
        "UPDATE messages SET body = CAST(x'ff00fe' AS TEXT),"
        " checksum = crc(x'ff00fe', CAST(context AS BLOB)) WHERE cid = '2'",
    )
    corrupt(path, "PRAGMA foreign_keys = OFF")
    db = sqlite3.connect(path)
    db.execute("DELETE FROM messages WHERE cid = '3'")  # foreign keys are off by default
    db.commit()
    db.close()
    with SqliteStore(path) as store:
        entries = store.pending(BOB, 0, 10, 1 << 20)
        history, _ = store.history(BOB, None, 10, None)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert [e.damaged is not None for e in entries] == [False, True, True, True, False]
    assert "missing" in (entries[3].damaged or "")
    assert [m.body for m in history] == ["a", "e"]  # history skips what it cannot show


def test_a_buried_message_moves_to_the_dead_letters_and_out_of_every_mailbox(
    tmp_path: Path,
) -> None:
    """BuryOp keeps what can be read of it for the operator and unblocks the mailbox."""
    path = tmp_path / "t.db"
    stored(path, ["first", "corrupt-me-please", "third"])
    flip_on_disk(path, b"corrupt-me-please")
    with SqliteStore(path) as store:
        damaged = store.pending(BOB, 0, 10, 1 << 20)[1]
        reason = damaged.damaged or ""
        store.commit(WriteBatch(buries=[BuryOp(damaged.key, reason, 50.0)] * 2))
        assert [e.seq for e in store.pending(BOB, 0, 10, 1 << 20)] == [1, 3]
        (dead,) = store.dead_letters(10)
    assert (dead.id, dead.sender, dead.recipients, dead.reason) == (
        damaged.message.id,
        ALICE,
        (BOB,),
        reason,
    )
    assert dead.body.startswith("corrupt-me-pleas") and dead.moved == 50.0


def test_the_bridge_delivers_around_a_damaged_message_and_says_so_once(tmp_path: Path) -> None:
    """Bob gets the first and the third message; the operator reads one warning naming
    the damaged one, which is in the dead letters; a reconnect finds nothing to repeat."""
    path = tmp_path / "t.db"
    stored(path, ["first", "corrupt-me-please", "third"])
    flip_on_disk(path, b"corrupt-me-please")

    async def scenario() -> None:
        with recording() as logs:
            async with bridge(SqliteStore(path), listen=False) as server:
                for _ in range(2):
                    bob = make_client(server, "Bob", "alpha")
                    mail = listen(bob)
                    await bob.connect()
                    if _ == 0:
                        got = [(await take(mail))[0].body for _ in range(2)]
                        assert got == ["first", "third"]
                        await bob.ack([m for m in bob.unread()])
                    status = await asyncio.wait_for(bob.status(), 5)
                    assert status.unread == 0
                    await bob.close()
                dead = server.store.dead_letters(10)
        warnings = [r for r in logs.records if r.levelno == logging.WARNING]
        damaged = [r for r in warnings if "damaged message" in r.getMessage()]
        assert len(damaged) == 1, logs.text()
        assert "dead letters" in damaged[0].getMessage()
        assert [d.reason for d in dead] == [damaged[0].args[-1]]  # type: ignore[index]
        assert logs.problems() == []

    run(scenario())
