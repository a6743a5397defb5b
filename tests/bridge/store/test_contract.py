"""The store contract of bridge/store/base.py, run on every backend."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    AppendResult,
    BuryOp,
    DeliveredOp,
    ForgetOp,
    LeaseDrop,
    LeaseRecord,
    MailboxEntry,
    PeerRecord,
    Store,
    StoredMessage,
    WriteBatch,
    message_bytes,
)
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.batch import BatchWriter
from ai_connect.bridge.store.sqlite.process import SqliteProcessStore
from ai_connect.bridge.store.sqlite.reads import (
    HISTORY,
    NO_CURSOR,
    PAGE_ALL,
    RECEIPTS,
    seq_before,
)
from ai_connect.bridge.store.sqlite.schema import SCHEMA_VERSION
from ai_connect.errors import StoreError

ALICE = "Alice (alpha)"
BOB = "Bob (alpha)"
CAROL = "Carol (beta)"


def message(sender: str, cid: str, to: str, body: str = "hello", **extra: Any) -> StoredMessage:
    fields: dict[str, Any] = {"context": None, "thread": None, "reply_to": None, "ts": 100.0}
    fields.update(extra)
    fields.setdefault("id", f"{sender}/{cid}")
    return StoredMessage(sender=sender, to=to, body=body, cid=cid, **fields)


def append(sender: str, cid: str, *recipients: str, body: str = "hello", **extra: Any) -> AppendOp:
    to = recipients[0] if len(recipients) == 1 else "*"
    return AppendOp(message(sender, cid, to, body, **extra), recipients)


def send(
    store: Store, sender: str, cid: str, *recipients: str, body: str = "hello", **extra: Any
) -> AppendResult:
    """Commits one append and returns its result."""
    op = append(sender, cid, *recipients, body=body, **extra)
    return store.commit(WriteBatch(appends=[op])).appends[0]


def peer(address: str, seen: float = 1.0, **extra: Any) -> PeerRecord:
    name, _, project = address.partition(" (")
    return PeerRecord(address, name, project.rstrip(")"), seen, seen, **extra)


def bodies(messages: list[StoredMessage]) -> list[str]:
    return [m.body for m in messages]


def seqs(entries: list[MailboxEntry]) -> list[int]:
    return [e.seq for e in entries]


def cursors(store: Store) -> dict[str, tuple[int, int]]:
    return {p.address: (p.tip, p.acked) for p in store.peers()}


# -- sequence numbers and order -------------------------------------------------------


def test_seqs_count_from_one_per_recipient(store: Store) -> None:
    """Each recipient's mailbox is numbered 1, 2, 3... independently of the others."""
    assert send(store, ALICE, "1", BOB).seqs == {BOB: 1}
    assert send(store, ALICE, "2", BOB).seqs == {BOB: 2}
    assert send(store, ALICE, "3", CAROL).seqs == {CAROL: 1}
    assert send(store, CAROL, "1", BOB, ALICE).seqs == {BOB: 3, ALICE: 1}


def test_results_and_seqs_follow_batch_order(store: Store) -> None:
    """A batch gives one result per append, in order, with seqs in the appends' order."""
    ops = [append(ALICE, str(i), BOB, body=f"m{i}") for i in range(5)]
    result = store.commit(WriteBatch(appends=ops))
    assert [r.message.body for r in result.appends] == [f"m{i}" for i in range(5)]
    assert [r.seqs[BOB] for r in result.appends] == [1, 2, 3, 4, 5]
    assert not any(r.duplicate for r in result.appends)


def test_pending_keeps_order_across_batches(store: Store) -> None:
    """Messages come out of a mailbox in the order they were committed."""
    for batch in range(3):
        ops = [append(ALICE, f"{batch}.{i}", BOB, body=f"{batch}.{i}") for i in range(3)]
        store.commit(WriteBatch(appends=ops))
    entries = store.pending(BOB, 0, 100, 1_000_000)
    assert seqs(entries) == list(range(1, 10))
    assert [e.message.body for e in entries] == [f"{b}.{i}" for b in range(3) for i in range(3)]
    assert all(e.recipient == BOB for e in entries)


def test_message_fields_round_trip(store: Store) -> None:
    """A stored message comes back equal, context, thread and reply_to included."""
    context = {"files": ["a.py"], "nested": {"n": 1, "ok": True, "x": None}, "é": "ü"}
    sent = send(store, ALICE, "1", BOB, context=context, thread="t1", reply_to="m0", ts=12.5)
    (entry,) = store.pending(BOB, 0, 10, 1_000_000)
    assert entry.message == sent.message
    assert store.history(BOB, None, 10, None)[0] == [sent.message]


def test_empty_context_is_kept_apart_from_none(store: Store) -> None:
    """An empty context comes back as {} and a missing one as None."""
    send(store, ALICE, "1", BOB, context={})
    send(store, ALICE, "2", BOB)
    assert [e.message.context for e in store.pending(BOB, 0, 10, 1000)] == [{}, None]


def test_empty_batch_commits_nothing(store: Store) -> None:
    """Committing an empty batch returns no results and changes nothing."""
    assert store.commit(WriteBatch()).appends == []
    assert store.peers() == []


# -- dedup ----------------------------------------------------------------------------


def test_duplicate_cid_across_batches_is_stored_once(store: Store) -> None:
    """A resent (sender, cid) returns the original message and seqs, flagged duplicate."""
    first = send(store, ALICE, "c1", BOB, CAROL, body="original")
    again = send(store, ALICE, "c1", BOB, body="changed", id="other-id")
    assert again.duplicate and not first.duplicate
    assert again.message == first.message
    assert again.seqs == first.seqs == {BOB: 1, CAROL: 1}
    assert bodies([e.message for e in store.pending(BOB, 0, 10, 10_000)]) == ["original"]
    assert cursors(store)[BOB] == (1, 0)


