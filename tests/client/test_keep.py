"""Keep: a client's queued sends and shown ids on disk (ai_connect.client.keep)."""

from __future__ import annotations

import stat
from pathlib import Path

from ai_connect.client.keep import Keep

URL = "ws://127.0.0.1:1"


def frame(cid: str) -> dict[str, object]:
    return {"type": "send", "rid": 1, "cid": cid, "to": "bob", "body": cid}


def test_a_live_owners_sends_are_not_adopted_a_gone_owners_are_once(tmp_path: Path) -> None:
    """Another running client's queue stays its own; once it is gone, one successor of the
    same bridge, name and project adopts it, oldest first, and nobody else does."""
    first = Keep(tmp_path)
    first.hold(URL, "alice", "p", "c1", frame("c1"))
    first.hold(URL, "alice", "p", "c2", frame("c2"))
    second = Keep(tmp_path)
    assert second.adopt(URL, "alice", "p") == []  # first still runs
    first.close()
    assert Keep(tmp_path).adopt(URL, "alice", "other") == []
    assert [f["cid"] for f in second.adopt(URL, "alice", "p")] == ["c1", "c2"]
    third = Keep(tmp_path)
    assert third.adopt(URL, "alice", "p") == []  # second holds them now
    assert second.release("c1") and not second.release("c1")
    second.close()
    assert [f["cid"] for f in third.adopt(URL, "alice", "p")] == ["c2"]
    third.close()


def test_a_refused_send_stays_on_disk_but_is_not_sent_again(tmp_path: Path) -> None:
    """A send the bridge refused is kept (marked) for a person, never adopted again."""
    keep = Keep(tmp_path)
    keep.hold(URL, "alice", "p", "c1", frame("c1"))
    keep.refuse("c1", "unknown_peer: no known peer matches 'bob'")
    keep.close()
    assert Keep(tmp_path).adopt(URL, "alice", "p") == []


def test_shown_ids_are_kept_per_mailbox_newest_up_to_the_limit(tmp_path: Path) -> None:
    """see() then seen(): per mailbox, the newest ``remember`` ids; the file is private."""
    folder = tmp_path / "state"
    keep = Keep(folder, remember=3)
    keep.see("m1", ["a", "b"])
    keep.see("m1", ["c", "d"])
    keep.see("m2", ["x"])
    keep.close()
    again = Keep(folder)
    assert sorted(again.seen("m1")) == ["b", "c", "d"] and again.seen("m2") == ["x"]
    again.close()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "client.sqlite3").stat().st_mode) == 0o600


def test_clients_that_keep_no_send_leave_no_lock_file(tmp_path: Path) -> None:
    """Hooks and ``read`` only record shown ids: their runs leave no owner files behind;
    a client that still keeps a send leaves its lock for a successor to take."""
    for _ in range(3):
        keep = Keep(tmp_path)
        keep.adopt(URL, "alice", "p")
        keep.see("m1", ["a"])
        keep.close()
    owners = tmp_path / "owners"
    assert not owners.exists() or list(owners.iterdir()) == []
    keeper = Keep(tmp_path)
    keeper.hold(URL, "alice", "p", "c1", frame("c1"))
    keeper.close()
    assert [p.name for p in owners.iterdir()] == [f"{keeper.owner}.lock"]
    successor = Keep(tmp_path)
    assert [f["cid"] for f in successor.adopt(URL, "alice", "p")] == ["c1"]
    assert successor.release("c1")
    successor.close()
    assert list(owners.iterdir()) == []
