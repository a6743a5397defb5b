"""Router: work status (§11): stored per address, shown in peers and the feed, durable."""

from __future__ import annotations

from typing import Any

from ai_connect.bridge.store.base import WorkRecord
from ai_connect.protocol import ErrorCode, FeedEvent, FeedSnapshot, PeerList

from .helpers import Bridge, addr, errors, frames, one, pair, persists

ALICE, BOB = addr("Alice"), addr("Bob")
STATUS: dict[str, Any] = {
    "repo": "github.com/org/app",
    "branch": "main",
    "head": "3f2a1bc",
    "dirty": 2,
    "files": ["src/app.py", "README.md"],
    "activity": "working",
}


def work(bridge: Bridge, conn: int, **fields: Any) -> list[Any]:
    return bridge.frame(conn, type="work", **(STATUS | fields))


def listed(bridge: Bridge, conn: int) -> dict[str, Any]:
    peers = one(PeerList, bridge.frame(conn, type="peers", rid="p"), conn).peers
    return {p.address: p.work for p in peers}


def test_a_published_status_shows_in_peers_and_is_persisted_once() -> None:
    """work: no reply, one WorkRecord for the next commit, and peers shows it to others."""
    bridge = pair()
    actions = work(bridge, 1)
    assert frames(actions, 1) == []
    (persist,) = persists(actions)
    assert isinstance(persist.op, WorkRecord) and persist.op.address == ALICE
    shown = listed(bridge, 2)[ALICE]
    assert shown is not None
    assert (shown.branch, shown.files, shown.activity) == ("main", STATUS["files"], "working")
    assert shown.ts == bridge.now
    assert listed(bridge, 2)[BOB] is None


def test_the_same_status_again_writes_nothing_and_a_change_replaces_it() -> None:
    """A repeat is dropped (no write); a new activity replaces the whole status."""
    bridge = pair()
    work(bridge, 1)
    bridge.settle()
    assert persists(work(bridge, 1)) == []
    assert len(persists(work(bridge, 1, activity="idle", files=[]))) == 1
    shown = listed(bridge, 2)[ALICE]
    assert shown is not None and (shown.activity, shown.files) == ("idle", [])


def test_the_status_survives_a_restart_and_goes_with_a_forget() -> None:
    """After a restart peers shows the stored status, offline; forgetting the address
    removes it from the store."""
    bridge = pair()
    work(bridge, 1, task="fix the login test")
    bridge.settle()
    bridge.restart()
    bridge.join(3, "Carol")
    shown = listed(bridge, 3)[ALICE]
    assert shown is not None and shown.task == "fix the login test" and shown.head == "3f2a1bc"
    bridge.join(4, "Alice")
    bridge.frame(4, type="forget", rid="f")
    bridge.settle()
    assert bridge.store.works() == []


def test_a_path_outside_the_repository_is_refused() -> None:
    """An absolute path or one climbing out with .. is a bad frame: nothing is stored."""
    bridge = pair()
    for bad in ("/etc/passwd", "../other/x.py", "C:/x.py"):
        actions = work(bridge, 1, files=[bad])
        (error,) = errors(actions, 1)
        assert error.code == ErrorCode.BAD_FRAME and "repository-relative" in error.message
        assert persists(actions) == []


def test_observers_see_the_status_in_the_snapshot_and_each_change() -> None:
    """The feed: a work event with the peer's status; the snapshot carries it."""
    bridge = pair()
    bridge.connect(9)
    snapshot = one(FeedSnapshot, bridge.hello(9, "Ops", mode="observe"), 9)
    assert all(p.work is None for p in snapshot.peers)
    event = one(FeedEvent, work(bridge, 1, activity="waiting"), 9)
    assert event.kind == "work" and event.peer is not None
    assert event.peer.address == ALICE and event.peer.work is not None
    assert event.peer.work.activity == "waiting"
    snapshot = one(FeedSnapshot, bridge.frame(9, type="feed_sync", rid="s"), 9)
    assert {p.address: p.work is not None for p in snapshot.peers} == {ALICE: True, BOB: False}


def test_a_query_connection_may_not_publish() -> None:
    """Only a peer (or a connection attached to it) publishes its status."""
    bridge = Bridge()
    bridge.connect(1)
    bridge.hello(1, "Doc", mode="query")
    (error,) = errors(work(bridge, 1), 1)
    assert error.code == ErrorCode.FORBIDDEN


def test_a_status_published_through_another_node_shows_here() -> None:
    """On a shared database (PostgreSQL) the re-read after another node's commit brings
    its statuses: a newer one replaces the held one (observers see it), an older one not."""
    from ai_connect.bridge.events import PeersStored

    bridge = pair()
    work(bridge, 1, branch="here")
    bridge.settle()
    bridge.connect(9)
    bridge.hello(9, "Ops", mode="observe")
    records = tuple(bridge.store.peers())
    newer = WorkRecord(ALICE, {"branch": "there", "activity": "idle"}, bridge.now + 5)
    event = one(FeedEvent, bridge.handle(PeersStored(records, bridge.now, (newer,))), 9)
    assert event.kind == "work" and event.peer is not None and event.peer.work is not None
    shown = listed(bridge, 2)[ALICE]
    assert shown is not None and (shown.branch, shown.activity) == ("there", "idle")
    older = WorkRecord(ALICE, {"branch": "before"}, bridge.now - 5)
    assert frames(bridge.handle(PeersStored(records, bridge.now, (older,))), 9) == []
    again = listed(bridge, 2)[ALICE]
    assert again is not None and again.branch == "there"