def test_duplicate_cid_in_one_batch_is_stored_once(store: Store) -> None:
    """The same (sender, cid) twice in one batch is stored once; the second is a duplicate."""
    ops = [append(ALICE, "c1", BOB), append(ALICE, "c2", BOB), append(ALICE, "c1", BOB)]
    first, second, third = store.commit(WriteBatch(appends=ops)).appends
    assert third.duplicate and third.message == first.message
    assert third.seqs == first.seqs == {BOB: 1}
    assert second.seqs == {BOB: 2}
    assert seqs(store.pending(BOB, 0, 10, 10_000)) == [1, 2]


def test_same_cid_from_two_senders_is_two_messages(store: Store) -> None:
    """Dedup is per sender: two senders may use the same cid."""
    assert not send(store, ALICE, "c1", BOB).duplicate
    assert not send(store, CAROL, "c1", BOB).duplicate
    assert seqs(store.pending(BOB, 0, 10, 10_000)) == [1, 2]


def test_recipient_listed_twice_gets_one_entry(store: Store) -> None:
    """A recipient named twice in one append gets a single mailbox entry."""
    assert send(store, ALICE, "1", BOB, BOB).seqs == {BOB: 1}
    assert seqs(store.pending(BOB, 0, 10, 10_000)) == [1]


def test_broadcast_gives_every_recipient_one_entry(store: Store) -> None:
    """An append to many recipients numbers it in each mailbox, each exactly once."""
    everyone = [f"Peer{i} (crowd)" for i in range(60)]
    send(store, ALICE, "warmup", everyone[0])
    result = send(store, ALICE, "b1", *everyone, body="to all")
    assert result.message.to == "*"
    assert result.seqs == {address: 2 if i == 0 else 1 for i, address in enumerate(everyone)}
    for address in everyone:
        (entry,) = store.pending(address, result.seqs[address] - 1, 10, 10_000)
        assert entry.message.body == "to all"
        assert store.history(address, ALICE, 10, None)[0][-1] == result.message


# -- acks and peers -------------------------------------------------------------------


def test_acks_never_lower_the_cursor(store: Store) -> None:
    """An ack below the current cursor, across or within batches, changes nothing."""
    for i in range(5):
        send(store, ALICE, str(i), BOB)
    store.commit(WriteBatch(acks=[AckOp(BOB, 3)]))
    store.commit(WriteBatch(acks=[AckOp(BOB, 1)]))
    assert cursors(store)[BOB] == (5, 3)
    store.commit(WriteBatch(acks=[AckOp(BOB, 4), AckOp(BOB, 2)]))
    assert cursors(store)[BOB] == (5, 4)


def test_ack_never_passes_the_tip(store: Store) -> None:
    """An ack beyond the last seq given out raises the cursor only up to that seq."""
    send(store, ALICE, "1", BOB)
    store.commit(WriteBatch(acks=[AckOp(BOB, 99)]))
    assert cursors(store)[BOB] == (1, 1)
    send(store, ALICE, "2", BOB)
    assert seqs(store.pending(BOB, cursors(store)[BOB][1], 10, 10_000)) == [2]


def test_ack_for_unknown_peer_is_ignored(store: Store) -> None:
    """Acking for an address the store never saw writes nothing."""
    store.commit(WriteBatch(acks=[AckOp("Nobody (x)", 3)]))
    assert store.peers() == []


def test_peer_upsert_keeps_cursors_and_first_seen(store: Store) -> None:
    """Upserting a known peer updates name, project and last_seen, keeping the rest."""
    store.commit(WriteBatch(peers=[peer(BOB, seen=10.0)]))
    send(store, ALICE, "1", BOB)
    send(store, ALICE, "2", BOB)
    store.commit(WriteBatch(acks=[AckOp(BOB, 1)]))
    renamed = PeerRecord(BOB, "Bobby", "gamma", first_seen=50.0, last_seen=60.0, tip=0, acked=0)
    store.commit(WriteBatch(peers=[renamed]))
    (record,) = [p for p in store.peers() if p.address == BOB]
    assert record == PeerRecord(BOB, "Bobby", "gamma", 10.0, 60.0, tip=2, acked=1)


def test_new_peer_starts_with_empty_cursors(store: Store) -> None:
    """A new peer's cursors start at 0 whatever the upserted record says."""
    store.commit(WriteBatch(peers=[peer(CAROL, tip=7, acked=3)]))
    assert store.peers() == [peer(CAROL)]


def test_peers_lists_every_known_peer(store: Store) -> None:
    """peers() returns every upserted peer, sorted by address."""
    store.commit(WriteBatch(peers=[peer(CAROL), peer(ALICE), peer(BOB)]))
    assert [p.address for p in store.peers()] == [ALICE, BOB, CAROL]


def test_recipient_without_peer_record_gets_one(store: Store) -> None:
    """Mail to an address never upserted creates its peer, named from the address."""
    send(store, ALICE, "1", "Dave (delta)", ts=42.0)
    send(store, ALICE, "2", "plain-name", ts=43.0)
    assert store.peers() == [
        PeerRecord("Dave (delta)", "Dave", "delta", 42.0, 42.0, tip=1, acked=0),
        PeerRecord("plain-name", "plain-name", "", 43.0, 43.0, tip=1, acked=0),
    ]


def test_batch_applies_peers_then_appends_then_acks(store: Store) -> None:
    """In one batch, a new peer can receive a message and ack it."""
    batch = WriteBatch(peers=[peer(BOB)], appends=[append(ALICE, "1", BOB)], acks=[AckOp(BOB, 1)])
    store.commit(batch)
    assert cursors(store) == {BOB: (1, 1)}


# -- pending --------------------------------------------------------------------------


def test_pending_starts_after_the_given_seq(store: Store) -> None:
    """pending returns only entries with seq > after_seq."""
    for i in range(5):
        send(store, ALICE, str(i), BOB)
    assert seqs(store.pending(BOB, 3, 10, 10_000)) == [4, 5]
    assert store.pending(BOB, 5, 10, 10_000) == []
    assert store.pending("Nobody (x)", 0, 10, 10_000) == []


