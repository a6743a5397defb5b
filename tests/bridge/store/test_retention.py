"""Retention (issue 11 item 4): what --retention-days no longer keeps is pruned, and the
database file stops growing under steady traffic. The clock is the messages' own ``ts``
and the prune's horizon: no waiting."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_connect.bridge.store.base import AckOp, BuryOp, PruneOp, Store, WriteBatch
from ai_connect.bridge.store.sqlite import SqliteStore

from .test_contract import ALICE, BOB, CAROL, append, bodies, cursors, peer, send

DAY = 86_400.0


def test_prune_deletes_old_acked_messages_and_keeps_the_rest(store: Store) -> None:
    """Before the horizon and acked by all: gone (history and search too); unacked, or
    newer: kept; a broadcast goes only once every recipient acked it."""
    store.commit(WriteBatch(peers=[peer(BOB), peer(CAROL)]))
    send(store, ALICE, "1", BOB, body="old read", ts=10.0)
    send(store, ALICE, "2", BOB, CAROL, body="old broadcast", ts=11.0)
    send(store, ALICE, "3", CAROL, body="old unread", ts=12.0)
    send(store, ALICE, "4", BOB, body="new read", ts=500.0)
    store.commit(WriteBatch(acks=[AckOp(BOB, 3)]))
    result = store.commit(WriteBatch(prunes=[PruneOp(horizon=100.0)]))
    assert result.pruned == 1
    assert bodies(store.history(BOB, None, 10, None)[0]) == ["old broadcast", "new read"]
    assert bodies(store.history(ALICE, None, 10, None)[0]) == [
        "old broadcast",
        "old unread",
        "new read",
    ]
    assert store.search(BOB, "read", 10)[0] == store.history(BOB, None, 1, None)[0]
    assert cursors(store) == {BOB: (3, 3), CAROL: (2, 0)}  # cursors never move back
    store.commit(WriteBatch(acks=[AckOp(CAROL, 2)]))
    assert store.commit(WriteBatch(prunes=[PruneOp(horizon=100.0)])).pruned == 2
    assert bodies(store.history(ALICE, None, 10, None)[0]) == ["new read"]
    assert [e.message.body for e in store.pending(CAROL, 0, 10, 1 << 20)] == []


def test_prune_forgets_the_peers_it_names_unless_they_came_back(store: Store) -> None:
    """Peers not seen since the horizon lose record and mailbox; one seen since stays."""
    store.commit(WriteBatch(peers=[peer(BOB, seen=5.0), peer(CAROL, seen=5.0)]))
    send(store, ALICE, "1", BOB, ts=6.0)
    store.commit(WriteBatch(peers=[peer(CAROL, seen=200.0)]))  # Carol came back
    store.commit(WriteBatch(prunes=[PruneOp(100.0, peers=(BOB, CAROL))]))
    assert set(cursors(store)) == {CAROL}
    assert store.pending(BOB, 0, 10, 1 << 20) == []
    assert store.history(ALICE, None, 10, None)[0] == []  # Bob's, unread: nobody left


def test_prune_works_in_batches_of_its_limit(store: Store) -> None:
    """At most limit messages per commit, oldest first; the count says more are due."""
    store.commit(WriteBatch(peers=[peer(BOB)]))
    for i in range(5):
        send(store, ALICE, str(i), BOB, body=f"m{i}", ts=float(i))
    store.commit(WriteBatch(acks=[AckOp(BOB, 5)]))
    assert store.commit(WriteBatch(prunes=[PruneOp(100.0, limit=3)])).pruned == 3
    assert bodies(store.history(BOB, None, 10, None)[0]) == ["m3", "m4"]
    assert store.commit(WriteBatch(prunes=[PruneOp(100.0, limit=3)])).pruned == 2


@pytest.mark.parametrize("retention_days", [2, 5])
def test_the_database_file_stays_bounded_under_steady_traffic(
    tmp_path: Path, retention_days: int
) -> None:
    """Twelve windows of steady traffic (read and acked), pruned each day: once the first
    windows have filled it, the file stops growing, and its WAL stays near its 4 MiB cap
    (it holds at most what one checkpoint did not reach yet). Between commits the store
    does what the bridge's store thread has it do when idle (``upkeep``: the search index)."""
    window = retention_days * DAY
    path = tmp_path / "t.db"
    files: list[int] = []
    wals: list[int] = []
    with SqliteStore(path) as store:
        store.commit(WriteBatch(peers=[peer(BOB)]))
        sent = 0
        for day in range(12 * retention_days):
            now = day * DAY
            for hour in range(24):
                at, words = now + hour * 3600.0, "words " * 300
                batch = [append(ALICE, f"{sent + i}", BOB, body=words, ts=at) for i in range(20)]
                sent += len(batch)
                store.commit(WriteBatch(appends=batch, acks=[AckOp(BOB, sent)]))
                while store.upkeep() == 0:
                    pass
            while store.commit(WriteBatch(prunes=[PruneOp(now - window, limit=500)])).pruned:
                pass
            files.append(path.stat().st_size)
            wals.append(Path(f"{path}-wal").stat().st_size)
        assert len(store.history(BOB, None, 10_000, None)[0]) == 480 * (retention_days + 1)
    settled = max(files[2 * retention_days : 4 * retention_days])
    assert max(files[4 * retention_days :]) <= settled * 1.05, files
    assert max(wals) <= 8 * 1024 * 1024, wals


