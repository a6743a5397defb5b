"""Keep: a client's queued sends and shown ids on disk (ai_connect.client.keep)."""

from __future__ import annotations

import sqlite3
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


def rows(folder: Path, mailbox: str) -> int:
    with sqlite3.connect(folder / "client.sqlite3") as db:
        return int(
            db.execute("SELECT COUNT(*) FROM seen WHERE mailbox = ?", (mailbox,)).fetchone()[0]
        )


def test_the_newest_ids_stay_exact_across_clients_and_repeats(tmp_path: Path) -> None:
    """Two clients of one mailbox (an MCP server and a hook) take turns; ids come again
    (shown twice moves them up). The file holds exactly the newest ``remember``, and
    ``seen`` returns them oldest first."""
    first, second = Keep(tmp_path, remember=5), Keep(tmp_path, remember=5)
    last: dict[str, tuple[int, str]] = {}  # id -> (its latest see, id): the order kept
    for n in range(40):
        batch = [f"m{n:02}-{k}" for k in range(n % 3 + 1)]
        newest = sorted(last.values())
        if n % 7 == 3:
            batch.append(newest[-4][1])  # a repeat of an id still kept
        if n % 11 == 5:
            batch.append("m00-0")  # a repeat of an id already dropped: kept again
        (first if n % 2 else second).see("m1", batch)
        last |= {i: (n, i) for i in batch}
        assert rows(tmp_path, "m1") == min(len(last), 5), n
    first.see("m2", ["x"])
    assert Keep(tmp_path, remember=5).seen("m1") == [i for _, i in sorted(last.values())[-5:]]
    assert Keep(tmp_path).seen("m2") == ["x"]
    first.close()
    second.close()


def test_recording_an_id_does_not_read_the_whole_mailbox(tmp_path: Path) -> None:
    """Each shown message is recorded on its way to the agent, so with a full mailbox of
    ids that must not read every row (it took 7 ms at 10,000): the SQLite work of one
    see() is the same at 100 ids kept as at 3,000 (counted in VM steps, not timed)."""

    def steps(remember: int) -> int:
        keep = Keep(tmp_path / str(remember), remember=remember)
        for n in range(0, remember + 10, 50):
            keep.see("m1", [f"m{k}" for k in range(n, n + 50)])
        done = [0]

        def count() -> int:
            done[0] += 1
            return 0

        db = keep._open()
        db.set_progress_handler(count, 1)
        keep.see("m1", ["last"])
        db.set_progress_handler(None, 1)
        assert rows(tmp_path / str(remember), "m1") == remember
        assert keep.seen("m1")[-2:] == [f"m{remember + 49}", "last"]
        keep.close()
        return done[0]

    small, large = steps(100), steps(3000)
    assert large < 2 * small, (small, large)


def test_a_large_batch_is_counted_once_per_id(tmp_path: Path) -> None:
    """More ids in one see() than SQLite binds in one statement, some of them twice and
    some shown before: the count stays exact."""
    keep = Keep(tmp_path, remember=1000)
    ids = [f"m{n:04}" for n in range(1200)]
    keep.see("m1", ids[:300])
    keep.see("m1", ids + ids[:5])
    assert rows(tmp_path, "m1") == 1000 and keep.seen("m1") == ids[200:]
    keep.see("m1", ids[600:])
    assert rows(tmp_path, "m1") == 1000
    keep.see("m1", ["new"])
    assert rows(tmp_path, "m1") == 1000 and keep.seen("m1")[0] == "m0201"
    keep.close()


def test_a_file_from_before_the_count_is_counted_once(tmp_path: Path) -> None:
    """A client.sqlite3 written before the per-mailbox count (or by an older version)
    is counted at its first see(), then trimmed to the limit."""
    Keep(tmp_path, remember=3).see("m1", ["a"])
    with sqlite3.connect(tmp_path / "client.sqlite3") as db:
        db.execute("DROP TABLE seen_counts")
        db.executemany("INSERT INTO seen VALUES ('m1', ?, 1.0)", [(i,) for i in "bcdef"])
    keep = Keep(tmp_path, remember=3)
    keep.see("m1", ["g"])
    assert rows(tmp_path, "m1") == 3 and keep.seen("m1")[-1] == "g"
    keep.close()


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