def test_pending_respects_limit(store: Store) -> None:
    """pending returns at most limit entries, the oldest first."""
    for i in range(5):
        send(store, ALICE, str(i), BOB)
    assert seqs(store.pending(BOB, 1, 2, 10_000)) == [2, 3]
    assert store.pending(BOB, 0, 0, 10_000) == []


def test_pending_stops_before_max_bytes(store: Store) -> None:
    """pending stops before the body+context total passes max_bytes."""
    for i in range(5):
        send(store, ALICE, str(i), BOB, body="x" * 10)
    assert seqs(store.pending(BOB, 0, 10, 30)) == [1, 2, 3]
    assert seqs(store.pending(BOB, 0, 10, 29)) == [1, 2]


def test_pending_counts_context_and_utf8_bytes(store: Store) -> None:
    """The size of an entry is message_bytes: UTF-8 body plus compact JSON context."""
    first = send(store, ALICE, "1", BOB, body="é" * 5, context={"k": "v"}).message
    send(store, ALICE, "2", BOB, body="y")
    size = message_bytes(first)
    assert size == 10 + len('{"k":"v"}')
    assert seqs(store.pending(BOB, 0, 10, size)) == [1]
    assert seqs(store.pending(BOB, 0, 10, size + 1)) == [1, 2]


def test_pending_returns_one_entry_larger_than_max_bytes(store: Store) -> None:
    """A single entry larger than max_bytes is still returned, alone."""
    send(store, ALICE, "1", BOB, body="z" * 500)
    send(store, ALICE, "2", BOB, body="small")
    assert seqs(store.pending(BOB, 0, 10, 100)) == [1]
    assert seqs(store.pending(BOB, 1, 10, 1)) == [2]


# -- history --------------------------------------------------------------------------


def conversation(store: Store) -> None:
    """Alice and Bob talk privately; Carol broadcasts to both; Alice writes to Carol."""
    send(store, ALICE, "1", BOB, body="a to b")
    send(store, BOB, "1", ALICE, body="b to a")
    send(store, CAROL, "1", ALICE, BOB, body="c to all")
    send(store, ALICE, "2", CAROL, body="a to c")


def test_history_shows_what_the_viewer_sent_or_received(store: Store) -> None:
    """A viewer sees the messages it sent and those in its mailbox, oldest first."""
    conversation(store)
    page, cursor = store.history(ALICE, None, 10, None)
    assert bodies(page) == ["a to b", "b to a", "c to all", "a to c"] and cursor is None
    assert bodies(store.history(BOB, None, 10, None)[0]) == ["a to b", "b to a", "c to all"]
    assert bodies(store.history(CAROL, None, 10, None)[0]) == ["c to all", "a to c"]


def test_history_hides_private_conversations_from_third_peers(store: Store) -> None:
    """A peer sees nothing of a conversation it is not part of."""
    send(store, ALICE, "1", BOB, body="secret")
    send(store, BOB, "1", ALICE, body="secret reply")
    assert store.history(CAROL, None, 10, None) == ([], None)
    assert store.history(CAROL, ALICE, 10, None) == ([], None)
    assert store.history(CAROL, BOB, 10, None) == ([], None)


def test_history_with_peer_shows_only_that_conversation(store: Store) -> None:
    """With peer, only messages between viewer and peer, broadcasts from peer included."""
    conversation(store)
    assert bodies(store.history(ALICE, BOB, 10, None)[0]) == ["a to b", "b to a"]
    assert bodies(store.history(ALICE, CAROL, 10, None)[0]) == ["c to all", "a to c"]
    assert bodies(store.history(BOB, CAROL, 10, None)[0]) == ["c to all"]
    assert bodies(store.history(CAROL, BOB, 10, None)[0]) == ["c to all"]
    assert bodies(store.history(BOB, ALICE, 10, None)[0]) == ["a to b", "b to a"]


def test_forget_removes_the_peer_and_its_mailbox(store: Store) -> None:
    """After forget: no peer record, no mailbox; what others sent it leaves their view of
    it, what it sent stays in its recipients' history (docs/protocol.md §2.5)."""
    store.commit(WriteBatch(peers=[peer(ALICE), peer(BOB), peer(CAROL)]))
    conversation(store)
    send(store, CAROL, "2", CAROL, body="c to c")
    store.commit(WriteBatch(forgets=[ForgetOp(CAROL)]))
    assert set(cursors(store)) == {ALICE, BOB}
    assert store.pending(CAROL, 0, 10, 1 << 20) == []
    all_of_alice = ["a to b", "b to a", "c to all", "a to c"]
    assert bodies(store.history(ALICE, None, 10, None)[0]) == all_of_alice
    assert bodies(store.history(ALICE, CAROL, 10, None)[0]) == ["c to all"]
    assert bodies(store.history(BOB, None, 10, None)[0]) == ["a to b", "b to a", "c to all"]
    assert bodies(store.history(CAROL, None, 10, None)[0]) == ["c to all", "c to c"]


def test_a_forgotten_address_starts_afresh(store: Store) -> None:
    """The same address later is a new peer: empty cursors, seqs from one again."""
    send(store, ALICE, "1", BOB, body="old")
    store.commit(WriteBatch(forgets=[ForgetOp(BOB)]))
    store.commit(WriteBatch(peers=[peer(BOB, seen=5.0)]))
    assert cursors(store)[BOB] == (0, 0)
    assert send(store, ALICE, "2", BOB, body="new").seqs == {BOB: 1}
    assert bodies([e.message for e in store.pending(BOB, 0, 10, 1 << 20)]) == ["new"]
    assert bodies(store.history(BOB, None, 10, None)[0]) == ["new"]