def test_a_mailbox_whose_last_entries_go_keeps_its_tip(store: Store) -> None:
    """Retention takes a mailbox's newest entries, a bury its last one: the tip stays,
    and the next entries number on from it (a seq given twice would sit at or below the
    acked cursor: taken for shown, never delivered)."""
    store.commit(WriteBatch(peers=[peer(BOB), peer(CAROL)]))
    for i in range(3):
        send(store, ALICE, str(i), BOB, CAROL, ts=10.0 + i)
    store.commit(WriteBatch(acks=[AckOp(BOB, 3), AckOp(CAROL, 3)]))
    assert store.commit(WriteBatch(prunes=[PruneOp(horizon=100.0)])).pruned == 3
    assert store.pending(BOB, 0, 10, 1 << 20) == []
    assert cursors(store) == {BOB: (3, 3), CAROL: (3, 3)}
    assert send(store, ALICE, "3", BOB, ts=200.0).seqs == {BOB: 4}
    (entry,) = store.pending(BOB, 3, 10, 1 << 20)
    store.commit(WriteBatch(buries=[BuryOp(entry.key, "test", 1.0)]))
    assert cursors(store)[BOB] == (4, 3)
    assert send(store, ALICE, "4", BOB, CAROL, ts=201.0).seqs == {BOB: 5, CAROL: 4}
    store.commit(WriteBatch(acks=[AckOp(BOB, 99)]))  # an ack past the tip stops at it
    assert cursors(store) == {BOB: (5, 5), CAROL: (4, 3)}
    store.commit(WriteBatch(acks=[AckOp(BOB, 99), AckOp(CAROL, 99)]))  # several at once
    assert cursors(store) == {BOB: (5, 5), CAROL: (4, 4)}


def test_sqlite_tips_survive_reopening_after_their_entries_went(tmp_path: Path) -> None:
    """The same after a restart: what the writer kept in memory is in the file."""
    path = tmp_path / "t.db"
    with SqliteStore(path) as store:
        send(store, ALICE, "1", BOB, ts=10.0)
        send(store, ALICE, "2", BOB, CAROL, ts=11.0)
        store.commit(WriteBatch(acks=[AckOp(BOB, 2), AckOp(CAROL, 1)]))
        store.commit(WriteBatch(prunes=[PruneOp(horizon=100.0)]))
    with SqliteStore(path) as store:
        assert cursors(store) == {BOB: (2, 2), CAROL: (1, 1)}
        assert send(store, ALICE, "3", BOB, CAROL, ts=200.0).seqs == {BOB: 3, CAROL: 2}
    with SqliteStore(path) as store:
        assert cursors(store)[BOB] == (3, 2)
        assert send(store, ALICE, "4", BOB, ts=201.0).seqs == {BOB: 4}
