"""What a client keeps on disk, so that its promises outlive its process (docs/protocol.md §7).

A long-running client (``ai-connect mcp``, the hooks, ``ai-connect read``/``wait``) keeps
two things in one SQLite file under the XDG state folder
(``~/.local/state/ai-connect/client.sqlite3``: 0600 in a 0700 folder, WAL, every commit
fsync'd before the promise it backs is made):

- **the outbox** of the sends it answered ``queued`` for (the bridge was unreachable). A
  row belongs to one running client, its *owner*, who holds an ``flock`` on
  ``owners/<owner>.lock`` for as long as it lives. A client that starts adopts the rows
  of every owner that is gone (its lock is free) for the same bridge URL, name and
  project, and sends them with their ``cid``: the bridge stores a ``cid`` once per
  sender (§3.1), so a message that did go out before the crash is not stored twice.
- **the ids of the messages shown** to the agent, per bridge URL and address (the newest
  :data:`REMEMBER` of each): a surface restarted after showing a message, before its
  ack was stored, drops the bridge's repeat instead of showing it again.

Plain bookkeeping over ``sqlite3``; the client decides when to call it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import platformdirs

from ai_connect.errors import StoreError

try:
    import fcntl
except ImportError:  # Windows: no flock; rows of other owners are then never adopted
    fcntl = None  # type: ignore[assignment]

__all__ = ["FILE_NAME", "REMEMBER", "Keep", "default_folder"]

log = logging.getLogger("ai_connect.client")

FILE_NAME = "client.sqlite3"
REMEMBER = 10_000
"""Shown message ids kept per mailbox: far more than one flow-control window (§3.3)."""
_IDS_PER_QUERY = 500
"""Ids bound in one ``IN (…)``: well under SQLite's oldest limit of 999 variables."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    owner TEXT NOT NULL, cid TEXT NOT NULL, url TEXT NOT NULL, name TEXT NOT NULL,
    project TEXT NOT NULL, frame TEXT NOT NULL, at REAL NOT NULL, refused TEXT,
    PRIMARY KEY (owner, cid)
);
CREATE TABLE IF NOT EXISTS seen (
    mailbox TEXT NOT NULL, id TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (mailbox, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_age ON seen (mailbox, at);
CREATE TABLE IF NOT EXISTS seen_counts (
    mailbox TEXT PRIMARY KEY, n INTEGER NOT NULL
) WITHOUT ROWID;
"""


def default_folder() -> Path:
    """``<XDG state>/ai-connect`` (``~/.local/state/ai-connect``)."""
    return platformdirs.user_state_path("ai-connect")


class Keep:
    """One client's disk state: its outbox rows (as their owner) and the shown ids."""

    def __init__(
        self, folder: Path | None = None, *, remember: int = REMEMBER, outbox: bool = True
    ) -> None:
        self.folder = folder if folder is not None else default_folder()
        self.outbox = outbox
        """``False``: a client that never queues (hooks, ``read``): it adopts nothing."""
        self.path = self.folder / FILE_NAME
        self.owner = secrets.token_hex(8)
        self._remember = remember
        self._db: sqlite3.Connection | None = None
        self._lock: int | None = None

    # --- the outbox -------------------------------------------------------------------

    def hold(self, url: str, name: str, project: str, cid: str, frame: dict[str, Any]) -> None:
        """Keeps an unconfirmed send until :meth:`release`; committed (fsync) on return."""
        self._own()
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (self.owner, cid, url, name, project, json.dumps(frame), time.time()),
            )

    def release(self, cid: str) -> bool:
        """The bridge stored ``cid``: forgets it. ``False`` if it was not held."""
        with self._write() as db:
            gone = db.execute("DELETE FROM outbox WHERE owner = ? AND cid = ?", (self.owner, cid))
        return gone.rowcount > 0

    def refuse(self, cid: str, why: str) -> None:
        """The bridge refused ``cid``: the row stays, marked, for a person to read."""
        with self._write() as db:
            db.execute(
                "UPDATE outbox SET refused = ? WHERE owner = ? AND cid = ?",
                (why, self.owner, cid),
            )

    def adopt(self, url: str, name: str, project: str) -> list[dict[str, Any]]:
        """The unrefused sends that gone owners kept for ``url``, ``name`` and ``project``,
        oldest first; they are this client's rows from now on."""
        if fcntl is None or not self.outbox or not self.path.exists():
            return []
        db = self._open()
        where = "url = ? AND name = ? AND project = ? AND refused IS NULL AND owner != ?"
        owners = [
            row[0]
            for row in db.execute(
                f"SELECT DISTINCT owner FROM outbox WHERE {where}", (url, name, project, self.owner)
            )
        ]
        if not owners and self._lock is None:
            return []  # nothing to take over, nothing of ours: no lock file for this client
        self._own()
        for owner in owners:
            if not self._gone(owner):
                continue
            with self._write() as w:
                w.execute(
                    f"UPDATE outbox SET owner = ? WHERE owner = ? AND {where}",
                    (self.owner, owner, url, name, project, self.owner),
                )
        rows = db.execute(
            "SELECT frame FROM outbox WHERE owner = ? AND url = ? AND name = ? AND project = ? "
            "AND refused IS NULL ORDER BY at",
            (self.owner, url, name, project),
        )
        return [json.loads(row[0]) for row in rows]

    # --- shown message ids ------------------------------------------------------------

    def seen(self, mailbox: str) -> list[str]:
        """The ids shown from ``mailbox`` (bridge URL and address), oldest first."""
        if not self.path.exists():
            return []
        rows = self._open().execute(
            "SELECT id FROM seen WHERE mailbox = ? ORDER BY at, id", (mailbox,)
        )
        return [row[0] for row in rows]

    def see(self, mailbox: str, ids: Iterable[str]) -> None:
        """Records that ``ids`` were shown; committed (fsync) on return. The mailbox keeps
        its newest ``remember``: the oldest beyond them go, found from the old end of
        its index (a count per mailbox says how many), so a call costs the same with
        10,000 ids kept as with ten (it read them all and took 7 ms: bench/keep_bench.py)."""
        now = time.time()
        fresh = list(dict.fromkeys(ids))
        if not fresh:
            return
        with self._write() as db:
            count = self._count(db, mailbox) + len(fresh)
            for start in range(0, len(fresh), _IDS_PER_QUERY):  # shown before: replaced
                part = fresh[start : start + _IDS_PER_QUERY]
                known = f"SELECT COUNT(*) FROM seen WHERE mailbox = ? AND id IN ({_marks(part)})"
                count -= db.execute(known, (mailbox, *part)).fetchone()[0]
            db.executemany(
                "INSERT OR REPLACE INTO seen VALUES (?, ?, ?)", [(mailbox, i, now) for i in fresh]
            )
            if count > self._remember:
                db.execute(
                    "DELETE FROM seen WHERE mailbox = ? AND id IN (SELECT id FROM seen "
                    "WHERE mailbox = ? ORDER BY at, id LIMIT ?)",
                    (mailbox, mailbox, count - self._remember),
                )
                count = self._remember
            db.execute("INSERT OR REPLACE INTO seen_counts VALUES (?, ?)", (mailbox, count))

    @staticmethod
    def _count(db: sqlite3.Connection, mailbox: str) -> int:
        """The ids kept for ``mailbox``: its count, or, for a file from before the count,
        counted once. An older version writing the same file meanwhile (a server started
        before an upgrade) leaves the count off by what it added or trimmed: the mailbox
        then keeps somewhat more or fewer than the limit, far more than the few hundred
        ids a restart can meet again (one flow-control window)."""
        row = db.execute("SELECT n FROM seen_counts WHERE mailbox = ?", (mailbox,)).fetchone()
        if row is not None:
            return int(row[0])
        counted = db.execute("SELECT COUNT(*) FROM seen WHERE mailbox = ?", (mailbox,))
        return int(counted.fetchone()[0])

    # --- the file ---------------------------------------------------------------------

    def close(self) -> None:
        """Closes the file and lets go of this owner's rows (a later client adopts them);
        an owner that keeps no row leaves no lock file behind."""
        mine = 0
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                query = "SELECT COUNT(*) FROM outbox WHERE owner = ?"
                mine = self._db.execute(query, (self.owner,)).fetchone()[0]
            self._db.close()
            self._db = None
        if self._lock is not None:
            if not mine:
                with contextlib.suppress(OSError):
                    (self.folder / "owners" / f"{self.owner}.lock").unlink()
            os.close(self._lock)
            self._lock = None

    def _open(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
            db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot keep the client's state in {self.path}: {exc}; free the disk or "
                "fix the folder's permissions (XDG_STATE_HOME moves it)"
            ) from exc
        self._db = db
        return db

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction, committed (and fsync'd) when the block ends without error."""
        db = self._open()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise StoreError(
                f"cannot write the client's state in {self.path}: {exc}; free the disk or "
                "fix the folder's permissions"
            ) from exc

    def _owners(self) -> Path:
        folder = self.folder / "owners"
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {folder}: {exc}; fix its permissions") from exc
        return folder

    def _own(self) -> None:
        """Holds this owner's lock: while it is held, nobody adopts our rows."""
        if self._lock is not None or fcntl is None:
            return
        path = self._owners() / f"{self.owner}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc}; fix its permissions") from exc
        fcntl.flock(fd, fcntl.LOCK_EX)  # our own new file: granted at once
        self._lock = fd

    def _gone(self, owner: str) -> bool:
        """Whether ``owner`` no longer runs: its lock is free (then its file goes)."""
        assert fcntl is not None
        path = self._owners() / f"{owner}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open {path}: {exc}; fix its permissions") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
        return True


def _marks(values: list[str]) -> str:
    return ",".join("?" * len(values))