def test_history_pages_through_everything_without_gap_or_overlap(store: Store) -> None:
    """Following the cursor walks all visible messages, newest page first, no gap."""
    for i in range(25):
        send(store, ALICE, f"v{i}", BOB, body=f"visible {i}")
        send(store, CAROL, f"h{i}", ALICE, body=f"hidden {i}")
    pages: list[list[str]] = []
    cursor: int | None = None
    while True:
        page, cursor = store.history(BOB, None, 10, cursor)
        pages.append(bodies(page))
        if cursor is None:
            break
    assert [len(p) for p in pages] == [10, 10, 5]
    walked = [body for page in reversed(pages) for body in page]
    assert walked == [f"visible {i}" for i in range(25)]
    assert pages[0][-1] == "visible 24"


def test_history_cursor_is_none_when_page_holds_the_rest(store: Store) -> None:
    """When exactly limit messages are visible, there is no next page."""
    for i in range(3):
        send(store, ALICE, str(i), BOB)
    page, cursor = store.history(BOB, ALICE, 3, None)
    assert len(page) == 3 and cursor is None
    assert store.history(BOB, ALICE, 0, None) == ([], None)


def test_history_pages_with_peer_filter(store: Store) -> None:
    """Pagination works the same with a peer filter."""
    for i in range(12):
        send(store, ALICE, f"ab{i}", BOB, body=f"ab {i}")
        send(store, ALICE, f"ac{i}", CAROL, body=f"ac {i}")
    first, cursor = store.history(ALICE, CAROL, 5, None)
    second, cursor = store.history(ALICE, CAROL, 5, cursor)
    third, cursor = store.history(ALICE, CAROL, 5, cursor)
    assert cursor is None
    assert bodies(third + second + first) == [f"ac {i}" for i in range(12)]


def test_history_walks_every_page_whatever_the_batches_gaps_and_filter(store: Store) -> None:
    """Sent and received messages, broadcasts and messages to others, several to a batch,
    some moved aside (gaps in the mailboxes): every page size, with and without a peer,
    walks exactly the messages the viewer sent or received, newest page first (SQLite
    walks the mailbox by its key from the cursor's place in it: schema version 8)."""
    dave = "Dave (beta)"
    everyone = (ALICE, BOB, CAROL, dave)
    plan = [  # (sender, recipients) per message; three to a batch
        (ALICE, (BOB,)), (BOB, (ALICE,)), (CAROL, (dave,)), (ALICE, (BOB, CAROL, dave)),
        (dave, (BOB,)), (BOB, (CAROL,)), (CAROL, (ALICE, BOB)), (ALICE, (CAROL,)),
        (dave, (ALICE, BOB, CAROL)), (BOB, (ALICE, dave)), (CAROL, (BOB,)), (ALICE, (BOB,)),
    ] * 4  # fmt: skip
    ops = [append(who, f"m{i}", *to, body=f"m{i}") for i, (who, to) in enumerate(plan)]
    for start in range(0, len(ops), 3):
        store.commit(WriteBatch(appends=ops[start : start + 3]))
    gone = {"m4", "m13", "m14", "m30"}  # moved aside: gaps in several mailboxes
    keys = {e.message.body: e.key for a in everyone for e in store.pending(a, 0, 100, 1 << 20)}
    store.commit(WriteBatch(buries=[BuryOp(keys[b], "test", 1.0) for b in sorted(gone)]))
    for viewer in everyone:
        for other in (None, *[a for a in everyone if a != viewer]):
            expected = [
                f"m{i}"
                for i, (who, to) in enumerate(plan)
                if f"m{i}" not in gone
                and (
                    (who == viewer and (other is None or other in to))
                    or (viewer in to and (other is None or who == other))
                )
            ]
            for size in (1, 2, 5, 100):
                walked: list[str] = []
                cursor: int | None = None
                while True:
                    page, cursor = store.history(viewer, other, size, cursor)
                    assert 0 < len(page) <= size or (not page and not expected)
                    walked = bodies(page) + walked
                    if cursor is None:
                        break
                assert walked == expected, (viewer, other, size)


def test_history_pages_stop_at_max_bytes_and_walk_on(store: Store) -> None:
    """A page stops before its bodies and contexts pass max_bytes (one message at least,
    however large); the cursor walks on to the rest with no gap (issue 11)."""
    for i in range(10):
        send(store, ALICE, f"{i}", BOB, body=f"{i}" + "x" * 999, context={"k": "v" * 90})
    size = message_bytes(store.history(BOB, None, 1, None)[0][0])
    page, cursor = store.history(BOB, None, 500, None, 3 * size)
    assert [m.cid for m in page] == ["7", "8", "9"] and cursor is not None
    walked = [m.cid for m in page]
    while cursor is not None:
        page, cursor = store.history(BOB, None, 500, cursor, 3 * size)
        walked = [m.cid for m in page] + walked
    assert walked == [str(i) for i in range(10)]
    assert len(store.history(BOB, None, 500, None, 1)[0]) == 1


def test_search_pages_by_cursor_and_by_bytes(store: Store) -> None:
    """Search returns its cursor too: by limit or by max_bytes, newest first, no gap."""
    for i in range(7):
        send(store, ALICE, f"{i}", BOB, body=f"needle {i} " + "y" * 500)
    page, cursor = store.search(BOB, "needle", 3)
    found = [m.cid for m in page]
    while cursor is not None:
        page, cursor = store.search(BOB, "needle", 3, cursor)
        found += [m.cid for m in page]
    assert found == [str(i) for i in reversed(range(7))]
    page, cursor = store.search(BOB, "needle", 100, None, 1_000)
    assert [m.cid for m in page] == ["6"] and cursor is not None
    assert store.search(BOB, "needle", 7) == (store.search(BOB, "needle", 100)[0], None)


# -- search ---------------------------------------------------------------------------


def test_search_finds_messages_with_every_word(store: Store) -> None:
    """Search matches bodies holding all the words, in any case, newest first."""
    send(store, ALICE, "1", BOB, body="the Deploy failed on staging")
    send(store, ALICE, "2", BOB, body="deploy succeeded")
    send(store, ALICE, "3", BOB, body="staging is down")
    found = store.search(BOB, "deploy", 10)[0]
    assert bodies(found) == ["deploy succeeded", "the Deploy failed on staging"]
    assert bodies(store.search(BOB, "staging DEPLOY", 10)[0]) == ["the Deploy failed on staging"]
    assert bodies(store.search(BOB, "deploy", 1)[0]) == ["deploy succeeded"]
    assert store.search(BOB, "nowhere", 10)[0] == []


