"""store/sqlite/process.py: SQLite's writer in a child process (issue 13, item 5). The
contract suite runs over it too (conftest ``sqlite-process``); these are its own cases."""

from __future__ import annotations

import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ai_connect.bridge.store.base import AppendOp, StoredMessage, TokenRecord, WriteBatch
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.process import SqliteProcessStore
from ai_connect.errors import StoreError

BOB = "Bob (p)"
TOKEN = TokenRecord("t1", "ci", "hash", ("*",), False, 1.0)


def append(cid: str) -> WriteBatch:
    message = StoredMessage(cid, "Alice (p)", BOB, "hi", None, None, None, 1.0, cid)
    return WriteBatch(appends=[AppendOp(message, (BOB,))])


def gone(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` (not our child) ends within ``timeout`` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def test_an_error_comes_back_as_the_same_class_and_message(tmp_path: Path) -> None:
    """A write refused in the child raises StoreError here, saying what SqliteStore says."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with SqliteStore(tmp_path / "a" / "t.db") as local:
        local.put_token(TOKEN)
        with pytest.raises(StoreError) as expected:
            local.put_token(TOKEN)
    with SqliteProcessStore(tmp_path / "b" / "t.db") as child:
        child.put_token(TOKEN)
        with pytest.raises(StoreError) as got:
            child.put_token(TOKEN)
        assert child.tokens() == [TOKEN]
    assert type(got.value) is type(expected.value)
    assert str(got.value).replace("/b/", "/a/") == str(expected.value)


def test_a_newer_schema_is_refused_at_start_as_in_process(tmp_path: Path) -> None:
    """Opening fails in the child with the same StoreError; no child is left running."""
    db = sqlite3.connect(tmp_path / "t.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreError, match="Upgrade ai-connect"):
        SqliteProcessStore(tmp_path / "t.db")


def test_only_writes_go_to_the_child(tmp_path: Path) -> None:
    """A read sent to the child is refused, naming what the child does."""
    with SqliteProcessStore(tmp_path / "t.db") as store:
        with pytest.raises(StoreError, match="only commit, put_token, revoke_token, close"):
            store._call("peers")
        with pytest.raises(ValueError, match=":memory:"):
            SqliteProcessStore(":memory:")


def test_a_killed_child_fails_the_next_write_and_is_reported(tmp_path: Path) -> None:
    """kill -9 of the child: on_exit says how it ended, every write raises StoreError,
    close() returns; what it committed before stays stored."""
    store = SqliteProcessStore(tmp_path / "t.db")
    assert store.commit(append("1")).appends[0].seqs == {BOB: 1}
    ended: list[str] = []
    told = threading.Event()

    def on_exit(why: str) -> None:
        ended.append(why)
        told.set()

    store.on_exit(on_exit)
    os.kill(store.pid, signal.SIGKILL)
    assert told.wait(30)
    assert ended == [f"the store process (pid {store.pid}) was killed by SIGKILL"]
    with pytest.raises(StoreError, match=r"killed by SIGKILL.*not known to be stored"):
        store.commit(append("2"))
    with pytest.raises(StoreError, match="closed"):
        store.put_token(TOKEN)
    late: list[str] = []
    store.on_exit(late.append)  # registered after the end: told at once
    assert late == ended
    store.close()
    with SqliteStore(tmp_path / "t.db") as reopened:
        assert [e.seq for e in reopened.pending(BOB, 0, 10, 10_000)] == [1]


def test_close_ends_the_child_without_reporting_it(tmp_path: Path) -> None:
    """close() lets the child exit 0; on_exit is not called for an asked-for end."""
    store = SqliteProcessStore(tmp_path / "t.db")
    ended: list[str] = []
    store.on_exit(ended.append)
    store.close()
    store.close()  # idempotent
    assert store._proc.returncode == 0
    assert ended == []
    with pytest.raises(StoreError, match="closed"):
        store.commit(append("1"))


def test_the_child_ends_when_the_bridge_is_killed(tmp_path: Path) -> None:
    """kill -9 of the process holding the store: its child sees the stream end and exits."""
    code = (
        "import sys\n"
        "from ai_connect.bridge.store.sqlite.process import SqliteProcessStore\n"
        f"s = SqliteProcessStore({str(tmp_path / 't.db')!r})\n"
        "print(s.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            child = int(holder.stdout.readline())
            assert not gone(child, 0)
            holder.kill()
            holder.wait(30)
            assert gone(child, 30), "the store process outlived the bridge"
        finally:
            holder.kill()


def test_a_batch_larger_than_one_read_goes_and_comes_back_whole(tmp_path: Path) -> None:
    """A 300 KB body and a batch of 500 appends cross the socket in several reads."""
    big = "x" * 300_000
    message = StoredMessage("big", "Alice (p)", BOB, big, {"k": "v"}, None, None, 1.0, "big")
    many = [append(f"m{i}").appends[0] for i in range(500)]
    with SqliteProcessStore(tmp_path / "t.db") as store:
        result = store.commit(WriteBatch(appends=[AppendOp(message, (BOB,)), *many]))
        assert [a.seqs[BOB] for a in result.appends] == list(range(1, 502))
        again = store.commit(WriteBatch(appends=[AppendOp(message, (BOB,))])).appends[0]
        assert again.duplicate and again.message == message  # came back from the child
        assert store.pending(BOB, 0, 1, 10**6)[0].message.body == big


def test_the_store_process_does_its_idle_work_between_calls_never_ahead_of_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """child.serve: with no call waiting, the store's upkeep (the search index) runs when
    it is due; a call that comes meanwhile is answered first."""
    from ai_connect.bridge.store.sqlite import search_index
    from ai_connect.bridge.store.sqlite.calls import encode, read_frame, write_frame
    from ai_connect.bridge.store.sqlite.child import serve

    indexed = threading.Event()
    log: list[str] = []

    class Store(SqliteStore):
        def commit(self, batch: WriteBatch):  # type: ignore[no-untyped-def]
            log.append("commit")
            return super().commit(batch)

        def upkeep(self) -> float | None:
            wait = super().upkeep()
            if self._db.execute(search_index.UPTO).fetchone()[0] > 0:
                log.append("indexed")
                indexed.set()
            return wait

    ours, theirs = socket.socketpair()
    monkeypatch.setattr(search_index, "INDEX_BATCH", 3)  # due at once, yet left to idle
    store = Store(tmp_path / "t.db")
    thread = threading.Thread(target=serve, args=(theirs, store), daemon=True)
    thread.start()
    try:
        many = [
            AppendOp(
                StoredMessage(f"m{i}", "A (p)", BOB, "hello", None, None, None, 1.0, f"c{i}"),
                (BOB,),
            )
            for i in range(3)
        ]
        write_frame(ours, encode(("commit", (WriteBatch(appends=many),))))
        assert read_frame(ours) is not None
        assert indexed.wait(10), "the store process never indexed"
        write_frame(ours, encode(("close", ())))
        assert read_frame(ours) is not None
        thread.join(10)
    finally:
        ours.close()
        theirs.close()
    assert log[:2] == ["commit", "indexed"]
    db = sqlite3.connect(tmp_path / "t.db")
    try:
        ((upto,),) = db.execute(search_index.UPTO).fetchall()
    finally:
        db.close()
    assert upto == 3