def test_search_respects_visibility(store: Store) -> None:
    """Search finds only messages the viewer may see in history."""
    send(store, ALICE, "1", BOB, body="secret plan")
    send(store, CAROL, "1", ALICE, BOB, body="public plan")
    assert bodies(store.search(CAROL, "plan", 10)[0]) == ["public plan"]
    assert bodies(store.search(ALICE, "plan", 10)[0]) == ["public plan", "secret plan"]
    assert store.search(CAROL, "secret", 10)[0] == []


@pytest.mark.parametrize(
    "query",
    ['"', '""', "AND", "OR", "NOT", "*", "-x", "(", ")", "NEAR(", "NEAR(a b)", "a:b", "^a", "'"],
)
def test_search_never_raises_on_query_syntax(store: Store, query: str) -> None:
    """Quotes and FTS operators in a query are plain text, never a syntax error."""
    send(store, ALICE, "1", BOB, body="a b x AND OR NOT NEAR")
    assert isinstance(store.search(BOB, query, 10)[0], list)


def test_search_treats_operators_as_words(store: Store) -> None:
    """Operator words are searched as words, and punctuation around words is ignored."""
    send(store, ALICE, "1", BOB, body="cats AND dogs")
    send(store, ALICE, "2", BOB, body="cats or dogs")
    assert bodies(store.search(BOB, "AND", 10)[0]) == ["cats AND dogs"]
    assert bodies(store.search(BOB, '"cats" -dogs', 10)[0]) == ["cats or dogs", "cats AND dogs"]
    assert bodies(store.search(BOB, "(cats or)", 10)[0]) == ["cats or dogs"]


def test_search_with_no_words_returns_nothing(store: Store) -> None:
    """A query with no searchable word returns an empty list."""
    send(store, ALICE, "1", BOB, body="anything")
    assert store.search(BOB, "", 10)[0] == []
    assert store.search(BOB, ' "*" - ( ) ', 10)[0] == []


# -- atomicity and lifecycle ----------------------------------------------------------


def test_failed_commit_writes_nothing(store: Store) -> None:
    """A batch failing mid-way (message id taken) leaves no trace of any of its parts."""
    send(store, ALICE, "1", BOB, body="before")
    before = (
        store.peers(),
        store.pending(BOB, 0, 10, 10_000),
        store.history(ALICE, None, 10, None),
    )
    batch = WriteBatch(
        peers=[peer(CAROL), peer(BOB, seen=99.0)],
        appends=[
            append(ALICE, "2", BOB, CAROL, body="lost"),
            append(CAROL, "3", BOB, id=f"{ALICE}/1"),  # clashes with the stored message
        ],
        acks=[AckOp(BOB, 1)],
    )
    with pytest.raises(StoreError):
        store.commit(batch)
    after = (store.peers(), store.pending(BOB, 0, 10, 10_000), store.history(ALICE, None, 10, None))
    assert after == before
    assert store.search(BOB, "lost", 10)[0] == []
    assert send(store, ALICE, "2", BOB, body="retried").seqs == {BOB: 2}


def test_failed_commit_on_bad_context_writes_nothing(store: Store) -> None:
    """A context that is not JSON-serialisable fails the whole batch with StoreError."""
    ops = [append(ALICE, "1", BOB), append(ALICE, "2", BOB, context={"x": object()})]
    with pytest.raises(StoreError):
        store.commit(WriteBatch(appends=ops))
    assert store.peers() == [] and store.pending(BOB, 0, 10, 10_000) == []


def test_id_clash_within_one_batch_fails_it(store: Store) -> None:
    """Two different messages with the same id in one batch fail the batch."""
    ops = [append(ALICE, "1", BOB, id="same"), append(ALICE, "2", BOB, id="same")]
    with pytest.raises(StoreError):
        store.commit(WriteBatch(appends=ops))
    assert store.pending(BOB, 0, 10, 10_000) == []


def test_closed_store_raises_store_error(store: Store) -> None:
    """Using a store after close raises StoreError."""
    store.close()
    with pytest.raises(StoreError):
        store.peers()
    with pytest.raises(StoreError):
        store.commit(WriteBatch(appends=[append(ALICE, "1", BOB)]))


def test_kind_names_the_backend(store: Store) -> None:
    """kind is the short backend name shown in status reports."""
    kinds = {MemoryStore: "memory", SqliteStore: "sqlite", SqliteProcessStore: "sqlite"}
    assert store.kind == kinds.get(type(store), "postgres")


# -- SQLite only ----------------------------------------------------------------------


def test_sqlite_data_survives_reopen(tmp_path: Path) -> None:
    """After close and reopen, messages, cursors, dedup, tips and search carry on."""
    path = tmp_path / "nested" / "dir" / "t.db"
    with SqliteStore(path) as first:
        original = send(first, ALICE, "1", BOB, body="durable words")
        send(first, ALICE, "2", BOB)
        first.commit(WriteBatch(acks=[AckOp(BOB, 1)]))
    with SqliteStore(path) as second:
        assert cursors(second) == {BOB: (2, 1)}
        again = send(second, ALICE, "1", BOB)
        assert again.duplicate and again.message == original.message and again.seqs == {BOB: 1}
        assert send(second, ALICE, "3", BOB).seqs == {BOB: 3}
        assert bodies(second.search(BOB, "durable", 10)[0]) == ["durable words"]


def test_sqlite_rejects_unknown_synchronous_mode(tmp_path: Path) -> None:
    """synchronous other than FULL or NORMAL raises ValueError naming the allowed ones."""
    with pytest.raises(ValueError, match="FULL, NORMAL"):
        SqliteStore(tmp_path / "t.db", synchronous="OFF")
    with SqliteStore(tmp_path / "t.db", synchronous="normal") as store:
        assert store.kind == "sqlite"


def test_sqlite_sets_pragmas_and_schema_version(tmp_path: Path) -> None:
    """The database is in WAL mode with the schema version recorded in user_version; a new
    file returns freed pages to the file system (auto_vacuum incremental, for retention)."""
    with SqliteStore(tmp_path / "t.db"):
        pass
    db = sqlite3.connect(tmp_path / "t.db")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)
    finally:
        db.close()


def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    """A database from a newer ai-connect is refused with StoreError, not corrupted."""
    db = sqlite3.connect(tmp_path / "t.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreError, match="Upgrade ai-connect"):
        SqliteStore(tmp_path / "t.db")


def test_sqlite_rolls_back_when_a_late_step_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SQLite error after the appends were written rolls the whole batch back; the
    seqs it gave out are given out again."""

    def broken(self: BatchWriter, acks: list[AckOp]) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with SqliteStore(tmp_path / "t.db") as store:
        monkeypatch.setattr(BatchWriter, "_ack", broken)
        batch = WriteBatch(
            peers=[peer(BOB)], appends=[append(ALICE, "1", BOB)], acks=[AckOp(BOB, 1)]
        )
        with pytest.raises(StoreError, match="disk space"):
            store.commit(batch)
        assert store.peers() == [] and store.pending(BOB, 0, 10, 10_000) == []
        monkeypatch.undo()
        retried = send(store, ALICE, "1", BOB)
        assert not retried.duplicate and retried.seqs == {BOB: 1}


def test_sqlite_numbers_mailboxes_it_wrote_to_without_their_peers_rows(tmp_path: Path) -> None:
    """A broadcast to 500 read and rewrote 500 peers rows for their tips, a third of its
    commit: the writer keeps the tips it gave out, and ``peers.tip`` stays the floor it
    was (schema version 9) while ``peers()`` says the tip."""
    with SqliteStore(tmp_path / "t.db") as store:
        store.commit(WriteBatch(peers=[peer(BOB), peer(CAROL)]))
        for i in range(3):
            send(store, ALICE, str(i), BOB, CAROL)
        send(store, ALICE, "3", "Dave (delta)")  # no peers row: made, with its tip
        assert store._writer._tips == {BOB: 3, CAROL: 3, "Dave (delta)": 1}
        with pytest.raises(StoreError):  # a failed batch changes no tip
            clash = append(CAROL, "9", BOB, id=f"{ALICE}/0")  # a message id taken
            store.commit(WriteBatch(appends=[append(ALICE, "4", BOB, CAROL), clash]))
        assert store._writer._tips == {BOB: 3, CAROL: 3, "Dave (delta)": 1}
        assert cursors(store) == {BOB: (3, 0), CAROL: (3, 0), "Dave (delta)": (1, 0)}
    with sqlite3.connect(tmp_path / "t.db") as db:
        floors = dict(db.execute("SELECT address, tip FROM peers").fetchall())
    assert floors == {BOB: 0, CAROL: 0, "Dave (delta)": 1}


def test_sqlite_store_works_from_another_thread(tmp_path: Path) -> None:
    """A store opened in one thread can be used from another (the server's worker)."""
    results: list[AppendResult] = []
    with SqliteStore(tmp_path / "t.db") as store:
        worker = threading.Thread(target=lambda: results.append(send(store, ALICE, "1", BOB)))
        worker.start()
        worker.join(timeout=10)
        assert results and results[0].seqs == {BOB: 1}


def test_sqlite_reads_beside_an_open_write_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a commit holds its transaction open, history and mailbox reads on another
    thread answer at once from the last committed state (their own connection, WAL)."""
    inside, release = threading.Event(), threading.Event()
    real_ack = BatchWriter._ack

    def slow_ack(self: BatchWriter, acks: list[AckOp]) -> None:
        real_ack(self, acks)
        inside.set()
        release.wait(10)

    with SqliteStore(tmp_path / "t.db") as store:
        store.commit(WriteBatch(peers=[peer(BOB)]))
        send(store, ALICE, "1", BOB, body="committed")
        monkeypatch.setattr(BatchWriter, "_ack", slow_ack)
        batch = WriteBatch(
            appends=[append(ALICE, "2", BOB, body="in flight")], acks=[AckOp(BOB, 1)]
        )
        writer = threading.Thread(target=store.commit, args=(batch,))
        writer.start()
        try:
            assert inside.wait(10)
            assert bodies(store.history(BOB, None, 10, None)[0]) == ["committed"]
            assert [e.seq for e in store.pending(BOB, 0, 10, 1 << 20)] == [1]
            assert cursors(store) == {BOB: (1, 0)}
        finally:
            release.set()
            writer.join(10)
        assert bodies(store.history(BOB, None, 10, None)[0]) == ["committed", "in flight"]


# -- a person's messages (issue 12, docs/protocol.md §9.3) ----------------------------


def test_a_human_mark_is_stored_and_read_back_everywhere(store: Store) -> None:
    """A message sent as a human reads back human from the mailbox, history and search;
    its resend answers with the stored message, mark included."""
    store.commit(WriteBatch(peers=[peer(ALICE), peer(BOB)]))
    send(store, ALICE, "1", BOB, body="from a person", human=True)
    send(store, ALICE, "2", BOB, body="from an agent")
    assert [e.message.human for e in store.pending(BOB, 0, 10, 1 << 20)] == [True, False]
    page, _ = store.history(BOB, None, 10, None)
    assert [m.human for m in page] == [True, False]
    found, _ = store.search(BOB, "person", 10)
    assert [m.human for m in found] == [True]
    assert send(store, ALICE, "1", BOB, body="from a person", human=True).message.human


# -- receipts (docs/protocol.md §3.7) ---------------------------------------------------


def marks(store: Store, message_id: str) -> dict[str, tuple[Any, ...]]:
    found = store.receipts(message_id)
    assert found is not None
    return {r.recipient: (r.seq, r.delivered, r.shown, r.path, r.acked) for r in found.recipients}


def test_receipts_keep_the_first_delivery_and_shown_marks(store: Store) -> None:
    """Delivered up to a seq, then shown by an ack with its path: each entry keeps the
    first time of each; later marks change nothing."""
    store.commit(WriteBatch(peers=[peer(ALICE), peer(BOB)]))
    ids = [send(store, ALICE, str(i), BOB).message.id for i in range(3)]
    store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 2, 5.0)]))
    assert marks(store, ids[1]) == {BOB: (2, 5.0, None, None, False)}
    assert marks(store, ids[2]) == {BOB: (3, None, None, None, False)}
    store.commit(WriteBatch(acks=[AckOp(BOB, 1, "hook", 7.0)]))
    store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 3, 8.0)], acks=[AckOp(BOB, 1, "cli", 9.0)]))
    assert marks(store, ids[0]) == {BOB: (1, 5.0, 7.0, "hook", True)}
    assert marks(store, ids[2]) == {BOB: (3, 8.0, None, None, False)}
    store.commit(WriteBatch(acks=[AckOp(BOB, 3, "tool", 10.0)]))
    assert marks(store, ids[1]) == {BOB: (2, 5.0, 10.0, "tool", True)}
    receipts = store.receipts(ids[1])
    assert receipts is not None and receipts.message.sender == ALICE


def test_several_marks_of_one_mailbox_in_one_commit_each_keep_the_first(store: Store) -> None:
    """One commit with several delivery marks and acks of one recipient (a drain's): each
    entry gets the first mark, in the batch's order, that covers it."""
    store.commit(WriteBatch(peers=[peer(ALICE), peer(BOB)]))
    ids = [send(store, ALICE, str(i), BOB).message.id for i in range(5)]
    delivered = [DeliveredOp(BOB, 2, 5.0), DeliveredOp(BOB, 1, 5.5), DeliveredOp(BOB, 4, 6.0)]
    acks = [AckOp(BOB, 1, "hook", 7.0), AckOp(BOB, 3, "tool", 8.0), AckOp(BOB, 2, "cli", 9.0)]
    store.commit(WriteBatch(delivered=delivered, acks=acks))
    assert [marks(store, i)[BOB] for i in ids] == [
        (1, 5.0, 7.0, "hook", True),
        (2, 5.0, 8.0, "tool", True),
        (3, 6.0, 8.0, "tool", True),
        (4, 6.0, None, None, False),
        (5, None, None, None, False),
    ]


def test_a_broadcast_has_marks_per_recipient_and_an_ack_without_time_none(store: Store) -> None:
    """Each recipient of a broadcast is marked on its own; an ack without ts (a resume
    cursor) marks it acked but not when or how."""
    store.commit(WriteBatch(peers=[peer(ALICE), peer(BOB), peer(CAROL)]))
    mid = send(store, ALICE, "1", BOB, CAROL).message.id
    store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 1, 3.0)], acks=[AckOp(CAROL, 1)]))
    assert marks(store, mid) == {
        BOB: (1, 3.0, None, None, False),
        CAROL: (1, None, None, None, True),
    }


def test_a_redelivery_keeps_the_first_marks_and_marks_only_what_is_new(store: Store) -> None:
    """A reconnect redelivers from the acked cursor: the entries delivered before keep
    their first delivery mark, those acked without a time get none, and the entries
    stored since are marked by the later deliveries and acks."""
    store.commit(WriteBatch(peers=[peer(ALICE), peer(BOB)]))
    ids = [send(store, ALICE, str(i), BOB).message.id for i in range(4)]
    store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 4, 5.0)], acks=[AckOp(BOB, 2)]))
    store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 4, 9.0)]))  # the redelivery
    ids += [send(store, ALICE, str(i), BOB).message.id for i in range(4, 6)]
    store.commit(WriteBatch(delivered=[DeliveredOp(BOB, 6, 10.0)]))
    store.commit(WriteBatch(acks=[AckOp(BOB, 6, "tool", 11.0)]))
    assert [marks(store, i)[BOB] for i in ids] == [
        (1, 5.0, None, None, True),
        (2, 5.0, None, None, True),
        (3, 5.0, 11.0, "tool", True),
        (4, 5.0, 11.0, "tool", True),
        (5, 10.0, 11.0, "tool", True),
        (6, 10.0, 11.0, "tool", True),
    ]


def test_a_recipient_forgotten_and_back_gets_fresh_marks(store: Store) -> None:
    """After a forget (or retention's) the address numbers its mailbox from 1 again: the
    new entries are marked by the new deliveries, whatever the old mailbox had."""
    store.commit(WriteBatch(peers=[peer(ALICE), peer(CAROL)]))
    send(store, ALICE, "1", CAROL)
    send(store, ALICE, "2", CAROL)
    store.commit(
        WriteBatch(delivered=[DeliveredOp(CAROL, 2, 3.0)], acks=[AckOp(CAROL, 2, "hook", 3.5)])
    )
    store.commit(WriteBatch(forgets=[ForgetOp(CAROL)]))
    store.commit(WriteBatch(peers=[peer(CAROL)]))
    mid = send(store, ALICE, "3", CAROL).message.id
    store.commit(WriteBatch(delivered=[DeliveredOp(CAROL, 1, 4.0)]))
    assert marks(store, mid) == {CAROL: (1, 4.0, None, None, False)}
    store.commit(WriteBatch(acks=[AckOp(CAROL, 1, "cli", 5.0)]))
    assert marks(store, mid) == {CAROL: (1, 4.0, 5.0, "cli", True)}


def test_receipts_of_an_unknown_message_or_a_forgotten_recipient(store: Store) -> None:
    """No such message: None. A forgotten recipient is no longer listed."""
    assert store.receipts("nope") is None
    store.commit(WriteBatch(peers=[peer(ALICE), peer(BOB), peer(CAROL)]))
    mid = send(store, ALICE, "1", BOB, CAROL).message.id
    store.commit(WriteBatch(forgets=[ForgetOp(CAROL)]))
    assert list(marks(store, mid)) == [BOB]


# --- file leases (issue 15) -------------------------------------------------------------


def _lease(id_: str, path: str, expires: float = 500.0, holder: str = ALICE) -> LeaseRecord:
    return LeaseRecord(id_, "github.com/org/app", path, holder, "why", 100.0, expires, 400.0)


def test_leases_are_upserted_by_id_and_dropped(store: Store) -> None:
    """A lease record replaces the one of its id; a drop removes it; drops are idempotent."""
    store.commit(WriteBatch(leases=[_lease("l1", "src/app.py"), _lease("l2", "src/**")]))
    store.commit(WriteBatch(leases=[_lease("l1", "src/app.py", expires=900.0)]))
    assert [(x.id, x.expires) for x in store.leases()] == [("l2", 500.0), ("l1", 900.0)]
    store.commit(WriteBatch(lease_drops=[LeaseDrop("l2"), LeaseDrop("gone")]))
    assert store.leases() == [_lease("l1", "src/app.py", expires=900.0)]


def test_a_failed_batch_stores_no_lease(store: Store) -> None:
    """Leases are part of the batch's transaction: a bad message takes them down too."""
    bad = append(ALICE, "c1", BOB, body="\ud800")
    with pytest.raises(StoreError):
        store.commit(WriteBatch(appends=[bad], leases=[_lease("l1", "a.py")]))
    assert store.leases() == []


def test_sqlite_leases_survive_reopening(tmp_path: Path) -> None:
    """A lease committed to SQLite is there after the file is opened again."""
    path = tmp_path / "leases.db"
    with SqliteStore(path) as first:
        first.commit(WriteBatch(leases=[_lease("l1", "src/app.py")]))
    with SqliteStore(path) as again:
        assert again.leases() == [_lease("l1", "src/app.py")]


def test_sqlite_history_starts_at_the_cursors_place_in_the_mailbox(tmp_path: Path) -> None:
    """seq_before finds, for every cursor, where the mailbox's entries before it end (the
    history walks the mailbox's key from there, schema version 8): those up to it are
    exactly those before the cursor, across gaps left by messages moved aside and
    messages to others."""
    with SqliteStore(tmp_path / "t.db") as store:
        for i in range(40):
            to = (BOB,) if i % 3 else (CAROL,)
            send(store, ALICE, f"{i}", *to)
        moved = [e.key for e in store.pending(BOB, 0, 100, 1 << 20) if e.seq in (4, 5, 11, 26)]
        store.commit(WriteBatch(buries=[BuryOp(key, "test", 1.0) for key in moved]))
        db = store._reader()
        rows = db.execute("SELECT seq, n FROM mailbox WHERE recipient = ?", (BOB,)).fetchall()
        (last_n,) = db.execute("SELECT max(n) FROM messages").fetchone()
        for before in range(0, last_n + 3):
            bound = seq_before(db, BOB, before)
            assert {s for s, _ in rows if s <= bound} == {s for s, n in rows if n < before}
        assert seq_before(db, "Nobody (x)", 10) == 0
        assert seq_before(db, BOB, NO_CURSOR) == NO_CURSOR
        plan = " ".join(
            row[3]
            for row in db.execute(
                "EXPLAIN QUERY PLAN " + HISTORY.format(page=PAGE_ALL),
                {"viewer": BOB, "peer": None, "before": 9, "seq": 3, "lim": 5},
            )
        )
        assert "SEARCH mailbox USING PRIMARY KEY (recipient=? AND seq<?)" in plan


def test_sqlite_a_version_7_database_loses_its_second_mailbox_index(tmp_path: Path) -> None:
    """The upgrade to version 8 drops the index of the mailbox by (recipient, n); what
    was stored before reads back the same."""
    path = tmp_path / "t.db"
    with SqliteStore(path) as store:
        for i in range(6):
            send(store, ALICE if i % 2 else BOB, f"{i}", BOB if i % 2 else ALICE, body=f"b{i}")
    db = sqlite3.connect(path, isolation_level=None)  # back to version 7 as it was
    db.execute("CREATE INDEX mailbox_by_recipient ON mailbox (recipient, n)")
    db.execute("PRAGMA user_version = 7")
    db.close()
    with SqliteStore(path) as store:
        indexes = {
            name
            for (name,) in store._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'mailbox'"
            )
        }
        assert "mailbox_by_recipient" not in indexes and "mailbox_by_message" in indexes
        page, cursor = store.history(BOB, None, 4, None)
        assert bodies(page) == ["b2", "b3", "b4", "b5"]
        assert bodies(store.history(BOB, None, 4, cursor)[0]) == ["b0", "b1"]
        assert store._db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_sqlite_receipts_read_the_messages_entries_not_the_whole_mailbox(tmp_path: Path) -> None:
    """A message's receipts are found by its n, each entry with its peer: no scan of the
    mailbox (it was a join of every entry with the peers: 58 ms at 90,000 entries). An
    entry whose peer row is gone is left out, the message still read, as before."""
    with SqliteStore(tmp_path / "t.db") as store:
        store.commit(WriteBatch(peers=[peer(ALICE), peer(BOB), peer(CAROL)]))
        mid = send(store, ALICE, "1", BOB, CAROL).message.id
        only = send(store, ALICE, "2", CAROL).message.id
        plan = " ".join(
            row[3] for row in store._reader().execute("EXPLAIN QUERY PLAN " + RECEIPTS, (mid,))
        )
        assert "SCAN" not in plan and "MATERIALIZE" not in plan, plan
        assert "SEARCH b USING INDEX mailbox_by_message (n=?)" in plan, plan
        store._db.execute("DELETE FROM peers WHERE address = ?", (CAROL,))
        assert list(marks(store, mid)) == [BOB]
        found = store.receipts(only)
        assert found is not None and found.message.body == "hello" and found.recipients == ()
